"""The connection layer: one client's socket, whatever language it speaks.

The path of a line: TLS (chatroom.app.service) -> line framing (chatroom.server.lines) -> `Connection` (flood
control, timeouts, output queue, closing) -> a `Dialect` (chatroom.frontends.line, chatroom.frontends.irc) that parses
it into calls on chatroom.core -> the core delivers events back through `Connection.deliver`, which the dialect renders
into bytes.

`Connection` is the policy alone: it sees whole messages through a chatroom.server.messages.MessageTransport, so a
framing other than lines (WebSocket) stands on the same rules.

A connection owns its member's life. From the moment it decides to close (a quit, a timeout, a send queue
overflow, shutdown), nothing the client sends is executed, the work it was waiting for (a login) is
cancelled, and no timer fires for it: no callback can act on the chat on its behalf. Tearing it down always
releases what it held (admission slot, nickname, rooms), even if something on the way fails.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass, field
from ssl import SSLError
from typing import Any, Protocol, cast

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.internet.interfaces import IAddress, IDelayedCall, IReactorTime
from twisted.internet.protocol import Protocol as TwistedProtocol
from twisted.internet.protocol import ServerFactory, connectionDone
from twisted.logger import Logger
from twisted.protocols.policies import TimeoutMixin
from twisted.python.failure import Failure

from chatroom.core.addresses import address_key
from chatroom.core.chat import Chat
from chatroom.core.errors import ChatError, mistake
from chatroom.core.events import ROSTER_CHANGES, Event, History, ServerNotice
from chatroom.core.members import Member
from chatroom.core.sequencing import asked_by
from chatroom.core.wording import UNSHOWN
from chatroom.server.auth import Authenticator, GuessBook
from chatroom.server.limits import (
    AddressCounts,
    Admission,
    Claim,
    ConnectionLimits,
    SendQueue,
    TokenBucket,
    Turns,
    close_politely,
    motd_lines,
    transport_of,
)
from chatroom.server.lines import LineFraming
from chatroom.server.messages import MessageTransport
from chatroom.server.registration import Registrar

REFUSAL_REPORT = 10.0  # seconds between two log lines counting one connection's refused lines
WAITING_LINES = 32  # lines kept while a login is checked; past them, reading stops until it is done
# Seconds the lines a client sent before it hung up may wait for what they wait behind (a login, a change's turn
# with --redis) before its session ends without them: those are seconds, unless Redis has stopped answering.
LOST_LINES_WAIT = 10.0
# Fakelag: an answer costs its asker a flood token for every ANSWER_BYTES it sends beyond the first ANSWER_FREE (a join
# with its 50 lines of history is free), as Ergo and InspIRCd charge theirs: a `WHO *` over thousands of members then
# waits in proportion before the asker's next line is read, instead of ten of them at once costing everyone else the
# server's time (issue 31).
ANSWER_BYTES = 4096
ANSWER_FREE = 8192
FAULTS_TOLERATED = 3  # events a connection failed to render before it is ended: its own path may be what fails
# What OpenSSL's reason for a failed handshake means to whoever reads the log: "connection lost" alone told them
# nothing of a class whose devices distrust the certificate they were given.
TLS_FAILURES = {
    "TLSV1_ALERT_UNKNOWN_CA": "the client does not trust the server's certificate",
    "SSLV3_ALERT_BAD_CERTIFICATE": "the client does not trust the server's certificate",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": "the client does not trust the server's certificate",
    "HTTP_REQUEST": "the client spoke plain HTTP, not TLS",
    "WRONG_VERSION_NUMBER": "the client does not speak TLS",
    "UNSUPPORTED_PROTOCOL": "the client offers only TLS versions older than 1.2",
    "NO_SHARED_CIPHER": "the client offers no cipher the server accepts",
}

log = Logger(namespace="chatroom")


def tls_failed(error: BaseException | None) -> str:
    """Why TLS failed, for the log: OpenSSL's reason, in words where they help."""
    code = getattr(error, "reason", None) or type(error).__name__
    return f"TLS failed ({code})" + (f": {TLS_FAILURES[code]}" if code in TLS_FAILURES else "")


@dataclass
class Counts:
    """Running totals of a front end's connections, for chatroom.app.metrics: plain integers, cheap to add to."""

    deliveries: int = 0
    bytes_out: int = 0
    flood_slowdowns: int = 0
    send_queue_disconnects: int = 0
    tls_failures: int = 0
    refused: Counter[str] = field(default_factory=Counter)  # by reason: server_full, per_address


class Dialect(Protocol):
    """A front end's language: parses complete, decoded lines into calls on the core, and renders replies.

    It knows nothing of sockets, flood control or timeouts: the connection does all that, the same way for
    every dialect. Long operations (a login) go through `Connection.wait_for`; an answer that must follow what a
    change shows (the line protocol's CURRENT after a join) through `Connection.when_made`.
    """

    name: str  # what the metrics and the log call this front end: "line", "irc"

    def __init__(self, connection: Connection) -> None: ...

    @staticmethod
    def longest_line(limits: ConnectionLimits) -> int:
        """The longest line this language accepts, in bytes without its line ending."""

    def greet(self) -> None:
        """The connection is open: say hello."""

    def line_received(self, line: str) -> None:
        """One line, without its line ending; raise ChatError to refuse it."""

    def render(self, event: Event) -> bytes:
        """An event of the core as this dialect's bytes."""

    def pages(self, history: History) -> Iterable[bytes]:
        """A room's history as this dialect's bytes, in pages made only as the client reads them."""

    def departed(self, member: Member) -> None:
        """The member this connection held has left the chat (for IRC's WHOWAS)."""

    def refusal(self, error: ChatError) -> bytes:
        """The answer to a refused line."""

    def word(self, error: ChatError) -> str:
        """A refusal of the core as this dialect's users are told it (chatroom.core.errors)."""

    @staticmethod
    def ping(token: str) -> bytes:
        """Asks a silent client to show it is still there."""

    @staticmethod
    def goodbye(reason: str) -> bytes:
        """The last line before the server closes a connection (also to one refused at the door)."""


class Connection(TimeoutMixin):
    """One client's connection: the policy every front end shares, over whole messages, and the member's owner.

    It is a chatroom.server.messages.MessageReceiver: a framing (chatroom.server.lines) delivers it messages and
    carries its answers. Its timers are TimeoutMixin's, with no Twisted protocol under it.
    """

    # One per connection, and more attributes than Python's shared instance dictionaries take (30): in slots, a
    # connection holds 0.3 KB of them instead of a 1.6 KB dictionary of its own.
    __slots__ = (
        "_answered", "_bucket", "_ended_by", "_executing", "_faults", "_gone", "_holds", "_left_as", "_made",
        "_next_report", "_pinged", "_quit_reason", "_refused", "_resume", "_sent_before", "_waiting",
        "_waiting_held", "_work", "address", "claim",
        "clock", "closing", "dialect", "factory", "host", "limits", "max_line", "member", "peer", "queue",
        "received", "serial", "since", "speaks", "transport",
    )  # fmt: skip

    def __init__(
        self, factory: ConnectionFactory, speaks: type[Dialect], host: str | None, claim: Claim | None
    ) -> None:
        self.factory = factory
        self.speaks = speaks  # the language of the listener it came through
        self.host = host  # the IP address Admission counted this connection under, if any
        self.claim = claim  # its place in the count per address of every process (--redis), if it counts
        self.limits = factory.limits
        self.max_line = speaks.longest_line(self.limits)  # bytes in a message, without its framing
        self.clock = factory.clock
        self.closing = False
        self._gone = False  # the transport reported the connection lost: nothing more is read, written or paused
        self._sent_before: IDelayedCall | None = None  # while lines sent before the loss wait: when they stop

    def connection_made(self, transport: MessageTransport) -> None:
        limits = self.limits
        self.transport = transport
        self.peer = describe(transport.peer_address())
        self.address = address_key(self.host) if self.host else self.peer  # what login slow-downs count by
        self.member: Member | None = None  # set by registration, None again once it has left the chat
        self.serial = next(self.factory.serials)  # names this session to its person's others (/sessions)
        self.since = 0.0  # when it became one of its person's sessions
        self._left_as = "-"  # its last nickname, for the log
        self._ended_by = "connection lost"  # for the log: never text the person typed
        self._quit_reason = "connection lost"  # for the others in their rooms
        self._pinged = False
        self._faults = 0  # events it failed to render (_undeliverable)
        self._holds = 0  # reasons not to read this client now: flood control, too many lines waiting
        self._work: Deferred[None] | None = None  # what the client waits for (a login), cancelled at close
        self._waiting: list[bytes] = []  # messages read meanwhile, executed once it is done
        self._made: Deferred[None] | None = None  # the changes the line being executed asked for (when_made)
        self._waiting_held = False
        self._resume: IDelayedCall | None = None  # when flood control reads again
        self._refused: Counter[str] | None = None  # refused lines not yet logged, by code (most connections: none)
        self._next_report = 0.0
        self._answered = 0  # bytes written to this client, to charge a line for its answer
        self._executing = False  # a line of this client's runs: what it makes is its answer, charged at its end
        self.received = b""  # the line being executed, as it came: a refusal of undecodable text names its command
        self._bucket = TokenBucket(limits.flood_burst, limits.flood_rate, self.clock.seconds())
        self.queue = SendQueue(transport, limits.send_queue, self._too_slow, self._unmade, self.factory.turns)
        transport.register_producer(self.queue)
        self.factory.connections.add(self)  # logged once registered or gone: one line less per connection
        self._set_timeout(limits.registration_timeout)
        self.dialect = self.speaks(self)
        if self.claim is None:
            self.dialect.greet()
        else:  # greeted, and its lines read, once the other processes' count has room (or was refused)
            self.wait_for(self._admitted(self.claim))

    def connection_lost(self, reason: Failure) -> None:
        if reason.check(SSLError):
            self.factory.counts.tls_failures += 1
            self._ended_by = tls_failed(reason.value)
        self._gone = True
        if self._waiting and self._work is not None and not self.closing:
            # What it sent before hanging up waits behind a login or a change's turn (--redis): a bot's JOIN,
            # PRIVMSG and QUIT are executed as if it had stayed to read the answers, then its session ends
            # (_work_done); or after LOST_LINES_WAIT seconds without them.
            self._set_timeout(None)
            self._sent_before = self.clock.callLater(LOST_LINES_WAIT, self._end)
            return
        self._end()

    def _end(self) -> None:
        """The connection is lost, and nothing it sent waits any more: its session ends."""
        if self._sent_before is not None:
            if self._sent_before.active():
                self._sent_before.cancel()
            self._sent_before = None
        try:
            self._stop_acting()
            self._leave_chat(self._quit_reason, lost=True)
        finally:
            self._report_refusals()
            log.info("{peer} ({nick}) disconnected: {why}", peer=self.peer, nick=self._left_as, why=self._ended_by)
            self.factory.forget(self)
            # Its send queue and its dialect each hold it: let go of both, so that the connection is freed now,
            # not by a full collection (which waits for a quarter more objects than the live ones).
            self.queue.stopProducing()
            self.dialect = ENDED

    # Reading: whole messages only, each spending a flood token

    def message_too_long(self) -> None:
        if self.closing:
            return
        self._spend_token()  # a refused line costs what any line costs, or refusing would be the cheap flood
        self.refuse(ChatError("TOO_LONG", most=self.max_line))

    def message_received(self, message: bytes) -> None:
        if self.closing:
            return
        if self.member is not None:  # the registration timeout is absolute; idleness ends with any whole message
            self._pinged = False
            TimeoutMixin.resetTimeout(self)
        self._spend_token()
        if self._work is None:
            self._execute(message)
            return
        self._waiting.append(message)
        if len(self._waiting) >= WAITING_LINES and not self._waiting_held:
            self._waiting_held = True
            self._hold()

    def _execute(self, message: bytes) -> None:
        before, self._executing = self._answered, True
        self.received = message
        try:
            if len(message) > self.max_line:
                raise ChatError("TOO_LONG", most=self.max_line)
            with asked_by(self):  # what the line asks for, and the work it starts (a login): refused, told here
                self.dialect.line_received(message.decode("utf-8"))
        except UnicodeDecodeError:
            self.refuse(ChatError("BAD_UTF8"))
        except ChatError as refusal:
            self.refuse(refusal)
        except Exception as error:  # a bug, not a refusal
            self._failed(error)
        finally:
            self._executing = False
        self._charge(self._answered - before - ANSWER_FREE)
        made, self._made = self._made, None
        if made is None and self.member is not None:
            made = self.factory.chat.settled(self.member, self)
        if made is not None and self._work is None:
            # The next lines wait until the changes are made, as on one process: a message sent right after a
            # join must find its sender in the room (chatroom.bus.shared makes a change in its turn, later).
            self._work = made
            made.addBoth(self._work_done)

    @property
    def executing(self) -> bool:
        """Whether a line of this client's runs: what the core delivers now answers it (IRC's own echo)."""
        return self._executing

    def _charge(self, size: int) -> None:
        """Fakelag: `size` bytes of answer cost the asker tokens, so its next line waits in proportion."""
        if size > 0 and not self.closing:
            self._spend_token(size / ANSWER_BYTES)

    def _spend_token(self, cost: float = 1.0) -> None:
        wait = self._bucket.take(self.clock.seconds(), cost)
        if not wait:
            return
        if self._resume is not None and self._resume.active():  # already waiting: a later answer owes more
            self._resume.reset(wait)
            return
        # Flood control: stop reading this client (its lines wait in the kernel) until its bucket refills.
        self.factory.counts.flood_slowdowns += 1
        self._hold()
        self._resume = self.clock.callLater(wait, self._release)

    def _hold(self) -> None:
        """Stop reading this client until a matching _release: its lines are handled later, in order."""
        self._holds += 1
        if self._holds == 1 and not self._gone:
            self.transport.pause_reading()

    def _release(self) -> None:
        if self.closing:
            return  # _stop_acting let go of every hold
        self._holds -= 1
        if self._holds == 0 and not self._gone:
            self.transport.resume_reading()

    # TimeoutMixin, called by name: mypy checks calls through a subclass as if they were ours, and it has no
    # annotations yet.

    def callLater(self, period: float, func: Callable[[], object]) -> IDelayedCall:
        """TimeoutMixin's timer runs on the factory's clock."""
        return self.clock.callLater(period, func)

    def _set_timeout(self, seconds: float | None) -> None:
        TimeoutMixin.setTimeout(self, seconds)

    # What dialects use

    def write(self, data: bytes) -> None:
        self.factory.counts.bytes_out += len(data)
        self._answered += len(data)
        self.queue.write(data)

    def write_pages(self, pages: Iterable[bytes]) -> None:
        """A long answer, made page by page as the client reads it (SendQueue), each page charged as it is made.

        The client's next line is read once the whole answer is made: charged only then, it would otherwise let
        several huge answers through before the first one's cost is known.
        """
        self._hold()
        self.queue.write_pages(self._charged(pages))

    def refuse(self, error: ChatError) -> None:
        """Answer a refused line; the log gets a count per connection, at most every REFUSAL_REPORT seconds."""
        self.write(self.dialect.refusal(error))
        if self._refused is None:
            self._refused = Counter()
        self._refused[error.code] += 1
        if self.clock.seconds() >= self._next_report:
            self._report_refusals()

    def wait_for(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` (a login): lines that arrive meanwhile are executed after it, in order.

        The client is still read, so that a close is noticed, and closing cancels the work: whatever it awaited
        then never acts for a connection that is leaving. A ChatError it raises is this client's refusal.
        """
        self._work = Deferred.fromCoroutine(work)
        self._work.addErrback(self._work_failed).addBoth(self._work_done)

    def when_made(self, then: Callable[[], object]) -> None:
        """Call `then` once the changes the line being executed asked for so far have been made.

        At once on one process; with several, in their turn in the log (chatroom.bus.shared), so that an answer
        such as the line protocol's CURRENT follows what the change shows, as it does on one process.
        """
        if self._made is None and self.member is not None:
            self._made = self.factory.chat.settled(self.member, self)
        if self._made is None:
            then()
        else:
            self._made.addCallback(lambda _: None if self.closing else then())

    def registered(self, member: Member) -> None:
        """Registration made this connection a member: from now on, silence is what times out."""
        self.member = member
        self.since = self.clock.seconds()
        log.info("{peer} is now {nick}", peer=self.peer, nick=member.nick)
        self._set_timeout(self.limits.idle_timeout)

    def quit(self, reason: str, why: str = "quit", lost: bool = False) -> None:
        """Leave the chat (everyone sharing a room hears `reason`), say goodbye and close. `why` is logged.

        `lost`: the client stopped answering rather than quitting, so its person may linger (Chat.leave).
        """
        self._leave_chat(reason, lost)
        self._close(reason, why)

    # chatroom.core.events.Session

    def deliver(self, event: Event) -> None:
        if self.closing:
            return  # its goodbye was the last line; it leaves the chat once the transport reports the loss
        try:
            if type(event) is History:  # a catch-up may hold a room's whole history: not made before it is read
                self.factory.counts.deliveries += 1
                self.write_pages(self.dialect.pages(event))
                return
            data = self.dialect.render(event)
            if data:  # not an IRC sender's own copy: writing nothing would still cost TLS a flush
                counts = self.factory.counts
                counts.deliveries += 1
                counts.bytes_out += len(data)
                self._answered += len(data)
                self.queue.write(data)
        except Exception as error:
            self._undeliverable(event, error)

    def close(self, reason: str, logged: str | None = None) -> None:
        """The chat let the member go (shutdown, or an administrator's doing) and says why; so is a newcomer."""
        member, self.member = self.member, None
        if member is not None:
            self._left_as = member.nick
            self.dialect.departed(member)
        self._close(reason, reason if logged is None else logged)

    def refused(self, error: ChatError) -> None:
        self.refuse(error)

    # Inside

    async def _admitted(self, claim: Claim) -> None:
        refusal = await claim.verdict()
        if refusal is None:
            self.dialect.greet()
            return
        self.factory.refused(self.peer, refusal, "per_address")
        self._close(refusal, refusal)

    def timeoutConnection(self) -> None:
        if self.member is None and self.transport.handshaking:
            self._cut("registration timeout")  # TLS never finished: no goodbye can reach it, Twisted would wait 5 s
        elif self.member is None:
            self.quit("registration timeout: choose a nickname sooner", "registration timeout")
        elif not self._pinged:
            self._pinged = True
            self.write(self.dialect.ping(str(int(self.clock.seconds()))))
            self._set_timeout(self.limits.idle_timeout)
        else:
            self.quit("ping timeout", "ping timeout", lost=True)

    def _work_failed(self, failure: Failure) -> None:
        if failure.check(CancelledError) or self.closing:
            return  # the connection is closing: nobody is waiting for an answer
        if isinstance(refused := failure.value, ChatError):
            self.refuse(refused)
            return
        self._log_bug("finish a line", cast(BaseException, failure.value), "told it so")  # a login, a rename...
        self.refuse(ChatError("SERVER_ERROR"))

    def _work_done(self, _: None) -> None:
        self._work = None
        try:
            while self._waiting and self._work is None and not self.closing:
                self._execute(self._waiting.pop(0))
        except Exception as error:
            # A bug, not a refusal. From dataReceived, Twisted would log it and drop the connection; inside this
            # callback it would be swallowed and leave the client unread: do what Twisted does.
            self._log_bug("run its waiting lines", error, "disconnecting it")
            self._stop_acting()
            self._ended_by = "server error"
            if not self._gone:
                self.transport.abort()
        if self._waiting_held and not self._waiting:
            self._waiting_held = False
            self._release()
        if self._sent_before is not None and self._work is None and not self._waiting:
            self._end()  # lost meanwhile, and what it sent before is done

    def _leave_chat(self, reason: str, lost: bool = False) -> None:
        """This session ends; its person leaves with it unless they have another, or linger (Chat.leave)."""
        member, self.member = self.member, None
        if member is not None:
            self._left_as = member.nick
            if self.factory.chat.leave(member, self, reason, lost):
                self.dialect.departed(member)

    def _stop_acting(self) -> None:
        """From now on nothing is executed for this client, and nothing scheduled for it happens."""
        self.closing = True
        self._set_timeout(None)
        if self._resume is not None and self._resume.active():
            self._resume.cancel()
        self._waiting.clear()
        self._waiting_held = False
        if self._work is not None:
            self._work.cancel()
        if self._holds:  # read again, so that the peer's half of a TLS close is heard; nothing is executed
            self._holds = 0
            if not self._gone:
                self.transport.resume_reading()

    def _close(self, reason: str, why: str) -> None:
        if self.closing:
            return
        if self._gone:  # lost while what it sent before ran (its QUIT, a kill): nobody is left to say goodbye to
            self._ended_by = why
            self._end()
            return
        self._stop_acting()
        self._ended_by = why
        self.queue.write(self.dialect.goodbye(reason))
        self.queue.flush()
        self.transport.close()

    def _failed(self, error: Exception) -> None:
        """A bug met while executing the client's line: it is told, in one line, that the server could not do it,
        and goes on. Raised, the error would drop the connection, with a report in the log quoting its message,
        which may quote the line."""
        self._log_bug("run a line", error, "told it so")
        self.refuse(ChatError("SERVER_ERROR"))

    def _undeliverable(self, event: Event, error: Exception) -> None:
        """A bug made this client's copy of `event` fail. Raised, it would stop the broadcast there: the members
        after this one would miss the event, and with several processes the replica would resynchronise.

        The event is left out of this copy, the client is told so (UNSHOWN), and goes on: such a bug is most
        likely in the event itself (what someone typed), which then fails every member's copy. But a change of the
        roster (ROSTER_CHANGES) would leave this client seeing the rooms wrongly, and so would a connection whose
        every copy fails, that notice's too: after FAULTS_TOLERATED faults, or one such change, it is told goodbye,
        and comes back to see the chat right. Logged once an event, however many copies fail.
        """
        self._faults += 1
        ends = isinstance(event, ROSTER_CHANGES) or self._faults >= FAULTS_TOLERATED
        if self.factory.first_fault(event):
            self._log_bug(f"make a {type(event).__name__}", error, "disconnecting it" if ends else "left out")
        if not ends:
            self.deliver(ServerNotice(UNSHOWN))
            return
        self._quit_reason = "server error"  # what the others in its rooms are told
        try:
            self._close("server error", "server error")
        except Exception:  # the goodbye's own path is what failed
            self._cut("server error")

    def _unmade(self, error: Exception) -> None:
        """A bug failed a page of a long answer (a room's history, `WHO *`): the rest of it is left out, as an
        event is (`_undeliverable`), and the client goes on; what was written after it follows."""
        self._log_bug("make a long answer", error, "left the rest of it out")

    def _log_bug(self, what: str, error: BaseException, outcome: str) -> None:
        """A bug met for this client, as the log may tell it (chatroom.core.errors.mistake): never its message."""
        log.error(
            "{peer} ({nick}): could not {what}: {mistake}; {outcome}",
            peer=self.peer,
            nick=self.member.nick if self.member is not None else "-",
            what=what,
            mistake=mistake(error),
            outcome=outcome,
        )

    def _too_slow(self) -> None:
        """The client stopped reading and its output passed the cap: drop it now, it would not read a goodbye.

        This runs in the middle of a broadcast, so the member leaves the chat in connectionLost, which the
        transport reports later, not now.
        """
        self.factory.counts.send_queue_disconnects += 1
        self._cut("send queue exceeded")

    def _cut(self, why: str) -> None:
        """Drop the connection now, without a goodbye: the peer could not, or would not, read one."""
        self._stop_acting()
        self._ended_by = self._quit_reason = why
        self.transport.abort()

    def _charged(self, pages: Iterable[bytes]) -> Iterator[bytes]:
        """Pages made while the line that asked runs are part of its answer; those made later cost as they come."""
        try:
            for page in pages:
                if page:
                    self.factory.counts.bytes_out += len(page)
                    if self._executing:
                        self._answered += len(page)
                    else:
                        self._charge(len(page))
                    yield page
        finally:
            self._release()  # when the answer is made, or dropped as the connection closes

    def _report_refusals(self) -> None:
        if self._refused:
            codes = ", ".join(f"{code} x{count}" for code, count in sorted(self._refused.items()))
            log.info("{peer}: refused {codes}", peer=self.peer, codes=codes)
            self._refused = None
            self._next_report = self.clock.seconds() + REFUSAL_REPORT


class _Ended:
    """The dialect of every connection that has ended, in place of its own (which held the connection, in a cycle):
    whatever still reaches one, as a delivery to a session the chat has not yet let go of, says and does nothing."""

    name = "ended"

    @staticmethod
    def longest_line(limits: ConnectionLimits) -> int:
        return 0

    def greet(self) -> None:
        pass

    def line_received(self, line: str) -> None:
        pass

    def render(self, event: Event) -> bytes:
        return b""

    def pages(self, history: History) -> Iterable[bytes]:
        return ()

    def departed(self, member: Member) -> None:
        pass

    def refusal(self, error: ChatError) -> bytes:
        return b""

    def word(self, error: ChatError) -> str:
        return ""

    @staticmethod
    def ping(token: str) -> bytes:
        return b""

    @staticmethod
    def goodbye(reason: str) -> bytes:
        return b""


ENDED = _Ended()


class Refusal(TwistedProtocol):
    """Tells a connection over a limit why, in one line of its front end's language, and closes it."""

    def __init__(self, goodbye: bytes, clock: IReactorTime) -> None:
        self.goodbye = goodbye
        self.clock = clock

    def connectionMade(self) -> None:
        stream = transport_of(self)
        stream.write(self.goodbye)
        self._deadline = close_politely(stream, self.clock)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._deadline.active():
            self._deadline.cancel()


class ConnectionFactory(ServerFactory):
    """Admits connections and builds a Connection speaking `dialect` for each; says goodbye to all at shutdown.

    One factory serves every front end: `speaking` gives a listener's factory for another dialect that shares
    the chat, the limits, the admission counts and the registrar, so that the caps and the login slow-downs
    hold across languages.
    """

    noisy = False  # connections are logged by Connection, without the factory's repr

    def __init__(
        self,
        chat: Chat,
        clock: IReactorTime,
        dialect: type[Dialect],
        limits: ConnectionLimits = ConnectionLimits(),
        motd: str = "",
        auth: Authenticator | None = None,
        counts: AddressCounts | None = None,
        guesses: GuessBook | None = None,
    ) -> None:
        """`counts` and `guesses` count the connections per address and the server password's guesses over every
        process (chatroom.bus.limits, with --redis); without them, this process counts alone."""
        self.chat = chat
        self.clock = clock
        self.dialect = dialect
        self.limits = limits
        self.registrar = Registrar(chat, auth, clock, guesses)
        self.motd = motd_lines(motd)  # checked already by whoever read it: ValueError here is a bug
        self.admission = Admission(limits, counts)
        self.turns = Turns(clock)  # every connection's long answers, made in turn
        self.connections: set[Connection] = set()
        self.serials = itertools.count(1)
        self.counts = Counts()
        self._emptied: list[Deferred[None]] = []
        self._faulted: Event | None = None  # the last event a connection failed to render

    def buildProtocol(self, addr: IAddress | None) -> TwistedProtocol | None:
        return self.line_protocol(addr, self.dialect)

    def speaking(self, dialect: type[Dialect]) -> ServerFactory:
        """The factory of a listener whose connections speak `dialect`."""
        if dialect is self.dialect:
            return self
        return FrontEnd(self, dialect)

    def line_protocol(self, addr: IAddress | None, dialect: type[Dialect]) -> TwistedProtocol:
        """A listener's new client: line framing over its Connection, or a Refusal over the caps."""
        admitted = self.admit(addr, dialect)
        if isinstance(admitted, str):
            return Refusal(dialect.goodbye(admitted), self.clock)
        return LineFraming(admitted, admitted.max_line, self.clock)

    def admit(self, addr: IAddress | None, dialect: type[Dialect]) -> Connection | str:
        """A new client's Connection, which any framing can carry; or, over a cap, why it is refused."""
        refusal = self.count(addr)
        return refusal if refusal is not None else self.connection(addr, dialect)

    def count(self, addr: IAddress | None) -> str | None:
        """Count a new client under the caps (in total, per address), or say why it is refused (logged, counted).

        A client counted is given back by its Connection when it ends, or with `uncount` if it never has one.
        """
        refusal = self.admission.admit(_host(addr))
        if refusal is not None:
            full = self.admission.total >= self.limits.max_clients
            self.refused(describe(addr) if addr else None, refusal, "server_full" if full else "per_address")
        return refusal

    def uncount(self, addr: IAddress | None) -> None:
        self.admission.release(_host(addr))

    def connection(self, addr: IAddress | None, dialect: type[Dialect]) -> Connection:
        """The Connection of a client counted already, speaking `dialect`: it gives its place back when it ends."""
        host = _host(addr)
        return Connection(self, dialect, host, self.admission.claim(host))

    def refused(self, peer: str | None, reason: str, kind: str) -> None:
        """A connection over a cap: logged, and counted by `kind` for the metrics."""
        log.info("refused a connection from {peer}: {reason}", peer=peer, reason=reason)
        self.counts.refused[kind] += 1

    def first_fault(self, event: Event) -> bool:
        """Whether `event` fails a connection's copy for the first time: a bug in the event itself fails every
        member's copy, and is logged once."""
        if event is self._faulted:
            return False
        self._faulted = event
        return True

    def forget(self, connection: Connection) -> None:
        self.chat.unwatch(connection)  # a watch list ends with its connection, however it ended
        self.admission.release(connection.host)
        if connection.claim is not None:
            connection.claim.release()
        self.connections.discard(connection)
        if not self.connections:
            emptied, self._emptied = self._emptied, []
            for waiting in emptied:
                waiting.callback(None)

    def close(self, reason: str) -> Deferred[None]:
        """Tell everyone `reason`, close every connection, and fire once all are gone."""
        self.chat.close(reason)
        for connection in list(self.connections):
            connection.close(reason)  # those that had not registered yet
        if not self.connections:
            return succeed(None)
        emptied: Deferred[None] = Deferred()
        self._emptied.append(emptied)
        return emptied


class FrontEnd(ServerFactory):
    """A listener's factory for a second language: its connections belong to the shared ConnectionFactory."""

    noisy = False

    def __init__(self, shared: ConnectionFactory, dialect: type[Dialect]) -> None:
        self.shared = shared
        self.dialect = dialect

    def buildProtocol(self, addr: IAddress | None) -> TwistedProtocol | None:
        return self.shared.line_protocol(addr, self.dialect)


def _host(addr: IAddress | None) -> str | None:
    """The IP address a client is counted under; None for a UNIX socket's."""
    return addr.host if isinstance(addr, IPv4Address | IPv6Address) else None


def describe(address: IAddress) -> str:
    if isinstance(address, IPv6Address):
        return f"[{address.host}]:{address.port}"
    if isinstance(address, IPv4Address):
        return f"{address.host}:{address.port}"
    return str(address)

"""The line protocol's front end: one connection's bytes in, lines out.

The path of a line: TLS (chatroom.tap wraps this factory) -> `ChatProtocol`
splits, decodes and checks it -> `chatroom.commands` runs it against
`chatroom.core.Chat` -> the chat delivers events back through `deliver`, which
writes them with `chatroom.wire`.
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IAddress, IDelayedCall, IReactorTime, ITransport
from twisted.internet.protocol import Protocol, ServerFactory, connectionDone
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from twisted.protocols.policies import TimeoutMixin
from twisted.python.failure import Failure

from chatroom import commands
from chatroom.auth import Authenticator
from chatroom.core import Chat, ChatError, Event, Member, registered
from chatroom.limits import Admission, ConnectionLimits, SendQueue, TokenBucket
from chatroom.wire import CONTROL_CHARACTERS, PROTOCOL_VERSION, Encoder, line

CLOSE_GRACE = 5.0  # seconds a closing peer has to answer TLS's close_notify

log = Logger(namespace="chatroom")


def close_politely(transport: ITransport, clock: IReactorTime) -> IDelayedCall:
    """Close with a TLS close_notify, but cut off a peer that never answers it: it would pin the connection."""
    transport.loseConnection()
    return clock.callLater(CLOSE_GRACE, transport.abortConnection)


class ChatProtocol(LineReceiver, TimeoutMixin):
    """One member's connection, speaking the line protocol of docs/protocol.md."""

    delimiter = b"\n"
    factory: ChatFactory
    host: str | None = None  # the address Admission counted this connection under

    def connectionMade(self) -> None:
        limits = self.factory.limits
        self.MAX_LENGTH = limits.max_line
        self.chat = self.factory.chat
        self.clock = self.factory.clock
        self.callLater = self.clock.callLater  # TimeoutMixin's timer runs on the factory's clock
        self.member: Member = self.chat.connect(self)
        self.current: str | None = None
        self.quit_reason = "connection lost"
        self._discarding = False  # inside a line that was too long
        self._overflow = b""  # what followed a too-long line in the same read
        self._pinged = False
        self._holds = 0  # reasons not to read this client now: flood control, a login being checked
        self._gone = False
        self.pending_login: str | None = None  # a registered nickname asked for, awaiting /pass
        self._resume: IDelayedCall | None = None  # when flood control reads again
        self._deadline: IDelayedCall | None = None  # when a polite close gives up
        self._bucket = TokenBucket(limits.flood_burst, limits.flood_rate, self.clock.seconds())
        self.queue = SendQueue(self.transport, limits.send_queue, self._too_slow)
        self.transport.registerProducer(self.queue, True)
        # Lines are small and should leave at once: with Nagle's algorithm (Twisted's default) and delayed ACKs
        # they waited, measured p99 128 -> 14 ms in the steady benchmark (docs/performance.md). TLS hands the
        # call to its TCP transport; a UNIX socket has no such option.
        no_delay = getattr(self.transport, "setTcpNoDelay", None)
        if no_delay is not None:
            no_delay(True)
        self.peer = describe(self.transport.getPeer())
        self.factory.connections.add(self)  # logged once registered or gone: one line less per connection
        self.setTimeout(limits.registration_timeout)
        self.write(
            line("HELLO", "chatroom", PROTOCOL_VERSION, text="Welcome to chatroom. Choose a nickname: /nick NAME")
        )

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._gone = True
        self.setTimeout(None)
        for call in (self._resume, self._deadline):
            if call is not None and call.active():
                call.cancel()
        self.chat.quit(self.member, self.quit_reason)
        log.info(
            "{peer} ({nick}) disconnected: {reason}",
            peer=self.peer,
            nick=self.member.nick or "no nickname",
            reason=self.quit_reason,
        )
        self.factory.forget(self)

    # Timeouts: registration first, then idle pings

    def timeoutConnection(self) -> None:
        if self.member.nick is None:
            self.quit("registration timeout: choose a nickname sooner")
        elif not self._pinged:
            self._pinged = True
            self.write(line("PING", text=str(int(self.clock.seconds()))))
            self.setTimeout(self.factory.limits.idle_timeout)
        else:
            self.quit("ping timeout")

    # Reading

    def dataReceived(self, data: bytes) -> None:
        """Split lines as LineReceiver does, but survive a line that is too long.

        LineReceiver hands a too-long line and everything after it to
        `lineLengthExceeded`; we refuse that one line, skip to its end, and go
        on with the lines that follow it.
        """
        if self.member.nick is not None:  # the registration timeout is absolute; idleness is not
            self._pinged = False
            self.resetTimeout()
        while True:
            if self._discarding:
                _, newline, data = data.partition(self.delimiter)
                if not newline:
                    return
                self._discarding = False
            super().dataReceived(data)
            data, self._overflow = self._overflow, b""
            if not data:
                return

    def lineLengthExceeded(self, line_: bytes) -> None:
        self.error("TOO_LONG", f"line longer than {self.MAX_LENGTH} bytes; it was ignored")
        _, newline, self._overflow = line_.partition(self.delimiter)
        self._discarding = not newline

    def lineReceived(self, raw: bytes) -> None:
        wait = self._bucket.take(self.clock.seconds())
        self._handle(raw)
        if wait:
            # Flood control: stop reading this client (its lines wait in the kernel) until its bucket refills.
            self._hold()
            self._resume = self.clock.callLater(wait, self._release)

    def _hold(self) -> None:
        """Stop reading this client until a matching _release: its lines are handled later, in order."""
        self._holds += 1
        if self._holds == 1:
            self.pauseProducing()

    def _release(self) -> None:
        self._holds -= 1
        if self._holds == 0 and not self._gone:
            self.resumeProducing()

    def _handle(self, raw: bytes) -> None:
        try:
            text = raw.removesuffix(b"\r").decode("utf-8")
            if CONTROL_CHARACTERS.search(text):
                raise ChatError("BAD_TEXT", "control characters are not allowed; the line was ignored")
            if not text.strip():
                raise ChatError("EMPTY", "empty line ignored")
            commands.run(self, text)
        except UnicodeDecodeError:
            self.error("BAD_UTF8", "the line is not valid UTF-8; it was ignored")
        except ChatError as refusal:
            self.error(refusal.code, refusal.message)

    # What commands use

    def write(self, data: bytes) -> None:
        self.queue.write(data)

    def error(self, code: str, message: str) -> None:
        log.info("{peer} ({nick}): error {code}", peer=self.peer, nick=self.member.nick or "-", code=code)
        self.write(line("ERR", code, text=message))

    def take_nick(self, nick: str) -> None:
        first = self.member.nick is None
        self.chat.set_nick(self.member, nick)
        if first:
            self.welcome()

    def log_in(self, password: str) -> None:
        """Check the password of the registered nickname asked for; read nothing else until it is known."""
        nick, self.pending_login = self.pending_login, None
        auth = self.factory.auth
        if nick is None or auth is None:
            raise ChatError("NO_LOGIN", "no login to complete: /nick NAME first")
        self._hold()
        checking = Deferred.fromCoroutine(auth.login(nick, password, self.host or self.peer))
        checking.addCallback(self._logged_in)
        checking.addErrback(self._refused)
        checking.addBoth(lambda _: self._release())

    def _logged_in(self, nick: str) -> None:
        if not self._gone:
            try:
                self.take_nick(nick)
            except ChatError as refusal:
                self.error(refusal.code, refusal.message)

    def _refused(self, failure: Failure) -> None:
        failure.trap(ChatError)
        if not self._gone:
            self.error(failure.value.code, failure.value.message)

    def welcome(self) -> None:
        """The member has just chosen its first nickname."""
        nick = registered(self.member)
        log.info("{peer} is now {nick}", peer=self.peer, nick=nick)
        self.setTimeout(self.factory.limits.idle_timeout)
        self.write(line("WELCOME", nick, text=f"Hello {nick}. Join a room with /join ROOM; /help lists the commands."))
        for motd in self.factory.motd:
            self.write(line("MOTD", text=motd))

    def current_room(self) -> str:
        registered(self.member)
        if self.current is None:
            raise ChatError("NO_ROOM", "you are not in a room: /join ROOM first")
        return self.current

    def joined(self, room: str) -> None:
        log.info("{nick} joined {room}", nick=self.member.nick, room=room)
        self.set_current(room)

    def set_current(self, room: str | None) -> None:
        """Where plain text goes; the line protocol's notion, not the core's."""
        self.current = room
        self.write(line("CURRENT", *([room] if room else [])))

    def quit(self, reason: str) -> None:
        self.quit_reason = reason
        self.chat.quit(self.member, reason)
        self.close(reason)

    def _too_slow(self) -> None:
        """The client stopped reading and its output passed the cap: drop it now, it would not read a goodbye."""
        self.quit_reason = "send queue exceeded"
        log.info("{peer} ({nick}) stopped reading: send queue exceeded", peer=self.peer, nick=self.member.nick)
        self.transport.abortConnection()  # connectionLost comes later: safe in the middle of a broadcast

    # chatroom.core.Session

    def deliver(self, event: Event) -> None:
        self.queue.write(self.factory.encode(event))

    def close(self, reason: str) -> None:
        if self._deadline is not None:
            return
        self.setTimeout(None)
        self.queue.write(line("BYE", text=reason))
        self.queue.flush()
        self.transport.unregisterProducer()  # TLS sends its close_notify only once no producer is registered
        self._deadline = close_politely(self.transport, self.clock)


class Refusal(Protocol):
    """Tells a connection over a limit why, in one line, and closes it."""

    def __init__(self, reason: str, clock: IReactorTime) -> None:
        self.reason = reason
        self.clock = clock

    def connectionMade(self) -> None:
        self.transport.write(line("BYE", text=self.reason))
        self._deadline = close_politely(self.transport, self.clock)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._deadline.active():
            self._deadline.cancel()


class ChatFactory(ServerFactory):
    """Builds a ChatProtocol per admitted connection, all sharing one Chat; says goodbye to all at shutdown."""

    protocol = ChatProtocol
    noisy = False  # connections are logged by ChatProtocol, without the factory's repr

    def __init__(
        self,
        chat: Chat,
        clock: IReactorTime,
        limits: ConnectionLimits = ConnectionLimits(),
        motd: str = "",
        auth: Authenticator | None = None,
    ) -> None:
        self.chat = chat
        self.clock = clock
        self.limits = limits
        self.auth = auth  # None: accounts are off, every free nickname may be taken
        self.motd = motd.splitlines()
        self.encode = Encoder()
        self.admission = Admission(limits)
        self.connections: set[ChatProtocol] = set()
        self._emptied: list[Deferred[None]] = []

    def buildProtocol(self, addr: IAddress) -> Protocol | None:
        host = addr.host if isinstance(addr, IPv4Address | IPv6Address) else None
        refusal = self.admission.admit(host)
        if refusal is not None:
            log.info("refused a connection from {peer}: {reason}", peer=describe(addr), reason=refusal)
            return Refusal(refusal, self.clock)
        protocol = super().buildProtocol(addr)
        assert isinstance(protocol, ChatProtocol)
        protocol.host = host
        return protocol

    def forget(self, connection: ChatProtocol) -> None:
        self.admission.release(connection.host)
        self.connections.discard(connection)
        if not self.connections:
            emptied, self._emptied = self._emptied, []
            for waiting in emptied:
                waiting.callback(None)

    def close(self, reason: str) -> Deferred[None]:
        """Tell everyone `reason`, close every connection, and fire once all are gone."""
        self.chat.close(reason)
        if not self.connections:
            return succeed(None)
        emptied: Deferred[None] = Deferred()
        self._emptied.append(emptied)
        return emptied


def describe(address: IAddress) -> str:
    if isinstance(address, IPv6Address):
        return f"[{address.host}]:{address.port}"
    if isinstance(address, IPv4Address):
        return f"{address.host}:{address.port}"
    return str(address)

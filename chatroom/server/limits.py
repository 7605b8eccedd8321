"""What keeps one connection from hurting the others: flood control, output caps, connection caps.

Each limit is a `twistd chatroom` option (see chatroom.app.tap); the defaults are here.
"""

from __future__ import annotations

import re
import resource
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, cast

from twisted.internet.defer import Deferred
from twisted.internet.error import AlreadyCalled, AlreadyCancelled
from twisted.internet.interfaces import IAddress, IDelayedCall, IPushProducer, IReactorTime
from twisted.internet.protocol import Protocol as TwistedProtocol
from twisted.logger import Logger
from zope.interface import implementer

from chatroom.core.addresses import address_key, ip
from chatroom.core.names import UNSAFE_TEXT
from chatroom.server.messages import MessageTransport

log = Logger(namespace="chatroom")

CLOSE_GRACE = 5.0  # seconds a closing peer has to answer TLS's close_notify
PAGE_LINES = 50  # lines of a long answer made at a time for a client (SendQueue.write_pages)
TURN_BYTES = 16 * 1024  # of long answers' pages made at once for one client, and in one turn of the reactor for all


# The message of the day is written whole at each login, before the client has read anything: the transport takes
# 64 KiB before the send queue (--send-queue, 1 KiB at least) counts, so these bounds (with IRC's ~290 bytes a line
# at most of prefix: a 253-character server name, a nickname) keep every login's MOTD under that, whatever the
# options. A 7.7 MB one dropped every client at login with "send queue exceeded".
MOTD_BYTES = 16 * 1024
MOTD_LINES = 100
_LINE_BREAK = re.compile("\r\n|\r|\n")


def motd_lines(text: str) -> list[str]:
    """The message of the day's lines; ValueError, in words, if a login cannot carry it or a line holds a control
    character (sent raw, it could forge IRC lines or drive terminals) the commands refuse."""
    if len(text.encode()) > MOTD_BYTES:
        raise ValueError(f"must be at most {MOTD_BYTES // 1024} KiB, what a login carries")
    lines = _LINE_BREAK.split(text.removesuffix("\r\n").removesuffix("\n"))
    if lines == [""]:
        return []
    if len(lines) > MOTD_LINES:
        raise ValueError(f"must be at most {MOTD_LINES} lines, what a login carries (not {len(lines)})")
    for number, line in enumerate(lines, 1):
        if UNSAFE_TEXT.search(line):
            raise ValueError(f"must hold no control character, as the commands refuse in text (line {number} does)")
    return lines


class StreamTransport(Protocol):
    """What line framing (chatroom.server.lines) and refusals use of a transport: TCP, TLS and UNIX sockets all
    have it."""

    def write(self, data: bytes) -> None: ...

    def writeSequence(self, data: Iterable[bytes]) -> None: ...

    def getPeer(self) -> IAddress: ...

    def registerProducer(self, producer: object, streaming: bool) -> None: ...

    def unregisterProducer(self) -> None: ...

    def loseConnection(self) -> None: ...

    def abortConnection(self) -> None: ...


def transport_of(protocol: TwistedProtocol) -> StreamTransport:
    """A connected protocol's transport, as the connection layer uses it (TCP, TLS and UNIX sockets all are one).

    Not checked with isinstance: for a typing.Protocol that looks up every method, 4 % of a connection's CPU.
    """
    return cast(StreamTransport, protocol.transport)


def cancel(timer: IDelayedCall | None) -> None:
    """Stop `timer` if it is still to run (a connection's deadline, when the connection ends first)."""
    if timer is not None and timer.active():
        timer.cancel()


def close_politely(transport: StreamTransport, clock: IReactorTime) -> IDelayedCall:
    """Close with a TLS close_notify, but cut off a peer that never answers it: it would pin the connection."""
    transport.loseConnection()
    return clock.callLater(CLOSE_GRACE, transport.abortConnection)


@dataclass(frozen=True)
class ConnectionLimits:
    max_line: int = 4096  # bytes in one line from a client
    flood_burst: int = 10  # lines a client may send at once...
    flood_rate: float = 5.0  # ...then lines per second
    send_queue: int = 1024 * 1024  # bytes waiting for a client that does not read, before it is cut off
    max_clients: int = 10_000
    max_per_address: int = 20  # per IPv4 address or IPv6 /64
    limit_loopback: bool = False  # loopback is exempt from max_per_address unless this is set
    registration_timeout: float = 30.0  # seconds to finish TLS and choose a nickname
    idle_timeout: float = 300.0  # seconds of silence before a PING, and again before giving up


class TokenBucket:
    """Lets `burst` lines through at once, then `rate` a second."""

    def __init__(self, burst: int, rate: float, now: float) -> None:
        self.burst = burst
        self.rate = rate
        self.tokens = float(burst)
        self.stamp = now

    def take(self, now: float, cost: float = 1.0) -> float:
        """Spend `cost` tokens (one a line); return how long to wait before reading the next (0 for no wait)."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate) - cost
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


class Turns:
    """The rest of every long answer, made in turn: one page of one client's answer after another, at most TURN_BYTES
    in one turn of the reactor, whoever asked. Ten clients flooding `WHO *` over thousands of members then cost the
    others one such turn between two of their own lines, not ten answers."""

    def __init__(self, clock: IReactorTime) -> None:
        self._clock = clock
        self._waiting: deque[SendQueue] = deque()
        self._call: IDelayedCall | None = None

    def wait(self, queue: SendQueue) -> None:
        self._waiting.append(queue)
        if self._call is None:
            self._call = self._clock.callLater(0, self._turn)

    def _turn(self) -> None:
        """One budget's pages. A queue that waits again during the turn must not schedule a turn of its own: `_call`
        is cleared only after the loop (else every turn scheduled two, and the turns doubled)."""
        budget = TURN_BYTES
        try:
            while self._waiting and budget > 0:
                budget -= self._waiting.popleft().make_page()
        finally:  # a queue that raised must not stop the others' turns
            self._call = self._clock.callLater(0, self._turn) if self._waiting else None


@implementer(IReactorTime)
class Deadlines:
    """Timers that pass up to `grain` seconds late, all watched by one reactor call: for deadlines mostly put off or
    cancelled before they are due, as an HTTP connection's silence is (twisted.web cancels it at every request; its
    site takes this as its reactor).

    A cancelled Twisted DelayedCall stays in the reactor's heap until cancelled calls are half of it: with one live
    timer per connection, that is one dead one per web connection, 0.3 KB each (docs/performance.md, issue 27). A
    cancelled `Deadline` is forgotten at once.
    """

    def __init__(self, clock: IReactorTime, grain: float = 1.0) -> None:
        self.clock = clock
        self.grain = grain
        self._due: dict[Deadline, None] = {}  # those not yet passed nor cancelled
        self._sweep: IDelayedCall | None = None

    def callLater(self, delay: float, callable: Callable[..., Any], *args: object, **kwargs: object) -> Deadline:
        deadline = Deadline(self, self.clock.seconds() + delay, callable, args, kwargs)
        self._due[deadline] = None
        if self._sweep is None:
            self._sweep = self.clock.callLater(self.grain, self._pass)
        return deadline

    def seconds(self) -> float:
        return self.clock.seconds()

    def getDelayedCalls(self) -> list[IDelayedCall]:
        return list(self._due)

    def forget(self, deadline: Deadline) -> None:
        del self._due[deadline]
        if not self._due and self._sweep is not None:  # the last one: nothing to sweep for (a site stopping)
            self._sweep.cancel()
            self._sweep = None

    def _pass(self) -> None:
        """Run what is due; one that raises leaves the rest to the next pass, which the reactor's log tells of."""
        self._sweep = None
        try:
            now = self.clock.seconds()
            for deadline in [deadline for deadline in self._due if deadline.time <= now]:
                if deadline in self._due:  # not cancelled by an earlier one's call
                    deadline.run()
        finally:
            if self._due and self._sweep is None:
                self._sweep = self.clock.callLater(self.grain, self._pass)


@implementer(IDelayedCall)
class Deadline:
    """One of `Deadlines`'s timers, as a DelayedCall answers those who hold it."""

    __slots__ = ("_deadlines", "args", "called", "cancelled", "func", "kw", "time")

    def __init__(
        self,
        deadlines: Deadlines,
        time: float,
        func: Callable[..., object],
        args: tuple[object, ...],
        kw: dict[str, object],
    ) -> None:
        self._deadlines = deadlines
        self.time = time
        self.func, self.args, self.kw = func, args, kw
        self.called = self.cancelled = False

    def getTime(self) -> float:
        return self.time

    def delay(self, secondsLater: float) -> None:
        self._check()
        self.time += secondsLater

    def reset(self, secondsFromNow: float) -> None:
        self._check()
        self.time = self._deadlines.clock.seconds() + secondsFromNow

    def cancel(self) -> None:
        self._check()
        self.cancelled = True
        self._deadlines.forget(self)
        del self.func, self.args, self.kw  # as a DelayedCall lets go: a holder's own method would make a cycle

    def active(self) -> bool:
        return not (self.called or self.cancelled)

    def run(self) -> None:
        self.called = True
        self._deadlines.forget(self)
        func, args, kw = self.func, self.args, self.kw
        del self.func, self.args, self.kw
        func(*args, **kw)

    def _check(self) -> None:
        if self.cancelled:
            raise AlreadyCancelled()
        if self.called:
            raise AlreadyCalled()


NOTHING_HELD: deque[bytes | Iterator[bytes]] = deque(maxlen=0)  # every SendQueue's while nothing waits; never added to


@implementer(IPushProducer)
class SendQueue:
    """A connection's output, held here while its transport is full, up to a cap.

    The transport pauses us once its own buffer passes 64 KiB. From then on
    lines wait here; a reader so slow that they pass `cap` bytes is reported
    through `overflow` (once) and everything for it is dropped from then on,
    so the server's memory stays bounded whatever a client does.

    A long answer (a room's history, `WHO *`) comes as pages, each made only when
    the transport takes writes: up to TURN_BYTES at once, the rest a page at a
    time in `turns` shared with every other connection. A client that does not
    read costs a page, not the whole answer, and a huge answer does not keep
    everyone else waiting while it is made. What is written after it waits
    behind it, counted.
    """

    def __init__(
        self,
        transport: MessageTransport,
        cap: int,
        overflow: Callable[[], None],
        fault: Callable[[Exception], None],
        turns: Turns,
    ) -> None:
        """`fault` is told of a bug that failed a page: that answer is left out, and what follows it goes on."""
        self._transport = transport
        self._cap = cap
        self._overflow: Callable[[], None] | None = overflow
        self._fault: Callable[[Exception], None] | None = fault
        self._turns = turns
        self._paused = False  # the transport is full
        self._pending: deque[bytes | Iterator[bytes]] = NOTHING_HELD  # in order: lines made, and pages to make
        self._size = 0  # bytes made and held: pages not made yet take no memory
        self._waiting_turn = False  # in `turns`, for its next page
        self._sending = False  # in _send: a call from inside it leaves the work to it

    def write(self, data: bytes) -> None:
        if not (self._paused or self._pending):
            self._transport.write(data)
        elif self._overflow is not None:
            self._held().append(data)
            self._size += len(data)
            if self._size > self._cap:
                overflow, self._overflow = self._overflow, None
                self._drop()
                overflow()

    def write_pages(self, pages: Iterable[bytes]) -> None:
        """An answer made page by page as the transport takes them, after everything written before it."""
        if self._overflow is not None:
            self._held().append(iter(pages))
            self._send(TURN_BYTES)

    def __len__(self) -> int:
        """Bytes held here, waiting for the transport."""
        return self._size

    def flush(self) -> None:
        """Hand everything made to the transport and write straight through again: for a goodbye, so the pages
        not made yet are dropped."""
        made = [item for item in self._pending if isinstance(item, bytes)]
        self._drop()
        self._paused = False
        if made:
            self._transport.write_messages(made)

    def pauseProducing(self) -> None:
        self._paused = True

    def resumeProducing(self) -> None:
        self._paused = False
        self._send(TURN_BYTES)

    def stopProducing(self) -> None:
        self._drop()
        self._paused, self._overflow, self._fault = False, None, None  # each holds its connection

    def make_page(self) -> int:
        """Its turn (Turns): what waits before the next page, and the page; how many bytes of pages it made."""
        self._waiting_turn = False
        return self._send(1)

    def _held(self) -> deque[bytes | Iterator[bytes]]:
        """The queue, made when something first has to wait: most connections never need one (0.7 KB each)."""
        if self._pending is NOTHING_HELD:
            self._pending = deque()
        return self._pending

    def _drop(self) -> None:
        self._pending = NOTHING_HELD
        self._size = 0

    def _send(self, budget: int) -> int:
        """Write what waits, in order, until the transport is full or `budget` bytes of pages are made (the rest in
        a later turn); how many were made.

        The end of an answer lets its connection read again, which may run the client's next line at once, from
        inside this loop: what that line writes or asks joins the queue, and this loop, not a nested one, sends it
        (a nested one would ask the answer still being made for its next page)."""
        if self._sending:
            return 0
        self._sending, made_pages = True, 0
        try:
            while (pending := self._pending) and not self._paused:
                first = pending[0]
                if isinstance(first, bytes):
                    made: list[bytes] = []
                    while pending and isinstance(first := pending[0], bytes):
                        made.append(first)
                        pending.popleft()
                        self._size -= len(first)
                    self._transport.write_messages(made)
                elif made_pages >= budget:  # the rest in a later turn: others' lines are read and sent meanwhile
                    if not self._waiting_turn:
                        self._waiting_turn = True
                        self._turns.wait(self)
                    break
                else:
                    try:
                        page = next(first, None)
                    except Exception as error:
                        page = None
                        if self._fault is not None:
                            self._fault(error)
                    if page is None:
                        if self._pending and self._pending[0] is first:  # not dropped meanwhile (a goodbye)
                            self._pending.popleft()
                    else:
                        self._transport.write(page)
                        made_pages += len(page)
        finally:
            self._sending = False
        if not self._pending:
            self._pending = NOTHING_HELD  # its memory back once everything has gone
        return made_pages


class AddressCounts(Protocol):
    """Connections per address counted over every process sharing the chat (chatroom.bus.limits, with --redis)."""

    def claim(self, key: str, cap: int) -> Deferred[Callable[[], None] | None]:
        """Count one more connection from `key` unless all processes together already hold `cap`.

        Fires with what takes it off the count again, or None if it is refused. It never fails: when the count
        cannot be asked, the process's own count is the answer, and what it fires with takes nothing off.
        """


class Claim:
    """One connection's place in the count every process shares: asked once, given back once, whenever it answers."""

    def __init__(self, counts: AddressCounts, key: str, cap: int) -> None:
        self.key = key
        self._asked = counts.claim(key, cap)

    def verdict(self) -> Deferred[str | None]:
        """None once admitted, or why it is refused; the connection may stop waiting without losing the answer."""
        view: Deferred[str | None] = Deferred()

        def answered(release: Callable[[], None] | None) -> Callable[[], None] | None:
            view.callback(None if release else f"too many connections from {self.key}")  # ignored once cancelled
            return release

        self._asked.addCallback(answered)
        return view

    def release(self) -> None:
        """The connection has ended: off the count, now or once the answer comes."""
        self._asked.addCallback(lambda release: release and release())


class Admission:
    """Counts connections in total and per address, to refuse the one too many with a reason.

    With `shared` (--redis), a connection this process admits still needs its `claim` on the count per address
    of every process; the total stays this process's own: it protects this process's file descriptors and memory.
    """

    def __init__(self, limits: ConnectionLimits, shared: AddressCounts | None = None) -> None:
        self.limits = limits
        self.shared = shared
        self.total = 0
        self.per_address: Counter[str] = Counter()

    def _exempt(self, host: str | None) -> bool:
        return host is None or (not self.limits.limit_loopback and ip(host).is_loopback)

    def admit(self, host: str | None) -> str | None:
        """Count a new connection from `host` and return None, or return why it is refused."""
        if self.total >= self.limits.max_clients:
            return "server full: too many connections"
        key = None if host is None else address_key(host)
        if key is not None and not self._exempt(host) and self.per_address[key] >= self.limits.max_per_address:
            return f"too many connections from {key}"
        self.total += 1
        if key is not None:
            self.per_address[key] += 1  # loopback too: the exemption can change on SIGHUP, the count must not
        return None

    def claim(self, host: str | None) -> Claim | None:
        """After `admit`: the place of a connection from `host` in the shared count, if there is one and it counts."""
        if self.shared is None or host is None or self._exempt(host):
            return None
        return Claim(self.shared, address_key(host), self.limits.max_per_address)

    def release(self, host: str | None) -> None:
        self.total -= 1
        if host is not None:
            key = address_key(host)
            self.per_address[key] -= 1
            if not self.per_address[key]:
                del self.per_address[key]


def open_files_for(connections: int) -> int:
    """The open files a process needs to hold `connections`: one each, and room for listeners, logs and
    connections being refused."""
    return connections + 100


def allow_open_files(max_clients: int) -> None:
    """Raise the soft limit on open files so that --max-clients, not the kernel, decides who is refused."""
    wanted = open_files_for(max_clients)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return
    allowed = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (allowed, hard))
    if allowed < wanted:
        log.warn(
            "only {allowed} open files are allowed (ulimit -n): fewer than --max-clients connections will fit",
            allowed=allowed,
        )

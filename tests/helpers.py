"""Shared test fixtures: in-memory servers, a real server over TLS, line clients and subprocesses."""

from __future__ import annotations

import codecs
import contextlib
import os
import re
from collections.abc import Callable
from pathlib import Path

from twisted.application.service import MultiService
from twisted.internet import reactor
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.error import ConnectionDone, ProcessDone, ProcessExitedAlready, ProcessTerminated
from twisted.internet.interfaces import IListeningPort, IReactorFromThreads
from twisted.internet.protocol import ProcessProtocol, ServerFactory, connectionDone
from twisted.internet.ssl import Certificate, optionsForClientTLS
from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver, MemoryReactorClock, StringTransport
from twisted.logger import globalLogPublisher
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface import implementer

from chatroom.app import tap
from chatroom.app.service import ChatService
from chatroom.bus.shared import ELSEWHERE  # a member whose session hears nothing
from chatroom.core.chat import Chat
from chatroom.core.errors import ChatError
from chatroom.core.events import Event
from chatroom.core.members import Details, RoomLimits
from chatroom.core.names import nick_key
from chatroom.frontends.line.frontend import LineFrontEnd
from chatroom.server.auth import Authenticator
from chatroom.server.connection import Connection, ConnectionFactory
from chatroom.server.limits import ConnectionLimits
from chatroom.server.lines import LineFraming


def observe_log(test: SynchronousTestCase) -> EventLoggingObserver:
    """Every event logged until the test ends."""
    observer = EventLoggingObserver()
    globalLogPublisher.addObserver(observer)
    test.addCleanup(globalLogPublisher.removeObserver, observer)
    return observer


def port_of(port: IListeningPort) -> int:
    address = port.getHost()
    assert isinstance(address, IPv4Address | IPv6Address)
    return address.port


@implementer(IReactorFromThreads)
class ServiceReactor(MemoryReactorClock):
    """Enough of a reactor to build the service with, and to reload it: calls from threads run at once."""

    def callFromThread(self, callable: Callable[..., object], *args: object, **kwargs: object) -> None:
        callable(*args, **kwargs)


class RecordingSession:
    """A chatroom.core.Session that remembers what it was told."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.closed: str | None = None
        self.refusals: list[str] = []  # the codes of changes refused in their turn (chatroom.bus)

    def deliver(self, event: Event) -> None:
        self.events.append(event)

    def close(self, reason: str, logged: str | None = None) -> None:
        self.closed = reason

    def refused(self, error: ChatError) -> None:
        self.refusals.append(error.code)

    def take(self) -> list[Event]:
        events, self.events = self.events, []
        return events


class MemoryClient:
    """One client's side of an in-memory connection: what it typed and what it was sent."""

    def __init__(self, factory: ServerFactory, host: str = "127.0.0.1", port: int = 40000) -> None:
        """A client of `factory`: a listener's (ConnectionFactory.speaking), or the factory itself."""
        peer = IPv6Address("TCP", host, port) if ":" in host else IPv4Address("TCP", host, port)
        self.transport = StringTransport(peerAddress=peer)
        self.protocol = factory.buildProtocol(self.transport.getPeer())
        self.token = ""  # the resume token the server gave, once it has (RESUME)
        self.protocol.makeConnection(self.transport)

    @property
    def connection(self) -> Connection:
        """The policy under the line framing (a refused client has none)."""
        assert isinstance(self.protocol, LineFraming) and isinstance(self.protocol.receiver, Connection)
        return self.protocol.receiver

    def send(self, data: bytes) -> None:
        self.protocol.dataReceived(data)

    def type(self, *lines: str) -> list[str]:
        """Send lines as a person types them; return what came back."""
        self.send(b"".join(line.encode() + b"\r\n" for line in lines))
        return self.read()

    def read(self, stamps: bool = False) -> list[str]:
        """The lines sent since the last read; without `stamps`, as `unstamped` shows them."""
        received: str = self.transport.value().decode()
        self.transport.clear()
        lines = received.splitlines()
        self.token = next((line.split()[1] for line in lines if line.startswith("RESUME ")), self.token)
        return lines if stamps else [unstamped(line) for line in lines if not line.startswith("RESUME ")]

    def lose(self) -> None:
        """The connection ends, as the reactor would report it."""
        self.protocol.connectionLost(Failure(ConnectionDone()))


class MemoryServer:
    """A chat server on in-memory transports and a fake clock."""

    def __init__(
        self,
        limits: ConnectionLimits = ConnectionLimits(),
        rooms: RoomLimits = RoomLimits(),
        motd: str = "",
        auth: Authenticator | None = None,
    ) -> None:
        self.clock = Clock()
        chat = Chat(rooms, accounts=auth.store if auth else None, now=self.clock.seconds, clock=self.clock)
        self.factory = ConnectionFactory(chat, self.clock, LineFrontEnd, limits, motd, auth)
        self.chat = self.factory.chat
        self.connections: list[MemoryClient] = []

    def connect(self, nick: str | None = None, room: str | None = None, host: str = "127.0.0.1") -> MemoryClient:
        """A client, registered and in a room if asked; everyone's output starts afresh after it arrives."""
        connection = MemoryClient(self.factory, host, 40000 + len(self.connections))
        self.connections.append(connection)
        if nick:
            connection.type(f"/nick {nick}")
        if room:
            connection.type(f"/join {room}")
        for each in self.connections:
            each.read()
        return connection

    def crowd(self, room: str, count: int) -> None:
        """`count` visible members of `room` connected elsewhere (sessions that hear nothing): a big room, cheaply."""
        for number in range(count):
            nick = f"crowd-member-{number:07d}"
            member = self.chat.register(ELSEWHERE, nick, None, "127.0.0.1", Details(invisible=False))
            self.chat.join(member, room)


def assert_consistent(test: TestCase | SynchronousTestCase, factory: ConnectionFactory) -> None:
    """The chat holds exactly the members of the open connections, and those waiting for a reconnection (whose
    sessions are all gone): no ghost, no squatter, no lost slot."""
    chat = factory.chat
    members = {connection.member for connection in factory.connections if connection.member is not None}
    members |= {member for member in chat.nicks.values() if not member.sessions and member.expiry is not None}
    test.assertEqual(set(chat.nicks.values()), members, "every nickname belongs to a live connection's member")
    for key, member in chat.nicks.items():
        test.assertTrue(member.present)
        sessions = {connection for connection in factory.connections if connection.member is member}
        test.assertEqual(set(member.sessions), sessions, "a person's sessions are its open connections")
        test.assertEqual(key, nick_key(member.nick))
    for key, room in chat.rooms.items():
        test.assertTrue(room.members or room.owner, f"{room.name} is empty, unregistered, but still listed")
        for member in room.members:
            test.assertIn(member, members, f"a ghost is in {room.name}")
            test.assertIs(member.rooms[key], room)
    test.assertEqual(factory.admission.total, len(factory.connections), "admission counts the open connections")


_STAMPED = re.compile(r"^(MSG|ACTION) (\S+) (\S+) \S+ \S+ :")


def unstamped(line: str) -> str:
    """A room message as a person reads it, without the id and time a program reads (MSG ROOM NICK :TEXT).

    Most tests check who said what, in which order; the history tests read the stamps themselves. The
    secret token of RESUME, after WELCOME, is random as the stamps are: without stamps, it is not shown at all.
    """
    return _STAMPED.sub(r"\1 \2 \3 :", line, count=1)


class LineClient(LineReceiver):
    """A test client that reads the server's lines in order, waiting on Deferreds, never sleeping.

    Room messages are read without their ids and times, and RESUME not at all (see `unstamped`), unless
    `stamps` is set.
    """

    delimiter = b"\n"

    def __init__(self, stamps: bool = False) -> None:
        self.stamps = stamps
        self.token = ""  # the resume token the server gave, once it has (RESUME)
        self.lines: list[str] = []
        self._read = 0
        self._waiting: Deferred[str] | None = None
        self.awaiting: str | None = None  # the prefix `until` waits for: said if the test ends meanwhile
        self.lost: Deferred[None] = Deferred()

    def lineReceived(self, line: bytes) -> None:
        text = line.decode("utf-8")
        if text.startswith("RESUME ") and not self.stamps:
            self.token = text.split()[1]
            return
        self.lines.append(text)
        if self._waiting is not None:
            waiting, self._waiting = self._waiting, None
            waiting.callback(self._take())

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.lost.callback(None)

    def send(self, *lines: str) -> None:
        for line in lines:
            self.sendLine(line.encode("utf-8"))

    def _take(self) -> str:
        line = self.lines[self._read]
        self._read += 1
        return line if self.stamps else unstamped(line)

    def next_line(self) -> Deferred[str]:
        """The next line not yet read."""
        if self._read < len(self.lines):
            return succeed(self._take())
        self._waiting = Deferred()
        return self._waiting

    async def until(self, prefix: str) -> tuple[str, list[str]]:
        """Read up to the first line starting with `prefix`: that line, and those skipped to reach it."""
        skipped: list[str] = []
        self.awaiting = prefix
        while True:
            line = await self.next_line()
            if line.startswith(prefix):
                self.awaiting = None
                return line, skipped
            skipped.append(line)

    async def expect(self, *lines: str) -> None:
        """The next lines are exactly these."""
        got = [await self.next_line() for _ in lines]
        if got != list(lines):
            raise AssertionError(f"expected {list(lines)!r}, got {got!r}")


class Subprocess(ProcessProtocol):
    """A child process whose output we wait on, pattern by pattern, never sleeping."""

    def __init__(self) -> None:
        self.output = ""
        self._decoders: dict[int, codecs.IncrementalDecoder] = {}  # per stream: a character may span two reads
        self._read = 0  # how far `until` has consumed the output
        self._waiting: tuple[re.Pattern[str], Deferred[re.Match[str]]] | None = None
        self.ended: Deferred[ProcessDone | ProcessTerminated] = Deferred()

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        self.output += self._decoders.setdefault(childFD, codecs.getincrementaldecoder("utf-8")("replace")).decode(data)
        if self._waiting is not None:
            pattern, waiting = self._waiting
            match = pattern.search(self.output, self._read)
            if match:
                self._waiting = None
                self._read = match.end()
                waiting.callback(match)

    def processEnded(self, reason: Failure) -> None:
        if self._waiting is not None:
            pattern, waiting = self._waiting
            self._waiting = None
            waiting.errback(AssertionError(f"ended before printing {pattern.pattern!r}; it printed:\n{self.output}"))
        assert isinstance(reason.value, ProcessDone | ProcessTerminated)
        self.ended.callback(reason.value)

    def until(self, pattern: str) -> Deferred[re.Match[str]]:
        """The first match of `pattern` in output not yet consumed, once it is printed."""
        compiled = re.compile(pattern)
        match = compiled.search(self.output, self._read)
        if match:
            self._read = match.end()
            return succeed(match)
        if self.ended.called:
            raise AssertionError(f"ended without printing {pattern!r}; it printed:\n{self.output}")
        self._waiting = (compiled, Deferred())
        return self._waiting[1]

    def waiting(self) -> str | None:
        """The pattern `until` waits for, if any."""
        return None if self._waiting is None else self._waiting[0].pattern

    def type(self, text: str) -> None:
        self.transport.write(text.encode("utf-8"))

    async def exit_code(self) -> int | None:
        return (await self.ended).exitCode


LOOPBACK = "tcp:0:interface=127.0.0.1"


# Seconds before trial gives up on a test that waits for real sockets or processes. It ends a hung test; it measures
# nothing: on a loaded 2-core machine a real twistd, redis-server or TLS handshake can take many times as long as alone.
GENEROUS = 300


class ServerTestCase(TestCase):
    """Runs the real service built by chatroom.app.tap over TLS on a free loopback port."""

    timeout = GENEROUS

    def start_server(self, *arguments: str, listen: str = LOOPBACK, ready: Deferred[None] | None = None) -> ChatService:
        """The service on `listen` (a free port unless given), with its certificates in self.certs.

        Given `ready`, the service accepts connections once it fires, as it does once a shared chat is ready.
        """
        if not hasattr(self, "certs"):
            self.certs = Path(self.mktemp())
        options = tap.Options()
        web = [] if {"--web", "--web-plaintext"} & set(arguments) else ["--no-web"]  # not the default port 8443
        options.parseOptions(
            ["--certs", str(self.certs), "--listen", listen, "--irc", LOOPBACK, "--hostname", "irc.test", *web,
             *arguments]
        )  # fmt: skip
        made = tap.makeService(options, reactor)
        # With --history, the history file's writer is beneath the chat, in a MultiService
        parts = list(made) if isinstance(made, MultiService) else [made]
        (service,) = [each for each in parts if isinstance(each, ChatService)]
        assert isinstance(service, ChatService)
        service.ready = ready
        made.startService()
        self.addCleanup(lambda: made.stopService() if made.running else None)
        self.service = service
        self.served = made  # the whole: the chat, and what it stands on
        self.port = port_of(service.ports[0])
        self.irc_port = port_of(service.ports[1])
        return service

    async def connect_raw(self, source: str | None = None) -> LineClient:
        """A TLS client that checks the server's certificate against the generated CA, as users do.

        From `source` when given (another loopback address, 127.0.0.2, to count as another client).
        """
        trust = Certificate.loadPEM((self.certs / "ca.pem").read_bytes())
        endpoint = wrapClientTLS(
            optionsForClientTLS("localhost", trustRoot=trust),
            TCP4ClientEndpoint(reactor, "127.0.0.1", self.port, bindAddress=(source, 0) if source else None),
        )
        client: LineClient = await connectProtocol(endpoint, LineClient())
        self.addCleanup(self._disconnect, client)
        return client

    async def connect(self, nick: str | None = None, room: str | None = None) -> LineClient:
        """A client past the greeting, registered as `nick` and in `room` when given."""
        client = await self.connect_raw()
        await client.until("HELLO ")
        if nick is not None:
            client.send(f"/nick {nick}")
        if room is not None:
            client.send(f"/join {room}")
        client.send("/ping ready")
        await client.until("PONG :ready")  # everything registration produced has been read
        return client

    def spawn(self, arguments: list[str], terminal: bool = False, **environment: str) -> Subprocess:
        """Run a program, on a pseudo-terminal if asked; it is killed at the end of the test if still running."""
        process = Subprocess()
        transport = reactor.spawnProcess(
            process,
            arguments[0],
            arguments,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **environment},
            usePTY=terminal,
        )

        async def stop() -> None:
            waiting = process.waiting()
            if not process.ended.called:
                with contextlib.suppress(ProcessExitedAlready):
                    transport.signalProcess("KILL")
            await process.ended
            if waiting is not None:  # a test that timed out: what it waited for, and what the process printed
                raise AssertionError(
                    f"{arguments[0]} never printed {waiting!r}; the end of what it printed:\n{process.output[-3000:]}"
                )

        self.addCleanup(stop)
        return process

    @staticmethod
    async def _disconnect(client: LineClient) -> None:
        open_still = not client.lost.called
        if open_still:
            client.transport.loseConnection()
        await client.lost
        if open_still and client.awaiting is not None:  # a test that timed out: what it waited for, what it got
            last = "\n".join(client.lines[-20:])
            raise AssertionError(f"no line starting {client.awaiting!r} came; the last lines:\n{last}")

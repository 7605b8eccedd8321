"""Shared test fixtures: an in-memory session, a real server over TLS, and line clients for it."""

from __future__ import annotations

from pathlib import Path

from twisted.internet import reactor
from twisted.internet.defer import Deferred, succeed
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.protocol import connectionDone
from twisted.internet.ssl import Certificate, optionsForClientTLS
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

from chatroom import tap
from chatroom.core import Event
from chatroom.service import ChatService


class RecordingSession:
    """A chatroom.core.Session that remembers what it was told."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.closed: str | None = None

    def deliver(self, event: Event) -> None:
        self.events.append(event)

    def close(self, reason: str) -> None:
        self.closed = reason

    def take(self) -> list[Event]:
        events, self.events = self.events, []
        return events


class LineClient(LineReceiver):
    """A test client that reads the server's lines in order, waiting on Deferreds, never sleeping."""

    delimiter = b"\n"

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._read = 0
        self._waiting: Deferred[str] | None = None
        self.lost: Deferred[None] = Deferred()

    def lineReceived(self, line: bytes) -> None:
        self.lines.append(line.decode("utf-8"))
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
        return line

    def next_line(self) -> Deferred[str]:
        """The next line not yet read."""
        if self._read < len(self.lines):
            return succeed(self._take())
        self._waiting = Deferred()
        return self._waiting

    async def until(self, prefix: str) -> tuple[str, list[str]]:
        """Read up to the first line starting with `prefix`: that line, and those skipped to reach it."""
        skipped = []
        while True:
            line = await self.next_line()
            if line.startswith(prefix):
                return line, skipped
            skipped.append(line)

    async def expect(self, *lines: str) -> None:
        """The next lines are exactly these."""
        got = [await self.next_line() for _ in lines]
        if got != list(lines):
            raise AssertionError(f"expected {list(lines)!r}, got {got!r}")


class ServerTestCase(TestCase):
    """Runs the real service built by chatroom.tap over TLS on a free loopback port."""

    timeout = 20

    def start_server(self, *arguments: str) -> ChatService:
        self.certs = Path(self.mktemp())
        options = tap.Options()
        options.parseOptions(["--certs", str(self.certs), "--listen", "tcp:0:interface=127.0.0.1", *arguments])
        service = tap.makeService(options, reactor)
        assert isinstance(service, ChatService)
        service.startService()
        self.addCleanup(lambda: service.stopService() if service.running else None)
        self.service = service
        self.port = service.ports[0].getHost().port
        return service

    async def connect(self, nick: str | None = None, room: str | None = None) -> LineClient:
        """A TLS client that checks the server's certificate against the generated CA, as users do."""
        trust = Certificate.loadPEM((self.certs / "ca.pem").read_bytes())
        endpoint = wrapClientTLS(
            optionsForClientTLS("localhost", trustRoot=trust),
            TCP4ClientEndpoint(reactor, "127.0.0.1", self.port),
        )
        client = await connectProtocol(endpoint, LineClient())
        self.addCleanup(self._disconnect, client)
        await client.until("HELLO ")
        if nick is not None:
            client.send(f"/nick {nick}")
        if room is not None:
            client.send(f"/join {room}")
        client.send("/ping ready")
        await client.until("PONG :ready")  # everything registration produced has been read
        return client

    @staticmethod
    async def _disconnect(client: LineClient) -> None:
        if not client.lost.called:
            client.transport.loseConnection()
        await client.lost

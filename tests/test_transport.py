"""The TCP transport that sends at once (chatroom.server.transport), over real loopback sockets."""

from __future__ import annotations

import socket
import ssl
import struct
from pathlib import Path

from twisted.internet import reactor, tcp
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ConnectionLost
from twisted.internet.interfaces import IPullProducer, IPushProducer
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.internet.ssl import PrivateCertificate
from twisted.internet.threads import deferToThread
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase
from zope.interface import implementer

from chatroom.server import tls
from chatroom.server.tls_transport import Flushes, TLSFactory
from chatroom.server.transport import SendingReactor, SendingServer


def sending(protocol: Protocol) -> SendingServer:
    """The server side's transport, as the type it is."""
    assert isinstance(protocol.transport, SendingServer), protocol.transport
    return protocol.transport


class Accepted(Protocol):
    """The server's side of a test connection."""

    def __init__(self, made: Deferred[Accepted]) -> None:
        self.made = made
        self.lost: Deferred[None] = Deferred()
        self.reason: Failure | None = None

    def connectionMade(self) -> None:
        self.made.callback(self)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.reason = reason
        self.lost.callback(None)


class Collector(Protocol):
    """A client that collects `expected` bytes."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.received = bytearray()
        self.done: Deferred[bytes] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        if len(self.received) >= self.expected and not self.done.called:
            self.done.callback(bytes(self.received))


@implementer(IPushProducer)
class Producer:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def pauseProducing(self) -> None:
        self.calls.append("pause")

    def resumeProducing(self) -> None:
        self.calls.append("resume")

    def stopProducing(self) -> None:
        self.calls.append("stop")


class SendingServerTests(TestCase):
    async def serve(self) -> tuple[int, Deferred[Accepted]]:
        """Listen on loopback through SendingReactor; the port, and the first connection once accepted."""
        made: Deferred[Accepted] = Deferred()
        port = SendingReactor(reactor).listenTCP(0, Factory.forProtocol(lambda: Accepted(made)), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        return port.getHost().port, made

    async def plain_client(self) -> tuple[socket.socket, Accepted]:
        """A blocking socket connected to a new listener, closed at the end; and the server's side of it."""
        number, made = await self.serve()
        client = socket.create_connection(("127.0.0.1", number))
        self.addCleanup(client.close)
        return client, await made

    def close_at_end(self, server: Accepted) -> None:
        def close() -> Deferred[None]:
            sending(server).abortConnection()
            return server.lost

        self.addCleanup(close)

    async def test_a_write_to_an_idle_connection_leaves_at_once(self) -> None:
        """Without a reactor turn: Twisted's own transport would only watch the socket for writability here."""
        client, server = await self.plain_client()
        self.close_at_end(server)
        sending(server).write(b"hello\n")
        sending(server).writeSequence([b"how ", b"are you\n"])
        client.setblocking(False)  # on loopback a send lands in the peer's buffer before it returns
        self.assertEqual(client.recv(100), b"hello\nhow are you\n")

    async def test_what_the_kernel_does_not_take_waits_in_order_and_pauses_the_producer(self) -> None:
        number, made = await self.serve()
        chunks = [struct.pack("!I", n) * 250 for n in range(4000)]  # 4 MB, far more than the socket buffers hold
        expected = b"".join(chunks)
        collector = Collector(len(expected))
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", number), collector)
        client = collector.transport
        assert isinstance(client, tcp.Client)
        client.pauseProducing()  # the client reads nothing yet
        server = await made
        self.close_at_end(server)
        # Fixed socket buffers: with the kernel's autotuning (tcp_rmem's ceiling is 32 MB here) they could take all
        # 4 MB at once, and did on a loaded machine, so nothing was left to queue.
        client.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sending(server).socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        producer = Producer()
        sending(server).registerProducer(producer, True)
        for chunk in chunks:
            sending(server).write(chunk)
        self.assertEqual(producer.calls[:1], ["pause"])  # past 64 KiB queued, as with Twisted's transport
        client.resumeProducing()
        self.assertEqual(await collector.done, expected)
        self.assertEqual(producer.calls[-1], "resume")

    async def test_a_write_to_a_reset_connection_ends_it_without_raising(self) -> None:
        number, made = await self.serve()
        client = socket.create_connection(("127.0.0.1", number))
        server = await made
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()  # with a zero linger time: a reset
        for _ in range(3):
            sending(server).write(b"anyone there?\n")
        await server.lost
        self.assertFalse(sending(server).connected)
        assert server.reason is not None
        # Not ConnectionDone: the send took the reset's error from the socket, and the read that followed saw
        # only an end of file (found in review).
        self.assertTrue(server.reason.check(ConnectionLost), server.reason)

    async def test_nothing_written_after_an_abort_leaves(self) -> None:
        """Found in review: until the reactor reported the abort, a write still went out."""
        client, server = await self.plain_client()
        sending(server).abortConnection()
        sending(server).write(b"written after the abort\n")
        client.setblocking(False)
        self.assertRaises(BlockingIOError, client.recv, 100)
        await server.lost

    async def test_a_pull_producer_is_asked_for_more(self) -> None:
        """Found in review: a direct send left doWrite, which resumes a pull producer, nothing to do."""
        number, made = await self.serve()
        collector = Collector(200_000)
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", number), collector)
        server = await made
        self.close_at_end(server)
        transport = sending(server)
        chunks = [bytes([n]) * 1000 for n in range(200)]

        @implementer(IPullProducer)
        class Chunks:
            def resumeProducing(self) -> None:
                if chunks:
                    transport.write(chunks.pop(0))
                else:
                    transport.unregisterProducer()

            def stopProducing(self) -> None:
                pass

        expected = b"".join(chunks)
        transport.registerProducer(Chunks(), False)
        self.assertEqual(await collector.done, expected)

    async def test_writes_after_start_tls_are_encrypted(self) -> None:
        """Found in review: the direct send skipped the write that startTLS puts in front, leaking plaintext."""
        certs = Path(self.mktemp())
        tls.create(certs, "localhost")
        client, server = await self.plain_client()
        self.close_at_end(server)
        pem = (certs / "server.crt").read_bytes() + (certs / "server.key").read_bytes()
        sending(server).startTLS(PrivateCertificate.loadPEM(pem).options())  # Twisted's own TLS, over TCP
        sending(server).write(b"a secret\n")
        client.setblocking(False)
        try:
            received = client.recv(100)
        except BlockingIOError:
            received = b""
        self.assertNotIn(b"a secret", received)

    async def test_what_is_not_bytes_is_refused_before_anything_is_sent(self) -> None:
        client, server = await self.plain_client()
        self.close_at_end(server)
        self.assertRaises(TypeError, sending(server).write, bytearray(b"half of it\n"))
        client.setblocking(False)
        self.assertRaises(BlockingIOError, client.recv, 100)


class Cut(Protocol):
    """A server protocol that aborts its connection at the first bytes it receives."""

    def dataReceived(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.abortConnection()  # type: ignore[attr-defined]


def how_it_ends(port: int, ca: Path) -> str:
    """A blocking client with the standard library's ssl (run in a thread): says hello and reads to the end.

    It tells what Twisted's own TLS client hides behind the reset that follows: whether a close_notify came first.
    """
    context = ssl.create_default_context(cafile=str(ca))
    raw = socket.create_connection(("127.0.0.1", port))
    with context.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False) as tls_socket:
        tls_socket.sendall(b"hello\n")
        try:
            while tls_socket.recv(100):
                pass
        except (ssl.SSLEOFError, ConnectionResetError):
            return "cut"
        return "close_notify"


class AbortedTLSTests(TestCase):
    async def test_an_aborted_tls_connection_is_cut_not_closed(self) -> None:
        """Found in review: TLS writes its close_notify before aborting TCP, and a direct send delivered it, so
        a client cut off (a send queue overflow) saw an orderly end."""
        certs = Path(self.mktemp())
        tls.create(certs, "localhost")
        factory = TLSFactory(tls.SwappableContext(tls.load(certs)), Factory.forProtocol(Cut), Flushes(reactor))
        port = SendingReactor(reactor).listenTCP(0, factory, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        ending = await deferToThread(how_it_ends, port.getHost().port, certs / "ca.pem")
        self.assertEqual(ending, "cut")

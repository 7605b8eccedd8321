"""The server's TLS connection (chatroom.server.tls_transport), driven in memory against a client made of `ssl`."""

from __future__ import annotations

import ssl
from pathlib import Path

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.interfaces import IHandshakeListener, IProtocolFactory, IProtocolNegotiationFactory, IPushProducer
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource
from twisted.web.static import Data
from zope.interface import implementer

from chatroom.frontends.web.site import WebSite
from chatroom.server import tls
from chatroom.server.heap import QUIET, HeapTrim
from chatroom.server.limits import CLOSE_GRACE, Deadlines
from chatroom.server.tls_transport import Flushes, TLSConnection, TLSFactory


@implementer(IHandshakeListener)
class Heard(Protocol):
    def __init__(self) -> None:
        self.received = b""
        self.handshaken = False
        self.lost: Failure | None = None

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def handshakeCompleted(self) -> None:
        self.handshaken = True

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.lost = reason


@implementer(IProtocolNegotiationFactory)
class SpeakingHTTP(Factory[Heard]):
    protocol = Heard

    def acceptableProtocols(self) -> list[bytes]:
        return [b"http/1.1"]


class CountedWrites(StringTransport):
    """The TCP transport, counting the writes TLS makes to it, and pausing its producer past 64 KiB as Twisted's."""

    writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1
        StringTransport.write(self, data)
        if self.producer is not None and len(self.value()) > 65536:
            self.producer.pauseProducing()

    def setTcpNoDelay(self, enabled: bool) -> None:
        """twisted.web's channel asks for it."""


@implementer(IPushProducer)
class Producer:
    """Writes 64 KiB at a time to `transport` until paused, as twisted.web's producer of a large file would."""

    def __init__(self, transport: TLSConnection | None = None) -> None:
        self.transport = transport
        self.paused = self.stopped = False
        self.written = 0

    def run(self, most: int) -> None:
        while self.transport is not None and not self.paused and self.written < most:
            self.transport.write(b"x" * 65536)
            self.written += 1

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False

    def stopProducing(self) -> None:
        self.stopped = True


class Pair:
    """A server TLSConnection over a string transport, and a client of the standard library's `ssl` facing it."""

    def __init__(
        self,
        certs: Path,
        clock: Clock,
        flushes: Flushes,
        factory: IProtocolFactory,
        offered: list[str] | None,
        heap: HeapTrim | None = None,
    ) -> None:
        self.clock = clock
        self.tcp = CountedWrites(hostAddress=IPv4Address("TCP", "127.0.0.1", 6697))
        front = TLSFactory(tls.SwappableContext(tls.load(certs)), factory, flushes, heap)
        server = front.buildProtocol(IPv4Address("TCP", "127.0.0.1", 50000))
        assert isinstance(server, TLSConnection)
        self.server = server
        self.server.makeConnection(self.tcp)
        self.wrapped = self.server.wrappedProtocol
        context = ssl.create_default_context(cafile=certs / tls.CA_CERT)
        if offered:
            context.set_alpn_protocols(offered)
        self.to_client, self.from_client = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.client = context.wrap_bio(self.to_client, self.from_client, server_hostname="localhost")
        self.closed = False  # the client has read the server's close_notify

    @property
    def heard(self) -> Heard:
        assert isinstance(self.wrapped, Heard)
        return self.wrapped

    def pump(self) -> None:
        """Carry bytes both ways, ending each reactor turn, until nothing moves."""
        while True:
            sent = self.from_client.read()
            if sent:
                self.server.dataReceived(sent)
            self.clock.advance(0)
            written = self.tcp.value()
            self.tcp.clear()
            if written:
                self.to_client.write(written)
            if not (sent or written):
                return

    def handshake(self) -> None:
        while True:
            try:
                self.client.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.pump()
        self.pump()

    def client_answers_the_close(self) -> None:
        """The client sends its close_notify back, and the server reads it."""
        self.client.unwrap()
        self.pump()

    def client_reads(self) -> bytes:
        self.pump()
        received = b""
        while True:
            try:
                data = self.client.read(65536)
            except ssl.SSLWantReadError:
                return received
            if not data:  # the server's close_notify
                self.closed = True
                return received
            received += data


class TLSConnectionTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.certs = Path(self.mktemp())
        tls.create(self.certs, "localhost")
        self.clock = Clock()
        self.flushes = Flushes(self.clock)  # shared, as a listener's connections share it

    def pair(
        self, factory: IProtocolFactory | None = None, offered: list[str] | None = None, heap: HeapTrim | None = None
    ) -> Pair:
        return Pair(self.certs, self.clock, self.flushes, factory or Factory.forProtocol(Heard), offered, heap)

    def test_the_heap_is_trimmed_once_handshakes_and_departures_pause(self) -> None:
        """What a storm of handshakes freed is given back to the system (chatroom.server.heap), once it is over."""
        trims: list[float] = []
        heap = HeapTrim(self.clock, lambda: trims.append(self.clock.seconds()))
        pairs = [self.pair(heap=heap) for _ in range(3)]
        for pair in pairs:
            pair.handshake()
            self.clock.advance(0.5)
        self.assertEqual(trims, [], "not while connections arrive")
        self.clock.advance(QUIET)
        self.assertEqual(len(trims), 1)
        pairs[0].server.connectionLost(Failure(ConnectionDone()))
        self.clock.advance(QUIET)
        self.assertEqual(len(trims), 2, "a departure too")

    def test_the_key_is_read_as_a_listener_starts_and_at_a_reload_never_as_a_connection_arrives(self) -> None:
        """Found in this change's last read: contexts made at a listener's first connection read the key then,
        after twistd has given up the privileges that reading it may need."""
        contexts = tls.SwappableContext(tls.load(self.certs))
        front = TLSFactory(contexts, SpeakingHTTP(), self.flushes)
        key = self.certs / tls.SERVER_KEY
        kept = key.read_bytes()
        key.unlink()
        self.assertIsInstance(front.buildProtocol(IPv4Address("TCP", "127.0.0.1", 50000)), TLSConnection)
        key.write_bytes(kept)
        contexts.replace(tls.load(self.certs))
        key.unlink()
        self.assertIsInstance(front.buildProtocol(IPv4Address("TCP", "127.0.0.1", 50001)), TLSConnection)

    def test_lines_both_ways(self) -> None:
        pair = self.pair()
        pair.handshake()
        self.assertTrue(pair.heard.handshaken)
        self.assertFalse(pair.server.handshaking)
        pair.client.write(b"hello\n")
        pair.client.write(b"again\n")
        pair.pump()
        self.assertEqual(pair.heard.received, b"hello\nagain\n")
        pair.server.write(b"welcome\n")
        self.assertEqual(pair.client_reads(), b"welcome\n")

    def test_a_turns_writes_leave_at_its_end_in_one_write_each_from_one_reactor_call(self) -> None:
        """A broadcast to N members costs one reactor call, and each member one record and one send."""
        pairs = [self.pair(), self.pair()]
        for pair in pairs:
            pair.handshake()
        writes = [pair.tcp.writes for pair in pairs]
        for pair in pairs:
            for line in (b"a\n", b"b\n", b"c\n"):
                pair.server.write(line)
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        self.assertEqual([pair.tcp.value() for pair in pairs], [b"", b""], "nothing before the turn ends")
        self.clock.advance(0)
        self.assertEqual([pair.tcp.writes - before for pair, before in zip(pairs, writes, strict=True)], [1, 1])
        self.assertEqual([pair.client_reads() for pair in pairs], [b"a\nb\nc\n"] * 2)

    def test_what_is_written_before_the_handshake_finishes_follows_it(self) -> None:
        pair = self.pair()
        pair.server.write(b"early\n")
        self.assertEqual(self.clock.getDelayedCalls(), [])
        pair.handshake()
        self.assertEqual(pair.client_reads(), b"early\n")

    def test_closing_sends_what_was_written_and_a_close_notify_then_closes_once_answered(self) -> None:
        pair = self.pair()
        pair.handshake()
        pair.server.write(b"goodbye\n")
        pair.server.loseConnection()
        pair.server.write(b"dropped\n")  # after loseConnection, as Twisted's transports do
        self.assertEqual(pair.client_reads(), b"goodbye\n")
        self.assertTrue(pair.closed)
        self.assertFalse(pair.tcp.disconnecting, "waits for the peer's close_notify")
        pair.client_answers_the_close()
        self.assertTrue(pair.tcp.disconnecting)
        pair.server.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(self.clock.getDelayedCalls(), [], "no cut left waiting")

    def test_a_peer_that_never_answers_the_close_notify_is_cut_off(self) -> None:
        """It held the connection, and its place under the caps, for good (a web page answered with `Connection:
        close`, a refused WebSocket upgrade: the paths that do not close through chatroom.server.limits)."""
        pair = self.pair()
        pair.handshake()
        pair.server.loseConnection()
        self.assertEqual(pair.client_reads(), b"")
        self.assertTrue(pair.closed)
        self.clock.advance(CLOSE_GRACE - 0.1)
        self.assertFalse(pair.tcp.disconnecting, "waits for the peer's close_notify")
        self.clock.advance(0.1)
        self.assertTrue(pair.tcp.disconnected, "cut")
        pair.server.connectionLost(Failure(ConnectionLost()))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_closing_waits_for_a_registered_producer(self) -> None:
        """The connection layer unregisters its producer to close (chatroom.server.lines): then the close_notify."""
        pair = self.pair()
        pair.handshake()
        pair.server.registerProducer(Producer(), True)
        pair.server.write(b"last\n")
        pair.server.loseConnection()
        self.assertEqual(pair.client_reads(), b"last\n")
        self.assertFalse(pair.closed)
        pair.server.unregisterProducer()
        self.assertEqual(pair.client_reads(), b"")
        self.assertTrue(pair.closed)

    def test_the_peers_close_notify_is_answered_and_tcp_closed(self) -> None:
        pair = self.pair()
        pair.handshake()
        with self.assertRaises(ssl.SSLWantReadError):
            pair.client.unwrap()
        pair.pump()
        pair.client.unwrap()  # the server's close_notify came back
        self.assertTrue(pair.tcp.disconnecting)

    def test_an_abort_is_a_cut_without_a_close_notify(self) -> None:
        pair = self.pair()
        pair.handshake()
        pair.server.abortConnection()
        self.assertTrue(pair.tcp.disconnected)
        self.assertEqual(pair.tcp.value(), b"")

    def test_closing_before_the_handshake_is_a_cut(self) -> None:
        pair = self.pair()
        pair.server.loseConnection()
        self.assertTrue(pair.tcp.disconnected)

    def test_a_failed_handshake_is_lost_as_the_tls_error_it_was(self) -> None:
        """chatroom.server.connection counts TLS failures by the reason's type."""
        pair = self.pair()
        pair.server.dataReceived(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        self.assertTrue(pair.tcp.disconnecting)
        pair.server.connectionLost(Failure(ConnectionDone()))
        assert pair.heard.lost is not None
        self.assertTrue(pair.heard.lost.check(ssl.SSLError))
        self.assertFalse(pair.heard.handshaken)

    def test_alpn_chooses_the_listeners_protocol_and_no_overlap_is_no_protocol(self) -> None:
        """Twisted's ALPN callback made no overlap a fatal alert; browsers offer ALPN on every port."""
        web = self.pair(SpeakingHTTP(), offered=["h2", "http/1.1"])
        web.handshake()
        self.assertEqual(web.server.negotiatedProtocol, b"http/1.1")
        self.assertEqual(web.client.selected_alpn_protocol(), "http/1.1")
        irc = self.pair(offered=["h2", "http/1.1"])
        irc.handshake()
        self.assertIsNone(irc.server.negotiatedProtocol)
        other = self.pair(SpeakingHTTP(), offered=["irc"])
        other.handshake()
        self.assertIsNone(other.server.negotiatedProtocol)

    def test_a_lost_connection_writes_nothing_more(self) -> None:
        pair = self.pair()
        pair.handshake()
        pair.server.write(b"never\n")
        pair.server.connectionLost(Failure(ConnectionDone()))
        self.clock.advance(0)
        self.assertEqual(pair.tcp.value(), b"")

    def test_tcp_ended_before_tls_is_a_lost_connection_not_a_clean_close(self) -> None:
        """Found in review: TCP closed without a close_notify, after the handshake or during it, read as a clean
        close (ConnectionDone), where Twisted's TLS said ConnectionLost: a cut stream looked finished."""
        for handshaken in (True, False):
            pair = self.pair()
            if handshaken:
                pair.handshake()
            else:
                with self.assertRaises(ssl.SSLWantReadError):
                    pair.client.do_handshake()
                pair.pump()
            pair.server.connectionLost(Failure(ConnectionDone()))
            assert pair.heard.lost is not None
            self.assertTrue(pair.heard.lost.check(ConnectionLost), pair.heard.lost)
        closed = self.pair()  # a close both sides finished is clean
        closed.handshake()
        closed.server.loseConnection()
        closed.client_reads()
        closed.client_answers_the_close()
        closed.server.connectionLost(Failure(ConnectionDone()))
        assert closed.heard.lost is not None
        self.assertTrue(closed.heard.lost.check(ConnectionDone))

    def test_a_producer_is_paused_once_a_turns_writes_fill_the_tcp_buffer(self) -> None:
        """Found in review: a turn's writes waited for its end, so TCP never saw them in time to pause a producer
        (twisted.web's, of a large file, writes for up to 10 ms a tick): everything it made was held at once."""
        pair = self.pair()
        pair.handshake()
        producer = Producer(pair.server)
        pair.server.registerProducer(producer, True)
        producer.run(most=200)  # 12.5 MiB if nothing paused it
        self.assertTrue(producer.paused)
        self.assertLessEqual(producer.written, 2)

    def test_nothing_is_written_after_our_close_notify(self) -> None:
        """Found in review: a producer registered after the close_notify, and its write, made TLS fail (counted as a
        TLS failure) and cut TCP without waiting for the peer's close_notify."""
        pair = self.pair()
        pair.handshake()
        pair.server.loseConnection()
        late = Producer()
        pair.server.registerProducer(late, True)
        self.assertTrue(late.stopped)
        pair.server.write(b"late\n")
        self.assertEqual(pair.client_reads(), b"")
        self.assertTrue(pair.closed)
        self.assertFalse(pair.tcp.disconnecting, "still waits for the peer's close_notify")
        pair.client_answers_the_close()
        self.assertTrue(pair.tcp.disconnecting)
        pair.server.connectionLost(Failure(ConnectionDone()))
        assert pair.heard.lost is not None
        self.assertTrue(pair.heard.lost.check(ConnectionDone))

    def test_a_refused_request_body_gets_its_answer_and_a_close_notify(self) -> None:
        """Found in review (before this TLS too): the web site's 413 closed its transport while the HTTP channel was
        still its producer, so no close_notify went and TCP stayed open until the idle timeout."""
        root = Resource()
        root.putChild(b"", Data(b"hello", "text/plain"))
        site = WebSite(root, hsts=None, timeout=30.0, deadlines=Deadlines(self.clock))  # the channel's idle timeout
        pair = self.pair(site)
        pair.handshake()
        pair.client.write(b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 1000)
        self.assertTrue(pair.client_reads().startswith(b"HTTP/1.1 413"))
        self.assertTrue(pair.closed, "a close_notify came")

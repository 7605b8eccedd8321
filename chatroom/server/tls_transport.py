"""TLS for server connections, its records made by the standard library's `ssl`, written once a reactor turn.

Twisted's TLS (twisted.protocols.tls) goes through pyOpenSSL, whose wrappers cost more per record than OpenSSL
itself: a 96-byte line made into a record and read out of the memory BIO took 9.2 µs through pyOpenSSL and 3.0 µs
through `ssl.SSLObject` (docs/performance.md, issue 30). Here an `SSLObject` over two `MemoryBIO`s sits between
the TCP transport and the protocol, as Twisted's does, and what a connection is given to write in one reactor turn
leaves at the turn's end as one write (or at once past FLUSH_AT bytes): `Flushes` runs every connection written in
a turn from one reactor call, instead of a scheduled call per connection.

What the rest of chatroom relies on is kept: `loseConnection` sends a close_notify once no producer is registered
and closes TCP once the peer answers it (chatroom.server.limits.close_politely cuts off one that never does);
nothing is written after our close_notify; `abortConnection` cuts TCP at once, without a close_notify; writes made
before the handshake finishes wait for it; a listener's ALPN protocols come from its factory (the web site's
http/1.1), and no overlap is no protocol, never a failure; a failed handshake reaches the protocol's
`connectionLost` as the `ssl.SSLError` it was, and TCP ended before TLS's close as ConnectionLost.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterable
from typing import cast

from twisted.internet.error import ConnectionLost
from twisted.internet.interfaces import (
    IDelayedCall,
    IHandshakeListener,
    INegotiated,
    IProtocol,
    IProtocolFactory,
    IProtocolNegotiationFactory,
    IPushProducer,
    IReactorTime,
    ITransport,
)
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from twisted.python.failure import Failure
from zope.interface import implementer

from chatroom.core.errors import mistake
from chatroom.server.heap import HeapTrim
from chatroom.server.limits import CLOSE_GRACE, StreamTransport, cancel

log = Logger(namespace="chatroom")

READ_SIZE = 16384  # a TLS record's most plaintext: one read takes one record
FLUSH_AT = 64_000  # bytes a connection holds in one turn before they go at once, so that TCP can pause a producer


class Flushes:
    """The connections written to in this reactor turn, each flushed once at its end, all from one reactor call."""

    def __init__(self, clock: IReactorTime) -> None:
        self.clock = clock
        self._due: list[TLSConnection] = []

    def add(self, connection: TLSConnection) -> None:
        if not self._due:
            self.clock.callLater(0, self._run)
        self._due.append(connection)

    def _run(self) -> None:
        due, self._due = self._due, []
        for connection in due:
            try:
                connection.flush()
            except Exception as error:  # a bug: told without its message, which may quote what was written
                peer = connection.stream.getPeer()
                log.error("could not write to {peer}: {mistake}", peer=peer, mistake=mistake(error))


@implementer(INegotiated, ITransport)
class TLSConnection(ProtocolWrapper):
    """One TLS server connection: records in from the TCP transport, plaintext to the protocol, and back."""

    factory: TLSFactory

    def __init__(self, factory: TLSFactory, wrappedProtocol: IProtocol) -> None:
        ProtocolWrapper.__init__(self, factory, wrappedProtocol)
        # All set here first, Protocol's `connected` and `disconnecting` too: an attribute first set after __init__
        # over a class attribute costs each connection a dictionary of its own (0.7 KB).
        self.connected = 0
        self.disconnecting = False
        self.handshaking = True  # until the handshake finishes, nothing written reaches the peer
        self._due = False  # in the factory's Flushes for this turn
        self._closed = False  # the TLS connection is over (shut down, failed or lost): nothing more is read or written
        self._goodbye = False  # our close_notify is sent: nothing more is written
        self._held = 0  # bytes in _pending
        self._aborted = False
        self._producer: IPushProducer | None = None
        self._reason: Failure | None = None  # why TLS ended, for the protocol's connectionLost, if not the transport's
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = factory.context().wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._pending: list[bytes] = []  # written in this turn, or before the handshake finished
        self._cut: IDelayedCall | None = None  # once our close_notify is sent, until the peer's answers it

    def makeConnection(self, transport: ITransport) -> None:
        self.stream = cast(StreamTransport, transport)  # the TCP transport (an isinstance check of a Protocol is slow)
        ProtocolWrapper.makeConnection(self, transport)

    # Reading

    def dataReceived(self, data: bytes) -> None:
        if self._closed:
            return
        self._incoming.write(data)
        if self.handshaking and not self._handshake():
            return
        self._read()

    def _handshake(self) -> bool:
        """Take the handshake a step further; whether it has finished."""
        try:
            self._tls.do_handshake()
        except ssl.SSLWantReadError:
            self._send_records()
            return False
        except ssl.SSLError:
            self._fail(Failure())
            return False
        self.handshaking = False
        self._send_records()
        if self.factory.heap is not None:
            self.factory.heap.changed()
        if IHandshakeListener.providedBy(self.wrappedProtocol):
            self.wrappedProtocol.handshakeCompleted()
        if self._pending and not self._closed:
            self.flush()
        if self.disconnecting and self._producer is None and not self._closed:
            self._shut_down()
        return not self._closed

    def _read(self) -> None:
        """Hand the protocol every record's plaintext that has arrived whole; send what reading made OpenSSL answer
        (a TLS 1.3 key update's)."""
        tls = self._tls
        while not self._closed:
            try:
                data = tls.read(READ_SIZE)
            except ssl.SSLWantReadError:
                self._send_records()
                return
            except ssl.SSLZeroReturnError:
                data = b""
            except ssl.SSLError:
                self._fail(Failure())
                return
            if not data:  # the peer's close_notify: answer it, and close
                self._shut_down()
                return
            if not self._aborted:
                self.wrappedProtocol.dataReceived(data)
            if not (self._incoming.pending or tls.pending()):
                self._send_records()
                return

    # Writing

    def write(self, data: bytes) -> None:
        if self._closed or self._goodbye or (self.disconnecting and self._producer is None):
            return  # after loseConnection, as Twisted's transports drop them
        self._pending.append(data)
        self._held += len(data)
        if self.handshaking:
            return
        if self._held >= FLUSH_AT:
            self.flush()  # now: the TCP transport pauses a producer once its own buffer is full
        elif not self._due:
            self._due = True
            self.factory.flushes.add(self)

    def writeSequence(self, data: Iterable[bytes]) -> None:
        self.write(b"".join(data))

    def flush(self) -> None:
        """What was written since the last flush, as records, to the TCP transport in one write."""
        self._due = False
        if self._closed or not self._pending:
            return
        pending = self._pending
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        pending.clear()
        self._held = 0
        try:
            self._tls.write(data)
        except ssl.SSLError:
            self._fail(Failure())
            return
        self._send_records()

    def _send_records(self) -> None:
        if self._outgoing.pending:
            self.stream.write(self._outgoing.read())

    # Closing

    def loseConnection(self) -> None:
        """Send what was written and a close_notify (once no producer is registered); close TCP when answered, or cut
        it if the peer has not answered within CLOSE_GRACE seconds: a peer that never does would hold its place under
        the connection caps for good."""
        if self.disconnecting or not self.connected:
            return
        self.disconnecting = True
        if self.handshaking and not self._pending:
            self.abortConnection()  # no goodbye can reach a peer that has not finished the handshake
        elif not self.handshaking and self._producer is None:
            self.flush()
            self._shut_down()

    def abortConnection(self) -> None:
        """Cut the TCP connection at once, without a close_notify: an orderly end would hide the cut."""
        self._aborted = self.disconnecting = True
        self.stream.abortConnection()

    def _shut_down(self) -> None:
        """Send our close_notify, or answer the peer's; close TCP once both have been sent."""
        if self._closed:
            return
        self._goodbye = True
        try:
            self._tls.unwrap()
        except ssl.SSLWantReadError:
            self._send_records()  # ours is sent: the peer's is awaited, CLOSE_GRACE seconds at most
            if self._cut is None:
                self._cut = self.factory.flushes.clock.callLater(CLOSE_GRACE, self.abortConnection)
            return
        except ssl.SSLError:
            pass  # a peer gone wrong at the end: close all the same
        self._closed = True
        self._send_records()
        self.stream.loseConnection()

    def _fail(self, failure: Failure) -> None:
        """TLS failed (a bad handshake, a broken record): send the alert OpenSSL wrote, and close."""
        self._reason = self._reason or failure
        self._closed = True
        self._send_records()
        self.stream.loseConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if not (self._closed or self._aborted or self._reason):  # TCP ended before TLS did: a cut, as Twisted says
            self._reason = Failure(ConnectionLost("the peer ended TLS without a close_notify"))
        self._closed = True
        self.connected = False
        self._pending.clear()
        cancel(self._cut)
        if self.factory.heap is not None:
            self.factory.heap.changed()
        self._producer = None  # stopped by TCP already; held, it would keep the layers above in a cycle with this
        ProtocolWrapper.connectionLost(self, self._reason or reason)

    # Producers: TLS never holds writes back once the handshake is done, so the TCP transport's pausing is all

    def registerProducer(self, producer: IPushProducer, streaming: bool) -> None:
        if self._closed or self._goodbye:
            producer.stopProducing()
            return
        self.stream.registerProducer(producer, streaming)
        self._producer = producer

    def unregisterProducer(self) -> None:
        if self._producer is None:
            return
        self._producer = None
        self.stream.unregisterProducer()
        if self.disconnecting and not self.handshaking:
            self.flush()
            self._shut_down()

    @property
    def negotiatedProtocol(self) -> bytes | None:
        chosen = self._tls.selected_alpn_protocol()
        return None if chosen is None else chosen.encode("ascii")


class TLSFactory(WrappingFactory[TLSConnection]):
    """TLS in front of `wrappedFactory`'s protocols, with the context `contexts` gives for the ALPN protocols the
    wrapped factory speaks (asked at each connection: a reload replaces what it gives)."""

    protocol = TLSConnection
    noisy = False

    def __init__(
        self,
        contexts: Callable[[tuple[str, ...]], ssl.SSLContext],
        wrappedFactory: IProtocolFactory,
        flushes: Flushes,
        heap: HeapTrim | None = None,
    ) -> None:
        super().__init__(wrappedFactory)  # type: ignore[no-untyped-call]
        self.contexts = contexts
        self.flushes = flushes
        self.heap = heap  # told when a handshake ends and when a connection does
        negotiating = IProtocolNegotiationFactory(wrappedFactory, None)
        offered = () if negotiating is None else negotiating.acceptableProtocols()
        self.alpn = tuple(protocol.decode("ascii") for protocol in offered)
        self.context()  # made now, as the listener starts: its key is read before twistd gives up privileges

    def context(self) -> ssl.SSLContext:
        return self.contexts(self.alpn)

"""Line framing: a byte stream (TCP, TLS, a UNIX socket) cut into lines, the messages of the line and IRC dialects.

This is the Twisted protocol a listener builds for each client; the rules (flood control, timeouts, the send
queue...) are its receiver's, chatroom.server.connection's, which knows nothing of lines.
"""

from __future__ import annotations

from twisted.internet.interfaces import IAddress, IDelayedCall, IHandshakeListener, IPushProducer, IReactorTime
from twisted.internet.protocol import connectionDone
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from zope.interface import implementer

from chatroom.server.limits import cancel, close_politely, transport_of
from chatroom.server.messages import MessageReceiver
from chatroom.server.tls_transport import TLSConnection


@implementer(IHandshakeListener)
class LineFraming(LineReceiver):
    """Lines in (LF-terminated, a CR before the LF dropped), each one message for `receiver`; messages out as they are.

    A line longer than `longest` bytes is skipped to its end and reported as too long; the lines after it are
    still read. Once the receiver is closing, nothing more is cut out of what arrives.
    """

    delimiter = b"\n"

    def __init__(self, receiver: MessageReceiver, longest: int, clock: IReactorTime) -> None:
        # What Twisted's Protocol and LineReceiver change from their class's defaults, set here first: an attribute
        # first set after __init__ over a class attribute costs each connection a dictionary of its own (0.7 KB).
        self.connected = 0
        self.transport = None
        self._buffer = b""
        self._busyReceiving = False
        self.handshaking = False
        self.receiver = receiver
        self.MAX_LENGTH = longest + 1  # LineReceiver counts the CR before the LF, which the limit does not
        self.clock = clock
        self._discarding = False  # inside a line that was too long
        self._overflow = b""  # what followed a too-long line in the same read
        self._deadline: IDelayedCall | None = None  # when a polite close gives up

    def connectionMade(self) -> None:
        self.stream = transport_of(self)
        self.write = self.stream.write  # type: ignore[method-assign,assignment]  # a message is its bytes: a call less
        self.handshaking = isinstance(self.stream, TLSConnection)
        # Lines are small and should leave at once: with Nagle's algorithm (Twisted's default) and delayed ACKs
        # they waited, measured p99 128 -> 14 ms in the steady benchmark (docs/performance.md). TLS hands the
        # call to its TCP transport; a UNIX socket has no such option.
        no_delay = getattr(self.stream, "setTcpNoDelay", None)
        if no_delay is not None:
            no_delay(True)
        self.receiver.connection_made(self)

    def handshakeCompleted(self) -> None:
        """TLS is up: a goodbye can reach the client now."""
        self.handshaking = False

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        cancel(self._deadline)
        self.receiver.connection_lost(reason)
        del self.receiver  # as Twisted's transports let go of their protocol: no cycle left for the collector

    # Reading

    def dataReceived(self, data: bytes) -> None:
        """Split lines as LineReceiver does, but survive a line that is too long, and ignore a closing client.

        LineReceiver hands a too-long line and everything after it to `lineLengthExceeded`; we report that one
        line, skip to its end, and go on with the lines that follow it.
        """
        while not self.receiver.closing:
            if self._discarding:
                _, newline, data = data.partition(self.delimiter)
                if not newline:
                    return
                self._discarding = False
            LineReceiver.dataReceived(self, data)
            data, self._overflow = self._overflow, b""
            if not data:
                return

    def lineLengthExceeded(self, line: bytes) -> None:
        _, newline, self._overflow = line.partition(self.delimiter)
        self._discarding = not newline
        self.receiver.message_too_long()

    def lineReceived(self, line: bytes) -> None:
        self.receiver.message_received(line.removesuffix(b"\r"))

    # chatroom.server.messages.MessageTransport

    def write(self, message: bytes) -> None:
        self.stream.write(message)

    def write_messages(self, messages: list[bytes]) -> None:
        self.stream.writeSequence(messages)

    def pause_reading(self) -> None:
        LineReceiver.pauseProducing(self)

    def resume_reading(self) -> None:
        LineReceiver.resumeProducing(self)

    def register_producer(self, producer: IPushProducer) -> None:
        self.stream.registerProducer(producer, True)

    def close(self) -> None:
        self.stream.unregisterProducer()  # TLS sends its close_notify only once no producer is registered
        self._deadline = close_politely(self.stream, self.clock)

    def abort(self) -> None:
        self.stream.abortConnection()

    def peer_address(self) -> IAddress:
        return self.stream.getPeer()

"""WebSocket framing: one message per WebSocket message (the IRCv3 WebSocket transport), over autobahn.

This is the Twisted protocol the web listener (chatroom.frontends.web.site) hands a `/irc` upgrade to: the same
`MessageReceiver` (chatroom.server.connection's policy: admission, flood control, the send queue, timeouts) stands
on it as on line framing, so IRC over WebSocket is IRC, with every limit and numeric of the IRC listeners.

autobahn does the framing, masking, the close handshake and the size limit: a frame or message over it closes the
connection with 1009 and a reason. This module only translates, and checks that a text message is UTF-8 (1007 if
not), as autobahn would: once a message is whole (it is one IRC line at most), where autobahn checks each frame with a
validator every connection would keep.

Subprotocols (https://ircv3.net/specs/extensions/websocket): `binary.ircv3.net` sends binary messages,
`text.ircv3.net` text ones, whichever the client offers first; a client offering neither gets text, as
InspIRCd's default does. Both kinds are accepted from any client. What the server sends is always UTF-8: chatroom
reads only UTF-8 and renders str, so a text message never needs repairing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from ssl import SSLError
from types import FunctionType
from typing import Any, Generic, TypeVar, cast
from typing import Protocol as Interface
from urllib.parse import urlsplit

from autobahn.twisted.util import peer2str
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.util import encode_truncate
from autobahn.websocket.protocol import TrafficStats
from autobahn.websocket.types import ConnectionDeny, ConnectionRequest
from autobahn.websocket.xormasker import XorMaskerNull
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.interfaces import (
    IAddress,
    IDelayedCall,
    IProtocolFactory,
    IProtocolNegotiationFactory,
    IPushProducer,
    ITransport,
)
from twisted.internet.protocol import Protocol, connectionDone
from twisted.logger import Logger
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from twisted.python.failure import Failure
from twisted.web.http import RESPONSES, HTTPChannel
from zope.interface import directlyProvides, implementer, providedBy

from chatroom.server.connection import Connection, ConnectionFactory, Dialect, Refusal, describe, tls_failed
from chatroom.server.limits import CLOSE_GRACE, Deadlines, StreamTransport, cancel, close_politely
from chatroom.server.messages import MessageReceiver
from chatroom.server.tls_transport import TLSConnection

T = TypeVar("T")
log = Logger(namespace="chatroom")
TEXT = "text.ircv3.net"
BINARY = "binary.ircv3.net"
SUBPROTOCOLS = (TEXT, BINARY)
# What autobahn keeps of the opening handshake and never reads again once the connection is open: the request and
# the answer, the transport's details (read by WAMP's session as it starts), and its observers' events and their last
# results (only "message" is fired, and chatroom's onMessageEnd does not).
HANDSHAKE = (
    "http_request_data",
    "http_response_data",
    "http_headers",
    "http_status_line",
    "http_request_params",
    "http_request_uri",
    "http_request_host",
    "websocket_protocols",
    "websocket_extensions",
    "_wskey",
    "_transport_details",
    "_valid_events",
    "_results",
)
# Values that are the same object wherever they are read, so one kept on a class stands for one on each connection.
AT_REST = (type(None), bool, int, bytes, str)
NOTHING_QUEUED: deque[Any] = deque(maxlen=0)  # shared: nothing is ever queued
SHARED = ("send_queue", "trafficStats", "websocket_extensions_in_use")  # see WebSocketFraming's class attributes
# What an open connection holds of Twisted's and autobahn's attributes (most of them set again at every frame), each
# with the value its classes give it before it is set.
HELD: dict[str, object] = dict.fromkeys(
    (
        "state",
        "utf8validator",
        "data",
        "current_frame",
        "current_frame_masker",
        "inside_message",
        "control_frame_data",
        "_isMessageCompressed",
        "utf8validateIncomingCurrentMessage",
        "utf8validateLast",
        "message_is_binary",
        "message_data",
        "message_data_total_length",
        "frame_length",
        "frame_data",
        "transport",
        "factory",
    ),
    None,
) | {"connected": 0}
UNMASKED = XorMaskerNull()  # shared: stands for the last frame's masker once its message is read
UPGRADE_REQUIRED = 426
REQUEST_HEADER_FIELDS_TOO_LARGE = 431  # RFC 6585
# twisted.web's lack 426 and 431, and have 414 and 413 by RFC 2616's names
PHRASES = {
    **RESPONSES,
    413: b"Content Too Large",
    414: b"URI Too Long",
    UPGRADE_REQUIRED: b"Upgrade Required",
    REQUEST_HEADER_FIELDS_TOO_LARGE: b"Request Header Fields Too Large",
}
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_INVALID_PAYLOAD = 1007  # RFC 6455: a text message that is not UTF-8
CLOSE_POLICY = 1008  # RFC 6455: refused by policy (over a connection cap)
# Seconds the messages a client sent before its close may wait for flood control (or anything else that holds its
# reading) before its session ends without them.
HELD_AFTER_CLOSE = 60.0
HEAD_LIMIT = HTTPChannel.totalHeadersSize  # a first request's head longer than twisted.web's: the site refuses it


class _Stream(StreamTransport, Interface):
    """The TCP or TLS transport under the WebSocket, which also holds reading."""

    def pauseProducing(self) -> None: ...

    def resumeProducing(self) -> None: ...


class _Frames:
    """The WebSocket frames of the last message rendered, as autobahn built them for the first member it was written
    to, one entry per kind (text, binary): the same bytes for every member, since a server's frames are not masked
    and no compression is negotiated. A broadcast is framed once, and each further member costs one write.

    A dialect may render several lines at once (IRC's end of NAMES): each is its own message, without its CRLF.
    """

    def __init__(self) -> None:
        self._last: dict[bool, tuple[bytes, bytes]] = {}

    def cached(self, rendered: bytes, binary: bool) -> bytes | None:
        last = self._last.get(binary)
        return last[1] if last is not None and last[0] is rendered else None

    def keep(self, rendered: bytes, binary: bool, frames: bytes) -> None:
        self._last[binary] = (rendered, frames)

    @staticmethod
    def messages(rendered: bytes) -> list[bytes]:
        return [line.removesuffix(b"\r") for line in rendered.split(b"\n") if line and line != b"\r"]


frames = _Frames()


class _MadeWhenRead(Generic[T]):
    """An attribute autobahn sets on every connection and reads seldom or never once it is set: made from the
    connection each time it is read, what autobahn assigns dropped, so that no connection keeps one."""

    def __init__(self, make: Callable[[WebSocketFraming | None], T]) -> None:
        self.make = make

    def __get__(self, connection: WebSocketFraming | None, kind: object = None) -> T:
        return self.make(connection)

    def __set__(self, connection: object, value: T) -> None:
        pass


def _peer(connection: WebSocketFraming | None) -> str:
    if connection is None or connection.transport is None:
        return "<never connected>"  # as autobahn has it
    return peer2str(connection.transport)


class WebSocketFraming(WebSocketServerProtocol):
    """WebSocket messages in, each a message for the receiver that admission gave; messages out, one each.

    A message holding several lines (a client that sends "A\\r\\nB") is read as those lines, as line framing would:
    each is one message for the policy, spending its own flood token.
    """

    # HELD and this class's own state are slots, 8 bytes each: in the instance's dictionary, the attributes autobahn
    # sets at every frame grew it back to 64 entries (832 bytes) after `_settle`.
    __slots__ = (*HELD, "receiver", "binary", "_paused", "_held", "_ended", "_deadline", "_framed", "counted", "stream")
    handshaking = False  # the HTTP upgrade came through TLS already
    factory: WebSocketFactory
    # SHARED by every connection once open: autobahn's queue for writes sendData never queues (760 bytes a
    # connection), its traffic counters, which it adds to at every frame and nobody reads (230 bytes), and the
    # extensions in use (none: no compression).
    send_queue = NOTHING_QUEUED
    trafficStats = TrafficStats()
    websocket_extensions_in_use: list[Any] = []  # never added to once open
    # The futures of the open and of the close, which autobahn resolves and nothing on a server awaits (chatroom hears
    # of both through onOpen and onClose): 180 bytes each a connection. autobahn's name for the peer
    # (`tcp4:127.0.0.1:4242`), which it reads only for its log lines: 70 bytes.
    is_open = is_closed = _MadeWhenRead[Deferred[Any]](lambda connection: Deferred())
    peer = _MadeWhenRead(_peer)

    def __init__(self) -> None:
        for name, value in HELD.items():
            setattr(self, name, value)
        super().__init__()
        self.receiver: MessageReceiver | None = None
        self.binary = False  # binary.ircv3.net: the messages sent are binary ones
        self._paused = False
        self._held: deque[bytes] | None = None  # messages autobahn cut out while reading is paused, in order
        self._ended: Failure | None = None  # closed by the client while messages were held: how, once they are read
        self._deadline: IDelayedCall | None = None  # when a polite close gives up, or held messages stop waiting
        self._framed: list[bytes] | None = None  # while framing a message: autobahn's frames, kept, not sent
        self.counted: Counted | None = None  # the count's wrapper this came through, until the Connection holds it

    # autobahn's side

    def connectionMade(self) -> None:
        # Written to past the count's wrapper (one call less per message), which still tells it of the close.
        if isinstance(self.transport, Counted):
            self.counted = self.transport
            self.transport = self.transport.transport
        transport = self.transport
        self.stream = cast(_Stream, transport)
        # autobahn reads a TLS channel's id as it starts (for WAMP's channel binding, which chatroom does not use)
        # from Twisted's pyOpenSSL connection only: over our TLS (chatroom.server.tls_transport) it starts on the TCP
        # connection under it, then writes through TLS.
        if isinstance(transport, TLSConnection):
            self.transport = transport.transport
        WebSocketServerProtocol.connectionMade(self)
        self.transport = transport

    def onConnect(self, request: ConnectionRequest) -> str | None:
        """Refuse a browser page from another site (the Origin rule); choose the subprotocol."""
        if not self.factory.origin_allowed(request.origin, request.headers.get("host", "")):
            raise ConnectionDeny(ConnectionDeny.FORBIDDEN, "origin not allowed")
        # The constant, not the request's copy: autobahn keeps it for the connection's life.
        chosen = next((known for offered in request.protocols for known in SUBPROTOCOLS if offered == known), None)
        if request.protocols and chosen is None:
            raise ConnectionDeny(ConnectionDeny.BAD_REQUEST, f"subprotocols offered: none of {', '.join(SUBPROTOCOLS)}")
        self.binary = chosen == BINARY
        return chosen

    def failHandshake(self, reason: str, code: int = 400, responseHeaders: object = None) -> None:
        """autobahn's refusal of an upgrade (a bad request, another site's Origin), answered as the site answers: with
        its security headers and the reason as the body. Without autobahn's log line for each, which any page on the
        web could fill the log with through a visitor's browser."""
        self.wasNotCleanReason = reason
        headers = self.factory.site_headers
        if code == UPGRADE_REQUIRED:
            headers = {**headers, b"upgrade": b"websocket"}  # as RFC 9110 asks of a 426
        self.sendData(refusal(code, reason, headers))
        self.wasClean = True  # answered in full, as HTTP: of any other drop, autobahn warns with the peer's address
        self.dropConnection(abort=False)

    def _fail_connection(self, code: int = CLOSE_GOING_AWAY, reason: str = "going away") -> None:
        """autobahn's answer to a bad frame (a protocol error, bad UTF-8, one too big): a close with the code and the
        reason, without autobahn's warning, a log line any client could add at will. A client that does not answer
        the close is cut off after CLOSE_GRACE seconds (autobahn's own deadline is off); a second bad frame while
        closing, at once."""
        if self.state == WebSocketServerProtocol.STATE_CLOSED:
            return
        self.failedByMe = True
        if self.state == WebSocketServerProtocol.STATE_CLOSING:
            self.dropConnection(abort=False)
            return
        self.sendCloseFrame(code=code, reasonUtf8=encode_truncate(reason, 123), isReply=False)
        cancel(self._deadline)
        self._deadline = self.factory.shared.clock.callLater(CLOSE_GRACE, self.stream.abortConnection)

    def dropConnection(self, abort: bool = False) -> None:
        """autobahn's, without its warning when the close was not clean (a client's doing: a second bad frame while
        closing). autobahn also resolved `is_closed` here, which nobody holds: it is made anew at each read."""
        self.stream.unregisterProducer()
        if self.state != WebSocketServerProtocol.STATE_CLOSED:
            self.droppedByMe = True
            self.state = WebSocketServerProtocol.STATE_CLOSED
            self._closeConnection(abort)

    def onOpen(self) -> None:
        """A client of the chat from now on: its connection's place in the count goes to its Connection."""
        for handshake in HANDSHAKE:  # read and answered: not worth keeping for the life of every connection
            setattr(self, handshake, None)
        self.utf8validator = None  # type: ignore[assignment]  # unused: onMessageEnd checks a text message whole
        for shared in SHARED:  # the class's stand for them
            delattr(self, shared)
        self._settle()
        factory, address = self.factory, self.stream.getPeer()
        counted, self.counted = self.counted, None
        if counted is not None and not counted.handed_over:
            counted.hand_over(self)
            admitted: Connection | str = factory.shared.connection(address, factory.dialect)
        else:
            admitted = factory.shared.admit(address, factory.dialect)
        if isinstance(admitted, str):
            self.write(factory.dialect.goodbye(admitted))
            WebSocketServerProtocol.sendClose(self, CLOSE_POLICY, admitted[:120])
            return
        self.receiver = admitted
        admitted.connection_made(self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        for line in payload.split(b"\n") if b"\n" in payload else (payload,):
            line = line.removesuffix(b"\r")
            if line:
                if self._paused:
                    if self._held is None:
                        self._held = deque()
                    self._held.append(line)
                else:
                    self._deliver(line)

    def dataReceived(self, data: bytes) -> None:
        """autobahn's, without its debug line for every read, whose arguments (the method's qualified name, coloured)
        it formats even when nobody logs it: 1.6 µs a message a client sends, of autobahn's 10.5 (in-process)."""
        self._dataReceived(data)

    def onMessageEnd(self) -> None:
        """autobahn's, without firing its "message" event to observers, which chatroom never registers: that made
        a Deferred and added two callbacks for every message a client sent: 2.6 µs of autobahn's 10.5 (in-process).
        A text message that is not UTF-8 fails the connection as autobahn's own check would have."""
        if not self.failedByMe:
            payload = b"".join(self.message_data)
            if self.message_is_binary or is_utf8(payload):
                self.onMessage(payload, self.message_is_binary)
            else:
                self._fail_connection(CLOSE_INVALID_PAYLOAD, "text message is not UTF-8")
        self.message_data = None  # type: ignore[assignment]  # as autobahn leaves it (its annotation says a list)
        self.current_frame_masker = UNMASKED  # the client's last frame's, 350 bytes a connection kept for nothing

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        cancel(self._deadline)
        ended = Failure(ConnectionDone() if wasClean else ConnectionLost())
        if self._held and self.receiver is not None and not self.receiver.closing:
            # The client sent these before its close (a browser's last lines, then its tab closed), and flood control
            # held them: they are read as it allows, as a TCP connection's wait in the kernel, and then it ends.
            self._ended = ended
            self._deadline = self.factory.shared.clock.callLater(HELD_AFTER_CLOSE, self._end)
            return
        self._ended = ended
        self._end()

    def _end(self) -> None:
        """The connection is closed and nothing it sent is held any more: the receiver is told."""
        cancel(self._deadline)
        self._deadline = None
        receiver, self.receiver = self.receiver, None
        self._held = None
        if receiver is not None and self._ended is not None:
            receiver.connection_lost(self._ended)

    def _settle(self) -> None:
        """Keep on this connection only what differs from its class, in a dict sized for it.

        autobahn sets about a hundred attributes on each connection, most to a value it keeps while the connection is
        idle (None, False, 0, b""). The first connection to open gives its class those it lacks, and each connection
        then drops what its class holds the same: about 2 KB less a connection (a dict does not shrink when entries
        are deleted, hence a new one). An attribute set again later is the connection's own again.
        """
        kind = type(self)
        kept: dict[str, object] = {}
        for name, value in vars(self).items():
            if type(value) in AT_REST and not hasattr(kind, name):
                setattr(kind, name, value)
            if getattr(kind, name, kept) is not value:
                kept[name] = value
        self.__dict__ = kept

    def _deliver(self, message: bytes) -> None:
        receiver = self.receiver
        if receiver is not None and not receiver.closing:
            receiver.message_received(message)

    # chatroom.server.messages.MessageTransport

    def write(self, message: bytes) -> None:
        if self.state != WebSocketServerProtocol.STATE_OPEN:
            return
        framed = frames.cached(message, self.binary)
        if framed is None:
            built: list[bytes] = []
            self._framed = built
            try:
                for each in frames.messages(message):
                    WebSocketServerProtocol.sendMessage(self, each, self.binary)
            finally:
                self._framed = None
            framed = b"".join(built)
            frames.keep(message, self.binary, framed)
        self.stream.write(framed)

    def sendData(self, data: bytes, sync: bool = False, chopsize: int | None = None) -> None:
        """autobahn's way out: while a message is framed, its frames are kept for `write`; anything else (the
        handshake's answer, pongs, closes) goes straight to the transport, without autobahn's debug line per write,
        whose arguments it formats even when nobody logs it. Writes chopped or synchronous, which autobahn queues,
        are never asked for: chatroom sets neither, nor autobahn's autoFragmentSize."""
        if self._framed is not None:
            self._framed.append(data)
        else:
            self.stream.write(data)

    def write_messages(self, messages: list[bytes]) -> None:
        for message in messages:
            self.write(message)

    def pause_reading(self) -> None:
        self._paused = True
        self.stream.pauseProducing()

    def resume_reading(self) -> None:
        self._paused = False
        while self._held and not self._paused:
            self._deliver(self._held.popleft())
        if not self._held:
            self._held = None
        if not self._paused:
            self.stream.resumeProducing()
        if self._ended is not None and self._held is None and self.receiver is not None and not self.receiver.closing:
            self._end()  # closed by the client, and what it sent before is read

    def register_producer(self, producer: IPushProducer) -> None:
        self.stream.unregisterProducer()  # the HTTP channel's, if twisted.web handed the connection over
        self.stream.registerProducer(producer, True)

    def close(self) -> None:
        """A close handshake, then TLS's; a peer that answers neither is cut off after CLOSE_GRACE seconds."""
        if self._ended is not None:  # the client closed first (onClose): its held lines ran up to this
            self._end()
            return
        self.stream.unregisterProducer()  # TLS sends its close_notify only once no producer is registered
        if self.state == WebSocketServerProtocol.STATE_OPEN:
            WebSocketServerProtocol.sendClose(self, CLOSE_NORMAL)
        else:
            WebSocketServerProtocol.dropConnection(self, abort=False)
        self._deadline = self.factory.shared.clock.callLater(CLOSE_GRACE, self.stream.abortConnection)

    def abort(self) -> None:
        if self._ended is not None:
            self._end()
            return
        self.stream.abortConnection()

    def peer_address(self) -> IAddress:
        address: IAddress = self.stream.getPeer()
        return address


class WebSocketFactory(WebSocketServerFactory):
    """Builds the framing of each WebSocket connection, whose clients are `shared`'s, speaking `dialect`.

    `origins`: the origins (scheme://host[:port]) allowed besides the server's own, the one the browser
    loaded the page from (the Host it asked for). A client that sends no Origin is not a browser, and is let in:
    the rule keeps other sites' pages from using a visitor's browser, not programs from connecting.
    """

    protocol: type[WebSocketFraming]  # type: ignore[assignment]  # one of its own: see __init__

    def __init__(
        self,
        shared: ConnectionFactory,
        dialect: type[Dialect],
        origins: Iterable[str] = (),
        headers: Mapping[bytes, bytes] | None = None,
    ) -> None:
        WebSocketServerFactory.__init__(self)
        self.shared = shared
        # The site's, on a refused upgrade too. Not `headers`: autobahn's factory sends that attribute's items in its
        # 101 answer, and iterated these bytes into a header a byte.
        self.site_headers = headers or {}
        self.dialect = dialect
        self.origins = frozenset(origin.lower().rstrip("/") for origin in origins)
        longest = dialect.longest_line(shared.limits) + 2  # and a CRLF, if the client sends one
        WebSocketServerFactory.setProtocolOptions(
            self,
            maxFramePayloadSize=longest,
            maxMessagePayloadSize=longest,
            # The whole request is read before autobahn sees it (by Counted or twisted.web); the close has its own
            # deadline, on the connections' clock (autobahn's timers would outlive the connections they are for).
            openHandshakeTimeout=0,
            closeHandshakeTimeout=0,
            failByDrop=False,  # a bad frame gets a close frame with the reason, not just a cut
            # A request for /irc that is no upgrade is refused (426): autobahn's status page would answer it with
            # its name and version and none of the site's headers, and `?redirect=URL` with a redirection anywhere.
            webStatus=False,
            utf8validateIncoming=False,  # WebSocketFraming.onMessageEnd checks a text message whole
            perMessageCompressionAccept=lambda offers: None,  # no compression: a small frame cannot inflate
        )
        # autobahn copies its options onto each connection unless its class has them: this factory's own class has.
        options = {name: _as_attribute(getattr(self, name)) for name in WebSocketFraming.CONFIG_ATTRS}
        self.protocol = type(WebSocketFraming.__name__, (WebSocketFraming,), options)

    def origin_allowed(self, origin: str | None, host: str) -> bool:
        if not origin:
            return True
        origin = origin.lower()
        if origin in self.origins:
            return True
        try:
            parts = urlsplit(origin)
        except ValueError:
            return False
        return parts.scheme in ("https", "http") and parts.netloc == host.lower() and not parts.path


class Counted(ProtocolWrapper):
    """One connection to a web listener, counted under the caps with every front end's clients while it lasts, or
    until the WebSocket it carries becomes a Connection, which then holds its place.

    Its first request decides what it carries. An upgrade to the WebSocket goes straight to autobahn, which reads the
    request itself: through twisted.web it was read twice (twisted.web's request, then autobahn's parse of a copy of
    it), and the objects of the first read cost a WebSocket connection CPU and, in the holes they left in the heap,
    memory (docs/performance.md, issue 27). Anything else goes to the site, which serves a later upgrade on the same
    connection too. A connection whose first request could still be the WebSocket's is closed if it is not whole
    within the site's silence timeout; any other is the site's, timeout included.
    """

    factory: Counting
    wrappedProtocol: Protocol  # from the first request on (None before)
    handed_over = False

    def __init__(self, factory: Counting) -> None:
        ProtocolWrapper.__init__(self, factory, None)  # type: ignore[arg-type]  # chosen at the first request
        self._head: bytes | None = b""  # the first request as read so far; None once it is handed on
        self._silence: IDelayedCall | None = None  # until the first request is read
        self._abort: IDelayedCall | None = None  # once closed for its silence, until the peer answers the close

    def logPrefix(self) -> str:
        """Short: every connection keeps its own copy in its TCP transport's log string."""
        return "web"

    def makeConnection(self, transport: ITransport) -> None:
        """ProtocolWrapper's, but the protocol it wraps is made only when the first request says which."""
        directlyProvides(self, providedBy(transport))
        Protocol.makeConnection(self, transport)
        self.factory.registerProtocol(self)  # type: ignore[no-untyped-call]
        self._silence = self.factory.deadlines.callLater(self.factory.silence, self._silent)
        # A stand-in is the transport's producer until then, as twisted.web's channel registered itself at once: the
        # attributes a registration sets on the TCP transport are then set in the same order on every connection, so
        # that its dictionary shares its keys with every other TCP connection's (one set in another order costs each
        # connection a dictionary of its own, 0.6 KB).
        cast(StreamTransport, transport).registerProducer(UNREAD, True)

    def dataReceived(self, data: bytes) -> None:
        head = self._head
        if head is None:
            self.wrappedProtocol.dataReceived(data)
            return
        if self.disconnecting:
            return  # closed for its silence
        head += data
        upgrade = _upgrade(head)
        if upgrade is None and len(head) < HEAD_LIMIT:
            self._head = head
            return
        self._head = None
        cancel(self._silence)
        cast(StreamTransport, self.transport).unregisterProducer()
        factory = self.factory
        wrapped = factory.sockets if upgrade else factory.wrappedFactory  # a head over the limit: the site refuses it
        protocol = cast(Protocol, wrapped.buildProtocol(ProtocolWrapper.getPeer(self)))  # never None: the count passed
        self.wrappedProtocol = protocol
        protocol.makeConnection(self)
        protocol.dataReceived(head)

    def hand_over(self, protocol: Protocol) -> None:
        """Its place in the count is `protocol`'s Connection's from now on: the transport under this wrapper talks to
        `protocol` directly, and the wrapper is let go (one call less per read, and 300 bytes a connection)."""
        self.handed_over = True
        transport: Any = self.transport
        if isinstance(transport, ProtocolWrapper):  # TLS
            transport.wrappedProtocol = protocol
        else:
            transport.protocol = protocol  # a TCP connection's
        self.factory.unregisterProtocol(self)  # type: ignore[no-untyped-call]

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        cancel(self._silence)
        cancel(self._abort)
        if not self.handed_over:
            self.factory.shared.uncount(ProtocolWrapper.getPeer(self))
        if reason.check(SSLError):  # as the chat's listeners tell it: a browser that distrusts the certificate
            self.factory.shared.counts.tls_failures += 1
            log.info("{peer} (web) disconnected: {why}", peer=describe(ProtocolWrapper.getPeer(self)),
                     why=tls_failed(reason.value))  # fmt: skip
        if self._head is None:
            ProtocolWrapper.connectionLost(self, reason)
        else:  # before its first request: nothing wrapped to tell
            self.factory.unregisterProtocol(self)  # type: ignore[no-untyped-call]

    def _silent(self) -> None:
        """Closed with a TLS close_notify, which TLS sends only once no producer is registered."""
        self._silence = None
        cast(StreamTransport, self.transport).unregisterProducer()
        self._abort = close_politely(cast(StreamTransport, self), self.factory.deadlines)


@implementer(IPushProducer)
class _Unread:
    """The TCP transport's producer while a web connection's first request is read: nothing is written to it then
    but TLS's handshake, so there is nothing to hold back."""

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass


UNREAD = _Unread()


@implementer(IProtocolNegotiationFactory)
class Counting(WrappingFactory[Counted]):
    """A web listener's factory: every connection, a page's or a WebSocket's, counts under `shared`'s caps
    (--max-clients, --max-per-address); one over them is answered 503 with the reason, and closed. Over TLS it
    offers what the site speaks (ALPN's http/1.1).

    `site` serves pages (and an upgrade after one), `sockets` a connection whose first request is an upgrade; a
    connection may stay `silence` seconds without finishing that request, on `deadlines`.
    """

    protocol = Counted
    noisy = False

    def __init__(
        self,
        shared: ConnectionFactory,
        site: IProtocolFactory,
        sockets: WebSocketFactory,
        headers: Mapping[bytes, bytes],
        deadlines: Deadlines,
        silence: float,
    ) -> None:
        WrappingFactory.__init__(self, site)  # type: ignore[arg-type]  # typed as generic in its own parameter
        self.shared = shared
        self.sockets = sockets
        self.headers = headers  # the site's, on a 503 too
        self.deadlines = deadlines
        self.silence = silence

    def acceptableProtocols(self) -> list[bytes]:
        return list(IProtocolNegotiationFactory(self.wrappedFactory).acceptableProtocols())

    def buildProtocol(self, addr: IAddress | None) -> Protocol | None:  # type: ignore[override]  # or a Refusal
        reason = self.shared.count(addr)
        if reason is None:
            return Counted(self)
        return Refusal(refusal(503, reason, self.headers), self.shared.clock)


def for_the_socket(segment: bytes, upgrade: bytes | None) -> bool:
    """Whether a request whose path starts with `segment` is the WebSocket's: any for `/irc` (autobahn refuses one
    that is not an upgrade), and an upgrade to `/`, where clients and test suites that take a bare
    `wss://host:port` URL (irctest) connect."""
    return segment == b"irc" or (segment == b"" and (upgrade or b"").lower() == b"websocket")


def _upgrade(head: bytes) -> bool | None:
    """Whether a connection's first request, as read so far, is the WebSocket's, for autobahn to read: a GET in
    HTTP/1.1 of its path, without a body, within twisted.web's limits on a request's head (its size, its number of
    headers); None while that is not known. Anything else, or anything odd, is twisted.web's to answer, as any later
    request is: at its first line if that settles it (a page's, or a bad one answered 400 at once)."""
    line_end = head.find(b"\r\n")
    if line_end < 0:
        return None
    method, _, rest = head[:line_end].partition(b" ")
    uri, _, version = rest.partition(b" ")
    if method != b"GET" or version != b"HTTP/1.1" or not uri.startswith(b"/"):
        return False
    segment = uri.partition(b"?")[0].split(b"/")[1]
    if not for_the_socket(segment, b"websocket"):  # not the WebSocket's path, whatever its headers say
        return False
    end = head.find(b"\r\n\r\n")
    if end < 0:
        return None
    if end + 4 > HEAD_LIMIT:
        return False
    lines = head[line_end + 2 : end].split(b"\r\n")
    if len(lines) > HTTPChannel.maxHeaders:
        return False  # as over the size: the site refuses it
    headers: dict[bytes, bytes] = {}
    for line in lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if b"content-length" in headers or b"transfer-encoding" in headers:
        return False  # the site refuses a body (413) before reading it
    return for_the_socket(segment, headers.get(b"upgrade"))


def is_utf8(payload: bytes) -> bool:
    try:
        payload.decode()
    except UnicodeDecodeError:
        return False
    return True


def _as_attribute(option: object) -> object:
    """An option as a class attribute reads as it did on each connection: a function stays a plain function."""
    return staticmethod(option) if isinstance(option, FunctionType) else option


def refusal(code: int, reason: str, headers: Mapping[bytes, bytes]) -> bytes:
    """An HTTP answer refusing a request: the site's `headers`, the reason as a plain-text body, then the close."""
    body = f"{reason}\n".encode()
    lines = [
        b"HTTP/1.1 %d %s" % (code, PHRASES.get(code, b"Refused")),
        *(b"%s: %s" % header for header in headers.items()),
        b"Content-Type: text/plain; charset=utf-8",
        b"Connection: close",
        b"Content-Length: %d" % len(body),
    ]
    return b"\r\n".join([*lines, b"", body])

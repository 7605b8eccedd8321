"""The web listener's site (twisted.web): the web client's files at `/`, IRC over WebSocket at `/irc`.

Every answer carries the headers that keep a browser from being turned against the site: a Content-Security-Policy
that runs only the server's own scripts and lets no other site frame it, no MIME sniffing, no referrer, and HSTS
when asked for or served on port 443 with TLS. The WebSocket connections are IRC connections of the shared
ConnectionFactory (chatroom.server.websocket), counted and limited with every other front end's.

A WebSocket upgrade to `/` is served too: clients and test suites that take a bare `wss://host:port` URL (irctest)
connect there.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import cast

from autobahn.twisted.resource import WebSocketResource
from twisted.internet.interfaces import IDelayedCall, IProtocolFactory, IPushProducer
from twisted.internet.protocol import connectionDone
from twisted.logger import ILogObserver, LogEvent, Logger, globalLogPublisher
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.http_headers import Headers
from twisted.web.pages import forbidden
from twisted.web.resource import IResource, Resource
from twisted.web.server import Request, Site
from twisted.web.static import File
from zope.interface import implementer, provider

from chatroom.server.connection import ConnectionFactory, Dialect
from chatroom.server.limits import CLOSE_GRACE, Deadlines, StreamTransport, cancel
from chatroom.server.websocket import (
    REQUEST_HEADER_FIELDS_TOO_LARGE,
    Counting,
    WebSocketFactory,
    for_the_socket,
    is_utf8,
    refusal,
)

CLIENT = Path(__file__).with_name("client")  # the web client's files, shipped with the package
HSTS_PORT = 443

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
    " object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    b"content-security-policy": CONTENT_SECURITY_POLICY.encode(),
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"no-referrer",
    b"cross-origin-opener-policy": b"same-origin",
    b"server": b"chatroom",
}
HSTS = b"max-age=31536000"
ALLOWED = b"GET, HEAD, OPTIONS"  # the methods the site serves


@provider(ILogObserver)
def _faults_only(event: LogEvent) -> None:
    """Passes on an event with a traceback (a fault of the server's), nothing else."""
    if event.get("log_failure") is not None:
        globalLogPublisher(event)


class GuardedRequest(Request):
    """A request with a body is refused (the channel gives every answer the site's headers).

    The site only serves files, and the WebSocket's upgrade has no body: twisted.web would keep any body it is
    sent, in a temporary file past 100 kB, before anyone looks at it.
    """

    channel: Channel
    # Without the URL: twisted.web's notes about a request (a HEAD answered with a body, as its error pages are) hold
    # the request, URL and all. Its tracebacks, the server's faults, are logged.
    _log = Logger(observer=_faults_only)
    refused = False  # it came with a body: answered 413, and nothing of it is kept

    def gotLength(self, length: int | None) -> None:
        if length == 0:
            Request.gotLength(self, length)
            return
        self.refused = True  # a length, or chunks (None)
        self.content = BytesIO()
        self.channel.refuse(http.REQUEST_ENTITY_TOO_LARGE, "no request with a body is served")

    def handleContentChunk(self, data: bytes) -> None:
        if not self.refused:
            Request.handleContentChunk(self, data)

    def process(self) -> None:
        if self.refused:
            return
        if self.path == b"*" and self.method == b"OPTIONS":  # twisted.web answers it 200, with no Allow
            self.setHeader(b"allow", ALLOWED)  # type: ignore[no-untyped-call]
        Request.process(self)


class Channel(http.HTTPChannel):
    """twisted.web's HTTP/1.1 channel, whose answer's producer (a file's) is paused once while its transport is full.

    The TCP transport pauses the channel at every write past its buffer's limit and resumes it once; the channel
    passed each pause on to the file it served, whose task counts them, and did not pause a file registered while
    the transport was full. So an answer whose head and body each met a full buffer was never resumed (a client
    pipelining requests for files stalled for good), and a file asked for while the buffer was full was sent whole
    into it, then resumed without having been paused (`NotPaused`, and the connection dropped).

    It also stops reading the client whenever the transport is full. twisted.web's stops only if no request is being
    answered, but an answer without a producer (a 404, a 304, a HEAD) is written while its request is: a client that
    pipelined requests for missing files and read nothing was read on, its answers kept without bound.

    Every answer carries the site's headers: those twisted.web writes for a request (a file, a 404, its own 500s and
    its answer to `OPTIONS *`) and those it writes itself, bare, to a bad request (400).

    A request's head over twisted.web's limits (16 KB in all or in one line, 500 headers) is answered `414 URI Too
    Long` (its first line) or `431 Request Header Fields Too Large`, and the connection closed: twisted.web answered
    400 to some, and closed a line over 16 KB without a word (over TLS, only once the site's timeout passed).
    """

    site: WebSite
    _security: dict[bytes, bytes] | None = None
    _cut: IDelayedCall | None = None  # a refused connection's deadline to answer TLS's close_notify
    _head_size = 0  # the bytes of the request's head read so far, as twisted.web counts them...
    _head_count = 0  # ...and its headers

    def security_headers(self) -> dict[bytes, bytes]:
        """The site's headers, with HSTS when asked for, or on port 443 with TLS."""
        if self._security is None:
            hsts = self.site.hsts
            if hsts is None:
                host = self.getHost()  # type: ignore[no-untyped-call]
                hsts = self.isSecure() and getattr(host, "port", None) == HSTS_PORT  # type: ignore[no-untyped-call]
            self._security = {**HEADERS, b"strict-transport-security": HSTS} if hsts else HEADERS
        return self._security

    def writeHeaders(self, version: bytes, code: bytes, reason: bytes, headers: Headers) -> None:
        """After twisted.web's own headers (its Server header among them), before the answer."""
        for name, value in self.security_headers().items():
            headers.setRawHeaders(name, [value])
        self.resetTimeout()  # type: ignore[no-untyped-call]
        http.HTTPChannel.writeHeaders(self, version, code, reason, headers)

    def refuse(self, code: int, reason: str) -> None:
        """Answer `code` with the reason (never anything the client sent), and close."""
        transport = cast(StreamTransport | None, self.transport)
        if transport is None or self._cut is not None:
            return
        transport.write(refusal(code, reason, self.security_headers()))
        self._close(transport)

    def _close(self, transport: StreamTransport) -> None:
        self.loseConnection()  # type: ignore[no-untyped-call]  # stops producing first: then TLS sends close_notify
        self._cut = self.site.deadlines.callLater(CLOSE_GRACE, transport.abortConnection)  # a peer that never answers

    def timeoutConnection(self) -> None:
        """twisted.web's, without its log line for each connection it times out (each page load leaves a few kept
        alive, and anyone can open more), and cutting off a peer that does not take the close within CLOSE_GRACE."""
        transport = cast(StreamTransport | None, self.transport)
        if transport is None or self._cut is not None:  # the WebSocket's now, or closing already
            return
        self._close(transport)

    def lineReceived(self, line: bytes) -> None:
        self._head_size += len(line)
        if self._head_size > self.totalHeadersSize:
            self.refuse(REQUEST_HEADER_FIELDS_TOO_LARGE, "request header fields too large")
            return
        http.HTTPChannel.lineReceived(self, line)

    def headerReceived(self, line: bytes) -> bool:
        self._head_count += 1
        if self._head_count > self.maxHeaders:
            self.refuse(REQUEST_HEADER_FIELDS_TOO_LARGE, "too many header fields")
            return False
        received: bool = http.HTTPChannel.headerReceived(self, line)
        return received

    def allContentReceived(self) -> None:
        self._head_size = self._head_count = 0
        http.HTTPChannel.allContentReceived(self)
        # twisted.web stops the silence timeout while it answers a request: an answer that never ends (a producer that
        # stalls, a client that reads nothing) held the connection, and its place under the caps, for good. The
        # timeout runs on, put off by every write. Not once the WebSocket has the connection (no transport).
        if self.requests and self.transport is not None:
            self.setTimeout(self.site.timeOut)  # type: ignore[no-untyped-call]

    def write(self, data: bytes) -> None:
        self.resetTimeout()  # type: ignore[no-untyped-call]
        http.HTTPChannel.write(self, data)

    def writeSequence(self, iovec: list[bytes]) -> None:
        self.resetTimeout()  # type: ignore[no-untyped-call]
        http.HTTPChannel.writeSequence(self, iovec)

    def lineLengthExceeded(self, line: bytes) -> None:
        """A line over 16 KB: the request's first (no request is read yet), or a header."""
        if self.requests:
            self.refuse(REQUEST_HEADER_FIELDS_TOO_LARGE, "request header fields too large")
        else:
            self.refuse(http.REQUEST_URI_TOO_LONG, "URI too long")

    def _respondToBadRequestAndDisconnect(self) -> None:
        """twisted.web's answer to a request it cannot read, which it writes bare: with the site's headers."""
        self.refuse(http.BAD_REQUEST, "bad request")

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        cancel(self._cut)
        # The answer's producer too: the transport stops it only if the channel was still registered with it, and
        # closing (at the timeout) unregisters it: a file's producer went on pulling from a closed request.
        self.stopProducing()  # type: ignore[no-untyped-call]
        http.HTTPChannel.connectionLost(self, reason)

    def pauseProducing(self) -> None:
        http.HTTPChannel.pauseProducing(self)
        self._networkProducer.pauseProducing()  # read again when its request is done and the transport drained

    def registerProducer(self, producer: object, streaming: bool) -> None:
        http.HTTPChannel.registerProducer(self, producer, streaming)
        held = _PausedOnce(cast(IPushProducer, self._requestProducer))
        self._requestProducer = held
        if self._waitingForTransport:
            held.pauseProducing()


@implementer(IPushProducer)
class _PausedOnce:
    """A producer as the channel holds it: paused once however many times it is told to pause, resumed only if
    paused."""

    def __init__(self, producer: IPushProducer) -> None:
        self.producer = producer
        self.paused = False

    def pauseProducing(self) -> None:
        if not self.paused:
            self.paused = True
            self.producer.pauseProducing()

    def resumeProducing(self) -> None:
        if self.paused:
            self.paused = False
            self.producer.resumeProducing()

    def stopProducing(self) -> None:
        self.producer.stopProducing()

    def stopStreaming(self) -> None:
        """A pull producer's stream (twisted.web's adapter of one) ends as the channel unregisters it."""
        self.producer.stopStreaming()  # type: ignore[attr-defined]


class ClientFiles(File):
    """The client's files, and no listing of a directory.

    Each asked again at every load (`no-cache`: a 304 when unchanged): with twisted.web's Last-Modified alone, a
    browser guesses how long a file stays fresh, and after an upgrade could load an old module beside a new one.
    """

    def directoryListing(self) -> IResource:
        return forbidden()

    def getChild(self, path: bytes, request: Request) -> IResource:
        """A segment no file of the client can be named is not found: twisted.web's File failed on a NUL (a 500, and a
        traceback in the log) and logged one that is not UTF-8, with the segment."""
        if b"\0" in path or not is_utf8(path):
            return self.childNotFound
        child: IResource = File.getChild(self, path, request)
        return child

    def render_GET(self, request: Request) -> bytes | int:
        # No byte ranges: the files are small. twisted.web's answer to several ranges crashes in its producer (the
        # multipart boundaries make it read a negative length), sends nothing and holds the connection; overlapping
        # ranges multiplied a small request 500 times; and a malformed Range was logged whole. Dropped before
        # twisted.web reads it, any Range gets the whole file.
        request.requestHeaders.removeHeader(b"range")
        request.setHeader(b"cache-control", b"no-cache")
        rendered: bytes | int = File.render_GET(self, request)
        request.responseHeaders.removeHeader(b"accept-ranges")  # not yet written: the file is sent from the next turn
        return rendered

    render_HEAD = render_GET

    def render_OPTIONS(self, request: Request) -> bytes:
        """What a file allows (twisted.web would answer 501 Not Implemented)."""
        request.setHeader(b"allow", ALLOWED)
        return b""


class Root(Resource):
    """`/irc` (and an upgrade to `/`) is the WebSocket; everything else, the client's files."""

    def __init__(self, files: File, socket: IResource) -> None:
        Resource.__init__(self)
        self.files = files
        self.socket = socket

    def getChildWithDefault(self, path: bytes, request: Request) -> IResource:
        if for_the_socket(path, request.getHeader(b"upgrade")):
            return self.socket
        child: IResource = self.files.getChildWithDefault(path, request)
        return child


class WebSite(Site):
    """Quiet: no access log (a URL can hold what someone typed), no line per factory start. Its connections' silence
    deadlines are `deadlines`' (chatroom.server.limits.Deadlines), not a reactor call each."""

    noisy = False
    # HTTP/1.1 alone: twisted.web's default (typed as the only one) would switch to HTTP/2 if the h2 package were there
    protocol = Channel  # type: ignore[assignment]

    requestFactory = GuardedRequest

    def __init__(self, root: IResource, hsts: bool | None, timeout: float, deadlines: Deadlines) -> None:
        Site.__init__(self, root, timeout=timeout, reactor=deadlines)
        self.hsts = hsts  # None: on port 443 with TLS
        self.deadlines = deadlines

    def log(self, request: http.Request) -> None:
        pass

    def acceptableProtocols(self) -> list[bytes]:
        """What TLS offers in ALPN: what the channel speaks."""
        return [b"http/1.1"]


def web_site(
    factory: ConnectionFactory,
    dialect: type[Dialect],
    origins: tuple[str, ...] = (),
    hsts: bool | None = None,
    client: Path = CLIENT,
) -> IProtocolFactory:
    """A web listener's factory: its connections count under `factory`'s caps, its WebSockets speak `dialect`."""
    sockets = WebSocketFactory(factory, dialect, origins, HEADERS)
    # An HTTP connection may stay silent (before its request: TLS, then the request) as long as a client may take to
    # register: --registration-timeout (twisted.web's default is 12 hours).
    timeout = factory.limits.registration_timeout
    deadlines = Deadlines(factory.clock)
    site = WebSite(Root(ClientFiles(str(client)), WebSocketResource(sockets)), hsts, timeout, deadlines)
    return Counting(factory, site, sockets, HEADERS, deadlines, timeout)

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
from twisted.internet.interfaces import IProtocolFactory, IPushProducer
from twisted.web import http
from twisted.web.pages import forbidden
from twisted.web.resource import IResource, Resource
from twisted.web.server import Request, Site
from twisted.web.static import File
from zope.interface import implementer

from chatroom.server.connection import ConnectionFactory, Dialect
from chatroom.server.limits import Deadlines
from chatroom.server.websocket import Counting, WebSocketFactory, for_the_socket

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
TOO_LARGE = b"HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


class GuardedRequest(Request):
    """A request whose answer, a file's or an error's, carries the headers; one with a body is refused.

    The site only serves files, and the WebSocket's upgrade has no body: twisted.web would keep any body it is
    sent, in a temporary file past 100 kB, before anyone looks at it.
    """

    hsts: bool | None = None  # None: on port 443 with TLS
    refused = False  # it came with a body: answered 413, and nothing of it is kept

    def gotLength(self, length: int | None) -> None:
        if length == 0:
            Request.gotLength(self, length)
            return
        self.refused = True  # a length, or chunks (None)
        self.content = BytesIO()
        transport = self.channel.transport
        if transport is not None:
            transport.write(TOO_LARGE)
            self.channel.loseConnection()  # the channel first stops producing: only then TLS sends its close_notify

    def handleContentChunk(self, data: bytes) -> None:
        if not self.refused:
            Request.handleContentChunk(self, data)

    def process(self) -> None:
        if not self.refused:
            Request.process(self)

    def render(self, resrc: IResource) -> None:
        """After twisted.web's own headers (its Server header among them), before the answer."""
        for name, value in HEADERS.items():
            Request.setHeader(self, name, value)
        hsts = self.hsts
        if hsts is None:
            host = Request.getHost(self)
            hsts = Request.isSecure(self) and getattr(host, "port", None) == HSTS_PORT
        if hsts:
            Request.setHeader(self, b"strict-transport-security", HSTS)
        Request.render(self, resrc)


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
    """

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

    def __init__(self, root: IResource, hsts: bool | None, timeout: float, deadlines: Deadlines) -> None:
        Site.__init__(self, root, timeout=timeout, reactor=deadlines)
        self.requestFactory = cast(type[Request], type("Request", (GuardedRequest,), {"hsts": hsts}))

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

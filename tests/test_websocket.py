"""The web listener: the web client's files over HTTPS, and IRC over WebSocket (chatroom.server.websocket), through
real sockets on loopback, against the service chatroom.app.tap builds."""

from __future__ import annotations

import re
from typing import Any

from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.internet import reactor, tcp
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IPushProducer
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.ssl import Certificate, optionsForClientTLS
from twisted.internet.task import Clock, NotPaused
from twisted.internet.testing import StringTransport
from twisted.logger import LogLevel
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import NoResource
from zope.interface import implementer

from chatroom.frontends.web.site import Channel, WebSite
from chatroom.server.limits import Deadlines
from chatroom.server.websocket import CLOSE_NORMAL, WebSocketFraming
from tests.helpers import LOOPBACK, LineClient, ServerTestCase, observe_log, port_of
from tests.test_metrics import MetricsTests

CLOSE_TOO_BIG = 1009  # RFC 6455: a message too big to process
CLOSE_PROTOCOL_ERROR = 1002


class WebClient(WebSocketClientProtocol):
    """A WebSocket client (autobahn's, as a browser would be): the messages it got, and how it was closed."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[tuple[bytes, bool]] = []  # (payload, binary) not yet waited for
        self.history: list[tuple[bytes, bool]] = []  # every message, in order
        self.opened: Deferred[None] = Deferred()
        self.closed: Deferred[tuple[int | None, str | None]] = Deferred()
        self._waiting: list[tuple[str, Deferred[bytes]]] = []
        self.subprotocol: str | None = None

    def onConnect(self, response: Any) -> None:
        self.subprotocol = response.protocol

    def onOpen(self) -> None:
        self.opened.callback(None)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.received.append((payload, isBinary))
        self.history.append((payload, isBinary))
        for waiting in list(self._waiting):
            prefix, found = waiting
            if prefix.encode() in payload:
                self._waiting.remove(waiting)
                del self.received[: self.received.index((payload, isBinary)) + 1]
                found.callback(payload)

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        if not self.opened.called:
            self.opened.errback(Failure(ConnectionError(reason)))
        self.closed.callback((code, reason))
        for _, found in self._waiting:
            found.errback(Failure(ConnectionError(f"closed before it came: {reason}")))

    def send(self, line: str, binary: bool = False) -> None:
        self.sendMessage(line.encode(), isBinary=binary)


class RawClient(Protocol):
    """Bytes out as given (`then` once the server first answers), everything received until the server closes."""

    def __init__(self, request: bytes, then: bytes = b"") -> None:
        self.request = request
        self.then = then
        self.data = b""
        self.lost: Deferred[bytes] = Deferred()
        self.reason: Failure | None = None  # why it ended: ConnectionDone for a clean close (over TLS, a close_notify)

    def connectionMade(self) -> None:
        self.transport.write(self.request)

    def dataReceived(self, data: bytes) -> None:
        self.data += data
        if self.then:
            self.transport.write(self.then)
            self.then = b""

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.reason = reason
        self.lost.callback(self.data)


class Greeted(Protocol):
    """Sends `first` once connected; `answered` fires with the server's first bytes (over TLS: the handshake done)."""

    def __init__(self, first: bytes) -> None:
        self.first = first
        self.answered: Deferred[bytes] = Deferred()

    def connectionMade(self) -> None:
        self.transport.write(self.first)

    def dataReceived(self, data: bytes) -> None:
        if not self.answered.called:
            self.answered.callback(data)
            self.transport.loseConnection()


UPGRADE = (
    "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
)


class WebTestCase(ServerTestCase):
    def start_web(self, *arguments: str) -> None:
        """The service with a web listener over TLS and one in plaintext, besides IRC over TLS."""
        self.start_server("--web", LOOPBACK, "--web-plaintext", LOOPBACK, *arguments)
        self.web_port, self.plain_port = (port_of(port) for port in self.service.ports[2:4])
        self.trust = Certificate.loadPEM((self.certs / "ca.pem").read_bytes())

    def endpoint(self, port: int, tls: bool) -> Any:
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port)
        return wrapClientTLS(optionsForClientTLS("localhost", trustRoot=self.trust), endpoint) if tls else endpoint

    async def web_client(
        self, protocols: list[str], tls: bool = False, origin: str | None = None, path: str = "/irc"
    ) -> WebClient:
        port = self.web_port if tls else self.plain_port
        scheme = "wss" if tls else "ws"
        factory = WebSocketClientFactory(f"{scheme}://localhost:{port}{path}", protocols=protocols, origin=origin)
        factory.setProtocolOptions(openHandshakeTimeout=0, closeHandshakeTimeout=0)  # no timer outlives the test
        factory.protocol = WebClient
        client = factory.buildProtocol(None)
        assert isinstance(client, WebClient)
        await connectProtocol(self.endpoint(port, tls), client)
        self.addCleanup(self._close, client)
        return client

    @staticmethod
    async def _close(client: WebClient) -> None:
        if not client.closed.called:
            client.transport.abortConnection()
        await client.closed

    async def raw(self, request: str | bytes, tls: bool = False, then: bytes = b"") -> str:
        """What the server answers `request` (and `then`, sent once it answers), until it closes."""
        client = await self.raw_client(request, tls, then)
        return (await client.lost).decode("latin-1")  # every byte as one character: a frame's too

    async def raw_client(self, request: str | bytes, tls: bool = False, then: bytes = b"") -> RawClient:
        client = RawClient(request.encode() if isinstance(request, str) else request, then)
        await connectProtocol(self.endpoint(self.web_port if tls else self.plain_port, tls), client)
        return client

    async def register(self, client: WebClient, nick: str, room: str | None = None) -> None:
        await client.opened
        client.send(f"NICK {nick}")
        client.send(f"USER {nick} 0 * :{nick}")
        await until(client, " 001 ")
        if room is not None:
            client.send(f"JOIN {room}")
            await until(client, " 366 ")

    async def irc_client(self, nick: str, room: str) -> LineClient:
        """An IRC client over TLS, in `room`."""
        endpoint = wrapClientTLS(
            optionsForClientTLS("localhost", trustRoot=self.trust),
            TCP4ClientEndpoint(reactor, "127.0.0.1", self.irc_port),
        )
        client: LineClient = await connectProtocol(endpoint, LineClient())
        self.addCleanup(self._disconnect, client)
        client.send(f"NICK {nick}", f"USER {nick} 0 * :{nick}", f"JOIN {room}")
        await client.until(f":irc.test 366 {nick} {room}")
        return client


async def until(client: WebClient, text: str) -> bytes:
    """The first message holding `text`, skipping those before it."""
    for index, (payload, _) in enumerate(client.received):
        if text.encode() in payload:
            del client.received[: index + 1]
            return payload
    found: Deferred[bytes] = Deferred()
    client._waiting.append((text, found))
    return await found


SUBPROTOCOL_ORDER = ["text.ircv3.net", "binary.ircv3.net", "text.ircv3.net", "binary.ircv3.net"]


class WebSocketTests(WebTestCase):
    async def test_the_subprotocol_the_client_prefers_and_its_kind_of_message(self) -> None:
        self.start_web()
        for offered, chosen, binary in [
            (["binary.ircv3.net", "text.ircv3.net"], "binary.ircv3.net", True),
            (["text.ircv3.net", "binary.ircv3.net"], "text.ircv3.net", False),
            ([], None, False),
        ]:
            client = await self.web_client(offered)
            await self.register(client, "web", "#room")
            self.assertEqual(client.subprotocol, chosen)
            kinds = {is_binary for _, is_binary in client.history}
            self.assertEqual(kinds, {binary}, offered)
            # One IRC message per WebSocket message, without its CRLF, even where IRC renders two at once
            # (the end of NAMES after its list).
            self.assertFalse([payload for payload, _ in client.history if b"\n" in payload or b"\r" in payload])
            client.sendClose(1000)
            await client.closed
        # A browser offers compression (every one does): accepted, without it.
        deflate = "Sec-WebSocket-Protocol: text.ircv3.net\r\nSec-WebSocket-Extensions: permessage-deflate\r\n"
        accepted = await self.raw(
            UPGRADE.format(path="/irc", host="localhost", extra=deflate), then=b"\x88\x80\0\0\0\0"
        )
        self.assertTrue(accepted.startswith("HTTP/1.1 101"), accepted)
        self.assertNotIn("sec-websocket-extensions", accepted.lower())
        # Only the handshake's own headers, each a name and a value: the site's once came as one header a byte (a
        # strict client, Python's websockets, refused the answer: "more than 128 headers").
        header_lines = accepted.partition("\r\n\r\n")[0].split("\r\n")[1:]
        self.assertLess(len(header_lines), 10, header_lines)
        self.assertTrue(all(re.fullmatch(r"[A-Za-z-]+: \S.*", line) for line in header_lines), header_lines)
        mqtt = "Sec-WebSocket-Protocol: mqtt\r\n"
        refused = await self.raw(UPGRADE.format(path="/irc", host="localhost", extra=mqtt))
        self.assertTrue(refused.startswith("HTTP/1.1 400"), refused)
        self.assertIn("none of text.ircv3.net, binary.ircv3.net", refused)

    async def test_one_broadcast_reaches_text_and_binary_members_each_in_its_kind(self) -> None:
        """A broadcast is framed once per kind of message and written to every member (chatroom.server.websocket)."""
        self.start_web()
        irc = await self.irc_client("nonweb", "#room")
        members = [(await self.web_client([kind]), kind == "binary.ircv3.net") for kind in SUBPROTOCOL_ORDER]
        for number, (client, _) in enumerate(members):
            await self.register(client, f"web{number}", "#room")
        for text in ("first to all", "second to all"):
            irc.send(f"PRIVMSG #room :{text}")
            for client, binary in members:
                heard = await until(client, text)
                self.assertEqual(heard, f":nonweb!nonweb@chatroom PRIVMSG #room :{text}".encode())
                self.assertEqual(client.history[-1], (heard, binary))

    async def test_text_and_binary_messages_are_both_read_and_several_lines_are_several_messages(self) -> None:
        self.start_web()
        irc = await self.irc_client("nonweb", "#room")
        client = await self.web_client(["text.ircv3.net"])
        await client.opened
        client.send("NICK web", binary=True)
        client.send("USER web 0 * :web\r\nJOIN #room")  # two lines in one message, as line framing reads them
        await until(client, " 366 ")
        await irc.until(":web!web@")  # its JOIN
        client.send("PRIVMSG #room :caf\u00e9")
        said, _ = await irc.until(":web!web@")
        self.assertEqual(said.rstrip("\r").split(" ", 1)[1], "PRIVMSG #room :caf\u00e9")

    async def test_an_open_connection_that_talked_keeps_only_its_slots(self) -> None:
        """Memory per connection: what autobahn sets at every frame lives in slots, and its per-connection objects
        (the handshake, a UTF-8 validator, the last frame's masker, futures, traffic counters) are let go, so a
        connection that has talked holds an empty dictionary, as one that has just opened does."""
        self.start_web()
        irc = await self.irc_client("nonweb", "#room")
        client = await self.web_client(["text.ircv3.net"])
        await self.register(client, "web", "#room")
        client.send("PRIVMSG #room :text")
        client.send("PRIVMSG #room :binary", binary=True)
        client.sendPing(b"are you there")
        await irc.until(":web!web@chatroom PRIVMSG #room :text")
        await irc.until(":web!web@chatroom PRIVMSG #room :binary")
        connections = self.service.factory.connections
        (framing,) = [each.transport for each in connections if isinstance(each.transport, WebSocketFraming)]
        self.assertEqual(vars(framing), {})
        self.assertRegex(framing.peer, r"^tcp4:127\.0\.0\.1:\d+$")  # made when autobahn reads it, for a log line

    async def test_an_oversized_message_closes_with_a_reason(self) -> None:
        self.start_web()
        irc = await self.irc_client("nonweb", "#room")
        client = await self.web_client(["text.ircv3.net"])
        await self.register(client, "web", "#room")
        client.send("PRIVMSG #room :" + "x" * 10_000)
        code, _ = await client.closed
        self.assertEqual(code, CLOSE_TOO_BIG)
        await irc.until(":web!web@chatroom QUIT ")  # the session ended with the connection

    async def test_a_flood_is_slowed_not_dropped(self) -> None:
        self.start_web("--flood-burst", "2", "--flood-rate", "50")
        client = await self.web_client(["text.ircv3.net"])
        await self.register(client, "web")
        for number in range(12):
            client.send(f"PING :{number}")
        await until(client, "PONG irc.test :11")
        pongs = [payload.rsplit(b":", 1)[1] for payload, _ in client.history if b" PONG " in payload]
        self.assertEqual(pongs, [str(number).encode() for number in range(12)])  # every one read, in order
        self.assertGreater(self.service.factory.counts.flood_slowdowns, 0)

    async def test_lines_held_by_flood_control_when_the_client_closes_are_read(self) -> None:
        # Found by hand: a browser's last lines, then its tab closed (or Log out, or /quit): those that flood control
        # held were thrown away with the close, and the room saw "connection lost" for a QUIT with its own words.
        self.start_web("--flood-burst", "2", "--flood-rate", "50")
        irc = await self.irc_client("nonweb", "#room")
        client = await self.web_client(["text.ircv3.net"])
        await self.register(client, "web", "#room")
        for number in range(8):
            client.send(f"PRIVMSG #room :line {number}")
        client.send("QUIT :my own goodbye")
        client.sendClose(CLOSE_NORMAL)  # as a browser closing its tab
        quit, _ = await irc.until(":web!web@chatroom QUIT ")
        self.assertTrue(quit.rstrip("\r").endswith(":Quit: my own goodbye"), quit)
        said = [line.rstrip("\r").rsplit(":", 1)[1] for line in irc.lines if " PRIVMSG #room :" in line]
        self.assertEqual(said, [f"line {number}" for number in range(8)], "every line, in order")

    async def test_a_lost_connection_ends_the_session(self) -> None:
        self.start_web()
        irc = await self.irc_client("nonweb", "#room")
        client = await self.web_client(["binary.ircv3.net"])
        await self.register(client, "web", "#room")
        client.transport.abortConnection()
        await client.closed
        quit, _ = await irc.until(":web!web@chatroom QUIT ")
        self.assertTrue(quit.rstrip("\r").endswith(":Quit: connection lost"), quit)

    async def test_garbage_is_answered_with_a_close_or_an_error_never_a_traceback(self) -> None:
        logged = observe_log(self)
        self.start_web()
        answer = await self.raw(b"\x16\x03\x01 not http at all\r\n\r\n")
        self.assertTrue(answer.startswith("HTTP/1.1 400"), answer)
        # An unmasked frame with a reserved opcode, after a good upgrade: a protocol error, closed.
        upgrade = UPGRADE.format(path="/irc", host="localhost", extra="Sec-WebSocket-Protocol: text.ircv3.net\r\n")
        answer = await self.raw(upgrade, then=b"\x83\x03abc")
        head, _, frames = answer.partition("\r\n\r\n")
        self.assertTrue(head.startswith("HTTP/1.1 101"), head)
        self.assertEqual(frames[:1], "\x88")  # a close frame: its code (1002, a protocol error) and why
        self.assertEqual(frames[2:4].encode("latin-1"), CLOSE_PROTOCOL_ERROR.to_bytes(2, "big"))
        # Invalid UTF-8 in a text frame: autobahn closes it (1007); chatroom never sees it.
        client = await self.web_client(["text.ircv3.net"])
        await client.opened
        client.sendFrame(opcode=1, payload=b"NICK caf\xe9")
        code, _ = await client.closed
        self.assertEqual(code, 1007)
        self.assertFalse([event for event in logged if event.get("log_failure") is not None])
        self.assertFalse([event for event in logged if event["log_level"] >= LogLevel.error])


class WebSiteTests(WebTestCase):
    async def test_the_client_files_with_the_security_headers(self) -> None:
        self.start_web()
        answer = await self.raw("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", tls=True)
        head, _, body = answer.partition("\r\n\r\n")
        self.assertTrue(head.startswith("HTTP/1.1 200"), head)
        self.assertIn("<html", body)
        headers = head.lower()
        self.assertIn("content-security-policy: default-src 'self'; script-src 'self';", headers)
        self.assertIn("frame-ancestors 'none'", headers)
        self.assertIn("x-content-type-options: nosniff", headers)
        self.assertIn("x-frame-options: deny", headers)
        self.assertNotIn("strict-transport-security", headers)  # not on 443, not asked
        self.assertIn("server: chatroom\r\n", headers)  # not twisted.web's version
        script = await self.raw("GET /app.js HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", tls=True)
        script_head = script.partition("\r\n\r\n")[0].lower()
        self.assertIn("cache-control: no-cache\r\n", script_head, "asked again at each load, never stale")
        listing = await self.raw("GET /.. HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        self.assertFalse(listing.startswith("HTTP/1.1 200"), listing)

    async def test_a_request_with_a_body_is_refused_before_it_is_read(self) -> None:
        self.start_web()
        for framing in ("Content-Length: 1000000000", "Transfer-Encoding: chunked"):
            answer = await self.raw(f"POST / HTTP/1.1\r\nHost: localhost\r\n{framing}\r\n\r\n" + "x" * 1000)
            self.assertTrue(answer.startswith("HTTP/1.1 413"), answer)

    async def test_a_silent_connection_is_closed_after_the_registration_timeout(self) -> None:
        """Over TLS with a close_notify: the first request's reader was still the transport's producer when it closed
        the connection, so TLS held its close_notify back, and the connection was cut 5 s later."""
        self.start_web("--registration-timeout", "0.5")
        for tls in (False, True):
            for said in (b"", b"GET /irc HTTP/1.1\r\nHost: localhost\r\n"):  # nothing, or not a whole request
                client = await self.raw_client(said, tls)
                self.assertEqual(await client.lost, b"")  # closed by the server, having said nothing
                assert client.reason is not None
                self.assertIsInstance(client.reason.value, ConnectionDone, f"tls={tls} {said!r}")

    async def test_a_bad_request_line_is_answered_at_once(self) -> None:
        self.start_web()  # a silence of 30 s allowed: the answer must not wait for it
        for line in (b"GARBAGE\r\n", b"GET /\r\n"):
            answer = await self.raw(line)
            self.assertTrue(answer.startswith("HTTP/1.1 400"), answer)

    async def test_a_request_head_over_the_limit_is_not_upgraded(self) -> None:
        """twisted.web's limits on a request's head (16 KB, 500 headers) held for an upgrade read in one piece too."""
        self.start_web()
        for extra in ("X-Pad: " + "a" * 40_000 + "\r\n", "X-A: b\r\n" * 600):
            answer = await self.raw(UPGRADE.format(path="/irc", host="localhost", extra=extra))
            self.assertFalse(answer.startswith("HTTP/1.1 101"), answer[:100])

    async def test_a_client_that_sends_faster_than_it_is_answered_is_read_no_faster(self) -> None:
        """twisted.web stops reading a connection while it answers a request and more than 16 KB wait behind it. It
        pauses its transport, the web listener's wrapper, which once answered that itself and went on reading: a
        client that never read its answers made the server keep all it sent."""
        self.start_web()
        paused: list[tcp.Server] = []
        pause = tcp.Server.pauseProducing

        def pausing(server: tcp.Server) -> None:
            paused.append(server)
            pause(server)

        self.patch(tcp.Server, "pauseProducing", pausing)
        # 22 KB in one go behind the first request, in requests whose answers are small: the send buffer never
        # fills, so what pauses reading is the requests waiting, not the answers.
        first = b"GET /icon.svg HTTP/1.1\r\nHost: localhost\r\n\r\n"
        waiting = b"GET /icon.svg HTTP/1.1\r\nHost: localhost\r\nX-Pad: " + b"a" * 7000 + b"\r\n\r\n"
        last = b"GET /icon.svg HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        answer = await self.raw(first + waiting * 3 + last)
        self.assertEqual(answer.count("HTTP/1.1 200"), 5)
        self.assertTrue(paused, "read on while answering")

    async def test_a_websocket_is_read_by_autobahn_alone_and_a_page_by_the_site(self) -> None:
        """A connection's first request went through twisted.web's request before autobahn read it again from a copy:
        a WebSocket connection's objects of the first read cost it CPU, and memory in the holes they left."""
        self.start_web()
        listener: Any = self.service.ports[3]  # the plaintext one: its factory is the Counting wrapper
        site = listener.factory.wrappedFactory
        channels: list[object] = []
        build = site.buildProtocol

        def building(address: object) -> object:
            channels.append(address)
            return build(address)

        self.patch(site, "buildProtocol", building)
        client = await self.web_client(["text.ircv3.net"])
        await self.register(client, "web")
        self.assertEqual(channels, [])
        answer = await self.raw("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        self.assertTrue(answer.startswith("HTTP/1.1 200"), answer)
        self.assertEqual(len(channels), 1)

    async def test_the_sockets_address_opened_as_a_page_is_refused_with_the_sites_headers(self) -> None:
        """autobahn answered a request for /irc that was no upgrade with its own status page (its name and version,
        none of the site's headers), and one with `?redirect=URL` with a redirection to anywhere."""
        self.start_web()
        for path in ("/irc", "/irc/page", "/irc?redirect=https%3A%2F%2Fevil.example"):
            answer = await self.raw(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            self.assertTrue(answer.startswith("HTTP/1.1 426 Upgrade Required\r\n"), answer)
            self.assertIn("\r\nupgrade: websocket\r\n", answer)
            self.assertIn("\r\nx-frame-options: DENY\r\n", answer)
            self.assertNotIn("evil.example", answer)
            self.assertNotIn("Autobahn", answer)

    async def test_an_upgrade_after_a_page_on_the_same_connection(self) -> None:
        """The site still serves an upgrade that is not a connection's first request, as a kept-alive client sends."""
        self.start_web()
        page = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
        upgrade = UPGRADE.format(path="/irc", host="localhost", extra="")
        answer = await self.raw(page + upgrade, then=b"\x88\x80\0\0\0\0")  # and a close, masked
        first, _, rest = answer.partition("HTTP/1.1 101")
        self.assertTrue(first.startswith("HTTP/1.1 200"), first)
        self.assertIn("\r\n\r\n\x88", rest)  # the close answered

    async def test_hsts_when_asked(self) -> None:
        self.start_web("--web-hsts")
        answer = await self.raw("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", tls=True)
        self.assertIn("strict-transport-security: max-age=31536000", answer.lower())

    async def test_over_tls_a_browser_talks_with_an_irc_client_and_another_site_is_refused(self) -> None:
        logged = observe_log(self)
        self.start_web()
        irc = await self.irc_client("nonweb", "#room")
        client = await self.web_client(["text.ircv3.net"], tls=True, origin=f"https://localhost:{self.web_port}")
        await self.register(client, "web", "#room")
        await irc.until(":web!web@")  # its JOIN
        client.send("PRIVMSG #room :hello from a browser")
        said, _ = await irc.until(":web!web@")
        self.assertTrue(said.rstrip("\r").endswith("PRIVMSG #room :hello from a browser"), said)
        irc.send("PRIVMSG #room :hello from IRC")
        heard = await until(client, "hello from IRC")
        self.assertTrue(heard.startswith(b":nonweb!nonweb@"), heard)

        hostile = await self.web_client(["text.ircv3.net"], tls=True, origin="https://evil.example")
        with self.assertRaises(ConnectionError) as refused:
            await hostile.opened
        self.assertIn("403", str(refused.exception))
        allowed = await self.raw(
            UPGRADE.format(path="/irc", host=f"localhost:{self.web_port}", extra="Origin: https://evil.example\r\n"),
            tls=True,
        )
        self.assertTrue(allowed.startswith("HTTP/1.1 403"), allowed)
        # Answered as the site answers, with its headers (autobahn wrote none), and the reason.
        self.assertIn("\r\nx-frame-options: DENY\r\n", allowed)
        self.assertIn("\r\ncontent-security-policy: default-src 'self';", allowed)
        self.assertTrue(allowed.endswith("\r\n\r\norigin not allowed\n"), allowed)
        # Any page could have its visitors' browsers knock: no log line for each (autobahn wrote one).
        self.assertFalse([event for event in logged if "evil.example" in str(event) or "origin" in str(event)])

    async def test_another_origin_when_allowed(self) -> None:
        self.start_web("--web-origin", "https://chat.example.org")
        client = await self.web_client(["text.ircv3.net"], origin="https://chat.example.org")
        await self.register(client, "web")

    async def test_web_connections_count_under_the_caps_per_address(self) -> None:
        self.start_web("--max-per-address", "1", "--limit-loopback")
        client = await self.web_client(["text.ircv3.net"])
        await self.register(client, "web")
        self.assertEqual(self.service.factory.admission.total, 1)  # its HTTP connection's place, held by its session
        answer = await self.raw("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        self.assertTrue(answer.startswith("HTTP/1.1 503"), answer)
        self.assertIn("too many connections from 127.0.0.1", answer)
        self.assertIn("\r\nx-content-type-options: nosniff\r\n", answer)
        client.sendClose(1000)
        await client.closed
        second = await self.web_client(["text.ircv3.net"])
        await self.register(second, "again")
        self.assertEqual(self.service.factory.admission.total, 1)


class WebCountedTests(WebTestCase):
    async def test_a_browser_tab_is_counted_and_listed_as_web(self) -> None:
        """They were counted as frontend="irc" in the metrics, and listed as irc sessions: they speak IRC, but to an
        administrator or the person themself, they are the web client's."""
        self.start_web("--metrics", LOOPBACK)
        client = await self.web_client(["text.ircv3.net"])
        await self.register(client, "tab")
        figures = await MetricsTests.scrape(self)  # type: ignore[arg-type]  # a ServerTestCase as well
        self.assertEqual(figures['chatroom_connections{frontend="web",state="member"}'], 1)
        self.assertEqual(figures['chatroom_connections{frontend="irc",state="member"}'], 0)


class ALPNTests(WebTestCase):
    async def test_a_client_offering_alpn_is_served_on_every_listener(self) -> None:
        """Twisted answered b"" to an ALPN offer it could not match, which OpenSSL takes as fatal: every browser's
        handshake with the site, and an IRC or line client's that offered ALPN, ended in an `internal error` alert."""
        self.start_web()
        served = [
            (self.web_port, [b"h2", b"http/1.1"], b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", b"http/1.1"),
            (self.irc_port, [b"irc"], b"PING :alpn\r\n", None),
            (self.port, [b"chatroom"], b"", None),  # the line protocol says HELLO first
        ]
        for port, offered, first, agreed in served:
            options = optionsForClientTLS("localhost", trustRoot=self.trust, acceptableProtocols=offered)
            endpoint = wrapClientTLS(options, TCP4ClientEndpoint(reactor, "127.0.0.1", port))
            client = await connectProtocol(endpoint, Greeted(first))
            self.assertTrue(await client.answered, port)
            self.assertEqual(client.transport.negotiatedProtocol, agreed, port)


@implementer(IPushProducer)
class CountingProducer:
    """A file as twisted.web serves it (its task counts pauses, as a cooperative task does): running while unpaused;
    resuming one not paused is an error (`NotPaused`, which dropped the connection)."""

    def __init__(self) -> None:
        self.pauses = 0

    def pauseProducing(self) -> None:
        self.pauses += 1

    def resumeProducing(self) -> None:
        if not self.pauses:
            raise NotPaused()
        self.pauses -= 1

    def stopProducing(self) -> None:
        pass


class ChannelPauseTests(SynchronousTestCase):
    """The site's channel between the TCP transport, which pauses it at every write past its buffer's limit and
    resumes it once, and the producer of the answer it sends."""

    def setUp(self) -> None:
        self.channel = Channel()
        self.channel.makeConnection(StringTransport())
        self.addCleanup(self.channel.connectionLost, Failure(ConnectionDone()))

    def test_a_file_paused_by_its_head_and_by_its_body_runs_again_once_the_buffer_drains(self) -> None:
        """Paused twice, resumed once, it never ran again: a client pipelining requests for files stalled."""
        served = CountingProducer()
        self.channel.registerProducer(served, True)
        self.channel.pauseProducing()  # the answer's head met a full buffer
        self.channel.pauseProducing()  # and its body
        self.channel.resumeProducing()  # the buffer drained
        self.assertEqual(served.pauses, 0, "running again")

    def test_a_file_asked_for_while_the_buffer_is_full_waits_and_then_runs(self) -> None:
        """It was neither paused (sent whole into the buffer) nor safe to resume (NotPaused)."""
        self.channel.pauseProducing()  # the answers before it filled the buffer
        served = CountingProducer()
        self.channel.registerProducer(served, True)
        self.assertEqual(served.pauses, 1, "waiting")
        self.channel.resumeProducing()
        self.assertEqual(served.pauses, 0, "running")

    def test_a_client_that_reads_nothing_is_not_read_while_its_answers_wait(self) -> None:
        """A 404 is written while its request is answered, when twisted.web's channel did not stop reading: a client
        pipelining requests for missing files, reading nothing, had its answers kept without bound (45 MB in 4 s)."""
        transport = Full()
        channel = WebSite(NoResource(), None, 30, Deadlines(Clock())).buildProtocol(None)
        channel.makeConnection(transport)
        self.addCleanup(channel.connectionLost, Failure(ConnectionDone()))
        channel.dataReceived(b"GET /nothere HTTP/1.1\r\nHost: localhost\r\n\r\n")
        self.assertIn(b" 404 ", transport.value())
        self.assertEqual(transport.producerState, "paused", "not read while its answer waits")
        channel.resumeProducing()  # the transport drained
        self.assertEqual(transport.producerState, "producing", "read again")


class Full(StringTransport):
    """A transport whose buffer is past its limit: it pauses its producer at every write, as Twisted's does then."""

    def write(self, data: bytes) -> None:
        StringTransport.write(self, data)
        if self.producer is not None:
            self.producer.pauseProducing()

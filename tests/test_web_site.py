"""The web listener's site (chatroom.frontends.web.site) against hostile requests, over TLS on loopback: whatever a
client sends is answered with the site's headers, at once, without a traceback, and none of it reaches the log."""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import connectProtocol
from twisted.logger import ILogObserver, LogEvent, LogLevel, formatEvent, globalLogPublisher
from twisted.web import static
from zope.interface import provider

from chatroom.frontends.web.site import CLIENT
from chatroom.server import websocket
from tests.helpers import observe_log
from tests.test_websocket import UPGRADE, RawClient, WebTestCase

SCRIPT = (CLIENT / "app.js").read_bytes()
SECRET = "hunter2"  # stands for what someone typed: it must never reach the log


def head_and_body(answer: str) -> tuple[str, str]:
    head, _, body = answer.partition("\r\n\r\n")
    return head.lower(), body


class RangeTests(WebTestCase):
    """Byte ranges are not served: the site's files are small, and twisted.web's ranges were its weak point."""

    async def get_script(self, range_header: str) -> tuple[str, str]:
        request = f"GET /app.js HTTP/1.1\r\nHost: localhost\r\nRange: {range_header}\r\nConnection: close\r\n\r\n"
        return head_and_body(await self.raw(request, tls=True))

    def assert_whole_file(self, head: str, body: str) -> None:
        self.assertTrue(head.startswith("http/1.1 200 "), head)
        self.assertEqual(body.encode("latin-1"), SCRIPT)
        self.assertNotIn("accept-ranges", head)
        self.assertNotIn("content-range", head)

    async def test_many_ranges_get_the_whole_file_once(self) -> None:
        """800 ranges made twisted.web's multipart producer raise (a critical traceback), send nothing, and hold the
        connection past every timeout; 600 overlapping ones were answered with 2.4 MB for a 4.9 KB request."""
        logged = observe_log(self)
        self.start_web()
        for ranges in (["0-0"] * 800, [f"0-{len(SCRIPT) - 1}"] * 600):
            head, body = await self.get_script("bytes=" + ",".join(ranges))
            self.assert_whole_file(head, body)
        self.assertFalse([event for event in logged if event["log_level"] >= LogLevel.warn])

    async def test_a_single_range_and_a_malformed_one_get_the_whole_file_and_nothing_is_logged(self) -> None:
        """twisted.web logged a malformed Range header whole: up to 8 KB of whatever the client sent."""
        logged = observe_log(self)
        self.start_web()
        for range_header in ("bytes=0-10", f"my password is {SECRET}"):
            self.assert_whole_file(*await self.get_script(range_header))
        answer = await self.raw("HEAD /app.js HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", tls=True)
        self.assertNotIn("accept-ranges", head_and_body(answer)[0])
        self.assertFalse([event for event in logged if SECRET in str(event)])


def assert_site_headers(test: WebTestCase, head: str) -> None:
    test.assertIn("\r\nserver: chatroom\r\n", head)
    test.assertIn("\r\ncontent-security-policy: default-src 'self';", head)
    test.assertIn("\r\nx-content-type-options: nosniff\r\n", head)
    test.assertIn("\r\nx-frame-options: deny\r\n", head)
    test.assertNotIn("twisted", head)


class ErrorTests(WebTestCase):
    """twisted.web's own answers carry the site's headers, and what it cannot serve is not a traceback."""

    async def test_an_impossible_path_is_not_found_without_a_traceback_or_a_log_line(self) -> None:
        """A NUL was a 500 from twisted.web (its Server header, none of the site's) and a critical traceback in the
        log at every request; a segment that is not UTF-8 was logged, with the segment."""
        logged = observe_log(self)
        self.start_web()
        for path in ("/app.js%00.html", f"/{SECRET}%00", f"/{SECRET}%ff", f"/caf%c3/{SECRET}"):
            answer = await self.raw(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", tls=True)
            head, _ = head_and_body(answer)
            self.assertTrue(head.startswith("http/1.1 404 "), head)
            assert_site_headers(self, head)
        self.assertFalse([event for event in logged if event["log_level"] >= LogLevel.warn or SECRET in str(event)])

    async def test_options_and_methods_not_served_are_answered_with_the_headers(self) -> None:
        """`OPTIONS *` was answered by twisted.web alone: 200 with its Server header and none of the site's."""
        self.start_web()
        options = await self.raw("OPTIONS * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", tls=True)
        head, _ = head_and_body(options)
        self.assertTrue(head.startswith("http/1.1 200 "), head)
        self.assertIn("\r\nallow: get, head, options\r\n", head)
        assert_site_headers(self, head)
        for request, code in [
            ("OPTIONS /app.js", "200"),
            ("POST /app.js", "405"),
            ("GET *", "405"),
            ("DELETE /", "501"),
        ]:
            answer = await self.raw(f"{request} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", tls=True)
            head, _ = head_and_body(answer)
            self.assertTrue(head.startswith(f"http/1.1 {code} "), head)
            if code in ("200", "405"):
                self.assertIn("\r\nallow: ", head)
            assert_site_headers(self, head)

    async def test_refusals_carry_the_headers(self) -> None:
        """A request twisted.web could not read (400) and one with a body (413) were answered bare."""
        self.start_web()
        for request, code in [
            ("GARBAGE\r\n", "400"),
            ("GET / HTTP/1.1\r\nHost: localhost\r\nBad\0Header: x\r\n\r\n", "400"),
            ("POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello", "413"),
        ]:
            for tls in (False, True):
                head, body = head_and_body(await self.raw(request, tls=tls))
                self.assertTrue(head.startswith(f"http/1.1 {code} "), head)
                assert_site_headers(self, head)
                self.assertTrue(body, "the reason")

    async def test_nothing_a_client_sends_is_logged(self) -> None:
        """Whatever the request holds, in its path, query, headers or method, none of it reaches the log."""
        logged = observe_log(self)
        self.start_web()
        requests = [
            f"GET /{SECRET} HTTP/1.1",
            f"GET /?{SECRET}=%ff%00 HTTP/1.1",
            f"HEAD /{SECRET}%ff HTTP/1.1",
            f"{SECRET} / HTTP/1.1",
            f"GET /irc/{SECRET} HTTP/1.1",
            f"GET /app.js HTTP/1.1\r\nRange: bytes={SECRET}",
            f"GET /app.js HTTP/1.1\r\nIf-Modified-Since: {SECRET}\r\nIf-None-Match: {SECRET}",
            f"GET / HTTP/1.1\r\nCookie: {SECRET}=\0\r\nAuthorization: Basic {SECRET}",
            f"GET / HTTP/1.1\r\nUpgrade: websocket\r\nOrigin: https://{SECRET}",
            f"GET /irc HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {SECRET}",
        ]
        for request in requests:
            await self.raw(f"{request}\r\nHost: localhost\r\nConnection: close\r\n\r\n", tls=True)
        self.assertFalse([event for event in logged if SECRET in str(event)])


class OversizeTests(WebTestCase):
    async def test_an_over_long_request_is_answered_and_closed_at_once(self) -> None:
        """A 100 KB header, a 20 KB URL or an upgrade with a 100 KB header got no answer, and were closed without a
        word (over TLS, only once the silence timeout passed); too many headers got a bare 400."""
        self.start_web("--registration-timeout", "3600")  # an answer must not wait for it
        pad = "X-Pad: " + "a" * 100_000 + "\r\n"
        requests = [
            (f"GET / HTTP/1.1\r\nHost: localhost\r\n{pad}\r\n", "431"),
            ("GET /" + "a" * 20_000 + " HTTP/1.1\r\nHost: localhost\r\n\r\n", "414"),
            (UPGRADE.format(path="/irc", host="localhost", extra=pad), "431"),
            ("GET / HTTP/1.1\r\nHost: localhost\r\n" + "X-A: b\r\n" * 600 + "\r\n", "431"),
            # on a kept-alive connection, after a page
            ("GET / HTTP/1.1\r\nHost: localhost\r\n\r\nGET /" + "a" * 20_000 + " HTTP/1.1\r\n\r\n", "414"),
        ]
        for request, code in requests:
            for tls in (False, True):
                answer = await self.raw(request, tls)  # until the server closes: it answers and closes at once
                last = answer[answer.rfind("HTTP/1.1 ") :]
                head, body = head_and_body(last)
                self.assertTrue(head.startswith(f"http/1.1 {code} "), (tls, code, answer[:300]))
                assert_site_headers(self, head)
                self.assertIn("too", body.lower())


class TimeoutTests(WebTestCase):
    async def test_an_answer_that_stops_is_cut_off_at_the_silence_timeout(self) -> None:
        """twisted.web stops the connection's timeout while it answers: a file whose producer stopped (as its
        multipart producer did, crashed by a Range) held the connection, and its place under the caps, for good."""
        logged = observe_log(self)
        self.patch(static.NoRangeStaticProducer, "resumeProducing", lambda producer: None)  # never writes
        self.start_web("--registration-timeout", "0.5")
        for tls in (False, True):
            client = await self.raw_client("GET /app.js HTTP/1.1\r\nHost: localhost\r\n\r\n", tls)
            self.assertEqual(await client.lost, b"")  # closed by the server, the answer not begun
        self.assertFalse([event for event in logged if event["log_level"] >= LogLevel.warn])

    async def test_an_idle_connection_is_closed_without_a_log_line(self) -> None:
        """twisted.web logged `Timing out client` with the address, for every connection a page load left open."""
        logged = observe_log(self)
        self.start_web("--registration-timeout", "0.5")
        for tls in (False, True):
            answer = await self.raw("GET /icon.svg HTTP/1.1\r\nHost: localhost\r\n\r\n", tls)  # kept alive, then idle
            self.assertTrue(answer.startswith("HTTP/1.1 200 "), answer)
        self.assertFalse([event for event in logged if event["log_namespace"].startswith("chatroom.frontends.web")])


OPEN = UPGRADE.format(path="/irc", host="localhost", extra="Sec-WebSocket-Protocol: text.ircv3.net\r\n")
CLOSE_REPLY = b"\x88\x80\0\0\0\0"  # a client's close frame (masked, empty), as it answers the server's


def close_code(answer: str) -> int:
    """The code of the close frame that follows the 101."""
    head, _, frames = answer.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 101"), head
    close = frames[frames.index("\x88") :].encode("latin-1")
    return int.from_bytes(close[2:4], "big")


class BadFrameTests(WebTestCase):
    async def test_a_bad_frame_closes_with_its_code_and_no_log_line(self) -> None:
        """autobahn logged a warning for every bad frame, and another when the connection dropped: a log line any
        client could add at will. And a client that did not answer the close kept its connection open."""
        logged = observe_log(self)
        self.start_web()
        frames = [
            (b"\x83\x03abc", 1002),  # unmasked, and a reserved opcode: a second error while closing
            (b"\x81\x83\0\0\0\0\xff\xfe\xfd", 1007),  # a text message that is not UTF-8
            (b"\x81\xff" + b"\x7f" * 8 + b"\0\0\0\0", 1009),  # too big
            (b"\x09\x80\0\0\0\0", 1002),  # a fragmented ping
            (b"\xf1\x80\0\0\0\0", 1002),  # reserved bits
        ]
        for frame, code in frames:
            self.assertEqual(close_code(await self.raw(OPEN, then=frame + CLOSE_REPLY)), code, frame)
        self.patch(websocket, "CLOSE_GRACE", 0.1)
        unanswered = await self.raw(OPEN, then=b"\xf1\x80\0\0\0\0")  # the close never answered: until cut off
        self.assertEqual(close_code(unanswered), 1002)
        self.assertFalse([event for event in logged if event["log_level"] >= LogLevel.warn])


class TLSFailureTests(WebTestCase):
    async def test_a_failed_handshake_is_told_and_counted_as_the_chats_listeners_tell_it(self) -> None:
        """Nothing was logged nor counted of a browser that distrusted the certificate, the likeliest of all."""
        told: Deferred[None] = Deferred()

        @provider(ILogObserver)
        def watch(event: LogEvent) -> None:
            if "(web) disconnected: TLS failed" in formatEvent(event) and not told.called:
                told.callback(None)

        logged = observe_log(self)
        globalLogPublisher.addObserver(watch)
        self.addCleanup(globalLogPublisher.removeObserver, watch)
        self.start_web()
        plain = RawClient(b"GET / HTTP/1.0\r\n\r\n", b"")
        await connectProtocol(self.endpoint(self.web_port, tls=False), plain)  # plain HTTP on the TLS port
        await plain.lost
        await told
        lines = [formatEvent(event) for event in logged if "(web) disconnected" in formatEvent(event)]
        self.assertEqual(len(lines), 1)
        self.assertIn("TLS failed (HTTP_REQUEST): the client spoke plain HTTP, not TLS", lines[0])
        self.assertEqual(self.service.factory.counts.tls_failures, 1)

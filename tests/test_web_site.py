"""The web listener's site (chatroom.frontends.web.site) against hostile requests, over TLS on loopback: whatever a
client sends is answered with the site's headers, at once, without a traceback, and none of it reaches the log."""

from __future__ import annotations

from twisted.logger import LogLevel

from chatroom.frontends.web.site import CLIENT
from tests.helpers import observe_log
from tests.test_websocket import WebTestCase

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

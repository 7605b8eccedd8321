"""Downloading a room's history from the web client, in a real browser (tests.test_browser says how it runs): every
line the room keeps that the person may read, asked for page by page (CHATHISTORY), written to a .txt and a .json
file with the times in the person's zone.

Set CHATROOM_SCREENSHOTS to a directory to have the page photographed while a download waits for its second page
(web-download.png)."""

from __future__ import annotations

import asyncio
import json
import os
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.async_api import Download, Locator, Page, WebSocketRoute, expect

from tests.test_browser import WAIT, Browsing, Tab
from tests.test_irc import IRCClient

KOLKATA = ZoneInfo("Asia/Kolkata")  # UTC+05:30: a time written in UTC would be off by 5.5 hours
FILES = re.compile(r"5-\d{4}-\d\d-\d\d\.(txt|json)")


async def files_from(page: Page, button: Locator) -> dict[str, str]:
    """Click `button` and wait for the two files it downloads: each one's extension and content."""
    arrived: list[Download] = []
    both = asyncio.get_running_loop().create_future()

    def take(download: Download) -> None:
        arrived.append(download)
        if len(arrived) == 2:
            both.set_result(None)

    page.on("download", take)
    await button.click()
    await asyncio.wait_for(both, WAIT / 1000)
    found = {}
    for download in arrived:
        match = FILES.fullmatch(download.suggested_filename)
        assert match, download.suggested_filename
        found[match[1]] = Path(await download.path()).read_text(encoding="utf-8")
    return found


def times_of(client: IRCClient) -> dict[str, datetime]:
    """The time the server gave each line `client` heard, by id (a message of several lines: its batch's opening)."""
    return {
        line.tags["msgid"]: datetime.fromisoformat(line.tags["time"].replace("Z", "+00:00"))
        for line in client.received
        if line.command in ("PRIVMSG", "BATCH") and "msgid" in line.tags
    }


class DownloadTests(Browsing):
    async def download(self, tab: Tab) -> dict[str, str]:
        """The current room's history, downloaded with the button everyone has."""
        button = tab.page.get_by_role("button", name="Download this room's history")
        files: dict[str, str] = await tab.do(files_from(tab.page, button))
        return files

    async def test_the_download_holds_every_line_the_room_keeps_once_in_order_in_the_persons_zone(self) -> None:
        self.start_web("--history", "2000", "--flood-burst", "2000")  # 1,200 lines sent at once
        caps = ("echo-message", "message-tags", "server-time", "batch", "draft/multiline")
        ircy = await self.irc("ircy", caps=caps)
        said = [f"line {number:04}" for number in range(1, 1201)]  # more than two pages of 500
        for text in said[:1180]:
            ircy.say("#5", text)
        for line in ("BATCH +m draft/multiline #5", "@batch=m PRIVMSG #5 :first of two",
                     "@batch=m PRIVMSG #5 :second of two", "BATCH -m"):  # fmt: skip
            ircy.sendLine(line)
        for text in said[1180:]:
            ircy.say("#5", text)
        await self.heard(ircy, 1202)
        tab = await self.open(zone="Asia/Kolkata")
        await tab.log_in("late", room="5")
        shown = tab.page.locator("#log li.message.history")
        await tab.do(expect(shown).to_have_count(50))  # what joining shows: the last 50
        several = shown.filter(has_text="first of two").locator(".text")
        await tab.do(expect(several).to_have_text("first of two\nsecond of two"))  # one message, as it was said
        ircy.say("#5", "said after you came")
        await tab.sees("said after you came")
        files = await self.download(tab)
        data = json.loads(files["json"])
        lines = data["lines"]
        expected = [*said[:1180], "first of two\nsecond of two", *said[1180:], "said after you came"]
        self.assertEqual([line["text"] for line in lines], expected)
        self.assertEqual(len({line["id"] for line in lines}), len(expected), "each line once")
        self.assertEqual({(line["nick"], line["action"]) for line in lines}, {("ircy", False)})
        server = times_of(ircy)
        first = server[lines[0]["id"]].astimezone(KOLKATA)
        self.assertEqual((data["room"], ZoneInfo(data["zone"]).utcoffset(first)), ("#5", first.utcoffset()))
        for line in lines:
            self.assertTrue(line["time"].endswith("+05:30"), line["time"])
            self.assertEqual(datetime.fromisoformat(line["time"]), server[line["id"]])
        written = files["txt"].splitlines()
        self.assertEqual(written[0], f"{first:%Y-%m-%d %H:%M:%S} <ircy> line 0001")
        self.assertEqual(written[-1][20:], "<ircy> said after you came")
        await tab.sees("Downloaded #5's history: 1,202 lines.", "info")
        await tab.do(expect(tab.page.locator("#export-status")).to_be_hidden())  # the progress line is gone

    async def test_a_topic_and_a_message_of_several_lines_are_in_the_page_and_the_download(self) -> None:
        """The room keeps a topic's changes, which the page never showed nor downloaded; and a message's second line
        was written to the .txt without its time and nickname."""
        self.start_web("--history", "100")
        ircy = await self.irc("ircy", caps=("echo-message", "message-tags", "batch", "draft/multiline"))
        ircy.sendLine("TOPIC #5 :Fractions, page 42")
        ircy.sendLine("TOPIC #5 :")
        ircy.sendLine("TOPIC #5 :Fractions, page 42")
        for line in ("BATCH +m draft/multiline #5", "@batch=m PRIVMSG #5 :first of two",
                     "@batch=m PRIVMSG #5 :second of two", "BATCH -m"):  # fmt: skip
            ircy.sendLine(line)
        await self.heard(ircy, 2)
        tab = await self.open()
        await tab.log_in("late", room="5")
        await tab.sees("ircy set the topic: Fractions, page 42", "event.history")
        files = await self.download(tab)
        lines = json.loads(files["json"])["lines"]
        self.assertEqual(
            [(line["nick"], line["text"], line["topic"]) for line in lines],
            [
                ("ircy", "Fractions, page 42", True),
                ("ircy", "", True),
                ("ircy", "Fractions, page 42", True),
                ("ircy", "first of two\nsecond of two", False),
            ],
        )
        self.assertEqual(
            [line[20:] for line in files["txt"].splitlines()],
            [
                "-- ircy set the topic: Fractions, page 42",
                "-- ircy cleared the topic",
                "-- ircy set the topic: Fractions, page 42",
                "<ircy> first of two",
                "<ircy> second of two",
            ],
        )

    async def test_under_since_join_a_member_downloads_only_what_was_said_since_joining(self) -> None:
        ircy = await self.since_join_room()
        tab = await self.open()
        await tab.log_in("late", room="5")
        ircy.say("#5", "now that you are here")
        await tab.sees("now that you are here")
        await tab.do(expect(tab.page.get_by_role("button", name="Settings")).to_be_hidden())  # no operator
        files = await self.download(tab)
        self.assertEqual([line["text"] for line in json.loads(files["json"])["lines"]], ["now that you are here"])
        self.assertEqual(files["txt"].count("\n"), 1)

    async def test_a_connection_lost_during_the_download_is_said_in_one_line_and_nothing_is_written(self) -> None:
        self.start_web("--history", "2000", "--flood-burst", "1000")
        ircy = await self.irc("ircy")
        for number in range(600):  # two pages
            ircy.say("#5", f"line {number}")
        await self.heard(ircy, 600)
        tab = await self.open()
        page = tab.page
        second: asyncio.Future[WebSocketRoute] = await tab.do(hold_the_second_page(page))
        await tab.log_in("webby", room="5")
        downloads: list[Download] = []
        await tab.do(noting_downloads(page, downloads))
        await tab.do(page.get_by_role("button", name="Download this room's history").click())
        status = page.locator("#export-status")
        await tab.do(expect(status).to_have_text("Downloading #5's history: 500 lines…"))
        await tab.do(expect(page.get_by_role("button", name="Download this room's history")).to_be_disabled())
        screenshots = os.environ.get("CHATROOM_SCREENSHOTS")
        if screenshots:
            await tab.do(page.screenshot(path=str(Path(screenshots) / "web-download.png")))
        await tab.do(cut(second))
        await tab.sees("#5's history was not downloaded: the connection was lost.", "error")
        await tab.do(expect(status).to_be_hidden())
        self.assertEqual(downloads, [])


async def hold_the_second_page(page: Page) -> asyncio.Future[WebSocketRoute]:
    """From now on the page's WebSocket goes through Playwright, which keeps its first `CHATHISTORY BEFORE` from
    the server: the future gives the route, to cut."""
    held: asyncio.Future[WebSocketRoute] = asyncio.get_running_loop().create_future()

    def route(socket: WebSocketRoute) -> None:
        server = socket.connect_to_server()

        def from_page(message: str | bytes) -> None:
            if isinstance(message, str) and message.startswith("CHATHISTORY BEFORE") and not held.done():
                held.set_result(socket)
            else:
                server.send(message)

        socket.on_message(from_page)

    await page.route_web_socket(re.compile(r"/irc$"), route)
    return held


async def noting_downloads(page: Page, downloads: list[Download]) -> None:
    page.on("download", lambda download: downloads.append(download))


async def cut(held: asyncio.Future[WebSocketRoute]) -> None:
    """Close the page's WebSocket, as a lost connection does."""
    await (await held).close()

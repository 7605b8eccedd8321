"""The web client in a real browser: Debian's Chromium, driven by Playwright, against the real server over TLS.

Playwright's sync API cannot run in trial's reactor thread (it runs its own event loop), so its async API runs on
an asyncio loop in a thread of its own, and each test awaits the browser's steps as Deferreds (`BrowserThread.run`): a
test reads top to bottom like the other real-server tests, beside an IRC client and the terminal client, while
the reactor keeps serving. (`deferToThread` with the sync API was the other way: Playwright's sync API must stay
on the thread that started it, and the reactor's pool hands work to whichever thread is free.)

Every wait is Playwright's own wait on a condition (`expect`, `wait_for`) or a Deferred; the page's reconnection
back-off runs on Playwright's fake clock, so no test waits for it to elapse.

Set CHATROOM_SCREENSHOTS to a directory to have `test_a_phone_gets_one_column_and_the_room_list_behind_a_button`
write web-phone.png and web-desktop.png there (docs/ holds the ones taken so).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import threading
from collections.abc import Awaitable, Coroutine
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorFromThreads
from twisted.trial.unittest import SkipTest

from chatroom.core.names import nick_key, room_key
from chatroom.stores.accounts import AccountStore
from tests.helpers import GENEROUS, LOOPBACK, ServerTestCase, Subprocess, port_of
from tests.test_client import CLIENT
from tests.test_irc import IRCClient, irc_over_tls

try:
    from playwright.async_api import (
        Browser,
        Locator,
        Page,
        Playwright,
        WebSocketRoute,
        async_playwright,
        expect,
    )

    PLAYWRIGHT = True
except ImportError:  # the test extras install it
    PLAYWRIGHT = False

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
WAIT = GENEROUS * 1000 // 3  # ms Playwright waits for a condition: ends a hung test, measures nothing
T = TypeVar("T")


def _settle(done: Deferred[T], future: Future[T]) -> None:
    if future.exception() is not None:
        done.errback(future.exception())
    else:
        done.callback(future.result())


class SlowNetwork:
    """The page's WebSocket through Playwright (`page.route_web_socket`), as a network that can stall: while held,
    what the server sends waits, in order, until released. For answers that come after what a person does meanwhile."""

    def __init__(self) -> None:
        self.page_side: WebSocketRoute | None = None
        self.held: list[str | bytes] | None = None  # None: passing

    async def route(self, page: Page) -> None:
        def handle(page_side: WebSocketRoute) -> None:
            server_side = page_side.connect_to_server()
            server_side.on_message(self._from_server)
            page_side.on_message(server_side.send)
            self.page_side = page_side

        await page.route_web_socket(re.compile(r"/irc$"), handle)

    def _from_server(self, message: str | bytes) -> None:
        if self.held is not None:
            self.held.append(message)
        elif self.page_side is not None:
            self.page_side.send(message)

    async def hold(self) -> None:
        self.held = []

    async def release(self) -> None:
        held, self.held = self.held or [], None
        for message in held:
            self._from_server(message)


class BrowserThread:
    """Chromium under Playwright, on an asyncio loop in its own thread; `run` hands the reactor each step's result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="playwright", daemon=True)
        self.thread.start()
        self.playwright: Playwright | None = None
        self.chromium: Browser | None = None

    def run(self, step: Awaitable[T]) -> Deferred[T]:
        async def awaited() -> T:
            return await step

        future = asyncio.run_coroutine_threadsafe(awaited(), self.loop)
        done: Deferred[T] = Deferred()
        future.add_done_callback(lambda finished: IReactorFromThreads(reactor).callFromThread(_settle, done, finished))
        return done

    async def start(self) -> None:
        self.playwright = await async_playwright().start()
        expect.set_options(timeout=WAIT)
        self.chromium = await self.playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])

    async def stop(self) -> None:
        if self.chromium is not None:
            await self.chromium.close()
        if self.playwright is not None:
            await self.playwright.stop()

    def end(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


class Tab:
    """One page of the web client, each step awaited from the reactor's thread (Playwright's objects are used on
    the browser's thread only: the steps are coroutines, which run where they are awaited)."""

    def __init__(self, browser: BrowserThread, page: Page, origin: str) -> None:
        self.browser = browser
        self.page = page
        self.origin = origin
        self.requests: list[str] = []  # every URL the page asked for
        self.errors: list[str] = []  # what the page's scripts failed on, and what its console reported as errors
        self.sent: list[str] = []  # every IRC line the page sent over its WebSockets

    async def watch(self) -> None:
        """Listen to what the page asks for and reports (on the browser's thread, as every subscription)."""
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        self.page.on("websocket", lambda socket: socket.on("framesent", lambda frame: self.sent.append(str(frame))))

    def do(self, step: Coroutine[Any, Any, T]) -> Deferred[T]:
        return self.browser.run(step)

    def elsewhere(self) -> list[str]:
        """The requests that left for another origin (there must be none)."""
        return [url for url in self.requests if not url.startswith(self.origin + "/")]

    async def log_in(self, nick: str, password: str = "", room: str = "") -> None:
        """Fill in the first form and wait until in the room asked for (or, without one, in the chat)."""
        page = self.page
        await self.do(page.fill("#nick", nick))
        await self.do(page.fill("#password", password))
        await self.do(page.fill("#first-room", room))
        await self.do(page.get_by_role("button", name="Enter").click())
        await self.do(expect(page.locator("#app")).to_be_visible())
        if room:
            await self.do(expect(page.locator("#room-name")).to_have_text(f"#{room.removeprefix('#')}"))

    async def type(self, text: str) -> None:
        """Type a line in the message box and press Enter."""
        await self.do(self.page.fill("#input", text))
        await self.do(self.page.press("#input", "Enter"))

    async def sees(self, text: str, kind: str = "") -> None:
        """A line of the current room holding `text` is shown (of class `kind` when given: history, event ...)."""
        lines = self.page.locator(f"#log li{'.' + kind if kind else ''}", has_text=text)
        await self.do(expect(lines.first).to_be_visible())

    async def said(self, count: int) -> list[str]:
        """The current room's messages ("nick text"), once there are `count` of them."""
        lines = self.page.locator("#log li.message")
        await self.do(expect(lines).to_have_count(count))
        texts: list[str] = await self.do(
            lines.evaluate_all(
                "items => items.map(item => item.querySelector('.nick').textContent + ' '"
                " + item.querySelector('.text').textContent)"
            )
        )
        return texts


class Browsing(ServerTestCase):
    """The real service with a web listener, browser tabs on it, and IRC and terminal clients beside them."""

    def setUp(self) -> None:
        if not PLAYWRIGHT:
            raise SkipTest("Playwright for Python is not installed (pip install '.[test]')")
        if not os.access(CHROMIUM, os.X_OK):
            raise SkipTest(f"no Chromium at {CHROMIUM} (apt-get install chromium)")

    def start_web(self, *arguments: str, web: str = LOOPBACK, listen: str = LOOPBACK) -> None:
        """The service with a web listener; its address in self.origin."""
        self.start_server("--web", web, *arguments, listen=listen)
        self.web_port = port_of(self.service.ports[2])
        self.origin = f"https://localhost:{self.web_port}"

    async def browser(self) -> BrowserThread:
        if not hasattr(self, "_browser"):
            browser = BrowserThread()
            self.addCleanup(browser.end)
            self.addCleanup(browser.run, browser.stop())
            await browser.run(browser.start())
            self._browser = browser
        return self._browser

    async def open(
        self,
        width: int = 1100,
        height: int = 760,
        clock: bool = False,
        zone: str = "UTC",
        scheme: str = "light",
        touch: bool = False,
    ) -> Tab:
        """A new browser profile (its own storage) at the web client, in time zone `zone` and the system's light or
        dark `scheme`; with `clock`, on Playwright's fake clock; with `touch`, a touch screen (a coarse pointer, no
        hover). The test fails if the page reports an error."""
        browser = await self.browser()
        assert browser.chromium is not None
        context = await browser.run(
            browser.chromium.new_context(
                ignore_https_errors=True,  # the server's self-signed certificate, trusted as a person would
                viewport={"width": width, "height": height},
                locale="en-GB",
                timezone_id=zone,
                color_scheme="dark" if scheme == "dark" else "light",
                has_touch=touch,
            )
        )
        page = await browser.run(context.new_page())
        tab = Tab(browser, page, self.origin)
        await tab.do(tab.watch())
        self.addCleanup(lambda: self.assertEqual(tab.errors, [], "errors in the page's console"))
        if clock:
            await tab.do(page.clock.install())
        await tab.do(page.goto(self.origin + "/"))
        return tab

    async def since_join_room(self) -> IRCClient:
        """#5 under `since-join`, opened by ircy (so its operator), who said "before you came" before anyone came."""
        self.start_web("--history", "100")
        ircy = await self.irc("ircy")
        ircy.sendLine("ROOM #5 history since-join")
        ircy.say("#5", "before you came")
        await self.heard(ircy, 1)
        return ircy

    async def irc(self, nick: str, room: str = "#5", caps: tuple[str, ...] = ("echo-message",)) -> IRCClient:
        """An IRC client over TLS with echo-message (it hears its own lines in their place), in `room`."""
        client = await irc_over_tls(self, nick, caps)
        client.join(room)
        await client.until("RPL_ENDOFNAMES")
        return client

    def terminal(self, nick: str, room: str) -> Subprocess:
        """chatroom's terminal client, on pipes."""
        config = Path(self.mktemp()).resolve()
        arguments = ["127.0.0.1", "--port", str(self.port), "--ca", str(self.certs / "ca.pem")]
        return self.spawn(
            [*CLIENT, *arguments, "--nick", nick, "--room", room], XDG_CONFIG_HOME=str(config), NO_COLOR="1"
        )

    @staticmethod
    async def heard(client: IRCClient, count: int) -> list[str]:
        while len(client.heard) < count:
            await client.heard_some()
        return [f"{nick} {text}" for nick, _, text in client.heard]


class BrowserTests(Browsing):
    """The web client beside IRC and terminal clients, on the real service."""

    async def test_a_browser_a_terminal_and_an_irc_client_hear_each_other_in_one_order(self) -> None:
        self.start_web()
        tab = await self.open()
        await tab.log_in("webby", room="5")
        term = self.terminal("term", "5")
        await term.until(r"\[#5\] -- here: ")
        ircy = await self.irc("ircy")
        await tab.do(expect(tab.page.locator("#member-list")).to_contain_text("ircy"))
        turns = ("one", "two", "three")
        for turn in turns:  # all at once: the server decides the order, the same for everyone
            await tab.type(f"browser {turn}")
            term.type(f"terminal {turn}\n")
            ircy.say("#5", f"irc {turn}")
        in_browser = await tab.said(9)
        in_terminal = []
        for _ in range(9):
            match = await term.until(r"\[#5\] <(\w+)> (\w+ \w+)\n")
            in_terminal.append(f"{match[1]} {match[2]}")
        in_irc = await self.heard(ircy, 9)
        everyone = {"webby": "browser", "term": "terminal", "ircy": "irc"}
        self.assertEqual(
            sorted(in_browser), sorted(f"{nick} {it} {turn}" for nick, it in everyone.items() for turn in turns)
        )
        self.assertEqual(in_browser, in_terminal)
        self.assertEqual(in_browser, in_irc)

    async def test_a_late_joiner_sees_what_was_said_as_history_then_the_live_lines(self) -> None:
        self.start_web("--history", "100")
        ircy = await self.irc("ircy")
        for number in (1, 2):
            ircy.say("#5", f"before you came {number}")
        await self.heard(ircy, 2)
        tab = await self.open(zone="Asia/Kolkata")  # UTC+05:30: a time shown in UTC would be off by 5.5 hours
        keyboard = tab.page.keyboard  # the keyboard alone: the nickname has the focus, Tab goes to the next field
        await tab.do(keyboard.type("late"))
        for key in ("Tab", "Tab"):
            await tab.do(keyboard.press(key))
        await tab.do(keyboard.type("5"))
        await tab.do(keyboard.press("Enter"))
        await tab.do(expect(tab.page.locator("#room-name")).to_have_text("#5"))
        await tab.do(expect(tab.page.locator("#input")).to_be_focused())
        await tab.sees("before you came 2", "history")
        ircy.say("#5", "now that you are here")
        await tab.sees("now that you are here", "message:not(.history)")
        await tab.do(expect(tab.page.locator("#announce")).to_have_text("ircy: now that you are here"))  # said aloud
        self.assertEqual(
            await tab.said(3), ["ircy before you came 1", "ircy before you came 2", "ircy now that you are here"]
        )
        stamp = tab.page.locator("#log li.message time").last
        said_at = datetime.fromisoformat(str(await tab.do(stamp.get_attribute("datetime"))).replace("Z", "+00:00"))
        shown = str(await tab.do(stamp.text_content()))
        self.assertTrue(shown.endswith(said_at.astimezone(ZoneInfo("Asia/Kolkata")).strftime("%H:%M")), shown)

    async def test_after_a_server_restart_the_browser_comes_back_and_shows_what_it_missed(self) -> None:
        self.start_web("--history", "100")
        web, listen = self.web_port, self.port
        tab = await self.open(clock=True)
        await tab.log_in("webby", room="5")
        await tab.type("/join 6")
        await tab.type("in six before the restart")  # where #6 was read up to: caught up from there
        await tab.sees("in six before the restart")
        await tab.do(tab.page.locator("#room-list").get_by_role("button", name="#5").click())
        await tab.type("before the restart")
        await tab.sees("before the restart")
        soon = await tab.do(tab.page.evaluate("Date.now() + 1000"))  # ahead of the page's clock: never a jump back
        await tab.do(tab.page.clock.pause_at(soon))  # from now on the reconnection waits for the test to move it
        await self.service.stopService()
        await tab.do(expect(tab.page.locator("#status")).to_contain_text("Connection lost"))
        await tab.do(expect(tab.page.locator("#announce")).to_have_text("Connection lost."))  # said once
        live = """() => [...document.querySelectorAll('[role=status], [role=alert], [aria-live]:not([aria-live=off])')]
            .some((region) => region.textContent.includes('Trying again'))"""
        self.assertFalse(await tab.do(tab.page.evaluate(live)), "a countdown is not read out every second")
        await tab.type("typed while away")
        await tab.sees("Not connected: nothing was sent.", "error")
        await tab.do(expect(tab.page.locator("#input")).to_have_value("typed while away"))  # to send once back
        self.start_web(
            "--history", "100", web=f"tcp:{web}:interface=127.0.0.1", listen=f"tcp:{listen}:interface=127.0.0.1"
        )
        ircy = await self.irc("ircy")
        ircy.say("#5", "said while you were away")
        ircy.say("#5", "webby, are you there?")
        ircy.join("#6")
        ircy.say("#6", "webby: over here")
        await self.heard(ircy, 3)
        await tab.do(tab.page.clock.run_for(60_000))  # past the back-off's first attempts
        await tab.do(expect(tab.page.locator("#announce")).to_have_text("Connected again."))
        await tab.sees("said while you were away", "history")
        await tab.sees("webby, are you there?", "history.mentioned")  # highlighted, as it would have been live
        mentioned = tab.page.locator("#log li.mentioned", has_text="webby, are you there?")
        await tab.do(expect(mentioned).to_have_css("background-color", "rgb(255, 243, 196)"))  # not history's grey
        said = "#log li.divider:text-is('missed while you were away') ~ li"
        await tab.do(expect(tab.page.locator(said, has_text="said while you were away")).to_be_visible())
        six = tab.page.locator("#room-list").get_by_role("button", name="#6, mentioned once, 1 unread")
        await tab.do(expect(six).to_be_visible())  # a mention missed in another room is counted as one too
        await tab.do(expect(tab.page.locator("#status")).to_be_hidden())
        await tab.do(expect(tab.page.locator("#member-list")).to_contain_text("ircy"))
        await tab.type("back again")
        self.assertEqual((await self.heard(ircy, 4))[-1], "webby back again")
        await tab.do(expect(tab.page.locator("#log li", has_text="display-name")).to_have_count(0))  # 770, quiet

    async def test_an_account_under_another_nickname_logs_in_again_after_a_restart(self) -> None:
        """The page logged in again with its nickname of the moment, not its account's: after `/nick` and a
        restart, every attempt failed and the page said "Connecting..." for ever. A refusal after a reconnection (a
        password changed meanwhile) left it so as well: it is said now, and tried again."""
        accounts = Path(self.mktemp())
        AccountStore(accounts).add("alice", "correct horse battery")
        self.start_web("--accounts", str(accounts))
        web, listen = self.web_port, self.port
        tab = await self.open(clock=True)
        await tab.log_in("alice", password="correct horse battery", room="5")
        await tab.type("/nick ali_away")
        await tab.do(expect(tab.page.locator("#whoami")).to_have_text("You are ali_away"))
        soon = await tab.do(tab.page.evaluate("Date.now() + 1000"))
        await tab.do(tab.page.clock.pause_at(soon))
        await self.service.stopService()
        await tab.do(expect(tab.page.locator("#status")).to_contain_text("Connection lost"))
        restart = {"web": f"tcp:{web}:interface=127.0.0.1", "listen": f"tcp:{listen}:interface=127.0.0.1"}
        self.start_web("--accounts", str(accounts), **restart)
        await tab.do(tab.page.clock.run_for(60_000))
        await tab.do(expect(tab.page.locator("#status")).to_be_hidden())
        ircy = await self.irc("ircy")
        ircy.sendLine("WHOIS ali_away")
        whois = await ircy.until("RPL_ENDOFWHOIS")
        self.assertIn(["ircy", "ali_away", "alice", "is logged in as"], [line.params for line in whois])
        await self.service.stopService()
        AccountStore(accounts).set_password("alice", "a new password, changed")
        self.start_web("--accounts", str(accounts), **restart)
        await tab.do(tab.page.clock.run_for(60_000))  # a refusal coming back may pass (a slow-down): tried again
        await tab.do(expect(tab.page.locator("#status")).to_contain_text("Not connected: Wrong password for this"))
        await tab.do(tab.page.reload())
        await tab.do(expect(tab.page.locator("#nick")).to_have_value("alice"))  # the account's, not ali_away

    async def test_without_a_room_the_page_says_how_to_join_one_and_joins_it_by_number(self) -> None:
        self.start_web()
        tab = await self.open()
        page = tab.page
        await tab.do(page.fill("#nick", "new comer"))
        await tab.do(page.get_by_role("button", name="Enter").click())
        await tab.do(expect(page.locator("#login-error")).to_have_text("A nickname is one word: no spaces."))
        await tab.log_in("newcomer")
        await tab.do(expect(page.locator("#room-name")).to_have_text("chatroom"))
        await tab.sees("To talk, join a room", "info")
        self.assertEqual(await tab.do(page.locator("#log li.error").count()), 0, "no MOTD is no error")
        await tab.do(page.get_by_label("Join a room").fill("5"))
        await tab.do(page.get_by_role("button", name="Join", exact=True).click())
        await tab.do(expect(page.locator("#room-name")).to_have_text("#5"))
        await tab.do(expect(page.locator("#member-list")).to_contain_text("newcomer"))

    async def test_a_quit_is_shown_in_the_words_its_client_gave(self) -> None:
        # Found by hand: "ircy quit (Quit: off to lunch)", IRC's "Quit: " before a quit's reason read as its words.
        self.start_web()
        tab = await self.open()
        await tab.log_in("webby", room="5")
        ircy = await self.irc("ircy")
        await tab.do(expect(tab.page.locator("#member-list")).to_contain_text("ircy"))
        ircy.quit("off to lunch")
        await tab.sees("ircy quit (off to lunch)", "event")

    async def test_after_quit_the_page_says_it_has_left(self) -> None:
        # Found by hand: after /quit the page still looked connected, with no word of it, until a line typed was
        # answered "Not connected: nothing was sent."
        self.start_web()
        tab = await self.open()
        await tab.log_in("leaver", room="5")
        await tab.type("/quit see you")
        await tab.do(expect(tab.page.locator("#status")).to_contain_text("You have left the chat"))
        await tab.do(expect(tab.page.locator("#announce")).to_contain_text("You have left the chat"))

    async def test_the_connection_lost_banner_leaves_the_newest_line_in_sight(self) -> None:
        """Found by hand: the banner made the log shorter and its newest line went out of sight below it. A log
        scrolled up stays where it was put."""
        self.start_web("--flood-burst", "100")  # the lines below, sent at once
        ircy = await self.irc("ircy")
        reader, back = await self.open(height=400, clock=True), await self.open(height=400, clock=True)
        await reader.log_in("reader", room="5")
        await back.log_in("back", room="5")
        for number in range(1, 41):  # the log scrolls
            ircy.say("#5", f"line {number:02}")
        await self.heard(ircy, 40)
        for tab in (reader, back):
            await tab.sees("line 40")
        newest = reader.page.locator("#log li").last
        await reader.do(expect(newest).to_contain_text("ircy line 40"))
        await reader.do(expect(newest).to_be_in_viewport(ratio=1))
        log = back.page.locator("#log")
        await back.do(log.evaluate("log => { log.scrollTop = 100; }"))  # reading further up
        await back.do(expect(back.page.locator("#log li", has_text="line 40")).not_to_be_in_viewport())
        for tab in (reader, back):  # their reconnections wait: the banner stays
            soon = await tab.do(tab.page.evaluate("Date.now() + 1000"))
            await tab.do(tab.page.clock.pause_at(soon))
        await self.service.stopService()
        for tab in (reader, back):
            await tab.do(expect(tab.page.locator("#status")).to_contain_text("Connection lost"))
        await reader.do(expect(newest).to_be_in_viewport(ratio=1))
        room = await reader.do(
            reader.page.locator("#log").evaluate("log => log.scrollHeight - log.scrollTop - log.clientHeight")
        )
        self.assertLessEqual(room, 1, "the log is at its end")
        await back.do(expect(back.page.locator("#log li", has_text="line 40")).not_to_be_in_viewport())  # a frame
        self.assertEqual(await back.do(log.evaluate("log => log.scrollTop")), 100)

    async def test_a_registered_nickname_needs_its_password_and_logs_in_with_it(self) -> None:
        accounts = Path(self.mktemp())
        AccountStore(accounts).add("alice", "correct horse battery")
        self.start_web("--accounts", str(accounts))
        tab = await self.open()
        page = tab.page
        await tab.do(page.fill("#nick", "alice"))
        await tab.do(page.get_by_role("button", name="Enter").click())
        await tab.do(expect(page.locator("#login-error")).to_contain_text("give its password"))
        await tab.log_in("alice", password="correct horse battery", room="5")
        ircy = await self.irc("ircy")
        ircy.sendLine("WHOIS alice")
        whois = await ircy.until("RPL_ENDOFWHOIS")
        self.assertIn(["ircy", "alice", "alice", "is logged in as"], [line.params for line in whois])
        await tab.type("/join 6")
        await tab.do(expect(tab.page.locator("#room-name")).to_have_text("#6"))
        phone = await self.open(width=390)  # her other device: the same rooms, without her asking
        await phone.log_in("alice", password="correct horse battery")
        await phone.do(phone.page.get_by_role("button", name=re.compile("^Rooms")).click())
        rooms = phone.page.locator("#room-list")
        await phone.do(expect(rooms.get_by_role("button", name="#5")).to_be_visible())
        await phone.do(expect(rooms.get_by_role("button", name="#6")).to_be_visible())
        guesser = await self.open()
        await guesser.do(guesser.page.fill("#nick", "alice"))
        await guesser.do(guesser.page.fill("#password", "wrong horse battery"))
        await guesser.do(guesser.page.get_by_role("button", name="Enter").click())
        await guesser.do(expect(guesser.page.locator("#login-error")).to_contain_text("Wrong password"))

    async def test_a_login_over_the_limit_of_sessions_says_why_in_the_form(self) -> None:
        """It was "The nickname alice is taken." (from a 433), when alice's own account was the one logging in."""
        accounts = Path(self.mktemp())
        AccountStore(accounts).add("alice", "correct horse battery")
        self.start_web("--accounts", str(accounts), "--no-multiclient")
        laptop = await self.open()
        await laptop.log_in("alice", password="correct horse battery", room="5")
        phone = await self.open(width=390)
        await phone.do(phone.page.fill("#nick", "alice"))
        await phone.do(phone.page.fill("#password", "correct horse battery"))
        await phone.do(phone.page.get_by_role("button", name="Enter").click())
        await phone.do(
            expect(phone.page.locator("#login-error")).to_have_text(
                "alice is connected already, and this server allows one connection per person: end it"
            )
        )

    async def test_the_form_registers_a_nickname_when_the_server_lets_people(self) -> None:
        accounts = Path(self.mktemp())
        AccountStore(accounts).add("alice", "correct horse battery")
        self.start_web("--accounts", str(accounts), "--registration", "open")
        tab = await self.open()
        page = tab.page
        await tab.do(page.check("#register"))
        await tab.log_in("carol", password="carol's passphrase")  # no room: the server's messages are shown
        await tab.do(expect(page.locator("#log")).to_contain_text("carol is registered: you are logged in to it."))
        ircy = await self.irc("ircy")
        ircy.sendLine("WHOIS carol")
        whois = await ircy.until("RPL_ENDOFWHOIS")
        self.assertIn(["ircy", "carol", "carol", "is logged in as"], [line.params for line in whois])
        account = AccountStore(accounts).get("carol")
        assert account is not None
        self.assertIsNotNone(account.scram, "kept with its SCRAM verifier")
        again = await self.open()
        await again.do(again.page.check("#register"))
        await again.do(again.page.fill("#nick", "bob"))
        await again.do(again.page.fill("#password", "short"))
        await again.do(again.page.get_by_role("button", name="Enter").click())
        await again.do(expect(again.page.locator("#log")).to_contain_text("Not registered: a password needs at least"))

    async def test_the_form_says_when_the_server_lets_nobody_register(self) -> None:
        accounts = Path(self.mktemp())
        AccountStore(accounts).add("alice", "correct horse battery")
        self.start_web("--accounts", str(accounts))
        tab = await self.open()
        page = tab.page
        await tab.do(page.check("#register"))
        await tab.do(page.fill("#nick", "carol"))
        await tab.do(page.fill("#password", "carol's passphrase"))
        await tab.do(page.get_by_role("button", name="Enter").click())
        await tab.do(expect(page.locator("#login-error")).to_contain_text("does not let people register accounts"))
        self.assertIsNone(AccountStore(accounts).get("carol"))

    async def test_a_server_password_is_asked_for_when_the_server_wants_one(self) -> None:
        """With --irc-password, the page said "Wrong password." and had nowhere to type the server's."""
        self.start_web("--irc-password", "class of 2027")
        tab = await self.open()
        page = tab.page
        field = page.locator("#server-password")
        await tab.do(expect(field).to_be_hidden())  # most servers want none: not a question for everyone
        await tab.do(page.fill("#nick", "student"))
        await tab.do(page.get_by_role("button", name="Enter").click())
        await tab.do(expect(page.locator("#login-error")).to_contain_text("asks for its own password"))
        await tab.do(expect(field).to_be_focused())
        await tab.do(field.fill("class of 2027"))
        await tab.log_in("student", room="5")

    async def member_menu(self, tab: Tab, nick: str, action: str) -> None:
        """Click `nick` in the members, then `action` in their menu."""
        await tab.do(tab.page.locator("#member-list button", has_text=nick).click())
        await tab.do(tab.page.get_by_role("button", name=action).click())

    async def test_an_operator_kicks_bans_gives_voice_and_sets_the_room_from_menus(self) -> None:
        self.start_web()
        tab = await self.open()
        await tab.log_in("boss", room="5")  # the first in a room is its operator
        pest = await self.irc("pest")
        page = tab.page
        await tab.type("/names")  # typed as in any client: answered in the room, the members unchanged
        await tab.sees("In #5: @boss pest", "info")
        await tab.do(page.locator("#member-list button", has_text="pest").click())
        await tab.do(page.fill("#kick-reason", "enough"))
        await tab.do(page.get_by_role("button", name="Kick").click())
        [kick] = [line for line in await pest.until("KICK") if line.command == "KICK"]
        self.assertEqual(kick.params, ["#5", "pest", "enough"])
        await tab.sees("boss removed pest: enough", "event")
        await tab.do(expect(page.locator("#member-list")).not_to_contain_text("pest"))
        helper = await self.irc("helper")  # a guest of the same address: here before a guest's ban, which bans both
        spammer = await self.irc("spammer")
        await tab.do(page.locator("#member-list button", has_text="spammer").click())
        await tab.do(page.fill("#kick-reason", "spam"))
        await tab.do(page.get_by_role("button", name="Ban").click())
        [kick] = [line for line in await spammer.until("KICK") if line.command == "KICK"]
        self.assertEqual(kick.params, ["#5", "spammer", "spam"], "told why, though banned too")
        await tab.sees("boss removed spammer: spam", "event")
        await tab.sees("boss banned spammer", "event")
        spammer.sendLine("NICK spammer2")
        spammer.join("#5")
        self.assertEqual((await spammer.until("ERR_BANNEDFROMCHAN"))[-1].params[1], "#5", "by address too, as a guest")
        await tab.type("/unban *!*@address-of-spammer")  # all the guests of this address were kept out with it
        await tab.sees("boss lifted the ban on *!*@address-of-spammer", "event")
        del helper
        await self.member_menu(tab, "helper", "Give voice")
        await tab.do(expect(page.locator("#member-list li", has_text="helper")).to_contain_text("voice"))
        await tab.sees("boss gave helper voice", "event")  # in words, not IRC's modes
        await tab.do(page.get_by_role("button", name="Settings").click())
        await tab.do(page.get_by_label("Moderated").check())
        await tab.do(page.get_by_label("Topic", exact=True).fill("Quiet please"))
        await tab.do(page.get_by_role("button", name="Save").click())
        await tab.sees("boss made the room moderated", "event")
        watcher = await self.irc("watcher")
        watcher.sendLine("MODE #5")
        [modes] = [line for line in await watcher.until("RPL_CHANNELMODEIS") if line.command == "RPL_CHANNELMODEIS"]
        self.assertIn("m", modes.params[2])
        await tab.do(expect(page.locator("#topic")).to_have_text("Quiet please"))
        self.assertEqual(await tab.do(page.locator("#log li.error").count()), 0, "no refusal on the way")
        pupil = await self.open()
        await pupil.log_in("pupil", room="5")
        await pupil.do(pupil.page.locator("#input").press_sequentially("may I?"))  # typing: refused, told once
        await pupil.sees("only voiced members and operators speak", "error")
        await pupil.do(pupil.page.press("#input", "Enter"))
        await pupil.do(pupil.page.locator("#input").press_sequentially("please?"))
        await pupil.type("/names")
        await pupil.sees("In #5:", "info")  # answered after both refusals
        self.assertEqual(await pupil.do(pupil.page.locator("#log li.error").count()), 1, "said once, not per line")
        self.assertEqual(len([frame for frame in pupil.sent if "TAGMSG" in frame]), 1, "no typing notice after it")

    async def lead_and_ana(self) -> tuple[Tab, Tab]:
        """lead, a guest, and ana, logged in to her account, each on a page, in #5."""
        accounts = Path(self.mktemp())
        AccountStore(accounts).add("ana", "correct horse battery")
        self.start_web("--accounts", str(accounts))
        lead = await self.open()
        await lead.log_in("lead", room="5")
        ana = await self.open()
        await ana.log_in("ana", password="correct horse battery", room="5")
        return lead, ana

    async def test_a_ban_from_the_page_falls_on_the_account_of_someone_logged_in(self) -> None:
        """The page's Ban sent `+b NICK`, IRC's `NICK!*@*`: logged in, the person came back under another nickname."""
        lead, ana = await self.lead_and_ana()
        await self.member_menu(lead, "ana", "Ban")
        await lead.sees("lead banned the account ana", "event")
        await ana.sees("lead removed you from #5", "event")
        await ana.type("/nick ana_alt")
        await ana.type("/join 5")
        await ana.sees("you are banned from #5", "error")
        await lead.type("/bans")
        await lead.sees("#5: the account ana banned by lead", "info")
        await lead.type("/ban t*")  # a mask, as typed: not a WHO of everyone it matches, each banned
        await lead.sees("lead banned t*", "event")
        await lead.type("/ban tom 10m stop it")
        await lead.sees("Usage: /ban NICK|MASK: a ban here lasts until lifted", "error")

    async def test_a_ban_racing_ones_own_who_of_the_same_nickname_still_falls_on_the_account(self) -> None:
        """The end of the person's own /who, answered first, ended the ban's WHO too: it banned the nickname alone."""
        lead, _ = await self.lead_and_ana()
        both = """() => {
            const input = document.querySelector("#input");
            for (const line of ["/who ana", "/ban ana"]) { input.value = line; input.form.requestSubmit(); }
        }"""  # in one turn of the page: both are sent before either is answered
        await lead.do(lead.page.evaluate(both))
        await lead.sees("lead banned the account ana", "event")
        self.assertEqual(await lead.do(lead.page.locator("#log li", has_text="lead banned ana").count()), 0)

    async def test_a_kick_the_server_refuses_is_said_in_the_members_menu_and_its_ban_not_tried(self) -> None:
        """Against a registered room's owner, whom IRC shows as any operator (PREFIX has nothing above @), the menu's
        Kick and Ban closed the menu and were refused in the log behind it, Ban twice: its kick, then its ban."""
        accounts = Path(self.mktemp())
        AccountStore(accounts).add("ana", "correct horse battery")
        rooms = Path(self.mktemp())  # its own: the default, in trial's folder, would keep #5 registered for the next
        self.start_web("--accounts", str(accounts), "--rooms", str(rooms))
        ana = await self.open()
        await ana.log_in("ana", password="correct horse battery", room="5")
        chat = self.service.factory.chat
        chat.register_room(chat.nicks[nick_key("ana")], "#5")  # chatroom's own client's /room register: no IRC
        lead = await self.open()
        await lead.log_in("lead", room="5")
        await ana.type("/op lead")
        page = lead.page
        await lead.do(expect(page.locator("#member-list li", has_text="lead")).to_contain_text("operator"))
        await self.member_menu(lead, "ana", "Ban")
        menu = page.locator("#member-menu")
        refusal = "ana is the owner of #5: you cannot kick them"
        await lead.do(expect(menu.get_by_role("alert")).to_have_text(refusal))  # where it was asked, still open
        await lead.do(menu.get_by_role("button", name="Close").click())
        await lead.do(expect(menu).to_be_hidden())
        await lead.type("/names")  # answered after anything the ban would have brought
        await lead.sees("In #5:", "info")
        errors = page.locator("#log li.error .text")
        await lead.do(expect(errors).to_have_text([refusal]))  # in the log too, once: no ban tried after it
        await lead.do(expect(page.locator("#member-list")).to_contain_text("ana"))

    async def test_a_timed_mute_that_runs_out_is_said_to_have_ended(self) -> None:
        """A timed ban's or mute's end, `MODE #5 -b MASK` from the server itself, was shown as "irc.test lifted the
        mute on tom": as if the server had acted. The terminal client says "the mute on tom ended"."""
        self.start_web()
        lead = await self.connect("lead", "#5")  # the line protocol's /ban takes a duration; IRC's MODE +b none
        tab = await self.open()
        await tab.log_in("webby", room="5")
        lead.send("/ban m:tom 10m", "/ban troll")
        await tab.sees("lead muted tom", "event")
        await tab.sees("lead banned troll", "event")
        room = self.service.factory.chat.rooms[room_key("#5")]
        for lapse in list(room.lapses.values()):
            lapse.reset(0)  # its ten minutes are up now
        await tab.sees("the mute on tom ended", "event")
        lead.send("/unban troll")
        await tab.sees("lead lifted the ban on troll", "event")  # an operator's own doing: named
        await tab.do(expect(tab.page.locator("#log li", has_text="irc.test")).to_have_count(0))

    async def test_markup_from_others_is_shown_as_text_and_loads_nothing(self) -> None:
        self.start_web()
        tab = await self.open()
        await tab.log_in("reader", room="5")
        ircy = await self.irc("ircy")
        hostile = '<script>window.owned = 1</script><img src="https://example.org/x.png"> <b>bold</b>'
        ircy.say("#5", hostile)
        ircy.say("#5", "see https://example.org/page.")
        await tab.said(2)
        log = tab.page.locator("#log")
        self.assertEqual(await tab.do(log.locator("li.message .text").first.text_content()), hostile)
        self.assertEqual(await tab.do(log.locator("script, img, b").count()), 0)
        for part in (".nick", ".text"):  # isolated: a right-to-left name or line cannot reorder its neighbours
            await tab.do(expect(log.locator(f"li.message {part}").first).to_have_attribute("dir", "auto"))
        link = log.locator("a").last  # the address in the <img> is a link too, shown, never loaded
        self.assertEqual(await tab.do(link.get_attribute("href")), "https://example.org/page")
        self.assertEqual(await tab.do(link.get_attribute("rel")), "noopener noreferrer nofollow")
        self.assertIsNone(await tab.do(tab.page.evaluate("window.owned")))
        self.assertEqual(tab.elsewhere(), [])
        self.assertEqual(
            {urlsplit(url).path for url in tab.requests} - {"/", "/irc"},
            {"/app.js", "/irc.js", "/chat.js", "/view.js", "/commands.js", "/style.css", "/icon.svg"},
        )

    async def webby_in_6_and_ircy(self) -> tuple[Tab, IRCClient]:
        """webby on the page, in #5 then looking at #6; ircy on IRC: what is said in #5 is said elsewhere."""
        self.start_web()
        tab = await self.open()
        await tab.log_in("webby", room="5")
        ircy = await self.irc("ircy")
        await tab.type("/join 6")
        await tab.do(expect(tab.page.locator("#room-name")).to_have_text("#6"))
        return tab, ircy

    async def test_mentions_and_private_messages_are_counted_in_the_room_list_and_the_title(self) -> None:
        tab, ircy = await self.webby_in_6_and_ircy()
        ircy.say("#5", "nothing for anyone")
        ircy.say("#5", "webby: a question for you")
        ircy.msg("webby", "psst")
        rooms = tab.page.locator("#room-list")
        await tab.do(expect(rooms.get_by_role("button", name="#5, mentioned once, 2 unread")).to_be_visible())
        await tab.do(expect(rooms.get_by_role("button", name="ircy, mentioned once, 1 unread")).to_be_visible())
        await tab.do(expect(tab.page).to_have_title("(2) chatroom"))
        await tab.do(rooms.get_by_role("button", name=re.compile("^ircy")).click())
        await tab.sees("psst")
        await tab.do(expect(tab.page).to_have_title("(1) chatroom"))
        await tab.type("/me answers")
        action = (await ircy.until("PRIVMSG", "ircy"))[-1]
        self.assertEqual((action.source.split("!")[0], action.params[1]), ("webby", "\x01ACTION answers\x01"))
        await tab.do(tab.page.press("#input", "ArrowUp"))  # Up recalls the last line typed
        await tab.do(expect(tab.page.locator("#input")).to_have_value("/me answers"))

    async def test_a_mention_or_a_private_message_in_another_room_is_said_aloud(self) -> None:
        """Only the current room's lines were said to a screen reader: a mention elsewhere went unheard."""
        tab, ircy = await self.webby_in_6_and_ircy()
        announce = tab.page.locator("#announce")
        ircy.say("#5", "webby: a question for you")
        await tab.do(expect(announce).to_have_text("ircy in #5: webby: a question for you"))
        ircy.msg("webby", "psst")
        await tab.do(expect(announce).to_have_text("ircy (private): psst"))

    async def test_what_is_read_on_one_device_is_no_longer_unread_on_the_other(self) -> None:
        accounts = Path(self.mktemp())
        AccountStore(accounts).add("alice", "correct horse battery")
        self.start_web("--accounts", str(accounts))
        laptop = await self.open()
        await laptop.log_in("alice", password="correct horse battery", room="5")
        await laptop.type("/join 6")
        await laptop.do(expect(laptop.page.locator("#room-name")).to_have_text("#6"))
        phone = await self.open()  # her other device, in #5 and #6 as she is
        await phone.log_in("alice", password="correct horse battery")
        ircy = await self.irc("ircy")
        ircy.say("#5", "news in five")
        unread = laptop.page.locator("#room-list").get_by_role("button", name="#5, 1 unread")
        await laptop.do(expect(unread).to_be_visible())
        await phone.do(phone.page.locator("#room-list").get_by_role("button", name=re.compile("^#5")).click())
        await phone.sees("news in five")
        read = laptop.page.locator("#room-list").get_by_role("button", name="#5", exact=True)
        await laptop.do(expect(read).to_be_visible())  # no longer "#5, 1 unread"

    async def test_since_join_hides_earlier_lines_and_the_header_says_what_the_room_keeps(self) -> None:
        ircy = await self.since_join_room()
        tab = await self.open()
        await tab.log_in("late", room="5")
        kept = "This room keeps the last 100 lines of history, each member's since they joined."
        await tab.do(expect(tab.page.locator("#kept")).to_have_text(kept))
        await tab.do(tab.page.locator("#kept").click())  # cut to one line; a phone has no hover for its title
        await tab.do(expect(tab.page.locator("#kept")).to_have_css("white-space", "normal"))
        await tab.do(tab.page.locator("#kept").press("Enter"))  # the keyboard's way, a button's
        await tab.do(expect(tab.page.locator("#kept")).to_have_attribute("aria-expanded", "false"))
        told = tab.page.locator("#log li", has_text="this room keeps")
        await tab.do(expect(told).to_have_count(0))  # said in the header: it was in the log as well, each join
        ircy.say("#5", "now that you are here")
        await tab.sees("now that you are here")
        self.assertEqual(await tab.said(1), ["ircy now that you are here"])
        ircy.sendLine("MODE #5 +o late")
        page = tab.page
        await tab.do(expect(page.get_by_role("button", name="Settings")).to_be_visible())
        await tab.do(page.get_by_role("button", name="Settings").click())
        await tab.do(expect(page.locator("#set-history")).to_have_value("since-join"))  # it said "Unchanged"
        await tab.do(expect(page.locator("#set-keep")).to_have_attribute("placeholder", "now the last 100 lines"))
        width = await tab.do(page.locator("#settings").evaluate("dialog => dialog.scrollWidth - dialog.clientWidth"))
        self.assertEqual(width, 0, "no field wider than the dialog, cut at its right")
        await tab.do(page.locator("#set-history").select_option("all"))
        await tab.do(page.locator("#set-keep").fill("30d"))
        await tab.do(page.get_by_role("button", name="Save").click())
        await tab.do(expect(page.locator("#kept")).to_have_text("This room keeps 30 days of history."))
        await tab.sees("late changed the history rule: this room keeps 30 days of history")  # a change is news
        await tab.do(expect(page.locator("#log li.mentioned")).to_have_count(0))  # named, as its doer: no mention
        await tab.type("/room history since-join")  # IRC's ROOM wants the room: the page names the current one
        await tab.sees("late changed the history rule: this room keeps 30 days of history, each member's since")
        await tab.type("/topic " + "long " * 80)
        await tab.sees("A topic holds 390 characters at most; this one has 399.", "error")  # it was cut, silently
        await tab.type("/room register")
        await tab.sees("/room register is for chatroom's terminal client", "error")  # not "Not enough parameters"

    async def test_put_out_of_a_room_the_page_says_so_where_one_types(self) -> None:
        """After a kick, the box still said "Message #5" (whatever was typed was refused) and offered the history's
        download, which the server refuses to someone not in the room."""
        ircy = await self.since_join_room()
        tab = await self.open()
        await tab.log_in("late", room="5")
        page = tab.page
        await tab.do(expect(page.locator("#export")).to_be_visible())
        ircy.sendLine("KICK #5 late :enough")
        await tab.sees("ircy removed you from #5: enough", "event")
        await tab.do(
            expect(page.locator("#input")).to_have_attribute("placeholder", "You are not in #5: /join #5 to come back")
        )
        await tab.do(expect(page.locator("#export")).to_be_hidden())
        await tab.type("/join #5")
        await tab.do(expect(page.locator("#input")).to_have_attribute("placeholder", "Message #5"))
        await tab.do(expect(page.locator("#export")).to_be_visible())

    async def slowly(self, nick: str) -> tuple[Tab, SlowNetwork]:
        """A tab logged in as `nick` in #5, its WebSocket through a SlowNetwork."""
        tab = await self.open()
        network = SlowNetwork()
        await tab.do(network.route(tab.page))
        await tab.log_in(nick, room="5")
        return tab, network

    async def test_settings_changed_before_the_servers_answer_keep_the_change(self) -> None:
        """Found when a new Chromium made the operator test fail: the room's modes, answered after the person had
        ticked Moderated and typed a topic, put the form back as it was, and Save changed nothing."""
        self.start_web()
        ircy = await self.irc("ircy")
        ircy.sendLine("MODE #5 +s")  # before boss comes: the page learns it only from the answer to its MODE
        await ircy.until("MODE")
        tab, network = await self.slowly("boss")
        ircy.sendLine("MODE #5 +o boss")
        page = tab.page
        await tab.do(expect(page.get_by_role("button", name="Settings")).to_be_visible())
        await tab.do(network.hold())  # the answer to the MODE that opening the settings asks comes late
        await tab.do(page.get_by_role("button", name="Settings").click())
        await tab.do(page.get_by_label("Moderated").check())
        await tab.do(page.get_by_label("Topic", exact=True).fill("Quiet please"))
        await tab.do(network.release())
        await tab.do(expect(page.get_by_label("Secret")).to_be_checked())  # the answer is in
        await tab.do(expect(page.get_by_label("Moderated")).to_be_checked())  # and the person's change is kept
        await tab.do(page.get_by_role("button", name="Save").click())
        await tab.sees("boss made the room moderated", "event")
        await tab.do(expect(page.locator("#topic")).to_have_text("Quiet please"))

    async def test_a_room_chosen_while_another_is_joined_stays_chosen(self) -> None:
        """Found with the phone test: `/join 6`, then a click on #5 before the server answered the join, and the
        answer took the person back to #6, where a line naming them no longer counted as unread."""
        self.start_web()
        tab, network = await self.slowly("sam")
        page = tab.page
        await tab.do(network.hold())
        await tab.type("/join 6")
        await tab.do(page.locator("#room-list").get_by_role("button", name="#5").click())
        await tab.do(network.release())
        rooms = page.locator("#room-list")
        await tab.do(expect(rooms.get_by_role("button", name="#6")).to_be_visible())
        ircy = await self.irc("ircy", room="#6")
        ircy.say("#6", "sam: welcome")
        await tab.do(expect(rooms.get_by_role("button", name="#6, mentioned once, 1 unread")).to_be_visible())
        await tab.do(expect(page.locator("#room-name")).to_have_text("#5"))

    async def test_a_phone_gets_one_column_and_the_room_list_behind_a_button(self) -> None:
        self.start_web("--history", "100")
        ircy = await self.irc("ircy")
        ircy.topic("#5", "Homework: chapter 3, questions 1-4")
        for text in ("Has anyone started question 2?", "The notes are at https://example.org/notes"):
            ircy.say("#5", text)
        await self.heard(ircy, 2)
        desktop = await self.open()
        await desktop.log_in("sam", room="5")
        await desktop.sees("The notes are at", "history")
        await desktop.type("I did, it needs the formula from page 40")
        await desktop.type("/join 6")
        rooms = desktop.page.locator("#room-list")
        await desktop.do(expect(rooms.get_by_role("button", name="#6")).to_be_visible())  # joined: ircy speaks live
        await desktop.do(desktop.page.get_by_role("button", name="#5").click())
        ircy.join("#6")
        ircy.say("#6", "sam: could you share page 40?")
        await desktop.do(expect(rooms.get_by_role("button", name="#6, mentioned once, 1 unread")).to_be_visible())
        await desktop.type("/join #6")  # in it already: typed, it goes there, as the Join box does
        await desktop.do(expect(desktop.page.locator("#room-name")).to_have_text("#6"))
        await desktop.do(rooms.get_by_role("button", name="#5").click())
        await desktop.do(expect(desktop.page.locator("#rooms-button")).to_be_hidden())
        await desktop.do(expect(desktop.page.locator("#sidebar")).to_be_visible())
        phone = await self.open(width=390, height=780, scheme="dark")
        await phone.log_in("kim", room="5")
        await phone.do(expect(phone.page.locator("body")).to_have_css("background-color", "rgb(22, 25, 29)"))
        await desktop.do(expect(desktop.page.locator("body")).to_have_css("background-color", "rgb(255, 255, 255)"))
        ircy.say("#5", "thanks sam")
        await phone.sees("thanks sam")
        await desktop.sees("thanks sam")
        sidebar = phone.page.locator("#sidebar")
        await phone.do(expect(sidebar).to_be_hidden())
        await phone.do(expect(phone.page.locator("#members")).to_be_hidden())
        screenshots = os.environ.get("CHATROOM_SCREENSHOTS")
        if screenshots:
            await desktop.do(desktop.page.screenshot(path=str(Path(screenshots) / "web-desktop.png")))
            await phone.do(phone.page.screenshot(path=str(Path(screenshots) / "web-phone.png")))
        await phone.do(phone.page.get_by_role("button", name=re.compile("^Rooms")).click())
        await phone.do(expect(sidebar).to_be_visible())
        await phone.do(sidebar.get_by_role("button", name="#5").click())
        await phone.do(expect(sidebar).to_be_hidden())
        await phone.type("/join 7")  # its operator: Settings in the header, which is taller
        await phone.do(expect(phone.page.locator("#settings-button")).to_be_visible())
        members = phone.page.locator("#members")
        await phone.do(phone.page.get_by_role("button", name=re.compile("^Members")).click())
        await phone.do(expect(members).to_be_visible())
        reachable = """() => ['settings-button', 'members-button'].every((id) => {
            const box = document.getElementById(id).getBoundingClientRect();
            return document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2).closest('#top') !== null;
        })"""
        self.assertTrue(await phone.do(phone.page.evaluate(reachable)), "the header's buttons stay uncovered")
        await phone.do(members.get_by_role("button", name=re.compile("^kim")).click())
        await phone.do(phone.page.get_by_role("button", name="Close").click())
        await phone.do(expect(members).to_be_hidden())

    async def test_on_a_narrow_phone_the_heading_has_its_own_row_and_the_topics_button_opens_it_whole(self) -> None:
        """At 360 px the room's name and topic were squeezed to some 90 px beside the Rooms, Settings and Members
        buttons, the topic cut ("Study g...") with no way to read the rest, its links plain text. Then the topic was
        itself a button (role=button) holding its links: controls inside a control, which a screen reader cannot
        tell apart. Its button is beside it now."""
        self.start_web()
        tab = await self.open(width=360, height=640, touch=True)
        await tab.log_in("lead", room="5")  # its operator: Settings in the header too
        topic = "Study group: chapter 3, questions 1-4, the notes at https://example.org/notes, Friday 10:00"
        await tab.type(f"/topic {topic}")
        page = tab.page
        shown = page.locator("#topic")
        await tab.do(expect(shown).to_have_text(topic))
        await tab.do(expect(page.locator("#settings-button")).to_be_visible())
        heading = await tab.do(page.locator("#heading").bounding_box())
        assert heading is not None
        self.assertGreaterEqual(heading["width"], 360 - 2 * 8, "the screen's width but the header's padding")
        link = shown.get_by_role("link", name="https://example.org/notes")
        await tab.do(expect(link).to_have_attribute("href", "https://example.org/notes"))
        holding = page.get_by_role("button").filter(has=page.get_by_role("link"))
        await tab.do(expect(holding).to_have_count(0))  # no link inside a button
        cut = "el => el.scrollWidth > el.clientWidth"
        self.assertTrue(await tab.do(shown.evaluate(cut)), "cut to one line at first")
        whole = page.get_by_role("button", name="Show the whole topic")
        await tab.do(expect(whole).to_have_attribute("aria-expanded", "false"))
        box = await tab.do(whole.bounding_box())
        assert box is not None
        self.assertGreaterEqual(min(box["width"], box["height"]), 44, "a fingertip's size")
        await tab.do(whole.tap())
        await tab.do(expect(whole).to_have_attribute("aria-expanded", "true"))
        self.assertFalse(await tab.do(shown.evaluate(cut)), "whole")
        await tab.do(whole.press("Enter"))  # a button for the keyboard too
        await tab.do(expect(whole).to_have_attribute("aria-expanded", "false"))
        self.assertTrue(await tab.do(shown.evaluate(cut)), "cut again")
        await tab.type("/topic Quiet please")
        await tab.do(expect(shown).to_have_text("Quiet please"))
        await tab.do(expect(whole).to_be_hidden())  # a topic shown whole on one line has nothing more to show

    async def test_on_a_phone_the_rooms_button_shows_a_mention_as_the_list_does(self) -> None:
        """The Rooms button counted the unread lines of the other rooms, but not the "@" of a mention there."""
        self.start_web()
        tab = await self.open(width=390, height=844, touch=True)
        await tab.log_in("webby", room="5")
        ircy = await self.irc("ircy")
        await tab.type("/join 6")
        await tab.do(expect(tab.page.locator("#room-name")).to_have_text("#6"))
        ircy.say("#5", "webby: a question for you")
        button = tab.page.locator("#rooms-button")
        await tab.do(expect(button).to_have_text("Rooms@1"))
        await tab.do(expect(button).to_have_accessible_name("Rooms, mentioned once, 1 unread"))

    async def test_on_a_touch_screen_choosing_a_room_does_not_raise_the_keyboard(self) -> None:
        """Logging in and each room chosen focused the message box: on a phone, the on-screen keyboard came up over
        the room every time."""
        self.start_web()
        tab = await self.open(width=390, height=844, touch=True)
        await tab.log_in("thumb", room="5")
        page = tab.page
        box = page.locator("#input")
        await tab.do(expect(box).not_to_be_focused())
        await tab.type("/join 6")
        await tab.do(expect(page.locator("#room-name")).to_have_text("#6"))
        await tab.do(page.get_by_role("button", name=re.compile("^Rooms")).tap())
        await tab.do(page.locator("#room-list").get_by_role("button", name="#5").tap())
        await tab.do(expect(page.locator("#room-name")).to_have_text("#5"))
        await tab.do(expect(box).not_to_be_focused())
        await tab.do(page.get_by_role("button", name=re.compile("^Rooms")).tap())
        await tab.do(page.get_by_label("Join a room").fill("7"))
        await tab.do(page.get_by_label("Join a room").press("Enter"))
        await tab.do(expect(page.locator("#room-name")).to_have_text("#7"))
        await tab.do(expect(box).not_to_be_focused())

    async def test_a_phone_on_its_side_gets_one_column(self) -> None:
        """At 844 by 390 a phone got the desktop's three columns, and some 370 px of them for the messages."""
        self.start_web()
        tab = await self.open(width=844, height=390, touch=True)
        await tab.log_in("thumb", room="5")
        page = tab.page
        await tab.do(expect(page.get_by_role("button", name=re.compile("^Rooms"))).to_be_visible())
        await tab.do(expect(page.locator("#sidebar")).to_be_hidden())
        await tab.do(expect(page.locator("#members")).to_be_hidden())
        log = await tab.do(page.locator("#log").bounding_box())
        assert log is not None
        self.assertEqual(log["width"], 844, "the messages take the screen's width")
        await tab.do(page.get_by_role("button", name=re.compile("^Members")).tap())
        members = await tab.do(page.locator("#members").bounding_box())
        top = await tab.do(page.locator("#top").bounding_box())
        assert members is not None and top is not None
        self.assertGreaterEqual(members["y"], top["y"] + top["height"] - 1, "below the header, however tall")

    async def test_on_a_phone_one_panel_at_a_time_closed_by_a_tap_beside_it_or_escape(self) -> None:
        """The Rooms and Members panels could both be open, one over the other; only their buttons closed them, and
        Escape in one left the focus nowhere (the page's body)."""
        self.start_web()
        tab = await self.open(width=390, height=844, touch=True)
        await tab.log_in("thumb", room="5")
        page = tab.page
        sidebar, members = page.locator("#sidebar"), page.locator("#members")
        rooms_button = page.get_by_role("button", name=re.compile("^Rooms"))
        await tab.do(rooms_button.tap())
        await tab.do(expect(sidebar).to_be_visible())
        await tab.do(page.get_by_role("button", name=re.compile("^Members")).tap())
        await tab.do(expect(members).to_be_visible())
        await tab.do(expect(sidebar).to_be_hidden())
        log = await tab.do(page.locator("#log").bounding_box())
        assert log is not None
        await tab.do(page.touchscreen.tap(log["x"] + 20, log["y"] + log["height"] / 2))  # left of the members
        await tab.do(expect(members).to_be_hidden())
        await tab.do(rooms_button.tap())
        await tab.do(page.get_by_label("Join a room").focus())
        await tab.do(page.keyboard.press("Escape"))
        await tab.do(expect(sidebar).to_be_hidden())
        await tab.do(expect(rooms_button).to_be_focused())
        await tab.do(expect(rooms_button).to_have_attribute("aria-expanded", "false"))

    async def test_controls_borders_and_a_mentions_time_have_enough_contrast_in_both_schemes(self) -> None:
        """Fields' and buttons' borders were 1.41:1 on white (3:1 is wanted), and a mention's time in the dark
        4.13:1 (4.5:1 is wanted)."""
        self.start_web()
        contrast = """([selector, property]) => {
            const rgb = (text) => text.match(/[\\d.]+/g).map(Number);
            const luminance = (text) => {
                const linear = (c) => ((c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
                const [r, g, b] = rgb(text).slice(0, 3).map(linear);
                return 0.2126 * r + 0.7152 * g + 0.0722 * b;
            };
            const element = document.querySelector(selector);
            let behind = element.parentElement; // the first with a background of its own
            while (rgb(getComputedStyle(behind).backgroundColor)[3] === 0) behind = behind.parentElement;
            const colours = [getComputedStyle(element)[property], getComputedStyle(behind).backgroundColor];
            const [a, b] = colours.map(luminance);
            return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
        }"""
        ircy = await self.irc("ircy")
        for scheme in ("light", "dark"):
            tab = await self.open(scheme=scheme)
            await tab.log_in(scheme, room="5")
            ircy.say("#5", f"{scheme}: a mention")
            await tab.sees("a mention", "mentioned")
            for selector, property, least in (
                ("#join-room", "borderTopColor", 3),  # on the panel
                ("#leave-button", "borderTopColor", 3),
                ("#input", "borderTopColor", 3),  # on the page's background
                ("#log li.mentioned time", "color", 4.5),
            ):
                ratio = await tab.do(tab.page.evaluate(contrast, [selector, property]))
                self.assertGreaterEqual(ratio, least, f"{selector}'s {property} in {scheme}")

    async def test_on_a_small_phone_the_settings_keep_save_in_sight_and_their_choices_whole(self) -> None:
        """At 360 by 640 the settings' Save and Cancel were below the fold, and History's choices were cut."""
        self.start_web()
        tab = await self.open(width=360, height=640, touch=True)
        await tab.log_in("lead", room="5")
        page = tab.page
        await tab.do(page.get_by_role("button", name="Settings").tap())
        for name in ("Save", "Cancel"):
            await tab.do(expect(page.get_by_role("button", name=name)).to_be_in_viewport(ratio=1))
        whole = """select => [...select.options].every((option) => {
            const text = document.createElement('span');
            text.style.font = getComputedStyle(select).font;
            text.textContent = option.text;
            document.body.append(text);
            const width = text.getBoundingClientRect().width;
            text.remove();
            return width + 24 <= select.clientWidth; // beside the select's arrow
        })"""
        self.assertTrue(await tab.do(page.locator("#set-history").evaluate(whole)), "no choice cut")
        await tab.do(page.get_by_label("Invitation only").check())  # the fields above scroll; Save stays
        await tab.do(page.get_by_role("button", name="Save").tap())
        await tab.sees("lead made the room invitation only", "event")

    async def test_scrolled_to_its_top_the_log_fetches_earlier_lines_and_stays_where_it_was(self) -> None:
        """Scrolling back stopped at the 50 lines fetched on joining, though the room kept more."""
        self.start_web("--history", "500", "--flood-burst", "200")  # 130 lines sent at once
        ircy = await self.irc("ircy")
        for number in range(1, 131):
            ircy.say("#5", f"line {number:03}")
        await self.heard(ircy, 130)
        tab = await self.open()
        await tab.log_in("reader", room="5")
        page = tab.page
        await tab.sees("line 130", "history")
        shown = page.locator("#log li.message")
        await tab.do(expect(shown).to_have_count(50))

        def line(number: int) -> Locator:
            return page.locator("#log li.message", has_text=f"line {number:03}")

        to_top = "log => { log.scrollTop = 0; }"  # as a finger or a wheel does
        await tab.do(page.locator("#log").evaluate(to_top))
        await tab.do(expect(shown).to_have_count(100))
        await tab.do(expect(line(81)).to_be_in_viewport())  # the line on top before stays in sight, not line 31
        await tab.do(expect(line(31)).not_to_be_in_viewport())
        await tab.do(page.locator("#log").evaluate(to_top))
        await tab.do(expect(shown).to_have_count(130))
        await tab.do(expect(line(31)).to_be_in_viewport())
        await tab.do(expect(shown.first).to_contain_text("line 001"))
        more = page.get_by_role("button", name="Load earlier lines")
        await tab.do(expect(more).to_have_count(0))  # the room's first line is shown: nothing earlier
        tall = await self.open(height=2000)  # the log too short to scroll: its button, from the keyboard
        await tall.log_in("tall", room="5")
        await tall.sees("line 130", "history")
        more = tall.page.get_by_role("button", name="Load earlier lines")
        await tall.do(more.focus())
        await tall.do(tall.page.keyboard.press("Enter"))
        await tall.do(expect(tall.page.locator("#log li.message")).to_have_count(100))
        await tall.do(expect(more).to_be_focused())  # where it was, for the next fifty

    async def test_the_search_box_finds_what_was_said_in_the_rooms_one_is_in(self) -> None:
        self.start_web("--history", "100", "--history-store", "memory")
        ircy = await self.irc("ircy")
        ircy.say("#5", "the picnic is on Sunday")
        ircy.say("#5", "something else")
        ircy.join("#6")
        ircy.say("#6", "the secret picnic")
        await self.heard(ircy, 3)
        tab = await self.open()
        await tab.log_in("sam", room="5")
        page = tab.page
        await tab.do(page.fill("#search-text", "PICNIC"))
        await tab.do(page.press("#search-text", "Enter"))
        results = page.locator("#search-results")
        await tab.do(expect(results).to_be_visible())
        await tab.do(expect(page.locator("#search-title")).to_have_text("1 found for “PICNIC”"))
        found = page.locator("#found li")
        await tab.do(expect(found).to_have_count(1))
        await tab.do(expect(found.first).to_contain_text("#5"))
        await tab.do(expect(found.first).to_contain_text("ircy"))
        await tab.do(expect(found.first).to_contain_text("the picnic is on Sunday"))  # not #6's: sam is not in it
        await tab.do(expect(found.locator("button")).to_have_count(0))  # a found line's 👍 and Reply did nothing
        await tab.do(results.get_by_role("button", name="Close").click())
        await tab.do(expect(results).to_be_hidden())
        await tab.do(page.fill("#search-text", '"*'))
        await tab.do(page.press("#search-text", "Enter"))
        await tab.do(expect(found.first).to_have_text("search for at least one word: letters or digits"))

    async def test_a_lines_buttons_by_keyboard_escape_takes_back_a_reply_and_the_box_grows(self) -> None:
        """A line's buttons were hidden until hovered, and so out of Tab's reach; Escape left `/reply ^1 ` in the
        box; Shift+Enter's lines were cut off in a box one line high."""
        self.start_web()
        tab = await self.open()
        await tab.log_in("keys", room="5")
        ircy = await self.irc("ircy")
        ircy.say("#5", "a line to answer")
        await tab.sees("a line to answer")
        page = tab.page
        reply = page.locator("#log li.message button[data-action=reply]")
        actions = page.locator("#log li.message .actions")
        await tab.do(expect(actions).to_have_css("pointer-events", "none"))  # unseen: a tap on the line's end is its
        await tab.do(reply.focus())
        await tab.do(expect(reply).to_be_focused())
        await tab.do(expect(page.locator("#log li.message .actions")).to_have_css("opacity", "1"))
        await tab.do(page.keyboard.press("Enter"))
        await tab.do(expect(page.locator("#replying")).to_be_visible())
        await tab.do(expect(page.locator("#input")).to_be_focused())
        await tab.do(page.locator("#input").press_sequentially("not a reply after all"))
        await tab.do(page.press("#input", "Escape"))
        await tab.do(expect(page.locator("#replying")).to_be_hidden())
        await tab.do(expect(page.locator("#input")).to_have_value("not a reply after all"))
        one_line = await tab.do(page.locator("#input").evaluate("box => box.offsetHeight"))
        for _ in range(2):
            await tab.do(page.press("#input", "Shift+Enter"))
            await tab.do(page.locator("#input").press_sequentially("and more"))
        hidden = await tab.do(page.locator("#input").evaluate("box => box.scrollHeight - box.clientHeight"))
        self.assertLessEqual(hidden, 0, "all three lines in sight")
        await tab.do(page.press("#input", "Enter"))
        [said] = [line for line in await ircy.until("PRIVMSG", "#5") if line.command == "PRIVMSG"]
        self.assertNotIn("+draft/reply", said.tags, "Escape took the reply back")
        await tab.do(expect(page.locator("#input")).to_have_js_property("offsetHeight", one_line))
        await tab.do(page.locator("#log li.message button[data-action=reply]").first.focus())
        await tab.do(page.keyboard.press("Enter"))
        await tab.do(page.press("#input", "Home"))
        await tab.do(page.press("#input", "ArrowUp"))  # a line sent before: no longer the reply
        await tab.do(page.press("#input", "Escape"))
        await tab.do(expect(page.locator("#input")).to_have_value("not a reply after all\nand more\nand more"))

    async def test_the_log_is_one_tab_stop_and_the_arrows_go_from_line_to_line(self) -> None:
        """Each line's three reactions and Reply were four Tab stops: some 130 Tabs from Join a room to the message
        box. The log is one stop now (the current line, the last by default) and its buttons; the arrows move."""
        self.start_web()
        tab = await self.open()
        await tab.log_in("keys", room="5")
        ircy = await self.irc("ircy")
        for number in range(1, 13):
            ircy.say("#5", f"line {number}")
        await tab.sees("line 12")
        page = tab.page
        lines = page.locator("#log li").filter(has=page.locator(".text", has_text=re.compile(r"^line \d+$")))
        line = {number: lines.nth(number - 1) for number in range(1, 13)}
        await tab.do(page.get_by_role("button", name="Log out").focus())
        await tab.do(page.keyboard.press("Tab"))
        await tab.do(expect(line[12]).to_be_focused())  # the log's one stop: its last line
        for _ in range(4):  # its 👍 ❤️ 😂 and Reply
            await tab.do(page.keyboard.press("Tab"))
            await tab.do(expect(line[12].locator("button:focus")).to_have_count(1))
        await tab.do(page.keyboard.press("Tab"))
        await tab.do(expect(page.locator("#input")).to_be_focused())
        await tab.do(page.keyboard.press("Shift+Tab"))
        await tab.do(expect(line[12].get_by_role("button", name=re.compile("^Reply"))).to_be_focused())
        every = page.locator("#log > li[tabindex]")  # "ircy joined" too
        for key, reached in (("ArrowUp", line[11]), ("ArrowUp", line[10]), ("Home", every.first)):
            await tab.do(page.keyboard.press(key))
            await tab.do(expect(reached).to_be_focused())
        for key, reached in (("PageDown", every.nth(10)), ("End", line[12])):
            await tab.do(page.keyboard.press(key))
            await tab.do(expect(reached).to_be_focused())
        await tab.do(page.keyboard.press("ArrowUp"))
        await tab.do(expect(line[11]).to_have_attribute("tabindex", "0"))
        await tab.do(expect(line[12]).to_have_attribute("tabindex", "-1"))
        await tab.do(expect(line[12].locator("button").first).to_have_attribute("tabindex", "-1"))
        ircy.say("#5", "line 13")  # the person moved: the current line stays where they left it
        await tab.sees("line 13")
        await tab.do(page.locator("#input").focus())
        await tab.do(page.keyboard.press("Shift+Tab"))
        await tab.do(expect(line[11].get_by_role("button", name=re.compile("^Reply"))).to_be_focused())
        await tab.do(line[3].locator(".text").click())  # a click (a tap) on a line makes it the current one
        await tab.do(expect(line[3]).to_have_attribute("tabindex", "0"))
        await tab.do(expect(line[11]).to_have_attribute("tabindex", "-1"))
        await tab.do(page.get_by_label("Join a room").fill("6"))
        await tab.do(page.get_by_label("Join a room").press("Enter"))
        await tab.do(expect(page.locator("#room-name")).to_have_text("#6"))
        await tab.do(expect(page.locator("#input")).to_be_focused())  # as after choosing a room in the list

    async def test_a_screen_reader_hears_a_lines_parts_apart_and_which_line_a_button_is_for(self) -> None:
        """A line read "02:49bobhello": its time, nickname and text were apart only by CSS's margins; and each
        line's buttons were "Reply to this line", alike for every line."""
        self.start_web()
        tab = await self.open()
        await tab.log_in("ears", room="5")
        ircy = await self.irc("ircy")
        ircy.say("#5", "a line to hear")
        await tab.sees("a line to hear")
        line = tab.page.locator("#log li.message", has_text="a line to hear")
        await tab.do(expect(line).to_have_text(re.compile(r"^\d\d:\d\d ircy a line to hear")))
        await tab.do(expect(line.get_by_role("button", name="Reply to ircy's line")).to_have_count(1))
        await tab.do(expect(line.get_by_role("button", name="React with 👍 to ircy's line")).to_have_count(1))

    async def test_on_a_touch_screen_a_lines_buttons_are_fingertip_sized_under_the_line_tapped(self) -> None:
        """On a phone a line's buttons were 18-45 by 20 px, and shown over the end of the line's text."""
        self.start_web()
        tab = await self.open(width=390, height=844, touch=True)
        await tab.log_in("thumb", room="5")
        ircy = await self.irc("ircy")
        ircy.say("#5", "a line long enough to reach the end of a phone's screen, where the buttons were")
        ircy.say("#5", "another line")
        await tab.sees("another line")
        page = tab.page
        first = page.locator("#log li.message").first
        buttons = first.locator(".actions button")
        await tab.do(expect(buttons.first).to_be_hidden())  # until the line is tapped
        await tab.do(first.locator(".text").tap())
        await tab.do(expect(first).to_be_focused())
        for index in range(4):
            await tab.do(expect(buttons.nth(index)).to_be_visible())
            box = await tab.do(buttons.nth(index).bounding_box())
            assert box is not None
            self.assertGreaterEqual(min(box["width"], box["height"]), 44, "a fingertip's size")
        text = await tab.do(first.locator(".text").bounding_box())
        reply = await tab.do(first.get_by_role("button", name=re.compile("^Reply")).bounding_box())
        assert text is not None and reply is not None
        self.assertGreaterEqual(reply["y"], text["y"] + text["height"], "under the line's text, not over it")
        await tab.do(page.locator("#log li.message", has_text="another line").locator(".text").tap())
        await tab.do(expect(buttons.first).to_be_hidden())
        await tab.do(
            page.locator("#log li.message", has_text="another line")
            .get_by_role("button", name=re.compile("^Reply"))
            .tap()
        )
        await tab.do(expect(page.locator("#replying")).to_contain_text("Replying to ircy: another line"))

    async def test_a_reply_is_said_above_the_box_and_its_cross_takes_it_back(self) -> None:
        """Replying showed only `/reply ^1 ` in the box, and a phone has no Escape to take it back."""
        self.start_web()
        tab = await self.open(width=390, height=844, touch=True)
        await tab.log_in("thumb", room="5")
        ircy = await self.irc("ircy", caps=("echo-message", "message-tags"))
        long = "lunch at noon? " + "the place on the corner, or the one by the station " * 3
        ircy.say("#5", long.strip())
        await ircy.until("PRIVMSG")  # its echo
        await tab.sees("lunch at noon?")
        page = tab.page
        line = page.locator("#log li.message", has_text="lunch at noon?")
        bar = page.locator("#replying")
        await tab.do(expect(bar).to_be_hidden())
        await tab.do(line.locator(".text").tap())
        await tab.do(line.get_by_role("button", name=re.compile("^Reply")).tap())
        await tab.do(expect(bar).to_be_visible())
        await tab.do(expect(bar).to_contain_text(f"Replying to ircy: {long.strip()}"))
        cut = "el => el.scrollWidth > el.clientWidth"  # one line, cut at its end: not the whole screen's height
        self.assertTrue(await tab.do(page.locator("#replying-text").evaluate(cut)), "on one line, cut")
        await tab.do(page.locator("#input").press_sequentially("on second thoughts"))
        await tab.do(bar.get_by_role("button", name="Cancel the reply").tap())
        await tab.do(expect(bar).to_be_hidden())
        await tab.do(expect(page.locator("#input")).to_have_value("on second thoughts"))
        await tab.do(page.press("#input", "Enter"))
        [said] = [line for line in await ircy.until("PRIVMSG", "#5") if line.command == "PRIVMSG"]
        self.assertEqual(said.params[1], "on second thoughts")
        self.assertNotIn("+draft/reply", said.tags, "the reply was taken back")

    async def test_under_the_reply_bar_the_box_holds_the_reply_alone(self) -> None:
        """Reply showed its bar and also wrote `/reply ^1 ` in the box, over whatever had been typed there."""
        self.start_web()
        tab = await self.open()
        await tab.log_in("webby", room="5")
        ircy = await self.irc("ircy", caps=("echo-message", "message-tags"))
        ircy.say("#5", "lunch at noon?")
        [echo] = [line for line in await ircy.until("PRIVMSG") if line.command == "PRIVMSG"]
        await tab.sees("lunch at noon?")
        page = tab.page
        box = page.locator("#input")
        await tab.do(box.fill("sounds"))  # begun before choosing to reply: kept, as the reply's beginning
        line = page.locator("#log li.message", has_text="lunch at noon?")
        await tab.do(line.hover())
        await tab.do(line.get_by_role("button", name=re.compile("^Reply")).click())
        await tab.do(expect(page.locator("#replying")).to_contain_text("Replying to ircy: lunch at noon?"))
        await tab.do(expect(box).to_have_value("sounds"))
        await tab.do(expect(box).to_be_focused())
        await tab.do(box.press_sequentially(" good"))
        await tab.do(box.press("Enter"))
        [reply] = [line for line in await ircy.until("PRIVMSG", "#5") if line.command == "PRIVMSG"]
        self.assertEqual((reply.params[1], reply.tags.get("+draft/reply")), ("sounds good", echo.tags["msgid"]))
        await tab.do(expect(page.locator("#replying")).to_be_hidden())
        await tab.sees("↳ ircy: lunch at noon?")
        await tab.type("/reply ^2 and by hand")  # the command still works: ^ is webby's reply, ^2 ircy's line
        [typed] = [line for line in await ircy.until("PRIVMSG", "#5") if line.command == "PRIVMSG"]
        self.assertEqual((typed.params[1], typed.tags.get("+draft/reply")), ("and by hand", echo.tags["msgid"]))

    async def test_a_long_line_arrives_whole_and_one_too_long_to_send_stays_in_the_box(self) -> None:
        """The page sent a line of any length as one PRIVMSG: past IRC's 512 bytes it was refused (417), after the
        box had been emptied, and the text was lost."""
        self.start_web()
        writer = await self.open()
        await writer.log_in("longy", room="5")
        reader = await self.open()
        await reader.log_in("reader", room="5")
        ircy = await self.irc("ircy")  # without draft/multiline: the pieces, each within 512 bytes
        text = " ".join(f"wörd{number}" for number in range(200)) + " 👩‍👩‍👧‍👦" * 40 + " e" + "\u0301" * 300
        await writer.type(text)
        await reader.do(expect(reader.page.locator("#log li.message .text")).to_have_text(text))
        while "".join(piece for _, _, piece in ircy.heard) != text:
            await ircy.heard_some()
        self.assertGreater(len(ircy.heard), 4)
        self.assertTrue(
            all(len(f":longy!longy@chatroom PRIVMSG #5 :{piece}".encode()) <= 510 for _, _, piece in ircy.heard)
        )
        self.assertEqual(await writer.do(writer.page.input_value("#input")), "")
        too_long = "é" * 2100
        await writer.type(too_long)
        await writer.sees("Too long to send: 4200 bytes, where one message holds 4096. Nothing was sent.", "error")
        self.assertEqual(await writer.do(writer.page.input_value("#input")), too_long, "kept, to be cut and sent")
        action = "/me " + "dances " * 100
        await writer.type(action)
        await writer.sees("Too long for an action: 699 bytes", "error")  # refused by the server, and lost
        self.assertEqual(await writer.do(writer.page.input_value("#input")), action)

    async def test_replies_reactions_typing_and_a_message_of_several_lines_with_an_irc_client(self) -> None:
        self.start_web()
        tab = await self.open()
        await tab.log_in("webby", room="5")
        ircy = await self.irc("ircy", caps=("echo-message", "message-tags"))
        page = tab.page
        ircy.say("#5", "lunch at noon?")
        [echo] = [line for line in await ircy.until("PRIVMSG") if line.command == "PRIVMSG"]
        msgid = echo.tags["msgid"]
        await tab.sees("lunch at noon?")
        ircy.sendLine(f"@+draft/reply={msgid};+draft/react=👍 TAGMSG #5")
        ircy.sendLine("@+typing=active TAGMSG #5")
        await tab.do(expect(page.locator("#log li.message .reaction")).to_have_text("👍 1"))
        await tab.do(expect(page.locator("#typing")).to_have_text("ircy is typing…"))
        await tab.do(page.locator("#log li.message", has_text="lunch").hover())
        await tab.do(page.locator("#log li.message button[data-action=react]", has_text="😂").click())
        [react] = [line for line in await ircy.until("TAGMSG") if line.command == "TAGMSG"]
        self.assertEqual((react.tags["+draft/reply"], react.params), (msgid, ["#5"]))
        await tab.do(expect(page.locator("#log li.message .reactions")).to_contain_text("😂 1"))
        await tab.do(page.locator("#log li.message button[data-action=reply]").click())
        await tab.do(expect(page.locator("#replying")).to_be_visible())
        ircy.say("#5", "or at one?")  # said before Enter: the reply stays the clicked line's
        await ircy.until("PRIVMSG")
        await tab.sees("or at one?")
        await tab.do(page.locator("#input").press_sequentially("me too"))
        await tab.do(page.press("#input", "Enter"))
        [reply] = [line for line in await ircy.until("PRIVMSG", "#5") if line.command == "PRIVMSG"]
        self.assertEqual((reply.params[1], reply.tags["+draft/reply"]), ("me too", msgid))
        await tab.sees("↳ ircy: lunch at noon?")
        await tab.do(page.locator("#input").press_sequentially("hel"))
        [typing] = [line for line in await ircy.until("TAGMSG") if line.command == "TAGMSG"]
        self.assertEqual(typing.tags["+typing"], "active", "told while the box holds a message")
        await tab.do(page.fill("#input", "first line"))
        await tab.do(page.press("#input", "Shift+Enter"))
        await tab.do(page.locator("#input").press_sequentially("second line"))
        await tab.do(page.press("#input", "Enter"))
        received = [line for line in await ircy.until("PRIVMSG", "#5") if line.command == "PRIVMSG"]
        received += [line for line in await ircy.until("PRIVMSG", "#5") if line.command == "PRIVMSG"]
        self.assertEqual([line.params[1] for line in received], ["first line", "second line"], "line by line to IRC")
        await tab.do(expect(page.locator("#log li.message.mine .text").last).to_have_text("first line\nsecond line"))
        shots = os.environ.get("CHATROOM_SCREENSHOTS")
        if shots:
            await tab.do(page.screenshot(path=str(Path(shots) / "web-gestures.png")))

"""Display names in the web client, in a real browser (tests.test_browser says how it runs): set with /displayname,
shown beside the nickname (never instead) to the others, in the room's lines and its members; avatars not loaded."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.async_api import expect

from tests.test_browser import Browsing


class DisplayNameTests(Browsing):
    async def test_a_display_name_is_shown_beside_the_nickname_to_others_and_comes_back_after_a_reload(self) -> None:
        self.start_web()
        ann = await self.open()
        await ann.log_in("ann", room="5")
        ben = await self.open()
        await ben.log_in("ben", room="5")
        await ann.type("/displayname Ann Smith")
        await ann.type("/avatar https://example.org/ann.png")
        await ann.type("hello from ann")
        await ben.sees("hello from ann")
        line = ben.page.locator("#log li.message", has_text="hello from ann")
        await ben.do(expect(line.locator(".nick")).to_have_text("ann"))
        await ben.do(expect(line.locator(".display-name")).to_have_text("Ann Smith"))
        member = ben.page.locator("#member-list button[data-nick=ann]")
        await ben.do(expect(member.locator(".display-name")).to_have_text("Ann Smith"))
        await ann.type("/avatar http://example.org/ann.png")
        await ann.sees("An avatar is an https:// address of a picture")  # said by the page, nothing sent
        screenshots = os.environ.get("CHATROOM_SCREENSHOTS")
        if screenshots:
            await ben.do(ben.page.screenshot(path=str(Path(screenshots) / "web-display-names.png")))
        await ann.do(ann.page.reload())  # the name is kept in this browser, and set again at the next connection
        await ann.log_in("ann", room="5")
        carl = await self.open()
        await carl.log_in("carl", room="5")
        member = carl.page.locator("#member-list button[data-nick=ann]")
        await carl.do(expect(member.locator(".display-name")).to_have_text("Ann Smith"))
        self.assertEqual([ann.elsewhere(), ben.elsewhere(), carl.elsewhere()], [[], [], []], "no avatar was loaded")

"""The web client with text of many scripts, in a real browser (tests.test_browser says how it runs): mentions
between the words of any script.

Set CHATROOM_SCREENSHOTS to a directory to have the tests write web-mentions-*.png there, at a desktop's and a
phone's width."""

from __future__ import annotations

import os
from pathlib import Path

from tests.test_browser import Browsing, Tab

# What ircy says in #5, and whether it names ren: not within a word of any script, but a script written without
# spaces between its words is no word around it
MENTIONS = {
    "Renée est là": False,
    "Rennes": False,
    "Lorenzo": False,
    "ren_2 is here": False,  # a nickname's characters
    "[ren]": False,
    "ren\u0308": False,  # a combining mark: another letter
    "Ωren": False,
    "ren٣": False,  # a digit of another script
    "नमस्तेren": False,  # Devanagari puts spaces between words
    "ren: the notes?": True,
    "@ren look": True,
    "(ren)": True,
    "REN!": True,
    "ren、どう?": True,
    "你好ren今天": True,
    "こんにちはrenさん": True,
    "안녕하세요ren님": True,
    "สวัสดีrenครับ": True,  # สวัสดี ends with a vowel sign, a combining mark of Thai
    "ບໍ່ren": True,
    "សួស្តីren": True,
    "မင်္ဂလာren": True,
}


async def screenshots(tab: Tab, name: str) -> None:
    """The page at a desktop's width and a phone's, where CHATROOM_SCREENSHOTS says."""
    directory = os.environ.get("CHATROOM_SCREENSHOTS")
    if not directory:
        return
    await tab.do(tab.page.screenshot(path=str(Path(directory) / f"web-{name}-desktop.png")))
    await tab.do(tab.page.set_viewport_size({"width": 390, "height": 780}))
    await tab.do(tab.page.screenshot(path=str(Path(directory) / f"web-{name}-phone.png")))
    await tab.do(tab.page.set_viewport_size({"width": 1100, "height": 760}))


class ScriptsTests(Browsing):
    async def test_a_nickname_is_mentioned_beside_a_word_of_a_script_without_spaces_but_not_within_a_word(
        self,
    ) -> None:
        """`\\w` and `\\b` without the "u" flag are ASCII's: the é of "Renée" ended a word, and Renée named ren."""
        self.start_web()
        tab = await self.open()
        await tab.log_in("ren", room="5")
        ircy = await self.irc("ircy")
        for text in MENTIONS:
            ircy.say("#5", text)
        await tab.said(len(MENTIONS))
        shown = await tab.do(
            tab.page.locator("#log li.message").evaluate_all(
                "items => items.map(item => [item.querySelector('.text').textContent,"
                " item.classList.contains('mentioned')])"
            )
        )
        self.assertEqual([text for text, mentioned in shown if mentioned != MENTIONS[text]], [], "wrongly marked")
        await screenshots(tab, "mentions")

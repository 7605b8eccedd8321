"""The web client with text of many scripts, in a real browser (tests.test_browser says how it runs): mentions
between the words of any script, and the characters the server refuses in a line, found and named by the page.

Set CHATROOM_SCREENSHOTS to a directory to have the tests write web-mentions-*.png and web-refused-*.png there,
at a desktop's and a phone's width."""

from __future__ import annotations

import os
import re
from pathlib import Path

from playwright.async_api import expect
from twisted.trial.unittest import SynchronousTestCase

from chatroom.core.names import UNSAFE_TEXT
from chatroom.frontends.web.site import CLIENT
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

REORDERS = "an invisible character that reorders it (U+202E RIGHT-TO-LEFT OVERRIDE)"


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

    async def test_an_invisible_character_the_server_refuses_is_named_and_selected_and_nothing_is_sent(self) -> None:
        """A line holding U+202E was sent, refused by the server in a grey line ("control characters are not
        allowed; the line was ignored") naming nothing the person typed, and gone from the box."""
        self.start_web()
        tab = await self.open()
        await tab.log_in("lead", room="5")  # the first in the room: its operator
        ircy = await self.irc("ircy")
        page = tab.page
        box = page.locator("#input")
        await tab.type("evil \u202etxt.exe")
        selected = "It is selected in the box: Backspace removes it."
        await tab.sees(f"Not sent: the text holds {REORDERS}. {selected}", "error")
        refused = page.locator("#log li.error")
        await tab.do(expect(refused).to_have_css("color", "rgb(179, 38, 30)"))  # as a line too long, and a 404
        await tab.do(expect(box).to_have_value("evil \u202etxt.exe"))  # kept
        await screenshots(tab, "refused")
        await tab.do(page.press("#input", "Backspace"))
        await tab.do(expect(box).to_have_value("evil txt.exe"))
        await tab.do(page.press("#input", "Enter"))
        self.assertEqual(await self.heard(ircy, 1), ["lead evil txt.exe"], "the line without it, and nothing before")
        await tab.do(expect(box).to_have_value(""))

        # Lines of a message are a message's, and a separator of Unicode's is not one: the first of two is selected
        await tab.type("one\ntwo\u2028three\u2029")
        await tab.sees(
            "Not sent: the text holds a character some programs take for the end of a line (U+2028 LINE SEPARATOR),"
            " and 1 more the server refuses. The first is selected in the box: Backspace removes it.",
            "error",
        )
        where = await tab.do(box.evaluate("box => [box.selectionStart, box.selectionEnd]"))
        self.assertEqual(where, [7, 8])
        await tab.type("/me waves\x07")  # a command's text is the server's to refuse alike
        await tab.sees("Not sent: the text holds an invisible control character (U+0007 BELL).", "error")
        await tab.do(page.get_by_role("button", name="Settings").click())  # no box to select it in
        await tab.do(page.get_by_label("Topic", exact=True).fill("news \u2066here"))
        await tab.do(page.get_by_role("button", name="Save").click())
        await tab.sees(
            "Not sent: the text holds an invisible character that reorders it (U+2066 LEFT-TO-RIGHT ISOLATE):"
            " remove it.",
            "error",
        )
        await tab.do(page.locator("#member-list button", has_text="ircy").click())
        await tab.do(page.fill("#kick-reason", "go \u202eaway"))
        await tab.do(page.get_by_role("button", name="Kick").click())
        refusal = page.locator("#member-refusal")
        await tab.do(expect(refusal).to_have_text(f"Not done: the reason holds {REORDERS}: remove it."))
        self.assertEqual([frame for frame in tab.sent if UNSAFE_TEXT.search(frame)], [], "none sent")
        said = [frame for frame in tab.sent if frame.startswith(("PRIVMSG", "TOPIC", "KICK"))]
        self.assertEqual(said, ["PRIVMSG #5 :evil txt.exe"])


class UnsafeTextTests(SynchronousTestCase):
    def test_the_page_refuses_the_characters_the_server_refuses(self) -> None:
        """The page's copy of the server's class (chat.js UNSAFE_TEXT) holds the same characters."""
        source = (CLIENT / "chat.js").read_text(encoding="utf-8")
        [pattern] = re.findall(r"^export const UNSAFE_TEXT = /(\[[^\]]*\])/u;$", source, re.MULTILINE)
        page = re.compile(pattern)  # its escapes, \xNN and \uNNNN, are Python's too
        everything = [chr(code) for code in range(0x110000)]
        self.assertEqual(
            [ord(c) for c in everything if page.match(c)], [ord(c) for c in everything if UNSAFE_TEXT.match(c)]
        )

"""Refusals: the core names them (code, case, arguments); each front end words every one, in its own syntax."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from chatroom.cli import refusals as tools
from chatroom.core.errors import REFUSALS, ChatError
from chatroom.core.members import RoomLimits
from chatroom.frontends.irc import refusals as irc
from chatroom.frontends.line import refusals as line
from tests.helpers import MemoryServer
from tests.test_irc import IRCServer
from tests.test_lifecycle import GENEROUS

PACKAGE = Path(__file__).parent.parent / "chatroom"
# Where refusals are raised (the longest match names a module), and the table that must word them. The core's
# modules raise only REFUSALS; the command lines that keep accounts and rooms word theirs in chatroom.cli.refusals.
RAISERS: dict[str, Mapping[str, tuple[str, ...] | str]] = {
    "core/": REFUSALS,
    "bus/": REFUSALS,
    "bus/stores.py": tools.WORDINGS,
    "server/registration.py": REFUSALS,
    "server/auth.py": REFUSALS,
    "server/signup.py": REFUSALS,
    "server/connection.py": REFUSALS,
    "frontends/line/": line.WORDINGS,
    "frontends/irc/": irc.WORDINGS,
    "stores/accounts.py": tools.WORDINGS,
    "stores/history.py": REFUSALS,
    "cli/": tools.WORDINGS,
}
LINE_COMMAND = re.compile(r"(?:^|\s)/[a-z]+")  # `/part`, `/room deop`: what an IRC user cannot type


def raised(path: Path) -> Iterator[tuple[str, set[str]]]:
    """Each `ChatError(...)` made in a module: its key, or keys when the case is chosen by an `if`, and its
    arguments' names."""
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "ChatError"):
            continue
        code, *case = node.args
        assert isinstance(code, ast.Constant) and isinstance(code.value, str), f"{path}:{node.lineno}: a literal code"
        cases = [""]
        if case and isinstance(case[0], ast.IfExp):
            cases = [ast.literal_eval(case[0].body), ast.literal_eval(case[0].orelse)]
        elif case:
            cases = [ast.literal_eval(case[0])]
        for each in cases:
            yield (f"{code.value}:{each}" if each else code.value), {keyword.arg or "" for keyword in node.keywords}


def example(key: str, names: tuple[str, ...]) -> ChatError:
    """A refusal with arguments that stand out in its wording."""
    code, _, case = key.partition(":")
    return ChatError(code, case, **{name: f"<{name}>" for name in names})


class DeclaredTests(SynchronousTestCase):
    def test_every_refusal_raised_is_declared_or_worded_where_it_is_raised(self) -> None:
        seen = 0
        for path in sorted(PACKAGE.rglob("*.py")):
            module = path.relative_to(PACKAGE).as_posix()
            found = list(raised(path))
            if not found or module == "core/errors.py":
                continue
            where = max((where for where in RAISERS if module.startswith(where)), key=len, default=None)
            self.assertIsNotNone(where, f"{module} raises refusals that no table words")
            table = RAISERS[str(where)]
            for key, names in found:
                seen += 1
                self.assertIn(key, table, f"{module}: {key} is not in the table that words it")
                if table is REFUSALS:
                    self.assertEqual(names, set(REFUSALS[key]), f"{module}: {key}'s arguments")
        self.assertGreater(seen, 90, "the walk found the raise sites")

    def test_a_refusal_and_its_arguments_are_plain_json(self) -> None:
        error = ChatError("TOO_MANY_ROOMS", count=20)
        self.assertEqual(
            json.loads(json.dumps([error.code, error.case, error.arguments])), ["TOO_MANY_ROOMS", "", {"count": 20}]
        )


class WordingTests(SynchronousTestCase):
    def test_irc_words_every_refusal_of_the_core_without_a_line_command(self) -> None:
        for key, names in REFUSALS.items():
            worded = irc.word(example(key, names))
            self.assertTrue(worded.strip(), key)
            self.assertIsNone(LINE_COMMAND.search(worded), f"{key}: {worded}")
            for name in names:
                self.assertIn(f"<{name}>", worded, f"{key} says its {name}")

    def test_the_line_protocol_words_every_refusal_of_the_core(self) -> None:
        for key, names in REFUSALS.items():
            worded = line.word(example(key, names))
            self.assertTrue(worded.strip(), key)
            for name in names:
                self.assertIn(f"<{name}>", worded, f"{key} says its {name}")

    def test_too_many_rooms_as_each_front_end_says_it(self) -> None:
        server = IRCServer(GENEROUS, RoomLimits(rooms_per_member=2))
        ada = server.irc("ada")
        ada.type("JOIN #one", "JOIN #two")
        ada.read()
        self.assertEqual(
            ada.type("JOIN #three"),
            [":chatroom 405 ada #three :you are in 2 channels, the most allowed: PART one first"],
        )
        bob = MemoryServer(GENEROUS, RoomLimits(rooms_per_member=2)).connect("bob")
        bob.type("/join one", "/join two")
        bob.read()
        self.assertEqual(
            bob.type("/join three"), ["ERR TOO_MANY_ROOMS :you are in 2 rooms, the most allowed: /part one first"]
        )

"""Review of memory as a window over the history file (issue 28): edges the first tests did not reach.

Each test says its own lines into a chat with the real SqliteHistory (its writer and reader threads, the reactor
running) and a memory bound of ten of those lines, so that most of what is said lives only in the file.
"""

from __future__ import annotations

from pathlib import Path

from twisted.internet import reactor, task
from twisted.internet.interfaces import IReactorFromThreads
from twisted.trial.unittest import TestCase

from chatroom.core.chat import Chat
from chatroom.core.errors import ChatError
from chatroom.core.history import LINE_BYTES, HistoryLimits, Reach, timestamp
from chatroom.stores.history import SqliteHistory
from tests.helpers import RecordingSession
from tests.test_moderation import Directory

THREADS = IReactorFromThreads(reactor)
START = 1_795_000_000.0  # 2026-11-18T08:26:40Z: a fixed moment, whatever today is
MEMORY = 10 * (LINE_BYTES + len("line 10"))  # ten of the lines said below
LIMITS = HistoryLimits(100, memory=MEMORY)


class WindowEdgeTests(TestCase):
    """A chat whose memory holds ten lines; each test says what it needs."""

    def setUp(self) -> None:
        self.clock = task.Clock()
        self.clock.advance(START)
        self.store = SqliteHistory(Path(self.mktemp()), LIMITS, THREADS, self.clock)
        self.store.load()
        self.store.startService()
        self.addCleanup(lambda: self.store.stopService() if self.store.running else None)
        self.chat = Chat(
            accounts=Directory(root=True), now=self.clock.seconds, history=LIMITS, history_store=self.store
        )
        self.ann = self.chat.register(RecordingSession(), "ann", None, "192.0.2.1")
        self.chat.join(self.ann, "5")

    def say(self, room: str, first: int, last: int, same_millisecond: tuple[int, ...] = ()) -> None:
        """Lines `first` to `last` in `room`, a second apart; each of `same_millisecond` said with the one before."""
        for number in range(first, last + 1):
            if number not in same_millisecond:
                self.clock.advance(1)
            self.chat.say(self.ann, room, f"line {number}")

    def time_of(self, text: str) -> str:
        return next(line.time for line in self.chat.rooms["5"].history.kept if line.text == text)

    async def texts(self, room: str, how: str, point: str = "", lines: int = 100) -> list[str]:
        history = await self.chat.history(self.ann, room, how, point, lines)
        return [line.text for line in history.messages]

    async def test_a_quiet_room_whose_every_line_memory_dropped_reads_them_from_the_file(self) -> None:
        self.chat.join(self.ann, "6")
        self.say("6", 1, 5)
        self.say("5", 11, 30)  # newer: memory drops all of #6's lines for these
        self.assertEqual(len(self.chat.rooms["6"].history.kept), 0)
        self.assertEqual(await self.texts("6", "latest"), [f"line {number}" for number in range(1, 6)])
        self.assertEqual(await self.texts("6", "before", timestamp(START + 100), 2), ["line 4", "line 5"])

    async def test_after_a_time_shared_by_lines_the_file_holds(self) -> None:
        self.say("5", 1, 40, same_millisecond=(4, 5))  # lines 3, 4 and 5 at one time
        at_line_3 = timestamp(START + 3)
        self.assertEqual(await self.texts("5", "after", at_line_3, 2), ["line 6", "line 7"])

    async def test_around_the_time_of_memorys_first_line_shared_with_a_line_it_dropped(self) -> None:
        self.say("5", 21, 40, same_millisecond=(31,))  # memory holds 31 to 40; 30 was said at 31's time
        self.assertEqual(self.chat.rooms["5"].history.kept[0].text, "line 31")
        around = await self.texts("5", "around", self.time_of("line 31"), 4)
        self.assertEqual(around, ["line 28", "line 29", "line 30", "line 31"])

    async def test_a_read_waiting_when_the_store_stops_still_fires(self) -> None:
        self.say("5", 1, 40)
        answers: list[object] = []
        self.store.older([Reach("5", 0, 10, "", "", True, 5)]).addBoth(answers.append)
        await self.store.stopService()
        await task.deferLater(reactor, 0, lambda: None)  # a turn for whatever the stop left to call
        self.assertEqual(len(answers), 1, "a shutdown must not leave a query waiting for ever")

    async def test_a_room_renamed_keeps_what_only_the_file_holds(self) -> None:
        self.chat.join(self.ann, "lounge")
        self.say("lounge", 1, 40)
        self.chat.rename_room(self.ann, "lounge", "parlour")
        self.say("parlour", 41, 42)
        history = await self.chat.history(self.ann, "parlour", "latest", "", 100)
        self.assertEqual([line.text for line in history.messages], [f"line {number}" for number in range(1, 43)])
        self.assertEqual({line.room for line in history.messages}, {"#parlour"})

    async def test_a_line_redacted_while_the_file_is_read_is_not_in_the_answer(self) -> None:
        self.say("5", 1, 40)
        asked = self.chat.history(self.ann, "5", "latest", "", 100)  # past memory: answered once the file is read
        self.chat.redact(self.ann, "5", self.chat.rooms["5"].history.kept[-1].id)
        self.assertNotIn("line 40", [line.text for line in (await asked).messages], "redacted before the answer")

    async def test_a_room_renamed_while_the_file_is_read_answers_under_its_new_name(self) -> None:
        self.chat.join(self.ann, "lounge")
        self.say("lounge", 1, 40)
        asked = self.chat.history(self.ann, "lounge", "latest", "", 100)
        self.chat.rename_room(self.ann, "lounge", "parlour")
        history = await asked
        self.assertEqual(len(history.messages), 40)
        self.assertEqual({line.room for line in history.messages}, {"#parlour"})

    def test_redacting_a_line_already_gone_is_refused_even_when_the_file_holds_more(self) -> None:
        self.say("5", 1, 40)
        last = self.chat.rooms["5"].history.kept[-1].id
        self.chat.redact(self.ann, "5", last)
        error = self.assertRaises(ChatError, self.chat.redact, self.ann, "5", last)
        self.assertEqual(error.code, "NO_SUCH_MESSAGE", "an id of this life is no nickname")

    def test_a_quiet_room_whose_every_line_memory_dropped_is_among_the_targets(self) -> None:
        self.chat.join(self.ann, "6")
        self.say("6", 1, 5)
        self.say("5", 11, 30)  # newer: memory drops all of #6's lines for these
        targets = self.chat.history_targets(self.ann, timestamp(START), timestamp(START + 1000), 10)
        self.assertEqual([name for name, _ in targets], ["#6", "#5"], "#6 has lines to catch up on")

    async def test_a_restart_knows_when_a_quiet_room_last_spoke(self) -> None:
        """The start reads the newest lines of all rooms until memory is full: a quiet room gets none of them, but
        its last line's time, so that CHATHISTORY TARGETS still lists it."""
        self.chat.join(self.ann, "6")
        self.say("6", 1, 5)
        said_last = self.chat.rooms["6"].history.last_time()
        self.say("5", 11, 30)
        await self.store.stopService()
        kept = SqliteHistory(self.store.path, LIMITS, THREADS, self.clock).load()["6"]
        self.assertEqual((kept.lines, kept.behind, kept.last), ([], True, said_last))

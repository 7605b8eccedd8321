"""Memory as a window over the history file (issue 28): a room's history larger than --history-memory is read back.

The chat runs with the real SqliteHistory (its writer and reader threads, the reactor running) and a memory bound of
about ten lines, so that most of what is said lives only in the file: every query, the export, a redaction and a
restart must still see it all, in order, as the room's rule lets each reader.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from twisted.internet import reactor, task
from twisted.internet.interfaces import IReactorFromThreads
from twisted.trial.unittest import TestCase

from chatroom.core.chat import Chat
from chatroom.core.history import LINE_BYTES, HistoryLimits, timestamp
from chatroom.core.members import Member
from chatroom.stores.history import SqliteHistory
from tests.helpers import RecordingSession, ServerTestCase
from tests.test_irc import irc_over_tls, said
from tests.test_moderation import Directory

THREADS = IReactorFromThreads(reactor)
START = 1_795_000_000.0  # 2026-11-18T08:26:40Z: a fixed moment, whatever today is
MEMORY = 10 * (LINE_BYTES + len("line 10"))  # about ten of the lines said below
LIMITS = HistoryLimits(100, memory=MEMORY)


class WindowTests(TestCase):
    """40 lines said in #5, of which memory holds the last ten or so."""

    def setUp(self) -> None:
        self.path = Path(self.mktemp())
        self.clock = task.Clock()
        self.clock.advance(START)
        self.store = self.open_store()
        self.chat = Chat(
            accounts=Directory(root=True), now=self.clock.seconds, history=LIMITS, history_store=self.store
        )
        self.ann = self.member("ann")
        self.ids = [self.say(self.ann, f"line {number}") for number in range(1, 41)]
        self.history = self.chat.rooms["5"].history

    def open_store(self) -> SqliteHistory:
        store = SqliteHistory(self.path, LIMITS, THREADS, self.clock)
        store.load()
        store.startService()
        self.addCleanup(lambda: store.stopService() if store.running else None)
        return store

    def member(self, nick: str) -> Member:
        member = self.chat.register(RecordingSession(), nick, None, "192.0.2.1")
        self.chat.join(member, "5")
        return member

    def say(self, member: Member, text: str) -> str:
        self.chat.say(member, "5", text)
        self.clock.advance(1)
        return self.chat.rooms["5"].history.kept[-1].id

    async def texts(self, member: Member, how: str, point: str = "", lines: int = 100) -> list[str]:
        history = await self.chat.history(member, "5", how, point, lines)
        return [line.text for line in history.messages]

    def test_memory_holds_the_latest_lines_only(self) -> None:
        self.assertLessEqual(len(self.history.kept), 10)
        self.assertEqual(self.history.kept[-1].text, "line 40")
        self.assertTrue(self.history.behind)

    async def test_every_query_reads_what_memory_no_longer_holds(self) -> None:
        every = [f"line {number}" for number in range(1, 41)]
        self.assertEqual(await self.texts(self.ann, "latest"), every)
        self.assertEqual(await self.texts(self.ann, "latest", "", 30), every[10:])
        self.assertEqual(await self.texts(self.ann, "before", self.ids[10], 4), every[6:10])
        self.assertEqual(await self.texts(self.ann, "before", self.ids[35], 30), every[5:35], "the file, then memory")
        self.assertEqual(await self.texts(self.ann, "before", self.ids[0], 10), [], "nothing before the first")
        self.assertEqual(await self.texts(self.ann, "after", self.ids[2], 5), every[3:8])
        self.assertEqual(await self.texts(self.ann, "after", self.ids[25], 10), every[26:36])
        self.assertEqual(await self.texts(self.ann, "around", self.ids[4], 4), every[2:6])
        at_line_6 = timestamp(START + 5)  # line N was said at START + N - 1
        self.assertEqual(await self.texts(self.ann, "before", at_line_6, 2), ["line 4", "line 5"])
        self.assertEqual(await self.texts(self.ann, "after", at_line_6, 2), ["line 7", "line 8"])

    async def test_catching_up_counts_only_what_is_not_shown(self) -> None:
        everything = await self.chat.history(self.ann, "5", "latest", self.ids[1], 100)
        self.assertEqual((len(everything.messages), everything.lost), (38, 0))
        last_five = await self.chat.history(self.ann, "5", "latest", self.ids[1], 5)
        self.assertEqual(last_five.messages[0].text, "line 36")
        self.assertEqual(last_five.lost, 33, "said after the point and not shown")

    async def test_a_since_join_reader_reads_from_their_join_even_from_the_file(self) -> None:
        self.chat.set_history_rule(self.ann, "5", "history", "since-join")
        bob = self.member("bob")
        for number in range(41, 61):
            self.say(self.ann, f"line {number}")
        self.assertEqual(await self.texts(bob, "latest"), [f"line {number}" for number in range(41, 61)])
        self.assertEqual(await self.texts(bob, "before", self.ids[-1], 100), [], "before bob came")
        self.assertEqual(len(await self.texts(self.ann, "latest")), 60)

    async def test_the_export_holds_everything_kept(self) -> None:
        exported = await self.chat.export(self.ann, "5")
        self.assertEqual([line.text for line in exported.messages], [f"line {number}" for number in range(1, 41)])

    async def test_a_redaction_reaches_the_file(self) -> None:
        bob = self.member("bob")
        self.say(bob, "bob's early word")
        for number in range(41, 61):
            self.say(self.ann, f"line {number}")
        self.chat.redact(self.ann, "5", self.ids[1])  # an operator's, of a line only the file holds
        self.chat.redact_mine(bob, "5")  # bob's line is in the file only too
        kept = await self.texts(self.ann, "latest")
        self.assertNotIn("line 2", kept)
        self.assertNotIn("bob's early word", kept)
        self.assertEqual(len(kept), 59)
        await self.store.stopService()
        found = b"".join(path.read_bytes() for path in self.path.parent.glob(self.path.name + "*"))
        self.assertNotIn(b"bob's early word", found, "gone from the file's bytes")

    async def test_a_restart_reads_what_memory_holds_and_the_file_keeps_the_rest(self) -> None:
        await self.store.stopService()
        again = SqliteHistory(self.path, LIMITS, THREADS, self.clock)
        (kept,) = again.load().values()
        self.assertTrue(kept.behind)
        self.assertLessEqual(len(kept.lines), 10, "not the whole file")
        self.assertEqual(kept.lines[-1].text, "line 40")
        with contextlib.closing(sqlite3.connect(self.path)) as db:
            self.assertEqual(db.execute("SELECT count(*) FROM lines").fetchone(), (40,))

    async def test_a_read_asked_as_the_store_stops_is_answered_from_memory_not_never(self) -> None:
        reading = self.chat.history(self.ann, "5", "latest", "", 30)  # the writer commits first, then the read
        await self.store.stopService()  # meanwhile: its reader thread takes no more work
        self.assertEqual(len((await reading).messages), len(self.history.kept), "memory's lines alone")

    async def test_a_room_rule_narrower_than_the_server_bounds_the_file_too(self) -> None:
        self.chat.set_history_rule(self.ann, "5", "keep", "15")
        for number in range(41, 44):
            self.say(self.ann, f"line {number}")
        self.assertEqual(await self.texts(self.ann, "latest"), [f"line {number}" for number in range(29, 44)])
        await self.store.stopService()
        with contextlib.closing(sqlite3.connect(self.path)) as db:
            self.assertEqual(db.execute("SELECT count(*) FROM lines").fetchone(), (15,))


class IRCWindowTests(ServerTestCase):
    """The real service with a history file and a small --history-memory: an IRC client pages back past memory."""

    async def test_chathistory_pages_back_through_the_file(self) -> None:
        state = Path(self.mktemp()).resolve()
        state.mkdir()
        self.start_server("--history", "100", "--history-store", f"sqlite:{state / 'h.sqlite'}", "--flood-burst", "50")
        self.service.factory.chat.history_memory.limit = MEMORY  # --history-memory takes 1MB at least: 3,000 lines
        ann = await self.connect("ann", "5")
        ann.send(*(f"line {number}" for number in range(1, 41)), "/ping said")
        await ann.until("PONG :said")
        history = self.service.factory.chat.rooms["5"].history
        self.assertLessEqual(len(history.kept), 10)
        client = await irc_over_tls(self, "carol", ("batch", "server-time", "message-tags", "draft/chathistory"))
        client.join("#5")
        await client.until("RPL_ENDOFNAMES")  # the end of names: with draft/chathistory, no lines are shown on joining
        seen: list[str] = []
        point = "*"
        while True:
            client.sendLine(f"CHATHISTORY {'LATEST' if point == '*' else 'BEFORE'} #5 {point} 15")
            lines = [line for line in await client.until("BATCH", "-") if line.command == "PRIVMSG"]
            if not lines:
                break
            seen = [line.params[1] for line in lines] + seen
            point = f"msgid={lines[0].tags['msgid']}"
        self.assertEqual(seen, [f"line {number}" for number in range(1, 41)])
        client.sendLine("CHATHISTORY AFTER #5 timestamp=2000-01-01T00:00:00.000Z 5")
        self.assertEqual(said(await client.until("BATCH", "-")), [f"line {number}" for number in range(1, 6)])

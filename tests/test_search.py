"""Searching kept lines (issue 28): who may find what, the filters, bad input, and every front end.

The core's tests run twice: over the rooms' kept lines in memory (KeptLines, as without a history file and with
--redis) and over the history file's FTS5 index (SqliteHistory, its reader thread on the running reactor).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import sys
from pathlib import Path

from twisted.internet import reactor, task
from twisted.internet.interfaces import IReactorFromThreads
from twisted.trial.unittest import TestCase

from chatroom.bench import SEARCHED
from chatroom.core.chat import Chat
from chatroom.core.errors import ChatError
from chatroom.core.events import Found, Message
from chatroom.core.history import HistoryLimits, timestamp
from chatroom.core.members import Member, Room
from chatroom.core.search import SearchQuery, SearchRoom, words
from chatroom.stores.history import SqliteHistory
from tests.helpers import LineClient, RecordingSession, ServerTestCase, observe_log
from tests.test_irc import irc_over_tls
from tests.test_moderation import Directory

THREADS = IReactorFromThreads(reactor)
START = 1_795_000_000.0  # 2026-11-18T08:26:40Z: a fixed moment, whatever today is


class KeptLinesSearchTests(TestCase):
    """A chat keeping 100 lines a room, on a fake clock; searched as a server without a history file searches."""

    def setUp(self) -> None:
        self.clock = task.Clock()
        self.clock.advance(START)
        self.chat = Chat(accounts=Directory(root=True), now=self.clock.seconds, history=HistoryLimits(100))

    async def written(self) -> None:
        """What was said is where the search looks (in memory: at once)."""

    def member(self, nick: str, *rooms: str) -> Member:
        member = self.chat.register(RecordingSession(), nick, None, "192.0.2.1")
        for room in rooms:
            self.chat.join(member, room)
        return member

    def say(self, member: Member, room: str, *texts: str) -> None:
        for text in texts:
            self.chat.say(member, room, text)
            self.clock.advance(1)

    async def found(self, member: Member, text: str, **filters: str | int) -> list[tuple[str, str, str]]:
        await self.written()
        result = await self.chat.search(member, text, **filters)  # type: ignore[arg-type]
        self.assertIsInstance(result, Found)
        return [(message.room, message.nick, message.text) for message in result.messages]

    async def test_words_are_found_whole_in_any_case_oldest_first(self) -> None:
        ann = self.member("ann", "5")
        self.say(ann, "5", "The Picnic is on Sunday", "no picnics here", "who brings food to the picnic?", "cat")
        self.assertEqual(
            await self.found(ann, "PICNIC"),
            [("#5", "ann", "The Picnic is on Sunday"), ("#5", "ann", "who brings food to the picnic?")],
        )
        self.assertEqual(await self.found(ann, "picnic food"), [("#5", "ann", "who brings food to the picnic?")])
        self.assertEqual(await self.found(ann, "category"), [], "whole words: cat is not category")

    async def test_only_the_rooms_the_searcher_is_in(self) -> None:
        ann, bob = self.member("ann", "5", "6"), self.member("bob", "5")
        self.say(ann, "5", "budget in five")
        self.say(ann, "6", "budget in six")
        self.assertEqual(await self.found(bob, "budget"), [("#5", "ann", "budget in five")])
        self.assertEqual(len(await self.found(ann, "budget")), 2)
        self.chat.part(ann, "6")
        self.assertEqual(await self.found(ann, "budget"), [("#5", "ann", "budget in five")], "a room left: not")
        error = await self.refused(bob, "budget", room="6")
        self.assertEqual(error.code, "NOT_IN_ROOM")

    async def test_only_lines_from_when_the_history_rule_lets_the_member_read(self) -> None:
        ann, bob = self.member("ann", "5"), self.member("bob", "5")
        self.say(ann, "5", "the early plan")
        joined = self.clock.seconds()
        self.say(ann, "5", "the later plan")

        def readable_from(member: Member, room: Room) -> float:
            return joined if member is bob else 0.0

        self.chat.readable_from = readable_from  # type: ignore[method-assign]
        self.assertEqual(await self.found(bob, "plan"), [("#5", "ann", "the later plan")])
        self.assertEqual(len(await self.found(ann, "plan")), 2)

    async def test_a_redacted_line_is_not_found(self) -> None:
        ann = self.member("ann", "5")
        self.say(ann, "5", "my password is hunter2", "hello hunter2")
        kept = self.chat.rooms["5"].history.kept
        self.chat.redact(ann, "5", kept[0].id)
        self.assertEqual(await self.found(ann, "hunter2"), [("#5", "ann", "hello hunter2")])

    async def test_in_from_and_a_page(self) -> None:
        ann, bob = self.member("ann", "5", "6"), self.member("bob", "5", "6")
        self.say(ann, "5", "lunch one")
        self.say(bob, "5", "lunch two")
        self.say(bob, "6", "lunch three")
        self.say(ann, "6", "lunch four")
        three, four = ("#6", "bob", "lunch three"), ("#6", "ann", "lunch four")
        self.assertEqual(await self.found(ann, "lunch", room="#6"), [three, four])
        self.assertEqual(await self.found(ann, "lunch", nick="BOB"), [("#5", "bob", "lunch two"), three])
        self.assertEqual(await self.found(ann, "lunch", lines=2), [three, four], "the newest")
        second = timestamp(START + 1)
        self.assertEqual(await self.found(ann, "lunch", before=second, after=second), [("#5", "bob", "lunch two")])

    async def test_bad_input_is_refused_or_searched_as_words(self) -> None:
        ann = self.member("ann", "5")
        self.say(ann, "5", 'he said "near" me', "a * star")
        self.assertEqual((await self.refused(ann, "")).code, "NO_SEARCH_WORDS")
        self.assertEqual((await self.refused(ann, '" * ( )')).code, "NO_SEARCH_WORDS")
        self.assertEqual((await self.refused(ann, "x", lines=0)).code, "BAD_COUNT")
        self.assertEqual((await self.refused(ann, "x", before="yesterday")).code, "BAD_TIME")
        self.assertEqual(await self.found(ann, 'NEAR("me'), [("#5", "ann", 'he said "near" me')])
        self.assertEqual(await self.found(ann, "star*"), [("#5", "ann", "a * star")])
        self.assertEqual(await self.found(ann, "me OR star"), [], "no query language: OR is a word")

    async def test_scripts_written_without_spaces_a_character_a_word_a_run_as_typed(self) -> None:
        ann = self.member("ann", "5")
        lines = ("漢字テスト…", "これは漢字です", "字と漢", "你好ann今天吃饭了吗", "학교에서 만나요", "ภาษาไทยง่ายมาก")
        self.say(ann, "5", *lines)
        kanji, kore = ("#5", "ann", "漢字テスト…"), ("#5", "ann", "これは漢字です")
        chinese = ("#5", "ann", "你好ann今天吃饭了吗")
        self.assertEqual(await self.found(ann, "漢字"), [kanji, kore], "adjacent, in order: not 字と漢")
        self.assertEqual(await self.found(ann, "漢字テスト"), [kanji])
        self.assertEqual(await self.found(ann, "漢"), [kanji, kore, ("#5", "ann", "字と漢")])
        self.assertEqual(await self.found(ann, "ann"), [chinese], "Latin letters touching Han: a word")
        self.assertEqual(await self.found(ann, "今天 你好"), [chinese])
        self.assertEqual(await self.found(ann, "你好ann今天吃饭了吗"), [chinese])
        self.assertEqual(await self.found(ann, "好今"), [], "a run is found as typed: not across a word between")
        self.assertEqual(await self.found(ann, "학교"), [("#5", "ann", "학교에서 만나요")], "Hangul: as a run")
        self.assertEqual(await self.found(ann, "ง่าย"), [("#5", "ann", "ภาษาไทยง่ายมาก")])
        self.assertEqual(await self.found(ann, "ไทยง่ายภาษา"), [])

    async def test_a_run_longer_than_the_words_allowed_is_one_word(self) -> None:
        ann = self.member("ann", "5")
        run = "一二三四五六七八九十百千万亿兆京垓"  # 17 characters
        self.say(ann, "5", f"数は{run}。", run[::-1])
        self.assertEqual(await self.found(ann, run), [("#5", "ann", f"数は{run}。")])

    async def test_accents_precomposed_or_combining_are_the_same(self) -> None:
        ann = self.member("ann", "5")
        composed, combining = "mon résumé", "mon re\u0301sume\u0301"
        self.say(ann, "5", composed, combining, "resume")
        both = [("#5", "ann", composed), ("#5", "ann", combining)]
        self.assertEqual(await self.found(ann, "résumé"), both)
        self.assertEqual(await self.found(ann, "re\u0301sume\u0301"), both)
        self.assertEqual(await self.found(ann, "RÉSUMÉ"), both)
        self.assertEqual(await self.found(ann, "resume"), [("#5", "ann", "resume")], "accents count")
        self.assertEqual(await self.found(ann, "re"), [], "a combining accent is part of its word")

    async def test_a_redacted_line_in_a_script_without_spaces_is_not_found(self) -> None:
        ann = self.member("ann", "5")
        self.say(ann, "5", "秘密の話です", "秘密じゃない")
        self.assertEqual(len(await self.found(ann, "秘密")), 2)
        self.chat.redact(ann, "5", self.chat.rooms["5"].history.kept[0].id)
        self.assertEqual(await self.found(ann, "秘密"), [("#5", "ann", "秘密じゃない")])
        self.assertEqual(await self.found(ann, "の話"), [])

    async def refused(self, member: Member, text: str, **filters: str | int) -> ChatError:
        await self.written()
        try:
            await self.chat.search(member, text, **filters)  # type: ignore[arg-type]
        except ChatError as error:
            return error
        self.fail("not refused")


class SqliteSearchTests(KeptLinesSearchTests):
    """The same, searched in the history file's FTS5 index, as a server alone with --history searches."""

    def setUp(self) -> None:
        super().setUp()
        self.path = Path(self.mktemp())
        self.store = self.open_store()
        self.chat = Chat(
            accounts=Directory(root=True), now=self.clock.seconds, history=HistoryLimits(100), history_store=self.store
        )
        self.chat.search_index = self.store

    def open_store(self) -> SqliteHistory:
        store = SqliteHistory(self.path, HistoryLimits(100), THREADS, self.clock)
        store.load()
        store.startService()
        self.addCleanup(lambda: store.stopService() if store.running else None)
        return store

    async def written(self) -> None:
        """Every change written: the store stopped, and another started on the file, which the search uses."""
        await self.store.stopService()
        self.store = self.open_store()
        self.chat.history_store = self.chat.search_index = self.store

    async def test_a_redacted_lines_words_leave_the_files_bytes(self) -> None:
        ann = self.member("ann", "5")
        self.say(ann, "5", "zanzibarian secrets", "hello world", "more hello")
        await self.written()
        self.chat.redact(ann, "5", self.chat.rooms["5"].history.kept[0].id)
        await self.written()
        self.assertEqual(await self.found(ann, "zanzibarian"), [])
        await self.store.stopService()
        found = b"".join(path.read_bytes() for path in self.path.parent.glob(self.path.name + "*"))
        self.assertIn(b"hello", found, "the index is in the file")
        self.assertNotIn(b"zanzibarian", found, "nor in FTS5's shadow tables")
        self.assertNotIn(b"secrets", found)

    async def test_a_search_sees_what_was_said_and_redacted_just_before(self) -> None:
        """The writer gathers changes for WRITE_EVERY seconds: a search has it commit them first."""
        ann = self.member("ann", "5")
        self.say(ann, "5", "fresh words", "more words")
        found = await self.chat.search(ann, "fresh")
        self.assertEqual([line.text for line in found.messages], ["fresh words"])
        self.chat.redact(ann, "5", self.chat.rooms["5"].history.kept[0].id)
        self.assertEqual((await self.chat.search(ann, "fresh")).messages, ())

    async def test_a_file_written_before_searching_came_is_searched(self) -> None:
        ann = self.member("ann", "5")
        self.say(ann, "5", "an older line")
        await self.store.stopService()
        with sqlite3.connect(self.path) as db:
            db.executescript("DROP TABLE words; PRAGMA user_version = 1")
        db.close()
        self.store = self.open_store()
        self.chat.history_store = self.chat.search_index = self.store
        self.assertEqual(await self.found(ann, "older"), [("#5", "ann", "an older line")])

    async def test_a_file_of_version_3_has_its_index_made_again_once(self) -> None:
        """Version 3 indexed the words SQLite's unicode61 finds: `漢字テスト` one word, never found by `漢字`."""
        ann = self.member("ann", "5")
        self.say(ann, "5", "漢字テスト…", "字と漢", "mon re\u0301sume\u0301")
        await self.store.stopService()
        with contextlib.closing(sqlite3.connect(self.path)) as db, db:
            db.executescript(VERSION_3_WORDS)
        logged = observe_log(self)
        self.store = self.open_store()
        self.chat.history_store = self.chat.search_index = self.store
        self.assertEqual(await self.found(ann, "漢字"), [("#5", "ann", "漢字テスト…")])  # the file opened again
        self.assertEqual(await self.found(ann, "résumé"), [("#5", "ann", "mon re\u0301sume\u0301")])
        said = [event["log_format"] for event in logged if "search index" in event.get("log_format", "")]
        self.assertEqual(len(said), 1, "made again once, and said so once")
        self.chat.redact(ann, "5", self.chat.rooms["5"].history.kept[0].id)
        await self.written()
        index = self.indexed()
        self.assertEqual((index.get("テ"), index["漢"]), (None, 1), "its words deleted as the new index holds them")

    async def test_a_redacted_lines_characters_leave_the_index(self) -> None:
        """FTS5 is told a deleted line's words: they must be those written, or the index keeps them (or breaks)."""
        ann = self.member("ann", "5")
        self.say(ann, "5", "秘密の話です", "秘密じゃない", "你好ann今天")
        await self.written()
        self.chat.redact(ann, "5", self.chat.rooms["5"].history.kept[0].id)
        self.chat.redact(ann, "5", self.chat.rooms["5"].history.kept[-1].id)
        await self.written()
        self.assertEqual(self.indexed(), {word: 1 for word in "秘密じゃない"})

    def indexed(self) -> dict[str, int]:
        """The words the file's index holds, and in how many lines each."""
        with contextlib.closing(sqlite3.connect(self.path)) as db:
            db.execute("CREATE VIRTUAL TABLE temp.vocabulary USING fts5vocab(main, words, row)")
            return dict(db.execute("SELECT term, doc FROM vocabulary").fetchall())

    async def test_the_words_of_an_ended_room_are_not_those_of_the_next(self) -> None:
        """An ended room's row in `rooms` may be reused by the next room made, and with it its range of the index:
        the ended room's words must have left the index, or the next room's line 1 would answer for them."""
        self.store.said("7", Message("#7", "ann", "alpha", id="e7-1", time=timestamp(START)))
        self.store.ended("7")
        self.store.said("8", Message("#8", "ann", "beta", id="e8-1", time=timestamp(START + 1)))
        await self.written()
        rooms = (SearchRoom("8", "#8", ""),)
        self.assertEqual(await self.store.search(SearchQuery(words("alpha"), rooms)), [])
        self.assertEqual([line.text for line in await self.store.search(SearchQuery(words("beta"), rooms))], ["beta"])

    def test_a_search_before_the_store_runs_is_refused(self) -> None:
        store = SqliteHistory(self.path, HistoryLimits(100), THREADS, self.clock)
        failure = self.failureResultOf(store.search(SearchQuery(words("x"), ())), ChatError)
        self.assertEqual(failure.value.code, "SEARCH_FAILED")


VERSION_3_WORDS = """
DROP TABLE words;
CREATE VIRTUAL TABLE words USING fts5(
    text, content='', detail=none, columnsize=0, tokenize='unicode61 remove_diacritics 0'
);
INSERT INTO words (rowid, text) SELECT rooms.rowid * (1 << 40) + number, text FROM lines JOIN rooms USING (room);
PRAGMA user_version = 3;
"""  # what a file of version 3 held: `words` as SQLite's unicode61 splits the text, as it was


class FrontEndTests(ServerTestCase):
    """The real service with a history file, over TLS: `/search` in the line protocol and in the terminal client,
    and IRC's SEARCH (soju.im/search) from a real IRC client."""

    def setUp(self) -> None:
        state = Path(self.mktemp()).resolve()
        state.mkdir()
        self.path = state / "history.sqlite"
        self.start_server("--history", "100", "--history-store", f"sqlite:{self.path}")

    async def conversation(self) -> None:
        """ann and bob in #5 and ann alone in #6 said lines; each is in the history file before this returns."""
        ann = await self.connect("ann", "5")
        bob = await self.connect("bob", "5")
        ann.send("/join 6", "the picnic in six", "/join 5", "the picnic is on Sunday", "/me brings a picnic basket")
        ann.send("/ping said")
        await ann.until("PONG :said")
        bob.send("no picnic for me", "something else", "/ping said")
        await bob.until("PONG :said")
        ann.send("/ping heard")
        await ann.until("PONG :heard")
        chat = self.service.factory.chat
        assert isinstance(chat.search_index, SqliteHistory)
        await chat.search_index.stopService()  # every line written; then searched by a store started again on it
        again = SqliteHistory(self.path, chat.history_limits, THREADS, reactor)
        again.load()
        again.startService()
        self.addCleanup(again.stopService)
        chat.history_store = chat.search_index = again
        self.ann, self.bob = ann, bob

    async def found(self, client: LineClient) -> tuple[str, list[str]]:
        """The answer to a /search: its FOUND lines without their ids and times, and its SEARCH line."""
        last, lines = await client.until("SEARCH ")
        found = [line.split(" ", 6) for line in lines if line.startswith("FOUND ")]
        return last, [" ".join([*words[:3], words[5], words[6]]) for words in found]

    async def test_the_line_protocol(self) -> None:
        await self.conversation()
        self.bob.send("/search PICNIC")
        last, found = await self.found(self.bob)
        self.assertEqual(
            found,
            ["FOUND #5 ann said :the picnic is on Sunday", "FOUND #5 ann did :brings a picnic basket",
             "FOUND #5 bob said :no picnic for me"],
            "not #6, which bob is not in",
        )  # fmt: skip
        self.assertEqual(last, "SEARCH 3 :PICNIC")
        self.ann.send("/search picnic in #6", "/search picnic from bob", '/search NEAR("*', '/search "')
        self.assertEqual((await self.found(self.ann))[1], ["FOUND #6 ann said :the picnic in six"])
        self.assertEqual((await self.found(self.ann))[1], ["FOUND #5 bob said :no picnic for me"])
        self.assertEqual(await self.found(self.ann), ('SEARCH 0 :NEAR("*', []), "searched as the word near")
        error, _ = await self.ann.until("ERR ")
        self.assertEqual(error, "ERR NO_SEARCH_WORDS :search for at least one word: letters or digits")

    async def test_the_line_protocol_in_a_script_without_spaces(self) -> None:
        await self.conversation()
        self.ann.send("/join 5", "漢字テスト…", "字と漢", "/search 漢字", "/search 漢字 in #5 from ann")
        last, found = await self.found(self.ann)
        self.assertEqual((last, found), ("SEARCH 1 :漢字", ["FOUND #5 ann said :漢字テスト…"]))
        self.assertEqual((await self.found(self.ann))[1], ["FOUND #5 ann said :漢字テスト…"])

    async def test_irc_search(self) -> None:
        await self.conversation()
        client = await irc_over_tls(self, "carol", ("batch", "server-time", "message-tags", "soju.im/search"))
        client.join("#5")
        await client.until("BATCH", "-")  # the lines kept, shown on joining
        client.sendLine("SEARCH text=picnic;from=ann;limit=5")
        start, *lines, _ = await client.until("BATCH", "-")
        self.assertEqual((start.command, start.params[1:]), ("BATCH", ["soju.im/search"]))
        action = "\x01ACTION brings a picnic basket\x01"
        said = [(line.source.split("!")[0], line.params) for line in lines]
        self.assertEqual(said, [("ann", ["#5", "the picnic is on Sunday"]), ("ann", ["#5", action])])
        self.assertTrue(all(line.tags["batch"] == start.params[0][1:] and "msgid" in line.tags for line in lines))
        client.sendLine("SEARCH text=picnic;in=#6")
        fail = await client.until("FAIL")
        self.assertEqual(fail[-1].params[:2], ["SEARCH", "INVALID_PARAMS"], "not in #6")
        client.sendLine("SEARCH text=*;colour=red")
        self.assertEqual((await client.until("FAIL"))[-1].params[:2], ["SEARCH", "INVALID_PARAMS"])

    async def test_the_terminal_client(self) -> None:
        await self.conversation()
        person = self.spawn(
            [sys.executable, "-m", "chatroom.client", "127.0.0.1", "--port", str(self.port), "--ca",
             str(self.certs / "ca.pem"), "--nick", "dora", "--room", "5"],
            terminal=True, XDG_CONFIG_HOME=str(Path(self.mktemp()).resolve()), NO_COLOR="1",
        )  # fmt: skip
        await person.until(r"\[#5\] -- here:")
        await person.until(r"lines from history")  # the room's kept lines, shown on joining, end
        person.type("/search sunday\r")
        await person.until(r"(\d{4}-\d\d-\d\d )?\d\d:\d\d \[#5\] <ann> the picnic is on Sunday")
        await person.until(r"above: 1 line found for sunday")
        person.type("/search\r")
        await person.until("search for at least one word")
        person.type("\x03")
        self.assertEqual(await person.exit_code(), 0)
        self.assertNotIn("Traceback", person.output)


class BenchTests(ServerTestCase):
    """The benchmark's search workload and its history askers, on tiny sizes: they run and report every figure.
    Speed is not judged here."""

    async def test_the_search_workload(self) -> None:
        figures_file = Path(self.mktemp())
        arguments = ["search", "--lines", "2000", "--asks", "2", "--json", str(figures_file)]
        bench = self.spawn([sys.executable, "-m", "chatroom.bench", *arguments])
        self.assertEqual(await bench.exit_code(), 0, bench.output)
        figures = json.loads(figures_file.read_text())
        self.assertEqual(figures["lines"], 2000)
        self.assertEqual(set(figures["ms"]), set(SEARCHED))
        self.assertEqual(set(figures["all_ms"]), {"p50", "p99", "max"})
        self.assertIn("search: 2,000 kept lines in 10 rooms", bench.output)

    async def test_history_asked_under_load(self) -> None:
        figures_file = Path(self.mktemp())
        bench = self.spawn(
            [sys.executable, "-m", "chatroom.bench", "burst", "--protocol", "irc", "--history", "100", "--askers", "1",
             "--ask", "history", "--clients", "10", "--rooms", "2", "--senders", "4", "--rate", "5", "--duration", "1",
             "--json", str(figures_file)]
        )  # fmt: skip
        self.assertEqual(await bench.exit_code(), 0, bench.output)
        figures = json.loads(figures_file.read_text())
        self.assertGreater(figures["who_answers"], 0, "CHATHISTORY answered while the load ran")
        self.assertEqual(set(figures["answer_ms"]), {"p50", "p99", "max"})
        self.assertIn("`CHATHISTORY BEFORE #ROOM NOW 100` answered", bench.output)

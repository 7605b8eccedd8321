"""Rooms' history in an SQLite file (issue 28): what a restart finds, what is deleted for good, and a bad file.

The store runs as it does in the server: its own writer thread, on a real file, the reactor running; each test
stops it (every change written, the file closed) before looking at what the file holds.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

from twisted.internet import reactor, task
from twisted.internet.defer import DeferredQueue
from twisted.internet.interfaces import IReactorFromThreads
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import TestCase

from chatroom.core.events import Message
from chatroom.core.history import HistoryLimits, timestamp
from chatroom.core.state import KeptHistory, StoreError
from chatroom.stores.accounts import AccountStore
from chatroom.stores.history import VERSION, Change, SqliteHistory
from tests.helpers import LineClient, ServerTestCase
from tests.test_twistd import LISTENING, TWISTD

THREADS = IReactorFromThreads(reactor)
START = 1_795_000_000.0  # 2026-11-18T08:26:40Z: a fixed moment, whatever today is


def said(number: int, text: str, epoch: str = "e1", to: str = "", at: float = START) -> Message:
    msgid = f"{epoch}-{number}" if not to else f"{epoch}-{number}.1"
    return Message("#5", "ann", text, to=to, id=msgid, time=timestamp(at + number))


class SqliteHistoryTests(TestCase):
    def setUp(self) -> None:
        self.path = Path(self.mktemp())
        self.clock = task.Clock()
        self.clock.advance(START)

    def store(self, lines: int = 5, age: float = 0.0) -> SqliteHistory:
        """A store as the server runs one: read as the chat starts, then written by its thread."""
        store = SqliteHistory(self.path, HistoryLimits(lines, age), THREADS, self.clock)
        self.assertEqual(store.load(), {}, "a new file")
        store.startService()
        self.addCleanup(lambda: store.stopService() if store.running else None)
        return store

    def restart(self, lines: int = 5, age: float = 0.0) -> dict[str, KeptHistory]:
        """What a server starting again on the file reads."""
        return SqliteHistory(self.path, HistoryLimits(lines, age), THREADS, self.clock).load()

    def assert_gone(self, *texts: str) -> None:
        """None of `texts` is anywhere on disk: in the file, or a write-ahead log if one was left."""
        found = b"".join(path.read_bytes() for path in self.path.parent.glob(self.path.name + "*"))
        for text in texts:
            self.assertFalse(text.encode() in found, f"{text!r} is still on disk")

    async def test_what_is_written_is_what_a_restart_loads(self) -> None:
        store = self.store()
        lines = [said(1, "one"), said(2, "two"), said(3, "for the operators", to="@"), said(4, "four")]
        for line in lines:
            store.said("5", line)
        await store.stopService()
        kept = self.restart()
        self.assertEqual(kept, {"5": KeptHistory("e1", 4, [lines[0], lines[1], lines[3]])})
        self.assertEqual([line.id for line in kept["5"].lines], ["e1-1", "e1-2", "e1-4"], "ids and times kept")
        self.assertEqual(kept["5"].lines[2].time, lines[3].time)
        self.assert_gone("for the operators")
        self.assertEqual(self.path.stat().st_mode & 0o777, 0o600, "what people said: its owner's only")

    async def test_a_topic_change_and_tags_kept_as_their_sender_asked_are_kept_as_they_were(self) -> None:
        store = self.store()
        lines = [said(1, "one"), replace(said(2, "exams on friday"), topic=True),
                 replace(said(3, ""), tags=(("+draft/persist", ""), ("+draft/react", "👍")))]  # fmt: skip
        for line in lines:
            store.said("5", line)
        await store.stopService()
        self.assertEqual(self.restart(), {"5": KeptHistory("e1", 3, lines)})

    async def test_a_file_of_the_version_before_topics_is_read_and_written(self) -> None:
        """Version 2's `lines` had no `topic` column: opening the file adds it, and its lines are messages."""
        with contextlib.closing(sqlite3.connect(self.path)) as db:
            db.executescript(
                "CREATE TABLE lines (room TEXT NOT NULL, number INTEGER NOT NULL, nick TEXT NOT NULL,"
                " text TEXT NOT NULL, action INTEGER NOT NULL, notice INTEGER NOT NULL, id TEXT NOT NULL,"
                " time TEXT NOT NULL, PRIMARY KEY (room, number)) WITHOUT ROWID; PRAGMA user_version = 2"
            )
        store = SqliteHistory(self.path, HistoryLimits(5), THREADS, self.clock)
        self.assertEqual(store.load(), {})
        store.startService()
        store.said("5", replace(said(1, "exams on friday"), topic=True))
        await store.stopService()
        self.assertTrue(self.restart()["5"].lines[0].topic)

    async def test_each_room_keeps_its_last_lines_only(self) -> None:
        store = self.store(lines=3)
        for number in range(1, 8):
            store.said("5", said(number, f"line number {number}"))
        await store.stopService()
        kept = self.restart(lines=3)["5"]
        self.assertEqual([line.text for line in kept.lines], ["line number 5", "line number 6", "line number 7"])
        self.assertEqual(kept.said, 7)
        self.assert_gone("line number 1", "line number 4")

    async def test_what_is_redacted_cleared_or_ended_is_gone_from_the_files_bytes(self) -> None:
        store = self.store()
        store.said("5", said(1, "the secret plan"))
        store.said("5", said(2, "hello"))
        store.said("6", said(1, "in six"))
        store.said("7", said(1, "in seven"))
        store.redacted("5", ["e1-1"])
        store.cleared("6")
        store.ended("7")
        await store.stopService()
        kept = self.restart()
        self.assertEqual([line.text for line in kept["5"].lines], ["hello"])
        self.assertEqual(kept["6"].lines, [], "cleared: its life and count go on")
        self.assertNotIn("7", kept, "ended")
        self.assert_gone("the secret plan", "in six", "in seven")

    async def test_a_room_begun_again_forgets_its_earlier_life(self) -> None:
        store = self.store()
        store.said("5", said(1, "before"))
        store.said("5", said(1, "after", epoch="e2"))
        await store.stopService()
        self.assertEqual(self.restart(), {"5": KeptHistory("e2", 1, [said(1, "after", epoch="e2")])})

    async def test_lines_older_than_the_age_go(self) -> None:
        store = self.store(age=3600)
        store.said("5", said(1, "two hours ago", at=START - 7200))
        store.said("5", said(2, "just now"))
        await store.stopService()
        self.assert_gone("two hours ago")
        self.assertEqual([line.text for line in self.restart(age=3600)["5"].lines], ["just now"])

    def test_a_damaged_file_is_one_clear_error(self) -> None:
        self.path.write_bytes(b"not a database, whatever it was" * 100)
        error = self.assertRaises(StoreError, SqliteHistory(self.path, HistoryLimits(5), THREADS, self.clock).load)
        self.assertEqual(
            str(error),
            f"cannot read the history file {self.path}: file is not a database; restore it from a backup, or move"
            " it away to start afresh (its history is then lost)",
        )

    async def test_a_file_damaged_inside_says_what_to_do(self) -> None:
        """A review: `database disk image is malformed` stopped the server with no next step."""
        store = self.store()
        for number in range(1, 200):
            store.said("5", said(number, f"line {number} " * 20))
        await store.stopService()
        damaged = bytearray(self.path.read_bytes())
        damaged[4096 * 2 : 4096 * 3] = b"\xff" * 4096  # its third page
        self.path.write_bytes(bytes(damaged))
        error = self.assertRaises(StoreError, SqliteHistory(self.path, HistoryLimits(5), THREADS, self.clock).load)
        message = str(error)
        self.assertTrue(
            message.startswith(f"cannot read the history file {self.path}: database disk image is malformed")
        )
        self.assertTrue(
            message.endswith("; restore it from a backup, or move it away to start afresh (its history is then lost)")
        )
        self.assertNotIn("\n", message)

    async def test_a_directory_sqlite_cannot_write_in_is_said_so_not_an_unreadable_file(self) -> None:
        """A review: on a read-only filesystem the readable file was reported `unable to open database file`; SQLite
        could not make its -wal and -shm files beside it. Here it really cannot (each is a link into a directory that
        does not exist), and the directory is not writable as on a read-only filesystem: tests run as root, for whom
        a directory's mode grants everything, so `os.access` is told so for that directory alone."""
        store = self.store()
        store.said("5", said(1, "one"))
        await store.stopService()
        for made in ("-wal", "-shm"):
            self.path.with_name(self.path.name + made).symlink_to(Path(self.mktemp()) / "missing")
        error = self.assertRaises(StoreError, SqliteHistory(self.path, HistoryLimits(5), THREADS, self.clock).load)
        self.assertEqual(str(error), f"cannot read the history file {self.path}: unable to open database file")
        access = os.access
        self.patch(os, "access", lambda path, mode: access(path, mode) and (path, mode) != (self.path.parent, os.W_OK))
        error = self.assertRaises(StoreError, SqliteHistory(self.path, HistoryLimits(5), THREADS, self.clock).load)
        self.assertEqual(
            str(error),
            f"cannot open the history file {self.path}: its directory {self.path.parent} is not writable, and SQLite"
            f" makes {self.path.name}-wal and {self.path.name}-shm beside the file: let the server's user write"
            " there, or give --history-store a path in a directory it may write",
        )

    async def test_a_row_the_server_cannot_use_stops_the_start_with_one_line_naming_it(self) -> None:
        """A review, each row made with sqlite3 on a valid file: an empty id, bad JSON in `more`, or a line of a room
        `rooms` lacks ended the start in a traceback; a time 'garbage' left the room unjoinable (BAD_TIME); a count
        of 2**63-1 killed the writer thread at the next line, and -5 gave ids like e1--4."""
        store = self.store()
        store.said("5", said(1, "one"))
        await store.stopService()
        valid = self.path.read_bytes()
        advice = "; correct or delete that row with sqlite3, or move the file away to start afresh"
        for change, fault in [
            ("UPDATE lines SET id = ''", "lines: '5': line 1 has the id '', not one ending in -1"),
            ("UPDATE lines SET id = 'e1-7'", "lines: '5': line 1 has the id 'e1-7', not one ending in -1"),
            ("UPDATE lines SET more = '{'", "lines: '5': line 1 has `more` '{', which is not a JSON object"),
            ("UPDATE lines SET more = '[1]'", "lines: '5': line 1 has `more` '[1]', which is not a JSON object"),
            ("UPDATE lines SET room = 'zz zz'", "lines: 'zz zz': line 1 is of 'zz zz', which rooms lacks"),
            ("UPDATE lines SET time = 'garbage'", "lines: '5': line 1 has the time 'garbage', not one as 2026-11-23T"),
            ("UPDATE lines SET time = '2026-19-01T00:00:00.000Z'", "line 1 has the time '2026-19-01T00:00:00.000Z'"),
            ("UPDATE rooms SET said = 9223372036854775807", "rooms: '5': has a count of messages (said) of"
             " 9223372036854775807, not one from 0 to 1099511627775"),
            ("UPDATE rooms SET said = -5", "rooms: '5': has a count of messages (said) of -5, not one from 0"),
            ("UPDATE rooms SET said = 'x'", "rooms: '5': has a count of messages (said) of 'x'"),
            ("""UPDATE lines SET more = '{"tags": 5}'""", "lines: '5': the line of id 'e1-1' is not as chatroom"
             " writes it (its time or `more`)"),
            ("UPDATE lines SET time = '2026-02-31T00:00:00.000Z'", "lines: '5': the line of id 'e1-1' is not as"),
        ]:  # fmt: skip
            self.path.write_bytes(valid)
            with contextlib.closing(sqlite3.connect(self.path)) as db:
                db.execute(change)
                db.commit()
            error = self.assertRaises(StoreError, SqliteHistory(self.path, HistoryLimits(5), THREADS, self.clock).load)
            message = str(error)
            self.assertTrue(message.startswith(f"cannot read the history file {self.path}: "), message)
            self.assertIn(fault, message)
            self.assertTrue(message.endswith(advice), message)
            self.assertNotIn("\n", message)
        self.path.write_bytes(valid)
        self.assertEqual([line.text for line in self.restart()["5"].lines], ["one"], "the valid file still loads")

    async def test_the_writer_never_dies_of_a_change_it_cannot_write(self) -> None:
        """A count past SQLite's integers raised OverflowError in the writer thread: it died with a traceback on
        stderr, every later line went unsaved without a word, and the service never stopped."""
        logged = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        store = self.store()
        store.said("5", replace(said(1, "past SQLite's integers"), id=f"e1-{2**63}"))
        store.said("5", said(1, "one"))
        await store._written()
        store.said("5", said(2, "two"))
        await store.stopService()  # fires: the thread still runs
        failures = [event for event in logged if "cannot write" in event.get("log_format", "")]
        self.assertEqual(len(failures), 1, "said once")
        self.assertIn("too large", str(failures[0]["error"]))
        self.assertEqual([line.text for line in self.restart()["5"].lines], ["two"], "written again after")

    def test_a_file_of_another_version_is_refused(self) -> None:
        with sqlite3.connect(self.path) as db:
            db.execute("PRAGMA user_version = 9")
        db.close()
        error = self.assertRaises(StoreError, SqliteHistory(self.path, HistoryLimits(5), THREADS, self.clock).load)
        self.assertIn(f"written by another version of chatroom (schema 9, this one reads {VERSION})", str(error))

    def test_a_file_that_cannot_be_opened_is_one_clear_error(self) -> None:
        self.path.mkdir()
        error = self.assertRaises(StoreError, SqliteHistory(self.path, HistoryLimits(5), THREADS, self.clock).load)
        self.assertEqual(str(error), f"cannot open the history file {self.path}: Is a directory")

    async def test_a_full_disk_is_said_once_and_writing_goes_on_once_there_is_room(self) -> None:
        logged = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        store = FullDisk(self.path, HistoryLimits(1000), THREADS, self.clock)
        store.load()
        store.startService()
        for number in range(1, 4):  # three commits, each line more than the disk's room (8 pages of 4 KiB)
            store.said("5", said(number, "x" * 40_000))
            await store.commits.get()
        store.pages = 1_000_000  # room again
        store.said("5", said(4, "four"))
        await store.stopService()
        failures = [event for event in logged if "cannot write" in event.get("log_format", "")]
        self.assertEqual(len(failures), 1, "said once")
        self.assertIn("database or disk is full", str(failures[0]["error"]))
        self.assertEqual(len([event for event in logged if "again" in event.get("log_format", "")]), 1)
        self.assertEqual([line.text for line in self.restart()["5"].lines], ["four"])


class FullDisk(SqliteHistory):
    """A history file on a disk with room for `pages` pages (SQLite's max_page_count); each commit told."""

    pages = 8

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.commits: DeferredQueue[None] = DeferredQueue()

    def _commit(self, db: sqlite3.Connection, changes: list[Change], now: float | None) -> None:
        db.execute(f"PRAGMA max_page_count = {self.pages}")
        super()._commit(db, changes, now)
        self.reactor.callFromThread(self.commits.put, None)


class RestartTests(ServerTestCase):
    """The real service over TLS, stopped and started again on the same files, as an administrator restarts it."""

    def setUp(self) -> None:
        state = Path(self.mktemp()).resolve()
        state.mkdir()
        AccountStore(state / "accounts.db").add("owen", "owen's secret")
        self.files = ["--accounts", str(state / "accounts.db"), "--rooms", str(state / "rooms.json")]
        self.history = state / "history.sqlite"  # beside the accounts file, by default

    async def test_a_registered_rooms_history_and_its_ids_outlive_a_restart_and_a_client_catches_up(self) -> None:
        self.start_server("--history", "20", *self.files)
        owen = await self.owen()
        owen.send("/room register", "before the restart", "/ping said")
        await owen.until("PONG :said")
        bob = await self.connect("bob")
        bob.stamps = True
        bob.send("/join club")
        _, shown = await bob.until("HISTORY #club ")
        (seen,) = [line for line in shown if line.startswith("SAID ")]
        await self.served.stopService()  # the history file's writer last: every line written, the file closed

        self.start_server("--history", "20", *self.files)
        owen = await self.owen()
        owen.send("after the restart", "/ping said")
        await owen.until("PONG :said")
        back = await self.connect("bob")
        back.stamps = True
        back.send(f"/join club after {seen.split()[3]}")  # as our client does, with the last id it saw
        last, shown = await back.until("HISTORY #club ")
        said = [line.partition(" :")[2] for line in shown if line.startswith("SAID ")]
        self.assertEqual(said, ["after the restart"], "exactly what was missed: the ids went on")
        self.assertEqual(last, "HISTORY #club 1 0")

    async def owen(self) -> LineClient:
        """Owen, logged in, in #club (his, once registered)."""
        owen = await self.connect("owen")
        owen.send("/pass owen's secret", "/join club")
        await owen.until("NAMES #club @owen")
        return owen

    async def test_a_kill_9_while_writing_leaves_a_readable_file_holding_the_lines_in_order(self) -> None:
        """What a kill -9 loses is the last lines said (at most WRITE_EVERY's worth), never the file."""
        self.certs = Path(self.mktemp()).resolve()
        process = self.spawn(
            [TWISTD, "-n", "--pidfile=", "chatroom", "--certs", str(self.certs),
             "--listen", "tcp:0:interface=127.0.0.1", "--no-irc", "--no-web", "--history", "1000",
             "--flood-burst", "1000", *self.files]
        )  # fmt: skip
        self.port = int((await process.until(LISTENING)).group(1))
        ann = await self.connect("ann", "5")
        ann.send(*(f"line {number}" for number in range(100)))
        while len(self.kept()) < 100:  # written: the file says so (what the test waits on, not for how long)
            await task.deferLater(reactor, 0.05, lambda: None)
        ann.send(*(f"line {number}" for number in range(100, 400)))
        await ann.until("MSG #5 ann :line 200")
        process.transport.signalProcess("KILL")  # while the rest are being said, and written
        await process.ended
        kept = self.kept()
        self.assertEqual(kept, [f"line {number}" for number in range(len(kept))], "the first ones, in order")
        self.assertGreaterEqual(len(kept), 100)

    async def test_twistd_on_a_damaged_row_exits_with_one_line(self) -> None:
        """A line of a room `rooms` lacks ended the start in a full traceback (KeyError: 'zz zz')."""
        SqliteHistory(self.history, HistoryLimits(5), THREADS, task.Clock()).load()  # a valid, empty file
        with contextlib.closing(sqlite3.connect(self.history)) as db:
            db.execute(
                "INSERT INTO lines VALUES ('zz zz', 1, 'ann', 'hi', 0, 0, 'e1-1', '2026-11-23T09:30:00.000Z', 0, '')"
            )
            db.commit()
        process = self.spawn(
            [TWISTD, "-n", "--pidfile=", "chatroom", "--certs", str(Path(self.mktemp()).resolve()),
             "--listen", "tcp:0:interface=127.0.0.1", "--no-irc", "--no-web", "--history", "20", *self.files]
        )  # fmt: skip
        self.assertEqual(await process.exit_code(), 1)
        self.assertEqual(
            process.output.splitlines()[-1],
            f"chatroom: cannot read the history file {self.history}: lines: 'zz zz': line 1 is of 'zz zz', which rooms"
            " lacks; correct or delete that row with sqlite3, or move the file away to start afresh",
        )
        self.assertNotIn("Traceback", process.output)

    def kept(self) -> list[str]:
        """The lines the history file holds of room 5, after checking the whole file."""
        with contextlib.closing(sqlite3.connect(self.history)) as db:
            self.assertEqual(db.execute("PRAGMA quick_check").fetchone(), ("ok",))
            return [text for (text,) in db.execute("SELECT text FROM lines WHERE room = '5' ORDER BY number")]

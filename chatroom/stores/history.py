"""Rooms' history in an SQLite file, so that a server alone (no --redis) keeps it across a restart.

chatroom.core.state.HistoryStore, as chatroom.bus.history is for several processes: the rooms' own RoomHistory
answers from memory, and this writes down each change in the order the rooms make it, so that a server that starts
again finds its registered rooms' lines and their ids go on where they stopped. It also keeps what --history-memory
drops from memory, and reads it back when a query reaches past memory (`older`, on the readers' thread, below).

**Never on the reactor.** The reactor only puts each change on a queue. One writer thread takes what came in the
WRITE_EVERY seconds after the first change it waits for and writes it in one transaction, so a burst of lines costs
one commit. A `kill -9` loses what was said in the last WRITE_EVERY seconds (and the transaction being written),
never what was committed, and never leaves a file SQLite cannot read (write-ahead log, docs/running.md).

**Bounded as the rooms are.** A room keeps its last HistoryLimits.lines lines, none older than HistoryLimits.age
(dropped once a minute); a redaction, a clearing, and an unregistered room's end delete them. `secure_delete`
overwrites what is deleted, so a line redacted or cleared is no longer in the file's bytes.

**Failing.** A file that cannot be opened, is not SQLite, or is damaged (a row not as the writer writes it: CHECKS)
stops the server at start with one line (StoreError). A write that fails later (the disk is full) is logged once,
those changes are not written, and the chat goes on; the next write that succeeds is logged too. The writer thread
never dies before the service stops (`_write_all`).

**Searched** (chatroom.core.search's SearchIndex): `words`, an FTS5 table without content of its own (the text is in
`lines`), holds the words of every kept line, written with it, and is told of each line deleted, with its words (FTS5
finds a deleted line's words by tokenizing what it is given again), in one statement before the lines go (`_delete`).
What a word is, chatroom.core.search decides (`indexed`, the SQL function `search_words` on every connection), not
SQLite's tokenizer, which only splits at the spaces put between them: so the file's index and the rooms' lines in
memory find the same lines, and a deleted line's words are exactly those written. A search looks up its words and
then tests the runs of characters each a word (Han, kana, Thai...) in each line found, as typed (`RUN`). Not by
triggers: FTS5 writes its pending words out at every statement a trigger runs in, which made each line cost 70 µs
more (docs/performance.md). Its rowid is the room's rowid in `rooms` times ROOM_SPAN plus the line's number, so one
room's lines are one range of it, newest last; a batch's words are written in rowid order, for the same reason.

A search runs on its own connection in its own thread (one), never on the reactor nor in the writer's way
(write-ahead log: readers and the writer do not wait for each other). It sees what was committed, so it first has
the writer commit what it was gathering (`_written`): a line said or redacted before the search is in its answer or
gone from it, as the one searching expects. FTS5 deletes by adding
"deleted" entries to its index, so a deleted line's words stay in the index's older pages until they are merged:
after a redaction or a clearing the writer merges the whole index (FTS5's 'optimize') before the transaction ends,
so that, with secure_delete, the words redacted are no longer in the file either. That costs in proportion to
everything kept (docs/performance.md); words of lines dropped by age, by the --history limit or with an unregistered
room's end are left to FTS5's own merges.

Tables: `rooms(room, name, epoch, said)`: each room's life (history.epoch) and the number of its last message, kept or
not; `lines(room, number, nick, text, action, notice, id, time, topic, more)`: the lines kept (`topic`: a topic
change; `more`: what else a line has, as JSON, '' for most: `tags` kept as their sender asked, the id of the line it
answers (`reply`), where a line of several was cut (`breaks`)); `words`: their words.
Messages to a room's operators only are never written. With --history-private, `conversations(conversation, epoch,
said)` and `private_lines(...)` do the same for conversations between two accounts (chatroom.core.private), bounded as
rooms are, and never searched; a start without it deletes them. `markers(account, target, time)`: where each account
has read up to (chatroom.core.markers). `stays(room, account, time)`: when each account's stay in each registered
room began (chatroom.core.members.Room.stays, chatroom.core.rules), deleted as the stay ends; times only.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from twisted.application.service import Service
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorFromThreads, IReactorTime
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool

from chatroom.core.errors import ChatError
from chatroom.core.events import Message
from chatroom.core.history import HistoryLimits, Reach, line_bytes, seconds, timestamp
from chatroom.core.markers import MARKERS_KEPT
from chatroom.core.names import nick_key
from chatroom.core.rules import unkept
from chatroom.core.search import SearchQuery, fold, indexed, newest
from chatroom.core.state import KeptHistory, StoreError

log = Logger(namespace="chatroom")
T = TypeVar("T")
Q = TypeVar("Q")

DEFAULT_FILE = "history.sqlite"
WRITE_EVERY = 0.1  # seconds the writer gathers changes before one commit: what a kill -9 may lose
PRUNE_EVERY = 60.0  # seconds between two passes dropping lines older than --history-age
VERSION = 4  # PRAGMA user_version of the schema below (1: without `words`; 2 and 3: `words` as SQLite's unicode61 split
# the text, not as chatroom.core.search does: opening such a file makes `words` again, once; 1 and 2: without the
# lines' `topic` and `more`, which opening such a file adds: NEW_COLUMNS)
ROOM_SPAN = 1 << 40  # a room's range of `words` rowids: more lines than a room will ever number

SCHEMA = """
CREATE TABLE IF NOT EXISTS rooms (
    room TEXT PRIMARY KEY, name TEXT NOT NULL, epoch TEXT NOT NULL, said INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS lines (
    room TEXT NOT NULL, number INTEGER NOT NULL, nick TEXT NOT NULL, text TEXT NOT NULL, action INTEGER NOT NULL,
    notice INTEGER NOT NULL, id TEXT NOT NULL, time TEXT NOT NULL, topic INTEGER NOT NULL DEFAULT 0,
    more TEXT NOT NULL DEFAULT '', PRIMARY KEY (room, number)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS lines_by_time ON lines (time);
CREATE TABLE IF NOT EXISTS conversations (
    conversation TEXT PRIMARY KEY, epoch TEXT NOT NULL, said INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS private_lines (
    conversation TEXT NOT NULL, number INTEGER NOT NULL, sender TEXT NOT NULL, recipient TEXT NOT NULL,
    text TEXT NOT NULL, action INTEGER NOT NULL, notice INTEGER NOT NULL, id TEXT NOT NULL, time TEXT NOT NULL,
    more TEXT NOT NULL DEFAULT '', PRIMARY KEY (conversation, number)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS private_lines_by_time ON private_lines (time);
CREATE TABLE IF NOT EXISTS markers (
    account TEXT NOT NULL, target TEXT NOT NULL, time TEXT NOT NULL, PRIMARY KEY (account, target)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stays (
    room TEXT NOT NULL, account TEXT NOT NULL, time TEXT NOT NULL, PRIMARY KEY (room, account)
) WITHOUT ROWID;
"""
# Given chatroom.core.search's `indexed` text (the words between spaces): only a space separates (every category
# is part of a word, but the space), so its words are the index's, whatever SQLite's own Unicode tables say.
WORDS = """CREATE VIRTUAL TABLE IF NOT EXISTS words USING fts5(
    text, content='', detail=none, columnsize=0,
    tokenize="unicode61 remove_diacritics 0 categories 'L* M* N* P* S* Z* C*' separators ' '"
)"""
NEW_COLUMNS = (  # what version 3 added to tables an earlier version made
    ("lines", "topic", "INTEGER NOT NULL DEFAULT 0"),
    ("lines", "more", "TEXT NOT NULL DEFAULT ''"),
    ("private_lines", "more", "TEXT NOT NULL DEFAULT ''"),
)
FILL_WORDS = (
    "INSERT INTO words (rowid, text) SELECT rooms.rowid * ? + number, search_words(text) FROM lines "
    "JOIN rooms USING (room) ORDER BY 1"
)
FORGET_WORDS = (  # followed by the condition of the lines about to be deleted: the words written (`search_words`)
    "INSERT INTO words (words, rowid, text) "
    "SELECT 'delete', rooms.rowid * ? + number, search_words(text) FROM lines JOIN rooms USING (room) WHERE "
)
OLDER = (  # lines memory no longer holds (chatroom.core.history.Reach), followed by the order and the limit
    "SELECT name, nick, text, action, notice, id, time, topic, more, number FROM lines JOIN rooms USING (room) "
    "WHERE room = ? AND number >= ? AND number < ? AND time >= ? AND (? = '' OR time < ?) ORDER BY number "
)
SEARCH = (  # one room's newest matches: its range of `words`, read from its end
    "SELECT l.nick, l.text, l.action, l.notice, l.id, l.time FROM words JOIN lines AS l ON l.room = ? "
    "AND l.number = words.rowid - ? WHERE words MATCH ? AND words.rowid BETWEEN ? AND ? AND NOT l.topic "
    "AND l.time >= ? "
    "AND l.time <= ? AND (? = '' OR lower(l.nick) = ?) {runs}ORDER BY words.rowid DESC LIMIT ?"
)
RUN = "AND instr(search_fold(l.text), ?) "  # one of SearchQuery.runs in a line's text, as typed

UPSERT_ROOM = (
    "INSERT INTO rooms VALUES (?, ?, ?, ?) ON CONFLICT (room) DO UPDATE SET "
    "name = excluded.name, epoch = excluded.epoch, said = excluded.said"
)

UPSERT_CONVERSATION = (
    "INSERT INTO conversations VALUES (?, ?, ?) ON CONFLICT (conversation) DO UPDATE SET "
    "epoch = excluded.epoch, said = excluded.said"
)
UPSERT_MARKER = (  # a marker only moves forward: times in one format compare as text
    "INSERT INTO markers VALUES (?, ?, ?) ON CONFLICT (account, target) DO UPDATE SET time = max(time, excluded.time)"
)
FORGET_PRIVATE = ("DELETE FROM private_lines", "DELETE FROM conversations")

# What the writer writes, checked at a start in one pass over each table: a row changed by hand that the server would
# fail on later (a traceback at start, a room nobody could join, a writer thread dead of a number past SQLite's
# integers) stops the start with one line instead. Each query gives the first bad row and what is wrong with it.
# Only what the server itself stamps: a read marker's time comes from a client (any year), so is not checked here.
_TIME = (
    "(typeof({column}) = 'text' AND {column} GLOB "
    "'[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z' "
    "AND strftime('%Y-%m-%dT%H:%M:%S', substr({column}, 1, 19)) IS substr({column}, 1, 19))"
)
_COUNT = "(typeof({column}) = 'integer' AND {column} >= 0 AND {column} < :span)"
_LINE = (  # a line of `table`, whose owner (a room, a conversation) is `owner` in `owners`
    "SELECT {owner}, 'line ' || quote(number) || ' ', CASE "
    "WHEN {owner} NOT IN (SELECT {owner} FROM {owners}) THEN 'is of ' || quote({owner}) || ', which {owners} lacks' "
    "WHEN NOT " + _COUNT.format(column="number") + " THEN 'has a bad number' "
    "WHEN typeof(id) != 'text' OR NOT id GLOB '?*-' || number THEN 'has the id ' || quote(id) || ', not one ending in "
    "-' || number "
    "WHEN NOT " + _TIME.format(column="time") + " THEN 'has the time ' || quote(time) || ', not one as "
    "2026-11-23T09:30:00.000Z' "
    "WHEN typeof(more) != 'text' OR (more != '' AND (NOT json_valid(more) OR json_type(more) != 'object')) "
    "THEN 'has `more` ' || quote(substr(more, 1, 40)) || ', which is not a JSON object' "
    "END FROM {table} WHERE NOT (" + _COUNT.format(column="number") + " AND typeof(id) = 'text' "
    "AND id GLOB '?*-' || number AND " + _TIME.format(column="time") + " AND typeof(more) = 'text' "
    "AND (more = '' OR (json_valid(more) AND json_type(more) = 'object')) "
    "AND {owner} IN (SELECT {owner} FROM {owners})) LIMIT 1"
)
_SAID = (  # the row of a room or a conversation, whose key is `owner`
    "SELECT {owner}, '', CASE WHEN NOT " + _COUNT.format(column="said") + " THEN 'has a count of messages (said) of ' "
    "|| quote(said) || ', not one from 0 to ' || (:span - 1) ELSE 'has no epoch' END FROM {table} WHERE NOT "
    + _COUNT.format(column="said")
    + " OR typeof(epoch) != 'text' OR epoch = '' LIMIT 1"
)
CHECKS = (
    ("rooms", _SAID.format(owner="room", table="rooms")),
    ("conversations", _SAID.format(owner="conversation", table="conversations")),
    ("lines", _LINE.format(owner="room", owners="rooms", table="lines")),
    ("private_lines", _LINE.format(owner="conversation", owners="conversations", table="private_lines")),
)

# ("said", room, Message) | ("redacted", room, ids) | ("cleared", room) | ("ended", room)
# | ("private", conversation, Message) | ("marked", account, target, time) | ("unkept", "")
# | ("written", Deferred): fired once every change before it is committed | ("bounded", room, lines, age)
# | ("stayed", room, account, time) | ("left", room, account) | ("renamed", room, key, name)
Change = tuple[Any, ...]
_STOP: Change = ("stop",)


class SqliteHistory(Service):
    """chatroom.core.state.HistoryStore in one SQLite file, written by its own thread while the service runs.

    Read (`load`) before it starts, as the chat starts; changes made before it starts wait for its writer.
    """

    def __init__(self, path: Path, limits: HistoryLimits, reactor: IReactorFromThreads, clock: IReactorTime) -> None:
        self.path = path
        self.limits = limits
        self.reactor = reactor
        self.clock = clock  # wall-clock seconds, for --history-age
        self._changes: queue.SimpleQueue[Change] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._stopped: Deferred[None] = Deferred()
        self._failing = False  # the last write failed: said once, until one succeeds
        self._lives: dict[str, str | None] = {}  # the writer's: room -> its life in the file (None: not in it)
        self._readers: ThreadPool | None = None  # one thread, for searches and reads, while the service runs
        self._reader: sqlite3.Connection | None = None  # the readers' own connection, opened by the first read
        self._bounds: dict[str, tuple[int, float]] = {}  # the writer's: room -> its own rule's (lines, age)

    # chatroom.core.state.HistoryStore

    def load(self) -> dict[str, KeptHistory]:
        """Every room's kept history, as the file holds it: checked whole first, so that damage is one line now."""
        try:
            with contextlib.closing(self._connect()) as db:
                checked = db.execute("PRAGMA quick_check").fetchone()[0]
                if checked != "ok":  # several lines, page by page: the first says enough
                    raise _Damaged(f"database disk image is malformed ({checked.splitlines()[0]})")
                _check_rows(db)
                rooms = dict(self._read(db))
                unkept = 0 if self.limits.private else db.execute("SELECT COUNT(*) FROM conversations").fetchone()[0]
        except sqlite3.Error as error:
            raise StoreError(self._unreadable(error)) from None
        except OSError as error:
            raise StoreError(f"cannot open the history file {self.path}: {error.strerror}") from None
        if not self.limits.private:  # kept under an earlier --history-private: nobody may read it now, so it goes
            if unkept:
                log.info(
                    "history: deleting the private conversations {path} kept under --history-private ({count}):"
                    " this server runs without it",
                    count=unkept,
                    path=self.path,
                )
            self._changes.put(("unkept", ""))
        return rooms

    def load_private(self) -> dict[str, KeptHistory]:
        """Every conversation between accounts the file holds (read after `load`, which checked the file)."""
        return self._reading(self._read_private)

    def load_markers(self) -> dict[str, dict[str, str]]:
        """Every account's read markers, at most MARKERS_KEPT each (the latest times)."""
        return self._reading(self._read_markers)

    def load_stays(self) -> dict[str, dict[str, str]]:
        """By room: when each account's stay in it began."""
        return self._reading(self._read_stays)

    def _reading(self, read: Callable[[sqlite3.Connection], Iterable[tuple[str, T]]]) -> dict[str, T]:
        try:
            with contextlib.closing(self._connect()) as db:
                return dict(read(db))
        except sqlite3.Error as error:
            raise StoreError(self._unreadable(error)) from None
        except OSError as error:
            raise StoreError(f"cannot read the history file {self.path}: {error}") from None

    def _unreadable(self, error: sqlite3.Error) -> str:
        """SQLite's error, in one line with the next step where its words give none.

        SQLite says "unable to open database file" of a readable file in a directory it cannot write: in WAL mode it
        makes FILE-wal and FILE-shm beside the file, even to read it (a read-only filesystem, a directory the
        server's user may not write).
        """
        if getattr(error, "sqlite_errorname", "") in ("SQLITE_CANTOPEN", "SQLITE_READONLY") and not _writable(
            self.path.parent
        ):
            return (
                f"cannot open the history file {self.path}: its directory {self.path.parent} is not writable, and"
                f" SQLite makes {self.path.name}-wal and {self.path.name}-shm beside the file: let the server's user"
                " write there, or give --history-store a path in a directory it may write"
            )
        said = f"cannot read the history file {self.path}: {error}"
        if isinstance(error, _Damaged) or getattr(error, "sqlite_errorname", "") in ("SQLITE_CORRUPT", "SQLITE_NOTADB"):
            return f"{said}; restore it from a backup, or move it away to start afresh (its history is then lost)"
        return said

    def said_private(self, conversation: str, message: Message) -> None:
        self._changes.put(("private", conversation, message))

    def marked(self, account: str, target: str, time: str) -> None:
        self._changes.put(("marked", account, target, time))

    def stayed(self, room: str, account: str, time: str) -> None:
        self._changes.put(("stayed", room, account, time))

    def left(self, room: str, account: str) -> None:
        self._changes.put(("left", room, account))

    def said(self, room: str, message: Message, kept: bool = True) -> None:
        self._changes.put(("said", room, message if kept else unkept(message)))

    def redacted(self, room: str, ids: list[str], nick: str = "") -> None:
        self._changes.put(("redacted", room, ids, nick))

    def cleared(self, room: str) -> None:
        self._changes.put(("cleared", room))

    def ended(self, room: str) -> None:
        self._changes.put(("ended", room))

    def renamed(self, room: str, key: str, name: str) -> None:
        self._changes.put(("renamed", room, key, name))

    reads_back = True  # what memory drops is read back from the file: `older`

    def older(self, reaches: list[Reach]) -> Deferred[list[Message]]:
        """Read on the readers' thread; a failure is logged, and the query answered from memory alone."""
        if self._readers is None:
            return succeed([])
        return self._read_now(self._older, reaches).addErrback(self._read_failed)

    def _older(self, db: sqlite3.Connection, reaches: list[Reach]) -> list[Message]:
        found: dict[tuple[str, int], Message] = {}
        for reach in reaches:
            rows = db.execute(OLDER + ("DESC" if reach.newest else "ASC") + " LIMIT ?", (
                reach.room, reach.first, reach.last, reach.start, reach.end, reach.end, reach.limit,
            )).fetchall()  # fmt: skip
            found.update(((reach.room, row[-1]), _line(*row[:-1])) for row in rows)
        return [found[place] for place in sorted(found)]

    def _read_failed(self, failure: Failure) -> list[Message]:
        failure.trap(sqlite3.Error)
        log.error("history: cannot read {path}: {error}", path=self.path, error=failure.value)
        return []

    def bounded(self, room: str, limits: HistoryLimits) -> None:
        self._changes.put(("bounded", room, limits.lines, limits.age))

    # chatroom.core.search.SearchIndex

    def search(self, query: SearchQuery) -> Deferred[list[Message]]:
        """Run in the searcher's thread; a failure is logged and refused as SEARCH_FAILED."""
        if self._readers is None:
            return fail(ChatError("SEARCH_FAILED"))
        return self._read_now(self._search, query).addErrback(self._search_failed)

    def _read_now(self, read: Callable[[sqlite3.Connection, Q], T], question: Q) -> Deferred[T]:
        """`read` on the readers' thread, once every change made before is committed."""

        def reading(_: None) -> Deferred[T]:
            if self._readers is None:  # stopped meanwhile: its threads take no more work
                raise sqlite3.OperationalError("the history file was closed")
            return deferToThreadPool(self.reactor, self._readers, self._reading_with, read, question)

        return self._written().addCallback(reading)

    def _reading_with(self, read: Callable[[sqlite3.Connection, Q], T], question: Q) -> T:
        if self._reader is None:
            self._reader = _functions(sqlite3.connect(self.path, isolation_level=None, check_same_thread=False))
            self._reader.execute("PRAGMA query_only = ON")
        return read(self._reader, question)

    def _written(self) -> Deferred[None]:
        """Fires once every change made before is committed (or failed to be): the writer commits at once."""
        written: Deferred[None] = Deferred()
        self._changes.put(("written", written))
        return written

    def _search(self, db: sqlite3.Connection, query: SearchQuery) -> list[Message]:
        match = " ".join(f'"{word}"' for word in query.lookups)  # letters, marks, digits: never FTS5's syntax
        search = SEARCH.format(runs=RUN * len(query.runs))
        found = []
        for room in query.rooms:
            row = db.execute("SELECT rowid FROM rooms WHERE room = ?", (room.key,)).fetchone()
            if row is None:
                continue
            first = row[0] * ROOM_SPAN
            rows = db.execute(search, (
                room.key, first, match, first, first + ROOM_SPAN - 1, room.since, query.before or "~", query.nick,
                query.nick, *query.runs, query.limit,
            )).fetchall()  # fmt: skip
            found.append([Message(room.name, nick, text, bool(action), bool(notice), "", msgid, said_at)
                          for nick, text, action, notice, msgid, said_at in rows])  # fmt: skip
        return newest(found, query.limit)

    def _search_failed(self, failure: Failure) -> Failure:
        if failure.check(sqlite3.Error):
            log.error("history: cannot search {path}: {error}", path=self.path, error=failure.value)
            return Failure(ChatError("SEARCH_FAILED"))
        return failure

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    # Its writer

    def startService(self) -> None:
        Service.startService(self)
        self._writer = threading.Thread(target=self._write_all, name="chatroom history writer", daemon=True)
        self._writer.start()
        self._readers = ThreadPool(1, 1, name="chatroom history reader")
        self._readers.start()

    def stopService(self) -> Deferred[None]:
        """Fires once every change made before is written and the file is closed."""
        Service.stopService(self)
        if self._readers is not None:  # its last read ends first: a read is short
            readers, self._readers = self._readers, None
            readers.callInThread(self._close_reader)
            readers.stop()
        if self._writer is None:
            return succeed(None)
        self._changes.put(_STOP)
        return self._stopped

    def _write_all(self) -> None:
        """The writer thread: a transaction for each WRITE_EVERY seconds of changes, until the service stops.

        It never ends before the service stops: a thread that died (an exception past `_commit`) left every later
        line unsaved without a word, and searches waiting for it. Then nothing more is written, said in one line,
        and the chat goes on."""
        try:
            db = self._connect()
        except (sqlite3.Error, OSError) as error:
            self.reactor.callFromThread(log.error, "history: cannot open {path}: {error}", path=self.path, error=error)
        else:
            try:
                stopped = self._write_with(db)
            except Exception as error:
                stopped = False
                self.reactor.callFromThread(
                    log.error,
                    "history: stopped writing to {path} ({error!r}): what is said is not kept from now on; the chat"
                    " goes on",
                    path=self.path,
                    error=error,
                )
            finally:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # nothing left in the log for the next start to find
                db.close()
            if stopped:
                self.reactor.callFromThread(self._stopped.callback, None)
                return
        while (change := self._changes.get()) is not _STOP:  # nothing is written; a search still gets its answer
            if change[0] == "written":
                self.reactor.callFromThread(change[1].callback, None)
        self.reactor.callFromThread(self._stopped.callback, None)

    def _write_with(self, db: sqlite3.Connection) -> bool:
        """Write each batch of changes until the service stops (True then)."""
        pruned = 0.0
        while True:
            batch = [self._changes.get()]
            due = time.monotonic() + WRITE_EVERY
            while batch[-1] is not _STOP and batch[-1][0] != "written" and (left := due - time.monotonic()) > 0:
                try:
                    batch.append(self._changes.get(timeout=left))
                except queue.Empty:
                    break
            now = self.clock.seconds()
            aged = self.limits.age or any(age for _, age in self._bounds.values())
            prune = bool(aged) and now - pruned >= PRUNE_EVERY
            pruned = now if prune else pruned
            self._commit(db, [change for change in batch if change[0] not in ("stop", "written")],
                         now if prune else None)  # fmt: skip
            for _, waiting in (change for change in batch if change[0] == "written"):
                self.reactor.callFromThread(waiting.callback, None)
            if batch[-1] is _STOP:
                return True

    def _commit(self, db: sqlite3.Connection, changes: list[Change], now: float | None) -> None:
        try:
            with db:  # one transaction (else each statement commits alone), rolled back if one fails
                db.execute("BEGIN")
                touched, talked, deleted = self._apply(db, changes)
                for room in touched:  # the last --history lines of each room written to (or its rule's)
                    _delete(
                        db,
                        "lines.room = ? AND number <= "
                        "(SELECT number FROM lines WHERE room = ? ORDER BY number DESC LIMIT 1 OFFSET ?)",
                        room, room, self._bounds.get(room, (self.limits.lines, 0.0))[0],
                    )  # fmt: skip
                for key in talked:  # and of each conversation
                    db.execute(
                        "DELETE FROM private_lines WHERE conversation = ? AND number <= (SELECT number FROM "
                        "private_lines WHERE conversation = ? ORDER BY number DESC LIMIT 1 OFFSET ?)",
                        (key, key, self.limits.lines),
                    )
                if now is not None:
                    self._prune(db, now)
            if deleted:  # the log still holds the pages as they were before: written back, and emptied
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except Exception as error:  # a full disk, or a value SQLite cannot hold: this batch is lost, not the thread
            self._lives.clear()  # rolled back: read again from the file
            if not self._failing:
                self.reactor.callFromThread(
                    log.error,
                    "history: cannot write to {path} ({error}): what is said is not kept meanwhile; the chat goes on",
                    path=self.path,
                    error=error,
                )
            self._failing = True
            return
        if self._failing:
            self._failing = False
            self.reactor.callFromThread(log.info, "history: writing to {path} again", path=self.path)

    def _prune(self, db: sqlite3.Connection, now: float) -> None:
        """Drop the lines older than --history-age, and those older than their room's own rule keeps."""
        if self.limits.age:
            _delete(db, "time < ?", timestamp(now - self.limits.age))
            db.execute("DELETE FROM private_lines WHERE time < ?", (timestamp(now - self.limits.age),))
        for room, (_, age) in self._bounds.items():
            if age:
                _delete(db, "lines.room = ? AND time < ?", room, timestamp(now - age))

    def _apply(self, db: sqlite3.Connection, changes: list[Change]) -> tuple[set[str], set[str], bool]:
        """Each change, in order; the rooms and the conversations given lines, and whether lines were deleted
        before their time.

        Lines said are written together (one statement for all of them, and one row per room for its count), as
        late as the order allows: before a change that deletes, and at the end. So are private lines and markers.
        """
        lines: list[tuple[Any, ...]] = []
        counts: dict[str, tuple[str, str, str, int]] = {}  # room -> its row in `rooms`, as the last line leaves it
        private: list[tuple[Any, ...]] = []
        conversations: dict[str, tuple[str, str, int]] = {}  # their rows in `conversations`, as in `counts`
        markers: list[tuple[str, str, str]] = []

        def write() -> None:
            db.executemany(UPSERT_ROOM, counts.values())
            db.executemany("INSERT OR REPLACE INTO lines VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", lines)
            if lines:  # their words, in rowid order: FTS5 writes its pending words out at a rowid lower than the last
                marks = ",".join("?" * len(counts))
                place = dict(db.execute(f"SELECT room, rowid FROM rooms WHERE room IN ({marks})", list(counts)))
                words = sorted((place[room] * ROOM_SPAN + number, indexed(text)) for room, number, _, text, *_ in lines)
                db.executemany("INSERT INTO words (rowid, text) VALUES (?, ?)", words)
            db.executemany(UPSERT_CONVERSATION, conversations.values())
            db.executemany("INSERT OR REPLACE INTO private_lines VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", private)
            db.executemany(UPSERT_MARKER, markers)
            for pending in (lines, counts, private, conversations, markers):
                pending.clear()

        touched: set[str] = set()
        talked: set[str] = set()
        deleted = purge = False
        for kind, room, *more in changes:
            if kind == "private":
                (message,) = more
                life, _, number = message.id.rpartition("-")
                conversations[room] = (room, life, int(number))
                private.append((room, int(number), message.nick, message.room, message.text, message.action,
                                message.notice, message.id, message.time, _more(message)))  # fmt: skip
                talked.add(room)
                continue
            if kind == "marked":
                markers.append((room, *more))
                continue
            if kind == "bounded":  # its lines beyond the rule go with this transaction, its old ones with the next pass
                lines_kept, age = more
                if (lines_kept, age) == (self.limits.lines, self.limits.age):
                    self._bounds.pop(room, None)  # the server's own: followed for every room anyway
                else:
                    self._bounds[room] = (lines_kept, age)
                    touched.add(room)
                continue
            if kind == "stayed":  # as they come: a join or a part is rare beside the lines
                db.execute("INSERT OR REPLACE INTO stays VALUES (?, ?, ?)", (room, *more))
                continue
            if kind == "left":
                db.execute("DELETE FROM stays WHERE room = ? AND account = ?", (room, *more))
                continue
            if kind == "renamed":  # its row keeps its rowid, so its lines keep their words
                write()
                key, name = more
                _delete(db, "lines.room = ?", key)  # a room of that key the file still held: it ended
                db.execute("DELETE FROM rooms WHERE room = ?", (key,))
                db.execute("UPDATE rooms SET room = ?, name = ? WHERE room = ?", (key, name, room))
                db.execute("UPDATE lines SET room = ? WHERE room = ?", (key, room))
                for followed in (self._lives, self._bounds):  # its life read again from the file when needed
                    followed.pop(key, None)
                self._lives.pop(room, None)
                if room in self._bounds:
                    self._bounds[key] = self._bounds.pop(room)
                continue
            if kind == "unkept":
                write()
                deleted = True
                for statement in FORGET_PRIVATE:
                    db.execute(statement)
                continue
            if kind == "said":
                (message,) = more
                life, _, number = message.id.rpartition("-")
                said = int(number.partition(".")[0])  # a message aside is numbered N.K: the room's count is N
                if self._life(db, room) not in (life, None):  # the room began again: what it kept is not this life's
                    write()
                    _delete(db, "lines.room = ?", room)
                self._lives[room] = life
                counts[room] = (room, message.room, life, said)
                if not message.to:
                    lines.append((room, said, message.nick, message.text, message.action, message.notice, message.id,
                                  message.time, message.topic, _more(message)))  # fmt: skip
                    touched.add(room)
                continue
            write()
            deleted = True
            if kind == "redacted" and " " in room:  # a conversation's key (chatroom.core.private): not indexed
                ids, _ = more
                db.executemany(
                    "DELETE FROM private_lines WHERE conversation = ? AND id = ?", [(room, msgid) for msgid in ids]
                )
            elif kind == "redacted":
                ids, nick = more
                for msgid in ids:
                    _delete(db, "lines.room = ? AND id = ?", room, msgid)
                if nick:  # nicknames are ASCII: SQLite's lower() is nick_key
                    _delete(db, "lines.room = ? AND lower(lines.nick) = ?", room, nick_key(nick))
                purge = True
            elif kind == "cleared":
                _delete(db, "lines.room = ?", room)
                purge = True
            else:  # ended
                _delete(db, "lines.room = ?", room)
                db.execute("DELETE FROM rooms WHERE room = ?", (room,))
                self._lives.pop(room, None)
                self._bounds.pop(room, None)
        write()
        if purge:  # the deleted lines' words are still in the index's older pages: merged away (module docstring)
            db.execute("INSERT INTO words (words) VALUES ('optimize')")
        return touched, talked, deleted

    def _life(self, db: sqlite3.Connection, room: str) -> str | None:
        """The life of `room` the file holds (None if none), read once and then followed as the writer changes it."""
        if room not in self._lives:
            found = db.execute("SELECT epoch FROM rooms WHERE room = ?", (room,)).fetchone()
            self._lives[room] = None if found is None else found[0]
        return self._lives[room]

    def _connect(self) -> sqlite3.Connection:
        """The file, made if missing (readable by its owner only: it holds what people said), and its schema."""
        os.close(os.open(self.path, os.O_RDONLY | os.O_CREAT, 0o600))  # the mode only if it makes the file
        db = _functions(sqlite3.connect(self.path, isolation_level=None, check_same_thread=False))
        db.execute("PRAGMA journal_mode = WAL")  # a kill -9 leaves the last commit readable
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA secure_delete = ON")  # what is redacted or cleared is overwritten, not left in free pages
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, 1, 2, 3, VERSION):
            db.close()
            raise sqlite3.DatabaseError(
                f"written by another version of chatroom (schema {version}, this one reads {VERSION})"
            )
        db.executescript(SCHEMA)
        remake = 0 < version < VERSION  # its `words` split otherwise, or none: made again from its lines, below
        if not remake:
            db.execute(WORDS)
        # Read before the transaction: in WAL, a transaction that reads and then writes fails at once (no waiting)
        # if another connection wrote meanwhile.
        missing = [
            (table, column, kind)
            for table, column, kind in NEW_COLUMNS
            if column not in {name for _, name, *_ in db.execute(f"PRAGMA table_info({table})")}
        ]
        with db:  # what a file of an earlier version lacks, and its new version, together
            db.execute("BEGIN")
            if remake:
                log.info("history: making the search index of {path} again, once: chatroom changed what a word is",
                         path=self.path)  # fmt: skip
                db.execute("DROP TABLE IF EXISTS words")
                db.execute(WORDS)
                db.execute(FILL_WORDS, (ROOM_SPAN,))
            for table, column, kind in missing:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            db.execute(f"PRAGMA user_version = {VERSION}")
        return db

    def _read_private(self, db: sqlite3.Connection) -> Iterable[tuple[str, KeptHistory]]:
        oldest = timestamp(self.clock.seconds() - self.limits.age) if self.limits.age else ""
        for key, epoch, said in db.execute("SELECT conversation, epoch, said FROM conversations").fetchall():
            rows = db.execute(
                "SELECT sender, recipient, text, action, notice, id, time, more FROM private_lines "
                "WHERE conversation = ? AND time >= ? ORDER BY number DESC LIMIT ?",
                (key, oldest, self.limits.lines),
            ).fetchall()
            lines = [
                _with(more, Message(recipient, sender, text, bool(action), bool(notice), "", msgid, said_at))
                for sender, recipient, text, action, notice, msgid, said_at, more in reversed(rows)
            ]
            yield key, KeptHistory(epoch, said, lines)

    def _read_markers(self, db: sqlite3.Connection) -> Iterable[tuple[str, dict[str, str]]]:
        found: dict[str, dict[str, str]] = {}
        for account, target, read in db.execute("SELECT account, target, time FROM markers ORDER BY time"):
            found.setdefault(account, {})[target] = read
        for account, times in found.items():
            yield account, dict(list(times.items())[-MARKERS_KEPT:])  # the latest, the least recently moved first

    def _read_stays(self, db: sqlite3.Connection) -> Iterable[tuple[str, dict[str, str]]]:
        found: dict[str, dict[str, str]] = {}
        for room, account, start in db.execute("SELECT room, account, time FROM stays"):
            found.setdefault(room, {})[account] = start
        return found.items()

    def _read(self, db: sqlite3.Connection) -> Iterable[tuple[str, KeptHistory]]:
        """Each room's latest lines, the newest of all rooms first, until they fill --history-memory: a file larger
        than memory is not read whole. A room whose older lines are left in the file is `behind`."""
        oldest = timestamp(self.clock.seconds() - self.limits.age) if self.limits.age else ""
        rooms = {room: KeptHistory(epoch, said, []) for room, epoch, said in db.execute(
            "SELECT room, epoch, said FROM rooms").fetchall()}  # fmt: skip
        room_of = dict(db.execute("SELECT room, name FROM rooms").fetchall())
        left = self.limits.memory or math.inf
        for room, *row in db.execute(
            "SELECT room, nick, text, action, notice, id, time, topic, more FROM lines WHERE time >= ? "
            "ORDER BY time DESC",
            (oldest,),
        ):
            try:  # shapes no query checks: what `more` holds, a date such as February 31st
                line = _line(room_of[room], *row)
                seconds(line.time)
            except (ValueError, TypeError, KeyError, AttributeError, ChatError):
                raise sqlite3.DatabaseError(
                    f"lines: {room!r}: the line of id {row[4]!r} is not as chatroom writes it (its time or `more`);"
                    " correct or delete that row with sqlite3, or move the file away to start afresh"
                ) from None
            left -= line_bytes(line)
            if left < 0:
                for kept in rooms.values():
                    kept.behind = True  # a guess for some: a read that finds nothing older costs one query
                break
            if len(rooms[room].lines) < self.limits.lines:  # more only if --history was larger before
                rooms[room].lines.append(line)
        for room, kept in rooms.items():
            kept.lines.sort(key=lambda line: int(line.id.rpartition("-")[2]))  # said within one millisecond: by number
            if kept.behind and not kept.lines:  # a quiet room: when its last line was said (CHATHISTORY TARGETS)
                found = db.execute(
                    "SELECT time FROM lines WHERE room = ? AND time >= ? ORDER BY number DESC LIMIT 1", (room, oldest)
                ).fetchone()
                kept.last = found[0] if found else ""
        return rooms.items()


class _Damaged(sqlite3.DatabaseError):
    """The file's own check (PRAGMA quick_check) found damage."""


def _writable(directory: Path) -> bool:
    """Whether the server's user may make files in `directory` (root may, except on a read-only filesystem)."""
    return os.access(directory, os.W_OK)


def _line(
    name: str, nick: str, text: str, action: int, notice: int, msgid: str, said_at: str, topic: int, more: str
) -> Message:
    """A room's line as the `lines` table holds it, in the room called `name`."""
    return _with(more, Message(name, nick, text, bool(action), bool(notice), "", msgid, said_at, topic=bool(topic)))


def _more(message: Message) -> str:
    """A line's `more` column: what else it has, or "" (most lines)."""
    more = {"tags": message.tags, "reply": message.reply, "breaks": message.breaks}
    return (
        json.dumps({name: value for name, value in more.items() if value}, ensure_ascii=False)
        if any(more.values())
        else ""
    )


def _with(more: str, line: Message) -> Message:
    """`line` with what its `more` column says it has."""
    if not more:
        return line
    found = json.loads(more)
    tags = tuple((name, value) for name, value in found.get("tags", ()))
    return replace(line, tags=tags, reply=found.get("reply", ""), breaks=tuple(found.get("breaks", ())))


def _delete(db: sqlite3.Connection, where: str, *arguments: object) -> None:
    """Delete the lines `where` says (a condition on `lines`), their words from the index first."""
    db.execute(FORGET_WORDS + where, (ROOM_SPAN, *arguments))
    db.execute(f"DELETE FROM lines WHERE {where}", arguments)


def _functions(db: sqlite3.Connection) -> sqlite3.Connection:
    """`db` with what its statements call: chatroom.core.search's words and folding, the same in Python and SQL, so
    that a line's words are deleted from the index as they were written (FTS5 must be told them exactly)."""
    db.create_function("search_words", 1, indexed, deterministic=True)
    db.create_function("search_fold", 1, fold, deterministic=True)
    return db


def _check_rows(db: sqlite3.Connection) -> None:
    """sqlite3.DatabaseError naming the first row the server cannot use (CHECKS), and what is wrong with it."""
    for table, query in CHECKS:
        found = db.execute(query, {"span": ROOM_SPAN}).fetchone()
        if found is not None:
            owner, what, fault = found
            raise sqlite3.DatabaseError(
                f"{table}: {owner!r}: {what}{fault or 'is not as chatroom writes it'}; correct or delete that row with"
                " sqlite3, or move the file away to start afresh"
            )

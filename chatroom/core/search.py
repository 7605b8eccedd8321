"""Searching the lines rooms kept (issue 28): who may search what, decided here; where to look, by a SearchIndex.

**Who may search what.** A search covers only the rooms the searcher is in now (a registered account's rooms left
behind do not count: what a room keeps is for its members, and a member who left is told nothing more of it), and
in each only the lines from `readable_from(member, room)` on, the room's history rule for that member. The core
turns that into a plain SearchQuery; the index answers with Messages and knows nothing of members.

**What is searchable.** Words: runs of letters and digits (Unicode), compared without regard to case; a line
matches when it holds every word searched for, whole (`cat` does not find `category`). Punctuation, quotes and
operators people type (`"`, `*`, `NEAR(`) separate words and are never a query language. The same rule holds in
every index: the rooms' kept lines in memory (a server without a history file, and with --redis, whose every
process holds every room's kept lines) and SQLite's FTS5 (chatroom.stores.history).
"""

from __future__ import annotations

import heapq
import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from twisted.internet.defer import Deferred, succeed

from chatroom.core.base import ChatBase
from chatroom.core.errors import ChatError
from chatroom.core.events import Found, Message
from chatroom.core.history import PAGE_MAX, seconds, timestamp
from chatroom.core.members import Member, Room
from chatroom.core.names import nick_key, room_key, room_name

SEARCH_LINES = 50  # lines a search answers unless asked for fewer or more (at most PAGE_MAX)
WORDS_MAX = 16  # words in one search: each is one more index lookup

_WORD = re.compile(r"[^\W_]+")  # as SQLite's unicode61 tokenizer splits: letters and digits, "_" separates


def words(text: str) -> tuple[str, ...]:
    """The words of `text` as a search compares them: lowercase, each once, in order."""
    return tuple(dict.fromkeys(_WORD.findall(text.lower())))


@dataclass(frozen=True, slots=True)
class SearchRoom:
    key: str  # room_key
    name: str
    since: str  # the earliest time a line may have (timestamp), "" for any


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """What an index is asked: the newest `limit` lines of these rooms holding every word, within the times."""

    words: tuple[str, ...]
    rooms: tuple[SearchRoom, ...]
    nick: str = ""  # nick_key of the one who said it, "" for anyone
    before: str = ""  # the latest time a line may have (timestamp, included), "" for now
    limit: int = SEARCH_LINES


class SearchIndex(Protocol):
    """Where kept lines are searched: SqliteHistory's FTS5 table, or the rooms' kept lines (KeptLines)."""

    def search(self, query: SearchQuery) -> Deferred[list[Message]]:
        """The newest `query.limit` lines that match, the oldest first; never blocks the reactor for long."""


def matches(message: Message, query: SearchQuery, since: str) -> bool:
    """Whether one kept line answers the query, in a room whose lines count from `since`: a message, not a topic."""
    if message.topic or message.time < since or (query.before and message.time > query.before):
        return False
    if query.nick and nick_key(message.nick) != query.nick:
        return False
    text = message.text.lower()
    # Each word inside the text first (cheap, and false for most lines), then as a whole word
    return all(word in text for word in query.words) and set(query.words) <= set(_WORD.findall(text))


def newest(found: Iterable[list[Message]], limit: int) -> list[Message]:
    """The newest `limit` of several rooms' matches (each the newest first), the oldest first."""
    merged = heapq.merge(*found, key=lambda message: message.time, reverse=True)
    return list(itertools.islice(merged, limit))[::-1]


class KeptLines:
    """A SearchIndex over the rooms' kept lines in memory: as much as a server without a history file keeps."""

    def __init__(self, rooms: Callable[[], Mapping[str, Room]]) -> None:
        self.rooms = rooms  # the chat's rooms now (chatroom.bus may replace the mapping)

    def search(self, query: SearchQuery) -> Deferred[list[Message]]:
        rooms = self.rooms()
        found = []
        for wanted in query.rooms:
            room = rooms.get(wanted.key)
            if room is not None:
                hits = (message for message in reversed(room.history.kept) if matches(message, query, wanted.since))
                found.append(list(itertools.islice(hits, query.limit)))
        return succeed(newest(found, query.limit))


class Search(ChatBase):
    """A member's search of the lines kept in the rooms they are in."""

    search_index: SearchIndex | None = None  # None: the rooms' kept lines (chatroom.app.tap gives the history file's)

    def search(
        self, member: Member, text: str, room: str = "", nick: str = "", before: str = "", after: str = "",
        lines: int = SEARCH_LINES,
    ) -> Deferred[Found]:  # fmt: skip
        """The newest `lines` kept lines holding every word of `text` that `member` may read, in `room` (or every
        room they are in), said by `nick` if given, between the times `after` and `before` (both included)."""
        self._present(member)
        if not self.history_limits.lines:
            raise ChatError("NO_HISTORY")
        wanted = words(text)
        if not wanted:
            raise ChatError("NO_SEARCH_WORDS")
        if len(wanted) > WORDS_MAX:
            raise ChatError("TOO_MANY_WORDS", most=WORDS_MAX)
        if not 1 <= lines <= PAGE_MAX:
            raise ChatError("BAD_COUNT", most=PAGE_MAX)
        rooms = [self._room_of(member, room)] if room else list(member.rooms.values())
        start = timestamp(seconds(after)) if after else ""
        query = SearchQuery(
            wanted,
            tuple(SearchRoom(room_key(one.name), one.name, self._readable(member, one, start)) for one in rooms),
            nick_key(nick),
            timestamp(seconds(before)) if before else "",
            lines,
        )
        index = self.search_index or KeptLines(lambda: self.rooms)
        return index.search(query).addCallback(lambda found: Found(room_name(room) if room else "", text, tuple(found)))

    def _readable(self, member: Member, room: Room, after: str) -> str:
        """The earliest time of a line `member` may find in `room`: its history rule's, or `after` if later."""
        start = self.readable_from(member, room)
        return max(timestamp(start) if start else "", after)

"""Searching the lines rooms kept (issue 28): who may search what, decided here; where to look, by a SearchIndex.

**Who may search what.** A search covers only the rooms the searcher is in now (a registered account's rooms left
behind do not count: what a room keeps is for its members, and a member who left is told nothing more of it), and
in each only the lines from `readable_from(member, room)` on, the room's history rule for that member. The core
turns that into a plain SearchQuery; the index answers with Messages and knows nothing of members.

**What is searchable.** Words, compared in Unicode's NFC (so `é` typed as one character and as `e` with a
combining accent are the same) and without regard to case. A word is a run of letters, combining marks and digits
(Unicode's L, M and N), except in the scripts written without spaces between words (Han, Hiragana, Katakana, Thai,
Lao, Khmer, Myanmar) and Hangul, where each character is a word of its own, and letters of other scripts touching
them are words of their own (`你好ann今天` holds the word `ann`). A line matches when it holds every word searched
for: whole (`cat` does not find `category`), and a run of such characters as it was typed, adjacent and in order
(`漢字` finds `漢字テスト` and `これは漢字です`, not `字と漢`), as a part of a longer run may be: these scripts do not
mark where a word ends. Hangul too, although Korean puts spaces between words: a Korean word carries its particles
and endings attached (`학교` "school" is written `학교에`, `학교에서`, `학교가`), so whole words would find a noun
almost only where it stands bare; as a run, `학교` finds each of them (and `대학교`, as `漢字` finds a longer word).
A run counts as one of the WORDS_MAX words. Punctuation, quotes and operators people type (`"`, `*`, `NEAR(`)
separate words and are never a query language. The same rule holds in every index: the rooms' kept lines in memory
(a server without a history file, and with --redis, whose every process holds every room's kept lines) and SQLite's
FTS5 (chatroom.stores.history), which indexes `indexed(text)`: the words, as this module finds them, between spaces.
"""

from __future__ import annotations

import heapq
import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from twisted.internet.defer import Deferred, succeed

from chatroom.core.base import ChatBase
from chatroom.core.errors import ChatError
from chatroom.core.events import Found, Message
from chatroom.core.history import PAGE_MAX, seconds, timestamp
from chatroom.core.members import Member, Room
from chatroom.core.names import nick_key, room_key, room_name

SEARCH_LINES = 50  # lines a search answers unless asked for fewer or more (at most PAGE_MAX)
WORDS_MAX = 16  # words in one search (a run of characters each a word is one: SearchQuery.lookups), each a lookup

_UNSPACED = (  # the characters each a word of their own (module docstring): their blocks (a word's characters only)
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f\ua9e0-\ua9ff\uaa60-\uaa7f"  # Myanmar
    "\u1780-\u17ff\u19e0-\u19ff"  # Khmer
    "\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7ff"  # Hangul: jamo, syllables
    "\u3005-\u3007\u3021-\u3029\u3038-\u303c\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U000323af"  # Han
    "\u3041-\u30ff\u31f0-\u31ff\uff66-\uff9f\U0001b000-\U0001b16f"  # Hiragana, Katakana
)


def _marks() -> tuple[str, str, str]:
    """The combining marks (Unicode's M), as a regular expression's classes: outside `_UNSPACED` in the Basic
    Multilingual Plane, outside it beyond, and in it. `re`'s letters and digits (`[^\\W_]`) lack them, which split
    words such as `हिन्दी` or `q̃`. Those beyond the plane apart, behind a test of it: `re` tests such characters
    of a class one by one, and in one class with the others they made splitting a line 30 times as slow."""
    found = [chr(code) for code in itertools.chain(range(0x300, 0x20000), range(0xE0100, 0xE01F0))]
    marks = [mark for mark in found if unicodedata.category(mark)[0] == "M"]
    inside = re.compile(f"[{_UNSPACED}]")
    outside = [mark for mark in marks if not inside.match(mark)]
    return (
        "".join(mark for mark in outside if mark <= "\uffff"),
        "".join(mark for mark in outside if mark > "\uffff"),
        "".join(filter(inside.match, marks)),
    )


_MARKS, _MARKS_BEYOND, _MARKS_ALONE = _marks()
_SPACED = (  # a word of a script written with spaces
    rf"(?:[^\W_{_UNSPACED}]|[{_MARKS}]|(?=[\U00010000-\U0010ffff])[{_MARKS_BEYOND}])+"
)
_ALONE = rf"(?=[{_UNSPACED}])[\w{_MARKS_ALONE}]"  # a character that is a word of its own
_WORD = re.compile(f"{_ALONE}|{_SPACED}")  # the words an index holds
_ASCII_WORD = re.compile("[a-z0-9]+")  # the same in folded ASCII text (no mark, no such script): 3 times as fast
_TYPED = re.compile(f"(?:{_ALONE})+|{_SPACED}")  # the words a query holds: a run of such characters is one
_ALONE_RUN = re.compile(f"(?:{_ALONE})+")


def fold(text: str) -> str:
    """`text` as a search compares it: NFC (precomposed and combining accents alike), lowercase."""
    return unicodedata.normalize("NFC", text).lower()


def words(text: str) -> tuple[str, ...]:
    """The words of `text` as a search asks for them: folded, each once, in order; a run of characters that are each
    a word (module docstring) is one, to be found as typed."""
    return tuple(dict.fromkeys(_TYPED.findall(fold(text))))


def indexed(text: str) -> str:
    """The words of `text` as an index holds them, each once, between spaces: what SQLite's FTS5 table is given."""
    return " ".join(dict.fromkeys(_words_of(fold(text))))


def _words_of(folded: str) -> list[str]:
    """The words an index holds of `folded` text, in order."""
    return (_ASCII_WORD if folded.isascii() else _WORD).findall(folded)


@dataclass(frozen=True, slots=True)
class SearchRoom:
    key: str  # room_key
    name: str
    since: str  # the earliest time a line may have (timestamp), "" for any


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """What an index is asked: the newest `limit` lines of these rooms holding every word, within the times."""

    words: tuple[str, ...]  # as `words` gives them
    rooms: tuple[SearchRoom, ...]
    nick: str = ""  # nick_key of the one who said it, "" for anyone
    before: str = ""  # the latest time a line may have (timestamp, included), "" for now
    limit: int = SEARCH_LINES
    runs: tuple[str, ...] = field(init=False)  # the words that are runs of characters each a word: found as typed
    lookups: tuple[str, ...] = field(init=False)  # what to look up in an index: every other word, and of the runs'
    # characters WORDS_MAX at most (each one more lookup; a run itself is tested in each line the lookups find)

    def __post_init__(self) -> None:
        runs = tuple(word for word in self.words if _ALONE_RUN.fullmatch(word))
        characters = itertools.islice(dict.fromkeys(itertools.chain.from_iterable(runs)), WORDS_MAX)
        object.__setattr__(self, "runs", runs)
        object.__setattr__(self, "lookups", (*(word for word in self.words if word not in runs), *characters))


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
    text = fold(message.text)
    # Each word inside the text first (cheap, false for most lines, and a run's whole test), then as a whole word
    return all(word in text for word in query.words) and set(query.lookups) <= set(_words_of(text))


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

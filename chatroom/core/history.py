"""What a room keeps of what was said in it, when the server's administrator chose to keep anything (--history).

Every room message gets an id and a time whether anything is kept or not, so that a client can always say "after
this one". An id is the room's epoch and the message's number in it, `lq3k9d2a-1041`. The epoch changes whenever
the room begins again: opened anew, or the server restarted, unless a HistoryStore kept the room's history (with
--redis, a registered room's). So an id from an earlier life of the room is never taken for one of this life,
and within one life the lines said after an id that are no longer kept can be counted.

Kept lines are bounded three times: the last `HistoryLimits.lines` of each room, none older than `HistoryLimits.age`,
and, over all rooms, `HistoryLimits.memory` bytes (`HistoryMemory`: past it the server's oldest lines go first).
A room's history lives and ends with the room: an unregistered room that empties forgets what was said in it.

Memory is a window. Where the history store can read lines back (the history file, chatroom.stores.history), a line
that `HistoryMemory` drops is only dropped from memory: the file keeps it, within the first two bounds, and a query
that reaches past what memory holds asks the store for the lines it lacks (`RoomHistory.reach`) and answers from
them and memory's together (`KeptLines`). So a room's history can be larger than memory.
"""

from __future__ import annotations

import bisect
import datetime
import functools
import heapq
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, replace

from chatroom.core.errors import ChatError
from chatroom.core.events import ClientTags, History, Message
from chatroom.core.names import nick_key

JOIN_LINES = 50  # what a member is shown on joining a room with history, unless they ask for another number
PAGE_MAX = 500  # the most lines one request returns (IRC's CHATHISTORY=)


# What a kept line costs beside its text's characters: its Message (96 bytes), id (63), time (73), deque slot (8) and
# its text string's header (49), as docs/performance.md measured them; rounded up.
LINE_BYTES = 300


@dataclass(frozen=True)
class HistoryLimits:
    lines: int = 0  # kept per room; 0: nothing is kept
    age: float = 0.0  # seconds after which a line is dropped; 0: lines are dropped only by number
    memory: int = 256 * 1024 * 1024  # bytes all rooms' lines may take together (line_bytes); 0: no bound
    private: bool = False  # private conversations kept too, under the same bounds (chatroom.core.private)


# Client tags by which the sender of a message of tags only asks that it be kept (Ergo's tagmsg-storage whitelist,
# as irctest configures it): without one, a reaction or a typing notice is relayed and never kept.
PERSIST = frozenset({"+draft/persist", "+persist"})


def persisted(text: str, tags: ClientTags) -> bool:
    """Whether a message of tags only is to be kept, with its tags, as its sender asked."""
    return not text and any(name in PERSIST for name, _ in tags)


def an_event(said: Message) -> bool:
    """Whether a kept line is not a message but an event: a topic change, or tags kept as their sender asked. IRC's
    draft/event-playback replays them; front ends that show messages only leave them out."""
    return said.topic or not said.text


def line_bytes(message: Message) -> int:
    """What keeping `message` costs, as HistoryMemory counts it: a function of the line alone, the same in every
    process. A text that is not ASCII is counted at 4 bytes a character, the most Python takes."""
    text = message.text
    held = LINE_BYTES + len(text) * (1 if text.isascii() else 4)
    return held + sum(4 * (len(name) + len(value)) for name, value in message.tags) if message.tags else held


class HistoryMemory:
    """What every room's history holds together, and its bound: past `limit` bytes, the oldest lines go.

    The oldest is the first line a room keeps whose time is the earliest (the room's key breaks a tie): which lines
    go depends only on the lines kept, not on what this process did before. Every replica of a shared chat
    (--redis) keeps the same lines in the log's order, so each drops the same ones at the same point of it, and ids
    and catch-ups agree; a replica that starts from a snapshot holds what the others hold, already bounded.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0  # bytes held, by line_bytes
        self.dropped = 0  # lines dropped to stay within the limit, for the metrics
        self._rooms: dict[str, RoomHistory] = {}
        # (time of a room's first line, its key), at most one a room: an entry that is no longer true (its line went
        # otherwise) is only ever earlier than the truth, and is put right when it comes up.
        self._oldest: list[tuple[str, str]] = []
        self._queued: set[str] = set()

    def reset(self) -> None:
        """Every room anew (a server starting from its stores, a replica loading a snapshot): none is held now."""
        self._rooms.clear()
        self._oldest.clear()
        self._queued.clear()
        self.size = 0

    def open(self, key: str, history: RoomHistory) -> None:
        """A room's history begins, with the lines it starts with (from a store or a snapshot): `bound` once all
        are open, so that the oldest of them all go."""
        self.close(key)
        self._rooms[key] = history
        self.size += sum(line_bytes(message) for message in history.kept)
        self._queue(key, history)

    def close(self, key: str) -> None:
        """A room ends: what its history held is free."""
        history = self._rooms.pop(key, None)
        if history is not None:
            self.size -= sum(line_bytes(message) for message in history.kept)

    def kept(self, key: str, history: RoomHistory, message: Message) -> None:
        self.size += line_bytes(message)
        self._queue(key, history)
        self.bound()

    def released(self, messages: Iterable[Message]) -> None:
        """Lines a room dropped itself: by number, age, redaction or clearing."""
        self.size -= sum(line_bytes(message) for message in messages)

    def _queue(self, key: str, history: RoomHistory) -> None:
        if history.kept and key not in self._queued:
            self._queued.add(key)
            heapq.heappush(self._oldest, (history.kept[0].time, key))

    def bound(self) -> None:
        """Drop the oldest lines until what is held fits the limit."""
        while self.limit and self.size > self.limit and self._oldest:
            time, key = self._oldest[0]
            history = self._rooms.get(key)
            if history is None or not history.kept:
                heapq.heappop(self._oldest)
                self._queued.discard(key)
            elif history.kept[0].time != time:
                heapq.heapreplace(self._oldest, (history.kept[0].time, key))
            else:
                self.size -= line_bytes(history.kept.popleft())
                self.dropped += 1
                history.behind = history.stored
                if history.kept:
                    heapq.heapreplace(self._oldest, (history.kept[0].time, key))


def timestamp(seconds: float) -> str:
    """A message's time as events carry it: ISO 8601 in UTC to the millisecond, as IRC's server-time has it.

    Every room message is stamped, so the part above the millisecond, shared by all said within one second, is
    formatted once (docs/performance.md, issue 15); the fraction is rounded to the microsecond as datetime rounds it.
    """
    fraction, whole = math.modf(seconds)
    microseconds = round(fraction * 1_000_000)
    return f"{_second(int(whole) + microseconds // 1_000_000)}{microseconds % 1_000_000 // 1000:03d}Z"


@functools.lru_cache(maxsize=4)  # a few: times come nearly in order
def _second(whole: int) -> str:
    return datetime.datetime.fromtimestamp(whole, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.")


def seconds(time: str) -> float:
    """The inverse of `timestamp`; raises ChatError for anything else, as a client may send one.

    A time without a zone is UTC, as every time the chat sends is: never the server's own zone.
    """
    try:
        parsed = datetime.datetime.fromisoformat(time)
    except ValueError:
        raise ChatError("BAD_TIME", time=time) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.timestamp()


def epoch(now: float, serial: int) -> str:
    """A name for one life of a room: when it began, and which room of the chat's began then."""
    return f"{_base36(int(now * 1000))}{_base36(serial)}"


@dataclass(frozen=True)
class Reach:
    """Lines a query needs that memory no longer holds, as the store is asked for them: the room's lines numbered
    from `first` and below `last`, said from `start` and before `end` (times as `timestamp` makes them, "" for no
    bound), the `limit` newest or oldest of them."""

    room: str  # the room's key
    first: float
    last: float
    start: str
    end: str
    newest: bool
    limit: int


class RoomHistory:
    """One room's ids, and the lines it keeps."""

    __slots__ = ("asides", "behind", "changes", "epoch", "kept", "key", "last", "limits", "memory", "said", "stored")

    def __init__(
        self,
        epoch: str,
        limits: HistoryLimits,
        said: int = 0,
        kept: Iterable[Message] = (),
        asides: int = 0,
        memory: tuple[HistoryMemory, str] | None = None,
        stored: bool = False,
        behind: bool = False,
        last: str = "",
    ) -> None:
        """`memory`: the server's HistoryMemory and this room's key in it; without it, this history is not bounded.

        `stored`: the history store keeps every line kept here and can read them back, so what memory drops stays
        readable; `behind`: it holds lines older than those `kept` starts with, the last of them said at `last`.
        """
        self.epoch = epoch
        self.limits = limits
        self.said = said  # room messages since the room began: the last one's number
        self.asides = asides  # messages for some only (operators) since the last one for the whole room
        self.kept: deque[Message] = deque(kept, maxlen=limits.lines or None)
        self.stored = stored
        self.behind = behind and stored
        self.last = self.kept[-1].time if self.kept else last  # the time of the last line kept, in memory or not
        self.changes = 0  # lines taken away (redacted, cleared, a rule's) or renamed: a read in flight asks again
        self.memory, self.key = memory or (HistoryMemory(0), "")
        self.memory.open(self.key, self)

    def stamp(self, now: float, aside: bool = False) -> tuple[str, str]:
        """The id and time of the room's next message.

        A message `aside`, for the room's operators only and so never kept, is numbered after the last one with a
        suffix (`lq3k9d2a-1041.1`): the messages for everyone stay numbered without gaps, so that a catch-up can
        count those it lost by their numbers.
        """
        if aside:
            self.asides += 1
            return f"{self.epoch}-{self.said}.{self.asides}", timestamp(now)
        self.said += 1
        self.asides = 0
        return f"{self.epoch}-{self.said}", timestamp(now)

    def last_id(self) -> str:
        """The id of the last line kept, "" if none: where someone who stops listening now stopped."""
        return self.kept[-1].id if self.kept else ""

    def last_time(self) -> str:
        """When the last line kept was said, "" if none: memory's, or else the store's (a quiet room's lines that
        memory dropped)."""
        return self.kept[-1].time if self.kept else self.last if self.behind else ""

    def keep(self, message: Message, now: float) -> tuple[Message, ...]:
        """Keep a message if history is on and the whole room heard it; the lines it drops to stay in bounds."""
        if not (self.limits.lines and not message.to):  # a line for operators only must not reach others later
            return ()
        dropped = self.prune(now)
        if len(self.kept) == self.kept.maxlen:
            oldest = self.kept[0]
            self.memory.released((oldest,))  # the deque drops it to make room
            dropped = (*dropped, oldest)
        self.kept.append(message)
        self.last = message.time
        self.memory.kept(self.key, self, message)
        return dropped

    def prune(self, now: float) -> tuple[Message, ...]:
        """Drop what is older than the age limit: from the oldest on, as times only grow within a room's order."""
        if not self.limits.age or not self.kept or now - seconds(self.kept[0].time) <= self.limits.age:
            return ()
        dropped = []
        while self.kept and now - seconds(self.kept[0].time) > self.limits.age:
            dropped.append(self.kept.popleft())
        self.memory.released(dropped)
        return tuple(dropped)

    def bound_to(self, limits: HistoryLimits, now: float) -> tuple[Message, ...]:
        """Keep within `limits` from now on (a room's rule changed): the lines dropped at once to fit them."""
        self.limits = limits
        self.changes += 1
        dropped = self.prune(now)
        excess = max(0, len(self.kept) - limits.lines)
        cut = tuple(self.kept)[:excess]
        self.memory.released(cut)
        self.kept = deque(tuple(self.kept)[excess:], maxlen=limits.lines or None)
        return (*dropped, *cut)

    def end(self) -> None:
        """The room ends: its lines are free."""
        self.memory.close(self.key)

    def renamed(self, key: str, name: str) -> None:
        """The room is called `name` now (chatroom.core.renaming): its lines say so, and go on under its new key."""
        self.memory.close(self.key)
        self.changes += 1
        self.kept = deque((replace(line, room=name) for line in self.kept), maxlen=self.kept.maxlen)
        self.key = key
        self.memory.open(key, self)

    QUERIES = ("latest", "before", "after", "around")  # the ways to ask for a room's history

    def query(self, room: str, how: str, point: str, lines: int, now: float, since: float = 0.0) -> History:
        """One of QUERIES, by name, from memory (`reach` says whether that is all of it); only the lines said from
        `since` on (a time, for a reader whose room's rule hides what was said before: chatroom.core.rules)."""
        return self.at(now).query(room, how, point, lines, since)

    def at(self, now: float) -> KeptLines:
        """What memory holds now, as queries read it."""
        self.prune(now)
        return KeptLines(self.epoch, self.said, tuple(self.kept))

    def reach(self, how: str, point: str, lines: int, now: float, since: float = 0.0) -> list[Reach]:
        """What the store must read for this query beyond what memory holds (then answered by
        `KeptLines.after_older`): nothing unless memory dropped lines the store still holds, and the query reaches
        past memory's first line."""
        self.prune(now)
        below, first_time = self._first()
        if not (self.behind and lines) or (since and first_time < since):
            return []  # memory holds all there is, or even its first line is too early for this reader
        if self.limits.age:
            since = max(since, now - self.limits.age)
        readable = timestamp(since) if since else ""
        older = Reach(self.key, 0.0, below, readable, "", True, lines - len(self.kept))  # the newest below memory
        if not point:  # latest
            return [older] if older.limit > 0 else []
        place = _place(point, self.epoch)
        if _is_time(point):  # memory may have dropped lines said in the millisecond of its first
            past = place <= first_time
            at = timestamp(place)
            later = timestamp(seconds(at) + 0.001)  # after `point`: from the next millisecond, as times are kept
            before, at_point = replace(older, end=at), replace(older, start=max(readable, at))
            after = replace(older, start=max(readable, later))
        else:
            past = place < below
            before, at_point = replace(older, last=min(place, below)), replace(older, first=max(place, 0.0))
            after = at_point  # and one more line read: the line at `point` may be among them
        if how in ("latest", "after"):  # the lines after `point`: only if it is older than memory's first
            wanted = older.limit if how == "latest" else lines + 1
            return [replace(after, newest=how == "latest", limit=wanted)] if past and wanted > 0 else []
        shown_before = KeptLines(self.epoch, self.said, tuple(self.kept)).split(point, since)[1]
        wanted = (lines if how == "before" else lines // 2) - shown_before
        reaches = [replace(before, limit=wanted)] if wanted > 0 else []
        if how == "around" and past:  # and from the line at `point` on
            reaches.append(replace(at_point, newest=False, limit=lines))
        return reaches

    def _first(self) -> tuple[int, float]:
        """The number and time of memory's first line; with none (memory dropped all of a quiet room's lines),
        after the room's last."""
        if self.kept:
            return _number_of(self.kept[0]), seconds(self.kept[0].time)
        return self.said + 1, math.inf

    def beyond(self, msgid: str) -> bool:
        """Whether `msgid` may be a line the store holds and memory does not (one of this life, older than memory's)."""
        return self.behind and self.of_this_life(msgid) and parse_id(msgid)[1] < self._first()[0]

    def of_this_life(self, msgid: str) -> bool:
        """Whether `msgid` is an id of this life of the room: then it is no nickname, as no one is called an epoch."""
        try:
            return "-" in msgid and parse_id(msgid)[0] == self.epoch
        except ChatError:
            return False

    def redact(self, ids: set[str], nick: str = "") -> list[str]:
        """Remove the lines with these ids, and every kept line from `nick` if given; the ids removed."""
        folded = nick_key(nick) if nick else None
        self.changes += 1  # the store may hold some, even if memory holds none
        removed = [message.id for message in self.kept if message.id in ids or nick_key(message.nick) == folded]
        gone = set(removed)
        self.memory.released(message for message in self.kept if message.id in gone)
        self.kept = deque((message for message in self.kept if message.id not in gone), maxlen=self.kept.maxlen)
        return removed

    def clear(self) -> int:
        count = len(self.kept)
        self.changes += 1
        self.memory.released(self.kept)
        self.kept.clear()
        self.behind = False
        return count


@dataclass(frozen=True)
class KeptLines:
    """A room's kept lines at one moment, as its queries read them: memory's, with what the store read before them
    when a query reached past memory (RoomHistory.reach). `said`: the number of the room's last line."""

    epoch: str
    said: int
    lines: tuple[Message, ...]

    def after_older(self, older: Iterable[Message]) -> KeptLines:
        """These lines, after those the store read (RoomHistory.reach): what they hold that these do not."""
        first = _number_of(self.lines[0]) if self.lines else math.inf
        return replace(self, lines=(*(line for line in older if _number_of(line) < first), *self.lines))

    def query(self, room: str, how: str, point: str, lines: int, since: float = 0.0) -> History:
        """One of RoomHistory.QUERIES, by name; only the lines said from `since` on (a time, for a reader whose
        room's rule hides what was said before: chatroom.core.rules)."""
        ask = {"latest": self.latest, "before": self.before, "after": self.after, "around": self.around}[how]
        return ask(room, point, lines, since)

    def latest(self, room: str, point: str, lines: int, since: float = 0.0) -> History:
        """The last `lines` kept, or the last of those after `point` if it is not ""."""
        if not point:
            return History(room, self._readable(since)[-lines:] if lines else ())
        later = self.after(room, point, len(self.lines), since)
        shown = later.messages[-lines:] if lines else ()
        skipped = len(later.messages) - len(shown)  # kept, but more than was asked for: lost to the asker all the same
        return History(room, shown, later.lost if later.lost < 0 else later.lost + skipped)

    def before(self, room: str, point: str, lines: int, since: float = 0.0) -> History:
        """The `lines` kept before `point` (an id of this room, or a time), the nearest last."""
        kept, end, _ = self.split(point, since)
        return History(room, kept[max(0, end - lines) : end] if lines else ())

    def after(self, room: str, point: str, lines: int, since: float = 0.0) -> History:
        """The first `lines` kept after `point`, and, for an id, how many said after it are no longer kept.

        An id from another life of the room is older than all of this one, of which nothing was seen: how much
        was lost is not known then.
        """
        kept, _, start = self.split(point, since)
        later = kept[start:]
        shown = later[:lines]
        if _is_time(point):
            return History(room, shown)
        place = _place(point, self.epoch)
        if place < 0:
            return History(room, shown, lost=-1)
        first = _number_of(later[0]) if later else self.said + 1
        return History(room, shown, lost=max(0, first - math.floor(place) - 1))

    def around(self, room: str, point: str, lines: int, since: float = 0.0) -> History:
        """`lines` kept around `point`: about half before it, the rest from it on."""
        kept, end, _ = self.split(point, since)
        start = max(0, end - lines // 2)
        return History(room, kept[start : start + lines])

    def _readable(self, since: float) -> tuple[Message, ...]:
        """The kept lines said from `since` on: those at the end, as times only grow in a room's order."""
        kept = self.lines
        return kept[bisect.bisect_left(kept, since, key=_seconds_of) :] if since else kept

    def split(self, point: str, since: float = 0.0) -> tuple[tuple[Message, ...], int, int]:
        """The kept lines, where those before `point` end, and where those after it begin.

        Lines are kept in the order said, so their numbers and times only grow (times, with --redis, up to the skew
        between the processes' clocks: a room's lines are then still split at one place): bisection finds `point`
        without reading every line's id or time (docs/performance.md, issue 15).
        """
        kept, place = self._readable(since), _place(point, self.epoch)
        key = _seconds_of if _is_time(point) else _number_of
        return kept, bisect.bisect_left(kept, place, key=key), bisect.bisect_right(kept, place, key=key)


def parse_id(msgid: str) -> tuple[str, float]:
    """A message id's life and place; ChatError if it is not one, as a client may send anything.

    A message aside (see RoomHistory.stamp) is placed between the one it follows and the next.
    """
    life, _, number = msgid.rpartition("-")
    whole, dot, aside = number.partition(".")
    if not (life.isascii() and life.isalnum() and _digits(whole) and (_digits(aside) or not dot)):
        raise ChatError("BAD_MSGID", msgid=msgid)
    return life, int(whole) + (0.5 if dot else 0)


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def page(lines: int) -> int:
    """`lines`, if one request may ask for that many."""
    if not 0 <= lines <= PAGE_MAX:
        raise ChatError("BAD_COUNT", most=PAGE_MAX)
    return lines


def check_point(point: str) -> None:
    """Raise ChatError unless `point` is a message id or a time."""
    if _is_time(point):
        seconds(point)
    else:
        parse_id(point)


def _place(point: str, life: str) -> float:
    """Where `point` falls in a room's `life`: a time, or the number of an id of it (-1 for another life's)."""
    if _is_time(point):
        return seconds(point)
    its_life, number = parse_id(point)
    return number if its_life == life else -1


def _is_time(point: str) -> bool:
    """A time has colons (2026-11-23T09:30:00.000Z); an id never has one."""
    return ":" in point


def _number_of(message: Message) -> int:
    return int(message.id.rpartition("-")[2])


def _seconds_of(message: Message) -> float:
    return seconds(message.time)


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, digit = divmod(number, 36)
        text = digits[digit] + text
        if not number:
            return text

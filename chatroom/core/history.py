"""What a room keeps of what was said in it, when the server's administrator chose to keep anything (--history).

Every room message gets an id and a time whether anything is kept or not, so that a client can always say "after
this one". An id is the room's epoch and the message's number in it, `lq3k9d2a-1041`. The epoch changes whenever
the room begins again: opened anew, or the server restarted, unless a HistoryStore kept the room's history (with
--redis, a registered room's). So an id from an earlier life of the room is never taken for one of this life,
and within one life the lines said after an id that are no longer kept can be counted.

Kept lines are bounded twice: the last `HistoryLimits.lines` of each room, none older than `HistoryLimits.age`.
A room's history lives and ends with the room: an unregistered room that empties forgets what was said in it.
"""

from __future__ import annotations

import bisect
import datetime
import functools
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from chatroom.core.errors import ChatError
from chatroom.core.events import History, Message
from chatroom.core.names import nick_key

JOIN_LINES = 50  # what a member is shown on joining a room with history, unless they ask for another number
PAGE_MAX = 500  # the most lines one request returns (IRC's CHATHISTORY=)


@dataclass(frozen=True)
class HistoryLimits:
    lines: int = 0  # kept per room; 0: nothing is kept
    age: float = 0.0  # seconds after which a line is dropped; 0: lines are dropped only by number


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
    """The inverse of `timestamp`; raises ChatError for anything else, as a client may send one."""
    try:
        return datetime.datetime.fromisoformat(time).timestamp()
    except ValueError:
        raise ChatError("BAD_TIME", f"{time} is not a time: write it as 2026-11-23T09:30:00.000Z") from None


def epoch(now: float, serial: int) -> str:
    """A name for one life of a room: when it began, and which room of the chat's began then."""
    return f"{_base36(int(now * 1000))}{_base36(serial)}"


class RoomHistory:
    """One room's ids, and the lines it keeps."""

    __slots__ = ("asides", "epoch", "kept", "limits", "said")

    def __init__(
        self, epoch: str, limits: HistoryLimits, said: int = 0, kept: Iterable[Message] = (), asides: int = 0
    ) -> None:
        self.epoch = epoch
        self.limits = limits
        self.said = said  # room messages since the room began: the last one's number
        self.asides = asides  # messages for some only (operators) since the last one for the whole room
        self.kept: deque[Message] = deque(kept, maxlen=limits.lines or None)

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

    def keep(self, message: Message, now: float) -> None:
        """Keep a message if history is on and the whole room heard it."""
        if self.limits.lines and not message.to:  # a line for operators only must not reach others later
            self.prune(now)
            self.kept.append(message)

    def prune(self, now: float) -> None:
        """Drop what is older than the age limit: from the oldest on, as times only grow within a room's order."""
        if self.limits.age:
            while self.kept and now - seconds(self.kept[0].time) > self.limits.age:
                self.kept.popleft()

    QUERIES = ("latest", "before", "after", "around")  # the ways to ask for a room's history

    def query(self, room: str, how: str, point: str, lines: int, now: float) -> History:
        """One of QUERIES, by name, as a front end asks for it."""
        ask = {"latest": self.latest, "before": self.before, "after": self.after, "around": self.around}[how]
        return ask(room, point, lines, now)

    def latest(self, room: str, point: str, lines: int, now: float) -> History:
        """The last `lines` kept, or the last of those after `point` if it is not ""."""
        self.prune(now)
        if not point:
            return History(room, tuple(self.kept)[-lines:] if lines else ())
        later = self.after(room, point, len(self.kept), now)
        shown = later.messages[-lines:] if lines else ()
        skipped = len(later.messages) - len(shown)  # kept, but more than was asked for: lost to the asker all the same
        return History(room, shown, later.lost if later.lost < 0 else later.lost + skipped)

    def before(self, room: str, point: str, lines: int, now: float) -> History:
        """The `lines` kept before `point` (an id of this room, or a time), the nearest last."""
        self.prune(now)
        kept, end, _ = self._split(point)
        return History(room, kept[max(0, end - lines) : end] if lines else ())

    def after(self, room: str, point: str, lines: int, now: float) -> History:
        """The first `lines` kept after `point`, and, for an id, how many said after it are no longer kept.

        An id from another life of the room is older than all of this one, of which nothing was seen: how much
        was lost is not known then.
        """
        self.prune(now)
        kept, _, start = self._split(point)
        later = kept[start:]
        shown = later[:lines]
        if _is_time(point):
            return History(room, shown)
        place = self._place(point)
        if place < 0:
            return History(room, shown, lost=-1)
        first = _number_of(later[0]) if later else self.said + 1
        return History(room, shown, lost=max(0, first - math.floor(place) - 1))

    def around(self, room: str, point: str, lines: int, now: float) -> History:
        """`lines` kept around `point`: about half before it, the rest from it on."""
        self.prune(now)
        kept, end, _ = self._split(point)
        start = max(0, end - lines // 2)
        return History(room, kept[start : start + lines])

    def redact(self, ids: set[str], nick: str = "") -> list[str]:
        """Remove the lines with these ids, and every kept line from `nick` if given; the ids removed."""
        folded = nick_key(nick) if nick else None
        removed = [message.id for message in self.kept if message.id in ids or nick_key(message.nick) == folded]
        gone = set(removed)
        self.kept = deque((message for message in self.kept if message.id not in gone), maxlen=self.kept.maxlen)
        return removed

    def clear(self) -> int:
        count = len(self.kept)
        self.kept.clear()
        return count

    def _place(self, point: str) -> float:
        """Where `point` falls: a time, or the number of an id of this life (-1 for another life's)."""
        if _is_time(point):
            return seconds(point)
        life, number = parse_id(point)
        return number if life == self.epoch else -1

    def _split(self, point: str) -> tuple[tuple[Message, ...], int, int]:
        """The kept lines, where those before `point` end, and where those after it begin.

        Lines are kept in the order said, so their numbers and times only grow (times, with --redis, up to the skew
        between the processes' clocks: a room's lines are then still split at one place): bisection finds `point`
        without reading every line's id or time (docs/performance.md, issue 15).
        """
        kept, place = tuple(self.kept), self._place(point)
        key = _seconds_of if _is_time(point) else _number_of
        return kept, bisect.bisect_left(kept, place, key=key), bisect.bisect_right(kept, place, key=key)


def parse_id(msgid: str) -> tuple[str, float]:
    """A message id's life and place; ChatError if it is not one, as a client may send anything.

    A message aside (see RoomHistory.stamp) is placed between the one it follows and the next.
    """
    life, _, number = msgid.rpartition("-")
    whole, dot, aside = number.partition(".")
    if not (life.isascii() and life.isalnum() and _digits(whole) and (_digits(aside) or not dot)):
        raise ChatError("BAD_MSGID", f"{msgid} is not a message id: ids look like lq3k9d2a-1041")
    return life, int(whole) + (0.5 if dot else 0)


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def check_point(point: str) -> None:
    """Raise ChatError unless `point` is a message id or a time."""
    if _is_time(point):
        seconds(point)
    else:
        parse_id(point)


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

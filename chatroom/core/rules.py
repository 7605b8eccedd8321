"""Each room's history rule: what it keeps (`off`, `since-join`, `all`), for how long, and who may erase what.

A rule lives in the room's settings (chatroom.core.moderation.RoomSettings), so it is saved with a registered room
and replicated with it (--redis) like any other setting. It only ever narrows the server's own bounds: a room keeps
at most --history lines, none older than --history-age; a room that sets nothing keeps what the server keeps.

`since-join`: a member reads only what was said since their stay in the room began: the anchors' variant (Slack,
Zulip, Mattermost: everything since you joined the channel), not Ergo's `join-time` cutoff at each join. An
account's stay begins when it first joins the room and ends only when it leaves it: its own part, a kick (a ban that
puts it out is one), the room's end (an unregistered room that empties). Its sessions ending, a lost connection and,
for a registered room, a server restart do not end it (Room.stays; the history store keeps each registered room's,
HistoryStore.stayed and `left`). It reads from the earliest of that start and the present joins of its nicknames in
the room (a login makes a guest's present stays the account's). A guest's stay is their present one: a guest is
nobody once they leave. A line said within the same millisecond as a stay's start counts as said after it (times
are kept to the millisecond).

The owner or an operator changes the rule (the rank that changes the room's settings); the owner exports the room's
history and makes it forget; a member erases their own lines while the rule allows it (`redact_mine`, the default).
"""

from __future__ import annotations

import dataclasses

from chatroom.core.errors import ChatError
from chatroom.core.events import Message
from chatroom.core.history import HistoryLimits
from chatroom.core.moderation import RoomSettings, parse_duration

RULES = ("off", "since-join", "all")
KEEP_LINES_MAX = 1_000_000_000  # a number of lines anyone may type; the server's --history bounds it anyway


def rule_limits(server: HistoryLimits, settings: RoomSettings) -> HistoryLimits:
    """What a room under `settings` keeps on a server keeping `server`: the narrower of each bound."""
    if settings.history == "off" or not server.lines:
        return HistoryLimits(0, server.age, server.memory)
    lines = min(server.lines, settings.keep_lines) if settings.keep_lines else server.lines
    ages = [age for age in (server.age, settings.keep_age) if age]
    return HistoryLimits(lines, min(ages) if ages else 0.0, server.memory)


_UNITS = (("d", "day", 86400), ("h", "hour", 3600), ("m", "minute", 60))


def _unit(seconds: float) -> tuple[int, str, str]:
    """A time in the largest unit that divides it: the count, and the unit's short and long names."""
    for short, long, size in _UNITS:
        if seconds >= size and seconds % size == 0:
            return int(seconds // size), short, long
    return int(seconds), "s", "second"


def duration(seconds: float) -> str:
    """`30 days`, `12 hours`, `90 minutes`, `45 seconds`."""
    count, _, name = _unit(seconds)
    return f"{count} {name}" + ("" if count == 1 else "s")


def _short(seconds: float) -> str:
    """`30d`, `12h`, `90m`, `45s`, as `keep` takes them."""
    count, short, _ = _unit(seconds)
    return f"{count}{short}"


def keeps(server: HistoryLimits, settings: RoomSettings) -> str:
    """What joining a room is told of its history, in one sentence; "" when it keeps nothing."""
    limits = rule_limits(server, settings)
    if not limits.lines:
        return ""
    bounds = f"the last {limits.lines} lines" if limits.lines < server.lines or not limits.age else ""
    if limits.age:
        bounds = f"{bounds} and at most {duration(limits.age)}" if bounds else duration(limits.age)
    said = "this room keeps " + bounds + " of history"
    return said + (", each member's since they joined" if settings.history == "since-join" else "")


def rule_words(settings: RoomSettings) -> tuple[str, ...]:
    """The rule as RoomInfo lists settings, those that differ from a room that set nothing."""
    words = [f"history={settings.history}"] if settings.history != "all" else []
    if settings.keep_lines:
        words.append(f"keep={settings.keep_lines}")
    if settings.keep_age:
        words.append(f"keep={_short(settings.keep_age)}")
    if not settings.redact_mine:
        words.append("redact-mine=off")
    return tuple(words)


def parse_keep(value: str) -> tuple[int, float]:
    """`keep`'s value as (lines, seconds), each 0 when not given: `5000`, `5000 lines`, `30d`, `default`."""
    text = value.strip().lower()
    if text in ("default", "off", ""):
        return 0, 0.0
    number = text.removesuffix("lines").removesuffix("line").strip()
    if number.isascii() and number.isdigit() and 0 < len(number) <= 10 and 0 < int(number) <= KEEP_LINES_MAX:
        return int(number), 0.0
    try:
        age = parse_duration(text)
    except ChatError:
        age = None
    if age is None:
        raise ChatError("BAD_RULE", "keep", text=value)
    return 0, age


def unkept(message: Message) -> Message:
    """`message` as a store is told of one said in a room that keeps nothing: counted (its id), never written."""
    return dataclasses.replace(message, text="", to="*")

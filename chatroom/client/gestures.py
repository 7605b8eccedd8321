"""Replies, reactions and who is typing, as the terminal client keeps them (docs/protocol.md: REPLY, REACT,
TYPING): the recent lines of each room, so that a reply can show what it answers and a reaction the line it is on;
who is typing where, until they stop or their notice grows old; and when we last said we were typing.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from twisted.internet.interfaces import IDelayedCall, IReactorTime

from chatroom.core.names import room_key
from chatroom.frontends.line.wire import Line

RECENT = 500  # lines remembered per room, for replies and reactions to name
# How long a typing notice stands without another (IRCv3 typing: 6 s for active, 30 s for paused)
TYPING_SHOWN = {"active": 6.0, "paused": 30.0}
TYPING_EVERY = 3.0  # seconds between two of our own notices while we type (the server drops those sooner)


@dataclass
class Said:
    """A line of a room, as a reply or a reaction shows it; `reactions`: emoji -> who reacted with it."""

    nick: str
    text: str
    reactions: dict[str, set[str]] = field(default_factory=dict)

    def tally(self) -> str:
        """`[👍 3 🎉 1]`, "" with no reaction: the most given first."""
        counts = sorted(((len(nicks), emoji) for emoji, nicks in self.reactions.items() if nicks), reverse=True)
        return "[" + " ".join(f"{emoji} {count}" for count, emoji in counts) + "]" if counts else ""


class Gestures:
    """What the client remembers of each room's lines and typists; `changed` redraws the prompt (the status)."""

    def __init__(self, clock: IReactorTime, changed: Callable[[], None]) -> None:
        self.clock = clock
        self.changed = changed
        self.lines: dict[str, OrderedDict[str, Said]] = {}  # room_key -> id -> line, the latest last
        self.typing: dict[str, dict[str, IDelayedCall]] = {}  # room_key -> typist -> when their notice expires
        self.sent = -TYPING_EVERY  # when we last said we were typing
        self.sent_to: str | None = None  # where (a room), until we say we are done

    def follow(self, line: Line, me: str | None) -> None:
        """Keep what `line` says of lines, reactions and typists; our own typing (the server tells us too) is not
        shown to us."""
        match line.word, line.args:
            case (("MSG" | "ACTION" | "SAID" | "DID"), [room, nick, msgid, *_]):
                lines = self.lines.setdefault(room_key(room.lstrip("@+")), OrderedDict())
                lines[msgid] = Said(nick, line.text or "")
                while len(lines) > RECENT:
                    lines.popitem(last=False)
                if line.word in ("MSG", "ACTION"):
                    self._stopped(room, nick)  # a line said ends its typing (IRCv3 typing)
            case "TYPING", [room, nick, state] if nick != me:
                self._stopped(room, nick)
                if state in TYPING_SHOWN:
                    expiry = self.clock.callLater(TYPING_SHOWN[state], self._stopped, room, nick)
                    self.typing.setdefault(room_key(room), {})[nick] = expiry
                self.changed()
            case ("PART", [room, nick]) | ("KICK", [room, _, nick]):
                self._stopped(room, nick)
            case "QUIT", [nick]:
                for room in list(self.typing):
                    self._stopped(room, nick)

    def said(self, room: str, msgid: str) -> Said | None:
        lines = self.lines.get(room_key(room))
        return None if lines is None else lines.get(msgid)

    def pick(self, room: str, pick: str) -> str | None:
        """The id of a recent line of `room`: `^` the latest, `^2` the one before, and so on; None if none."""
        count = pick[1:] or "1"
        lines = list(self.lines.get(room_key(room)) or ())
        if not (pick.startswith("^") and count.isascii() and count.isdigit() and 0 < int(count) <= len(lines)):
            return None
        return lines[-int(count)]

    def reacted(self, room: str, nick: str, msgid: str, emoji: str) -> Said | None:
        """Count a reaction on a line we have seen: the line, tallied anew; None for a line we never saw."""
        said = self.said(room, msgid)
        if said is not None:
            said.reactions.setdefault(emoji, set()).add(nick)
        return said

    def typists(self, room: str | None) -> list[str]:
        return list(self.typing.get(room_key(room), {})) if room else []

    def _stopped(self, room: str, nick: str) -> None:
        expiry = self.typing.get(room_key(room), {}).pop(nick, None)
        if expiry is not None:
            if expiry.active():
                expiry.cancel()
            self.changed()

    def typing_now(self, room: str | None, text: str) -> str | None:
        """What to tell the server of our own typing as the input line becomes `text`: "active" while it holds a
        message (not a command) at most once every TYPING_EVERY seconds, "done" once it is emptied; else None."""
        now = self.clock.seconds()
        if room and text and not text.startswith("/"):
            if self.sent_to == room and now - self.sent < TYPING_EVERY:
                return None
            self.sent, self.sent_to = now, room
            return "active"
        if self.sent_to is not None and not text:
            self.sent_to, self.sent = None, -TYPING_EVERY
            return "done"
        return None

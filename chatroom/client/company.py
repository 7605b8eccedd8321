"""Who is in each of our rooms, what we have not read yet, and whom we ignore: the client's memory of the chat.

Kept from the server's lines (NAMES, JOIN, PART, KICK, QUIT, NICK, MSG, RENAME), so that Tab can complete a nickname,
the prompt can show which other rooms have news, and /ignore can hide someone, all without asking the server;
and which messages of each room we have seen (MSG, SAID) and its key (ROOM, SET), so that /history pages back
from the earliest and a reconnection asks for what was said after the latest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from chatroom.core.names import room_key
from chatroom.frontends.line.commands import COMMANDS
from chatroom.frontends.line.wire import Line

V = TypeVar("V")

# Handled by the client, not sent as they are; each as /help shows it, in the server's form for its own.
CLIENT_COMMANDS = {
    "switch": "/switch ROOM - make ROOM, one you are in, current (so do Ctrl+N, Ctrl+P and Alt+1 to Alt+9)",
    "ignore": "/ignore [NICK] - hide what NICK says, on this client only, until it exits; alone: whom you ignore",
    "unignore": "/unignore NICK - show what NICK says again",
    "reply": "/reply or /r TEXT - answer the last private message",
    "react": "/react [^N] EMOJI - react to a line of the room: ^ (or none) the latest, ^2 the one before it...;"
    " /reply ^N TEXT answers it",
}


class Company:
    def __init__(self) -> None:
        self.rooms: dict[str, dict[str, None]] = {}  # room -> its members' nicknames, in the order they came
        self.unread: dict[str, int] = {}  # room -> lines said there since it was last current
        self.unread_until: dict[str, str] = {}  # room -> when the last of its unread lines was said
        self.mentioned: set[str] = set()  # rooms where a line named us since then
        self.ignored: dict[str, str] = {}  # lower-case nickname -> as typed
        self.seen: dict[str, Seen] = {}  # room_key -> the messages we have seen there, live or from history
        self.keys: dict[str, str] = {}  # room_key -> the key of a room we are in, to join it again

    def follow(self, line: Line, me: str | None, current: str | None) -> None:
        match line.word, line.args:
            case "NAMES", [room, *nicks]:
                self.rooms.setdefault(room, {}).update((nick.lstrip("@+"), None) for nick in nicks)
            case "JOIN", [room, nick]:
                if nick == me:
                    self.rooms[room] = {}  # NAMES follows
                else:
                    self.rooms.setdefault(room, {})[nick] = None
            case ("PART", [room, nick]) | ("KICK", [room, _, nick]):
                if nick == me:
                    self._forget(room)
                else:
                    self.rooms.get(room, {}).pop(nick, None)
            case "QUIT", [nick]:
                for members in self.rooms.values():
                    members.pop(nick, None)
            case "NICK", [old, new]:
                for members in self.rooms.values():
                    if old in members:
                        del members[old]
                        members[new] = None
            case (("MSG" | "ACTION"), [room, nick, *stamps]):  # history lines (SAID, DID) are never news
                self._saw(room, stamps)
                if room != current and room in self.rooms and nick != me and not self.is_ignored(nick):
                    self.unread[room] = self.unread.get(room, 0) + 1  # what is not shown is not news
                    self.unread_until[room] = stamps[1] if len(stamps) > 1 else ""
            case "READ", [room, time] if time >= self.unread_until.get(room, "~"):  # read on another device
                self._read(room)
            case (("SAID" | "DID"), [room, _, *stamps]):
                self._saw(room, stamps)
            case "ROOM", [room, _, *settings]:
                key = next((setting[4:] for setting in settings if setting.startswith("key=")), "")
                self._set_key(room, key)
            case "SET", [room, _, "key"]:
                self._set_key(room, "" if line.text == "off" else line.text or "")
            case "CURRENT", [room]:
                self._read(room)
            case "RENAME", [old, new, _]:
                self._renamed(old, new)

    def _renamed(self, old: str, new: str) -> None:
        """What we know of a room goes on under its new name: its members, what is unread there, its key."""
        _move(self.rooms, old, new)
        _move(self.unread, old, new)
        _move(self.unread_until, old, new)
        _move(self.seen, room_key(old), room_key(new))
        _move(self.keys, room_key(old), room_key(new))
        if old in self.mentioned:
            self.mentioned = self.mentioned - {old} | {new}

    def _read(self, room: str) -> None:
        self.unread.pop(room, None)
        self.unread_until.pop(room, None)
        self.mentioned.discard(room)

    def first(self, room: str) -> str | None:
        """The id of the earliest message we saw in `room` (in the room's present life), if any."""
        seen = self.seen.get(room_key(room))
        return None if seen is None else f"{seen.life}-{seen.first}"

    def last_time(self, room: str) -> str:
        """When the latest message we saw in `room` was said ("" if none): where we have read it up to."""
        seen = self.seen.get(room_key(room))
        return "" if seen is None else seen.time

    def last(self, room: str) -> str | None:
        """The id of the latest message we saw in `room`, if any."""
        seen = self.seen.get(room_key(room))
        return None if seen is None else f"{seen.life}-{seen.last}"

    def shown_before(self, room: str, msgid: str) -> bool:
        """Whether the message `msgid` of `room` is among those we saw there (between the earliest and the latest,
        in the room's same life): a catch-up that sends it again (the history a server gives another device of
        ours) repeats it."""
        seen = self.seen.get(room_key(room))
        life, _, number = msgid.rpartition("-")
        if seen is None or life != seen.life or not (number.isascii() and number.isdecimal() and len(number) < 19):
            return False
        return seen.first <= int(number) <= seen.last

    def _saw(self, room: str, stamps: list[str]) -> None:
        """Note a message's id and time (from version 2 on: version 1 had none)."""
        if len(stamps) < 2:
            return
        msgid, time = stamps[:2]
        life, _, number = msgid.rpartition("-")
        if not (life and number.isascii() and number.isdecimal() and len(number) < 19):  # another server's? skip it
            return
        key, said = room_key(room.lstrip("@+")), int(number)  # "@#5": said to #5's operators, numbered in #5
        seen = self.seen.get(key)
        if seen is None or (life != seen.life and time > seen.time):  # the first, or the room began again
            self.seen[key] = Seen(life, said, said, time)
        elif life == seen.life:
            seen.first = min(seen.first, said)
            if said > seen.last:
                seen.last, seen.time = said, time

    def _set_key(self, room: str, key: str) -> None:
        if key:
            self.keys[room_key(room)] = key
        else:
            self.keys.pop(room_key(room), None)

    def _forget(self, room: str) -> None:
        self.rooms.pop(room, None)
        self._read(room)
        self.seen.pop(room_key(room), None)
        self.keys.pop(room_key(room), None)

    def activity(self, current: str | None) -> str:
        """The other rooms with unread lines, for the prompt: "#6 3, #7 1!" (! where we were named)."""
        return ", ".join(
            f"{room} {count}{'!' if room in self.mentioned else ''}"
            for room, count in self.unread.items()
            if room != current
        )

    def complete(self, word: str, at_start: bool, current: str | None) -> list[str]:
        """What Tab offers for `word`: a command at the start of a line, a room after '#', else a nickname."""
        key = word.lower()
        if at_start and word.startswith("/"):
            names = sorted({*COMMANDS, *CLIENT_COMMANDS})
            return [f"/{name}" for name in names if f"/{name}".startswith(key)]
        if word.startswith("#"):
            return sorted(room for room in self.rooms if room.lower().startswith(key))
        members = self.rooms.get(current or "", {})
        return [nick for nick in members if nick.lower().startswith(key)]

    def is_ignored(self, nick: str) -> bool:
        return nick.lower() in self.ignored


@dataclass
class Seen:
    """The messages seen in one room: ids are LIFE-NUMBER (docs/protocol.md), numbered in order in each life of
    the room, which begins again when the room is opened anew or the server restarts."""

    life: str
    first: int
    last: int
    time: str  # when the last was said, ISO 8601 in UTC: a later life's lines are said later


def _move(by_name: dict[str, V], old: str, new: str) -> None:
    if old in by_name:
        by_name[new] = by_name.pop(old)

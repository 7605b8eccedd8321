"""Who is in each of our rooms, what we have not read yet, and whom we ignore: the client's memory of the chat.

Kept from the server's lines (NAMES, JOIN, PART, KICK, QUIT, NICK, MSG), so that Tab can complete a nickname,
the prompt can show which other rooms have news, and /ignore can hide someone, all without asking the server.
"""

from __future__ import annotations

from chatroom.line.commands import COMMANDS
from chatroom.line.wire import Line

CLIENT_COMMANDS = ("switch", "ignore", "unignore", "reply")  # handled by the client, not sent as they are


class Company:
    def __init__(self) -> None:
        self.rooms: dict[str, dict[str, None]] = {}  # room -> its members' nicknames, in the order they came
        self.unread: dict[str, int] = {}  # room -> lines said there since it was last current
        self.mentioned: set[str] = set()  # rooms where a line named us since then
        self.ignored: dict[str, str] = {}  # lower-case nickname -> as typed

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
            case (("MSG" | "ACTION"), [room, nick]) if room != current and room in self.rooms and nick != me:
                if not self.is_ignored(nick):  # what is not shown is not news
                    self.unread[room] = self.unread.get(room, 0) + 1
            case "CURRENT", [room]:
                self.unread.pop(room, None)
                self.mentioned.discard(room)

    def _forget(self, room: str) -> None:
        self.rooms.pop(room, None)
        self.unread.pop(room, None)
        self.mentioned.discard(room)

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

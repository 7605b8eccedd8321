"""WHOWAS: who recently had a nickname, for an IRC client asking about someone who just left.

Only IRC's own details are kept (nickname, user name, real name), never what anyone said, only in memory, for
at most KEPT_FOR seconds and KEPT entries (docs/irc.md). The line protocol has no such command.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from chatroom.core.names import nick_key

KEPT = 100
KEPT_FOR = 3600.0  # seconds


@dataclass(frozen=True)
class Departure:
    nick: str
    user: str
    realname: str
    at: float


class Whowas:
    def __init__(self) -> None:
        self._entries: deque[Departure] = deque(maxlen=KEPT)

    def record(self, nick: str, user: str, realname: str, now: float) -> None:
        self._entries.append(Departure(nick, user, realname, now))

    def find(self, nick: str, now: float, count: int = 0) -> list[Departure]:
        """The newest departures of `nick` first, at most `count` of them (0: all)."""
        while self._entries and self._entries[0].at < now - KEPT_FOR:
            self._entries.popleft()
        key = nick_key(nick)
        found = [entry for entry in reversed(self._entries) if nick_key(entry.nick) == key]
        return found[:count] if count > 0 else found

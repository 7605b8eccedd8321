"""Where a person has read up to: one time per room or private conversation (IRCv3's draft/read-marker).

A marker belongs to the person, not to a connection: reading on the phone moves it for the laptop too, and every
session of the person is told when it moves. An account holder's markers outlive their sessions (kept by account
for as long as the server runs); a guest's go with them. A marker only ever moves forward, so two devices that
mark out of order end at the later time.

Kept in memory, at most MARKERS_KEPT per person (the least recently moved go first); an account's are also written
to the history store as they move (HistoryStore.marked: the SQLite file of a server alone), and read back at a
start. With --redis they are part of the shared chat like any other change, and of the snapshots on Redis's disk:
times, never text.
"""

from __future__ import annotations

from chatroom.core.history import seconds, timestamp
from chatroom.core.names import VALID_NICK, nick_key, room_key, room_name

MARKERS_KEPT = 500  # per person: more rooms and conversations than a person reads


def read_time(text: str) -> str:
    """`text`, a time a client sent, as markers keep and compare it (UTC to the millisecond); ChatError if none."""
    return timestamp(seconds(text))


def marker_target(target: str) -> tuple[str, str]:
    """A nickname, or a room (`#maths`; `5` too, which no nickname can be), as shown and as compared.

    ChatError for what is neither.
    """
    if not target.startswith("#") and VALID_NICK.fullmatch(target):
        return target, nick_key(target)
    name = room_name(target)
    return name, "#" + room_key(name)  # never a nickname's key: no nickname has a '#'


class ReadMarkers:
    """One person's markers: compared key -> time, the least recently moved first."""

    __slots__ = ("times",)

    def __init__(self, times: dict[str, str] | None = None) -> None:
        self.times: dict[str, str] = dict(times or {})  # in order (a dict's is its insertions'): half an OrderedDict

    def get(self, key: str) -> str:
        """The time `key` is read up to, or "" if never marked."""
        return self.times.get(key, "")

    def move(self, key: str, time: str) -> bool:
        """Read up to `time`, unless an equal or later time is kept; whether the marker moved."""
        if self.times.get(key, "") >= time:  # both UTC to the millisecond: text order is time order
            return False
        self.times.pop(key, None)
        self.times[key] = time  # the last, as the most recently moved
        if len(self.times) > MARKERS_KEPT:
            del self.times[next(iter(self.times))]
        return True

    def merge(self, other: ReadMarkers) -> None:
        """Take `other`'s later times (a guest logging in brings what they read to the account)."""
        for key, time in other.times.items():
            self.move(key, time)

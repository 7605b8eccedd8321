"""Who watches which nickname (IRC's MONITOR, our `/watch`): told when a person under it arrives, leaves, or takes
or drops it by a change of nickname.

A watch list is a session's, as Ergo's MONITOR is: a person's other devices are not told of the names one of them
watches (irssi, which never asks, was sent 730/731 for those WeeChat watched), and a list ends with its session.
So it is kept by the process the session is connected to, and never shared: with several processes (chatroom.bus)
every replica hears of every arrival and departure from the log, and tells its own sessions. A person who is
invisible (+i) is still told present: watching says whether someone is here, as Ergo's MONITOR does, and ISON
already says as much.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from chatroom.core.events import Event, Session
from chatroom.core.names import nick_key

if TYPE_CHECKING:
    from chatroom.core.members import Member

WATCH_MAX = 100  # nicknames one session may watch (IRC's ISUPPORT MONITOR=100, as Ergo's default)


class Watchers:
    """Each session's watch list, and for each folded nickname the sessions watching it (with their person): kept
    together, so that telling the watchers of a nickname costs one look-up, and a list leaves with its session."""

    __slots__ = ("_lists", "_of")

    def __init__(self) -> None:
        self._lists: dict[Session, dict[str, str]] = {}  # session -> nick_key -> the nickname as given
        self._of: dict[str, dict[Session, Member]] = {}  # nick_key -> the sessions watching it, in the order they began

    def beyond(self, session: Session, nicks: Iterable[str]) -> tuple[str, ...]:
        """Those of `nicks` that adding them would leave out: new to `session`'s list, and past WATCH_MAX."""
        watched = self._lists.get(session, {})
        new = list(dict.fromkeys(nick_key(nick) for nick in nicks if nick_key(nick) not in watched))
        room = max(0, WATCH_MAX - len(watched))
        left_out = set(new[room:])
        return tuple(nick for nick in nicks if nick_key(nick) in left_out)

    def add(self, member: Member, session: Session, nicks: Iterable[str]) -> None:
        """Watch `nicks` for `member`'s `session`, as far as WATCH_MAX allows (`beyond` says which do not fit);
        those already watched stay as they were given first."""
        watched = self._lists.setdefault(session, {})
        for nick in nicks:
            key = nick_key(nick)
            if key not in watched and len(watched) < WATCH_MAX:
                watched[key] = nick
                self._of.setdefault(key, {})[session] = member
        if not watched:
            del self._lists[session]

    def remove(self, session: Session, nicks: Iterable[str] | None = None) -> None:
        """Stop watching `nicks` for `session`, or every nickname it watches."""
        watched = self._lists.get(session, {})
        for key in list(watched) if nicks is None else [nick_key(nick) for nick in nicks]:
            if watched.pop(key, None) is None:
                continue
            watchers = self._of[key]
            del watchers[session]
            if not watchers:
                del self._of[key]
        if not watched:
            self._lists.pop(session, None)

    def clear(self) -> None:
        self._lists, self._of = {}, {}

    def of(self, session: Session) -> list[str]:
        """The nicknames `session` watches, as given, in the order given."""
        return list(self._lists.get(session, {}).values())

    def watching(self, nick: str) -> Iterator[tuple[Session, Member]]:
        """The sessions that watch `nick`, in any case, each with its person."""
        return iter(list(self._of.get(nick_key(nick), {}).items()))

    def tell(self, nick: str, event: Event) -> None:
        """Tell each session watching `nick` the event."""
        for session, _ in self.watching(nick):
            session.deliver(event)

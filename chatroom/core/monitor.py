"""Who watches which nickname (IRC's MONITOR, our `/watch`): told when a person under it arrives, leaves, or takes
or drops it by a change of nickname.

A watch list is a person's, not a connection's: every session of theirs is told, and it ends when they leave the
chat. It is kept by the chat and changed by its changes (chatroom.core.presence's `watch` and `unwatch`), so that
with several processes (chatroom.bus) every replica knows who watches whom, and the replica of the process where
a watcher is connected tells them of a person arriving on another. A person who is invisible (+i) is still told
present: watching says whether someone is here, as Ergo's MONITOR does, and ISON already says as much.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

from chatroom.core.events import Event
from chatroom.core.names import nick_key

if TYPE_CHECKING:
    from chatroom.core.members import Member

WATCH_MAX = 100  # nicknames one person may watch (IRC's ISUPPORT MONITOR=100, as Ergo's default)


class Watchers:
    """Each person's watch list, and for each folded nickname who watches it: kept together, so that telling the
    watchers of a nickname costs one look-up, and a list leaves with its person."""

    __slots__ = ("_lists", "_of")

    def __init__(self) -> None:
        self._lists: dict[Member, dict[str, str]] = {}  # person -> nick_key -> the nickname as they gave it
        self._of: dict[str, dict[Member, None]] = {}  # nick_key -> those watching it, in the order they began

    def beyond(self, member: Member, nicks: Iterable[str]) -> tuple[str, ...]:
        """Those of `nicks` that adding them would leave out: new to `member`'s list, and past WATCH_MAX."""
        watched = self._lists.get(member, {})
        new = list(dict.fromkeys(nick_key(nick) for nick in nicks if nick_key(nick) not in watched))
        room = max(0, WATCH_MAX - len(watched))
        left_out = set(new[room:])
        return tuple(nick for nick in nicks if nick_key(nick) in left_out)

    def add(self, member: Member, nicks: Iterable[str]) -> None:
        """Watch `nicks` for `member`, as far as WATCH_MAX allows (`beyond` says which do not fit); those already
        watched stay as they were given first."""
        watched = self._lists.setdefault(member, {})
        for nick in nicks:
            key = nick_key(nick)
            if key not in watched and len(watched) < WATCH_MAX:
                watched[key] = nick
                self._of.setdefault(key, {})[member] = None
        if not watched:
            del self._lists[member]

    def remove(self, member: Member, nicks: Iterable[str] | None = None) -> None:
        """Stop watching `nicks` for `member`, or every nickname they watch."""
        watched = self._lists.get(member, {})
        for key in list(watched) if nicks is None else [nick_key(nick) for nick in nicks]:
            if watched.pop(key, None) is None:
                continue
            watchers = self._of[key]
            del watchers[member]
            if not watchers:
                del self._of[key]
        if not watched:
            self._lists.pop(member, None)

    def of(self, member: Member) -> list[str]:
        """The nicknames `member` watches, as they gave them, in the order they gave them."""
        return list(self._lists.get(member, {}).values())

    def watching(self, nick: str) -> Iterator[Member]:
        """Those who watch `nick`, in any case."""
        return iter(list(self._of.get(nick_key(nick), ())))

    def tell(self, nick: str, event: Event) -> None:
        """Tell each person watching `nick` the event, once."""
        for watcher in self.watching(nick):
            watcher.session.deliver(event)

    def lists(self) -> Mapping[Member, list[str]]:
        """Every list, by person: what a replica's snapshot carries."""
        return {member: list(watched.values()) for member, watched in self._lists.items()}

    def restore(self, lists: Mapping[Member, Iterable[str]]) -> None:
        """Hold these lists instead of the present ones (a snapshot of the chat other processes hold)."""
        self._lists, self._of = {}, {}
        for member, nicks in lists.items():
            self.add(member, nicks)

"""What front ends ask of the chat without changing it: people, rooms and members as someone may see them.

Front ends ask these instead of reading Chat's dictionaries and a Room's members and settings, so that the rules
of who sees what (secret rooms, invisible people) stay in the core, and the state behind them can move
(chatroom.core.state) without the front ends knowing. Nothing here changes the chat, so nothing here is
replicated by chatroom.bus: each process answers from its own replica.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from chatroom.core.events import Session, Topic
from chatroom.core.members import Room
from chatroom.core.moderation import Role
from chatroom.core.monitor import Watchers
from chatroom.core.names import nick_key, room_key, room_order
from chatroom.core.state import AccountDirectory

if TYPE_CHECKING:
    from chatroom.core.members import Member


@dataclass(frozen=True, slots=True)
class RoomView:
    """A room as a front end shows it to someone: a copy, so that showing it can never change it."""

    name: str
    size: int  # how many are in it
    topic: Topic
    topic_time: float  # when the topic was set, 0 if not known
    created: float
    on: tuple[str, ...]  # its settings that are on, as RoomInfo has them: "invite", "key=K", "limit=N", ...
    joined: bool  # the one who asked is in it

    @property
    def secret(self) -> bool:
        return "secret" in self.on

    @property
    def external(self) -> bool:
        """Those outside it may send to it (IRC's -n)."""
        return "external" in self.on


class Census(NamedTuple):
    """How many there are, for IRC's LUSERS."""

    people: int
    invisible: int
    rooms: int
    admins: int
    peak: int  # the most people present at once since the start


class Queries:
    """The questions, under chatroom.core.base.ChatBase, whose state they read."""

    accounts: AccountDirectory
    identities: dict[str, str]
    nicks: dict[str, Member]
    rooms: dict[str, Room]
    signed_in: set[Member]
    visible: set[Member]
    peak: int
    watchers: Watchers

    def person(self, nick: str) -> Member | None:
        """The member present under `nick`, in any case."""
        return self.nicks.get(nick_key(nick))

    def person_of(self, account: str) -> Member | None:
        """The person present logged in to `account` as it is registered now, whatever nickname they go by: under
        the account's own if they are (earlier logins under other nicknames may have made others), else the first
        by nickname. None for a removed account's people, even if its name was registered again."""
        if not self.current(account):
            return None
        key = nick_key(account)
        own = self.nicks.get(key)
        if own is not None and nick_key(own.account or "") == key:
            return own
        holders = (member for member in self.signed_in if nick_key(member.account or "") == key)
        return min(holders, key=lambda member: nick_key(member.nick), default=None)

    def watched(self, session: Session) -> list[str]:
        """The nicknames `session` watches (chatroom.core.monitor), as given."""
        return self.watchers.of(session)

    def share_room(self, member: Member, nick: str) -> bool:
        """Whether the person present under `nick` is in a room with `member` (or is them)."""
        other = self.person(nick)
        return other is not None and (other is member or bool(other.rooms.keys() & member.rooms.keys()))

    def people_seen_by(self, asker: Member) -> Iterator[Member]:
        """Those present whom `asker` may find by a pattern: the visible, those sharing a room with them, and
        themselves. Over who is present when asked; each is looked at only when the iterator reaches them."""
        for member in list(self.nicks.values()):
            if not member.details.invisible or member is asker or member.rooms.keys() & asker.rooms.keys():
                yield member

    def listed(self, member: Member, room: Room) -> bool:
        """A secret room shows only to those in it, and to administrators."""
        return not room.settings.secret or member in room.members or self.is_admin(member)

    def room(self, name: str) -> RoomView | None:
        """The room called `name` whoever asks: for what a front end says of a request the core accepted."""
        found = self.rooms.get(room_key(name))
        return None if found is None else _view(found, None)

    def room_seen_by(self, asker: Member, name: str) -> RoomView | None:
        """The room called `name`, unless there is none or it is secret to `asker`."""
        found = self.rooms.get(room_key(name))
        return _view(found, asker) if found is not None and self.listed(asker, found) else None

    def visible_rooms(self, asker: Member) -> list[RoomView]:
        """Every room `asker` may see, in the order rooms are listed (#2 before #10)."""
        return [_view(room, asker) for room in self._rooms_listed(asker)]

    def members_seen_by(self, asker: Member, name: str) -> list[tuple[Member, Role]]:
        """Who is in the room called `name` with their roles, in the order they joined; none if it is secret to
        `asker`."""
        found = self.rooms.get(room_key(name))
        return list(found.members.items()) if found is not None and self.listed(asker, found) else []

    def memberships(self, member: Member, asker: Member) -> list[tuple[str, Role]]:
        """The rooms `member` is in that `asker` may see, in the order joined, with `member`'s role in each."""
        return [(room.name, room.members[member]) for room in member.rooms.values() if self.listed(asker, room)]

    def census(self) -> Census:
        people = len(self.nicks)
        return Census(people, people - len(self.visible), len(self.rooms), self.admins_present(), self.peak)

    def admins_present(self) -> int:
        """How many present members administer the server, asking the accounts about those logged in only."""
        return sum(1 for member in self.signed_in if self.is_admin(member))

    def is_admin(self, member: Member) -> bool:
        """Whether a member is logged in to a server administrator's account (not one since removed)."""
        return member.account is not None and self.current(member.account) and self.accounts.is_admin(member.account)

    def current(self, account: str) -> bool:
        """Whether `account` is registered, and is the account the chat's state under its name is of: not one removed
        (whose name may have been registered again since) that someone present is still logged in to."""
        identity = self.accounts.identity(account)
        return identity is not None and identity == self.identities.get(nick_key(account), "")

    def _rooms_listed(self, asker: Member) -> Iterator[Room]:
        for room in sorted(self.rooms.values(), key=lambda room: room_order(room.name)):
            if self.listed(asker, room):
                yield room


def _view(room: Room, asker: Member | None) -> RoomView:
    joined = asker is not None and asker in room.members
    return RoomView(
        room.name, len(room.members), room.topic, room.topic_time, room.created, room.info().settings, joined
    )

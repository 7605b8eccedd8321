"""The chat: who is here under which nickname, which rooms exist, and the rules for changing either.

A person enters with `register`, which claims a nickname and gives back their `Member`; everything else
takes that member. A member is present from `register` until `quit` (or the server's `close`); after that,
every method refuses it with `Departed`, so a late callback can never act for someone who has left.
"""

from __future__ import annotations

from dataclasses import dataclass

from twisted.logger import Logger

from chatroom.core.errors import ChatError, Departed
from chatroom.core.events import (
    Joined,
    Message,
    Names,
    NickChanged,
    Parted,
    PrivateMessage,
    Quit,
    RoomList,
    Session,
    Topic,
)
from chatroom.core.names import nick_key, room_key, room_name, room_order, validate_nick
from chatroom.core.rooms import Room

log = Logger(namespace="chatroom")


@dataclass(frozen=True)
class RoomLimits:
    rooms_per_member: int = 20
    members_per_room: int = 0  # 0: no limit


class Member:
    """One person in the chat, whichever front end they came through."""

    __slots__ = ("account", "address", "nick", "present", "rooms", "session")

    def __init__(self, session: Session, nick: str, account: str | None, address: str) -> None:
        self.session = session
        self.nick = nick
        self.account = account  # the account they logged in to, None for a guest
        self.address = address  # where they came from, for people (logs) and later for bans
        self.rooms: dict[str, Room] = {}  # room key -> room, in the order joined
        self.present = True

    def __repr__(self) -> str:
        return f"<Member {self.nick}{'' if self.present else ' (departed)'}>"


class Chat:
    """Every room and nickname of one server."""

    def __init__(self, limits: RoomLimits = RoomLimits()) -> None:
        self.limits = limits
        self.nicks: dict[str, Member] = {}  # nick_key -> every present member
        self.rooms: dict[str, Room] = {}  # room key -> room

    def check_nick(self, nick: str, asking: Member | None = None) -> None:
        """Raise ChatError unless `nick` is valid and free (or already `asking`'s, in another case)."""
        validate_nick(nick)
        holder = self.nicks.get(nick_key(nick))
        if holder is not None and holder is not asking:
            raise ChatError("NICK_TAKEN", f"nickname {nick} is taken")

    def register(self, session: Session, nick: str, account: str | None, address: str) -> Member:
        """Enter the chat under a free nickname, checked again now: a login may have taken a while."""
        self.check_nick(nick)
        member = Member(session, nick, account, address)
        self.nicks[nick_key(nick)] = member
        return member

    def rename(self, member: Member, nick: str, account: str | None = None) -> None:
        """Change a member's nickname (and account, after a login); everyone sharing a room hears it once."""
        self._present(member)
        self.check_nick(nick, member)
        old = member.nick
        del self.nicks[nick_key(old)]
        self.nicks[nick_key(nick)] = member
        member.nick = nick
        if account is not None:
            member.account = account
        if old != nick:
            event = NickChanged(old, nick)
            member.session.deliver(event)
            for peer in self._peers(member):
                peer.session.deliver(event)

    def join(self, member: Member, name: str) -> Room:
        """Enter a room, creating it if needed; joining one you are in changes nothing."""
        self._present(member)
        display = room_name(name)
        key = room_key(display)
        room = member.rooms.get(key)
        if room is not None:
            return room
        if len(member.rooms) >= self.limits.rooms_per_member:
            count = len(member.rooms)
            raise ChatError("TOO_MANY_ROOMS", f"you are in {count} rooms, the most allowed: /part one first")
        room = self.rooms.get(key)
        full = self.limits.members_per_room
        if room is not None and full and len(room.members) >= full:
            raise ChatError("ROOM_FULL", f"{room.name} is full: {full} people are in it")
        if room is None:
            room = self.rooms[key] = Room(display)
        room.members[member] = None
        member.rooms[key] = room
        log.info("{nick} joined {room}", nick=member.nick, room=room.name)
        room.broadcast(Joined(room.name, member.nick))
        if room.topic.text:
            member.session.deliver(room.topic)
        member.session.deliver(room.names())
        return room

    def part(self, member: Member, name: str, reason: str = "") -> Room:
        room = self._room_of(member, name)
        room.broadcast(Parted(room.name, member.nick, reason))
        self._leave(member, room)
        return room

    def say(self, member: Member, room: str, text: str, action: bool = False) -> None:
        """Send text to a room the member is in; it comes back to the sender too."""
        target = self._room_of(member, room)
        _require_text(text)
        target.broadcast(Message(target.name, member.nick, text, action))

    def private(self, member: Member, nick: str, text: str) -> None:
        """Send text to one person; the sender gets a copy as proof of delivery."""
        self._present(member)
        recipient = self.nicks.get(nick_key(nick))
        if recipient is None:
            raise ChatError("NO_SUCH_NICK", f"nobody is called {nick}")
        _require_text(text)
        event = PrivateMessage(member.nick, recipient.nick, text)
        recipient.session.deliver(event)
        if recipient is not member:
            member.session.deliver(event)

    def set_topic(self, member: Member, room: str, text: str) -> None:
        target = self._room_of(member, room)
        target.topic = Topic(target.name, member.nick, text)
        target.broadcast(target.topic)

    def topic(self, member: Member, room: str) -> Topic:
        return self._room_of(member, room).topic

    def who(self, member: Member, room: str) -> Names:
        """Who is in a room; any member may ask, as on IRC for public rooms."""
        self._present(member)
        target = self.rooms.get(room_key(room_name(room)))
        if target is None:
            raise ChatError("NO_SUCH_ROOM", f"nobody is in {room_name(room)}")
        return target.names()

    def room_list(self, member: Member) -> RoomList:
        self._present(member)
        rooms = sorted(self.rooms.values(), key=lambda room: room_order(room.name))
        return RoomList(tuple((room.name, len(room.members)) for room in rooms))

    def quit(self, member: Member, reason: str) -> None:
        """Remove a member for good: each person sharing a room hears it once, and the nickname is free."""
        self._present(member)
        event = Quit(member.nick, reason)
        for peer in self._peers(member):
            peer.session.deliver(event)
        for room in list(member.rooms.values()):
            self._leave(member, room)
        del self.nicks[nick_key(member.nick)]
        member.present = False

    def close(self, reason: str) -> None:
        """Let everyone go at once (server shutdown): nobody needs to hear the others leave."""
        members = list(self.nicks.values())
        self.nicks.clear()
        self.rooms.clear()
        for member in members:
            member.present = False
            member.rooms.clear()
        for member in members:
            member.session.close(reason)

    def _present(self, member: Member) -> None:
        if not member.present:
            raise Departed(f"{member!r} has left the chat; nothing may be done on its behalf")

    def _peers(self, member: Member) -> dict[Member, None]:
        """Everyone sharing at least one room with the member, each once, the member excluded."""
        peers: dict[Member, None] = {}
        for room in member.rooms.values():
            peers.update(room.members)
        peers.pop(member, None)
        return peers

    def _leave(self, member: Member, room: Room) -> None:
        del room.members[member]
        key = room_key(room.name)
        del member.rooms[key]
        if not room.members:
            del self.rooms[key]

    def _room_of(self, member: Member, name: str) -> Room:
        self._present(member)
        room = member.rooms.get(room_key(room_name(name)))
        if room is None:
            raise ChatError("NOT_IN_ROOM", f"you are not in {room_name(name)}")
        return room


def _require_text(text: str) -> None:
    if not text.strip():
        raise ChatError("NO_TEXT", "nothing to send")

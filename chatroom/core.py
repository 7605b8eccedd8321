"""The chat itself: rooms, members, nicknames and who hears what.

Nothing here knows about bytes, sockets or a wire format. A front end (the line
protocol today; IRC or a bus between server processes later) adapts each
connection to a `Session`, calls `Chat`'s methods, and renders the events it is
given in its own format. Keeping this module ignorant of the wire is what lets
several front ends share the same rooms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

NICK_MAX = 20
ROOM_MAX = 32

_NICK = re.compile(rf"[A-Za-z_][A-Za-z0-9_-]{{0,{NICK_MAX - 1}}}")
_ROOM = re.compile(rf"#?([A-Za-z0-9][A-Za-z0-9_.-]{{0,{ROOM_MAX - 1}}})")


@dataclass(frozen=True)
class RoomLimits:
    rooms_per_member: int = 20
    members_per_room: int = 0  # 0: no limit


class ChatError(Exception):
    """A request the chat refuses; `code` is stable for programs, `message` is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# Events: what a member is told. Frozen, so one instance can go to every member of a room.


@dataclass(frozen=True, slots=True)
class Message:
    room: str
    nick: str
    text: str
    action: bool = False


@dataclass(frozen=True, slots=True)
class PrivateMessage:
    sender: str
    recipient: str
    text: str


@dataclass(frozen=True, slots=True)
class Joined:
    room: str
    nick: str


@dataclass(frozen=True, slots=True)
class Parted:
    room: str
    nick: str
    reason: str


@dataclass(frozen=True, slots=True)
class Quit:
    nick: str
    reason: str


@dataclass(frozen=True, slots=True)
class NickChanged:
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class Topic:
    """A room's topic; `setter` and `text` are empty when it has none."""

    room: str
    setter: str
    text: str


@dataclass(frozen=True, slots=True)
class Names:
    room: str
    nicks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RoomList:
    rooms: tuple[tuple[str, int], ...]


Event = Message | PrivateMessage | Joined | Parted | Quit | NickChanged | Topic | Names | RoomList


class Session(Protocol):
    """What the core needs from a front end's connection."""

    def deliver(self, event: Event) -> None:
        """Send one event to this member; must not call back into the chat."""

    def close(self, reason: str) -> None:
        """Tell the member why and end its connection."""


def validate_nick(nick: str) -> None:
    if _NICK.fullmatch(nick) is None:
        raise ChatError(
            "BAD_NICK",
            f"invalid nickname {nick!r}: 1-{NICK_MAX} letters, digits, '_' or '-', starting with a letter or '_'",
        )


def nick_key(nick: str) -> str:
    """Nicknames are unique without regard to case: this is the form compared."""
    return nick.lower()


def room_name(name: str) -> str:
    """The canonical display form of a room name: "5", "#5" both give "#5".

    Raises ChatError for a name that cannot be a room.
    """
    match = _ROOM.fullmatch(name)
    if match is None:
        raise ChatError(
            "BAD_ROOM",
            f"invalid room name {name!r}: 1-{ROOM_MAX} letters, digits, '_', '-' or '.',"
            " starting with a letter or digit, optionally after '#'",
        )
    return "#" + match.group(1)


def _room_key(name: str) -> str:
    return name.removeprefix("#").lower()


def _room_order(name: str) -> tuple[int, int, str]:
    """Numbered rooms first, in numeric order ("#5" before "#10"), then the rest by name."""
    bare = name[1:]
    return (0, int(bare), "") if bare.isdigit() else (1, 0, bare.lower())


class Member:
    """One connected person: a session, a nickname once chosen, and the rooms they are in."""

    __slots__ = ("nick", "rooms", "session")

    def __init__(self, session: Session) -> None:
        self.session = session
        self.nick: str | None = None
        self.rooms: dict[str, Room] = {}  # room key -> room, in the order joined


class Room:
    """A named set of members who all hear what is said in it, in the same order."""

    __slots__ = ("members", "name", "topic")

    def __init__(self, name: str) -> None:
        self.name = name
        self.members: dict[Member, None] = {}  # an ordered set
        self.topic = Topic(name, "", "")

    def broadcast(self, event: Event) -> None:
        """Deliver the same event object to every member, in one order for all."""
        for member in self.members:
            member.session.deliver(event)

    def names(self) -> Names:
        return Names(self.name, tuple(sorted((m.nick for m in self.members if m.nick), key=str.lower)))


class Chat:
    """Every room and nickname of one server, and the rules for changing them."""

    def __init__(self, limits: RoomLimits = RoomLimits()) -> None:
        self.limits = limits
        self.members: dict[Member, None] = {}
        self.nicks: dict[str, Member] = {}  # nick_key -> member
        self.rooms: dict[str, Room] = {}  # room key -> room

    def connect(self, session: Session) -> Member:
        member = Member(session)
        self.members[member] = None
        return member

    def set_nick(self, member: Member, nick: str) -> None:
        """Choose or change a nickname; everyone sharing a room with the member is told."""
        self.check_nick(member, nick)
        old = member.nick
        if old is not None:
            del self.nicks[nick_key(old)]
        self.nicks[nick_key(nick)] = member
        member.nick = nick
        if old is not None and old != nick:
            event = NickChanged(old, nick)
            member.session.deliver(event)
            for peer in self._peers(member):
                peer.session.deliver(event)

    def check_nick(self, member: Member, nick: str) -> None:
        """Raise ChatError unless the member could take this nickname now."""
        validate_nick(nick)
        holder = self.nicks.get(nick_key(nick))
        if holder is not None and holder is not member:
            raise ChatError("NICK_TAKEN", f"nickname {nick} is taken")

    def join(self, member: Member, name: str) -> Room:
        """Enter a room, creating it if needed; joining one you are in changes nothing."""
        nick = registered(member)
        display = room_name(name)
        key = _room_key(display)
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
        room.broadcast(Joined(room.name, nick))
        if room.topic.text:
            member.session.deliver(room.topic)
        member.session.deliver(room.names())
        return room

    def part(self, member: Member, name: str, reason: str = "") -> Room:
        nick = registered(member)
        room = self._room_of(member, name)
        room.broadcast(Parted(room.name, nick, reason))
        self._leave(member, room)
        return room

    def say(self, member: Member, room: str, text: str, action: bool = False) -> None:
        """Send text to a room the member is in; it comes back to the sender too."""
        nick = registered(member)
        target = self._room_of(member, room)
        _require_text(text)
        target.broadcast(Message(target.name, nick, text, action))

    def private(self, member: Member, nick: str, text: str) -> None:
        """Send text to one person; the sender gets a copy as proof of delivery."""
        sender = registered(member)
        recipient = self.nicks.get(nick_key(nick))
        if recipient is None:
            raise ChatError("NO_SUCH_NICK", f"nobody is called {nick}")
        _require_text(text)
        event = PrivateMessage(sender, recipient.nick or nick, text)
        recipient.session.deliver(event)
        if recipient is not member:
            member.session.deliver(event)

    def set_topic(self, member: Member, room: str, text: str) -> None:
        nick = registered(member)
        target = self._room_of(member, room)
        target.topic = Topic(target.name, nick, text)
        target.broadcast(target.topic)

    def topic(self, member: Member, room: str) -> Topic:
        registered(member)
        return self._room_of(member, room).topic

    def who(self, member: Member, room: str) -> Names:
        """Who is in a room; any registered member may ask, as on IRC for public rooms."""
        registered(member)
        target = self.rooms.get(_room_key(room_name(room)))
        if target is None:
            raise ChatError("NO_SUCH_ROOM", f"nobody is in {room_name(room)}")
        return target.names()

    def room_list(self, member: Member) -> RoomList:
        registered(member)
        rooms = sorted(self.rooms.values(), key=lambda room: _room_order(room.name))
        return RoomList(tuple((room.name, len(room.members)) for room in rooms))

    def quit(self, member: Member, reason: str) -> None:
        """Remove a member for good; each person sharing a room hears it once."""
        if member not in self.members:
            return
        if member.nick is not None:
            event = Quit(member.nick, reason)
            for peer in self._peers(member):
                peer.session.deliver(event)
            del self.nicks[nick_key(member.nick)]
        for room in list(member.rooms.values()):
            self._leave(member, room)
        del self.members[member]

    def close(self, reason: str) -> None:
        """End every session at once (server shutdown): nobody needs to hear the others go."""
        members = list(self.members)
        self.members.clear()
        self.nicks.clear()
        self.rooms.clear()
        for member in members:
            member.rooms.clear()
            member.session.close(reason)

    def _peers(self, member: Member) -> dict[Member, None]:
        """Everyone sharing at least one room with the member, each once, the member excluded."""
        peers: dict[Member, None] = {}
        for room in member.rooms.values():
            peers.update(room.members)
        peers.pop(member, None)
        return peers

    def _leave(self, member: Member, room: Room) -> None:
        del room.members[member]
        key = _room_key(room.name)
        del member.rooms[key]
        if not room.members:
            del self.rooms[key]

    def _room_of(self, member: Member, name: str) -> Room:
        room = member.rooms.get(_room_key(room_name(name)))
        if room is None:
            raise ChatError("NOT_IN_ROOM", f"you are not in {room_name(name)}")
        return room


def registered(member: Member) -> str:
    """The member's nickname; everything but choosing one needs it."""
    if member.nick is None:
        raise ChatError("NO_NICK", "choose a nickname first: /nick NAME")
    return member.nick


def _require_text(text: str) -> None:
    if not text.strip():
        raise ChatError("NO_TEXT", "nothing to send")

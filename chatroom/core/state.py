"""What the core keeps beyond its members, behind small interfaces: accounts it asks about, rooms it saves.

The in-memory versions here serve tests and servers without a state file; chatroom.roomstore keeps rooms on
disk, and several processes will later share them through Redis behind the same interfaces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from chatroom.core.events import Topic
from chatroom.core.moderation import Allowed, Ban, RoomSettings


class StoreError(Exception):
    """A store could not read or write what it keeps; the message says which file and why, in one line."""


class AccountDirectory(Protocol):
    """What the core asks about accounts; the accounts file answers, and sees its changes at once."""

    def account(self, name: str) -> str | None:
        """The account's name as registered, or None if there is no such account."""

    def is_admin(self, name: str) -> bool: ...


class NoAccounts:
    """Accounts are off: nobody is logged in, so nobody owns a room or administers the server."""

    def account(self, name: str) -> str | None:
        return None

    def is_admin(self, name: str) -> bool:
        return False


@dataclass
class RoomRecord:
    """A registered room as it outlives its members."""

    name: str
    owner: str
    operators: tuple[str, ...] = ()
    settings: RoomSettings = field(default_factory=RoomSettings)
    topic: Topic | None = None
    bans: tuple[Ban, ...] = ()
    allowed: tuple[Allowed, ...] = ()


@dataclass
class Saved:
    rooms: list[RoomRecord] = field(default_factory=list)
    server_bans: list[Ban] = field(default_factory=list)


class RoomStore(Protocol):
    """Registered rooms and server bans, read at start and written on every change; failing, StoreError."""

    def load(self) -> Saved: ...

    def save_room(self, record: RoomRecord) -> None: ...

    def drop_room(self, name: str) -> None: ...

    def save_server_bans(self, bans: tuple[Ban, ...]) -> None: ...


class MemoryRoomStore:
    """Kept for the life of the process only."""

    def __init__(self) -> None:
        self.saved = Saved()

    def load(self) -> Saved:
        return Saved(list(self.saved.rooms), list(self.saved.server_bans))

    def save_room(self, record: RoomRecord) -> None:
        self.drop_room(record.name)
        self.saved.rooms.append(record)

    def drop_room(self, name: str) -> None:
        self.saved.rooms = [room for room in self.saved.rooms if room.name.lower() != name.lower()]

    def save_server_bans(self, bans: tuple[Ban, ...]) -> None:
        self.saved.server_bans = list(bans)

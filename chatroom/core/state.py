"""What the core keeps beyond its members, behind small interfaces: accounts it asks about, rooms it saves, and
where rooms' history is written down.

The in-memory versions here serve tests and servers without a state file; chatroom.stores.rooms keeps rooms on
disk, and chatroom.bus.stores and chatroom.bus.history keep them and rooms' history in Redis for several processes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from twisted.internet.defer import Deferred, succeed

from chatroom.core.events import Message, Topic
from chatroom.core.history import HistoryLimits, Reach
from chatroom.core.moderation import Allowed, Ban, RoomSettings


class StoreError(Exception):
    """A store could not read or write what it keeps; the message says which file and why, in one line."""


class AccountDirectory(Protocol):
    """What the core asks about accounts; the accounts file answers, and sees its changes at once."""

    def account(self, name: str) -> str | None:
        """The account's name as registered, or None if there is no such account."""

    def identity(self, name: str) -> str | None:
        """What tells this account from any other ever registered under its name (chatroom.stores.accounts): "" for
        one registered before identities; None if there is no such account."""

    def is_admin(self, name: str) -> bool: ...


class NoAccounts:
    """Accounts are off: nobody is logged in, so nobody owns a room or administers the server."""

    def account(self, name: str) -> str | None:
        return None

    def identity(self, name: str) -> str | None:
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
    excepted: tuple[Allowed, ...] = ()  # let past the bans and mutes
    topic_time: float = 0.0  # when the topic was set (IRC's 333): 0 if not known


@dataclass
class Saved:
    rooms: list[RoomRecord] = field(default_factory=list)
    server_bans: list[Ban] = field(default_factory=list)
    identities: dict[str, str] = field(default_factory=dict)  # ChatBase.identities


class RoomStore(Protocol):
    """Registered rooms, server bans and the accounts' identities they are of, read at start and written on every
    change; failing, StoreError."""

    def load(self) -> Saved: ...

    def save_room(self, record: RoomRecord) -> None: ...

    def drop_room(self, name: str) -> None: ...

    def save_server_bans(self, bans: tuple[Ban, ...]) -> None: ...

    def save_identities(self, identities: dict[str, str]) -> None:
        """ChatBase.identities, whole: which account (of those ever registered under a name) the rooms, and what the
        history store keeps, name."""


class MemoryRoomStore:
    """Kept for the life of the process only."""

    def __init__(self) -> None:
        self.saved = Saved()

    def load(self) -> Saved:
        return Saved(list(self.saved.rooms), list(self.saved.server_bans), dict(self.saved.identities))

    def save_room(self, record: RoomRecord) -> None:
        self.drop_room(record.name)
        self.saved.rooms.append(record)

    def drop_room(self, name: str) -> None:
        self.saved.rooms = [room for room in self.saved.rooms if room.name.lower() != name.lower()]

    def save_server_bans(self, bans: tuple[Ban, ...]) -> None:
        self.saved.server_bans = list(bans)

    def save_identities(self, identities: dict[str, str]) -> None:
        self.saved.identities = dict(identities)


@dataclass
class KeptHistory:
    """A room's history as a store kept it: its life (history.epoch), how many were said in it, the lines kept
    (`behind`: not all of them, but the latest, as far as memory holds them; the store reads the rest back; `last`:
    when the last of them was said)."""

    epoch: str
    said: int
    lines: list[Message]
    behind: bool = False
    last: str = ""


class HistoryStore(Protocol):
    """Rooms' history beyond one process's memory, told each change as the room makes it (with --redis, Redis).

    The rooms' own RoomHistory answers every question from memory; a store writes down, so that a server that starts
    again finds its registered rooms' lines, and their ids go on where they stopped. A store that `reads_back`
    (the history file) also keeps what memory drops (chatroom.core.history's window) and reads it for a query.
    """

    reads_back: bool

    def older(self, reaches: list[Reach]) -> Deferred[list[Message]]:
        """The lines each Reach asks for, all together, the oldest first; what every change made before says."""

    def bounded(self, room: str, limits: HistoryLimits) -> None:
        """A room's own rule bounds what it keeps (chatroom.core.rules), narrower than the server's: for a store
        that `reads_back`, which keeps lines memory does not hold."""

    def load(self) -> dict[str, KeptHistory]:
        """By room key: what was kept of the rooms a server starts with (its registered rooms)."""

    def said(self, room: str, message: Message, kept: bool = True) -> None:
        """A room message was given its id: kept, unless it was for some only (Message.to) or the room keeps no
        lines (not `kept`: `rules.unkept`, made here, where it is written), and counted."""

    def redacted(self, room: str, ids: list[str], nick: str = "") -> None:
        """Lines went: these, and, of what memory no longer holds (`reads_back`), every line of `nick` if given."""

    def cleared(self, room: str) -> None: ...

    def ended(self, room: str) -> None:
        """An unregistered room emptied: its history ends with it."""

    def renamed(self, room: str, key: str, name: str) -> None:
        """An unregistered room is called `name` now, under `key` (chatroom.core.renaming): what the store holds of it
        goes on under its new key where memory's lines do, that is, for a store that `reads_back`."""

    def load_private(self) -> dict[str, KeptHistory]:
        """By conversation key (chatroom.core.private): the conversations between accounts kept."""

    def said_private(self, conversation: str, message: Message) -> None:
        """A line of a conversation between two accounts was kept (--history-private)."""

    def load_markers(self) -> dict[str, dict[str, str]]:
        """By account: where its person has read each room or conversation up to (chatroom.core.markers)."""

    def marked(self, account: str, target: str, time: str) -> None:
        """An account's read marker moved (forward only): `target` is the marker's key."""

    def load_stays(self) -> dict[str, dict[str, str]]:
        """By room key: when each account's stay in that registered room began (Room.stays), by account key."""

    def stayed(self, room: str, account: str, time: str) -> None:
        """An account's stay in a registered room began at `time` (or the room was registered with it in)."""

    def left(self, room: str, account: str) -> None:
        """An account's stay in a room ended (it parted or was put out), or the room is no longer registered."""


class MemoryHistoryStore:
    """History in memory only: each room's RoomHistory is the only copy, lost at a restart. Nothing to write."""

    reads_back = False

    def older(self, reaches: list[Reach]) -> Deferred[list[Message]]:
        return succeed([])

    def bounded(self, room: str, limits: HistoryLimits) -> None:
        pass

    def load(self) -> dict[str, KeptHistory]:
        return {}

    def said(self, room: str, message: Message, kept: bool = True) -> None:
        pass

    def redacted(self, room: str, ids: list[str], nick: str = "") -> None:
        pass

    def cleared(self, room: str) -> None:
        pass

    def ended(self, room: str) -> None:
        pass

    def renamed(self, room: str, key: str, name: str) -> None:
        pass

    def load_private(self) -> dict[str, KeptHistory]:
        return {}

    def said_private(self, conversation: str, message: Message) -> None:
        pass

    def load_markers(self) -> dict[str, dict[str, str]]:
        return {}

    def marked(self, account: str, target: str, time: str) -> None:
        pass

    def load_stays(self) -> dict[str, dict[str, str]]:
        return {}

    def stayed(self, room: str, account: str, time: str) -> None:
        pass

    def left(self, room: str, account: str) -> None:
        pass

"""Members and rooms: who is in the chat, on which sessions, and who hears what is said in each room.

A Member is a person, on one or several sessions; a Room is the members who all hear what is said in it, in the
same order, and the rules they keep. Each names the other (a member's rooms, a room's members), so they live in one
module, below the chat that changes them (chatroom.core.chat) and the questions asked of them (chatroom.core.queries).

An unregistered room lives while someone is in it, its settings and bans with it. A registered room has an
owner account and outlives its members: the chat saves its `record()` on every change.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from twisted.internet.interfaces import IDelayedCall

from chatroom.core.events import (
    AllowChanged,
    BanChanged,
    BanList,
    Changes,
    Event,
    ExceptChanged,
    MetadataSync,
    Names,
    PrivateMessage,
    RoleChanged,
    RoomChange,
    RoomInfo,
    Session,
    SettingChanged,
    Topic,
)
from chatroom.core.history import HistoryLimits, RoomHistory, epoch
from chatroom.core.markers import ReadMarkers
from chatroom.core.moderation import Allowed, Ban, Role, RoomSettings, ban_list
from chatroom.core.names import nick_key
from chatroom.core.rules import rule_words
from chatroom.core.state import RoomRecord

PRIVATE_HELD = 100  # private messages kept for a person waiting for a reconnection: no history keeps them


@dataclass(frozen=True)
class RoomLimits:
    """How much of the chat one person may hold: rooms, and sessions (devices) under one nickname."""

    rooms_per_member: int = 20
    members_per_room: int = 0  # 0: no limit
    sessions_per_person: int = 5  # connections sharing one nickname (a phone and a laptop); 1: one, as before
    # Seconds a person whose last connection was lost without a quit stays, away, for a reconnection to reclaim
    # (docs/running.md, --linger); 0: they quit at once. 90: our client retries after 1, 2, 4 ... 32 s, so an
    # outage of up to a minute (a Wi-Fi handover, a laptop carried to the next classroom) is reclaimed.
    linger: float = 90.0


AWAY_MAX = 390  # characters kept of an away message (IRC's AWAYLEN)
LINGERING = "connection lost; may be back soon"  # the away message of a person waiting for a reconnection


@dataclass(frozen=True)
class Details:
    """What a person says of themselves beyond their nickname (IRC's USER, AWAY, +i and +B).

    Front ends fill and read it; the core only keeps it and changes it in order, so that every process sharing
    the chat shows the same. A front end with no such notions leaves it as it is.
    """

    user: str = ""  # a user name the client gave; "" if its front end has none
    realname: str = ""
    away: str = ""  # an away message; "" while present
    invisible: bool = True  # listed only to those sharing a room, unless they asked otherwise (IRC's -i)
    wallops: bool = False  # hears the administrators' wallops (IRC's +w)
    bot: bool = False  # a program, not a person, by its own word (IRCv3 bot mode, IRC's +B): clients mark it


class Sessions:
    """A person's connections, as the one Session the core tells things to: each of them is told everything.

    Empty while the person lingers after losing their last connection (Chat.leave): what is said in their rooms
    meanwhile reaches nobody, and the rooms' history shows it when they come back; private messages, which no
    history keeps, are held for them (at most PRIVATE_HELD, in memory only) and given to the session that comes back.
    """

    __slots__ = ("all", "held")

    def __init__(self, first: Session) -> None:
        self.all = [first]
        self.held: deque[PrivateMessage] | None = None  # made once there is something to hold: 0.7 KB a person

    def deliver(self, event: Event) -> None:
        if not self.all and isinstance(event, PrivateMessage):
            if self.held is None:
                self.held = deque(maxlen=PRIVATE_HELD)
            self.held.append(event)
        for session in self.all:
            session.deliver(event)

    def close(self, reason: str, logged: str | None = None) -> None:
        for session in list(self.all):
            session.close(reason, logged)


class Member:
    """One person in the chat, on one or several connections, whichever front ends they came through."""

    __slots__ = (
        "account",
        "address",
        "details",
        "expiry",
        "invited",
        "key",
        "metadata",
        "nick",
        "present",
        "read",
        "rooms",
        "seen",
        "session",
        "token",
        "typing",
    )

    def __init__(
        self,
        session: Session,
        nick: str,
        account: str | None,
        address: str,
        key: str = "",
        details: Details = Details(),
    ) -> None:
        self.session = Sessions(session)
        self.key = key  # who this is to every process sharing the chat (chatroom.bus); "" in a chat of its own
        self.nick = nick
        self.account = account  # the account they logged in to, None for a guest
        self.address = address  # where they came from: for people reading logs, and for bans
        self.details = details
        self.rooms: dict[str, Room] = {}  # room key -> room, in the order joined
        self.invited: dict[Room, None] = {}  # rooms an operator invited them to, not joined since; the newest last
        self.present = True
        self.metadata: dict[str, str] = {}  # what they say of themselves: display name, avatar... (core.metadata)
        self.read = ReadMarkers()  # where they have read up to, as a guest (an account's are Chat.read_markers)
        self.token = ""  # reclaims this person (Chat.resume_token); "" until a front end has told it to them
        # While lingering, and until a session of theirs is shown what they missed: the last line kept in each of
        # their rooms when they were lost (room key -> message id, "" if none).
        self.seen: dict[str, str] | None = None
        self.expiry: IDelayedCall | None = None  # while lingering: when they quit after all
        # The last typing notice relayed to each target (key -> its time, its state, when the count began, the count):
        # chatroom.core.gestures' rate limit.
        self.typing: dict[str, tuple[float, str, float, int]] = {}

    @property
    def sessions(self) -> list[Session]:
        return self.session.all

    def __repr__(self) -> str:
        return f"<Member {self.nick}{'' if self.present else ' (departed)'}>"


class Room:
    __slots__ = (
        "allowed",
        "bans",
        "created",
        "excepted",
        "held",
        "history",
        "joined",
        "lapses",
        "members",
        "metadata",
        "name",
        "operators",
        "owner",
        "settings",
        "stays",
        "topic",
        "topic_time",
    )

    def __init__(self, name: str, created: float = 0.0, history: RoomHistory | None = None) -> None:
        self.name = name
        self.created = created  # when it was opened (or, for a registered room, loaded), in seconds since the epoch
        self.history = history or RoomHistory(epoch(created, 0), HistoryLimits())  # ids, and the lines kept
        self.members: dict[Member, Role] = {}  # in the order they joined
        self.joined: dict[Member, float] = {}  # when each member's present stay began (a guest's since-join start)
        # Account (nick_key) -> when its stay began: from its first join to its part, kick or the room's end, across
        # disconnections and, for a registered room, restarts (kept in the history store: Chat.start_from_store).
        self.stays: dict[str, float] = {}
        self.topic = Topic(name, "", "")
        self.topic_time = 0.0  # when the topic was set, if it is known (kept with a registered room's record)
        self.settings = RoomSettings()
        self.bans: list[Ban] = []
        self.lapses: dict[Ban, IDelayedCall] = {}  # when each timed ban in force ends (ChatBase._lapses)
        self.allowed: list[Allowed] = []  # masks let in past invite-only (IRC's +I)
        self.metadata: dict[str, str] = {}  # what its operators say of it: description, avatar... (core.metadata)
        self.excepted: list[Allowed] = []  # masks let past the bans and mutes (IRC's +e)
        self.owner = ""  # the owner's account; "" while the room is not registered
        self.operators: dict[str, str] = {}  # nick_key -> account: those the owner named, opped on joining
        self.held: list[RoomChange] | None = None  # changes of a batch, not yet told

    @classmethod
    def restore(cls, record: RoomRecord, loaded: float, history: RoomHistory | None = None) -> Room:
        room = cls(record.name, loaded, history)
        room.owner = record.owner
        room.operators = {nick_key(account): account for account in record.operators}
        room.settings = record.settings
        room.topic = record.topic or room.topic
        room.topic_time = record.topic_time
        room.bans = list(record.bans)
        room.allowed = list(record.allowed)
        room.excepted = list(record.excepted)
        return room

    def record(self) -> RoomRecord:
        return RoomRecord(
            self.name,
            self.owner,
            tuple(self.operators.values()),
            self.settings,
            self.topic,
            tuple(self.bans),
            tuple(self.allowed),
            tuple(self.excepted),
            self.topic_time,
        )

    def broadcast(self, event: Event) -> None:
        """Deliver the same event object to every member, in one order for all.

        During a batch (Chat.changes, chatroom.core.operators) changes wait, and anything else first tells them.
        """
        if self.held is not None:
            if isinstance(event, RoleChanged | SettingChanged | BanChanged | AllowChanged | ExceptChanged):
                self.held.append(event)
                return
            self.flush()
        # Each member's connections straight from here: one call a connection rather than two. A room's events
        # are never held for a person who lingers (Sessions.deliver), only private messages are.
        for member in self.members:
            for session in member.session.all:
                session.deliver(event)

    def flush(self) -> None:
        """Tell the changes held so far: one alone as itself, several as one Changes."""
        held = self.held
        if held:
            self.held = None  # what is told now must not be held again
            self.broadcast(held[0] if len(held) == 1 else Changes(self.name, tuple(held)))
            self.held = []

    def names(self) -> Names:
        """Operators first, then voiced members, then the others, each by name."""
        # This runs for every joiner over every member: those with no role (most) are sorted by nickname alone, in C.
        # `is` rather than truth: a Flag's truth is a Python call.
        none = Role.NONE
        ranked = sorted((member.nick for member, role in self.members.items() if role is none), key=str.lower)
        if len(ranked) < len(self.members):
            held = sorted(
                ((member, role) for member, role in self.members.items() if role is not none),
                key=lambda item: (-item[1]._value_, item[0].nick.lower()),  # `_value_`: enum's, not a property
            )
            ranked[:0] = [role.prefix + member.nick for member, role in held]
        return Names(self.name, tuple(ranked), self.settings.secret)

    def info(self) -> RoomInfo:
        settings = self.settings
        on = [
            ("invite", settings.invite_only),
            (f"key={settings.key}", bool(settings.key)),
            ("moderated", settings.moderated),
            ("topiclock", settings.topic_lock),
            (f"limit={settings.limit}", bool(settings.limit)),
            ("secret", settings.secret),
            ("external", settings.external),
            ("noctcp", settings.no_ctcp),
        ]
        shown = (*(name for name, flag in on if flag), *rule_words(settings))
        return RoomInfo(self.name, shown, self.owner, tuple(self.operators.values()))

    def metadata_sync(self, joiner: Member) -> MetadataSync:
        """What joining tells the one joining of the room's metadata and of the others in it."""
        entries = [(self.name, key, value) for key, value in self.metadata.items()]
        for other in self.members:
            if other.metadata and other is not joiner:  # most say nothing of themselves: looked at for every join
                entries += [(other.nick, key, value) for key, value in other.metadata.items()]
        return MetadataSync(self.name, tuple(entries))

    def ban_list(self, now: float) -> BanList:
        """The bans in force; those that ended stay until the next ban prunes them, as asking changes nothing."""
        return ban_list(self.name, [ban for ban in self.bans if ban.active(now)])

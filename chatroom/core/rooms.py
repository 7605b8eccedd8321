"""A room: the members who all hear what is said in it, in the same order, and the rules they keep.

An unregistered room lives while someone is in it, its settings and bans with it. A registered room has an
owner account and outlives its members: chatroom.core.chat saves its `record()` on every change.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from chatroom.core.events import (
    AllowChanged,
    BanChanged,
    BanList,
    Changes,
    Event,
    Names,
    RoleChanged,
    RoomInfo,
    SettingChanged,
    Topic,
)
from chatroom.core.history import HistoryLimits, RoomHistory, epoch
from chatroom.core.moderation import Allowed, Ban, Role, RoomSettings
from chatroom.core.names import nick_key
from chatroom.core.state import RoomRecord

if TYPE_CHECKING:
    from chatroom.core.chat import Member


class Room:
    __slots__ = (
        "allowed",
        "bans",
        "created",
        "held",
        "history",
        "members",
        "name",
        "operators",
        "owner",
        "settings",
        "topic",
        "topic_time",
    )

    def __init__(self, name: str, created: float = 0.0, history: RoomHistory | None = None) -> None:
        self.name = name
        self.created = created  # when it was opened (or, for a registered room, loaded), in seconds since the epoch
        self.history = history or RoomHistory(epoch(created, 0), HistoryLimits())  # ids, and the lines kept
        self.members: dict[Member, Role] = {}  # in the order they joined
        self.topic = Topic(name, "", "")
        self.topic_time = 0.0  # when the topic was set, if it was since the room opened or was loaded
        self.settings = RoomSettings()
        self.bans: list[Ban] = []
        self.allowed: list[Allowed] = []  # masks let in past invite-only (IRC's +I)
        self.owner = ""  # the owner's account; "" while the room is not registered
        self.operators: dict[str, str] = {}  # nick_key -> account: those the owner named, opped on joining
        self.held: list[RoleChanged | SettingChanged | BanChanged | AllowChanged] | None = (
            None  # changes of a batch, not yet told
        )

    @classmethod
    def restore(cls, record: RoomRecord, loaded: float, history: RoomHistory | None = None) -> Room:
        room = cls(record.name, loaded, history)
        room.owner = record.owner
        room.operators = {nick_key(account): account for account in record.operators}
        room.settings = record.settings
        room.topic = record.topic or room.topic
        room.bans = list(record.bans)
        room.allowed = list(record.allowed)
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
        )

    def broadcast(self, event: Event) -> None:
        """Deliver the same event object to every member, in one order for all.

        During a batch (chatroom.core.chat.Chat.changes) changes wait, and anything else first tells them.
        """
        if self.held is not None:
            if isinstance(event, RoleChanged | SettingChanged | BanChanged | AllowChanged):
                self.held.append(event)
                return
            self.flush()
        for member in self.members:
            member.session.deliver(event)

    def flush(self) -> None:
        """Tell the changes held so far: one alone as itself, several as one Changes."""
        held = self.held
        if held:
            self.held = None  # what is told now must not be held again
            self.broadcast(held[0] if len(held) == 1 else Changes(self.name, tuple(held)))
            self.held = []

    def names(self) -> Names:
        """Operators first, then voiced members, then the others, each by name."""
        # `_value_` (enum's documented attribute) rather than the `value` property: this runs for every joiner.
        ranked = sorted(self.members.items(), key=lambda item: (-item[1]._value_, item[0].nick.lower()))
        return Names(self.name, tuple(role.prefix + member.nick for member, role in ranked))

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
        ]
        return RoomInfo(self.name, tuple(name for name, flag in on if flag), self.owner, tuple(self.operators.values()))

    def ban_list(self, now: float) -> BanList:
        """The bans in force; those that ended stay until the next ban prunes them, as asking changes nothing."""
        return ban_list(self.name, [ban for ban in self.bans if ban.active(now)])


def ban_list(room: str, bans: list[Ban]) -> BanList:
    return BanList(room, tuple((str(ban.mask), ban.setter, until(ban), ban.reason) for ban in bans))


def until(ban: Ban) -> str:
    """When a ban ends, as events carry it: ISO 8601 in UTC, "" for never."""
    if ban.until is None:
        return ""
    return datetime.datetime.fromtimestamp(ban.until, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

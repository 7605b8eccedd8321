"""A room: the members who all hear what is said in it, in the same order."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatroom.core.events import Event, Names, Topic

if TYPE_CHECKING:
    from chatroom.core.chat import Member


class Room:
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
        return Names(self.name, tuple(sorted((member.nick for member in self.members), key=str.lower)))

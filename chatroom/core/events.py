"""What a member is told, and the one interface a front end implements to be told it.

Events are frozen and hold only strings, so one instance can go to every member of a room, be encoded
once per front end, and later cross a bus between processes as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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
        """The chat has let this member go (the server is shutting down): say why and end the connection."""

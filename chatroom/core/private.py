"""Private conversations' history, kept only when the server's administrator opts in (--history-private).

A conversation is between two parties, whoever says what (ChatBase._party): an account holder is their account
(`a:alice`; `a:alice~IDENTITY` for an account registered since identities, chatroom.stores.accounts), so that
what two accounts said to each other follows them across nicknames, sessions and, with a store, restarts; a guest
is their nickname for the life of their session (`g:bob`): a guest's conversations are never written to a store,
follow the guest's nickname changes, and end when the guest leaves or logs in to an account, so that whoever takes
the nickname next never reads them. A conversation is read by its two parties only: there is no way for anyone
else, administrators included, to ask for it.

Each conversation is a chatroom.core.history.RoomHistory of its own (its ids, its lines), bounded as rooms' are: the
last `HistoryLimits.lines` lines, none older than `HistoryLimits.age`, and counted in the same HistoryMemory as
every room's lines. A kept line is a Message whose `room` is the recipient's nickname as it was said to.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from chatroom.core.events import History, Message, PrivateMessage
from chatroom.core.history import HistoryLimits, HistoryMemory, RoomHistory, epoch, persisted, timestamp
from chatroom.core.state import KeptHistory


def conversation(one: str, other: str) -> str:
    """The key of the conversation between two parties, whichever speaks: never a room's key (it has a space)."""
    return " ".join(sorted((one, other)))


def keeps_private(limits: HistoryLimits) -> bool:
    """Whether the server keeps private conversations (--history-private, with --history)."""
    return limits.private and bool(limits.lines)


def stored(key: str) -> bool:
    """Whether a conversation may be written to a store: between two accounts only."""
    return all(side.startswith("a:") for side in key.split(" "))


class Conversations:
    """Every private conversation kept, by key, and who takes part in which."""

    def __init__(self, memory: HistoryMemory) -> None:
        self.memory = memory
        self.kept: dict[str, RoomHistory] = {}
        self.opened = 0  # conversations begun since the start: names each one's life, with the time
        self.unkept = 0  # private messages stamped without a conversation kept (`stamp`)

    def load(self, kept: dict[str, KeptHistory], limits: HistoryLimits) -> None:
        """The conversations a store kept (between accounts), as the server starts."""
        for key in list(self.kept):
            self.end(key)
        for key, history in kept.items():
            self.kept[key] = RoomHistory(history.epoch, limits, history.said, history.lines, memory=(self.memory, key))

    def restore(self, kept: Iterable[tuple[str, RoomHistory]], opened: int, unkept: int) -> None:
        """The conversations another process holds (chatroom.bus), counted anew in the memory as they are made."""
        self.kept = dict(kept)
        self.opened = opened
        self.unkept = unkept

    def stamp(self, event: PrivateMessage, now: float) -> PrivateMessage:
        """`event` with an id and time where the server keeps no conversations: message-tags gives every message
        an id, for replies and reactions to name. Numbered aside (`-0.N`), in no conversation's life: nothing has it
        to show or redact."""
        self.unkept += 1
        return replace(event, id=f"{epoch(now, 0)}-0.{self.unkept}", time=timestamp(now))

    def say(self, key: str, event: PrivateMessage, now: float, limits: HistoryLimits) -> tuple[PrivateMessage, Message]:
        """Keep `event` in its conversation: the event stamped with its id and time, and the line kept. A message
        of tags only is stamped aside, as a room's (chatroom.core.history's `stamp`), and not kept, unless its
        sender asked (`persisted`)."""
        history = self.kept.get(key)
        if history is None:
            self.opened += 1
            history = self.kept[key] = RoomHistory(epoch(now, self.opened), limits, memory=(self.memory, key))
        tagged = persisted(event.text, event.tags)
        msgid, said = history.stamp(now, aside=not (event.text or tagged))
        line = Message(event.recipient, event.sender, event.text, event.action, event.notice, "", msgid, said,
                       event.tags if tagged else ())  # fmt: skip
        if event.text or tagged:
            history.keep(line, now)
        return replace(event, id=msgid, time=said), line

    def query(self, key: str, shown: str, how: str, point: str, lines: int, now: float) -> History:
        """One of RoomHistory.QUERIES on a conversation, shown under the name it was asked by."""
        history = self.kept.get(key)
        if history is None:
            return History(shown, ())
        return history.query(shown, how, point, lines, now)

    def latest(self, side: str) -> Iterable[tuple[str, Message]]:
        """The other party of each of `side`'s conversations, and its last line kept."""
        for key, history in self.kept.items():
            one, _, other = key.partition(" ")
            if side in (one, other) and history.kept:
                yield (one if other == side else other), history.kept[-1]

    def renamed(self, old: str, new: str) -> None:
        """A guest changed nickname: their conversations follow them."""
        for key in [key for key in self.kept if old in key.split(" ")]:
            history = self.kept.pop(key)
            sides = key.split(" ")
            moved = conversation(*(new if side == old else side for side in sides))
            self.memory.close(key)
            history.key = moved
            self.memory.open(moved, history)
            self.kept[moved] = history

    def ended(self, side: str) -> list[str]:
        """A guest left (or logged in): their conversations end. The keys ended."""
        keys = [key for key in self.kept if side in key.split(" ")]
        for key in keys:
            self.end(key)
        return keys

    def end(self, key: str) -> None:
        history = self.kept.pop(key, None)
        if history is not None:
            history.end()

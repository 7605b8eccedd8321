"""The seam between a replica of the chat and the log every process reads in the same order.

An entry is a JSON object as bytes. Most are changes a replica appends; two are the log's own, because they
must be decided in the same step as the log's list of processes: `hello` (a process starts reading, and
whether it is alone) and `gone` (a process left or was lost, and which are left).

An entry a reader receives carries its place in the log under PLACE: a string that sorts after the places of
every entry before it, the same for every reader, and never given again (chatroom.bus.history writes it down).
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime

PLACE = "@"  # the key of an entry's place in the log, as readers receive it


def place(*numbers: int) -> str:
    """A place in the log from the numbers that order it, most significant first, as a string that sorts alike."""
    return "-".join(f"{number:015d}" for number in numbers)


class Reader(Protocol):
    """A replica, as the log sees it."""

    def received(self, entry: dict[str, Any]) -> None:
        """The next entry, in the log's order, with its place (PLACE)."""

    def unavailable(self) -> None:
        """The log cannot be reached: nothing appended now would be ordered."""

    def available(self) -> None:
        """The log is back, and the replica has every entry since its last one."""

    def lost_place(self) -> None:
        """The log lost entries this replica had not read: it must start again from a snapshot."""

    def not_appended(self, entries: list[dict[str, Any]]) -> None:
        """These entries, appended by this replica, may not have reached the log: the log could not be reached."""


class Log(Protocol):
    def join(self, process: str, reader: Reader) -> None:
        """Start reading, from a `hello` entry for `process` on: entries before it are the past."""

    def append(self, entry: dict[str, Any]) -> None:
        """Add an entry after all those appended before it; every reader receives it."""

    def leave(self, process: str, reason: str) -> Deferred[None]:
        """Append `gone` for `process` (its members leave, saying `reason`) and stop reading."""


def hello(process: str, alone: bool) -> dict[str, Any]:
    return {"k": "hello", "p": process, "alone": alone}


def gone(process: str, reason: str, left: list[str]) -> dict[str, Any]:
    return {"k": "gone", "p": process, "r": reason, "left": left}


def encode(entry: dict[str, Any] | list[dict[str, Any]]) -> bytes:
    """An entry, or the entries of one append to the log on Redis."""
    return json.dumps(entry, separators=(",", ":"), ensure_ascii=False).encode()


def decode(data: bytes) -> dict[str, Any]:
    entry = json.loads(data)
    if not isinstance(entry, dict):
        raise ValueError("a log entry is not a JSON object")
    return entry


class MemoryLog:
    """A log in memory for replicas in one process (tests): entries reach every reader on the clock's next turn.

    Entries go through JSON as they would through Redis, so that what a replica puts in is what it gets back.
    """

    def __init__(self, clock: IReactorTime) -> None:
        self.clock = clock
        self.readers: dict[str, Reader] = {}
        self.entries: list[bytes] = []  # every entry, for tests to look at
        self._due: list[tuple[bytes, str, list[Reader]]] = []

    def join(self, process: str, reader: Reader) -> None:
        alone = not self.readers
        self.readers[process] = reader
        self.append(hello(process, alone))

    def append(self, entry: dict[str, Any]) -> None:
        data = encode(entry)
        self.entries.append(data)
        if not self._due:
            self.clock.callLater(0, self._deliver)
        self._due.append((data, place(len(self.entries)), list(self.readers.values())))

    def leave(self, process: str, reason: str) -> Deferred[None]:
        self.readers.pop(process, None)
        self.append(gone(process, reason, list(self.readers)))
        return succeed(None)

    def lose(self, process: str) -> None:
        """The process stops without a word (kill -9): the log notices, and says so to the others."""
        self.readers.pop(process, None)
        self.append(gone(process, "server lost", list(self.readers)))

    def _deliver(self) -> None:
        due, self._due = self._due, []
        for data, at, readers in due:
            for reader in readers:
                reader.received(decode(data) | {PLACE: at})

"""What both front ends' commands share: one table, by every name and alias, that dispatch and help both read.

A front end's `commands` module fills a `CommandTable` with handlers that act through its dialect, so it imports
the dialect. The dialect therefore never imports its commands: its class declares the table (`commands`), and the
front end's `frontend.py` binds the two in the subclass the listeners serve. No import circle, and nothing is
patched once built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

S = TypeVar("S")  # the dialect a handler acts through
A = TypeVar("A")  # what a handler is given: the rest of a typed line, or IRC's parameters


@dataclass(frozen=True)
class Command(Generic[S, A]):
    """A command as both front ends know it; each adds its own rules (a usage, how many parameters)."""

    name: str
    summary: str  # what help says of it
    handler: Callable[[S, A], None]
    aliases: tuple[str, ...]


C = TypeVar("C", bound=Command[Any, Any])
H = TypeVar("H")


class CommandTable(Mapping[str, C]):
    """Every name and alias of a front end's commands -> its command, in the order they were registered."""

    def __init__(self) -> None:
        self._commands: dict[str, C] = {}

    def command(self, make: Callable[[H], C]) -> Callable[[H], H]:
        """A decorator: the handler it is put on becomes the command `make` builds around it."""

        def register(handler: H) -> H:
            entry = make(handler)
            for name in (entry.name, *entry.aliases):
                self._commands[name] = entry
            return handler

        return register

    def listed(self) -> list[C]:
        """Each command once, in the order registered: what help lists."""
        return list(dict.fromkeys(self._commands.values()))

    def __getitem__(self, name: str) -> C:
        return self._commands[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._commands)

    def __len__(self) -> int:
        return len(self._commands)

"""`/room export`: the EXPORT lines a server sends for a room, written to two files the person keeps.

`ROOM-DATE.txt` (one line each, `TIME <NICK> TEXT`, as a log reads) and `ROOM-DATE.json` (a list of objects with
`id`, `time`, `nick`, `text`, `action`), in the client's --export-dir (the current directory by default). A file
that exists already is never overwritten: `ROOM-DATE-2.txt` and so on.
"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path
from typing import Any

from chatroom.client.render import clean
from chatroom.frontends.line.wire import Line


class Exports:
    """The EXPORT lines received for each room, until its EXPORTED line says they are all here."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lines: dict[str, list[dict[str, Any]]] = {}

    def take(self, line: Line) -> None:
        """`EXPORT ROOM NICK ID TIME action|topic|- :TEXT`."""
        room, nick, msgid, time, kind = line.args[:5]
        said = {"id": msgid, "time": time, "nick": nick, "text": line.text or "", "action": kind == "action"}
        if kind == "topic":
            said["topic"] = True
        self._lines.setdefault(room, []).append(said)

    def write(self, room: str, today: datetime.date) -> tuple[Path, Path]:
        """Write what came for `room` to its two files; their paths. Raises OSError as the file system does."""
        lines = self._lines.pop(room, [])
        stem = f"{room.lstrip('#')}-{today.isoformat()}"
        text, data = self._free(stem)
        written = "".join(_plain(said) + "\n" for said in lines)
        _create(text, written)
        _create(data, json.dumps({"room": room, "lines": lines}, indent=1, ensure_ascii=False) + "\n")
        return text, data

    def _free(self, stem: str) -> tuple[Path, Path]:
        """Two file names beside each other that neither exists yet."""
        serial = 1
        while True:
            name = stem if serial == 1 else f"{stem}-{serial}"
            text, data = self.directory / f"{name}.txt", self.directory / f"{name}.json"
            if not (text.exists() or data.exists()):
                return text, data
            serial += 1


def _plain(said: dict[str, Any]) -> str:
    """One exported line as a log reads, with what could drive a terminal taken out (a file is often `cat`)."""
    nick, text = clean(said["nick"]), clean(said["text"])
    if said.get("topic"):
        return f"{said['time']} -- {nick} set the topic: {text}"
    return f"{said['time']} * {nick} {text}" if said["action"] else f"{said['time']} <{nick}> {text}"


def _create(path: Path, content: str) -> None:
    """A new file readable by its owner only: what a room said is not for everyone on the machine."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(content)

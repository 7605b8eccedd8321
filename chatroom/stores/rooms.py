"""Registered rooms and server bans on disk: a JSON file, changed as chatroom.stores.files says.

Each change reads the newest file under the lock and writes it back with just that change, so two server
processes sharing the file do not undo each other's changes. What it holds is documented in docs/security.md:
room names, owner and operator accounts, settings (a room's key included), topics, and ban masks with
their reasons. Nothing anyone says. `chatroom-rooms --redis URL import` (chatroom.cli.rooms) copies it into Redis,
for a chat shared by several processes (chatroom.bus.stores).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chatroom.core.errors import ChatError
from chatroom.core.events import Topic
from chatroom.core.moderation import LIMIT_MAX, Allowed, Ban, Mask, RoomSettings
from chatroom.core.names import room_key, room_name
from chatroom.core.rules import RULES
from chatroom.core.state import RoomRecord, Saved, StoreError
from chatroom.stores.files import DATA_FILE, locked, read_bounded, replace

DEFAULT_FILE = "rooms.json"
VERSION = 1
LAST_DATE = 253402300799  # 9999-12-31T23:59:59Z: what a date can show


class FileRoomStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Saved:
        try:
            document = self._read()
            return Saved(
                [room_from_data(name, data) for name, data in document["rooms"].items()],
                [ban_from_data(data) for data in document["server_bans"]],
            )
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError, RecursionError, ChatError) as error:
            raise self._damaged(error) from None
        except OSError as error:
            raise StoreError(f"cannot read {self.path}: {error.strerror}") from None

    def save_room(self, record: RoomRecord) -> None:
        def save(document: dict[str, Any]) -> None:
            _drop(document, record.name)  # another process may have kept it under another case
            document["rooms"][record.name] = room_data(record)

        self._change(save)

    def drop_room(self, name: str) -> None:
        self._change(lambda document: _drop(document, name))

    def save_server_bans(self, bans: tuple[Ban, ...]) -> None:
        self._change(lambda document: document.__setitem__("server_bans", [ban_data(ban) for ban in bans]))

    def _read(self) -> dict[str, Any]:
        try:
            document: dict[str, Any] = json.loads(read_bounded(self.path, DATA_FILE))
        except FileNotFoundError:
            return {"version": VERSION, "rooms": {}, "server_bans": []}
        if not isinstance(document, dict) or document.get("version") != VERSION:
            raise ValueError(f"not version {VERSION}")
        return document

    def _change(self, change: Callable[[dict[str, Any]], None]) -> None:
        try:
            with locked(self.path):
                document = self._read()
                change(document)
                replace(self.path, json.dumps(document, indent=1, sort_keys=True) + "\n")
        except OSError as error:
            raise StoreError(f"cannot write {self.path}: {error.strerror}") from None
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as error:
            raise self._damaged(error) from None

    def _damaged(self, error: Exception) -> StoreError:
        return StoreError(f"{self.path} is not a chatroom rooms file ({error!r}); move it away to start afresh")


def _drop(document: dict[str, Any], name: str) -> None:
    rooms = document["rooms"]
    for stored in [stored for stored in rooms if room_key(stored) == room_key(name)]:
        del rooms[stored]


def room_data(record: RoomRecord) -> dict[str, Any]:
    settings = record.settings
    topic = record.topic or Topic(record.name, "", "")
    return {
        "owner": record.owner,
        "operators": list(record.operators),
        "settings": {
            "invite_only": settings.invite_only,
            "key": settings.key,
            "moderated": settings.moderated,
            "topic_lock": settings.topic_lock,
            "limit": settings.limit,
            "secret": settings.secret,
            "external": settings.external,
            "history": settings.history,
            "keep_lines": settings.keep_lines,
            "keep_age": settings.keep_age,
            "redact_mine": settings.redact_mine,
            "no_ctcp": settings.no_ctcp,
        },
        "topic": {"text": topic.text, "setter": topic.setter, "time": record.topic_time},
        "bans": [ban_data(ban) for ban in record.bans],
        "allowed": _masks_data(record.allowed),
        "excepted": _masks_data(record.excepted),
    }


def _masks_data(entries: tuple[Allowed, ...]) -> list[dict[str, str]]:
    return [{"mask": entry.mask.real(), "setter": entry.setter} for entry in entries]


def _masks_from_data(data: dict[str, Any], name: str) -> tuple[Allowed, ...]:
    """A list of masks with their setters; not in files written before it existed."""
    return tuple(Allowed(Mask.parse(str(entry["mask"])), str(entry["setter"])) for entry in data.get(name, []))


def room_from_data(name: str, data: dict[str, Any], registered: bool = True) -> RoomRecord:
    """A room as stored: registered, from the file; any room, in a snapshot for a process joining (chatroom.bus)."""
    settings = data["settings"]
    if room_name(name) != name or (registered and not data["owner"]) or not isinstance(data["operators"], list):
        raise ValueError(f"a room {name!r} without an owner, with operators that are no list, or a bad name")
    if not 0 <= int(settings["limit"]) <= LIMIT_MAX:
        raise ValueError(f"a limit of {settings['limit']!r} in {name}")
    if int(settings.get("keep_lines", 0)) < 0 or float(settings.get("keep_age", 0.0)) < 0:
        raise ValueError(f"a history rule keeping less than nothing in {name}")
    return RoomRecord(
        name,
        str(data["owner"]),
        tuple(str(account) for account in data["operators"]),
        RoomSettings(
            bool(settings["invite_only"]),
            str(settings["key"]),
            bool(settings["moderated"]),
            bool(settings["topic_lock"]),
            int(settings["limit"]),
            bool(settings.get("secret", False)),  # these two are not in files written before they existed
            bool(settings.get("external", False)),
            _rule(settings.get("history", "all")),  # the history rule: not in files written before it existed
            int(settings.get("keep_lines", 0)),
            float(settings.get("keep_age", 0.0)),
            bool(settings.get("redact_mine", True)),
            bool(settings.get("no_ctcp", False)),
        ),
        Topic(name, str(data["topic"]["setter"]), str(data["topic"]["text"])),
        tuple(ban_from_data(ban) for ban in data["bans"]),
        _masks_from_data(data, "allowed"),
        _masks_from_data(data, "excepted"),
        float(data["topic"].get("time", 0.0)),  # not in files written before it was kept
    )


def _rule(history: object) -> str:
    if history not in RULES:
        raise ValueError(f"a history rule {history!r}")
    return str(history)


def ban_data(ban: Ban) -> dict[str, Any]:
    mask = ban.mask
    return {
        "mask": mask.real(),
        "alias": mask.alias,
        "guests": mask.guests,
        "setter": ban.setter,
        "reason": ban.reason,
        "until": ban.until,
        "since": ban.since,
    }


def ban_from_data(data: dict[str, Any]) -> Ban:
    until = None if data["until"] is None else float(data["until"])
    if until is not None and not 0 <= until < LAST_DATE:
        raise ValueError(f"a ban ending at {until!r}")
    mask = dataclasses.replace(Mask.parse(str(data["mask"])), alias=str(data["alias"]), guests=bool(data["guests"]))
    return Ban(mask, str(data["setter"]), str(data["reason"]), until, float(data.get("since", 0.0)))

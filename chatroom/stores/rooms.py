"""Registered rooms and server bans on disk: a JSON file, changed as chatroom.stores.files says.

Each change reads the newest file under the lock and writes it back with just that change, so two server
processes sharing the file do not undo each other's changes. A change the disk refused (full, read-only) waits in
memory and is written with the next one that can be (what still waits when the server stops is lost).

What it holds is documented in docs/security.md: room names, owner and operator accounts, settings (a room's key
included), topics, and ban masks with their reasons; and under `identities`, account name (lower case) ->
identity, which of the accounts ever registered under each name the rooms and the history store's markers,
conversations and stays are of (chatroom.core.base's `identities`; a file written before it has none, and the
accounts it names are those registered before identities). Nothing anyone says. `chatroom-rooms --redis URL
import` (chatroom.cli.rooms) copies it into Redis, for a chat shared by several processes (chatroom.bus.stores).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twisted.logger import Logger

from chatroom.core.errors import ChatError
from chatroom.core.events import Topic
from chatroom.core.moderation import DURATION_MAX, KEY_MAX, LIMIT_MAX, Allowed, Ban, Mask, RoomSettings
from chatroom.core.names import UNSAFE_TEXT, VALID_NICK, room_key, room_name
from chatroom.core.rules import KEEP_LINES_MAX, RULES
from chatroom.core.state import RoomRecord, Saved, StoreError
from chatroom.stores.files import DATA_FILE, locked, read_bounded, replace

DEFAULT_FILE = "rooms.json"
VERSION = 1
LAST_DATE = 253402300799  # 9999-12-31T23:59:59Z: what a date can show

log = Logger(namespace="chatroom")


SERVER_BANS = " server bans"  # the keys of their changes among the rooms' (no room's key holds a space)
IDENTITIES = " identities"


class FileRoomStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        # By room key: the changes not written yet, each the last made to what it changes, in the order first made.
        self._unsaved: dict[str, Callable[[dict[str, Any]], None]] = {}

    def load(self) -> Saved:
        try:
            document = self._read()
            return Saved(
                [room_from_data(name, data) for name, data in document["rooms"].items()],
                [ban_from_data(data) for data in document["server_bans"]],
                identities_from_data(document.get("identities", {})),
            )
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError, RecursionError, ChatError) as error:
            raise self._damaged(error) from None
        except OSError as error:
            raise StoreError(f"cannot read {self.path}: {error.strerror}") from None

    def save_room(self, record: RoomRecord) -> None:
        def save(document: dict[str, Any]) -> None:
            _drop(document, record.name)  # another process may have kept it under another case
            document["rooms"][record.name] = room_data(record)

        self._change(room_key(record.name), save)

    def drop_room(self, name: str) -> None:
        self._change(room_key(name), lambda document: _drop(document, name))

    def save_server_bans(self, bans: tuple[Ban, ...]) -> None:
        self._change(SERVER_BANS, lambda document: document.__setitem__("server_bans", [ban_data(ban) for ban in bans]))

    def save_identities(self, identities: dict[str, str]) -> None:
        self._change(IDENTITIES, lambda document: document.__setitem__("identities", dict(identities)))

    def _read(self) -> dict[str, Any]:
        try:
            document: dict[str, Any] = json.loads(read_bounded(self.path, DATA_FILE))
        except FileNotFoundError:
            return {"version": VERSION, "rooms": {}, "server_bans": []}
        if not isinstance(document, dict) or document.get("version") != VERSION:
            raise ValueError(f"not version {VERSION}")
        return document

    def _change(self, key: str, change: Callable[[dict[str, Any]], None]) -> None:
        """Write `change`, to the room of `key`, with every change still waiting from a write that failed."""
        self._unsaved[key] = change
        try:
            with locked(self.path):
                document = self._read()
                for unsaved in self._unsaved.values():
                    unsaved(document)
                replace(self.path, json.dumps(document, indent=1, sort_keys=True) + "\n")
        except OSError as error:
            count = len(self._unsaved)
            waiting = f"{count} changes wait" if count > 1 else "the change waits"
            raise StoreError(f"cannot write {self.path}: {error.strerror} ({waiting} for the next write)") from None
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as error:
            raise self._damaged(error) from None
        if len(self._unsaved) > 1:
            log.info("{path} written again, with the changes that had waited", path=self.path)
        self._unsaved.clear()

    def _damaged(self, error: Exception) -> StoreError:
        if isinstance(error, BadField):  # one value: correcting it keeps the rest
            return StoreError(f"{self.path}: {error}; correct it, or move it away to start afresh")
        return StoreError(f"{self.path} is not a chatroom rooms file ({error!r}); move it away to start afresh")


def identities_from_data(data: dict[str, Any]) -> dict[str, str]:
    """The accounts' identities as kept: a name (as compared) and the hexadecimal chatroom-accounts makes."""
    if not all(VALID_NICK.fullmatch(name) and name == name.lower() and re.fullmatch("[0-9a-f]+", str(identity))
               for name, identity in data.items()):  # fmt: skip
        raise BadField("an account's identity is not a name and hexadecimal")
    return {str(name): str(identity) for name, identity in data.items()}


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


def _masks_from_data(data: dict[str, Any], name: str, where: str) -> tuple[Allowed, ...]:
    """A list of masks with their setters; not in files written before it existed."""
    return tuple(
        Allowed(Mask.parse(str(entry["mask"])), _text(where, f"{name}'s setter", entry["setter"], word=True))
        for entry in data.get(name, [])
    )


class BadField(ValueError):
    """One value of a room or a ban that the commands would never have set; the message names where and which."""


def room_from_data(name: str, data: dict[str, Any], registered: bool = True) -> RoomRecord:
    """A room as stored: registered, from the file; any room, in a snapshot for a process joining (chatroom.bus).

    Each value is checked by the rule the command that sets it applies: sent on as it is to every member, one
    the commands refuse (a topic with CRLF and ESC, a key with spaces, a duration of NaN) forged IRC lines or
    broke the room."""
    if room_name(name) != name:
        raise BadField(f"{name!r} is not a room's name")
    where = f"room {name}"
    settings = data["settings"]
    owner = data["owner"]
    if registered or owner:
        _name(where, "owner", owner)
    if not isinstance(data["operators"], list):
        raise _bad(where, "operators", data["operators"], "must be a list of accounts")
    for operator in data["operators"]:
        _name(where, "operators", operator)
    key = _text(where, "key", settings["key"])
    if len(key) > KEY_MAX or any(char in key for char in " ,:"):
        raise _bad(where, "key", key, f"must be at most {KEY_MAX} characters, without spaces, ',' or ':'")
    limit = _number(where, "limit", settings["limit"], int, 0, LIMIT_MAX)
    keep_lines = _number(where, "keep_lines", settings.get("keep_lines", 0), int, 0, KEEP_LINES_MAX)
    keep_age = _number(where, "keep_age", settings.get("keep_age", 0.0), float, 0, DURATION_MAX)
    topic = data["topic"]
    setter = _text(where, "topic's setter", topic["setter"], word=True)
    return RoomRecord(
        name,
        str(owner),
        tuple(data["operators"]),
        RoomSettings(
            bool(settings["invite_only"]),
            key,
            bool(settings["moderated"]),
            bool(settings["topic_lock"]),
            int(limit),
            bool(settings.get("secret", False)),  # these two are not in files written before they existed
            bool(settings.get("external", False)),
            _rule(settings.get("history", "all")),  # the history rule: not in files written before it existed
            int(keep_lines),
            float(keep_age),
            bool(settings.get("redact_mine", True)),
            bool(settings.get("no_ctcp", False)),
        ),
        Topic(name, setter, _text(where, "topic", topic["text"])),
        tuple(ban_from_data(ban, where) for ban in data["bans"]),
        _masks_from_data(data, "allowed", where),
        _masks_from_data(data, "excepted", where),
        float(_number(where, "topic's time", topic.get("time", 0.0), float, 0, LAST_DATE)),  # not in older files
    )


def _bad(where: str, field: str, value: object, rule: str) -> BadField:
    shown = repr(value)  # escaped: the line stays one line, whatever the file holds
    return BadField(f"{where}: {field} {shown[:60] + '...' if len(shown) > 60 else shown} {rule}")


def _name(where: str, field: str, value: object) -> str:
    """An account's or a nickname's name, as registering one checks it."""
    if not isinstance(value, str) or VALID_NICK.fullmatch(value) is None:
        raise _bad(where, field, value, "is not a nickname an account can have")
    return value


def _text(where: str, field: str, value: object, word: bool = False) -> str:
    """Text as the commands take it: no control characters but IRC's formatting codes; a `word` has no spaces."""
    if not isinstance(value, str) or UNSAFE_TEXT.search(value) or (word and " " in value):
        rule = "must be text without control characters" + (" or spaces" if word else "")
        raise _bad(where, field, value, rule)
    return value


def _number(where: str, field: str, value: object, kind: type[float], least: float, most: float) -> float:
    """A number from `least` to `most`: never NaN nor infinite (a keep_age of 1e999 failed every join)."""
    whole = isinstance(value, int) or kind is float
    if isinstance(value, bool) or not isinstance(value, int | float) or not whole or not least <= value <= most:
        rule = f"must be a{' whole' if kind is int else ''} number from {least} to {most}"
        raise _bad(where, field, value, rule)
    return value


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


def ban_from_data(data: dict[str, Any], where: str = "server bans") -> Ban:
    where = f"{where}: ban {str(data['mask'])[:40]!r}"
    until = None if data["until"] is None else float(_number(where, "until", data["until"], float, 0, LAST_DATE))
    since = float(_number(where, "since", data.get("since", 0.0), float, 0, LAST_DATE))
    mask = dataclasses.replace(Mask.parse(str(data["mask"])), alias=str(data["alias"]), guests=bool(data["guests"]))
    setter = _text(where, "setter", data["setter"], word=True)
    return Ban(mask, setter, _text(where, "reason", data["reason"]), until, since)

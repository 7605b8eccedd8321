"""`--config FILE`: `twistd chatroom`'s options in a TOML file, and which of them SIGHUP may change.

Each key is an option's long name (`flood-rate = 5.0`, `listen = ["tcp:5050"]`, `limit-loopback = true`). The
command line wins over the file. On SIGHUP the file is read again: a limit, the message of the day, registration
and password-min change (RELOADABLE says when each counts); anything else takes a restart, and says so.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatroom.core.members import RoomLimits
from chatroom.server.limits import ConnectionLimits
from chatroom.server.signup import RegistrationMode, Signup
from chatroom.stores.files import SMALL_FILE, read_bounded

# What a running server can take, and when each change counts; nothing open is cut off.
_MADE_FROM_NOW = "for connections made from now on; open connections keep what they had"
_CAP = "at once, for connections from now on; none open is cut off"  # the connection caps
_AT_ONCE = "at once, open connections included"
_ROOMS = "at once, open connections included; nobody already in is put out"  # the room limits: at each join, login
RELOADABLE = {
    "max-line": _MADE_FROM_NOW,
    "flood-burst": _MADE_FROM_NOW,
    "flood-rate": _MADE_FROM_NOW,
    "send-queue": _MADE_FROM_NOW,
    "max-clients": _CAP,
    "max-per-address": _CAP,
    "limit-loopback": _CAP,
    "registration-timeout": _MADE_FROM_NOW,
    "idle-timeout": _MADE_FROM_NOW,
    "max-rooms": _ROOMS,
    "room-size": _ROOMS,
    "max-sessions": _ROOMS,
    "no-multiclient": _ROOMS,
    "linger": "for connections lost from now on",
    "motd": "for those who choose a nickname from now on",
    "registration": _AT_ONCE,  # the one Signup every connection asks
    "password-min": _AT_ONCE,
}
ENDPOINT_LISTS = ("listen", "irc", "irc-plaintext", "web", "web-plaintext")  # repeatable options of endpoints


class ConfigError(Exception):
    """The file cannot be used; the message says which setting and why, in one line."""


def _as_written(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Setting:
    kind: Callable[[Any], Any]  # how a value is checked and converted: int, float, str, bool, or list of str
    default: Any
    minimum: float | None = None
    # What the server runs with for a value as written (ValueError if none): "24h" is 86400.0 seconds. A reload
    # compares that, not the text, or a setting the command line converts always looks changed.
    meaning: Callable[[Any], Any] = _as_written


@dataclass
class Configured:
    """What the server runs with, for a reload to compare the file against."""

    path: Path
    settings: Mapping[str, Setting]
    current: dict[str, Any]  # every option's value now
    pinned: set[str]  # given on the command line, which wins over the file


def read(path: Path, settings: Mapping[str, Setting]) -> dict[str, Any]:
    """The file's settings by option name, each converted as the command line would; ConfigError otherwise."""
    try:
        document = tomllib.loads(read_bounded(path, SMALL_FILE).decode("utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path} is not TOML: {error}") from None
    values = {}
    for name, value in document.items():
        setting = settings.get(name)
        if setting is None or name == "config":
            raise ConfigError(f"{path}: there is no setting {name!r} (the names are twistd chatroom's options)")
        values[name] = convert(path, name, value, setting)
    return values


def meant(path: Path, values: Mapping[str, Any], settings: Mapping[str, Setting]) -> dict[str, Any]:
    """Every setting as the server would run with the file's `values`: those left out at their defaults."""
    meanings = {}
    for name, setting in settings.items():
        try:
            meanings[name] = setting.meaning(values.get(name, setting.default))
        except ValueError as error:
            raise ConfigError(f"{path}: {name}: {error}") from None
    return meanings


def convert(path: Path, name: str, value: Any, setting: Setting) -> Any:
    kind = setting.kind
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: {name} must be true or false")
        return value
    if kind is list:
        if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
            raise ConfigError(f"{path}: {name} must be a list of one or more strings")
        return value
    if kind is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: {name} must be a string")
        return value
    wanted = "a whole number" if kind is int else "a number"
    numbers = (int,) if kind is int else (int, float)
    if isinstance(value, bool) or not isinstance(value, numbers) or not math.isfinite(value):
        raise ConfigError(f"{path}: {name} must be {wanted}, not {value!r}")
    if setting.minimum is not None and value < setting.minimum:
        raise ConfigError(f"{path}: {name} must be at least {setting.minimum}")
    return kind(value)


def served(values: Mapping[str, Any], settings: Mapping[str, Setting]) -> dict[str, list[str]]:
    """The endpoints a server listens on for these options (a list left out is none given): --listen's default
    without any; IRC's and the web's unless no-irc or no-web turns them off, or only plaintext ones are given."""
    lists = {name: list(values.get(name) or []) for name in ENDPOINT_LISTS}
    if not lists["listen"]:
        lists["listen"] = list(settings["listen"].default)
    for front, plain, off in (("irc", "irc-plaintext", "no-irc"), ("web", "web-plaintext", "no-web")):
        if values.get(off):
            lists[front] = lists[plain] = []
        elif not (lists[front] or lists[plain]):
            lists[front] = list(settings[front].default)
    return lists


def limits(values: Mapping[str, Any]) -> tuple[ConnectionLimits, RoomLimits]:
    """The limits that a set of option values describes."""
    connection = ConnectionLimits(
        max_line=values["max-line"],
        flood_burst=values["flood-burst"],
        flood_rate=values["flood-rate"],
        send_queue=values["send-queue"],
        max_clients=values["max-clients"],
        max_per_address=values["max-per-address"],
        limit_loopback=bool(values["limit-loopback"]),
        registration_timeout=values["registration-timeout"],
        idle_timeout=values["idle-timeout"],
    )
    rooms = RoomLimits(
        rooms_per_member=values["max-rooms"],
        members_per_room=values["room-size"],
        sessions_per_person=1 if values["no-multiclient"] else values["max-sessions"],
        linger=values["linger"],
    )
    return connection, rooms


def sign_up(signup: Signup, values: Mapping[str, Any]) -> None:
    """Apply --registration and --password-min (at start, and on SIGHUP)."""
    signup.mode = RegistrationMode(values["registration"])
    signup.shortest = int(values["password-min"])

"""client.toml: what a person sets once instead of typing it at every start; the command line wins over it.

    server = "chat.example.org"
    port = 5050
    ca = "~/chat-ca.pem"
    nick = "alice"
    rooms = ["5", "maths"]          # joined in this order; the last is current
    highlight = ["alice", "exam"]   # words that highlight a line and ring the bell (your nickname always does)
    reconnect = true

It lives in the platform's configuration directory (on Linux `~/.config/chatroom/client.toml`, or under
XDG_CONFIG_HOME), beside the known_hosts file.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import platformdirs

KINDS: dict[str, type] = {
    "server": str,
    "port": int,
    "ca": str,
    "nick": str,
    "rooms": list,
    "highlight": list,
    "reconnect": bool,
    "password-file": str,
    "export-dir": str,
}


def settings_path() -> Path:
    return platformdirs.user_config_path("chatroom") / "client.toml"


class SettingsError(Exception):
    """client.toml cannot be used; the message says which setting and why, in one line."""


def read(path: Path) -> dict[str, Any]:
    """The file's settings by name, checked; {} if there is no file."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise SettingsError(f"cannot read {path}: {error.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise SettingsError(f"{path} is not TOML: {error}") from None
    for name, value in document.items():
        kind = KINDS.get(name)
        if kind is None:
            raise SettingsError(f"{path}: there is no setting {name!r}; the settings are {', '.join(KINDS)}")
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise SettingsError(f"{path}: {name} must be {_KIND_NAMES[kind]}")
        if isinstance(value, list) and not all(isinstance(item, str) and item for item in value):
            raise SettingsError(f"{path}: {name} must be a list of words")
    return document


_KIND_NAMES = {str: "a string", int: "a whole number", list: "a list of strings", bool: "true or false"}

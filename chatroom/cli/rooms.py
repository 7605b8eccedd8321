"""`chatroom-rooms`: copy a rooms file's registered rooms and server bans into Redis, once (docs/scaling.md)."""

from __future__ import annotations

import argparse
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from chatroom.bus.stores import import_rooms
from chatroom.cli.redis import command_line
from chatroom.core.state import StoreError
from chatroom.stores.rooms import DEFAULT_FILE, FileRoomStore

PROGRAM = "chatroom-rooms"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Copy a rooms file's registered rooms and server bans into Redis, once, before starting"
        " `twistd chatroom --redis URL` (docs/scaling.md).",
    )
    parser.add_argument("--file", type=Path, default=Path(DEFAULT_FILE), help=f"default: ./{DEFAULT_FILE}")
    parser.add_argument("--redis", metavar="URL", required=True, help="as given to twistd chatroom")
    parser.add_argument("--redis-prefix", default="chatroom", help="as given to twistd chatroom (default: chatroom)")
    commands = parser.add_subparsers(dest="command", required=True)
    copying = commands.add_parser("import", help="copy the rooms and server bans of --file into Redis")
    copying.add_argument("--replace", action="store_true", help="overwrite the rooms and bans Redis holds already")
    arguments = parser.parse_args(argv)

    def copy(redis: Any) -> Coroutine[Any, Any, str]:
        if not arguments.file.exists():
            raise StoreError(f"{arguments.file} does not exist: nothing to import")
        saved = FileRoomStore(arguments.file).load()
        return import_rooms(redis, arguments.redis_prefix, saved, arguments.replace, str(arguments.file))

    command_line(PROGRAM, arguments.redis, copy)


if __name__ == "__main__":
    main()

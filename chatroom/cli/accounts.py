"""`chatroom-accounts`: add, change, grant and list registered nicknames, in the accounts file or in Redis.

The file's format and its changes are chatroom.stores.accounts'; with `--redis`, the accounts a chat shared through
Redis keeps (chatroom.bus.stores.RedisAccounts). A running server sees a change at the next thing its account does.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

from chatroom.cli.refusals import word
from chatroom.core.errors import ChatError
from chatroom.core.names import not_reserved, validate_nick
from chatroom.core.state import StoreError
from chatroom.stores.accounts import (
    DEFAULT_FILE,
    MIN_PASSWORD,
    Account,
    AccountStore,
    Change,
    adding,
    administrator,
    hashed_password,
    new_password,
    removing,
)

T = TypeVar("T")


def _read_new_password(name: str) -> str:
    """Twice, with echo off on a terminal; from two lines of standard input otherwise."""
    if sys.stdin.isatty():
        first = getpass.getpass(f"New password for {name}: ")
        second = getpass.getpass("Again: ")
    else:
        first, second = sys.stdin.readline().rstrip("\n"), sys.stdin.readline().rstrip("\n")
    if first != second:
        raise ChatError("MISMATCH")
    return first


class Keeper(Protocol):
    """Where the command line reads and changes accounts: the file, or Redis (chatroom.bus.stores.RedisAccounts)."""

    async def get(self, name: str) -> Account | None: ...

    async def names(self) -> list[str]: ...

    async def change(self, name: str, change: Change) -> None: ...


class FileKeeper:
    """The accounts file, for the command line: it answers at once."""

    def __init__(self, store: AccountStore) -> None:
        self.store = store

    async def get(self, name: str) -> Account | None:
        return self.store.get(name)

    async def names(self) -> list[str]:
        return self.store.names()

    async def change(self, name: str, change: Change) -> None:
        self.store.change(name, change)


PROGRAM = "chatroom-accounts"


def _shortest(text: str) -> int:
    """--password-min: a whole number from 1."""
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1, not {text!r}")
    return int(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Manage registered nicknames. A running server sees changes at the next login.",
    )
    parser.add_argument("--file", type=Path, default=Path(DEFAULT_FILE), help=f"default: ./{DEFAULT_FILE}")
    parser.add_argument(
        "--redis",
        metavar="URL",
        help="manage the accounts kept in this Redis, shared by `twistd chatroom --redis URL` (not the file)",
    )
    parser.add_argument("--redis-prefix", default="chatroom", help="as given to twistd chatroom (default: chatroom)")
    parser.add_argument(
        "--password-min",
        type=_shortest,
        default=MIN_PASSWORD,
        metavar="N",
        help=f"the fewest characters a new password may have (default: {MIN_PASSWORD}; at least 1)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for command, summary in [
        ("add", "register a nickname (asks for its password twice)"),
        ("passwd", "change a nickname's password"),
        ("remove", "delete an account"),
    ]:
        commands.add_parser(command, help=summary).add_argument("name")
    for command, summary in [
        ("grant", "make an account a server administrator: grant NAME admin"),
        ("revoke", "take a server administrator's rights away: revoke NAME admin"),
    ]:
        role = commands.add_parser(command, help=summary)
        role.add_argument("name")
        role.add_argument("role", choices=["admin"])
    commands.add_parser("list", help="list the registered nicknames, administrators marked")
    copying = commands.add_parser("import", help="copy the accounts of --file into Redis, once (needs --redis)")
    copying.add_argument("--replace", action="store_true", help="overwrite the accounts Redis holds already")
    arguments = parser.parse_args(argv)
    if arguments.redis is not None:
        from chatroom.bus.stores import RedisAccounts  # the file alone needs no Redis client
        from chatroom.cli.redis import command_line

        command_line(
            PROGRAM, arguments.redis, lambda redis: _command(arguments, RedisAccounts(redis, arguments.redis_prefix))
        )
    if arguments.command == "import":
        parser.error("import copies --file into Redis: give --redis URL")
    try:
        store = AccountStore(arguments.file)
        store.check(hashes=False)  # `list` read a damaged file as if its damaged lines were no accounts
        print(_at_once(_command(arguments, FileKeeper(store))))
    except ChatError as error:
        raise SystemExit(f"{PROGRAM}: {word(error)}") from None
    except OSError as error:
        raise SystemExit(f"{PROGRAM}: {arguments.file}: {error.strerror}") from None
    except StoreError as error:
        raise SystemExit(f"{PROGRAM}: {error}") from None


async def _command(arguments: argparse.Namespace, accounts: Keeper) -> str:
    """What the command line asked, done: the line to print, or ChatError."""
    name = getattr(arguments, "name", "")
    if arguments.command == "list":
        return "\n".join(await accounts.names()) or "no accounts"
    if arguments.command == "import":
        return await _import(arguments.file, accounts, arguments.replace)
    if arguments.command in ("grant", "revoke"):
        grant = arguments.command == "grant"
        account = await accounts.get(name)
        if account is not None and account.admin == grant:  # else changed, or NO_ACCOUNT
            return f"{name} {'is already' if grant else 'was not'} a server administrator: nothing changed"
        await accounts.change(name, administrator(name, grant))
        return f"{name} {'is now' if grant else 'is no longer'} a server administrator"
    if arguments.command == "remove":
        await accounts.change(name, removing(name))
        return f"removed {name}"
    if arguments.command == "add":
        validate_nick(name)
        not_reserved(name)
        if await accounts.get(name) is not None:  # say so before asking for a password; checked again
            raise ChatError("EXISTS", name=name)
        password = hashed_password(name, _read_new_password(name), arguments.password_min)
        await accounts.change(name, adding(name, password))
        return f"added {name}"
    if await accounts.get(name) is None:
        raise ChatError("NO_ACCOUNT", "add", name=name)
    password = hashed_password(name, _read_new_password(name), arguments.password_min)
    await accounts.change(name, new_password(name, password))
    return f"changed the password of {name}"


async def _import(path: Path, accounts: Keeper, overwrite: bool) -> str:
    """Copy a file's accounts, hashes and administrators as they are; an account kept already stays unless told."""
    source = AccountStore(path)
    if source.exists():
        source.check(hashes=False)  # StoreError: a damaged line would have been left out, and the rest imported
    found = source.all() if source.exists() else None
    if found is None:
        raise ChatError("NO_FILE", "missing", path=str(path))
    imported: list[str] = []
    kept: list[str] = []
    for account in found:

        def copy(existing: Account | None, account: Account = account) -> Account:
            if existing is not None and not overwrite:
                raise ChatError("EXISTS", name=account.name)
            return account

        try:
            await accounts.change(account.name, copy)
            imported.append(account.name)
        except ChatError as error:
            if error.code != "EXISTS":
                raise
            kept.append(account.name)
    done = f"imported {len(imported)} of the {len(found)} accounts of {path}: {', '.join(imported) or 'none'}"
    if kept:
        raise ChatError("KEPT", done=done, kept=", ".join(kept))
    return done


def _at_once(work: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never waits (the accounts file answers at once) to its end, without a reactor."""
    try:
        work.send(None)
    except StopIteration as finished:
        return cast(T, finished.value)
    raise RuntimeError("the accounts file made the command line wait")


if __name__ == "__main__":
    main()

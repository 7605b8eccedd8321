"""Registered nicknames: the accounts file, and `python -m chatroom.stores.accounts` to manage it (or, with `--redis`,
the accounts a chat shared through Redis keeps: chatroom.bus.stores).

The file holds one line per account, `NAME scrypt$N$r$p$SALT$HASH`, followed by
` admin` for a server administrator: a salted, deliberately slow hash, never the
password. It is changed as chatroom.stores.files says (locked, replaced whole, owner
only), and the server reads it again whenever it is replaced, so a `grant` or a
`revoke` counts at the next thing that administrator does.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import getpass
import os
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from chatroom.core.errors import ChatError
from chatroom.core.names import nick_key, validate_nick
from chatroom.core.wording import PLAIN, Wordings
from chatroom.stores.files import locked, replace, stamp

DEFAULT_FILE = "accounts.db"
MIN_PASSWORD = 8
# About 0.1 s and 32 MiB per check on this class of machine: cheap for one login, costly for a million guesses.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1

T = TypeVar("T")


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    key = Scrypt(salt, 32, SCRYPT_N, SCRYPT_R, SCRYPT_P).derive(password.encode())
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        Scrypt(base64.b64decode(salt), len(base64.b64decode(key)), int(n), int(r), int(p)).verify(
            password.encode(), base64.b64decode(key)
        )
    except (ValueError, InvalidKey):
        return False
    return True


def decoy_hash() -> str:
    """A hash to check when no account has the name, so that a wrong name costs as long as a wrong password."""
    return hash_password(base64.b64encode(os.urandom(12)).decode())


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class Account:
    name: str
    hash: str
    admin: bool = False

    def record(self) -> str:
        """As the accounts file holds it on a line, and Redis in its `accounts` hash (chatroom.bus.stores)."""
        return f"{self.name} {self.hash}{' admin' if self.admin else ''}"

    @classmethod
    def parse(cls, record: str) -> Account | None:
        fields = record.split()
        return cls(fields[0], fields[1], "admin" in fields[2:]) if len(fields) >= 2 else None


Change = Callable[[Account | None], Account | None]  # an account as it is to what it becomes; None: there is none


def adding(name: str, hashed: str) -> Change:
    def add(account: Account | None) -> Account:
        if account is not None:
            raise ChatError("EXISTS", name=name)
        return Account(name, hashed)

    return add


def new_password(name: str, hashed: str) -> Change:
    def change(account: Account | None) -> Account:
        if account is None:
            raise ChatError("NO_ACCOUNT", "add", name=name)
        return dataclasses.replace(account, hash=hashed)

    return change


def administrator(name: str, admin: bool) -> Change:
    def change(account: Account | None) -> Account:
        if account is None:
            raise ChatError("NO_ACCOUNT", name=name)
        return dataclasses.replace(account, admin=admin)

    return change


def removing(name: str) -> Change:
    def remove(account: Account | None) -> None:
        if account is None:
            raise ChatError("NO_ACCOUNT", name=name)

    return remove


def hashed_password(name: str, password: str) -> str:
    """Checked and hashed before any lock is taken: scrypt is slow, and other changes should not wait."""
    validate_nick(name)
    if len(password) < MIN_PASSWORD:
        raise ChatError("WEAK_PASSWORD", most=MIN_PASSWORD)
    return hash_password(password)


class AccountBook:
    """Accounts in memory, by name without case: what the server asks of them, wherever they are kept."""

    def __init__(self) -> None:
        self._accounts: dict[str, Account] = {}

    def _refresh(self) -> None:
        """Bring the accounts up to date before an answer; those kept in memory always are."""

    def get(self, name: str) -> Account | None:
        self._refresh()
        return self._accounts.get(nick_key(name))

    def account(self, name: str) -> str | None:
        """chatroom.core.state.AccountDirectory: the name as registered."""
        account = self.get(name)
        return account.name if account else None

    def is_admin(self, name: str) -> bool:
        account = self.get(name)
        return account is not None and account.admin

    def all(self) -> list[Account]:
        self._refresh()
        return sorted(self._accounts.values(), key=lambda account: account.name.lower())

    def names(self) -> list[str]:
        """Every account, administrators marked."""
        return [f"{account.name}{' (admin)' if account.admin else ''}" for account in self.all()]

    def verify(self, name: str, password: str, decoy: str) -> str | None:
        """The account's name if the password is right; None otherwise, after checking `decoy` if need be."""
        account = self.get(name)
        right = check_password(password, account.hash if account else decoy)
        return account.name if account and right else None


class SharedAccounts(AccountBook):
    """The accounts of a chat shared through Redis, as one process holds them (chatroom.bus.stores).

    Read with the process's `hello`, then changed only by the log's `account` entries, which the accounts
    command line appends with each change: every process sees a change at the same point of the log.
    """

    def load(self, records: dict[str, str]) -> None:
        self._accounts = {key: account for key, record in records.items() if (account := Account.parse(record))}

    def apply(self, key: str, record: str | None) -> None:
        account = Account.parse(record) if record is not None else None
        if account is None:
            self._accounts.pop(key, None)
        else:
            self._accounts[key] = account


class AccountStore(AccountBook):
    """The accounts file, read again when it is replaced on disk."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._seen: tuple[int, int, int] | None = None

    def exists(self) -> bool:
        return self.path.exists()

    def add(self, name: str, password: str) -> None:
        """Register a new account; EXISTS if someone registered the name first."""
        self.change(name, adding(name, hashed_password(name, password)))

    def set_password(self, name: str, password: str) -> None:
        self.change(name, new_password(name, hashed_password(name, password)))

    def set_admin(self, name: str, admin: bool) -> None:
        self.change(name, administrator(name, admin))

    def remove(self, name: str) -> None:
        self.change(name, removing(name))

    def change(self, name: str, change: Change) -> None:
        """Change one account in the newest file, under the lock; nothing is written if `change` raises."""
        with locked(self.path):
            self._refresh()
            accounts = dict(self._accounts)
            changed = change(accounts.get(nick_key(name)))
            if changed is None:
                accounts.pop(nick_key(name), None)
            else:
                accounts[nick_key(name)] = changed  # in its place in the file
            replace(self.path, "".join(account.record() + "\n" for account in accounts.values()))
            self._refresh()

    def _refresh(self) -> None:
        seen = stamp(self.path)
        if seen == self._seen:
            return
        accounts = {}
        if seen is not None:
            for line in self.path.read_text().splitlines():
                if (account := Account.parse(line)) is not None:
                    accounts[nick_key(account.name)] = account
        self._seen, self._accounts = seen, accounts


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m chatroom.stores.accounts",
        description="Manage registered nicknames. A running server sees changes at the next login.",
    )
    parser.add_argument("--file", type=Path, default=Path(DEFAULT_FILE), help=f"default: ./{DEFAULT_FILE}")
    parser.add_argument(
        "--redis",
        metavar="URL",
        help="manage the accounts kept in this Redis, shared by `twistd chatroom --redis URL` (not the file)",
    )
    parser.add_argument("--redis-prefix", default="chatroom", help="as given to twistd chatroom (default: chatroom)")
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
        from chatroom.bus.stores import RedisAccounts, command_line  # the file alone needs no Redis client

        command_line(
            PROGRAM, arguments.redis, lambda redis: _command(arguments, RedisAccounts(redis, arguments.redis_prefix))
        )
    if arguments.command == "import":
        parser.error("import copies --file into Redis: give --redis URL")
    try:
        print(_at_once(_command(arguments, FileKeeper(AccountStore(arguments.file)))))
    except ChatError as error:
        raise SystemExit(f"{PROGRAM}: {word(error)}") from None
    except OSError as error:
        raise SystemExit(f"{PROGRAM}: {arguments.file}: {error.strerror}") from None


PROGRAM = "chatroom.stores.accounts"
# This command line's wording of refusals: the core's (a name, a password) and its own, naming its subcommands.
WORDINGS = Wordings(
    {
        **PLAIN,
        "EXISTS": "{name} is registered already: use passwd to change it",
        "NO_ACCOUNT:add": "there is no account {name}: use add",
        "WEAK_PASSWORD": "a password needs at least {most} characters",
        "MISMATCH": "the two passwords differ; nothing was changed",
        "NO_FILE": "{path}: {error}",
        "NO_FILE:missing": "{path} does not exist: nothing to import",
        "KEPT": "{done}; kept {kept} as Redis holds them (--replace overwrites them)",
    }
)

word = WORDINGS.word


async def _command(arguments: argparse.Namespace, accounts: Keeper) -> str:
    """What the command line asked, done: the line to print, or ChatError."""
    name = getattr(arguments, "name", "")
    if arguments.command == "list":
        return "\n".join(await accounts.names()) or "no accounts"
    if arguments.command == "import":
        return await _import(arguments.file, accounts, arguments.replace)
    if arguments.command in ("grant", "revoke"):
        await accounts.change(name, administrator(name, arguments.command == "grant"))
        return f"{name} {'is now' if arguments.command == 'grant' else 'is no longer'} a server administrator"
    if arguments.command == "remove":
        await accounts.change(name, removing(name))
        return f"removed {name}"
    if arguments.command == "add":
        validate_nick(name)
        if await accounts.get(name) is not None:  # say so before asking for a password; checked again
            raise ChatError("EXISTS", name=name)
        await accounts.change(name, adding(name, hashed_password(name, _read_new_password(name))))
        return f"added {name}"
    if await accounts.get(name) is None:
        raise ChatError("NO_ACCOUNT", "add", name=name)
    await accounts.change(name, new_password(name, hashed_password(name, _read_new_password(name))))
    return f"changed the password of {name}"


async def _import(path: Path, accounts: Keeper, overwrite: bool) -> str:
    """Copy a file's accounts, hashes and administrators as they are; an account kept already stays unless told."""
    source = AccountStore(path)
    try:
        found = source.all() if source.exists() else None
    except OSError as error:
        raise ChatError("NO_FILE", path=str(path), error=error.strerror or "") from None
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

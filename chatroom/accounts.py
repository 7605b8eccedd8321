"""Registered nicknames: the accounts file, and `python -m chatroom.accounts` to manage it.

The file holds one line per account, `NAME scrypt$N$r$p$SALT$HASH`, followed by
` admin` for a server administrator: a salted, deliberately slow hash, never the
password. It is changed as chatroom.storage says (locked, replaced whole, owner
only), and the server reads it again whenever it is replaced, so a `grant` or a
`revoke` counts at the next thing that administrator does.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import getpass
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from chatroom.core.errors import ChatError
from chatroom.core.names import nick_key, validate_nick
from chatroom.storage import locked, replace, stamp

DEFAULT_FILE = "accounts.db"
MIN_PASSWORD = 8
# About 0.1 s and 32 MiB per check on this class of machine: cheap for one login, costly for a million guesses.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1


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

    def line(self) -> str:
        return f"{self.name} {self.hash}{' admin' if self.admin else ''}\n"


class AccountStore:
    """The accounts file, read again when it is replaced on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int, int] | None = None
        self._accounts: dict[str, Account] = {}

    def exists(self) -> bool:
        return self.path.exists()

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

    def names(self) -> list[str]:
        """Every account, administrators marked."""
        self._refresh()
        accounts = sorted(self._accounts.values(), key=lambda account: account.name.lower())
        return [f"{account.name}{' (admin)' if account.admin else ''}" for account in accounts]

    def verify(self, name: str, password: str, decoy: str) -> str | None:
        """The account's name if the password is right; None otherwise, after checking `decoy` if need be."""
        account = self.get(name)
        right = check_password(password, account.hash if account else decoy)
        return account.name if account and right else None

    def add(self, name: str, password: str) -> None:
        """Register a new account; EXISTS if someone registered the name first."""
        hashed = self._hash(name, password)
        with self._changing() as accounts:
            if nick_key(name) in accounts:
                raise ChatError("EXISTS", f"{name} is registered already: use passwd to change it")
            accounts[nick_key(name)] = Account(name, hashed)

    def set_password(self, name: str, password: str) -> None:
        hashed = self._hash(name, password)
        with self._changing() as accounts:
            account = accounts.get(nick_key(name))
            if account is None:
                raise ChatError("NO_ACCOUNT", f"there is no account {name}: use add")
            accounts[nick_key(name)] = dataclasses.replace(account, hash=hashed)

    def set_admin(self, name: str, admin: bool) -> None:
        with self._changing() as accounts:
            account = accounts.get(nick_key(name))
            if account is None:
                raise ChatError("NO_ACCOUNT", f"there is no account {name}")
            accounts[nick_key(name)] = dataclasses.replace(account, admin=admin)

    def remove(self, name: str) -> None:
        with self._changing() as accounts:
            if accounts.pop(nick_key(name), None) is None:
                raise ChatError("NO_ACCOUNT", f"there is no account {name}")

    @staticmethod
    def _hash(name: str, password: str) -> str:
        """Checked and hashed before the lock is taken: scrypt is slow, and other changes should not wait."""
        validate_nick(name)
        if len(password) < MIN_PASSWORD:
            raise ChatError("WEAK_PASSWORD", f"a password needs at least {MIN_PASSWORD} characters")
        return hash_password(password)

    @contextlib.contextmanager
    def _changing(self) -> Iterator[dict[str, Account]]:
        """The newest accounts, under the lock, for the caller to change; written back unless it raises."""
        with locked(self.path):
            self._refresh()
            accounts = dict(self._accounts)
            yield accounts
            replace(self.path, "".join(account.line() for account in accounts.values()))
            self._refresh()

    def _refresh(self) -> None:
        seen = stamp(self.path)
        if seen == self._seen:
            return
        accounts = {}
        if seen is not None:
            for line in self.path.read_text().splitlines():
                fields = line.split()
                if len(fields) >= 2:
                    accounts[nick_key(fields[0])] = Account(fields[0], fields[1], "admin" in fields[2:])
        self._seen, self._accounts = seen, accounts


def _read_new_password(name: str) -> str:
    """Twice, with echo off on a terminal; from two lines of standard input otherwise."""
    if sys.stdin.isatty():
        first = getpass.getpass(f"New password for {name}: ")
        second = getpass.getpass("Again: ")
    else:
        first, second = sys.stdin.readline().rstrip("\n"), sys.stdin.readline().rstrip("\n")
    if first != second:
        raise ChatError("MISMATCH", "the two passwords differ; nothing was changed")
    return first


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m chatroom.accounts",
        description="Manage registered nicknames. A running server sees changes at the next login.",
    )
    parser.add_argument("--file", type=Path, default=Path(DEFAULT_FILE), help=f"default: ./{DEFAULT_FILE}")
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
    arguments = parser.parse_args(argv)
    store = AccountStore(arguments.file)
    try:
        if arguments.command == "list":
            print("\n".join(store.names()) or "no accounts")
        elif arguments.command in ("grant", "revoke"):
            store.set_admin(arguments.name, arguments.command == "grant")
            done = "is now" if arguments.command == "grant" else "is no longer"
            print(f"{arguments.name} {done} a server administrator")
        elif arguments.command == "remove":
            store.remove(arguments.name)
            print(f"removed {arguments.name}")
        elif arguments.command == "add":
            validate_nick(arguments.name)
            if store.get(arguments.name) is not None:  # say so before asking for a password; checked again
                raise ChatError("EXISTS", f"{arguments.name} is registered already: use passwd to change it")
            store.add(arguments.name, _read_new_password(arguments.name))
            print(f"added {arguments.name}")
        else:
            if store.get(arguments.name) is None:
                raise ChatError("NO_ACCOUNT", f"there is no account {arguments.name}: use add")
            store.set_password(arguments.name, _read_new_password(arguments.name))
            print(f"changed the password of {arguments.name}")
    except ChatError as error:
        raise SystemExit(f"chatroom.accounts: {error.message}") from None
    except OSError as error:
        raise SystemExit(f"chatroom.accounts: {arguments.file}: {error.strerror}") from None


if __name__ == "__main__":
    main()

"""Registered nicknames: the accounts file, and `python -m chatroom.accounts` to manage it.

The file holds one line per account, `NAME scrypt$N$r$p$SALT$HASH`: a salted,
deliberately slow hash, never the password. It is replaced whole on every
change (temporary file, fsync, rename), so a crash leaves the old file or the
new one, never half of one, and it is readable by its owner only. The server
reads it again whenever its modification time or size changes.
"""

from __future__ import annotations

import argparse
import base64
import functools
import getpass
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from chatroom.core import ChatError, nick_key, validate_nick

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


@functools.cache
def _decoy() -> str:
    """Checked when no account has the name, so that a wrong name costs as long as a wrong password."""
    return hash_password(base64.b64encode(os.urandom(12)).decode())


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class Account:
    name: str
    hash: str


class AccountStore:
    """The accounts file, read again when it changes on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int] | None = None
        self._accounts: dict[str, Account] = {}

    def exists(self) -> bool:
        return self.path.exists()

    def get(self, name: str) -> Account | None:
        self._refresh()
        return self._accounts.get(nick_key(name))

    def names(self) -> list[str]:
        self._refresh()
        return sorted((account.name for account in self._accounts.values()), key=str.lower)

    def verify(self, name: str, password: str) -> str | None:
        """The account's name if the password is right; None otherwise, after the same amount of work."""
        account = self.get(name)
        right = check_password(password, account.hash if account else _decoy())
        return account.name if account and right else None

    def set(self, name: str, password: str) -> None:
        validate_nick(name)
        if len(password) < MIN_PASSWORD:
            raise ChatError("WEAK_PASSWORD", f"a password needs at least {MIN_PASSWORD} characters")
        self._refresh()
        self._accounts[nick_key(name)] = Account(name, hash_password(password))
        self._write()

    def remove(self, name: str) -> None:
        self._refresh()
        if self._accounts.pop(nick_key(name), None) is None:
            raise ChatError("NO_ACCOUNT", f"there is no account {name}")
        self._write()

    def _refresh(self) -> None:
        try:
            status = self.path.stat()
        except FileNotFoundError:
            self._seen, self._accounts = None, {}
            return
        if (status.st_mtime_ns, status.st_size) == self._seen:
            return
        accounts = {}
        for line in self.path.read_text().splitlines():
            name, _, hashed = line.partition(" ")
            if name and hashed:
                accounts[nick_key(name)] = Account(name, hashed)
        self._seen, self._accounts = (status.st_mtime_ns, status.st_size), accounts

    def _write(self) -> None:
        """Replace the file whole: a crash at any point leaves either the old file or the new one."""
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=f".{self.path.name}.")  # mode 0600
        try:
            with os.fdopen(descriptor, "w") as file:
                file.writelines(f"{account.name} {account.hash}\n" for account in self._accounts.values())
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        directory_descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(directory_descriptor)  # the rename itself survives a power cut
        finally:
            os.close(directory_descriptor)


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
    commands.add_parser("list", help="list the registered nicknames")
    arguments = parser.parse_args(argv)
    store = AccountStore(arguments.file)
    try:
        if arguments.command == "list":
            print("\n".join(store.names()) or "no accounts")
        elif arguments.command == "remove":
            store.remove(arguments.name)
            print(f"removed {arguments.name}")
        else:
            exists = store.get(arguments.name) is not None
            if arguments.command == "add" and exists:
                raise ChatError("EXISTS", f"{arguments.name} is registered already: use passwd to change it")
            if arguments.command == "passwd" and not exists:
                raise ChatError("NO_ACCOUNT", f"there is no account {arguments.name}: use add")
            validate_nick(arguments.name)
            store.set(arguments.name, _read_new_password(arguments.name))
            print(f"{'added' if arguments.command == 'add' else 'changed the password of'} {arguments.name}")
    except ChatError as error:
        raise SystemExit(f"chatroom.accounts: {error.message}") from None
    except OSError as error:
        raise SystemExit(f"chatroom.accounts: {arguments.file}: {error.strerror}") from None


if __name__ == "__main__":
    main()

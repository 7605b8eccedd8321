"""Registered nicknames: the accounts file (`chatroom-accounts`, chatroom.cli.accounts, manages it; with `--redis`,
the accounts a chat shared through Redis keeps: chatroom.bus.stores).

The file holds one line per account, `NAME scrypt$N$r$p$SALT$HASH`, then (since SCRAM-SHA-256)
`scram-sha-256$ITERATIONS$SALT$STOREDKEY$SERVERKEY`, then (since identities) `id=IDENTITY`, then ` admin` for a
server administrator: a salted, deliberately slow hash for PLAIN and SCRAM's verifier (RFC 5802), never the
password. An account written before SCRAM has no verifier until its password is set again or it logs in once
with its password (PLAIN, `/pass`): SCRAM-SHA-256 fails for it meanwhile, as a wrong password does.

IDENTITY is random, made when the account is added and kept by every other change (a password, `grant`), so that
an account removed and added again, by someone else, under the same name is another account: the chat keeps what
belongs to an account (rooms it owns, private conversations, read markers) under its name and identity
(chatroom.core.base's `identities`), and never gives the old one's to the new one. An account added before
identities has none (""): what the chat kept under its name stays its own, and its line is written as it was.
It is changed as chatroom.stores.files says (locked, replaced whole, owner only), and the server reads it again
whenever it is replaced, so a `grant` or a `revoke` counts at the next thing that administrator does; a removal
ends the account's sessions within about two seconds (chatroom.app.service.AccountsWatch).
"""

from __future__ import annotations

import base64
import dataclasses
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from scramp import ScramException, ScramMechanism
from twisted.logger import Logger

from chatroom.core.errors import ChatError
from chatroom.core.names import nick_key, validate_nick
from chatroom.core.state import StoreError
from chatroom.stores.files import DATA_FILE, locked, read_bounded, replace, stamp

log = Logger(namespace="chatroom")

DEFAULT_FILE = "accounts.db"
MIN_PASSWORD = 8
# About 0.1 s and 32 MiB per check on this class of machine: cheap for one login, costly for a million guesses.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
# The client computes PBKDF2 this many times at each SCRAM login: RFC 7677's minimum, which Ergo uses too.
SCRAM_ITERATIONS = 4096
SCRAM = "scram-sha-256"
SCRAM_SALT = 32  # bytes of a verifier's salt, as scramp makes it; a decoy's is as long (chatroom.server.auth)
IDENTITY = "id="  # before an account's identity on its line
IDENTITY_VALUE = re.compile("[0-9a-f]{1,64}")  # what chatroom-accounts makes: secrets.token_hex


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    key = Scrypt(salt, 32, SCRYPT_N, SCRYPT_R, SCRYPT_P).derive(password.encode())
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


KEY_LEAST = 16  # bytes of a stored scrypt key, at least (chatroom writes 32): an empty one would match anything


def _scrypt(stored: str) -> tuple[Scrypt, bytes] | None:
    """The scrypt that checks a password against `stored`, and the key it must give; None if `stored` is no
    sound hash (damaged by hand: a key of nothing would verify every password)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        salt_bytes, key_bytes = base64.b64decode(salt, validate=True), base64.b64decode(key, validate=True)
        if scheme != "scrypt" or not salt_bytes or len(key_bytes) < KEY_LEAST:
            return None
        return Scrypt(salt_bytes, len(key_bytes), int(n), int(r), int(p)), key_bytes
    except ValueError:  # binascii.Error is one
        return None


def sound_hash(stored: str) -> bool:
    return _scrypt(stored) is not None


def check_password(password: str, stored: str) -> bool:
    checking = _scrypt(stored)
    if checking is None:
        return False
    scrypt, key = checking
    try:
        scrypt.verify(password.encode(), key)
    except InvalidKey:
        return False
    return True


def decoy_hash() -> str:
    """A hash to check when no account has the name, so that a wrong name costs as long as a wrong password."""
    return hash_password(base64.b64encode(os.urandom(12)).decode())


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class Verifier:
    """What SCRAM-SHA-256 checks a login against (RFC 5802): it proves a password without being one."""

    iterations: int
    salt: bytes
    stored_key: bytes
    server_key: bytes

    def text(self) -> str:
        return f"{SCRAM}${self.iterations}${_b64(self.salt)}${_b64(self.stored_key)}${_b64(self.server_key)}"

    @classmethod
    def parse(cls, text: str) -> Verifier | None:
        try:
            scheme, iterations, salt, stored, server = text.split("$")
            if scheme != SCRAM:
                return None
            return cls(int(iterations), base64.b64decode(salt), base64.b64decode(stored), base64.b64decode(server))
        except ValueError:
            return None

    def auth_info(self) -> tuple[bytes, bytes, bytes, int]:
        """As scramp's servers ask for it."""
        return self.salt, self.stored_key, self.server_key, self.iterations


def scram_verifier(password: str) -> Verifier | None:
    """None for a password SASLprep refuses (RFC 4013): it still logs in with PLAIN."""
    try:
        salt, stored, server, iterations = ScramMechanism("SCRAM-SHA-256").make_auth_info(
            password, iteration_count=SCRAM_ITERATIONS, salt=os.urandom(SCRAM_SALT)
        )
    except ScramException:
        return None
    return Verifier(iterations, salt, stored, server)


@dataclass(frozen=True)
class Secret:
    """What an account keeps of its password: the scrypt hash PLAIN checks, and SCRAM's verifier."""

    hash: str
    scram: Verifier | None

    @classmethod
    def of(cls, password: str) -> Secret:
        return cls(hash_password(password), scram_verifier(password))


@dataclass(frozen=True)
class Account:
    name: str
    hash: str
    admin: bool = False
    scram: Verifier | None = None  # None for an account written before SCRAM, until its password is next used
    identity: str = ""  # never another account's (module docstring); "" for one added before identities

    def record(self) -> str:
        """As the accounts file holds it on a line, and Redis in its `accounts` hash (chatroom.bus.stores)."""
        verifier = f" {self.scram.text()}" if self.scram else ""
        identity = f" {IDENTITY}{self.identity}" if self.identity else ""
        return f"{self.name} {self.hash}{verifier}{identity}{' admin' if self.admin else ''}"

    @classmethod
    def parse(cls, record: str) -> Account | None:
        """The account a record holds; None for a line that is not one (its second word is no scrypt hash)."""
        fields = record.split()
        if len(fields) < 2 or not fields[1].startswith("scrypt$"):
            return None  # not a name to reserve: a stray line of another file, which no password could log in to
        verifiers = [verifier for field in fields[2:] if (verifier := Verifier.parse(field))]
        identity = next((field.removeprefix(IDENTITY) for field in fields[2:] if field.startswith(IDENTITY)), "")
        if identity and not IDENTITY_VALUE.fullmatch(identity):
            return None  # damaged by hand: kept, it would be written where the rooms file refuses it at start
        return cls(fields[0], fields[1], "admin" in fields[2:], verifiers[0] if verifiers else None, identity)


Change = Callable[[Account | None], Account | None]  # an account as it is to what it becomes; None: there is none


def new_identity() -> str:
    """An identity no other account has had (module docstring)."""
    return secrets.token_hex(8)


def adding(name: str, secret: Secret, identity: str | None = None) -> Change:
    """Add the account `name`, under `identity` if its caller must know it (a registration logs in to it), else a
    new one: made once, so that a change tried again (chatroom.bus.stores) adds the same account."""
    made = identity if identity is not None else new_identity()

    def add(account: Account | None) -> Account:
        if account is not None:
            raise ChatError("EXISTS", name=name)
        return Account(name, secret.hash, scram=secret.scram, identity=made)

    return add


def new_password(name: str, secret: Secret) -> Change:
    def change(account: Account | None) -> Account:
        if account is None:
            raise ChatError("NO_ACCOUNT", "add", name=name)
        return dataclasses.replace(account, hash=secret.hash, scram=secret.scram)

    return change


def with_verifier(name: str, hashed: str, verifier: Verifier) -> Change:
    """Give an account from before SCRAM its verifier, made from the password it just logged in with.

    Only if its hash is still the one that password matched: a password changed meanwhile wins.
    """

    def change(account: Account | None) -> Account | None:
        if account is None or account.hash != hashed or account.scram is not None:
            return account
        return dataclasses.replace(account, scram=verifier)

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


def hashed_password(name: str, password: str, shortest: int = MIN_PASSWORD) -> Secret:
    """Checked and hashed before any lock is taken: scrypt is slow, and other changes should not wait.

    `shortest`: the fewest characters a password may have (chatroom-accounts --password-min).
    """
    validate_nick(name)
    if len(password) < shortest:
        raise ChatError("WEAK_PASSWORD", most=shortest)
    return Secret.of(password)


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

    def identity(self, name: str) -> str | None:
        """chatroom.core.state.AccountDirectory: the account's identity ("" if it has none), None if no account."""
        account = self.get(name)
        return account.identity if account else None

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

    def check(self, hashes: bool = True) -> None:
        """StoreError, in one line, if the file cannot be read or holds a line that is not an account, or (with
        `hashes`) an account whose password hash is damaged.

        The server asks at start, so that a directory or another file given as --accounts stops it, rather than
        failing every login, or being read as accounts nobody registered.
        """
        self._read(hashes)

    def _read(self, hashes: bool) -> dict[str, Account]:
        """The file's accounts by key, as `check` checks them."""
        try:
            lines = self._text().splitlines() if self.path.exists() else []
        except (OSError, UnicodeDecodeError) as error:
            why = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
            raise StoreError(f"cannot read {self.path}: {why}") from None
        accounts = {}
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            account = Account.parse(line)
            if account is None:
                raise StoreError(
                    f"{self.path} is not an accounts file: its line {number} is not NAME scrypt$..., as"
                    " chatroom-accounts writes them"
                )
            if hashes and not sound_hash(account.hash):
                raise StoreError(
                    f"{self.path}: the password hash on line {number} ({account.name}) is damaged: set the password"
                    f" again with chatroom-accounts passwd {account.name}"
                )
            accounts[nick_key(account.name)] = account
        return accounts

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
        """Change one account in the newest file, under the lock; nothing is written if `change` raises, nor if
        the file is not an accounts file (StoreError)."""
        with locked(self.path):
            accounts = self._read(hashes=False)  # another file is not replaced; a damaged hash may be
            changed = change(accounts.get(nick_key(name)))
            if changed is None:
                accounts.pop(nick_key(name), None)
            else:
                accounts[nick_key(name)] = changed  # in its place in the file
            replace(self.path, "".join(account.record() + "\n" for account in accounts.values()))
            self._refresh()

    def _text(self) -> str:
        return read_bounded(self.path, DATA_FILE).decode("utf-8")

    def _refresh(self) -> None:
        """Read the file again if it was replaced. One that cannot be read, or was damaged by hand, leaves the
        accounts read before in use, and is logged once: a typo dropped its account silently (its name free for any
        guest, an administrator's rights gone), and an unreadable file failed every login as a bug."""
        seen = stamp(self.path)
        if seen == self._seen:
            return
        self._seen = seen
        if seen is None and self._accounts:
            log.error("{path} is gone: the accounts read before stay in use until it is back", path=self.path)
            return
        try:
            self._accounts = self._read(hashes=False)  # a damaged hash matches no password
        except StoreError as error:
            log.error("{error}: the accounts read before stay in use until it is corrected", error=error)

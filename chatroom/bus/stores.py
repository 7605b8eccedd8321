"""Accounts, registered rooms and server bans kept in Redis, so that every process of a shared chat has the same.

Keys, under the prefix (`--redis-prefix`, default "chatroom"):
- `PREFIX:accounts`, a hash: an account's name in lower case -> its record as a line of the accounts file holds
  it, `Name scrypt$N$r$p$SALT$HASH`, then ` admin` for a server administrator.
- `PREFIX:rooms`, a hash: a registered room's key (chatroom.core.names.room_key) -> its record as JSON, as the
  rooms file holds it (chatroom.stores.rooms.room_data) with its `name`.
- `PREFIX:server-bans`, a string: the server bans as a JSON list (chatroom.stores.rooms.ban_data).
- `PREFIX:identities`, a string: the accounts' identities the rooms and the history are of, as a JSON object, as
  the rooms file holds them (chatroom.core.base's `identities`).

A process reads all four in the same step as its `hello` (chatroom.bus.redis.HELLO): what it reads is the state at
that point of the log (unless Redis lost them all: RedisStores.loaded). The first process starts from it; a later
one takes the rooms and bans from its snapshot, and the accounts from there. Rooms and bans are then written as the
rooms file is: by the process whose log entry changed them (Replica.stores), on the log's own connection, in order,
without waiting. An account is changed only by `chatroom-accounts --redis`, or by a server process (a registration,
a SCRAM verifier added: RedisAccountWriter), in one script that also appends an `account` entry carrying the new
record: every replica applies it at the same point of the log, as any other change.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from chatroom.bus.log import encode
from chatroom.bus.redis import MAXLEN, RETRY, RedisLog, log_key, rooms_key
from chatroom.core.errors import ChatError
from chatroom.core.moderation import Ban
from chatroom.core.names import nick_key, room_key
from chatroom.core.state import RoomRecord, Saved, StoreError
from chatroom.stores.accounts import Account, Change, SharedAccounts
from chatroom.stores.rooms import ban_data, ban_from_data, identities_from_data, room_data, room_from_data

log = Logger(namespace="chatroom")

# An account changes only if it is still what the command line read, and the log says so in the same step.
CHANGE_ACCOUNT = """
if (redis.call('HGET', KEYS[1], ARGV[1]) or '') ~= ARGV[2] then return 0 end
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'o', ARGV[4])
return 1
"""


# Places of RedisRoomStore's writes beside the rooms' keys, which never begin with a space
SERVER_BANS, IDENTITIES = " server-bans", " identities"
WRITTEN = {SERVER_BANS: "the server bans", IDENTITIES: "the accounts' identities"}


class Keys:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.accounts = f"{prefix}:accounts"
        self.rooms = rooms_key(prefix)
        self.server_bans = f"{prefix}:server-bans"
        self.identities = f"{prefix}:identities"
        self.log = log_key(prefix)


def room_json(record: RoomRecord) -> bytes:
    return json.dumps({"name": record.name, **room_data(record)}, separators=(",", ":")).encode()


def bans_json(bans: tuple[Ban, ...] | list[Ban]) -> bytes:
    return json.dumps([ban_data(ban) for ban in bans], separators=(",", ":")).encode()


class RedisStores:
    """The accounts and the room store of one process of a chat shared through Redis (chatroom.bus.redis.Shared)."""

    def __init__(self, prefix: str, clock: IReactorTime) -> None:
        self.names = Keys(prefix)
        self.keys = [self.names.accounts, self.names.rooms, self.names.server_bans, self.names.identities]
        self.accounts = SharedAccounts()
        self.rooms = RedisRoomStore(self.names, clock)
        self.mark: bytes | None = None  # PREFIX:mark when this process last took Redis's state

    def loaded(self, values: list[Any], commands: Any, found: bytes | None, mark: bytes) -> None:
        """Take the state read with the hello; but if Redis lost it, keep the accounts this process held.

        Redis lost it when the hello finds none of the four keys and not the mark this process last took them
        with: Redis restarted without persistence, or was emptied (or another Redis answers). Taken, the
        accounts would all be gone at once: guests free to take any registered name, an administrator's
        included, and every login refused. An administrator removing accounts is none of this: each removal is
        an entry of the log, under the same mark. The mark is kept until Redis holds some state again (restored,
        or imported anew), so that each hello meanwhile keeps the accounts. The rooms, bans and identities are
        taken as found: this process's copy of them is its last hello's, which may be days old; the chat's own
        are in the replicas, which lose them as they join anew (docs/scaling.md says what to restore).
        """
        accounts, rooms, bans, identities = values
        self.rooms.loaded(rooms, bans, identities, commands)
        if self.mark not in (None, found) and not any(values):
            log.error(
                "Redis lost chatroom's accounts, registered rooms and server bans (it restarted without"
                " persistence, or was emptied): this server keeps the {accounts} accounts it held, so that nobody"
                " takes a registered name, but a server started now would have none. Restore Redis from a backup,"
                " or import the accounts and rooms again (chatroom-accounts --redis URL import, chatroom-rooms"
                " --redis URL import), then give Redis persistence: docs/scaling.md, Keep Redis's data.",
                accounts=len(self.accounts.all()),
            )
            return
        self.mark = mark
        self.accounts.load({key.decode(): record.decode() for key, record in _pairs(accounts)})
        log.info(
            "from Redis: {accounts} accounts, {rooms} registered rooms, {bans} server bans",
            accounts=len(self.accounts.all()),
            rooms=len(self.rooms.saved.rooms),
            bans=len(self.rooms.saved.server_bans),
        )


def _pairs(flat: list[bytes] | None) -> list[tuple[bytes, bytes]]:
    """A hash as HGETALL gives it from a script (field, value, field, value...); None if there is none."""
    flat = flat or []
    return list(zip(flat[::2], flat[1::2], strict=True))


class RedisRoomStore:
    """chatroom.core.state.RoomStore in Redis: read with the hello, written without waiting, rewritten if lost.

    A write that fails (Redis went away as it was sent) is not lost: a warning names the room (or the server
    bans), and the newest record this process wrote there is written again every RETRY seconds until Redis
    takes it. txredisapi holds a command sent while it reconnects, so the rewrite lands once Redis is back.
    """

    def __init__(self, keys: Keys, clock: IReactorTime) -> None:
        self.keys = keys
        self.clock = clock
        self.saved = Saved()  # as Redis held it at this process's last hello
        self.commands: Any = None
        self._unsent: dict[str, tuple[int, bytes | None]] = {}  # field -> (serial, newest value); until written
        self._serial = 0
        self._retry: IDelayedCall | None = None

    def loaded(self, rooms: list[bytes] | None, bans: bytes | None, identities: bytes | None, commands: Any) -> None:
        self.commands = commands
        records = []
        for key, data in _pairs(rooms):
            try:
                value = json.loads(data)
                records.append(room_from_data(value.pop("name"), value))
            except (KeyError, TypeError, ValueError, AttributeError, ChatError) as error:
                log.error("room {key} in Redis is damaged ({error!r}): left out", key=key.decode(), error=error)
        try:
            server_bans = [ban_from_data(ban) for ban in json.loads(bans)] if bans else []
        except (KeyError, TypeError, ValueError, AttributeError, ChatError) as error:
            log.error("the server bans in Redis are damaged ({error!r}): left out", error=error)
            server_bans = []
        try:
            known = identities_from_data(json.loads(identities)) if identities else {}
        except (TypeError, ValueError, AttributeError) as error:
            log.error("the accounts' identities in Redis are damaged ({error!r}): left out", error=error)
            known = {}
        self.saved = Saved(records, server_bans, known)

    # chatroom.core.state.RoomStore

    def load(self) -> Saved:
        return Saved(list(self.saved.rooms), list(self.saved.server_bans), dict(self.saved.identities))

    def save_room(self, record: RoomRecord) -> None:
        self._write(room_key(record.name), room_json(record))

    def drop_room(self, name: str) -> None:
        self._write(room_key(name), None)

    def save_server_bans(self, bans: tuple[Ban, ...]) -> None:
        self._write(SERVER_BANS, bans_json(bans))

    def save_identities(self, identities: dict[str, str]) -> None:
        self._write(IDENTITIES, json.dumps(identities, separators=(",", ":")).encode())

    def _write(self, field: str, value: bytes | None) -> None:
        if self.commands is None:
            raise StoreError("Redis has not been reached yet")
        self._serial += 1
        self._unsent[field] = (self._serial, value)
        self._send(field)

    def _send(self, field: str) -> None:
        serial, value = self._unsent[field]
        if field in (SERVER_BANS, IDENTITIES):
            sending = self.commands.set(self.keys.server_bans if field == SERVER_BANS else self.keys.identities, value)
        elif value is None:
            sending = self.commands.hdel(self.keys.rooms, field)
        else:
            sending = self.commands.hset(self.keys.rooms, field, value)
        sending.addCallbacks(self._written, self._failed, callbackArgs=(field, serial), errbackArgs=(field,))

    def _written(self, _: object, field: str, serial: int) -> None:
        if self._unsent.get(field, (None,))[0] == serial:  # nothing newer was sent for it meanwhile
            del self._unsent[field]

    def _failed(self, failure: Any, field: str) -> None:
        log.warn(
            "could not write {what} to Redis ({why}): writing it again until Redis takes it",
            what=WRITTEN.get(field, f"room #{field}"),
            why=failure.getErrorMessage(),
        )
        if self._retry is None or not self._retry.active():
            self._retry = self.clock.callLater(RETRY, self._rewrite)

    def _rewrite(self) -> None:
        for field in list(self._unsent):
            self._send(field)


class RedisAccounts:
    """The accounts in Redis, for `chatroom-accounts --redis` (chatroom.cli.accounts.Keeper)."""

    def __init__(self, commands: Any, prefix: str) -> None:
        self.commands = commands
        self.keys = Keys(prefix)

    async def get(self, name: str) -> Account | None:
        record = await self.commands.hget(self.keys.accounts, nick_key(name))
        return None if record is None else Account.parse(record.decode())

    async def names(self) -> list[str]:
        records = await self.commands.hvals(self.keys.accounts)
        accounts = sorted(
            (account for record in records if (account := Account.parse(record.decode()))),
            key=lambda account: account.name.lower(),
        )
        return [f"{account.name}{' (admin)' if account.admin else ''}" for account in accounts]

    async def change(self, name: str, change: Change) -> None:
        """Change one account, and tell every running process through the log; again if it changed meanwhile."""
        key = nick_key(name)
        while True:
            before = await self.commands.hget(self.keys.accounts, key)
            account = change(None if before is None else Account.parse(before.decode()))
            record = None if account is None else account.record()
            entry = encode([{"k": "account", "n": key, "r": record}])
            arguments = [key, before or b"", record or "", entry, MAXLEN]
            if await self.commands.eval(CHANGE_ACCOUNT, [self.keys.accounts, self.keys.log], arguments):
                return


class RedisAccountWriter:
    """chatroom.server.auth.AccountWriter in Redis: the accounts command line's change, on the log's connection."""

    def __init__(self, bus: RedisLog, prefix: str) -> None:
        self.bus = bus
        self.prefix = prefix

    def change(self, name: str, change: Change) -> Deferred[None]:
        return Deferred.fromCoroutine(RedisAccounts(self.bus.commands, self.prefix).change(name, change))


async def import_rooms(commands: Any, prefix: str, saved: Saved, overwrite: bool, source: str) -> str:
    """Copy a rooms file's rooms, server bans and the accounts' identities they are of into Redis; what Redis holds
    already stays unless told. Without the identities, every account with one would be taken for another registered
    again under its name at its first login, and its rooms unregistered."""
    keys = Keys(prefix)
    imported: list[str] = []
    kept: list[str] = []
    for record in saved.rooms:
        put = commands.hset if overwrite else commands.hsetnx
        added = await put(keys.rooms, room_key(record.name), room_json(record))
        (imported if added or overwrite else kept).append(record.name)
    bans = "no server bans"
    if saved.server_bans:
        if await commands.set(keys.server_bans, bans_json(saved.server_bans), only_if_not_exists=not overwrite):
            bans = f"{len(saved.server_bans)} server bans"
        else:
            kept.append("the server bans")
    if saved.identities:
        identities = json.dumps(saved.identities, separators=(",", ":")).encode()
        if not await commands.set(keys.identities, identities, only_if_not_exists=not overwrite):
            kept.append("the accounts' identities")
    done = f"imported {len(imported)} of the {len(saved.rooms)} rooms of {source}: {', '.join(imported) or 'none'}"
    done += f", and {bans}"
    if kept:
        raise ChatError("KEPT", done=done, kept=", ".join(kept))
    return done

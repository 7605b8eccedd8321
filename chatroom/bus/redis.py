"""The log on Redis: one stream is the order every process reads, written through txredisapi.

Keys, all under the prefix (`--redis-prefix`, default "chatroom"):
- `PREFIX:log`, a stream: the entries, each stream entry carrying the entries one process appended in one
  reactor turn (one XADD for a burst). Trimmed to exactly the last `RETENTION` seconds, and to `MAXLEN` entries.
- `PREFIX:processes`, a set: the processes sharing the chat, changed only by the scripts that also append
  their `hello` and `gone` entries, so that the set and the log agree at every point.
- `PREFIX:unwritten`, a Pub/Sub channel: what must never reach Redis's files (chatroom.bus.shared.UNWRITTEN: a
  private message's text, a quit's reason), published just before the entry that names it. Redis writes no
  PUBLISH to its append-only file or its snapshots.
- `PREFIX:rewrite`: set for `REWRITE` seconds by the process that last asked Redis to rewrite its append-only
  file, so that one process asks, once per period.
- `PREFIX:alive:PROCESS`: set every `beat` seconds, expiring after `ttl`. Whoever finds one gone appends
  the process's `gone`: its members quit, "server lost".
- `PREFIX:connections:PROCESS`, a hash (chatroom.bus.limits): the process's connections per address. Its
  `hello` clears it, its `gone` deletes it, and it expires `ttl` after its last heartbeat.
- The keys of the state kept beside the log (`Shared`: chatroom.bus.stores), read in the same step as a
  process's `hello`, so that what it reads is the state at that point of the log.
- `PREFIX:mark`: a random token the first `hello` to a Redis without one sets, read with each `hello`. A Redis
  that comes back without the token it had lost what chatroom kept in it (chatroom.bus.stores.RedisStores).
- The keys of rooms' history (`Kept`: chatroom.bus.history). The registered rooms' history is read with the
  `hello` too; a process that says `hello` alone, and the last one's `gone`, delete the history of the rooms
  that are not registered: those rooms ended with the chat.

docs/scaling.md says what this guarantees, and what users see while Redis cannot be reached.
"""

from __future__ import annotations

import json
import math
import os
import socket
import ssl
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast

import txredisapi
from twisted.application.internet import ClientService
from twisted.application.service import Service
from twisted.internet import reactor, task
from twisted.internet.defer import CancelledError, Deferred, DeferredList, succeed
from twisted.internet.endpoints import HostnameEndpoint, UNIXClientEndpoint, wrapClientTLS
from twisted.internet.error import ConnectionClosed
from twisted.internet.interfaces import IDelayedCall, IReactorTime, IStreamClientEndpoint
from twisted.internet.ssl import optionsForClientTLS
from twisted.logger import ILogObserver, LogEvent, Logger, LogLevel, globalLogPublisher
from twisted.python.failure import Failure
from zope.interface import provider

from chatroom.bus.log import PLACE, Reader, encode, hello, place
from chatroom.bus.shared import OFF_DISK, Replica
from chatroom.core.errors import mistake
from chatroom.core.history import HistoryLimits

log = Logger(namespace="chatroom")

MAXLEN = 100_000  # stream entries kept at most, whatever their age
RETENTION = 60  # seconds an entry is kept: long enough to catch up after a short loss of Redis
# Seconds between two rewrites of Redis's append-only file (when it keeps one): what was trimmed from the stream,
# or removed from a room's history, is still in the file's record of commands until Redis rewrites it from what
# it holds. So removed text leaves Redis's disk within RETENTION + REWRITE seconds, and a beat (docs/scaling.md).
REWRITE = 60
# Seconds a reader waits for what an entry carries beside the log (OFF_DISK) before taking it for lost: it was
# published just before the entry, so it normally arrives first, or in the same reactor turn.
UNHEARD = 1.0
BLOCK = 2000  # ms an XREAD waits for new entries before asking again
# Seconds Redis has to answer the log's commands (an XREAD, its BLOCK included) before it is taken for lost. A
# Redis that stops answering (SIGSTOP, a stalled disk, a machine cut off) keeps its connections open: without a
# bound, every room froze, unannounced, for as long. Past it the log goes the way of a lost Redis: the DEGRADED
# notice, changes refused, and each second a try to find its place again (docs/scaling.md). The connections are
# kept: once Redis answers again, the answers it owed are passed over, in order, and reading resumes from the
# last entry applied. (txredisapi's own replyTimeout drops the connection instead, and gives up reconnecting
# for good when its SELECT or AUTH then goes unanswered.)
ANSWER = 5.0
LATE = 0.5  # seconds a timer may fire late before it is taken for a busy process rather than a silent Redis
RETRY = 1.0  # seconds between two attempts to find our place in the log again

# Rooms' history (chatroom.bus.history): delete that of the rooms not registered (all, unless `registered`).
FORGET = """
local function forget(histories, lists, rooms, registered)
  for _, room in ipairs(redis.call('HKEYS', histories)) do
    if not registered or redis.call('HEXISTS', rooms, room) == 0 then
      redis.call('DEL', lists .. room)
      redis.call('HDEL', histories, room)
    end
  end
end
"""

# ARGV[4..10]: the history keys (HistoryKeys.arguments); ARGV[11]: '1' if this process keeps history, else '0';
# ARGV[12]: '1' if it keeps private conversations (--history-private), else '0'; ARGV[13]: PREFIX:mark, ARGV[14] a
# new token for it, set if it has none.
HELLO = (
    FORGET
    + """
local alone = redis.call('SCARD', KEYS[2]) == 0
local mark = redis.call('GET', ARGV[13])
if not mark then redis.call('SET', ARGV[13], ARGV[14]) end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('SET', KEYS[3], '1', 'PX', ARGV[3])
redis.call('DEL', KEYS[4])
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'o',
  cjson.encode({{k='hello', p=ARGV[1], alone=alone}}))
local state = {}
for i = 5, #KEYS do
  if redis.call('TYPE', KEYS[i]).ok == 'hash' then state[i - 4] = redis.call('HGETALL', KEYS[i])
  else state[i - 4] = redis.call('GET', KEYS[i]) end
end
local keeps = ARGV[11] == '1'
local private = keeps and ARGV[12] == '1'
if alone then
  redis.call('DEL', ARGV[6])
  forget(ARGV[4], ARGV[5], ARGV[7], keeps)
end
local kept = {}
if keeps then
  local rooms = redis.call('HGETALL', ARGV[4])
  for i = 1, #rooms, 2 do
    if redis.call('HEXISTS', ARGV[7], rooms[i]) == 1 then
      kept[#kept + 1] = {rooms[i + 1], redis.call('LRANGE', ARGV[5] .. rooms[i], 0, -1)}
    end
  end
end
local markers = {}
if keeps then markers = redis.call('HGETALL', ARGV[8]) end
local stays = {}
if keeps then stays = redis.call('HGETALL', ARGV[10]) end
if alone and not private then  -- kept under an earlier --history-private: nobody may read them now
  for _, conversation in ipairs(redis.call('HKEYS', ARGV[9])) do redis.call('DEL', ARGV[5] .. conversation) end
  redis.call('DEL', ARGV[9])
end
local conversations = {}
if private then
  local abouts = redis.call('HGETALL', ARGV[9])
  for i = 1, #abouts, 2 do
    conversations[#conversations + 1] = {abouts[i], abouts[i + 1], redis.call('LRANGE', ARGV[5] .. abouts[i], 0, -1)}
  end
end
return {id, alone and 1 or 0, state, kept, markers, conversations, stays, mark}
"""
)

# ARGV[4..10]: the history keys (HistoryKeys.arguments).
GONE = (
    FORGET
    + """
if redis.call('SREM', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('DEL', KEYS[3], KEYS[4])
local left = redis.call('SMEMBERS', KEYS[2])
if #left == 0 then
  left = cjson.decode('[]')
  forget(ARGV[4], ARGV[5], ARGV[7], true)
end
local entry = cjson.encode({{k='gone', p=ARGV[1], r=ARGV[2], left=left}})
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'o', entry)
return 1
"""
)

TRIM = """
local now = redis.call('TIME')
return redis.call('XTRIM', KEYS[1], 'MINID', tonumber(now[1]) * 1000 - tonumber(ARGV[1]) * 1000)
"""  # exactly: with `~`, Redis drops only whole nodes of 100 entries, and a quiet chat's lines stayed for hours


class Kept(Protocol):
    """Rooms' history kept beside the log (chatroom.bus.history.RedisHistory)."""

    limits: HistoryLimits  # what the process keeps: private conversations too, or not

    def loaded(self, kept: list[Any], commands: Any) -> None:
        """The registered rooms' history at the hello, ["EPOCH SAID NAME", [line...]] each; where to write."""

    def markers_loaded(self, markers: list[Any]) -> None:
        """The accounts' read markers at the hello, as HGETALL gives PREFIX:markers (HistoryKeys.markers)."""

    def stays_loaded(self, stays: list[Any]) -> None:
        """The accounts' stays in registered rooms at the hello, as HGETALL gives PREFIX:stays (HistoryKeys.stays)."""

    def private_loaded(self, conversations: list[Any]) -> None:
        """The conversations between accounts at the hello, [KEY, "EPOCH SAID", [line...]] each."""


class Shared(Protocol):
    """State kept in Redis beside the log, read with each `hello` and written on the log's own connection."""

    keys: list[str]  # hashes and strings, read in this order

    def loaded(self, values: list[Any], commands: Any, found: bytes | None, mark: bytes) -> None:
        """What the keys held at the hello (a hash as a flat list, a string as bytes or None); where to write;
        PREFIX:mark as the hello found it, and as it is now."""


def log_key(prefix: str) -> str:
    """The stream every process reads; the accounts command line appends to it too (chatroom.bus.stores)."""
    return f"{prefix}:log"


def rooms_key(prefix: str) -> str:
    """The registered rooms' hash (chatroom.bus.stores), whose rooms keep their history when the chat ends."""
    return f"{prefix}:rooms"


@dataclass(frozen=True)
class HistoryKeys:
    """Where rooms' history is (chatroom.bus.history): `lists` + a room's key is the list of its lines; `markers`,
    a hash `ACCOUNT TARGET` -> time, where each account has read up to (chatroom.core.markers); `conversations`, a
    hash of the private conversations kept (--history-private), whose lines are in `lists` + the conversation's key
    (which has a space, as no room's key has); `stays`, a hash `ROOM ACCOUNT` -> when the account's stay in that
    registered room began (chatroom.core.members.Room.stays)."""

    histories: str
    lists: str
    written: str
    rooms: str
    markers: str
    conversations: str
    stays: str

    @classmethod
    def under(cls, prefix: str) -> HistoryKeys:
        return cls(
            f"{prefix}:histories",
            f"{prefix}:history:",
            f"{prefix}:history-written",
            rooms_key(prefix),
            f"{prefix}:markers",
            f"{prefix}:conversations",
            f"{prefix}:stays",
        )

    def arguments(self) -> list[str]:
        """As HELLO and GONE take them (ARGV[4..10])."""
        return [self.histories, self.lists, self.written, self.rooms, self.markers, self.conversations, self.stays]


class Unanswered(Exception):
    """Redis did not answer a command in time (ANSWER)."""


class _Waiting:
    """One command's wait for Redis's answer (RedisLog._bounded)."""

    def __init__(self, clock: IReactorTime, asked: Deferred[Any]) -> None:
        self.clock, self.asked = clock, asked
        self.due = clock.seconds() + ANSWER
        self.timer = clock.callLater(ANSWER, self.expired)
        self.silent = False

    def expired(self) -> None:
        now = self.clock.seconds()
        if now - self.due > LATE:
            self.due = now + ANSWER
            self.timer = self.clock.callLater(ANSWER, self.expired)
        else:
            self.timer = self.clock.callLater(0, self.judge)

    def judge(self) -> None:
        self.silent = True
        self.asked.cancel()  # cancels what txredisapi waits on, inside its chain

    def answered(self, result: Any) -> Any:
        if self.timer.active():
            self.timer.cancel()
        if self.silent and isinstance(result, Failure) and result.check(CancelledError):
            return Failure(Unanswered(f"Redis did not answer within {ANSWER:g} seconds"))
        return result


class RedisUnreachable(Exception):
    """Redis did not answer at start; the message says where and why, in one line."""


@dataclass(frozen=True)
class RedisAddress:
    """Where Redis is, from `redis://[:PASSWORD@]HOST[:PORT][/DB]`, `rediss://...` (TLS) or `unix:///PATH[?db=N]`."""

    url: str
    host: str = ""
    port: int = 6379
    path: str = ""
    db: int = 0
    password: str | None = None
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> RedisAddress:
        parts = urllib.parse.urlsplit(url)
        try:
            if parts.scheme == "unix":
                db = int(urllib.parse.parse_qs(parts.query).get("db", ["0"])[0])
                return cls(url, path=parts.path, db=db, password=parts.password)
            if parts.scheme in ("redis", "rediss"):
                db = int(parts.path.strip("/") or 0)
                host = parts.hostname or "localhost"
                return cls(url, host, parts.port or 6379, db=db, password=parts.password, tls=parts.scheme == "rediss")
        except ValueError as error:
            raise ValueError(f"{url}: {error}") from None
        raise ValueError(f"{url}: a Redis URL starts with redis://, rediss:// or unix://")

    def shown(self) -> str:
        """The URL without its password, for the log."""
        return self.path or f"{'rediss' if self.tls else 'redis'}://{self.host}:{self.port}/{self.db}"

    def check(self, timeout: float = 5.0) -> None:
        """Ask Redis for a PONG before the reactor runs, so that a wrong URL is one line and exit status 1."""
        self.ask("PING", timeout=timeout)

    def ask(self, *command: str, timeout: float = 5.0) -> bytes:
        """One command's simple answer (a status or a number), before the reactor runs; RedisUnreachable."""
        try:
            if self.path:
                sock = socket.socket(socket.AF_UNIX)
                sock.settimeout(timeout)
                sock.connect(self.path)
            else:
                sock = socket.create_connection((self.host, self.port), timeout)
                if self.tls:
                    sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
            with sock:
                if self.password is not None:
                    sock.sendall(_command("AUTH", self.password))
                    _answer(sock)
                sock.sendall(_command("SELECT", str(self.db)))
                _answer(sock)
                sock.sendall(_command(*command))
                return _answer(sock)
        except (OSError, ValueError) as error:
            raise RedisUnreachable(f"cannot reach Redis at {self.shown()}: {_reason(error)}") from None

    def endpoint(self) -> IStreamClientEndpoint:
        """Where each connection to Redis is made."""
        if self.path:
            return UNIXClientEndpoint(reactor, self.path, timeout=5)
        endpoint: IStreamClientEndpoint = HostnameEndpoint(reactor, self.host, self.port, timeout=5)
        return wrapClientTLS(optionsForClientTLS(self.host), endpoint) if self.tls else endpoint

    def connect(
        self, reconnect: bool = True, clock: IReactorTime | None = None, refused: Callable[[str], None] | None = None
    ) -> Deferred[Any]:
        """A txredisapi connection. Lost, it is made again every RETRY seconds on `clock` (_Kept), unless told not
        to: then txredisapi's own makes one try, and a lost Redis ends it (a command line's). `refused` is told
        why each time Redis refuses the AUTH or the SELECT of a connection made again (_Kept.stopTrying).

        Its replies are the bytes Redis sent: txredisapi would read any made of digits alone as a number (a
        process's name, a room called 5, a marker's time), and `.decode()` on it would fail.
        """
        common = {"charset": None, "convertNumbers": False, "password": self.password}
        if reconnect:
            handler = txredisapi.UnixConnectionHandler if self.path else txredisapi.ConnectionHandler
            factory = _Kept(self.shown(), self.db, 1, handler=handler, **common)
            return factory.keep(self.endpoint(), clock, refused)
        connecting: Deferred[Any]
        if self.path:
            connecting = txredisapi.UnixConnection(self.path, self.db, reconnect=False, connectTimeout=5, **common)
        else:
            context = optionsForClientTLS(self.host) if self.tls else None
            connecting = txredisapi.Connection(
                self.host, self.port, self.db, reconnect=False, ssl_context_factory=context, connectTimeout=5, **common
            )
        return connecting

    def listen(
        self, channel: str, heard: Callable[[str], None], clock: IReactorTime, refused: Callable[[str], None]
    ) -> Deferred[Any]:
        """A connection that passes what is published on `channel` to `heard`, subscribing again as it reconnects;
        `refused` as `connect`'s."""
        return _HearingFactory(channel, heard, self.password).keep(self.endpoint(), clock, refused)


@provider(ILogObserver)
def _problems_only(event: LogEvent) -> None:
    """Passes on a warning or worse, nothing else."""
    if event.get("log_level", LogLevel.info) >= LogLevel.warn:
        globalLogPublisher(event)


class _Keeper(ClientService):
    """Keeps one connection to Redis, made again RETRY seconds after each loss or failed try, for as long as Redis
    is away. Its line for each retry is not logged (one a connection a try, three connections a process): the log
    (RedisLog, SharedChat) says once that Redis is lost, and once that it is back."""

    _log = Logger(observer=_problems_only)


class _Kept(txredisapi.RedisFactory):  # type: ignore[misc]  # txredisapi has no annotations
    """A txredisapi factory whose one connection a _Keeper keeps, on a clock a test can drive.

    In place of txredisapi's own slots, whose delay grows e-fold each try up to 10 seconds, randomised: the chat was
    whole again 7 to 11 seconds after Redis came back, and each try logged a "Scheduling retry" line a connection.
    """

    keeper: _Keeper
    refused: Callable[[str], None] | None

    def keep(
        self, endpoint: IStreamClientEndpoint, clock: IReactorTime | None, refused: Callable[[str], None] | None
    ) -> Deferred[Any]:
        """Connect, and fire with the handler once connected (txredisapi's `deferred`)."""
        connected: Deferred[Any] = self.deferred
        self.refused = refused
        self.keeper = _Keeper(endpoint, self, retryPolicy=lambda _: RETRY, clock=clock)
        self.keeper.startService()
        return connected

    def stopTrying(self) -> Deferred[None]:
        """Redis refused the AUTH or the SELECT (txredisapi then closes the connection and calls connectionError).

        At the first connection the URL is wrong, and whoever waits on `keep` is told: try no more, as txredisapi
        does. Later, Redis took them before: most often its operator changed `requirepass` (or the ACL user, or
        `databases`) under a running chat. Giving up for good there left a server that silently shared nothing
        until restarted; trying again at the pace of a lost Redis, with `refused` told each time, lets putting
        Redis's configuration right heal the chat, as Redis coming back does.
        """
        if self.deferred is None and self.refused is not None:
            return succeed(None)
        self.stopped = True
        stopping: Deferred[None] = self.keeper.stopService()
        return stopping

    def connectionError(self, why: str) -> None:
        # Not when the connection was lost before Redis answered (txredisapi's words for it): Redis refused nothing.
        if self.deferred is None and self.refused is not None and not why.endswith("Lost connection"):
            self.refused(why.removeprefix("Redis error: "))
        super().connectionError(why)

    def disconnect(self) -> Deferred[None]:
        stopping = self.keeper.stopService()
        return DeferredList([stopping, super().disconnect()]).addCallback(lambda _: None)

    def delConnection(self, conn: Any) -> None:
        """A lost connection also leaves the queue commands take theirs from: they wait for the next one, where
        txredisapi would hand them the dead one first, only to log "Discarding dead connection." and wait."""
        super().delConnection(conn)
        if conn in self.connectionQueue.pending:
            self.connectionQueue.remove(conn)


class _Hearing(txredisapi.SubscriberProtocol):  # type: ignore[misc]  # txredisapi has no annotations
    factory: _HearingFactory

    def connectionMade(self) -> Deferred[Any]:
        made: Deferred[Any] = super().connectionMade()  # AUTH, if there is a password
        # Redis may go away before it answers (Twisted ignores what connectionMade returns, so a failure left here
        # would be an unhandled error): the factory connects again, and subscribes anew then.
        return made.addCallback(lambda _: self.subscribe(self.factory.channel)).addErrback(_not_subscribed)

    def messageReceived(self, pattern: str | None, channel: str, message: str) -> None:
        self.factory.heard(message)


def _not_subscribed(failure: Any) -> None:
    log.debug("could not subscribe: {why}", why=failure.getErrorMessage())


class _HearingFactory(_Kept, txredisapi.SubscriberFactory):  # type: ignore[misc]
    protocol = _Hearing

    def __init__(self, channel: str, heard: Callable[[str], None], password: str | None) -> None:
        super().__init__()
        self.channel, self.heard, self.password = channel, heard, password


def _command(*words: str) -> bytes:
    encoded = [word.encode() for word in words]
    return b"".join([f"*{len(encoded)}\r\n".encode(), *(b"$%d\r\n%s\r\n" % (len(word), word) for word in encoded)])


def _answer(sock: socket.socket) -> bytes:
    reply = sock.recv(65536)
    if reply.startswith(b"$"):  # a bulk string, such as INFO's: its length, then that many bytes
        size, _, text = reply[1:].partition(b"\r\n")
        while int(size) >= 0 and len(text) < int(size) + 2:
            more = sock.recv(65536)
            if not more:
                raise ValueError("the answer was cut short")
            text += more
        return text[: max(0, int(size))]
    if not reply.startswith((b"+", b":")):
        raise ValueError(reply.decode("utf-8", "replace").strip().removeprefix("-") or "no answer")
    return reply[1:].strip()


def _reason(error: Exception) -> str:
    return (error.strerror if isinstance(error, OSError) and error.strerror else str(error)) or type(error).__name__


class RedisLog:
    """The log of chatroom.bus.log on a Redis stream."""

    def __init__(
        self,
        address: RedisAddress,
        clock: IReactorTime,
        prefix: str = "chatroom",
        beat: float = 2.0,
        ttl: float = 10.0,
        shared: Shared | None = None,
        history: Kept | None = None,
        retention: float = RETENTION,
        rewrite: float = REWRITE,
    ) -> None:
        self.address = address
        self.retention, self.rewrite = retention, rewrite
        self.shared = shared
        self.history = history  # None: this process keeps no history
        self.history_keys = HistoryKeys.under(prefix)
        self.clock = clock
        self.keys = {
            "log": log_key(prefix),
            "processes": f"{prefix}:processes",
            "unwritten": f"{prefix}:unwritten",
            "rewrite": f"{prefix}:rewrite",
            "mark": f"{prefix}:mark",
        }
        self.prefix = prefix
        self.beat, self.ttl = beat, ttl
        self.process = ""
        self.joins = 0  # how many times this process said hello: each clears what it counted before
        self.reader: Reader | None = None
        self.commands: Any = None  # txredisapi connections: one for commands, one that waits on XREAD
        self.reading: Any = None
        self.hearing: Any = None  # the subscription to PREFIX:unwritten
        # What entries carry beside the log (OFF_DISK), by token: when it was heard, and the arguments.
        self.unwritten: dict[str, tuple[float, list[Any]]] = {}
        self._unread: deque[tuple[str, dict[str, Any]]] = deque()  # entries read, waiting for what they carry
        self._unheard: IDelayedCall | None = None  # when the first of them gives up waiting
        self._giving_up = False
        self.last = ""  # the id of the last stream entry read
        self.up = False
        self.stopped = False
        self._outgoing: list[dict[str, Any]] = []
        self._beating = task.LoopingCall(self._heartbeat)
        self._beating.clock = clock
        self._retry: IDelayedCall | None = None
        self._reconnected = -math.inf  # when Redis came back: the others get time to say they are alive again
        self._refusal: str | None = None  # what Redis refused, as logged, since we last had contact

    def connect(self) -> Deferred[None]:
        connections = DeferredList(
            [
                self.address.connect(clock=self.clock, refused=self._refused),
                self.address.connect(clock=self.clock, refused=self._refused),
                self.address.listen(self.keys["unwritten"], self._heard, self.clock, self._refused),
            ]
        )

        def connected(results: list[tuple[bool, Any]]) -> None:
            failed = [result for ok, result in results if not ok]
            if failed:
                raise RedisUnreachable(f"cannot reach Redis at {self.address.shown()}: {failed[0].getErrorMessage()}")
            (_, self.commands), (_, self.reading), (_, self.hearing) = results

        return connections.addCallback(connected)

    def _alive_key(self, process: str) -> str:
        return f"{self.prefix}:alive:{process}"

    def connections_key(self, process: str) -> str:
        """The hash of `process`'s connections per address (chatroom.bus.limits)."""
        return f"{self.prefix}:connections:{process}"

    def _process_keys(self, process: str) -> list[str]:
        """The keys HELLO and GONE change together."""
        return [self.keys["log"], self.keys["processes"], self._alive_key(process), self.connections_key(process)]

    def _gone(self, process: str, reason: str) -> list[Any]:
        """GONE's arguments."""
        return [process, reason, MAXLEN, *self.history_keys.arguments()]

    def _shared_keys(self) -> list[str]:
        return [] if self.shared is None else self.shared.keys

    # chatroom.bus.log.Log

    def join(self, process: str, reader: Reader) -> None:
        self.process, self.reader = process, reader
        self.stopped = False
        self._unread.clear()  # what was read before joining again, from a snapshot, is the past
        self.joins += 1
        keys = self._process_keys(process) + self._shared_keys()
        keeps = "0" if self.history is None else "1"
        private = "1" if self.history is not None and self.history.limits.private else "0"
        mark = os.urandom(12).hex().encode()
        arguments = [process, MAXLEN, int(self.ttl * 1000), *self.history_keys.arguments(), keeps, private]
        said = self.commands.eval(HELLO, keys, [*arguments, self.keys["mark"], mark])

        def joined(answer: list[Any]) -> None:
            entry_id, alone, state, kept, markers, conversations, stays, found = answer
            self.last = entry_id.decode()
            self.up, self._refusal = True, None
            if self.shared is not None:
                self.shared.loaded(state, self.commands, found, found or mark)
            if self.history is not None:
                self.history.loaded(kept, self.commands)
                self.history.markers_loaded(markers)
                self.history.stays_loaded(stays)
                self.history.private_loaded(conversations)
            reader.received(hello(process, bool(alone)))
            if not self._beating.running:
                self._beating.start(self.beat, now=False)
            self._read()

        said.addCallbacks(joined, self._failed_to_join).addErrback(_bug_joining)

    def append(self, entry: dict[str, Any]) -> None:
        if not self._outgoing:
            self.clock.callLater(0, self._flush)
        self._outgoing.append(entry)

    def leave(self, process: str, reason: str) -> Deferred[None]:
        self.stopped = True
        if self._beating.running:
            self._beating.stop()
        if not self.up:
            return succeed(None)
        self._flush()
        done: Deferred[None] = self._bounded(
            self.commands.eval(GONE, self._process_keys(process), self._gone(process, reason))
        )
        return done.addErrback(lambda failure: log.warn("could not tell Redis we left: {why}", why=failure.value))

    def disconnect(self) -> Deferred[None]:
        self.stopped = True
        if self._beating.running:
            self._beating.stop()
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        if self._unheard is not None and self._unheard.active():
            self._unheard.cancel()
        connections = (self.commands, self.reading, self.hearing)
        closing = [connection.disconnect() for connection in connections if connection is not None]
        return DeferredList(closing).addCallback(lambda _: None)

    # Inside

    def _later(self, call: Callable[[], None]) -> None:
        """Try again in a second; the connections are made again meanwhile, as often (_Kept). Never once stopped: a
        command that fails because `disconnect` closed its connection must not schedule another try (seen as a dirty
        reactor)."""
        if not self.stopped:
            self._retry = self.clock.callLater(RETRY, call)

    def _bounded(self, asked: Deferred[Any]) -> Deferred[Any]:
        """A command that fails (Unanswered) if Redis has not answered it within ANSWER seconds.

        Judged on this process's time, not the clock's alone: a timer that fires late (LATE) finds a process that
        was busy (a burst of deliveries), whose reactor may not have read Redis's answer yet; it gives Redis its
        time again. On time, it judges one reactor turn later, once the answers that arrived have been read.
        """
        waiting = _Waiting(self.clock, asked)
        return asked.addBoth(waiting.answered)

    def _flush(self) -> None:
        entries, self._outgoing = self._outgoing, []
        if not entries:
            return
        unwritten: list[Any] = []
        written = [self._unwritten(entry, unwritten) for entry in entries]
        if unwritten:  # before the XADD, on the same connection: Redis sends it to every reader before the entry
            self.commands.publish(self.keys["unwritten"], encode(unwritten)).addErrback(passed_over)
        added = self._bounded(
            self.commands.execute_command(
                "XADD",
                self.keys["log"],
                "MAXLEN",
                "~",
                MAXLEN,
                "*",
                "o",
                encode(written),
            )
        )
        added.addErrback(self._not_appended, entries)

    def _unwritten(self, entry: dict[str, Any], unwritten: list[Any]) -> dict[str, Any]:
        """The entry as the stream keeps it: the arguments it names under OFF_DISK travel beside it, by PUBLISH."""
        places = entry.get(OFF_DISK)
        if not places:
            return entry
        token = os.urandom(12).hex()
        arguments = list(entry["a"])
        carried = [arguments[index] for index in places]
        for index in places:
            arguments[index] = None
        self.unwritten[token] = (self.clock.seconds(), carried)  # our own reader needs no PUBLISH
        unwritten.append([token, carried])
        return entry | {"a": arguments, OFF_DISK: [token, places]}

    def _heard(self, message: str) -> None:
        try:
            carried = json.loads(message)
            now = self.clock.seconds()
            for token, arguments in carried:
                self.unwritten[token] = (now, arguments)
        except (ValueError, TypeError):
            log.warn("ignored a message on {channel} that is not chatroom's", channel=self.keys["unwritten"])
            return
        if self._unread:
            self._deliver()

    def _not_appended(self, failure: Any, entries: list[dict[str, Any]]) -> None:
        log.warn("could not append to the log on Redis: {why}", why=failure.getErrorMessage())
        self._lost_contact()
        if self.reader is not None:
            self.reader.not_appended(entries)

    def _read(self) -> None:
        if self.stopped or not self.up or self._unread:
            return  # with entries unread, _deliver reads on once they are
        asked = self._bounded(
            self.reading.execute_command("XREAD", "COUNT", 1000, "BLOCK", BLOCK, "STREAMS", self.keys["log"], self.last)
        )
        asked.addCallbacks(self._got, self._read_failed)

    def _got(self, reply: Any) -> None:
        if reply:
            ((_, items),) = reply
            for entry_id, fields in items:
                stream_id = entry_id.decode()
                milliseconds, _, sequence = stream_id.partition("-")
                entries = json.loads(fields[1])
                for index, entry in enumerate(entries):
                    entry[PLACE] = place(int(milliseconds), int(sequence), index)
                    # `last` moves past a stream entry once all of it is applied
                    self._unread.append((stream_id if index == len(entries) - 1 else "", entry))
        self._deliver()

    def _deliver(self) -> None:
        """Apply the entries read, in order; one whose OFF_DISK arguments were not heard yet waits for them."""
        while self._unread:
            stream_id, entry = self._unread[0]
            if not self._restored(entry):
                if self._unheard is None:
                    self._unheard = self.clock.callLater(UNHEARD, self._give_up)
                return
            self._unread.popleft()
            if stream_id:
                self.last = stream_id
            if self.reader is not None and not self.stopped:
                self.reader.received(entry)
        self._giving_up = False
        if self._unheard is not None:
            if self._unheard.active():
                self._unheard.cancel()
            self._unheard = None
        self._read()

    def _restored(self, entry: dict[str, Any]) -> bool:
        """Put back the arguments an entry carried beside the log, or None for those lost; False: wait for them."""
        if OFF_DISK not in entry:
            return True
        token, places = entry[OFF_DISK]
        heard = self.unwritten.pop(token, None)
        if heard is None and not self._giving_up:
            return False
        entry[OFF_DISK] = places
        if heard is not None:
            for index, argument in zip(places, heard[1], strict=True):
                entry["a"][index] = argument
        return True

    def _give_up(self) -> None:
        """Not heard in time: this process was not subscribed when they passed. The entries read go on without them."""
        self._unheard = None
        self._giving_up = True
        log.warn("what entries of the log carried beside it was not heard: they go on without it")
        self._deliver()

    def _read_failed(self, failure: Any) -> None:
        if self.stopped:
            return
        log.warn("lost the log on Redis: {why}", why=failure.getErrorMessage())
        self._lost_contact()

    def _lost_contact(self) -> None:
        if self.up:
            self.up = False
            if self.reader is not None:
                self.reader.unavailable()
            self._later(self._try_again)

    def _try_again(self) -> None:
        """Is our place in the log still there? Then read on from it; if Redis lost it, start again."""
        if self.stopped:
            return
        checks = DeferredList(
            [
                self._bounded(self.reading.execute_command("XRANGE", self.keys["log"], self.last, self.last)),
                self._bounded(self.commands.set(self._alive_key(self.process), b"1", pexpire=int(self.ttl * 1000))),
            ],
            fireOnOneErrback=True,
            consumeErrors=True,
        )

        def answered(results: list[tuple[bool, Any]]) -> None:
            if self.stopped:
                return
            (_, found), _ = results
            self.up, self._refusal = True, None
            self._reconnected = self.clock.seconds()
            assert self.reader is not None
            if found:
                self.reader.available()
                self._read()
            else:
                self.reader.lost_place()  # it calls join, which starts reading again

        checks.addCallbacks(answered, lambda _: self._later(self._try_again))

    def _refused(self, why: str) -> None:
        """Redis refuses our connections as they are made again (_Kept.stopTrying). An error, unlike losing Redis:
        it will not pass by itself, someone must change Redis's configuration or --redis. Said once for the three
        connections, and again only if what Redis refuses changes. The password is not in `why` (txredisapi's
        words and Redis's answer)."""
        if why != self._refusal:
            self._refusal = why
            log.error(
                "Redis at {url} refuses chatroom's connections ({why}): this server shares nothing with the others"
                " until it accepts them, and tries again every {retry:g} seconds. Did Redis's password (requirepass,"
                " or its ACL user) or number of databases change? The --redis URL must match them.",
                url=self.address.shown(),
                why=why,
                retry=RETRY,
            )

    def _failed_to_join(self, failure: Any) -> None:
        log.warn("could not join the log on Redis: {why}", why=failure.getErrorMessage())
        self._later(self._retry_join)

    def _retry_join(self) -> None:
        if not self.stopped and self.reader is not None:
            self.join(self.process, self.reader)

    def _heartbeat(self) -> Deferred[None] | None:
        """Say we are alive, forget old entries, and append `gone` for the processes that stopped saying it."""
        if not self.up:
            return None
        commands = self.commands
        ttl = int(self.ttl * 1000)
        said = DeferredList(
            [
                commands.set(self._alive_key(self.process), b"1", pexpire=ttl),
                commands.execute_command("PEXPIRE", self.connections_key(self.process), ttl),
                commands.eval(TRIM, [self.keys["log"]], [self.retention]),
                commands.set(self.keys["rewrite"], b"1", expire=max(1, int(self.rewrite)), only_if_not_exists=True),
            ],
            consumeErrors=True,
        )
        said.addCallback(self._rewrite)
        self._forget_unheard()
        if self.clock.seconds() - self._reconnected >= 2 * self.ttl:  # after an outage, time for the others to say it
            said.addCallback(lambda _: commands.smembers(self.keys["processes"])).addCallback(self._reap)
        return said.addErrback(passed_over).addCallback(lambda _: None)

    def _rewrite(self, results: list[tuple[bool, Any]]) -> Deferred[None] | None:
        """Our turn (PREFIX:rewrite was free): have Redis rewrite its append-only file, if it keeps one.

        Its file records every command until Redis rewrites it from what it holds: until then a trimmed entry or
        a removed line is still on its disk. Without an append-only file there is nothing to rewrite (and a
        rewrite would write one).
        """
        ok, ours = results[-1]
        if not ok or not ours:
            return None
        asked: Deferred[Any] = self.commands.execute_command("INFO", "persistence")

        def rewrite(info: bytes) -> Deferred[Any] | None:
            if b"aof_enabled:1" not in info:
                return None
            rewriting: Deferred[Any] = self.commands.execute_command("BGREWRITEAOF")
            return rewriting.addErrback(lambda failure: failure.trap(txredisapi.ResponseError))  # refused: one runs

        return asked.addCallback(rewrite).addErrback(passed_over).addCallback(lambda _: None)

    def _forget_unheard(self) -> None:
        """What no entry came for (its XADD failed) is forgotten once the entry would have been trimmed."""
        too_old = self.clock.seconds() - self.retention
        for token in [token for token, (heard, _) in self.unwritten.items() if heard < too_old]:
            del self.unwritten[token]

    def _reap(self, processes: set[bytes]) -> Deferred[None]:
        others = [process.decode() for process in processes if process.decode() != self.process]
        checks = [self.commands.exists(self._alive_key(process)) for process in others]

        def reap(found: list[tuple[bool, Any]]) -> None:
            for process, (ok, alive) in zip(others, found, strict=True):
                if ok and not alive:
                    log.info("process {process} stopped answering: its members leave", process=process)
                    keys = self._process_keys(process)
                    self.commands.eval(GONE, keys, self._gone(process, "server lost")).addErrback(passed_over)

        return DeferredList(checks, consumeErrors=True).addCallback(reap)


def passed_over(failure: Failure) -> None:
    """What became of a command of the log's upkeep that failed. Redis going away meanwhile is passed over: the
    reading side notices and says so, and the next beat or try sends it again. Redis refusing it (a script's error,
    a user without the right to run it, a replica that only reads) is a warning, and anything else a bug, told as
    `mistake` tells it: passed over, either left a lost process's members in the chat for ever.
    """
    if failure.check(txredisapi.ResponseError):
        log.warn("Redis refused a command of the log's upkeep: {why}", why=failure.getErrorMessage())
    elif failure.check(txredisapi.ConnectionError, Unanswered, CancelledError, ConnectionClosed):
        log.debug("{why}", why=failure.getErrorMessage())
    else:
        log.error(
            "the upkeep of the log on Redis failed: {mistake}", mistake=mistake(cast(BaseException, failure.value))
        )


def _bug_joining(failure: Failure) -> None:
    """Told without its message: what a process reads as it joins holds the rooms' kept lines."""
    log.error("could not join the log: {mistake}", mistake=mistake(cast(BaseException, failure.value)))


class Sharing(Service):
    """Joins the log on Redis as twistd starts, and leaves it last, once every member here has been let go."""

    def __init__(self, replica: Replica, bus: RedisLog) -> None:
        self.replica = replica
        self.bus = bus

    def startService(self) -> None:
        Service.startService(self)
        joined = self.bus.connect().addCallback(lambda _: self.replica.start())
        joined.addCallback(lambda _: log.info("chatroom joined the others through Redis"))
        joined.addErrback(lambda failure: log.failure("could not join the others through Redis", failure))

    def stopService(self) -> Deferred[None]:
        Service.stopService(self)
        return self.replica.left.addCallback(lambda _: self.bus.disconnect())

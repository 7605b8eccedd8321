"""The limits that matter for abuse, counted in Redis over every process sharing the chat (with --redis).

The connection cap per address and the slow-downs of logins and IRC server passwords would otherwise hold per
process, so that N processes allowed N times as much. The total cap (--max-clients) and the password checks at
once stay per process: they protect each process's own file descriptors, memory and CPU.

Keys, under the prefix, besides chatroom.bus.redis's (nothing anyone says: counts, addresses and account names):
- `PREFIX:connections:PROCESS`, a hash, address key -> the process's connections from it (chatroom.bus.redis
  clears and deletes it with the process's `hello` and `gone`; it expires `ttl` after the process's last beat).
- `PREFIX:failures:KEY`, failed logins of an address, of an account from an address, or of an account, and wrong
  server passwords from an address (`server-password:ADDRESS`): a count whose time to live is the wait it imposes
  plus BACKOFF_FORGET, so the wait is read from Redis's own clock.
- `PREFIX:checking:KEY`, a check in flight for an address or an account: `SET NX PX CHECK_MARK`, taken away by
  the process that set it (by its value) once the check is done.
- `PREFIX:trusted:ACCOUNT`, a sorted set, address -> when it last logged in to the account: the newest
  TRUSTED_PER_ACCOUNT, for TRUSTED_FOR after the login.
docs/scaling.md says what happens while Redis cannot be reached.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from chatroom.bus.redis import RedisLog
from chatroom.core.errors import ChatError
from chatroom.server.auth import (
    ACCOUNT_ALLOWANCE,
    BACKOFF_FORGET,
    BACKOFF_MAX,
    TRUSTED_PER_ACCOUNT,
    TYPO_ALLOWANCE,
    Attempt,
)

log = Logger(namespace="chatroom")

CHECK_MARK = 30.0  # seconds a check in flight is marked at most: longer than a check waits and runs
TRUSTED_FOR = 30 * 24 * 3600.0  # seconds an address stays trusted by an account after logging in to it

CLAIM = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return -1 end
local total = 0
for _, process in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  total = total + tonumber(redis.call('HGET', ARGV[4] .. process, ARGV[2]) or '0')
end
if total >= tonumber(ARGV[3]) then return 0 end
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return 1
"""

RELEASE = """
if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
"""

# The clock is Redis's: every process reads the same waits, whatever the skew between machines.
NOW = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
"""

BEGIN = (
    NOW
    + """
local since = redis.call('ZSCORE', KEYS[1], ARGV[1])
local trusted = since and tonumber(since) > now - tonumber(ARGV[5])
local answer = trusted and 1 or 0
if redis.call('EXISTS', KEYS[2]) == 1 or (not trusted and redis.call('EXISTS', KEYS[3]) == 1) then
  return {answer, 1, 0}
end
local wait = math.max(redis.call('PTTL', KEYS[4]), redis.call('PTTL', KEYS[5]))
if not trusted then wait = math.max(wait, redis.call('PTTL', KEYS[6])) end
wait = wait - tonumber(ARGV[4])
if wait > 0 then return {answer, 0, wait} end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
if not trusted then redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3]) end
return {answer, 0, 0}
"""
)

# chatroom.server.auth.Backoff's waits: 1, 2, 4 ... `most` seconds once a key's allowance of failures is spent; the key
# lives `forget` milliseconds longer than its wait, so its wait is its time to live minus `forget`.
FAIL = """
local function fail(key, allowance, forget, most)
  local slowed = redis.call('INCR', key) - allowance
  local wait = 0
  if slowed > 0 then wait = math.min(2 ^ (slowed - 1), most) end
  redis.call('PEXPIRE', key, math.floor(wait * 1000) + forget)
end
"""

FINISH = (
    NOW
    + FAIL
    + """
for i = 2, 3 do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
if ARGV[2] == 'failed' then
  for i = 4, 6 do
    fail(KEYS[i], tonumber(i == 6 and ARGV[5] or ARGV[9]), tonumber(ARGV[4]), tonumber(ARGV[6]))
  end
elseif ARGV[2] == 'succeeded' then
  redis.call('DEL', KEYS[5])
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[7]))
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -1 - tonumber(ARGV[8]))
  redis.call('PEXPIRE', KEYS[1], ARGV[7])
end
"""
)

# A guess at a shared secret, in one step: refused while the key waits, else booked as right or wrong. Whether
# it was right is known before (the caller compared it), so that parallel guesses cannot all pass one check.
GUESS = (
    FAIL
    + """
local wait = redis.call('PTTL', KEYS[1]) - tonumber(ARGV[2])
if wait > 0 then return wait end
if ARGV[1] == 'right' then redis.call('DEL', KEYS[1]) else fail(KEYS[1], 0, tonumber(ARGV[2]), tonumber(ARGV[3])) end
return 0
"""
)


def _nothing() -> None:
    """What releases a connection Redis did not count."""


class RedisCounts:
    """chatroom.server.limits.AddressCounts: each process's connections per address in its own hash, summed over all.

    While Redis cannot be reached, the process's own count decides (Admission's, already passed), and the
    connections it admits meanwhile are never counted in Redis: they only leave the cap looser until they end.
    """

    def __init__(self, bus: RedisLog) -> None:
        self.bus = bus

    def claim(self, key: str, cap: int) -> Deferred[Callable[[], None] | None]:
        bus = self.bus
        if not bus.up:
            return succeed(_nothing)
        joins, mine = bus.joins, bus.connections_key(bus.process)
        keys = [bus.keys["processes"], mine]
        arguments = [bus.process, key, cap, bus.connections_key(""), int(bus.ttl * 1000)]
        asked: Deferred[int] = bus.commands.eval(CLAIM, keys, arguments)

        def answered(counted: int) -> Callable[[], None] | None:
            if counted == 0:
                return None
            if counted < 0:  # the others gave this process up and it has not said hello again: nothing to sum
                return _nothing
            return lambda: self._release(joins, mine, key)

        return asked.addCallbacks(answered, self._unanswered)

    def _release(self, joins: int, mine: str, key: str) -> None:
        if self.bus.joins != joins:  # the hello since then cleared the hash: this one is no longer in it
            return
        self.bus.commands.eval(RELEASE, [mine], [key]).addErrback(_unbooked)

    @staticmethod
    def _unanswered(failure: Failure) -> Callable[[], None]:
        log.warn("could not count a connection in Redis: {why}", why=failure.getErrorMessage())
        return _nothing


class RedisBook:
    """chatroom.server.auth.LoginBook in Redis: a guesser gets as few guesses spread over processes as against one.

    While Redis cannot be reached, `begin` refuses with SLOW_DOWN rather than fall back to this process's
    memory: a login then could not lead to a registration anyway (the chat refuses every change while degraded),
    but its answer would still tell a guesser whether the password was right, N times as fast.
    """

    def __init__(self, bus: RedisLog) -> None:
        self.bus = bus
        self._serial = itertools.count(1)

    def _key(self, kind: str, name: str) -> str:
        return f"{self.bus.prefix}:{kind}:{name}"

    def _keys(self, account: str, address: str) -> list[str]:
        """The keys BEGIN and FINISH take: trusted addresses, checks in flight (address, account), failures
        (address, account from address, account)."""
        attempt = Attempt(account, address, trusted=False)
        checking = [self._key("checking", name) for name in (attempt.place, account)]
        failures = [self._key("failures", name) for name in (attempt.place, attempt.pair, account)]
        return [self._key("trusted", account), *checking, *failures]

    def begin(self, account: str, address: str) -> Deferred[Attempt]:
        if not self.bus.up:
            return fail(ChatError("SLOW_DOWN", "unshared"))
        token = f"{self.bus.process}/{next(self._serial)}"
        arguments = [address, token, int(CHECK_MARK * 1000), int(BACKOFF_FORGET * 1000), int(TRUSTED_FOR * 1000)]
        asked: Deferred[list[int]] = self.bus.commands.eval(BEGIN, self._keys(account, address), arguments)

        def answered(answer: list[int]) -> Attempt:
            trusted, checking, wait = answer
            return Attempt(account, address, bool(trusted), bool(checking), wait / 1000, token)

        def unanswered(failure: Failure) -> Attempt:
            log.warn("could not read the login slow-downs in Redis: {why}", why=failure.getErrorMessage())
            raise ChatError("SLOW_DOWN", "unshared")

        return asked.addCallbacks(answered, unanswered)

    def abandon(self, attempt: Attempt) -> Deferred[None]:
        return self._finish(attempt, "abandoned")

    def failed(self, attempt: Attempt) -> Deferred[None]:
        return self._finish(attempt, "failed")

    def succeeded(self, attempt: Attempt) -> Deferred[None]:
        return self._finish(attempt, "succeeded")

    def _finish(self, attempt: Attempt, outcome: str) -> Deferred[None]:
        """Take the attempt's marks away and book its outcome, in one step: nobody sees one without the other."""
        arguments: list[Any] = [attempt.token, outcome, attempt.address, int(BACKOFF_FORGET * 1000)]
        arguments += [ACCOUNT_ALLOWANCE, BACKOFF_MAX, int(TRUSTED_FOR * 1000), TRUSTED_PER_ACCOUNT, TYPO_ALLOWANCE]
        done: Deferred[None] = self.bus.commands.eval(FINISH, self._keys(attempt.account, attempt.address), arguments)
        return done.addCallbacks(lambda _: None, _unbooked)


class RedisGuesses:
    """chatroom.server.auth.GuessBook in Redis, `PREFIX:failures:KEY` as the logins' failures: waits on Redis's clock.

    While Redis cannot be reached, every guess is refused with SLOW_DOWN, as logins are (RedisBook): its answer
    would tell a guesser whether the password was right, on each process at its own pace.
    """

    def __init__(self, bus: RedisLog) -> None:
        self.bus = bus

    def guess(self, key: str, right: bool) -> Deferred[float]:
        if not self.bus.up:
            return fail(ChatError("SLOW_DOWN", "unguessed"))
        keys = [f"{self.bus.prefix}:failures:{key}"]
        arguments = ["right" if right else "wrong", int(BACKOFF_FORGET * 1000), BACKOFF_MAX]
        asked: Deferred[int] = self.bus.commands.eval(GUESS, keys, arguments)

        def unanswered(failure: Failure) -> float:
            log.warn("could not read the server password's slow-down in Redis: {why}", why=failure.getErrorMessage())
            raise ChatError("SLOW_DOWN", "unguessed")

        return asked.addCallbacks(lambda wait: wait / 1000, unanswered)


def _unbooked(failure: Failure) -> None:
    """Redis went away: the marks expire by themselves, and the others are told of the outage elsewhere."""
    log.warn("could not book a limit in Redis: {why}", why=failure.getErrorMessage())

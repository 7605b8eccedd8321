"""Rooms' history in Redis (--redis with --history): what every replica keeps, written down so that it outlives them.

Keys, under the prefix (chatroom.bus.redis.HistoryKeys):
- `PREFIX:history:ROOM` (ROOM a room's key, chatroom.core.names.room_key), a list: the lines the room keeps, oldest
  first, each as snapshots carry it (JSON `[nick, text, action, notice, id, time]`). At most --history of them;
  with --history-age, the writer drops older ones every minute, and the list expires that long after its last
  line was written, whether a process runs or not.
- `PREFIX:histories`, a hash: ROOM -> `EPOCH SAID NAME`: the room's life, the number of its last message (kept or
  not) and its name. A process that starts alone goes on with them, so ids stay valid across a restart.
- `PREFIX:history-written`: the place in the log (chatroom.bus.log.PLACE) of the last change written.
- `PREFIX:conversations`, a hash: KEY (a conversation between two accounts, chatroom.core.private) -> `EPOCH SAID`;
  `PREFIX:history:KEY`, a list (KEY has a space, as no room's key has): its lines as JSON `[recipient, nick, text,
  action, notice, id, time]`, bounded as a room's. Written only with --history-private; a process that starts alone
  without it deletes them (HELLO).
- `PREFIX:markers`, a hash: `ACCOUNT TARGET` -> the time the account has read TARGET (a room's or a nickname's
  marker key, chatroom.core.markers) up to; only ever moved forward. Read with the hello, so that a process that
  starts alone goes on with them (the others have them in the shared chat). Times only, never text.
- `PREFIX:stays`, a hash: `ROOM ACCOUNT` -> when the account's stay in that registered room began
  (chatroom.core.members.Room.stays): read with the hello as markers are, deleted as the stay ends. Times only.

**One writer, in the log's order.** Every replica changes its rooms' history in the log's order. Redis's copy must
go through the same changes in the same order: a redaction or a clearing that reached Redis before the line it
removes would let that line come back at the next restart. Redis runs the commands of one connection in the order
sent, those of two processes in any order; so one process writes at a time: the oldest (the first of
Replica.processes, which every replica agrees on at each point of the log), one script call at a time, each
carrying every change made since the last (those of WRITE_EVERY seconds, or of the last call's round trip if longer).

The other processes hold back what they would have written, until the writer says it wrote it (they ask every
ASK_EVERY seconds), and never longer than the log keeps its entries. When the writer goes (stopped, or lost and
declared gone), the next oldest takes over at that point of the log and sends what it held back: the script
writes only the changes placed after the last one written, so a change the writer made before it went is not made
twice, and one it never made is not lost.

**Read with the hello** (chatroom.bus.redis.HELLO): the registered rooms' history, as it was at that point of the
log; a process that starts alone starts its registered rooms from it. The history of a room that is not registered
ends with it: deleted when it empties, and, for those left when the last process leaves, by that process's `gone`
(or the next `hello` alone). docs/scaling.md has the whole account.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from twisted.internet import task
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from chatroom.bus.redis import RETENTION, RETRY, HistoryKeys, passed_over
from chatroom.bus.shared import line_data, line_message
from chatroom.core.events import Message
from chatroom.core.history import HistoryLimits, Reach, timestamp
from chatroom.core.names import room_key
from chatroom.core.rules import unkept
from chatroom.core.state import KeptHistory

if TYPE_CHECKING:
    from chatroom.core.members import Room

log = Logger(namespace="chatroom")

WRITE_EVERY = 0.1  # seconds the writer gathers changes before a call: fewer, larger calls cost Redis less per change
PRUNE_EVERY = 60.0  # seconds between two passes dropping lines older than --history-age
ASK_EVERY = 2.0  # seconds between two questions of a process that holds changes back: how far has the writer written?

# KEYS: the histories hash, the place written, the markers hash, the conversations hash, the stays hash. ARGV: the
# lists' prefix (a conversation's lines are under it too), the lines kept per room, the ms a list lives after its last
# line (0: for ever), and the changes as JSON [[place, [change, ...]], ...], in the log's order.
WRITE = """
local histories, lists, most, life = KEYS[1], ARGV[1], tonumber(ARGV[2]), ARGV[3]
local abouts, changed = {}, {}  -- what the hash holds of a room, as this call leaves it; the rooms to write back
local function about(room)
  if abouts[room] == nil then abouts[room] = redis.call('HGET', histories, room) or false end
  return abouts[room]
end
local function add(list, line)
  if redis.call('RPUSH', list, line) > most then redis.call('LTRIM', list, -most, -1) end
  if life ~= '0' then redis.call('PEXPIRE', list, life) end
end
local written = redis.call('GET', KEYS[2]) or ''
for _, group in ipairs(cjson.decode(ARGV[4])) do
  if group[1] > written then
    for _, change in ipairs(group[2]) do
      local kind, room = change[1], change[2]
      local list = lists .. room
      if kind == 'said' then
        local before = about(room)
        if not before or string.match(before, '^%S+') ~= string.match(change[3], '^%S+') then
          redis.call('DEL', list)  -- the room began again: what it kept before is not this life's
        end
        abouts[room], changed[room] = change[3], true
        if change[4] ~= '' then add(list, change[4]) end
      elseif kind == 'redacted' then
        local ids = {}
        for _, id in ipairs(change[3]) do ids[id] = true end
        local at = string.find(room, ' ', 1, true) and 6 or 5  -- a conversation's line has its recipient first
        for _, line in ipairs(redis.call('LRANGE', list, 0, -1)) do
          if ids[cjson.decode(line)[at]] then redis.call('LREM', list, 1, line) end
        end
      elseif kind == 'cleared' then
        redis.call('DEL', list)
      elseif kind == 'ended' then
        redis.call('DEL', list)
        redis.call('HDEL', histories, room)
        abouts[room], changed[room] = false, nil
      elseif kind == 'private' then  -- a line of a conversation between accounts: kept as a room's are
        local own = list  -- PREFIX:history:KEY: a conversation key has a space, as no room key has
        local before = redis.call('HGET', KEYS[4], room)
        if before and string.match(before, '^%S+') ~= string.match(change[3], '^%S+') then redis.call('DEL', own) end
        redis.call('HSET', KEYS[4], room, change[3])
        add(own, change[4])
      elseif kind == 'marked' then  -- an account's read marker: only ever forward (times compare as text)
        local field = room .. ' ' .. change[3]
        local before = redis.call('HGET', KEYS[3], field)
        if not before or before < change[4] then redis.call('HSET', KEYS[3], field, change[4]) end
      elseif kind == 'stayed' then  -- an account's stay in a registered room began
        redis.call('HSET', KEYS[5], room .. ' ' .. change[3], change[4])
      elseif kind == 'left' then
        redis.call('HDEL', KEYS[5], room .. ' ' .. change[3])
      elseif kind == 'all' then  -- every room's history anew; those not named end
        for _, other in ipairs(redis.call('HKEYS', histories)) do
          redis.call('DEL', lists .. other)
          redis.call('HDEL', histories, other)
        end
        abouts, changed = {}, {}
        for named, kept in pairs(change[3]) do
          abouts[named], changed[named] = kept[1], true
          for _, line in ipairs(kept[2]) do add(lists .. named, line) end
        end
        redis.call('DEL', KEYS[5])  -- and the registered rooms' stays
        for field, start in pairs(change[4]) do redis.call('HSET', KEYS[5], field, start) end
      end
    end
    written = group[1]
  end
end
for room in pairs(changed) do redis.call('HSET', histories, room, abouts[room]) end
redis.call('SET', KEYS[2], written)
return written
"""

# KEYS: the histories hash (or the conversations'). ARGV: the lists' prefix, the time before which lines go (as
# history.timestamp writes it, so that times compare as strings), and where a line's time is in its JSON.
PRUNE = """
local dropped = 0
for _, room in ipairs(redis.call('HKEYS', KEYS[1])) do
  local list = ARGV[1] .. room
  while true do
    local first = redis.call('LINDEX', list, 0)
    if not first or cjson.decode(first)[tonumber(ARGV[3])] >= ARGV[2] then break end
    redis.call('LPOP', list)
    dropped = dropped + 1
  end
end
return dropped
"""


# What PRUNE is run over: rooms' lines (time 6th), conversations' (time 7th, after the recipient), as HistoryKeys names
PRUNED = (("histories", 6), ("conversations", 7))


class RedisHistory:
    """chatroom.core.state.HistoryStore in Redis, for one replica of a shared chat (chatroom.bus.shared.SharedHistory).

    Read with the hello (chatroom.bus.redis.Kept); written by the oldest process, on the log's own connection.
    """

    def __init__(self, prefix: str, clock: IReactorTime, limits: HistoryLimits) -> None:
        self.keys = HistoryKeys.under(prefix)
        self.clock = clock
        self.limits = limits
        self._read: list[Any] = []  # the registered rooms' history at this process's last hello, as Redis gave it
        self._markers: dict[str, dict[str, str]] = {}  # the accounts' read markers at the last hello
        self._stays: dict[str, dict[str, str]] = {}  # room -> account -> when its stay began, at the last hello
        self._private: list[Any] = []  # the conversations between accounts at the last hello
        self.commands: Any = None
        self.place = ""  # the place in the log of the entry whose changes are being made
        self.leading = False  # whether this process writes
        self._unsent: list[list[Any]] = []  # the writer's changes, grouped by place: [place, [change...]]
        # A change is kept as made, a said line as its Message (which the room holds anyway): encoded when sent.
        self._held: deque[list[Any]] = deque()  # the others': [place, [change...], when made]
        self._sending = False  # a call is due or on its way: the next waits for it
        self._next: IDelayedCall | None = None  # the next call, gathering changes meanwhile, or trying again
        # Fires once Redis answered the last call made. Not txredisapi's Deferred itself: that one counts as `called`
        # as soon as it has a connection, while it still waits for the command's answer.
        self._answered: Deferred[None] = succeed(None)
        self._pruning = task.LoopingCall(self._prune)
        self._pruning.clock = clock
        self._asking = task.LoopingCall(self._ask)
        self._asking.clock = clock

    def loaded(self, kept: list[Any], commands: Any) -> None:
        """At each hello: this replica starts afresh, and what it held back belongs to its earlier life."""
        self.commands = commands
        self._read = kept
        self._held.clear()
        log.info(
            "from Redis: the history of {rooms} registered rooms, {lines} lines",
            rooms=len(kept),
            lines=sum(len(lines) for _, lines in kept),
        )

    # chatroom.core.state.HistoryStore

    reads_back = False  # every replica holds all that Redis keeps for it to read, within --history-memory

    def older(self, reaches: list[Reach]) -> Deferred[list[Message]]:
        return succeed([])

    def bounded(self, room: str, limits: HistoryLimits) -> None:
        """Told the lines each rule drops instead (`redacted`), as all the replicas drop the same."""

    def load(self) -> dict[str, KeptHistory]:
        """Read only by a process that is the chat: a later one takes the history from its snapshot."""
        saved = {}
        for about, lines in self._read:  # txredisapi gives a room key such as "5" as a number: the name says it
            try:
                life, said, name = about.decode().split(" ")
                messages = [line_message(name, json.loads(line)) for line in lines]
                saved[room_key(name)] = KeptHistory(life, int(said), messages)
            except (AttributeError, TypeError, ValueError) as error:
                log.error("a room's history in Redis is damaged ({error!r}): left out", error=error)
        return saved

    def said(self, room: str, message: Message, kept: bool = True) -> None:
        self._change(["said", room, message if kept else unkept(message)])

    def redacted(self, room: str, ids: list[str], nick: str = "") -> None:
        self._change(["redacted", room, ids])

    def cleared(self, room: str) -> None:
        self._change(["cleared", room])

    def ended(self, room: str) -> None:
        self._change(["ended", room])

    def renamed(self, room: str, key: str, name: str) -> None:
        """Its copy in Redis ends: every replica holds the room's lines in memory, where they go on."""
        self.ended(room)

    def private_loaded(self, conversations: list[Any]) -> None:
        self._private = conversations

    def load_private(self) -> dict[str, KeptHistory]:
        """The conversations between accounts as Redis kept them, for a process that starts alone."""
        saved = {}
        for key, about, lines in self._private:
            try:
                life, said = about.decode().split(" ")
                messages = [line_message(recipient, line) for recipient, *line in map(json.loads, lines)]
                saved[key.decode()] = KeptHistory(life, int(said), messages)
            except (AttributeError, TypeError, ValueError) as error:
                log.error("a private conversation in Redis is damaged ({error!r}): left out", error=error)
        return saved

    def said_private(self, conversation: str, message: Message) -> None:
        self._change(["private", conversation, message])

    def markers_loaded(self, markers: list[Any]) -> None:
        """PREFIX:markers at the hello (HGETALL's flat list): what `load_markers` gives a process that is the chat."""
        self._markers = {}
        for account, target, time in _hash_fields(markers):
            self._markers.setdefault(account, {})[target] = time

    def load_markers(self) -> dict[str, dict[str, str]]:
        """The accounts' markers as Redis kept them: a process that starts alone goes on with them (the others take
        them from the shared chat's snapshot)."""
        return self._markers

    def marked(self, account: str, target: str, time: str) -> None:
        self._change(["marked", account, target, time])

    def stays_loaded(self, stays: list[Any]) -> None:
        """PREFIX:stays at the hello (HGETALL's flat list): what `load_stays` gives a process that is the chat."""
        self._stays = {}
        for room, account, start in _hash_fields(stays):
            self._stays.setdefault(room, {})[account] = start

    def load_stays(self) -> dict[str, dict[str, str]]:
        """The accounts' stays as Redis kept them, for a process that starts alone (as `load_markers`)."""
        return self._stays

    def stayed(self, room: str, account: str, time: str) -> None:
        self._change(["stayed", room, account, time])

    def left(self, room: str, account: str) -> None:
        self._change(["left", room, account])

    # chatroom.bus.shared.SharedHistory

    def turn(self, place: str) -> None:
        self.place = place

    def lead(self, rooms: dict[str, Room] | None = None) -> None:
        if not self.leading:
            log.info("this process writes the rooms' history to Redis from now on")
            self.leading = True
            self._stop()
            held, self._held = self._held, deque()
            self._unsent[:0] = [group[:2] for group in held]
            if self.limits.age:
                self._pruning.start(PRUNE_EVERY)
        if rooms is not None:
            about = {key: [_about(room), [_line(said) for said in room.history.kept]] for key, room in rooms.items()}
            stays = {
                f"{key} {account}": timestamp(start)
                for key, room in rooms.items()
                if room.owner
                for account, start in room.stays.items()
            }
            self._change(["all", "", about, stays])
        self._send_soon()

    def follow(self) -> None:
        if self.leading:
            self.leading = False
            self._unsent = []  # the next writer sends them again: it held them back
            self._stop()
        if not self._asking.running:
            self._asking.start(ASK_EVERY, now=False)

    def leave(self) -> Deferred[None]:
        written = self.flush()
        self.leading = False
        self._stop()
        return written

    def flush(self) -> Deferred[None]:
        """Send what waits now, without waiting for the call on its way; fires once Redis answered both.

        For a process that leaves (its goodbye must come after), and for tests: two calls on their way at once could
        be taken out of order if the first failed and the second did not.
        """
        if self.leading and self._unsent and self.commands is not None:
            groups, self._unsent = self._unsent, []
            self._call(groups).addErrback(_unwritten)
        done: Deferred[None] = Deferred()
        self._answered.addCallback(_passing, done)
        return done

    # Inside

    def _stop(self) -> None:
        for loop in (self._pruning, self._asking):
            if loop.running:
                loop.stop()
        if self._next is not None and self._next.active():
            self._next.cancel()
        self._sending = False

    def _change(self, change: list[Any]) -> None:
        if self.leading:
            _group(self._unsent, self.place, change)
            self._send_soon()
            return
        # Held until the writer says it wrote them (_ask), and never longer than the log keeps entries: a writer lost
        # later than that has its gone by then.
        now = self.clock.seconds()
        _group(self._held, self.place, change, now)
        while self._held[0][2] < now - RETENTION:
            self._held.popleft()

    def _send_soon(self) -> None:
        if self.leading and self._unsent and not self._sending:
            self._sending = True
            self._next = self.clock.callLater(WRITE_EVERY, self._send)

    def _send(self) -> None:
        groups, self._unsent = self._unsent, []
        if not self.leading or not groups:
            self._sending = False
            return
        self._call(groups).addCallbacks(self._sent, self._failed, errbackArgs=(groups,))

    def _call(self, groups: list[list[Any]]) -> Deferred[Any]:
        age = str(int(self.limits.age * 1000))
        changes = [[place, [_wire(change) for change in group]] for place, group, *_ in groups]
        arguments = [self.keys.lists, self.limits.lines, age, _json(changes)]
        keys = [self.keys.histories, self.keys.written, self.keys.markers, self.keys.conversations, self.keys.stays]
        call: Deferred[Any] = self.commands.eval(WRITE, keys, arguments)
        self._answered = Deferred()
        call.addBoth(_passing, self._answered)
        return call

    def _sent(self, _: object) -> None:
        self._sending = False
        self._send_soon()

    def _failed(self, failure: Any, groups: list[list[Any]]) -> None:
        """Send them again, with what came since: those Redis took after all are passed over by their place."""
        if not self.leading:  # another writes them now, or this process left
            return
        log.warn("could not write the rooms' history to Redis ({why}): trying again", why=failure.getErrorMessage())
        self._unsent[:0] = groups
        self._next = self.clock.callLater(RETRY, self._send)

    def _ask(self) -> None:
        """Forget what the writer has written: only what it has not would be sent again if it went."""
        asked = self.commands.get(self.keys.written)
        asked.addCallback(self._written).addErrback(passed_over)

    def _written(self, place: bytes | None) -> None:
        if place is not None:
            while self._held and self._held[0][0] <= place.decode():
                self._held.popleft()

    def _prune(self) -> None:
        before = timestamp(self.clock.seconds() - self.limits.age)
        for about, place in PRUNED:
            pruned = self.commands.eval(PRUNE, [getattr(self.keys, about)], [self.keys.lists, before, place])
            pruned.addErrback(passed_over)


def _passing(result: object, done: Deferred[None]) -> object:
    """Fire `done` as a call answers, leaving its answer to whoever else waits for it."""
    done.callback(None)
    return result


def _unwritten(failure: Any) -> None:
    """What flush sent was not written: said plainly, since nobody sends it again."""
    log.warn("could not write the rooms' history to Redis: {why}", why=failure.getErrorMessage())


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _line(message: Message) -> str:
    return _json(line_data(message))


def _wire(change: list[Any]) -> list[Any]:
    """A change as WRITE takes it: a said line with the room's life and count, and the line, "" if not kept; a private
    line with its conversation's, and the line with its recipient first."""
    if change[0] not in ("said", "private"):
        return change
    kind, room, message = change
    life, _, number = message.id.rpartition("-")
    count = number.partition(".")[0]  # a message aside is numbered N.K (RoomHistory.stamp): the room's count is N
    if kind == "private":
        return [kind, room, f"{life} {count}", _json([message.room, *line_data(message)])]
    return [kind, room, f"{life} {count} {message.room}", "" if message.to else _line(message)]


def _about(room: Room) -> str:
    """What PREFIX:histories holds of a room."""
    return f"{room.history.epoch} {room.history.said} {room.name}"


def _group(groups: list[list[Any]] | deque[list[Any]], place: str, change: list[Any], *more: object) -> None:
    """Add a change to the group of its place (the last one), or to a new group."""
    if groups and groups[-1][0] == place:
        groups[-1][1].append(change)
    else:
        groups.append([place, [change], *more])


def _hash_fields(flat: list[Any]) -> Iterator[tuple[str, str, str]]:
    """A hash keyed `A B`, as HGETALL gives it (a flat list): each field's two parts, and its value."""
    for field, value in zip(flat[::2], flat[1::2], strict=True):
        first, _, second = field.decode().partition(" ")
        yield first, second, value.decode()

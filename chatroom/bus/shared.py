"""One chat, several processes: each process's replica of it is changed only by the log they all read in order.

A front end calls the chat as it would in one process: a Chat with no rule of its own, whose sequencer
(chatroom.core.sequencing) is this process's Replica. A change (say, join, kick...) is checked at once against
this replica, so that a refusal is answered as usual; it then stops where its effects would begin
(Chat._commit), goes into the log, and is made when it comes back from the log, checked again, by every
replica at the same point of the same order. So every replica holds the same members, rooms, roles and
settings, and every room's events reach its members in one order, whichever process each is connected to;
a change that met another first (two processes giving away one nickname) is refused by every replica, and
the process it came from tells the session that asked (Session.refused; chatroom.core.sequencing's asked_by).
Questions (/who, /rooms) are answered from the replica at once. Members connected elsewhere have a session that
delivers nothing: their own process delivers to them. A person may have sessions on several processes: each
replica holds one such session per session elsewhere, so that every replica counts a person's sessions alike, and
the sessions' ends, lingering and its expiry are log entries too.

A process joining late gets the state from the oldest process, as a snapshot placed in the log at the point
it describes. docs/scaling.md has the whole argument.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import functools
import itertools
import secrets
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from chatroom.bus.log import PLACE, Log
from chatroom.core.chat import Chat
from chatroom.core.errors import ChatError, Departed, mistake
from chatroom.core.events import Event, Message, ServerNotice, Session
from chatroom.core.history import HistoryLimits, RoomHistory
from chatroom.core.markers import ReadMarkers
from chatroom.core.members import Details, Member, Room, RoomLimits, Sessions
from chatroom.core.moderation import Lockdown, Role, Setting
from chatroom.core.names import nick_key, room_key
from chatroom.core.rules import rule_limits
from chatroom.core.sequencing import asking
from chatroom.core.sequencing import changes as declared
from chatroom.core.state import AccountDirectory, HistoryStore, MemoryHistoryStore, RoomStore, StoreError
from chatroom.core.wording import DEGRADED
from chatroom.stores.accounts import SharedAccounts
from chatroom.stores.rooms import ban_data, ban_from_data, room_data, room_from_data

log = Logger(namespace="chatroom")


RESTORED = "the chat is whole again: this server is back in contact with the others"
LOST_PLACE = "this server lost its place among the others: reconnect"
RESYNC = "resync"  # the kind of entry a replica that failed to apply one appends: answered with a snapshot
# Changes the asking session's next line need not wait for: a message changes nothing the next line may depend on,
# and the log keeps one member's messages in the order they were sent.
UNAWAITED = frozenset({"say", "private"})
# The key, in its entry, of the number of a change appended here: its turn is recognised by it, to tell a refusal to
# the session that asked, to tell that session's own line from the person's others (Replica.asker), and, unless
# UNAWAITED, to let that session's front end go on (Replica.settled).
NUMBERED = "q"
# Arguments that must never reach the disk of the log's store, by change: a private message's text, a quit's or a
# kill's reason. An entry names their places under OFF_DISK, and the log carries them beside the entry (Redis:
# PUBLISH, which is never written to its files); a process that was cut off when they passed gets None instead,
# and then drops a private message, and tells a quit without its reason.
OFF_DISK = "off"
UNWRITTEN: dict[str, list[int]] = {"private": [1], "quit": [0], "kill": [1], "expire": [0]}
ENUMS: dict[str, type[enum.Enum]] = {kind.__name__: kind for kind in (Role, Setting, Lockdown)}


class _Ordered(Exception):
    """A change passed its checks outside its turn in the log: it goes into the log instead of being made now."""

    def __init__(self, result: object) -> None:
        self.result = result


class Elsewhere:
    """A session of a member on another process, `process`, which delivers to them; one object per process."""

    def __init__(self, process: str) -> None:
        self.process = process

    def deliver(self, event: Event) -> None:
        pass

    def close(self, reason: str, logged: str | None = None) -> None:
        pass

    def refused(self, error: ChatError) -> None:
        pass


ELSEWHERE = Elsewhere("")  # a session that hears nothing, for those who need one


class SharedHistory(HistoryStore, Protocol):
    """Where rooms' history is written down beside the log (chatroom.bus.history): by one process at a time.

    Every replica tells it each change of its rooms' history; the oldest process writes them, in the log's order,
    and the others hold them back, so that the next oldest can write what the writer had not when it goes.
    """

    def turn(self, place: str) -> None:
        """The changes told from now on are made by the log's entry at `place` (chatroom.bus.log.PLACE)."""

    def lead(self, rooms: dict[str, Room] | None = None) -> None:
        """Write from now on, beginning with what was held back; or, given `rooms`, write their history anew."""

    def follow(self) -> None:
        """Another process writes: hold back the changes from now on."""

    def leave(self) -> Deferred[None]:
        """This process is leaving: send what waits to be written now, and no more; fires once it is written."""


class Unwritten(MemoryHistoryStore):
    """No history written down beside the log: the replicas keep it in memory only, as one process does."""

    def turn(self, place: str) -> None:
        pass

    def lead(self, rooms: dict[str, Room] | None = None) -> None:
        pass

    def follow(self) -> None:
        pass

    def leave(self) -> Deferred[None]:
        return succeed(None)


class Replica:
    """This process's replica of a chat that several share through `log`: the chat's sequencer, and the log's reader.

    It wraps a plain Chat and installs itself as the chat's sequencer: the chat keeps every rule, the replica
    decides when each change is made (in its turn in the log) and keeps what only sharing needs (members by key,
    the processes, snapshots). `written` must be the chat's history store.
    """

    def __init__(
        self, chat: Chat, log: Log, clock: Callable[[], float], written: SharedHistory, process: str | None = None
    ) -> None:
        self._turn: dict[str, Any] | None = None  # the log's entry being applied; None between entries
        self.clock = clock
        self.written = written
        self.chat = chat
        chat.now = self._now
        chat.sequence_by(self)
        self.log = log
        self.left: Deferred[None] = succeed(None)  # fires once the log has been told this process left
        self.process = process or uuid.uuid4().hex[:12]
        self.by_key: dict[str, Member] = {}  # every member present, by Member.key
        self.processes: dict[str, None] = {}  # those sharing the chat, the oldest first
        # Processes that joined and wait for their snapshot, with the entries applied since their hello: a
        # snapshot taken later than the hello (an answer after a process left) says how many it includes.
        self.awaiting: dict[str, int] = {}
        self.ready: Deferred[None] = Deferred()  # fires once this replica holds the chat's state
        self.degraded = False
        self._serial = itertools.count(1)
        self._entering: dict[str, tuple[Session, Deferred[Member]]] = {}  # registrations waiting for their turn
        self._early: list[dict[str, Any]] = []  # entries after our hello, before our snapshot
        self._held_quits: list[dict[str, Any]] = []  # quits while the log could not be reached
        self._batch: list[dict[str, Any]] | None = None  # changes of a Chat.changes block, sent together
        self._then: list[Callable[[], object]] = []  # what waits for the end of the turn
        self._unsettled: dict[str, set[int]] = {}  # by Member.key: its changes appended here, not yet made
        # By Member.key: who waits for them (settled), each for those of one session (None: those nobody asked for)
        self._settling: dict[str, list[tuple[Session | None, Deferred[None]]]] = {}
        self._outcomes: dict[str, dict[int, Deferred[None]]] = {}  # by Member.key, then change: who waits (outcome)
        self._askers: dict[str, dict[int, Session]] = {}  # by Member.key, then change: the session that asked for it
        self._resync: int | None = None  # while resynchronising after a failure: the serial it was asked at
        self._places: dict[str, Elsewhere] = {}  # by process: the session standing for each of its sessions
        # By Member.key, while lingering: the process that appends their expiry, and the reason it will give.
        self.expiring: dict[str, tuple[str, str]] = {}

    def start(self) -> Deferred[None]:
        """Join the log; fires once this replica holds the state of the chat."""
        self.log.join(self.process, self)
        return self.ready

    @property
    def is_ready(self) -> bool:
        return self.ready.called

    def _now(self) -> float:
        """Inside a turn, the time its entry was made, so that every replica sees a ban end at the same point."""
        return float(self._turn["t"]) if self._turn is not None and "t" in self._turn else self.clock()

    # The changes, as front ends call them: Chat hands each one to its sequencer, this replica

    def run(self, name: str, change: Callable[..., Any], member: Member, *args: Any, **kwargs: Any) -> Any:
        """Checked now; made now if this is its turn in the log, else put in the log and made in its turn."""
        if self._turn is not None:
            return change(member, *args, **kwargs)
        try:
            return change(member, *args, **kwargs)
        except _Ordered as ordered:
            self._submit(name, member, args, kwargs)
            return ordered.result  # what the change would return: given to its _commit

    def commit(self, result: object = None) -> None:
        if self._turn is None:
            raise _Ordered(result)

    def enter(
        self,
        session: Session,
        nick: str,
        account: str | None,
        address: str,
        details: Details,
        token: str,
        identity: str | None,
    ) -> Deferred[Member]:
        chat = self.chat
        try:
            chat.register(session, nick, account, address, details, token, identity)
        except _Ordered:
            pass
        except ChatError:
            return fail()
        if self.degraded or not self.is_ready:
            return fail(ChatError("DEGRADED", "" if self.is_ready else "starting"))
        key = f"{self.process}/{next(self._serial)}"
        waiting: Deferred[Member] = Deferred()
        self._entering[key] = (session, waiting)
        entry = {"k": "enter", "p": self.process, "m": key, "a": [nick, account, address, dataclasses.asdict(details)]}
        if token:  # checked here, the one replica sure to know it: the others are told whom it reclaims
            entry["h"] = chat.nicks[nick_key(nick)].key
        if identity is not None:  # the account's the password was checked against: its removal may come first
            entry["i"] = identity
        self._append(entry | {"t": self.clock()})
        return waiting

    def leave(self, member: Member, session: Session, reason: str, lost: bool) -> bool:
        """The session hears nothing more from now, and counts as one elsewhere until its end has its turn."""
        here = self._there(self.process)
        if session in member.sessions:
            member.sessions[member.sessions.index(session)] = here
        entry = {"k": "leave", "p": self.process, "m": member.key, "a": [reason, lost], OFF_DISK: [0]}
        self._append_or_hold(entry | {"t": self.clock()})
        still = [other for other in member.sessions if other is not here]
        return not still and not (lost and self.chat._lingers(member))

    def lingering(self, member: Member, reason: str) -> None:
        """The process whose session was lost last appends the expiry, or, if all were on a process that went,
        the oldest one: once, in the log's order. If that one goes too, the oldest left takes it over."""
        assert self._turn is not None
        owner = self._turn["p"] if self._turn["k"] == "leave" else next(iter(self.processes))
        self._expiring(member, owner, reason)

    def _expiring(self, member: Member, owner: str, reason: str) -> None:
        self.expiring[member.key] = (owner, reason)
        if member.expiry is not None:
            member.expiry.cancel()
            member.expiry = None
        if owner == self.process:
            member.expiry = self.chat.timers.callLater(self.chat.limits.linger, self.chat.expire, member, reason)

    def token_made(self, member: Member, renewed: bool) -> None:
        """Every replica learns the token, beside the log (never on Redis's disk), so any process can check it."""
        entry = {"k": "token", "p": self.process, "m": member.key, "a": [member.token], OFF_DISK: [0]}
        self._append_or_hold(entry | {"r": True} if renewed else entry)

    def _append_or_hold(self, entry: dict[str, Any]) -> None:
        """What must reach the others even while the log is out of reach: held until it is back, as quits are."""
        if self.degraded:
            self._held_quits.append(entry)
        else:
            self._append(entry)

    @contextlib.contextmanager
    def together(self, member: Member, room: str) -> Iterator[None]:
        """The changes made inside go into the log as one entry, so that they are told together everywhere."""
        self.chat._room_of(member, room)
        self._batch = []
        try:
            yield
        finally:
            batch, self._batch = self._batch, None
            if batch:
                entry = {"k": "batch", "p": self.process, "m": member.key, "room": room, "ops": batch}
                self._append(self._numbered(entry | {"t": self.clock()}))

    def closing(self, reason: str) -> None:
        """Leave the log (the other processes see our members quit with `reason`); the chat lets everyone go."""
        self.written.leave()  # before the goodbye, on the same connection: a last process's lines are all written
        self.left = self.log.leave(self.process, reason)

    def _submit(self, name: str, member: Member, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        entry: dict[str, Any] = {"k": "do", "p": self.process, "m": member.key, "f": name, "a": _plain(args)}
        if kwargs:
            entry["kw"] = dict(zip(kwargs, _plain(tuple(kwargs.values())), strict=True))
        if name in UNWRITTEN:
            entry[OFF_DISK] = UNWRITTEN[name]
        if self._batch is not None:
            self._batch.append(entry)
            return
        entry["t"] = self.clock()
        if name != "quit" and (self.degraded or not self.is_ready):  # not ready: resynchronising
            raise ChatError("DEGRADED")
        if self.degraded:
            self._held_quits.append(entry)  # they have gone from here: the others must hear it once it is back
            return
        self._append(self._numbered(entry, awaited=name not in UNAWAITED))

    def _numbered(self, entry: dict[str, Any], awaited: bool = True) -> dict[str, Any]:
        """A change asked for here, numbered so that its turn is recognised: the session asking now (`asking`) is
        the one told if it is refused then, and, if `awaited`, that session's front end waits for it (settled)."""
        serial = next(self._serial)
        asker = asking()
        if asker is not None:
            self._askers.setdefault(entry["m"], {})[serial] = asker
        if awaited:
            self._unsettled.setdefault(entry["m"], set()).add(serial)
        return entry | {NUMBERED: serial}

    def settled(self, member: Member, session: Session | None) -> Deferred[None] | None:
        if not self._awaits(member.key, session):
            return None
        waiting: Deferred[None] = Deferred()
        self._settling.setdefault(member.key, []).append((session, waiting))
        return waiting

    def _awaits(self, key: str, session: Session | None) -> bool:
        """Whether a change `session` asked for as the member `key` is still to have its turn (UNAWAITED aside)."""
        serials = self._unsettled.get(key)
        if serials is None:  # most lines: asked after every one
            return False
        askers = self._askers.get(key, {})
        return any(askers.get(serial) is session for serial in serials)

    def asker(self) -> Session | None:
        """Outside a turn, the session whose line runs now; in one, the session here that asked for its change."""
        return asking() if self._turn is None else self._asker_of(self._turn)

    def _asker_of(self, entry: dict[str, Any]) -> Session | None:
        """The session that asked for `entry`'s change, if it was asked for here and has not had its turn yet."""
        if entry.get("p") != self.process or NUMBERED not in entry:
            return None  # another process's numbers are not ours
        return self._askers.get(entry["m"], {}).get(entry[NUMBERED])

    def outcome(self, member: Member) -> Deferred[None] | None:
        serials = self._unsettled.get(member.key)
        if not serials:
            return None
        waiting: Deferred[None] = Deferred()
        self._outcomes.setdefault(member.key, {})[max(serials)] = waiting  # the latest: the one just asked for
        return waiting

    def _refused(self, entry: dict[str, Any], member: Member, error: ChatError) -> None:
        """One of ours refused in its turn: told to whoever waits for its outcome, else to the session that asked."""
        waiting = self._outcomes.get(entry["m"], {}).pop(entry[NUMBERED], None) if NUMBERED in entry else None
        if waiting is None:
            self._tell_asker(entry, member, error)
        elif not waiting.called:  # a closing connection cancelled its wait
            self._then.append(functools.partial(waiting.errback, error))

    def _tell_asker(self, entry: dict[str, Any], member: Member, error: ChatError) -> None:
        """Tell a refusal of `entry`'s change to the session that asked for it, if it is still one of `member`'s:
        never to the person's other sessions, which did not ask (their devices would show an error for nothing).
        A change no session asked for (the server's own) has nobody to tell."""
        asker = self._asker_of(entry)
        if asker is not None and asker in member.sessions:
            asker.refused(error)

    def _settle(self, entry: dict[str, Any]) -> None:
        """One of ours has had its turn (or never will): once none of those its session asked for is left, that
        session's front end goes on; the person's other sessions never waited for it."""
        if entry.get("p") != self.process:
            return
        key = entry["m"]
        askers = self._askers.get(key)
        if askers is not None:
            askers.pop(entry[NUMBERED], None)
            if not askers:
                del self._askers[key]
        serials = self._unsettled.get(key)
        if serials is None:
            return
        serials.discard(entry[NUMBERED])
        made = self._outcomes.get(key, {}).pop(entry[NUMBERED], None)
        if made is not None and not made.called:
            made.callback(None)
        if not serials:
            del self._unsettled[key]
            self._outcomes.pop(key, None)
        done: list[Deferred[None]] = []
        for session, waiting in self._settling.pop(key, []):
            if self._awaits(key, session):
                self._settling.setdefault(key, []).append((session, waiting))
            else:
                done.append(waiting)
        for waiting in done:  # once the tables are right: what goes on may ask for more
            if not waiting.called:  # a closing connection cancelled its wait
                waiting.callback(None)

    def _append(self, entry: dict[str, Any]) -> None:
        self.log.append(entry)

    # The log's entries, in its order

    def received(self, entry: dict[str, Any]) -> None:
        if not self.is_ready:
            self._before_ready(entry)
            return
        self._turn = entry
        self.written.turn(entry.get(PLACE, ""))
        for newcomer in self.awaiting:
            self.awaiting[newcomer] += 1
        failure = None
        try:
            self._apply(entry)
        except Exception as error:
            failure = error
        finally:
            self._turn = None
        if failure is not None:  # outside the turn: what our members do on hearing of it is not made here at once
            self._failed(entry, failure)
        # Whoever waited for this entry goes on now, outside the turn: what it does next goes to the log in turn.
        then, self._then = self._then, []
        for call in then:
            call()
        if NUMBERED in entry:
            self._settle(entry)

    def _apply(self, entry: dict[str, Any]) -> None:
        kind = entry["k"]
        if kind == "do":
            self._do(entry)
        elif kind == "enter":
            self._enter(entry)
        elif kind == "leave":
            self._leave(entry)
        elif kind == "token":
            self._token(entry)
        elif kind == "batch":
            self._do_batch(entry)
        elif kind in ("hello", RESYNC):  # a replica resynchronising is answered as a newcomer is
            self._hello(entry["p"])
        elif kind == "snapshot":
            self.awaiting.pop(entry["for"], None)
        elif kind == "gone":
            self._gone(entry["p"], entry["r"])
        elif kind == "account" and isinstance(self.chat.accounts, SharedAccounts):
            self.chat.accounts.apply(entry["n"], entry["r"])  # here, so that every replica judges the next change alike
            self.chat.accounts_changed()  # a removed account's people put out: each replica closes its own sessions

    def _do(self, entry: dict[str, Any]) -> None:
        name = entry["f"]
        member = self.by_key.get(entry["m"])
        if member is None or name not in REPLICATED:
            return  # it left before its change's turn (its quit is in the log), or a name no replica sends
        named = entry.get("kw", {})
        args, kwargs = _unplain(entry["a"]), dict(zip(named, _unplain(named.values()), strict=True))
        if any(args[index] is None for index in entry.get(OFF_DISK, ())):  # not heard: see UNWRITTEN
            if name == "private":
                return
            args = ["" if arg is None else arg for arg in args]
        try:
            REPLICATED[name](self.chat, member, *args, **kwargs)
        except ChatError as error:
            if entry["p"] == self.process:
                assert self._turn is not None
                self._refused(self._turn, member, error)  # a batch's change: the batch is what was numbered
        except Departed:
            pass

    def _do_batch(self, entry: dict[str, Any]) -> None:
        member = self.by_key.get(entry["m"])
        if member is None:
            return
        try:
            with self.chat.told_together(member, entry["room"]):
                for change in entry["ops"]:
                    self._do(change)  # at the batch's time: it is the turn's entry
        except ChatError as error:
            if entry["p"] == self.process:
                self._refused(entry, member, error)

    def _enter(self, entry: dict[str, Any]) -> None:
        key = entry["m"]
        nick, account, address, details = entry["a"]
        waiting = self._entering.pop(key, None) if entry["p"] == self.process else None
        session = waiting[0] if waiting is not None else self._there(entry["p"])
        token = ""
        if "h" in entry:  # a resume, its token checked where it was given: still the same person's nickname?
            holder = self.by_key.get(entry["h"])
            token = holder.token if holder is not None else "gone"
        try:
            member = self.chat.register(session, nick, account, address, Details(**details), token, entry.get("i"))
        except ChatError as error:
            if waiting is not None and not waiting[1].called:
                self._then.append(functools.partial(waiting[1].errback, error))
            return
        if not member.key:  # a newcomer, not one more session of someone here
            member.key = key
            self.by_key[key] = member
        if waiting is None:
            return
        if waiting[1].called:  # cancelled: the connection closed while it waited; its session ends at once
            self.chat.leave(member, session, "connection lost")
        else:
            self._then.append(functools.partial(waiting[1].callback, member))

    def _leave(self, entry: dict[str, Any]) -> None:
        member = self.by_key.get(entry["m"])
        there = self._there(entry["p"])
        if member is not None and there in member.sessions:
            reason, lost = entry["a"]
            self.chat.end_session(member, there, reason or "", lost)

    def _token(self, entry: dict[str, Any]) -> None:
        """A replica that did not hear it gets a token nobody holds: the person still lingers alike everywhere.

        A renewed token replaces the one before, which reclaims the person nowhere from then on; their sessions
        here are told it.
        """
        member = self.by_key.get(entry["m"])
        if member is None or entry["p"] == self.process:
            return
        [token] = entry["a"]
        if entry.get("r"):
            self.chat.token_renewed(member, token or secrets.token_urlsafe(18))
        elif not member.token:
            member.token = token or secrets.token_urlsafe(18)

    def _placed(self, member: Member) -> list[tuple[str, int]]:
        """How many sessions `member` has on each process, as every replica counts them."""
        counted = Counter(s.process if isinstance(s, Elsewhere) else self.process for s in member.sessions)
        return sorted(counted.items())

    @staticmethod
    def _local(member: Member) -> list[Session]:
        return [session for session in member.sessions if not isinstance(session, Elsewhere)]

    def _there(self, process: str) -> Elsewhere:
        """The session standing, on this replica, for each session a person has on `process`."""
        return self._places.setdefault(process, Elsewhere(process))

    def departed(self, member: Member) -> None:
        self.by_key.pop(member.key, None)
        self.expiring.pop(member.key, None)
        self._unsettled.pop(member.key, None)  # its connection is closing: nobody waits any more
        self._settling.pop(member.key, None)
        self._outcomes.pop(member.key, None)
        self._askers.pop(member.key, None)

    def stores(self) -> bool:
        """The process whose member made the change writes it down; the others would write the same again."""
        return self._turn is not None and self._turn.get("p") == self.process

    # Processes joining and leaving

    def _before_ready(self, entry: dict[str, Any]) -> None:
        kind = entry["k"]
        if kind in ("hello", RESYNC) and entry["p"] == self.process:
            if entry.get("alone"):
                self._first()
            else:
                self._early = []  # from here on, entries follow the point the snapshot will describe
            return
        if kind == "snapshot" and entry["for"] == self.process:
            self._load(entry["s"], entry["a"][0] or {})  # the tokens: None if they were not heard
            included = self.awaiting.pop(self.process)  # the entries after our hello that the snapshot includes
            early, self._early = self._early[included:], []
            self._become_ready(list(self.processes))
            self._resynchronised(entry.get(PLACE, ""))
            for later in early:
                self.received(later)
            return
        if kind == "gone" and entry["left"] == [self.process]:
            self._early = []  # everyone else went before answering: we are the chat now
            if self._resync is not None:
                self._rebuild()
            else:
                self._first(anew=entry.get(PLACE, ""))
            return
        self._early.append(entry)

    def _first(self, anew: str | None = None) -> None:
        """No process holds the chat: start from the store, as it is now (a store in Redis was read with the hello).

        `anew`: the others went before answering our hello, at this place in the log. What we read with the hello is
        the state now, but the history they wrote since is not in it: ours is written anew, from here.
        """
        try:
            self.chat.start_from_store()
        except StoreError as error:
            log.error("{error}: starting from the rooms read before", error=error)
        if anew is not None:
            self.written.turn(anew)
            self.written.lead(self.chat.rooms)
        self._become_ready([self.process])

    def _become_ready(self, processes: list[str]) -> None:
        self.processes = dict.fromkeys(processes)
        self._write_or_hold()
        self.ready.callback(None)

    def _write_or_hold(self) -> None:
        """The oldest process writes rooms' history down; every replica agrees on which one at each point."""
        if next(iter(self.processes), None) == self.process:
            self.written.lead()
        else:
            self.written.follow()

    def _hello(self, process: str) -> None:
        self.processes[process] = None
        self.awaiting[process] = 0
        self._answer_waiting()

    def _gone(self, process: str, reason: str) -> None:
        self.processes.pop(process, None)
        self.awaiting.pop(process, None)
        if process == self.process:
            self.lost_place()  # the others gave us up: our members are no longer in their chat
            return
        there = self._places.pop(process, None)
        for member in list(self.by_key.values()):
            if there is not None and there in member.sessions:  # its sessions end; some may be elsewhere too
                member.sessions[:] = [session for session in member.sessions if session is not there]
                if not member.sessions:
                    self.chat.end_session(member, there, reason, lost=True)
            elif not member.sessions and self.expiring.get(member.key, ("", ""))[0] == process:
                self._expiring(member, next(iter(self.processes)), self.expiring[member.key][1])
        self._write_or_hold()  # if the writer went, the next oldest writes what it may not have
        self._answer_waiting()

    def _answer_waiting(self) -> None:
        """The oldest process that holds the state answers each newcomer with it, at this point of the log."""
        for newcomer in sorted(self.awaiting):
            answering = next((p for p in self.processes if p != newcomer and p not in self.awaiting), None)
            if answering == self.process:
                tokens = [self._tokens()]  # beside the log: a snapshot is on Redis's disk
                self._append({"k": "snapshot", "for": newcomer, "s": self._snapshot(), "a": tokens, OFF_DISK: [0]})

    def _tokens(self) -> dict[str, str]:
        return {key: member.token for key, member in self.by_key.items() if member.token}

    def _snapshot(self) -> dict[str, Any]:
        return {
            "members": [
                [
                    member.key,
                    member.nick,
                    member.account,
                    member.address,
                    [room.name for room in member.invited],
                    dataclasses.asdict(member.details),
                    self._placed(member),
                    member.seen,
                    bool(member.token),  # never the token itself: a snapshot is on Redis's disk
                    self.expiring.get(member.key),
                ]
                for member in self.by_key.values()
            ],
            "rooms": [
                {
                    "name": room.name,
                    "record": room_data(room.record()),
                    "created": room.created,
                    "topic_time": room.topic_time,  # in the record too: here for processes of an earlier version
                    "metadata": dict(room.metadata),
                    "members": [
                        [member.key, role.value, room.joined.get(member, 0.0)] for member, role in room.members.items()
                    ],
                    "stays": dict(room.stays),  # times only: when each account's stay began
                    "history": [
                        room.history.epoch,
                        room.history.said,
                        room.history.asides,
                        [line_data(message) for message in room.history.kept],
                    ],
                }
                for room in self.chat.rooms.values()
            ],
            # Private conversations, kept with --history-private: [key, life, count, [[recipient, *line]...]] each
            "conversations": [
                [key, kept.epoch, kept.said, [[line.room, *line_data(line)] for line in kept.kept]]
                for key, kept in self.chat.conversations.kept.items()
            ],
            "conversations_opened": self.chat.conversations.opened,
            "conversations_unkept": self.chat.conversations.unkept,
            # Times only, never what was read: accounts' markers, and those of the guests present
            "read_markers": {account: dict(markers.times) for account, markers in self.chat.read_markers.items()},
            "identities": dict(self.chat.identities),  # which account each name's state is of
            "guests_read": {key: dict(member.read.times) for key, member in self.by_key.items() if member.read.times},
            # What people say of themselves (display names, avatars: chatroom.core.metadata), by member key
            "metadata": {key: dict(member.metadata) for key, member in self.by_key.items() if member.metadata},
            "server_bans": [ban_data(ban) for ban in self.chat.server_bans],
            "lockdown": self.chat.lockdown.value,
            "opened": self.chat.opened,
            "processes": list(self.processes),
            "awaiting": dict(self.awaiting),  # as it is now: Redis's log encodes it at the end of the turn
        }

    def _load(self, state: dict[str, Any], tokens: dict[str, str]) -> None:
        """Hold the chat `state` describes; our own members present in it stay the objects front ends hold.

        `tokens`, carried beside the log, are the members' resume tokens, by key.
        """
        ours = {key: member for key, member in self.by_key.items() if self._local(member)}
        self.by_key = {}
        self.expiring = {}
        for key, nick, account, address, _, details, placed, seen, token, expiring in state["members"]:
            member = ours.pop(key, None) or Member(ELSEWHERE, nick, account, address, key)
            member.nick, member.account, member.address, member.details = nick, account, address, Details(**details)
            member.rooms, member.invited, member.seen = {}, {}, seen
            local = self._local(member)
            if (entering := self._entering.pop(key, None)) is not None:  # its registration is in the snapshot
                session, waiting = entering
                local = [session]
                if waiting.called:  # cancelled: the connection closed while it waited; its session ends at once
                    self._then.append(functools.partial(self.chat.leave, member, session, "connection lost"))
                else:
                    self._then.append(functools.partial(waiting.callback, member))
            member.session = Sessions(ELSEWHERE)
            member.session.all = [
                session
                for process, count in placed
                for session in (local if process == self.process else [self._there(process)] * count)
            ]
            if token and not member.token:  # if not heard, one nobody holds: they still linger alike
                member.token = tokens.get(key) or secrets.token_urlsafe(18)
            if expiring is not None:
                self._expiring(member, *expiring)
            member.read = ReadMarkers(state["guests_read"].get(key))
            member.metadata = dict(state.get("metadata", {}).get(key, {}))  # none from a process of an earlier version
            self.by_key[key] = member
        bans = [ban_from_data(data) for data in state["server_bans"]]
        lockdown = Lockdown(state["lockdown"])
        markers = {account: ReadMarkers(times) for account, times in state["read_markers"].items()}
        # None from a process of an earlier version: then those this process read from Redis, which that one keeps
        identities = state["identities"] if "identities" in state else self.chat.store.load().identities
        self.chat.restore(
            self.by_key.values(), lambda: self._rooms(state), bans, lockdown, state["opened"], markers, identities
        )
        conversations = self.chat.conversations
        opened, unkept = state.get("conversations_opened", 0), state.get("conversations_unkept", 0)
        conversations.restore(self._conversations(state), opened, unkept)
        for key, _, _, _, invited, *_ in state["members"]:
            for name in invited:
                if (invited_to := self.chat.rooms.get(room_key(name))) is not None:
                    self.by_key[key].invited[invited_to] = None
        self.processes = dict.fromkeys(state["processes"])
        self.awaiting = dict(state["awaiting"])
        for member in ours.values():  # in this replica only: the others never had them, or saw them leave
            member.present = False
            member.session.close(LOST_PLACE)

    def _conversations(self, state: dict[str, Any]) -> Iterator[tuple[str, RoomHistory]]:
        """The private conversations of a snapshot (none from a process of an earlier version)."""
        for key, life, said, kept in state.get("conversations", []):
            lines = (line_message(recipient, line) for recipient, *line in kept)
            yield key, RoomHistory(life, self.chat.history_limits, said, lines, memory=(self.chat.history_memory, key))

    def _rooms(self, state: dict[str, Any]) -> Iterator[Room]:
        """The rooms of a snapshot, with their members (already in by_key) and the history they kept."""
        for data in state["rooms"]:
            life, said, asides, kept = data["history"]
            name = data["name"]
            lines = (line_message(name, line) for line in kept)
            memory = (self.chat.history_memory, room_key(name))
            history = RoomHistory(life, self.chat.history_limits, said, lines, asides, memory)
            room = Room.restore(room_from_data(name, data["record"], registered=False), data["created"], history)
            room.metadata = dict(data.get("metadata", {}))
            room.stays = dict(data.get("stays", {}))  # none from a process of an earlier version
            room.history.bound_to(rule_limits(self.chat.history_limits, room.settings), self.chat.now())  # as theirs
            for key, role, *joined in data["members"]:
                member = self.by_key[key]
                room.members[member] = Role(role)
                room.joined[member] = joined[0] if joined else 0.0  # a process of an older version: since always
                member.rooms[room_key(room.name)] = room
            yield room

    # A failure while applying an entry

    def _failed(self, entry: dict[str, Any], error: Exception) -> None:
        """This replica may now differ from the others: it is resynchronised from a snapshot, as a newcomer is.

        Its members stay connected, told the chat is degraded meanwhile; their changes are refused until it holds
        the snapshot. Only the kind of entry and where it failed are logged: never anything a member typed.
        """
        log.error(
            "chatroom failed to apply a log entry ({kind} {change}): {mistake}; resynchronising this replica from a"
            " snapshot",
            kind=entry.get("k"),
            change=entry.get("f", ""),
            mistake=mistake(error),
        )
        self._resync = next(self._serial)  # our changes numbered before it are in the snapshot, or refused
        self.ready = Deferred()  # not ready: changes are refused until it is
        self._tell_local(DEGRADED)
        if list(self.processes) == [self.process]:
            self._rebuild()
            return
        self._early = []
        self._append({"k": RESYNC, "p": self.process})

    def _rebuild(self) -> None:
        """Nobody else holds the chat: rebuild it from our own snapshot, which is whole even if some index is not."""
        self._load(self._snapshot(), self._tokens())
        self._become_ready([self.process])
        self._resynchronised()

    def _resynchronised(self, place: str = "") -> None:
        """The snapshot is loaded: what waited for our changes before it goes on, and our members are told."""
        mark, self._resync = self._resync, None
        if mark is None:
            return
        if place and next(iter(self.processes)) == self.process:
            self.written.turn(place)
            self.written.lead(self.chat.rooms)  # what we wrote may miss what was said meanwhile: write it anew
        for key in list(self._entering):
            if int(key.rsplit("/", 1)[1]) < mark:  # appended before the resync, refused: not in the snapshot
                self._entering.pop(key)[1].errback(ChatError("DEGRADED"))
        numbered = (self._unsettled, self._askers)  # awaited, and messages too: those before it never have a turn
        lost = {(key, number) for table in numbered for key, numbers in table.items() for number in numbers}
        for key, number in sorted(lost):
            if number < mark:
                self._settle({"p": self.process, "m": key, NUMBERED: number})
        then, self._then = self._then, []
        for call in then:
            call()
        self._tell_local(RESTORED)

    # What the log tells of itself

    def unavailable(self) -> None:
        if not self.degraded:
            self.degraded = True
            log.warn("chatroom lost contact with the log: changes are refused until it is back")
            self._tell_local(DEGRADED)

    def available(self) -> None:
        if self.degraded:
            self.degraded = False
            log.info("chatroom is in contact with the log again")
            held, self._held_quits = self._held_quits, []
            for entry in held:
                self._append(entry)
            self._answer_waiting()  # a snapshot appended as contact was lost may have been lost with it
            self._tell_local(RESTORED)

    def not_appended(self, entries: list[dict[str, Any]]) -> None:
        """What the log may have lost: quits wait for it, registrations and changes are refused.

        A change that did reach the log is made all the same; a quit appended twice is made once.
        """
        for entry in entries:
            if entry["k"] in ("leave", "token") or (entry["k"] == "do" and entry["f"] == "quit"):
                self._held_quits.append(entry)
            elif entry["k"] == "enter":
                _, waiting = self._entering.pop(entry["m"], (None, None))
                if waiting is not None and not waiting.called:
                    waiting.errback(ChatError("DEGRADED"))
            elif entry["k"] in ("do", "batch") and (member := self.by_key.get(entry["m"])) is not None:
                outcome = self._outcomes.get(entry["m"], {}).pop(entry[NUMBERED], None) if NUMBERED in entry else None
                if outcome is None:
                    self._tell_asker(entry, member, ChatError("DEGRADED"))
                elif not outcome.called:  # a front end waits for this change's outcome: refused, never made
                    outcome.errback(ChatError("DEGRADED"))
            if NUMBERED in entry:
                self._settle(entry)

    def lost_place(self) -> None:
        """Our replica can no longer follow the others': let our members go, and join again from a snapshot."""
        log.warn("chatroom lost its place in the log: disconnecting its members, joining again")
        self.written.follow()
        self.chat.let_go(LOST_PLACE)
        self.by_key.clear()
        self.processes.clear()
        self.awaiting.clear()
        self._held_quits.clear()
        self._unsettled.clear()
        self._settling.clear()
        self._askers.clear()
        self.chat.start_from_store()
        self.ready = Deferred()
        self.degraded = False
        self.log.join(self.process, self)

    def _tell_local(self, text: str) -> None:
        notice = ServerNotice(text)
        for member in list(self.by_key.values()):
            member.session.deliver(notice)


class SharedChat(Chat):
    """A Chat and its Replica as one object: what front ends are given as the chat, and tests hold as a process.

    It adds no rule and overrides no method: the Replica shares the chat through its sequencer. It only builds the
    two together (the chat's history store is the replica's) and answers what the replica holds (start, ready,
    processes...) as before the replica was an object of its own; code that needs the types asks `replica`.
    """

    def __init__(
        self,
        log: Log,
        clock: Callable[[], float],
        limits: RoomLimits = RoomLimits(),
        accounts: AccountDirectory | None = None,
        store: RoomStore | None = None,
        process: str | None = None,
        history: HistoryLimits = HistoryLimits(),
        history_store: SharedHistory | None = None,
        timers: IReactorTime | None = None,
    ) -> None:
        written = history_store or Unwritten()
        super().__init__(limits, accounts, store, clock, history, written, timers)
        self.replica = Replica(self, log, clock, written, process)

    def __getattr__(self, name: str) -> Any:
        if name == "replica":  # asked before it is set: not the replica's to answer
            raise AttributeError(name)
        return getattr(self.replica, name)


REPLICATED = declared(Chat)  # the changes a log entry may name: nothing else of a replica is called from the log


def line_data(message: Message) -> list[Any]:
    """A kept line as snapshots and Redis carry it: its room is theirs, and a kept line is never for some only.

    Six items, then, only where a line has any, a seventh: what else it has (those kept before there were any have
    six): `topic` (a topic change), `tags` (of tags kept as their sender asked), `reply` (the id of the line it
    answers), `breaks` (where a line of several was cut without a new line)."""
    data: list[Any] = [message.nick, message.text, message.action, message.notice, message.id, message.time]
    more = {
        name: value
        for name, value in (
            ("topic", message.topic),
            ("tags", [list(pair) for pair in message.tags]),
            ("reply", message.reply),
            ("breaks", list(message.breaks)),
        )
        if value
    }
    return [*data, more] if more else data


def line_message(room: str, data: list[Any]) -> Message:
    nick, text, action, notice, msgid, time, *rest = data
    more = rest[0] if rest else {}
    tags = tuple((name, value) for name, value in more.get("tags", ()))
    return Message(room, nick, text, action, notice, "", msgid, time, tags, more.get("reply", ""),
                   tuple(more.get("breaks", ())), bool(more.get("topic")))  # fmt: skip


def _plain(values: tuple[Any, ...]) -> list[Any]:
    """Arguments as JSON holds them: an enum as its class and value."""
    return [
        {"enum": type(value).__name__, "v": value.value} if isinstance(value, enum.Enum) else value for value in values
    ]


def _unplain(values: Any) -> list[Any]:
    return [
        ENUMS[value["enum"]](value["v"]) if isinstance(value, dict) and value.keys() == {"enum", "v"} else value
        for value in values
    ]

"""The chat's state, and what more than one of its parts needs (chatroom.core.chat says why it is in parts).

`ChatBase` holds who is present (by nickname), the rooms, the server bans and the lockdown, and answers the
questions of chatroom.core.queries over them. Its helpers are those at least two parts use: finding a member or a
room, a member's rank in a room, telling those who share a room, leaving or being put out of one, the point where
a change's effects begin (`_commit`), and writing a registered room or the server bans down.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections.abc import Callable, Iterable
from typing import Any, cast

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from chatroom.core.errors import ChatError, Departed
from chatroom.core.events import (
    CLIENT_TAGS_MAX,
    BanChanged,
    ClientTags,
    Event,
    History,
    Joined,
    KeptNotice,
    Kicked,
    Message,
    OwnerChanged,
    Quit,
    Session,
    Watched,
)
from chatroom.core.history import HistoryLimits, HistoryMemory, RoomHistory, epoch, seconds, timestamp
from chatroom.core.markers import ReadMarkers
from chatroom.core.members import Member, Room, RoomLimits, Sessions
from chatroom.core.moderation import (
    ADDRESS_OF,
    Action,
    Ban,
    Lockdown,
    Mask,
    Rank,
    Role,
    authorize,
    ban_on,
    excepted,
    until,
)
from chatroom.core.monitor import Watchers
from chatroom.core.names import SERVICES, UNSAFE_TEXT, nick_key, room_key, room_name
from chatroom.core.private import Conversations, keeps_private
from chatroom.core.queries import Queries
from chatroom.core.rules import keeps, rule_limits, rule_words
from chatroom.core.sequencing import Points, Sequencer, changes
from chatroom.core.state import (
    AccountDirectory,
    HistoryStore,
    KeptHistory,
    MemoryHistoryStore,
    MemoryRoomStore,
    NoAccounts,
    RoomStore,
    StoreError,
)

log = Logger(namespace="chatroom")

ACCOUNT_REMOVED = "your account was removed"  # why the sessions of a removed account end


class ChatBase(Queries):
    """One server's chat state; chatroom.core.chat.Chat adds to it what may be done with it."""

    def __init__(
        self,
        limits: RoomLimits = RoomLimits(),
        accounts: AccountDirectory | None = None,
        store: RoomStore | None = None,
        now: Callable[[], float] = time.time,
        history: HistoryLimits = HistoryLimits(),
        history_store: HistoryStore | None = None,
        clock: IReactorTime | None = None,
    ) -> None:
        self.sequencer = self._alone()  # when each change is made: at once, unless sequence_by
        if clock is None:
            from twisted.internet import reactor  # the running one, by default

            clock = cast(IReactorTime, reactor)
        self.timers = clock  # when a lingering person quits after all
        self.limits = limits
        self.history_limits = history
        self.history_memory = HistoryMemory(history.memory)  # what all rooms' history holds, bounded
        self.history_store = history_store or MemoryHistoryStore()  # where history is written down, if anywhere
        self.opened = 0  # rooms opened since the start: with the time, it names each room's life (history.epoch)
        self.accounts = accounts or NoAccounts()
        self.store = store or MemoryRoomStore()
        self.now = now  # wall-clock seconds: bans end at a date, across restarts
        self.reserved = SERVICES  # nicknames nobody may take (keys): the services', and the server's own name
        self.nicks: dict[str, Member] = {}  # nick_key -> every present member
        self.signed_in: set[Member] = set()  # the present members logged in to an account: usually a few
        self.visible: set[Member] = set()  # the present members not invisible: kept as they change, for counting
        self.rooms: dict[str, Room] = {}  # room_key -> every room with someone in it, and every registered one
        self.server_bans: list[Ban] = []
        self.lockdown = Lockdown.OFF
        self.read_markers: dict[str, ReadMarkers] = {}  # account -> where its person has read up to, kept when gone
        # Account name (nick_key) -> the identity (chatroom.stores.accounts) of the account that the chat's state under
        # that name is of: its people present, the rooms it owns or was named in, and, under `kept_as`, its markers,
        # conversations and stays. A name not here is of an account registered before identities ("").
        self.identities: dict[str, str] = {}
        self.conversations = Conversations(self.history_memory)  # private ones, if kept (--history-private)
        self.watchers = Watchers()  # who watches which nickname (chatroom.core.monitor)
        self.start_from_store()
        self.messages = 0  # said in rooms and privately since the start, for the metrics: how many, never what
        self.peak = 0  # the most members present at once since the start (IRC's LUSERS)

    def _alone(self) -> Points:
        """How a chat that no sequencer shares makes its changes (chatroom.core.chat's AtOnce: at once)."""
        raise NotImplementedError

    def sequence_by(self, sequencer: Sequencer) -> None:
        """Hand each change (`@change`) to `sequencer` from now on, and let it say where each stops (`_commit`).

        Bound on this chat alone, as its own attributes: a chat in one process, never sequenced, calls its changes
        directly and pays nothing for them being declared (the steady benchmark's path).
        """
        self.sequencer = sequencer
        declared = changes(type(self)).items()
        bound = {name: functools.partial(sequencer.run, name, method.__get__(self)) for name, method in declared}
        vars(self).update(bound, _commit=sequencer.commit)

    def restore(
        self,
        members: Iterable[Member],
        rooms: Callable[[], Iterable[Room]],
        server_bans: list[Ban],
        lockdown: Lockdown,
        opened: int,
        read_markers: dict[str, ReadMarkers],
        identities: dict[str, str],
    ) -> None:
        """Hold this state instead of the present one (chatroom.bus: a snapshot of the chat other processes hold).

        `members` are present; `rooms` makes the rooms, with their members and history: the memory all history holds
        is counted anew while they are made. `opened` counts the rooms opened before, as `_history` does.
        """
        self.nicks = {nick_key(member.nick): member for member in members}
        self.signed_in = {member for member in self.nicks.values() if member.account is not None}
        self.visible = {member for member in self.nicks.values() if not member.details.invisible}
        self.history_memory.reset()
        self._forget_lapses()
        self.rooms = {room_key(room.name): room for room in rooms()}
        for room in self.rooms.values():
            self._lapses(room, room.bans)
        self.history_memory.bound()  # a no-op unless the others were given a larger --history-memory
        self.server_bans = server_bans
        self.lockdown = lockdown
        self.opened = opened
        self.read_markers = read_markers
        self.identities = identities

    def start_from_store(self) -> None:
        """The rooms and bans a server starts with: the registered rooms and the server bans its store kept."""
        saved = self.store.load()
        kept = self.history_store.load()
        now = self.now()
        self.rooms = {}
        self.history_memory.reset()
        for record in saved.rooms:
            key = room_key(record.name)
            self.rooms[key] = Room.restore(record, now, self._history(now, key, kept.pop(key, None)))
            self.apply_rule(self.rooms[key])  # what the store kept beyond the room's own rule goes now
            self._lapses(self.rooms[key], record.bans)
        for key in kept:  # a room that was not registered, open when the server stopped: its history ended with it
            self.history_store.ended(key)
        for key, stays in self.history_store.load_stays().items():  # accounts' stays go on across the restart
            if key in self.rooms:
                self.rooms[key].stays = {account: seconds(start) for account, start in stays.items()}
            else:  # a room no longer registered: its stays ended with it
                for account in stays:
                    self.history_store.left(key, account)
        private = self.history_store.load_private() if keeps_private(self.history_limits) else {}
        self.conversations.load(private, self.history_limits)
        self.history_memory.bound()
        for account, times in self.history_store.load_markers().items():  # kept with the history: never moved back
            self.read_markers.setdefault(account, ReadMarkers()).merge(ReadMarkers(times))
        self.server_bans = saved.server_bans
        self.identities = saved.identities
        self.lockdown = Lockdown.OFF

    def markers(self, member: Member) -> ReadMarkers:
        """Where `member` has read up to: their account's, which outlive their sessions, or their own as a guest."""
        if member.account is None:
            return member.read
        account = self.kept_as(member.account)
        found = self.read_markers.get(account)
        if found is None:
            found = self.read_markers[account] = ReadMarkers()
        return found

    def kept_as(self, account: str) -> str:
        """The account's name as what is kept of it is kept under (read markers; in nick_key's form, stays and
        conversations): with its identity, so that a removed account's is never that of one registered again under
        its name; as before identities for an account that has none, so that what was kept then is still its own."""
        identity = self.identities.get(nick_key(account), "")
        return f"{account}~{identity}" if identity else account

    def _party(self, member: Member) -> str:
        """Who `member` is in a private conversation (chatroom.core.private): their account, or a guest's nickname."""
        if member.account is not None:
            return "a:" + nick_key(self.kept_as(member.account))
        return "g:" + nick_key(member.nick)

    def _replaced(self, account: str) -> bool:
        """Whether the name `account` is now another account's than the one the chat's state under it is of: that
        one was removed and the name registered again."""
        identity = self.accounts.identity(account)
        return identity is not None and identity != self.identities.get(nick_key(account), "")

    def _identify(self, account: str, keeping: Member | None = None, given: Room | None = None) -> None:
        """Make the chat's state under the name `account` that of the account registered under it now, as someone
        logs in to it or a room names it. If it was a removed account's: its people still present (but `keeping`,
        who has just logged in to the new one) are put out, and the rooms forget it as their owner (the room is
        unregistered, but for `given`, being transferred to the new one) or one they named; its markers,
        conversations and stays, kept under its identity, are no longer found (`kept_as`).

        A side effect of someone else's change, past its checks: a store that refuses is logged, never told to the
        one logging in or naming, whose change would stop half made."""
        if not self._replaced(account):
            return
        key = nick_key(account)
        self.accounts_changed(keeping)
        for room in list(self.rooms.values()):
            if nick_key(room.owner) == key and room is not given:
                self._unregister(room, "", told=False)
            elif room.operators.pop(key, None) is not None and room.owner:
                self._stored(self.store.save_room, room.record(), told=False)
        self.identities[key] = self.accounts.identity(account) or ""
        self._stored(self.store.save_identities, dict(self.identities), told=False)

    def accounts_changed(self, keeping: Member | None = None) -> None:
        """The accounts changed where they are kept: whoever is still logged in to one since removed, or to one whose
        name is now another account's (`current`), is put out (but `keeping`), as `/server kill` would put them out,
        so that removing an account ends its sessions at once, everywhere. A new password or a grant keeps the
        account (its identity), and its people.

        Not a change of the chat: called where the change is seen, which every replica of a shared chat sees at
        the same point of its log (chatroom.bus.shared), and the file only one process reads
        (chatroom.app.service.AccountsWatch)."""
        removed = [
            member for member in self.signed_in if member is not keeping and not self.current(member.account or "")
        ]
        for member in sorted(removed, key=lambda member: nick_key(member.nick)):  # in the same order on every replica
            self._expel(member, ACCOUNT_REMOVED, "account removed")

    def _unregister(self, room: Room, actor: str, told: bool = True) -> None:
        """The room goes back to lasting while someone is in it (`actor` dropped it; "": its owner's account went)."""
        self._stays_kept(room, False)
        room.owner = ""
        room.operators.clear()
        room.broadcast(OwnerChanged(room.name, actor, ""))
        if not room.members:
            self._end(room)
        self._stored(self.store.drop_room, room.name, told)

    def _expel(self, member: Member, reason: str, logged: str) -> None:
        """Put someone out of the chat: the rooms hear it as a quit, and their connection is closed; the log has
        `logged`, without the reason an administrator typed."""
        self._depart(member, reason)
        member.session.close(reason, logged)

    def _commit(self, result: object = None) -> None:
        """Where a change's checks end and its effects begin: a sequencer may stop it here.

        In one process it does. chatroom.bus.shared's sequencer stops here instead (sequence_by puts its `commit`
        here), having checked the change against what it knows, puts the change in the log all processes share, and
        makes it when its turn comes, checked again, in the same order everywhere. Nothing before this call may
        change anything. `result` is what the caller gets back at once in that case.

        One check comes after it, before any effect: whether a login's account is still the one its password proved
        (Presence._proved). Only the turn can say: before it, this process may not have applied the account's own
        registration, earlier in the log.
        """

    def _present(self, member: Member) -> None:
        if not member.present:
            raise Departed(f"{member!r} has left the chat; nothing may be done on its behalf")

    def _tell_peers(self, member: Member, event: Event, including: bool = False) -> None:
        """Tell everyone sharing at least one room with the member, each once."""
        peers: dict[Member, object] = {member: None} if including else {}  # an ordered set: the keys matter
        for room in member.rooms.values():
            peers.update(room.members)
        if not including:
            peers.pop(member, None)
        for peer in peers:
            peer.session.deliver(event)

    def _joined(self, room: Room, member: Member) -> Joined:
        """How `member`'s join of `room` is told: with their account and real name (a guest's is speech)."""
        return Joined(room.name, member.nick, member.account or "", self._heard(member, member.details.realname))

    def _tell_company(self, member: Member, event: Event, including: bool = False) -> None:
        """Tell those sharing a room with the member and those watching them, each once: what a person says of
        themselves (away, real name, account), which a watcher's front end may show (IRC's extended-monitor)."""
        told: dict[Member, object] = {member: None} if including else {}
        for room in member.rooms.values():
            told.update(room.members)
        if not including:
            told.pop(member, None)
        for each in told:
            each.session.deliver(event)
        for session, watcher in self.watchers.watching(member.nick):  # those sharing no room: this session only
            if watcher not in told and watcher is not member:
                session.deliver(event)

    def _leave(self, member: Member, room: Room, staying: bool = False) -> None:
        """`member` is no longer in `room`; unless `staying` (a disconnection), their account's stay ends too, once
        none of its nicknames is left in it."""
        del room.members[member]
        room.joined.pop(member, None)
        key = room_key(room.name)
        del member.rooms[key]
        if not staying and member.account is not None and room.stays:
            account = nick_key(member.account)
            if not any(nick_key(other.account or "") == account for other in room.members):
                self._stay_ends(room, nick_key(self.kept_as(member.account)))
        if not room.members and not room.owner:
            self._end(room)

    def _end(self, room: Room) -> None:
        """An unregistered room ends with its last member, its settings and bans with it."""
        key = room_key(room.name)
        del self.rooms[key]
        self._forget_lapses(room)
        room.history.end()
        self.history_store.ended(key)

    def _lapses(self, room: Room, bans: Iterable[Ban]) -> None:
        """Tell the room when each of these timed bans ends, as IRC's `MODE -b` from the server: else it lapses
        unannounced, and the lists IRC clients keep of a room's bans go on showing it."""
        now = self.now()
        for ban in bans:
            if ban.until is not None and ban.until > now:
                room.lapses[ban] = self.timers.callLater(ban.until - now, self._lapsed, room, ban)

    def _lapsed(self, room: Room, ban: Ban) -> None:
        """Not a change: a ban's end is the same time on every process, and each tells its own members."""
        del room.lapses[ban]
        if ban in room.bans and self.rooms.get(room_key(room.name)) is room:
            room.broadcast(BanChanged(room.name, "", str(ban.mask), False, until(ban), ""))

    def _forget_lapses(self, *rooms: Room) -> None:
        """These rooms' bans (all rooms' if none named) need telling no more: the rooms ended, or the chat."""
        for room in rooms or tuple(self.rooms.values()):
            for call in room.lapses.values():
                call.cancel()
            room.lapses.clear()

    def _remove(self, room: Room, event: Kicked, member: Member) -> None:
        room.broadcast(event)
        self._leave(member, room)

    def _depart(self, member: Member, reason: str) -> None:
        if member.expiry is not None:
            member.expiry.cancel()
            member.expiry = None
        self._tell_peers(member, Quit(member.nick, reason))
        for room in list(member.rooms.values()):
            self._leave(member, room, staying=True)  # an account's stays outlive its sessions
        del self.nicks[nick_key(member.nick)]
        self.watchers.tell(member.nick, Watched(member.nick, False))
        self.signed_in.discard(member)
        self.visible.discard(member)
        if member.account is None:  # a guest's private conversations end with their session (chatroom.core.private)
            self.conversations.ended(self._party(member))
        member.present = False
        self.sequencer.departed(member)

    def _stay(self, member: Member, room: Room, now: float) -> None:
        """`member` joined `room` at `now`: their account's stay begins, unless it goes on (chatroom.core.rules)."""
        if member.account is None:
            return
        account = nick_key(self.kept_as(member.account))
        if account not in room.stays:
            room.stays[account] = now
            if room.owner:  # an unregistered room's stays end with it: never written
                self.history_store.stayed(room_key(room.name), account, timestamp(now))

    def _stay_ends(self, room: Room, account: str) -> None:
        if room.stays.pop(account, None) is not None and room.owner:
            self.history_store.left(room_key(room.name), account)

    def _stays_kept(self, room: Room, kept: bool) -> None:
        """The room was registered (`kept`) or unregistered: its accounts' stays are written down, or no longer."""
        key = room_key(room.name)
        for account, start in room.stays.items():
            if kept:
                self.history_store.stayed(key, account, timestamp(start))
            else:
                self.history_store.left(key, account)

    def _room_of(self, member: Member, name: str) -> Room:
        self._present(member)
        room = member.rooms.get(room_key(room_name(name)))
        if room is None:
            raise ChatError("NOT_IN_ROOM", room=room_name(name))
        return room

    def _find(self, nick: str) -> Member:
        member = self.nicks.get(nick_key(nick))
        if member is None:
            raise ChatError("NO_SUCH_NICK", nick=nick)
        return member

    def _in_room(self, room: Room, nick: str) -> Member:
        member = self._find(nick)
        if member not in room.members:
            raise ChatError("NOT_THERE", nick=member.nick, room=room.name)
        return member

    def _show(self, member: Member, session: Session | Sessions, room: Room, since: str, lines: int) -> None:
        """What joining `room` shows the one joining (all their sessions, or the one catching up): its topic,
        settings, names, what it keeps, and the lines it kept that they may read."""
        if room.topic.text:
            session.deliver(room.topic)
        session.deliver(room.info())
        session.deliver(room.names())
        if (described := room.metadata_sync(member)).entries:
            session.deliver(described)
        told = keeps(self.history_limits, room.settings)
        if told:
            session.deliver(KeptNotice(room.name, "", told, rule_words(room.settings)))
        start = self.readable_from(member, room)
        if since:  # a member back after a disconnection: everything memory holds since, however much
            session.deliver(self._remembered(room, "latest", since, max(1, len(room.history.kept)), start))
        elif lines and room.history.kept:
            session.deliver(self._remembered(room, "latest", "", lines, start))

    def _remembered(self, room: Room, how: str, point: str, lines: int, since: float = 0.0) -> History:
        """What `room` kept, asked `how`, said from `since` on, as far as memory holds it (what it no longer holds
        counts as lost: `_kept` reads it); nothing, with an unknown number lost, while the server keeps nothing."""
        if not self.history_limits.lines:
            return History(room.name, (), lost=-1)
        return room.history.query(room.name, how, point, lines, self.now(), since)

    def _kept(self, room: Room, how: str, point: str, lines: int, since: float = 0.0) -> Deferred[History]:
        """`_remembered`, with what the store holds beyond memory (RoomHistory.reach): then it fires later."""
        history, now = room.history, self.now()
        reaches = history.reach(how, point, lines, now, since) if self.history_limits.lines else []
        if not reaches:
            return succeed(self._remembered(room, how, point, lines, since))
        held, changes = history.at(now), history.changes

        def answer(older: list[Message]) -> History | Deferred[History]:
            if history.changes != changes:  # lines went meanwhile (or the room's name): asked again, not shown
                return self._kept(room, how, point, lines, since)
            return held.after_older(older).query(room.name, how, point, lines, since)

        return self.history_store.older(reaches).addCallback(answer)

    def readable_from(self, member: Member, room: Room) -> float:
        """The earliest time (epoch seconds) of a line this member may read in this room under its history rule;
        0.0 when all of it.

        `since-join` (chatroom.core.rules): from the start of their account's stay in the room (or of the present
        stay of any of its nicknames in it, if earlier), a guest from their present stay; infinity for someone not in
        it. A room's own `keep` age bounds it too.
        """
        settings = room.settings
        start = 0.0
        if settings.keep_age:
            start = self.now() - rule_limits(self.history_limits, settings).age
        if settings.history != "since-join":
            return start
        account = nick_key(member.account) if member.account else None
        joins = [
            time
            for present, time in room.joined.items()
            if present is member or (account is not None and nick_key(present.account or "") == account)
        ]
        stay = room.stays.get(nick_key(self.kept_as(member.account))) if member.account else None
        if stay is not None:
            joins.append(stay)
        if not joins:
            return math.inf
        return max(start, seconds(timestamp(min(joins))))  # to the millisecond, as the lines' times are kept

    def stay_start(self, room: Room) -> float:
        """When the stay of someone joining `room` now begins: now, or just after the room's last line if it was said
        in this millisecond. Lines keep their time to the millisecond, and `since-join` must not show a line said
        before one joined (two processes through Redis may fit both in one millisecond)."""
        now = self.now()
        last = room.history.last_time()
        return max(now, seconds(last) + 0.001) if last else now

    def apply_rule(self, room: Room) -> None:
        """Bound the room's history by its rule from now on; what no longer fits is dropped, from the store too."""
        limits = rule_limits(self.history_limits, room.settings)
        dropped = room.history.bound_to(limits, self.now())
        self.history_store.bounded(room_key(room.name), limits)  # what it holds beyond memory
        if self.history_limits.lines and not limits.lines:  # off: the store may hold more than memory did
            self.history_store.cleared(room_key(room.name))
        elif dropped:
            self.history_store.redacted(room_key(room.name), [message.id for message in dropped])

    def _history(self, now: float, key: str, kept: KeptHistory | None = None) -> RoomHistory:
        """The ids, and the history, of a room that opens now: a new life, or the one a store kept going on."""
        self.opened += 1
        memory = (self.history_memory, key)
        stored = self.history_store.reads_back
        if kept is not None:
            return RoomHistory(
                kept.epoch, self.history_limits, kept.said, kept.lines, memory=memory, stored=stored,
                behind=kept.behind, last=kept.last,
            )  # fmt: skip
        return RoomHistory(epoch(now, self.opened), self.history_limits, memory=memory, stored=stored)

    def rank(self, member: Member, room: Room) -> Rank:
        """What `member` may do in `room`, for chatroom.core.moderation.authorize."""
        if self.is_admin(member):
            return Rank.ADMIN
        if self._owns(member, room):
            return Rank.OWNER
        role = room.members.get(member, Role.NONE)
        return Rank.OPERATOR if Role.OPERATOR in role else Rank.VOICE if Role.VOICE in role else Rank.MEMBER

    def _owns(self, member: Member, room: Room) -> bool:
        """The owner's account, while it exists: a removed account owns nothing, even to a session still in it."""
        return self._named(member, room) and nick_key(member.account or "") == nick_key(room.owner)

    def _exempt(self, member: Member, room: Room) -> bool:
        """Those who could lift a room's restrictions are not stopped by them: its owner, named accounts, admins."""
        return self._named(member, room) or self.is_admin(member)

    def _banned(self, member: Member, room: Room, mute: bool = False) -> Ban | None:
        """The ban that keeps `member` out of `room` (with `mute`: the mute that keeps them quiet in it), if any:
        none for those exempt, or let past it by the room's exceptions."""
        if not room.bans:  # the usual room: a mute is checked for every line said
            return None
        nick, account, address, user = member.nick, member.account, member.address, member.details.user
        ban = ban_on(room.bans, self.now(), nick, account, address, user, mute)
        if ban is None or self._exempt(member, room) or excepted(room.excepted, nick, account, address, user, mute):
            return None
        return ban

    def _named(self, member: Member, room: Room) -> bool:
        """Whether the member's account is the room's owner or one it named: they get operator on joining."""
        return member.account is not None and self._names(room, member.account)

    def _names(self, room: Room, account: str) -> bool:
        """Whether `account` is the room's owner or one it named; a removed account is nobody, even to a session
        still logged in to it (nor is it the account registered again under its name: `current`)."""
        if not (room.owner and account):
            return False
        key = nick_key(account)
        return (key == nick_key(room.owner) or key in room.operators) and self.current(account)

    def _banned_by(self, target: str) -> tuple[Member | None, list[Mask]]:
        """The person a ban's target names, if any, and the masks it stands for.

        The nickname of someone present: their account if they are logged in (not their address, which others
        may share: a school's, an office's), or a guest's nickname and address (or they come back as another).
        `*!*@address-of-NICK`: that person's address, for guests, when asked for. Anything else is a mask.
        """
        if target.lower().startswith(ADDRESS_OF):
            nick = target[len(ADDRESS_OF) :]
            person = self.nicks.get(nick_key(nick))
            if person is None:
                raise ChatError("NO_SUCH_NICK", "ban", nick=nick)
            try:
                return person, [Mask.address_of(person.nick, person.address)]
            except ValueError:
                raise ChatError("BAD_MASK", "address", nick=person.nick) from None
        person = self.nicks.get(nick_key(target))
        if person is None:
            return None, [Mask.parse(target)]
        if person.account:
            return person, [Mask(account=person.account)]
        masks = [Mask(nick=person.nick)]
        with contextlib.suppress(ValueError):  # not an IP address (a Unix socket): no address to ban
            masks.append(Mask.address_of(person.nick, person.address))  # so that they cannot come back as a guest
        return person, masks

    def _heard(self, member: Member, reason: str) -> str:
        """A reason given with a part, a quit or a kick is speech too: a guest's is dropped during a lockdown."""
        return "" if member.account is None and self.lockdown >= Lockdown.SPEAK else reason

    def may_speak(self, member: Member) -> None:
        """Raise ChatError if the member may not be heard now (a guest during a lockdown)."""
        if member.account is None and self.lockdown >= Lockdown.SPEAK:
            raise ChatError("LOCKDOWN", "talk")

    def _administering(self, actor: Member, action: Action = Action.ADMINISTER) -> None:
        self._present(actor)
        authorize(Rank.ADMIN if self.is_admin(actor) else Rank.MEMBER, action, "")

    def _save(self, room: Room) -> None:
        """Write a registered room down, last thing in every change, so that a failure leaves memory whole."""
        if room.owner:
            self._stored(self.store.save_room, room.record())

    def _stored(self, write: Callable[[Any], None], what: object, told: bool = True) -> None:
        """Write to the store; if it refuses, the change holds in memory, and the log and (if `told`) the actor
        are told."""
        if not self.sequencer.stores():
            return
        try:
            write(what)
        except StoreError as error:
            log.error("{error}: until it is written, the change is in memory only", error=error)
            if told:
                raise ChatError("NOT_SAVED") from None


def require_text(text: str) -> None:
    if not text.strip():
        raise ChatError("NO_TEXT")


def client_tags(text: str, tags: dict[str, str] | None) -> ClientTags:
    """A message's client tags as its event carries them, checked for size and for the characters text may not
    hold: some text, or tags alone (a message of tags only), never neither. The chat reads three of them
    (chatroom.core.gestures), and the line protocol writes those values as text: a line break in one, which IRC's
    escaping carries (`\n`) past the check of the line as sent, forged whole lines to its clients."""
    if not tags:  # the usual message: no tuple to build on the hot path
        require_text(text)
        return ()
    pairs = tuple((str(name), str(value)) for name, value in tags.items())
    if sum(len(name.encode()) + len(value.encode()) + 2 for name, value in pairs) > CLIENT_TAGS_MAX + 1:
        raise ChatError("TOO_LONG", most=CLIENT_TAGS_MAX)
    if any(UNSAFE_TEXT.search(value) for _, value in pairs):
        raise ChatError("BAD_TEXT")
    if text:
        require_text(text)
    return pairs

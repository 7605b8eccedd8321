"""The chat: who is here under which nickname, which rooms exist, and the rules for changing either.

A person enters with `register`, which claims a nickname and gives back their `Member`; everything else
takes that member. A member is present from `register` until `quit` (or the server's `close`); after that,
every method refuses it with `Departed`, so a late callback can never act for someone who has left.

A member is a person, not a connection: it has one or more sessions (a phone and a laptop), all told the same,
and a person whose last session was lost lingers a while for a reconnection to reclaim (`leave`, `register`).

Moderation is here too: each operation finds the actor's rank and asks chatroom.core.moderation.authorize,
so the line protocol and IRC enforce exactly the same rules.
"""

from __future__ import annotations

import contextlib
import functools
import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any, cast

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from chatroom.core.errors import ChatError, Departed
from chatroom.core.events import (
    AllowChanged,
    AllowList,
    BanChanged,
    BanList,
    Event,
    History,
    Invited,
    Joined,
    Kicked,
    LockdownChanged,
    Message,
    Names,
    NickChanged,
    OwnerChanged,
    Parted,
    PrivateMessage,
    Quit,
    ReadMarker,
    Redacted,
    RoleChanged,
    RoomInfo,
    RoomList,
    Session,
    SettingChanged,
    Topic,
    Wallops,
)
from chatroom.core.history import (
    JOIN_LINES,
    PAGE_MAX,
    HistoryLimits,
    HistoryMemory,
    RoomHistory,
    check_point,
    epoch,
)
from chatroom.core.markers import ReadMarkers, marker_target, read_time
from chatroom.core.moderation import (
    ADDRESS_OF,
    KEY_MAX,
    LIMIT_MAX,
    Action,
    Allowed,
    Ban,
    Lockdown,
    Mask,
    Rank,
    Role,
    Setting,
    authorize,
    bad_limit,
)
from chatroom.core.names import nick_key, room_key, room_name, validate_nick
from chatroom.core.queries import Queries
from chatroom.core.rooms import Room, ban_list, until
from chatroom.core.sequencing import AT_ONCE, AtOnce, Sequencer, change, changes
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

PRIVATE_HELD = 100  # private messages kept for a person waiting for a reconnection: no history keeps them
INVITATIONS_KEPT = 50  # per member: rooms come and go, and invitations must not pile up
LIST_MAX = 100  # bans, and masks allowed past invite-only, per room (IRC's MAXLIST)
SERVER_BANS_MAX = 500  # server bans: each change rewrites them all (rooms.json, or one Redis key)


@dataclass(frozen=True)
class RoomLimits:
    """How much of the chat one person may hold: rooms, and sessions (devices) under one nickname."""

    rooms_per_member: int = 20
    members_per_room: int = 0  # 0: no limit
    sessions_per_person: int = 5  # connections sharing one nickname (a phone and a laptop); 1: one, as before
    # Seconds a person whose last connection was lost without a quit stays, away, for a reconnection to reclaim
    # (docs/running.md, --linger); 0: they quit at once. 90: our client retries after 1, 2, 4 ... 32 s, so an
    # outage of up to a minute (a Wi-Fi handover, a laptop carried to the next classroom) is reclaimed.
    linger: float = 90.0


LINGERING = "connection lost; may be back soon"  # the away message of a person waiting for a reconnection


@dataclass(frozen=True)
class Details:
    """What a person says of themselves beyond their nickname (IRC's USER, AWAY and +i).

    Front ends fill and read it; the core only keeps it and changes it in order, so that every process sharing
    the chat shows the same. A front end with no such notions leaves it as it is.
    """

    user: str = ""  # a user name the client gave; "" if its front end has none
    realname: str = ""
    away: str = ""  # an away message; "" while present
    invisible: bool = True  # listed only to those sharing a room, unless they asked otherwise (IRC's -i)
    wallops: bool = False  # hears the administrators' wallops (IRC's +w)


class Sessions:
    """A person's connections, as the one Session the core tells things to: each of them is told everything.

    Empty while the person lingers after losing their last connection (Chat.leave): what is said in their rooms
    meanwhile reaches nobody, and the rooms' history shows it when they come back; private messages, which no
    history keeps, are held for them (at most PRIVATE_HELD, in memory only) and given to the session that comes back.
    """

    __slots__ = ("all", "held")

    def __init__(self, first: Session) -> None:
        self.all = [first]
        self.held: deque[PrivateMessage] = deque(maxlen=PRIVATE_HELD)

    def deliver(self, event: Event) -> None:
        if not self.all and isinstance(event, PrivateMessage):
            self.held.append(event)
        for session in self.all:
            session.deliver(event)

    def close(self, reason: str) -> None:
        for session in list(self.all):
            session.close(reason)

    def refused(self, error: ChatError) -> None:
        for session in self.all:
            session.refused(error)


class Member:
    """One person in the chat, on one or several connections, whichever front ends they came through."""

    __slots__ = (
        "account",
        "address",
        "details",
        "expiry",
        "invited",
        "key",
        "nick",
        "present",
        "read",
        "rooms",
        "seen",
        "session",
        "token",
    )

    def __init__(
        self,
        session: Session,
        nick: str,
        account: str | None,
        address: str,
        key: str = "",
        details: Details = Details(),
    ) -> None:
        self.session = Sessions(session)
        self.key = key  # who this is to every process sharing the chat (chatroom.bus); "" in a chat of its own
        self.nick = nick
        self.account = account  # the account they logged in to, None for a guest
        self.address = address  # where they came from: for people reading logs, and for bans
        self.details = details
        self.rooms: dict[str, Room] = {}  # room key -> room, in the order joined
        self.invited: dict[Room, None] = {}  # rooms an operator invited them to, not joined since; the newest last
        self.present = True
        self.read = ReadMarkers()  # where they have read up to, as a guest (an account's are Chat.read_markers)
        self.token = ""  # reclaims this person (Chat.resume_token); "" until a front end has told it to them
        # While lingering, and until a session of theirs is shown what they missed: the last line kept in each of
        # their rooms when they were lost (room key -> message id, "" if none).
        self.seen: dict[str, str] | None = None
        self.expiry: IDelayedCall | None = None  # while lingering: when they quit after all

    @property
    def sessions(self) -> list[Session]:
        return self.session.all

    def __repr__(self) -> str:
        return f"<Member {self.nick}{'' if self.present else ' (departed)'}>"


class Chat(Queries):
    """Every room and nickname of one server."""

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
        self.sequencer: Sequencer | AtOnce = AT_ONCE  # when each change is made: at once, unless sequence_by
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
        self.nicks: dict[str, Member] = {}  # nick_key -> every present member
        self.signed_in: set[Member] = set()  # the present members logged in to an account: usually a few
        self.visible: set[Member] = set()  # the present members not invisible: kept as they change, for counting
        self.rooms: dict[str, Room] = {}  # room_key -> every room with someone in it, and every registered one
        self.server_bans: list[Ban] = []
        self.lockdown = Lockdown.OFF
        self.read_markers: dict[str, ReadMarkers] = {}  # account -> where its person has read up to, kept when gone
        self.start_from_store()
        self.messages = 0  # said in rooms and privately since the start, for the metrics: how many, never what
        self.peak = 0  # the most members present at once since the start (IRC's LUSERS)

    def sequence_by(self, sequencer: Sequencer) -> None:
        """Hand each change (`@change`) to `sequencer` from now on, and let it say where each stops (`_commit`).

        Bound on this chat alone, as its own attributes: a chat in one process, never sequenced, calls its changes
        directly and pays nothing for them being declared (the steady benchmark's path).
        """
        self.sequencer = sequencer
        declared = changes(type(self))
        bound = {name: functools.partial(sequencer.run, name, method, self) for name, method in declared.items()}
        vars(self).update(bound, _commit=sequencer.commit)

    def restore(
        self,
        members: Iterable[Member],
        rooms: Callable[[], Iterable[Room]],
        server_bans: list[Ban],
        lockdown: Lockdown,
        opened: int,
        read_markers: dict[str, ReadMarkers],
    ) -> None:
        """Hold this state instead of the present one (chatroom.bus: a snapshot of the chat other processes hold).

        `members` are present; `rooms` makes the rooms, with their members and history: the memory all history holds
        is counted anew while they are made. `opened` counts the rooms opened before, as `_history` does.
        """
        self.nicks = {nick_key(member.nick): member for member in members}
        self.signed_in = {member for member in self.nicks.values() if member.account is not None}
        self.visible = {member for member in self.nicks.values() if not member.details.invisible}
        self.history_memory.reset()
        self.rooms = {room_key(room.name): room for room in rooms()}
        self.history_memory.bound()  # a no-op unless the others were given a larger --history-memory
        self.server_bans = server_bans
        self.lockdown = lockdown
        self.opened = opened
        self.read_markers = read_markers

    def start_from_store(self) -> None:
        """The rooms and bans a server starts with: the registered rooms and the server bans its store kept."""
        saved = self.store.load()
        kept = self.history_store.load()
        now = self.now()
        self.rooms = {}
        self.history_memory.reset()
        for record in saved.rooms:
            key = room_key(record.name)
            self.rooms[key] = Room.restore(record, now, self._history(now, key, kept.get(key)))
        self.history_memory.bound()
        self.server_bans = saved.server_bans
        self.lockdown = Lockdown.OFF

    # Nicknames

    def check_nick(self, nick: str, asking: Member | None = None, account: str | None = None) -> None:
        """Raise ChatError unless `nick` is valid and free (or already `asking`'s, in another case).

        A newcomer logging in to `account` may also take the nickname of the person logged in to it: that is
        them, on another device or back after losing their connection (`register` attaches them).
        """
        validate_nick(nick)
        holder = self.nicks.get(nick_key(nick))
        if holder is None or holder is asking:
            return
        theirs = asking is None and account is not None and nick_key(account) == nick_key(holder.account or "")
        if theirs and self._reclaimable(holder):
            return
        raise ChatError("NICK_TAKEN", nick=nick)

    def register(
        self,
        session: Session,
        nick: str,
        account: str | None,
        address: str,
        details: Details = Details(),
        token: str = "",
    ) -> Member:
        """Enter the chat under a free nickname, checked again now: a login may have taken a while.

        Under a nickname whose person is already here, if `account` is theirs or `token` their resume token:
        the session becomes one more of that person's (see `attach`), and that person is returned.
        """
        if token:
            holder: Member | None = self._resumed(nick, token)
        else:
            self.check_nick(nick, account=account)
            holder = self.nicks.get(nick_key(nick))
        if holder is not None:
            account = holder.account
        self._not_banned(nick, account, address)
        if account is None and self.lockdown >= Lockdown.CONNECT:
            raise ChatError("LOCKDOWN", "enter")
        self._commit()
        if holder is not None:
            self._attach(holder, session)
            return holder
        member = Member(session, nick, account, address, details=details)
        self.nicks[nick_key(nick)] = member
        if account is not None:
            self.signed_in.add(member)
        if not details.invisible:
            self.visible.add(member)
        self.peak = max(self.peak, len(self.nicks))
        return member

    def enter(
        self,
        session: Session,
        nick: str,
        account: str | None,
        address: str,
        details: Details = Details(),
        token: str = "",
    ) -> Deferred[Member]:
        """`register`, as a front end asks for it: at once in one process; with several, after its turn in the log."""
        return self.sequencer.enter(self, session, nick, account, address, details, token)

    # Sessions: one person on several connections, and a lost connection reclaimed

    def resume_token(self, member: Member) -> str:
        """The secret that reclaims `member` after a lost connection, made when a front end first tells it.

        A guest lingers (see `leave`) only once told it, since nothing else could bring them back.
        """
        self._present(member)
        if not member.token:
            member.token = secrets.token_urlsafe(18)
            self.sequencer.token_made(self, member)
        return member.token

    def catch_up(self, member: Member, session: Session, seen: Mapping[str, str] | None = None) -> None:
        """What joining their rooms would show, to a session that has just joined a person already present, then
        the private messages held for them while they were away.

        Each room is shown as a join shows it, with the lines said since the person lost their connection if
        they were lingering, otherwise the latest ones; the others in the room are told nothing. `seen` (room
        key -> message id, checked by the caller) is the last line a client saw in some rooms: it is shown what
        came after, which is exact even when the server went on writing to a connection it had not yet found dead.
        """
        self._present(member)
        lost, member.seen = member.seen, None
        for key, room in member.rooms.items():
            session.deliver(Joined(room.name, member.nick))
            since = (seen or {}).get(key, lost.get(key, "") if lost is not None else None)
            if since is None:
                self._show(session, room, "", JOIN_LINES)
            else:  # everything kept since: after the line they saw last, or all of it if there was none
                self._show(session, room, since, max(1, len(room.history.kept)))
        held = member.session.held
        while held:
            session.deliver(held.popleft())

    def leave(self, member: Member, session: Session, reason: str, lost: bool = False) -> bool:
        """One of a person's sessions ends; whether the person left the chat with it.

        The others in their rooms notice nothing while the person has another session. When the last one was
        `lost` (no quit), a person who can come back lingers for RoomLimits.linger seconds: away, their
        nickname kept, until a session reclaims them (`register`) or the rooms see them quit with `reason`.
        Made by the sequencer: at once in one process, in its turn with several (their sessions are counted alike).
        """
        self._present(member)
        return self.sequencer.leave(self, member, session, reason, lost)

    def end_session(self, member: Member, session: Session, reason: str, lost: bool) -> bool:
        """`leave`, made: `session` is one fewer of `member`'s; whether the person left with it."""
        if session in member.sessions:
            member.sessions.remove(session)
        if member.sessions:
            return False
        if lost and self._lingers(member):
            self.linger(member, reason)
            return False
        self._depart(member, self._heard(member, reason))
        return True

    def linger(self, member: Member, reason: str) -> None:
        """`member`, with no session left, waits for a reconnection: away, the last line of each room noted for
        their catch-up, until a session reclaims them or `expire` (the sequencer says who calls it, and when)."""
        member.seen = {key: room.history.last_id() for key, room in member.rooms.items()}
        member.session.held.clear()  # left from an earlier absence on a process the person came back to elsewhere
        if not member.details.away:
            member.details = replace(member.details, away=LINGERING)
        self.sequencer.lingering(self, member, reason)

    def _lingers(self, member: Member) -> bool:
        """Whether `member` waits for a reconnection: those who could reclaim themselves, by a login or a token."""
        reclaimable = member.account is not None or bool(member.token)
        return self.limits.linger > 0 and reclaimable

    @change
    def expire(self, member: Member, reason: str) -> None:
        """A lingering person's grace period ends: they quit, unless a session reclaimed them before its turn."""
        self._present(member)
        if member.sessions:
            return
        self._commit()
        member.expiry = None
        self._depart(member, self._heard(member, reason))

    def _resumed(self, nick: str, token: str) -> Member:
        """The person `token` reclaims under `nick`, if it is theirs and they may take one more session."""
        holder = self.nicks.get(nick_key(nick))
        if holder is None:
            raise ChatError("RESUME_FAILED", "gone", nick=nick)
        if not (holder.token and hmac.compare_digest(token.encode(), holder.token.encode())):
            raise ChatError("RESUME_FAILED", "token", nick=holder.nick)
        if not self._reclaimable(holder):
            raise ChatError("NICK_TAKEN", nick=holder.nick)
        return holder

    def _reclaimable(self, holder: Member) -> bool:
        """Whether one more session may join `holder`; ChatError if only the limit per person stops it."""
        count = len(holder.sessions)
        most = self.limits.sessions_per_person
        if count < most:
            return True
        if most > 1:
            raise ChatError("TOO_MANY_SESSIONS", nick=holder.nick, count=count)
        return False

    def _attach(self, member: Member, session: Session) -> None:
        if member.sessions:  # another device: shown the latest lines, whatever an earlier reclaim left noted
            member.seen = None
        else:  # back within the grace period
            if member.expiry is not None:
                member.expiry.cancel()
                member.expiry = None
            if member.details.away == LINGERING:
                member.details = replace(member.details, away="")
        member.sessions.append(session)

    @change
    def rename(self, member: Member, nick: str, account: str | None = None) -> None:
        """Change a member's nickname (and account, after a login); everyone sharing a room hears it once."""
        self._present(member)
        self.check_nick(nick, member)
        if account is None:
            self.may_speak(member)  # a new name is a new way to be heard
        self._not_banned(nick, account or member.account, member.address)
        self._commit()
        old = member.nick
        del self.nicks[nick_key(old)]
        self.nicks[nick_key(nick)] = member
        member.nick = nick
        if account is not None:
            member.account = account
            self.signed_in.add(member)
            self.markers(member).merge(member.read)  # what they read as a guest, now their account's
            member.read = ReadMarkers()
        if old != nick:
            self._tell_peers(member, NickChanged(old, nick), including=True)
        if account is not None:  # a login: the rooms' bans of that account apply now
            for room in list(member.rooms.values()):
                ban = _matching(room.bans, self.now(), nick, account, member.address)
                if ban is not None and not self._exempt(member, room):
                    self._remove(room, Kicked(room.name, ban.setter, nick, _banned(ban.reason)), member)

    @change
    def set_away(self, member: Member, text: str) -> None:
        """Mark a member away with a message others read when they look them up, or back with ""."""
        self._present(member)
        if text:
            self.may_speak(member)  # an away message is read by others: speech, in a lockdown
        self._commit()
        member.details = replace(member.details, away=text)

    @change
    def set_invisible(self, member: Member, invisible: bool) -> None:
        """Whether a member is listed only to those sharing a room with them (IRC's +i)."""
        self._present(member)
        self._commit()
        member.details = replace(member.details, invisible=invisible)
        (self.visible.discard if invisible else self.visible.add)(member)

    @change
    def set_wallops(self, member: Member, hears: bool) -> None:
        """Whether a member hears the administrators' wallops (IRC's +w)."""
        self._present(member)
        self._commit()
        member.details = replace(member.details, wallops=hears)

    @change
    def wallops(self, actor: Member, text: str) -> None:
        """An administrator's word to every member who hears wallops, and back to the sender.

        A change like any other, so that with several processes it is made, and heard, on each of them.
        """
        self._administering(actor, Action.WALLOPS)
        _require_text(text)
        self._commit()
        said = Wallops(actor.nick, text)
        for member in list(self.nicks.values()):
            if member.details.wallops or member is actor:
                member.session.deliver(said)

    # Read markers

    def markers(self, member: Member) -> ReadMarkers:
        """Where `member` has read up to: their account's, which outlive their sessions, or their own as a guest."""
        if member.account is None:
            return member.read
        found = self.read_markers.get(member.account)
        if found is None:
            found = self.read_markers[member.account] = ReadMarkers()
        return found

    @change
    def mark_read(self, member: Member, target: str, time: str) -> str:
        """`member` has read `target` (a room or a nickname) up to `time`: each of their sessions is told.

        A marker never moves back: returns the time it stands at, later than `time` if it was already past it
        (then nothing changes, and the caller tells the session that asked).
        """
        self._present(member)
        shown, key = marker_target(target)
        time = read_time(time)
        kept = self.markers(member).get(key)
        if kept >= time:
            return kept
        self._commit(time)
        self.markers(member).move(key, time)
        member.session.deliver(ReadMarker(shown, time))
        return time

    def read_marker(self, member: Member, target: str) -> ReadMarker:
        """Where `member` has read `target` up to ("" if never marked)."""
        shown, key = marker_target(target)
        return ReadMarker(shown, self.markers(member).get(key))

    # Rooms

    @change
    def join(self, member: Member, name: str, key: str = "", since: str = "", lines: int = JOIN_LINES) -> str:
        """Enter a room, creating it if needed; joining one you are in changes nothing. Returns its name.

        With history on, the member is then shown the room's last `lines`, or, with `since` (a message id they
        saw before they were disconnected), everything kept after it: before any line said after they joined.
        """
        self._present(member)
        if since:
            check_point(since)
        _page(lines)
        display = room_name(name)
        room_id = room_key(display)
        joined = member.rooms.get(room_id)
        if joined is not None:
            return joined.name
        if member.account is None and self.lockdown >= Lockdown.JOIN:
            raise ChatError("LOCKDOWN", "join")
        if len(member.rooms) >= self.limits.rooms_per_member:
            raise ChatError("TOO_MANY_ROOMS", count=len(member.rooms))
        found = self.rooms.get(room_id)
        if found is None:
            if member.account is None and self.lockdown >= Lockdown.SPEAK:
                raise ChatError("LOCKDOWN", "open")
        else:
            self._admit(member, found, key)
        self._commit(found.name if found is not None else display)
        if found is None:
            now = self.now()
            room = self.rooms[room_id] = Room(display, now, self._history(now, room_id))
            role = Role.OPERATOR  # whoever creates a room keeps order in it, as on IRC
        else:
            room = found
            role = Role.OPERATOR if self._named(member, room) else Role.NONE
        member.invited.pop(room, None)
        room.members[member] = Role.NONE
        member.rooms[room_id] = room
        room.broadcast(Joined(room.name, member.nick))
        if role:
            room.members[member] = role
            if len(room.members) > 1:  # the others see the server give it; NAMES shows it to the one joining
                room.broadcast(RoleChanged(room.name, "", member.nick, "operator", True))
        self._show(member.session, room, since, lines)
        return room.name

    def _show(self, session: Session, room: Room, since: str, lines: int) -> None:
        """What joining `room` shows the one joining: its topic, settings, names, and the lines it kept."""
        if room.topic.text:
            session.deliver(room.topic)
        session.deliver(room.info())
        session.deliver(room.names())
        if since:  # a member back after a disconnection: everything kept since, however much
            session.deliver(self._kept(room, "latest", since, max(1, len(room.history.kept))))
        elif lines and room.history.kept:
            session.deliver(self._kept(room, "latest", "", lines))

    def _admit(self, member: Member, room: Room, key: str) -> None:
        """Raise ChatError if `member` may not join `room`: banned, not invited, a wrong key, or it is full."""
        full = self.limits.members_per_room
        if full and len(room.members) >= full:
            raise ChatError("ROOM_FULL", room=room.name, count=full)
        if self._exempt(member, room):
            return
        ban = _matching(room.bans, self.now(), member.nick, member.account, member.address)
        if ban is not None:
            raise ChatError("BANNED", room=room.name, why=_why(ban))
        invited = room in member.invited  # this room, not an earlier one of the same name
        allowed = any(entry.mask.matches(member.nick, member.account, member.address) for entry in room.allowed)
        settings = room.settings
        if settings.invite_only and not (invited or allowed):
            raise ChatError("INVITE_ONLY", room=room.name)
        if settings.key and key != settings.key and not invited:
            raise ChatError("BAD_KEY", "wrong" if key else "needed", room=room.name)
        if settings.limit and len(room.members) >= settings.limit and not invited:
            raise ChatError("ROOM_FULL", "limit", room=room.name, limit=settings.limit)

    @change
    def part(self, member: Member, name: str, reason: str = "") -> str:
        """Leave a room; returns its name."""
        room = self._room_of(member, name)
        self._commit(room.name)
        room.broadcast(Parted(room.name, member.nick, self._heard(member, reason)))
        self._leave(member, room)
        return room.name

    @change
    def say(
        self, member: Member, room: str, text: str, action: bool = False, notice: bool = False, to: str = ""
    ) -> None:
        """Send text to a room the member is in, or to one open to outsiders; members get it, the sender too.

        `to` is "@" for the room's operators only, "+" for those with voice and operators (see Message).
        """
        target = self._outside(member, room) or self._room_of(member, room)
        _require_text(text)
        self.may_speak(member)
        if target.settings.moderated:
            authorize(self.rank(member, target), Action.SPEAK, target.name)
        self._commit()
        self.messages += 1
        now = self.now()
        msgid, said = target.history.stamp(now, aside=bool(to))
        event = Message(target.name, member.nick, text, action, notice, to, msgid, said)
        target.history.keep(event, now)
        self.history_store.said(room_key(target.name), event)
        if not to:
            target.broadcast(event)
            return
        least = Role.OPERATOR if to == "@" else Role.VOICE | Role.OPERATOR
        for listener, role in list(target.members.items()):
            if listener is member or role & least:
                listener.session.deliver(event)

    @change
    def private(self, member: Member, nick: str, text: str, action: bool = False, notice: bool = False) -> None:
        """Send text to one person; the sender gets a copy as proof of delivery."""
        self._present(member)
        recipient = self._find(nick)
        _require_text(text)
        self.may_speak(member)
        self._commit()
        self.messages += 1
        event = PrivateMessage(member.nick, recipient.nick, text, action, notice)
        recipient.session.deliver(event)
        if recipient is not member:
            member.session.deliver(event)

    @change
    def set_topic(self, member: Member, room: str, text: str) -> None:
        target = self._room_of(member, room)
        self.may_speak(member)
        if target.settings.topic_lock:
            authorize(self.rank(member, target), Action.TOPIC, target.name)
        self._commit()
        target.topic = Topic(target.name, member.nick, text)
        target.topic_time = self.now()
        target.broadcast(target.topic)
        self._save(target)

    def topic(self, member: Member, room: str) -> Topic:
        return self._room_of(member, room).topic

    def who(self, member: Member, room: str) -> Names:
        """Who is in a room; any member may ask, as on IRC, unless it is secret and they are not in it."""
        self._present(member)
        target = self.rooms.get(room_key(room_name(room)))
        if target is None or not self.listed(member, target):
            raise ChatError("NO_SUCH_ROOM", room=room_name(room))
        return target.names()

    def room_list(self, member: Member) -> RoomList:
        self._present(member)
        return RoomList(tuple((room.name, len(room.members)) for room in self._rooms_listed(member)))

    def room_info(self, member: Member, room: str) -> RoomInfo:
        return self._room_of(member, room).info()

    # History

    def history(
        self, member: Member, room: str, how: str = "latest", point: str = "", lines: int = JOIN_LINES
    ) -> History:
        """Lines a room kept, for a member of it: `how` is "latest", "before", "after" or "around" `point`.

        `point` is a message id or a time (chatroom.core.history); "latest" takes "" for none.
        """
        target = self._room_of(member, room)
        if not self.history_limits.lines:
            raise ChatError("NO_HISTORY")
        if how not in RoomHistory.QUERIES or (how != "latest" and not point):
            raise ChatError("USAGE", "history")
        if point:
            check_point(point)
        return self._kept(target, how, point, _page(lines))

    @change
    def redact(self, actor: Member, room: str, target: str, reason: str = "") -> None:
        """Remove a line from the room's history (by its id), or every kept line of a nickname: an operator's act."""
        target_room = self._room_of(actor, room)
        authorize(self.rank(actor, target_room), Action.REDACT, target_room.name)
        kept = target_room.history.kept
        by_id = any(message.id == target for message in kept)
        if not by_id and not any(nick_key(message.nick) == nick_key(target) for message in kept):
            raise ChatError("NO_SUCH_MESSAGE", room=target_room.name, target=target)
        self._commit()
        removed = target_room.history.redact({target}) if by_id else target_room.history.redact(set(), target)
        self.history_store.redacted(room_key(target_room.name), removed)
        log.info(
            "{nick} removed {count} lines from the history of {room}",
            nick=actor.nick,
            count=len(removed),
            room=target_room.name,
        )
        target_room.broadcast(Redacted(target_room.name, actor.nick, tuple(removed), reason))

    @change
    def clear_history(self, actor: Member, room: str) -> None:
        """Forget everything a room kept: the server administrators' act, for a room anyone is in or registered."""
        self._administering(actor)
        target_room = self.rooms.get(room_key(room_name(room)))
        if target_room is None:
            raise ChatError("NO_SUCH_ROOM", room=room_name(room))
        self._commit()
        count = target_room.history.clear()
        self.history_store.cleared(room_key(target_room.name))
        log.info(
            "{nick} cleared the history of {room} ({count} lines)", nick=actor.nick, room=target_room.name, count=count
        )
        target_room.broadcast(Redacted(target_room.name, actor.nick, ()))
        if actor not in target_room.members:
            actor.session.deliver(Redacted(target_room.name, actor.nick, ()))

    def _kept(self, room: Room, how: str, point: str, lines: int) -> History:
        """What `room` kept, asked `how`; nothing, with an unknown number lost, while the server keeps nothing."""
        if not self.history_limits.lines:
            return History(room.name, (), lost=-1)
        return room.history.query(room.name, how, point, lines, self.now())

    def _history(self, now: float, key: str, kept: KeptHistory | None = None) -> RoomHistory:
        """The ids, and the history, of a room that opens now: a new life, or the one a store kept going on."""
        self.opened += 1
        memory = (self.history_memory, key)
        if kept is not None:
            return RoomHistory(kept.epoch, self.history_limits, kept.said, kept.lines, memory=memory)
        return RoomHistory(epoch(now, self.opened), self.history_limits, memory=memory)

    # Keeping order in a room

    def changes(self, member: Member, room: str) -> AbstractContextManager[None]:
        """Changes made inside are told together, as one Changes event, when the block ends (IRC's MODE).

        With several processes they are also made together: the sequencer puts them in the log as one entry.
        """
        return self.sequencer.together(self, member, room)

    @contextlib.contextmanager
    def told_together(self, member: Member, room: str) -> Iterator[None]:
        """What `changes` does where its changes are made: hold the room's events, and tell them as one."""
        target = self._room_of(member, room)
        target.held = []
        try:
            yield
        finally:
            target.flush()
            target.held = None

    def rank(self, member: Member, room: Room) -> Rank:
        """What `member` may do in `room`, for chatroom.core.moderation.authorize."""
        if self.is_admin(member):
            return Rank.ADMIN
        if self._owns(member, room):
            return Rank.OWNER
        role = room.members.get(member, Role.NONE)
        return Rank.OPERATOR if Role.OPERATOR in role else Rank.VOICE if Role.VOICE in role else Rank.MEMBER

    @change
    def set_role(self, actor: Member, room: str, nick: str, role: Role, granted: bool) -> None:
        """/op, /deop, /voice, /devoice (IRC: MODE +o/-o/+v/-v); giving what someone has changes nothing."""
        target_room = self._room_of(actor, room)
        target = self._in_room(target_room, nick)
        authorize(self.rank(actor, target_room), Action.ROLE, target_room.name, self.rank(target, target_room), nick)
        held = target_room.members[target]
        if (role in held) == granted:
            return
        self._commit()
        target_room.members[target] = held | role if granted else held & ~role
        name = "operator" if role is Role.OPERATOR else "voice"
        target_room.broadcast(RoleChanged(target_room.name, actor.nick, target.nick, name, granted))

    @change
    def kick(self, actor: Member, room: str, nick: str, reason: str = "") -> None:
        target_room = self._room_of(actor, room)
        target = self._in_room(target_room, nick)
        if target is actor:
            raise ChatError("SELF", "kick")
        authorize(self.rank(actor, target_room), Action.KICK, target_room.name, self.rank(target, target_room), nick)
        self._commit()
        self._remove(target_room, Kicked(target_room.name, actor.nick, target.nick, self._heard(actor, reason)), target)

    @change
    def invite(self, actor: Member, room: str, nick: str) -> None:
        """Tell someone about a room. An operator's invitation also lets them in once, past invite-only, the key and the
        limit;
        only operators may invite to an invite-only room."""
        target_room = self._room_of(actor, room)
        rank = self.rank(actor, target_room)
        if target_room.settings.invite_only:
            authorize(rank, Action.INVITE, target_room.name)
        target = self._find(nick)
        self.may_speak(actor)
        if target in target_room.members:
            raise ChatError("ALREADY_THERE", nick=target.nick, room=target_room.name)
        self._commit()
        if rank >= Rank.OPERATOR:
            target.invited.pop(target_room, None)
            target.invited[target_room] = None
            if len(target.invited) > INVITATIONS_KEPT:
                del target.invited[next(iter(target.invited))]
        event = Invited(target_room.name, actor.nick, target.nick)
        target.session.deliver(event)
        actor.session.deliver(event)

    @change
    def configure(self, actor: Member, room: str, setting: Setting, value: bool | str | int) -> None:
        """Change one setting (IRC: MODE +i/+k/+m/+t/+l); a key of "", a limit of 0 or False turns it off."""
        target_room = self._room_of(actor, room)
        authorize(self.rank(actor, target_room), Action.CONFIGURE, target_room.name)
        new: bool | str | int
        if setting is Setting.KEY:
            new = shown = str(value)
            if len(new) > KEY_MAX or any(char in new for char in " ,:"):
                raise ChatError("BAD_KEY", "invalid", most=KEY_MAX)
        elif setting is Setting.LIMIT:
            if not isinstance(value, int) or not 0 <= value <= LIMIT_MAX:
                raise bad_limit()
            new, shown = value, str(value or "")
        else:
            new, shown = bool(value), "on" if value else ""
        attribute = _ATTRIBUTES[setting]
        if getattr(target_room.settings, attribute) == new:
            return
        self._commit()
        setattr(target_room.settings, attribute, new)
        target_room.broadcast(SettingChanged(target_room.name, actor.nick, setting.value, shown))
        self._save(target_room)

    @change
    def ban(self, actor: Member, room: str, target: str, duration: float | None = None, reason: str = "") -> None:
        """Ban a person present anywhere (by account, or a guest by nickname and address), their address, or a mask.

        Banning a person, or their address, puts out that person only (if it matches them), even an operator. A
        mask puts out every member present it matches, operators excepted.
        """
        target_room = self._room_of(actor, room)
        rank = self.rank(actor, target_room)
        authorize(rank, Action.BAN, target_room.name)
        person, masks = self._banned_by(target)
        if person is not None:
            authorize(rank, Action.BAN, target_room.name, self.rank(person, target_room), person.nick)
            if self._named(person, target_room):
                raise ChatError("PROTECTED", "account_operator", nick=person.nick, room=target_room.name)
        if person is actor:
            raise ChatError("SELF", "ban")
        self._commit()
        bans = self._add_bans(actor, target_room.bans, masks, duration, reason, LIST_MAX)
        if not bans and person not in target_room.members:
            raise _already_banned(target)
        for ban in bans:
            target_room.broadcast(BanChanged(target_room.name, actor.nick, str(ban.mask), True, until(ban), reason))
        for member, role in list(target_room.members.items()):
            if person is not None:
                if member is not person:
                    continue  # others behind the same address did nothing: they stay, and the ban stops them later
                if not any(mask.matches(member.nick, member.account, member.address) for mask in masks):
                    continue  # their address, banned for guests, while they are logged in
            elif Role.OPERATOR in role or self._exempt(member, target_room):
                continue  # a mask does not put out an operator, who may have set it
            elif not _matching(bans, self.now(), member.nick, member.account, member.address):
                continue
            self._remove(target_room, Kicked(target_room.name, actor.nick, member.nick, _banned(reason)), member)
        self._save(target_room)

    @change
    def unban(self, actor: Member, room: str, mask: str) -> None:
        target_room = self._room_of(actor, room)
        authorize(self.rank(actor, target_room), Action.BAN, target_room.name)
        ban = _find_ban(target_room.bans, mask)
        self._commit()
        target_room.bans.remove(ban)
        target_room.broadcast(BanChanged(target_room.name, actor.nick, str(ban.mask), False, until(ban), ""))
        self._save(target_room)

    @change
    def allow(self, actor: Member, room: str, mask: str, added: bool) -> None:
        """Let a mask into the room past invite-only, or no longer (IRC's +I/-I); the key and limit still apply."""
        target_room = self._room_of(actor, room)
        authorize(self.rank(actor, target_room), Action.CONFIGURE, target_room.name)
        parsed = Mask.parse(mask)
        shown = {str(allowed.mask).lower(): allowed for allowed in target_room.allowed}
        found = shown.get(str(parsed).lower())
        if added == (found is not None):
            return  # as on IRC: allowing what is allowed, or lifting what is not, changes nothing
        if found is None:
            _room_for(target_room.allowed, 1)
        self._commit()
        if found is not None:
            target_room.allowed.remove(found)
        else:
            target_room.allowed.append(Allowed(parsed, actor.nick))
        target_room.broadcast(AllowChanged(target_room.name, actor.nick, str(parsed), added))
        self._save(target_room)

    def allowed(self, member: Member, room: str) -> AllowList:
        target_room = self._room_of(member, room)
        return AllowList(target_room.name, tuple((str(entry.mask), entry.setter) for entry in target_room.allowed))

    def bans(self, member: Member, room: str) -> BanList:
        return self._room_of(member, room).ban_list(self.now())

    # Registered rooms

    @change
    def register_room(self, actor: Member, room: str) -> None:
        """An operator who is logged in makes the room theirs: it keeps its settings, bans and topic when empty."""
        target_room = self._room_of(actor, room)
        if target_room.owner:
            raise ChatError("REGISTERED", room=target_room.name, owner=target_room.owner)
        if actor.account is None:
            raise ChatError("NOT_LOGGED_IN")
        authorize(self.rank(actor, target_room), Action.REGISTER, target_room.name)
        self._commit()
        self._set_owner(actor, target_room, actor.account)

    @change
    def drop_room(self, actor: Member, room: str) -> None:
        """Unregister: the room goes back to lasting while someone is in it."""
        target_room = self._registered(actor, room)
        self._commit()
        target_room.owner = ""
        target_room.operators.clear()
        target_room.broadcast(OwnerChanged(target_room.name, actor.nick, ""))
        self._stored(self.store.drop_room, target_room.name)

    @change
    def transfer_room(self, actor: Member, room: str, account: str) -> None:
        target_room = self._registered(actor, room)
        owner = self._account(account)
        self._commit()
        self._set_owner(actor, target_room, owner)

    @change
    def name_operator(self, actor: Member, room: str, account: str, named: bool) -> None:
        """The owner names (or unnames) an account that gets operator whenever it joins."""
        target_room = self._registered(actor, room)
        if nick_key(account) == nick_key(target_room.owner):
            raise ChatError("OWNER", room=target_room.name, owner=target_room.owner)
        if named:
            name = self._account(account)
        elif nick_key(account) not in target_room.operators:
            raise ChatError("NOT_NAMED", account=account, room=target_room.name)
        self._commit()
        if named:
            target_room.operators[nick_key(name)] = name
        else:
            del target_room.operators[nick_key(account)]
        actor.session.deliver(target_room.info())
        self._op_named(target_room)
        self._save(target_room)

    # Server administrators

    @change
    def kill(self, actor: Member, nick: str, reason: str = "") -> None:
        """Disconnect someone; the rooms they were in see why."""
        self._administering(actor)
        target = self._find(nick)
        if target is actor:
            raise ChatError("SELF", "kill")
        if self.is_admin(target):
            raise ChatError("PROTECTED", "admin", nick=target.nick)
        self._commit()
        self._expel(target, f"disconnected by {actor.nick}" + (f": {reason}" if reason else ""))

    @change
    def server_ban(self, actor: Member, target: str, duration: float | None = None, reason: str = "") -> None:
        """Ban a person or a mask from the whole server: those present are disconnected, and cannot come back."""
        self._administering(actor)
        person, masks = self._banned_by(target)
        if person is not None and self.is_admin(person):
            raise ChatError("PROTECTED", "admin_ban", nick=person.nick)
        if person is actor:
            raise ChatError("SELF", "ban")
        self._commit()
        bans = self._add_bans(actor, self.server_bans, masks, duration, reason, SERVER_BANS_MAX)
        if not bans:
            raise _already_banned(target)
        for ban in bans:
            self._tell_admins(BanChanged("", actor.nick, str(ban.mask), True, until(ban), reason))
        for member in list(self.nicks.values()):
            if not self.is_admin(member) and _matching(bans, self.now(), member.nick, member.account, member.address):
                self._expel(member, f"banned from the server{_why(bans[0])}")
        self._stored(self.store.save_server_bans, tuple(self.server_bans))

    @change
    def server_unban(self, actor: Member, mask: str) -> None:
        self._administering(actor)
        ban = _find_ban(self.server_bans, mask)
        self._commit()
        self.server_bans.remove(ban)
        self._tell_admins(BanChanged("", actor.nick, str(ban.mask), False, until(ban), ""))
        self._stored(self.store.save_server_bans, tuple(self.server_bans))

    def server_ban_list(self, actor: Member) -> BanList:
        self._administering(actor)
        return ban_list("", [ban for ban in self.server_bans if ban.active(self.now())])

    @change
    def set_lockdown(self, actor: Member, level: Lockdown) -> None:
        """A raid: shut guests out (see Lockdown); everyone present is told, so that they know why."""
        self._administering(actor)
        self._commit()
        self.lockdown = level
        log.info("{nick} set the lockdown to {lockdown}", nick=actor.nick, lockdown=level.name.lower())
        event = LockdownChanged(actor.nick, level.name.lower())
        for member in list(self.nicks.values()):
            member.session.deliver(event)

    # Leaving

    @change
    def quit(self, member: Member, reason: str) -> None:
        """Remove a member for good: each person sharing a room hears it once, and the nickname is free."""
        self._present(member)
        self._commit()
        self._depart(member, self._heard(member, reason))

    def _depart(self, member: Member, reason: str) -> None:
        if member.expiry is not None:
            member.expiry.cancel()
            member.expiry = None
        self._tell_peers(member, Quit(member.nick, reason))
        for room in list(member.rooms.values()):
            self._leave(member, room)
        del self.nicks[nick_key(member.nick)]
        self.signed_in.discard(member)
        self.visible.discard(member)
        member.present = False
        self.sequencer.departed(member)

    def close(self, reason: str) -> None:
        """Let everyone go at once (server shutdown): nobody needs to hear the others leave."""
        self.sequencer.closing(reason)
        self.let_go(reason)

    def let_go(self, reason: str) -> None:
        """Close every member's session and forget them, telling nobody else (`close` without the sequencer)."""
        members = list(self.nicks.values())
        self.nicks.clear()
        self.signed_in.clear()
        self.visible.clear()
        self.rooms.clear()
        for member in members:
            member.present = False
            member.rooms.clear()
            if member.expiry is not None:
                member.expiry.cancel()
        for member in members:
            member.session.close(reason)

    def settled(self, member: Member) -> Deferred[None] | None:
        """When the changes `member` asked for have been made, if they have not yet: in one process, at once.

        chatroom.bus.shared's Replica makes a change in its turn in the log, later: it returns a Deferred that
        fires then, so that the member's front end answers, and reads on, only once the change took effect.
        """
        return self.sequencer.settled(member)

    # Inside

    def _commit(self, result: object = None) -> None:
        """Where a change's checks end and its effects begin: a sequencer may stop it here.

        In one process it does. chatroom.bus.shared's sequencer stops here instead (sequence_by puts its `commit`
        here), having checked the change against what it knows, puts the change in the log all processes share, and
        makes it when its turn comes, checked again, in the same order everywhere. Nothing before this call may
        change anything. `result` is what the caller gets back at once in that case.
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

    def _leave(self, member: Member, room: Room) -> None:
        del room.members[member]
        key = room_key(room.name)
        del member.rooms[key]
        if not room.members and not room.owner:
            del self.rooms[key]  # an unregistered room ends with its last member, its settings and bans with it
            room.history.end()
            self.history_store.ended(key)

    def _remove(self, room: Room, event: Kicked, member: Member) -> None:
        room.broadcast(event)
        self._leave(member, room)

    def _expel(self, member: Member, reason: str) -> None:
        """Put someone out of the chat: the rooms hear it as a quit, and their connection is closed."""
        self._depart(member, reason)
        member.session.close(reason)

    def _outside(self, member: Member, name: str) -> Room | None:
        """A room that takes messages from outsiders (IRC's -n), if `member` is not in it and not banned from it."""
        self._present(member)
        room = self.rooms.get(room_key(room_name(name)))
        if room is None or member in room.members or not room.settings.external:
            return None
        ban = _matching(room.bans, self.now(), member.nick, member.account, member.address)
        if ban is not None and not self._exempt(member, room):
            raise ChatError("BANNED", room=room.name, why=_why(ban))
        return room

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

    def _owns(self, member: Member, room: Room) -> bool:
        """The owner's account, while it exists: a removed account owns nothing, even to a session still in it."""
        return self._named(member, room) and nick_key(member.account or "") == nick_key(room.owner)

    def _exempt(self, member: Member, room: Room) -> bool:
        """Those who could lift a room's restrictions are not stopped by them: its owner, named accounts, admins."""
        return self._named(member, room) or self.is_admin(member)

    def _named(self, member: Member, room: Room) -> bool:
        """Whether the member's account is the room's owner or one it named: they get operator on joining."""
        if not (room.owner and member.account):
            return False
        account = nick_key(member.account)
        named = account == nick_key(room.owner) or account in room.operators
        return named and self.accounts.account(member.account) is not None  # a removed account is nobody

    def _registered(self, actor: Member, room: str) -> Room:
        """A registered room the actor is in and owns (or administers)."""
        target_room = self._room_of(actor, room)
        if not target_room.owner:
            raise ChatError("NOT_REGISTERED", room=target_room.name)
        authorize(self.rank(actor, target_room), Action.OWN, target_room.name)
        return target_room

    def _account(self, name: str) -> str:
        account = self.accounts.account(name)
        if account is None:
            raise ChatError("NO_ACCOUNT", name=name)
        return account

    def _set_owner(self, actor: Member, room: Room, account: str) -> None:
        room.owner = account
        room.operators.pop(nick_key(account), None)
        room.broadcast(OwnerChanged(room.name, actor.nick, account))
        self._op_named(room)
        self._save(room)

    def _op_named(self, room: Room) -> None:
        """Those present whom the room's registration makes operators become operators now, not at their next join."""
        for member, role in list(room.members.items()):
            if Role.OPERATOR not in role and self._named(member, room):
                room.members[member] = role | Role.OPERATOR
                room.broadcast(RoleChanged(room.name, "", member.nick, "operator", True))

    def _add_bans(
        self,
        actor: Member,
        bans: list[Ban],
        masks: list[Mask],
        duration: float | None,
        reason: str,
        most: int = 0,
    ) -> list[Ban]:
        """Add to `bans` those of `masks` it does not hold yet; the bans added."""
        now = self.now()
        bans[:] = [ban for ban in bans if ban.active(now)]
        existing = {str(ban.mask).lower() for ban in bans}  # a person's address ban is its alias: no probing it
        added = [
            Ban(mask, actor.nick, reason, None if duration is None else now + duration)
            for mask in masks
            if str(mask).lower() not in existing
        ]
        if most:
            _room_for(bans, len(added), most)
        bans.extend(added)
        return added

    def _heard(self, member: Member, reason: str) -> str:
        """A reason given with a part, a quit or a kick is speech too: a guest's is dropped during a lockdown."""
        return "" if member.account is None and self.lockdown >= Lockdown.SPEAK else reason

    def _not_banned(self, nick: str, account: str | None, address: str) -> None:
        """Refuse a nickname or account the server bans, whenever it is taken: on entering or later."""
        if account and self.accounts.is_admin(account):
            return
        ban = _matching(self.server_bans, self.now(), nick, account, address)
        if ban is not None:
            raise ChatError("BANNED", "server", why=_why(ban))

    def may_speak(self, member: Member) -> None:
        """Raise ChatError if the member may not be heard now (a guest during a lockdown)."""
        if member.account is None and self.lockdown >= Lockdown.SPEAK:
            raise ChatError("LOCKDOWN", "talk")

    def _administering(self, actor: Member, action: Action = Action.ADMINISTER) -> None:
        self._present(actor)
        authorize(Rank.ADMIN if self.is_admin(actor) else Rank.MEMBER, action, "")

    def _tell_admins(self, event: Event) -> None:
        for member in list(self.nicks.values()):
            if self.is_admin(member):
                member.session.deliver(event)

    def _save(self, room: Room) -> None:
        """Write a registered room down, last thing in every change, so that a failure leaves memory whole."""
        if room.owner:
            self._stored(self.store.save_room, room.record())

    def _stored(self, write: Callable[[Any], None], what: object) -> None:
        """Write to the store; if it refuses, the change holds in memory, and the log and the actor are told."""
        if not self.sequencer.stores():
            return
        try:
            write(what)
        except StoreError as error:
            log.error("{error}: the change holds until the server stops", error=error)
            raise ChatError("NOT_SAVED") from None


_ATTRIBUTES = {
    Setting.KEY: "key",
    Setting.LIMIT: "limit",
    Setting.INVITE_ONLY: "invite_only",
    Setting.MODERATED: "moderated",
    Setting.TOPIC_LOCK: "topic_lock",
    Setting.SECRET: "secret",
    Setting.EXTERNAL: "external",
}  # each setting's RoomSettings attribute


def _matching(bans: list[Ban], now: float, nick: str, account: str | None, address: str) -> Ban | None:
    for ban in bans:
        if ban.active(now) and ban.mask.matches(nick, account, address):
            return ban
    return None


def _find_ban(bans: list[Ban], mask: str) -> Ban:
    """The ban on `mask`, as the ban list shows it, or typed in a short form.

    Only the shown form is compared, so a typed address never finds a person's hidden address ban.
    """
    shown = {str(ban.mask).lower(): ban for ban in bans}
    ban = shown.get(mask.lower()) or shown.get(str(Mask.parse(mask)).lower())
    if ban is not None:
        return ban
    raise ChatError("NO_SUCH_BAN", mask=mask)


def _room_for(entries: list[Any], more: int, most: int = LIST_MAX) -> None:
    """Refuse to grow a list of bans or allowed masks past `most`: an operator's or an administrator's too."""
    if len(entries) + more > most:
        raise ChatError("LIST_FULL", most=most)


def _already_banned(target: str) -> ChatError:
    return ChatError("ALREADY_BANNED", target=target)


def _why(ban: Ban) -> str:
    """The reason and end of a ban, as a person reads them: ": spam (until 2026-11-22 20:14 UTC)"."""
    ends = f" (until {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(ban.until))})" if ban.until else ""
    return (f": {ban.reason}" if ban.reason else "") + ends


def _banned(reason: str) -> str:
    return f"banned: {reason}" if reason else "banned"


def _page(lines: int) -> int:
    if not 0 <= lines <= PAGE_MAX:
        raise ChatError("BAD_COUNT", most=PAGE_MAX)
    return lines


def _require_text(text: str) -> None:
    if not text.strip():
        raise ChatError("NO_TEXT")

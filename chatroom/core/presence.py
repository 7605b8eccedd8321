"""Being in the chat: entering under a nickname, a person's sessions, coming back after a lost connection, the
nickname and what a person says of themselves, and leaving.

A member is a person, not a connection: it has one or more sessions (a phone and a laptop), all told the same,
and a person whose last session was lost lingers a while for a reconnection to reclaim (`leave`, `register`).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import replace

from twisted.internet.defer import Deferred

from chatroom.core.base import ChatBase
from chatroom.core.errors import ChatError
from chatroom.core.events import (
    AccountChanged,
    AwayChanged,
    Kicked,
    NickChanged,
    RealnameChanged,
    ResumeToken,
    Session,
    Watched,
)
from chatroom.core.history import JOIN_LINES
from chatroom.core.markers import ReadMarkers
from chatroom.core.members import AWAY_MAX, LINGERING, Details, Member
from chatroom.core.moderation import Lockdown, ban_kick, ban_on, ban_why
from chatroom.core.names import nick_key, not_reserved, validate_nick
from chatroom.core.sequencing import change


class Presence(ChatBase):
    """Who is present, on which sessions, and under which nickname."""

    def check_nick(self, nick: str, asking: Member | None = None, account: str | None = None) -> None:
        """Raise ChatError unless `nick` is valid and free (or already `asking`'s, in another case).

        A newcomer logging in to `account` may also take the nickname of the person logged in to it: that is
        them, on another device or back after losing their connection (`register` attaches them).
        """
        validate_nick(nick)
        not_reserved(nick, self.reserved)
        holder = self.nicks.get(nick_key(nick))
        if holder is None or holder is asking:
            return
        theirs = asking is None and account is not None and nick_key(account) == nick_key(holder.account or "")
        if not theirs:
            raise ChatError("NICK_TAKEN", nick=nick)
        if not self._replaced(account or ""):  # a removed account's person is put out by `register`
            self._room_for_session(holder)

    def register(
        self,
        session: Session,
        nick: str,
        account: str | None,
        address: str,
        details: Details = Details(),
        token: str = "",
        identity: str | None = None,
    ) -> Member:
        """Enter the chat under a free nickname, checked again now: a login may have taken a while.

        If `account`'s person is here, under whatever nickname, and may take one more session, or under `nick` if
        `token` is their resume token: the session becomes one more of that person's (see `attach`), and that
        person is returned. Decided here, in the login's turn: a rename on another process may have come first,
        and so may the account's removal (`identity`: see `_proved`).
        """
        proved = account  # the login's, compared in its turn (_proved)
        if token:
            holder: Member | None = self._resumed(nick, token)
        elif account is not None and (present := self.person_of(account)) is not None and self.may_join(present):
            holder = present
        else:
            self.check_nick(nick, account=account)
            holder = self.nicks.get(nick_key(nick))
            if account is not None and self._replaced(account):
                holder = None  # not them: a removed account's person, put out as the new account is identified
        if holder is not None:
            account = holder.account
        self._not_banned(nick, account, address)
        if account is None and self.lockdown >= Lockdown.CONNECT:
            raise ChatError("LOCKDOWN", "enter")
        self._commit()
        self._proved(proved, identity)
        if holder is not None:
            self._attach(holder, session)
            return holder
        if account is not None:
            self._identify(account)
        member = Member(session, nick, account, address, details=details)
        self.nicks[nick_key(nick)] = member
        if account is not None:
            self.signed_in.add(member)
        if not details.invisible:
            self.visible.add(member)
        self.peak = max(self.peak, len(self.nicks))
        self.watchers.tell(nick, Watched(nick, True))
        return member

    def enter(
        self,
        session: Session,
        nick: str,
        account: str | None,
        address: str,
        details: Details = Details(),
        token: str = "",
        identity: str | None = None,
    ) -> Deferred[Member]:
        """`register`, as a front end asks for it: at once in one process; with several, after its turn in the log."""
        return self.sequencer.enter(session, nick, account, address, details, token, identity)

    def resume_token(self, member: Member) -> str:
        """The secret that reclaims `member` after a lost connection, made when a front end first tells it.

        A guest lingers (see `leave`) only once told it, since nothing else could bring them back.
        """
        self._present(member)
        if not member.token:
            member.token = secrets.token_urlsafe(18)
            self.sequencer.token_made(member, renewed=False)
        return member.token

    def renew_token(self, member: Member) -> None:
        """Replace `member`'s resume token, and tell the new one to each of their sessions: a session ended from
        another (/sessions kick) must not come back with the token it was told."""
        self._present(member)
        self.token_renewed(member, secrets.token_urlsafe(18))
        self.sequencer.token_made(member, renewed=True)

    def token_renewed(self, member: Member, token: str) -> None:
        """`member`'s resume token is `token` from now on (renewed here, or by another process sharing the chat)."""
        member.token = token
        member.session.deliver(ResumeToken(member.nick, token))

    def catch_up(self, member: Member, session: Session, seen: Mapping[str, str] | None = None) -> None:
        """What joining their rooms would show, to a session that has just joined a person already present (after
        whether they are away), then the private messages held for them while they were away.

        Each room is shown as a join shows it, with the lines said since the person lost their connection if
        they were lingering, otherwise the latest ones; the others in the room are told nothing. `seen` (room
        key -> message id, checked by the caller) is the last line a client saw in some rooms: it is shown what
        came after, which is exact even when the server went on writing to a connection it had not yet found dead.
        """
        self._present(member)
        if member.details.away:  # marked away from another session: this one shows it too
            session.deliver(AwayChanged(member.nick, member.details.away))
        lost, member.seen = member.seen, None
        for key, room in member.rooms.items():
            session.deliver(self._joined(room, member))
            since = (seen or {}).get(key, lost.get(key, "") if lost is not None else None)
            if since is None:
                self._show(member, session, room, "", JOIN_LINES)
            else:  # everything kept since: after the line they saw last, or all of it if there was none
                self._show(member, session, room, since, max(1, len(room.history.kept)))
        held, member.session.held = member.session.held, None
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
        return self.sequencer.leave(member, session, reason, lost)

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
        member.session.held = None  # left from an earlier absence on a process the person came back to elsewhere
        if not member.details.away:
            member.details = replace(member.details, away=LINGERING)
        self.sequencer.lingering(member, reason)

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
        self._room_for_session(holder)
        return holder

    def still_proved(self, account: str | None, identity: str | None) -> bool:
        """Whether `account` is still the account of `identity`, which a login checked the password of (or
        registered): not if it was removed, or its name registered again by someone else, meanwhile (or, with
        --redis, in the log before the login's turn). Nothing to compare without `identity`: no password was
        checked (a chat without accounts, one's own account). Once not, never again: identities are not reused."""
        return account is None or identity is None or self.accounts.identity(account) == identity

    def _proved(self, account: str | None, identity: str | None) -> None:
        """BAD_LOGIN, as a wrong password gets, unless `still_proved`. Asked past `_commit`, before any effect: in
        the change's turn only, as a process may not have applied an account's change earlier in the log yet (with
        --redis, the very account its registration just wrote)."""
        if not self.still_proved(account, identity):
            raise ChatError("BAD_LOGIN")

    def may_join(self, holder: Member) -> bool:
        """Whether one more session may join `holder` (with --no-multiclient, only while they wait for one)."""
        return len(holder.sessions) < self.limits.sessions_per_person

    def _room_for_session(self, holder: Member) -> None:
        """ChatError unless one more session may join `holder`.

        TOO_MANY_SESSIONS with --no-multiclient too, not NICK_TAKEN: the one asking has shown (or claims) to be
        that person, and a client told the nickname is taken tries another one, coming in as a second person of
        the same account, where what it must do is end a session (docs/irc.md, Several devices).
        """
        count = len(holder.sessions)
        most = self.limits.sessions_per_person
        if most == 1 and count:
            raise ChatError("TOO_MANY_SESSIONS", "one", nick=holder.nick)
        if count >= most:
            raise ChatError("TOO_MANY_SESSIONS", nick=holder.nick, count=count)

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
    def rename(self, member: Member, nick: str, account: str | None = None, identity: str | None = None) -> None:
        """Change a member's nickname (and account, after a login to `identity`: see `_proved`); everyone sharing a
        room hears it once."""
        self._present(member)
        self.check_nick(nick, member)
        if account is None:
            self.may_speak(member)  # a new name is a new way to be heard
        self._not_banned(nick, account or member.account, member.address)
        self._commit()
        self._proved(account, identity)
        if account is not None:
            self._identify(account, keeping=member)
        old, before = member.nick, member.account
        guest = self._party(member)
        del self.nicks[nick_key(old)]
        self.nicks[nick_key(nick)] = member
        member.nick = nick
        if account is not None:
            member.account = account
            self.signed_in.add(member)
            self.markers(member).merge(member.read)  # what they read as a guest, now their account's
            for target, time in member.read.times.items():
                self.history_store.marked(self.kept_as(account), target, time)  # kept only if later
            member.read = ReadMarkers()
            for room in member.rooms.values():  # a guest's present stays become their account's
                self._stay(member, room, room.joined[member])
            if guest.startswith("g:"):  # a guest's conversations are not the account's
                self.conversations.ended(guest)
        if account is None and member.account is None and old != nick:
            self.conversations.renamed(guest, self._party(member))  # a guest's conversations follow their nickname
        if old != nick:
            self._tell_peers(member, NickChanged(old, nick), including=True)
        if nick_key(old) != nick_key(nick):  # to its watchers, a change of case is the same nickname
            self.watchers.tell(old, Watched(old, False))
            self.watchers.tell(nick, Watched(nick, True))
        if account is not None and account != before:
            self._tell_company(member, AccountChanged(nick, account))
        if account is not None:  # a login: the rooms' bans of that account apply now
            for room in list(member.rooms.values()):
                ban = self._banned(member, room)
                if ban is not None:
                    self._remove(room, Kicked(room.name, ban.setter, nick, ban_kick(ban.reason)), member)

    @change
    def set_away(self, member: Member, text: str) -> None:
        """Mark a member away with a message others read when they look them up, or back with "". Away is the
        person's: each of their sessions is told (the one that asked is answered so), the others if it changed."""
        self._present(member)
        if text:
            self.may_speak(member)  # an away message is read by others: speech, in a lockdown
        self._commit()
        text = text[:AWAY_MAX]
        changed = text != member.details.away
        member.details = replace(member.details, away=text)
        told = AwayChanged(member.nick, text)
        member.session.deliver(told)
        if changed:
            self._tell_company(member, told)

    @change
    def set_realname(self, member: Member, realname: str) -> None:
        """Change the real name a member gives (IRC's SETNAME); they, their rooms and their watchers are told."""
        self._present(member)
        self.may_speak(member)  # read by others: speech, in a lockdown
        self._commit()
        member.details = replace(member.details, realname=realname)
        self._tell_company(member, RealnameChanged(member.nick, realname), including=True)

    def watch(self, member: Member, session: Session, nicks: list[str]) -> tuple[str, ...]:
        """`member`'s `session` is told from now when a person arrives or leaves under one of `nicks`
        (chatroom.core.monitor); those beyond the limit of a list are not watched, and returned. A name no person
        could take is refused, as a whole. Not a change of the chat: a session's list is its process's alone."""
        self._present(member)
        for nick in nicks:
            validate_nick(nick)
        refused = self.watchers.beyond(session, nicks)
        self.watchers.add(member, session, nicks)
        return refused

    def unwatch(self, session: Session, nicks: list[str] | None = None) -> None:
        """`session` stops watching `nicks`, or every nickname (as it ends: the connection layer says so)."""
        self.watchers.remove(session, nicks)

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
    def set_bot(self, member: Member, bot: bool) -> None:
        """Whether a member says it is a bot: every front end marks what it says and where it is listed."""
        self._present(member)
        self._commit()
        member.details = replace(member.details, bot=bot)

    def _not_banned(self, nick: str, account: str | None, address: str) -> None:
        """Refuse a nickname or account the server bans, whenever it is taken: on entering or later."""
        if account and self.accounts.is_admin(account):
            return
        ban = ban_on(self.server_bans, self.now(), nick, account, address)
        if ban is not None:
            raise ChatError("BANNED", "server", why=ban_why(ban))

    @change
    def quit(self, member: Member, reason: str) -> None:
        """Remove a member for good: each person sharing a room hears it once, and the nickname is free."""
        self._present(member)
        self._commit()
        self._depart(member, self._heard(member, reason))

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
        self._forget_lapses()
        self.rooms.clear()
        self.watchers.clear()
        for member in members:
            member.present = False
            member.rooms.clear()
            if member.expiry is not None:
                member.expiry.cancel()
        for member in members:
            member.session.close(reason)

    def asker(self) -> Session | None:
        """The session that asked for the change being told, if it is on this process (chatroom.core.sequencing's
        asked_by): what a person says reaches their other sessions, here or on another process, as anyone else's
        would; only the one that said it may show it itself."""
        return self.sequencer.asker()

    def settled(self, member: Member, session: Session | None) -> Deferred[None] | None:
        """When the changes `session` asked for as `member` have been made, if they have not yet: in one process,
        at once.

        chatroom.bus.shared's Replica makes a change in its turn in the log, later: it returns a Deferred that
        fires then, so that the session's front end answers, and reads on, only once the change took effect. The
        person's other sessions do not wait for it: each is a connection of its own.
        """
        return self.sequencer.settled(member, session)

    def outcome(self, member: Member) -> Deferred[None] | None:
        """When the change `member` has just asked for has been made, if it has not yet; it fails with the ChatError
        that refused it in its turn (with several processes, something earlier in the log may), which the front end
        words itself: what it would tell at once must wait for this (a login mid-chat's success)."""
        return self.sequencer.outcome(member)

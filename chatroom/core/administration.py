"""What server administrators do for the whole server: disconnect someone, ban from the server, lock guests out
during a raid, and speak to those who hear wallops.
"""

from __future__ import annotations

from twisted.logger import Logger

from chatroom.core.base import ChatBase, require_text
from chatroom.core.errors import ChatError
from chatroom.core.events import BanChanged, BanList, Event, LockdownChanged, Wallops
from chatroom.core.members import Member
from chatroom.core.moderation import (
    Action,
    Lockdown,
    add_bans,
    already_banned,
    ban_list,
    ban_on,
    ban_why,
    find_ban,
    refuse_everyone,
    until,
)
from chatroom.core.sequencing import change

log = Logger(namespace="chatroom")

SERVER_BANS_MAX = 500  # server bans: each change rewrites them all (rooms.json, or one Redis key)


class Administration(ChatBase):
    """The server administrators' acts."""

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
        expelled = f"disconnected by {actor.nick}"
        self._expel(target, expelled + (f": {reason}" if reason else ""), expelled)

    @change
    def server_ban(self, actor: Member, target: str, duration: float | None = None, reason: str = "") -> None:
        """Ban a person or a mask from the whole server: those present are disconnected, and cannot come back."""
        self._administering(actor)
        person, masks = self._banned_by(target)
        refuse_everyone(masks, target)
        if person is not None and self.is_admin(person):
            raise ChatError("PROTECTED", "admin_ban", nick=person.nick)
        if person is actor:
            raise ChatError("SELF", "ban")
        self._commit()
        bans = add_bans(self.server_bans, masks, actor.nick, reason, self.now(), duration, SERVER_BANS_MAX)
        if not bans:
            raise already_banned(target)
        for ban in bans:
            self._tell_admins(BanChanged("", actor.nick, str(ban.mask), True, until(ban), reason))
        for member in list(self.nicks.values()):
            if not self.is_admin(member) and ban_on(bans, self.now(), member.nick, member.account, member.address):
                self._expel(member, f"banned from the server{ban_why(bans[0])}", "banned from the server")
        self._stored(self.store.save_server_bans, tuple(self.server_bans))

    @change
    def server_unban(self, actor: Member, mask: str) -> None:
        self._administering(actor)
        ban = find_ban(self.server_bans, mask)
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

    @change
    def wallops(self, actor: Member, text: str) -> None:
        """An administrator's word to every member who hears wallops, and back to the sender.

        A change like any other, so that with several processes it is made, and heard, on each of them.
        """
        self._administering(actor, Action.WALLOPS)
        require_text(text)
        self._commit()
        said = Wallops(actor.nick, text)
        for member in list(self.nicks.values()):
            if member.details.wallops or member is actor:
                member.session.deliver(said)

    def _tell_admins(self, event: Event) -> None:
        for member in list(self.nicks.values()):
            if self.is_admin(member):
                member.session.deliver(event)

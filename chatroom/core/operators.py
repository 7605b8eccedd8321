"""Keeping order in a room: roles, kicks, invitations, settings, bans and the masks let past invite-only.

Each operation finds the actor's rank and asks chatroom.core.moderation.authorize, so the line protocol and IRC
enforce exactly the same rules.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import AbstractContextManager

from chatroom.core.base import ChatBase
from chatroom.core.errors import ChatError
from chatroom.core.events import (
    AllowChanged,
    AllowList,
    BanChanged,
    BanList,
    ExceptChanged,
    ExceptList,
    Invited,
    Kicked,
    RoleChanged,
    SettingChanged,
)
from chatroom.core.members import Member, Room
from chatroom.core.moderation import (
    KEY_MAX,
    LIMIT_MAX,
    LIST_MAX,
    Action,
    Allowed,
    Mask,
    Rank,
    Role,
    Setting,
    add_bans,
    already_banned,
    authorize,
    bad_limit,
    ban_kick,
    ban_on,
    find_ban,
    refuse_everyone,
    refuse_full,
    until,
)
from chatroom.core.names import nick_key
from chatroom.core.sequencing import change

INVITATIONS_KEPT = 50  # per member: rooms come and go, and invitations must not pile up


class Operators(ChatBase):
    """What a room's operators (and its owner, and administrators) may do in it."""

    def changes(self, member: Member, room: str) -> AbstractContextManager[None]:
        """Changes made inside are told together, as one Changes event, when the block ends (IRC's MODE).

        With several processes they are also made together: the sequencer puts them in the log as one entry.
        """
        return self.sequencer.together(member, room)

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
    def ban(
        self,
        actor: Member,
        room: str,
        target: str,
        duration: float | None = None,
        reason: str = "",
        everyone: bool = False,
    ) -> None:
        """Ban a person present anywhere (by account, or a guest by nickname and address), their address, or a mask.

        Banning a person, or their address, puts out that person only (if it matches them), even an operator. A
        mask puts out every member present it matches, operators excepted; one that matches everyone only with
        `everyone` (IRC's `+b *!*@*`: all but the operators and the exceptions).
        """
        target_room = self._room_of(actor, room)
        rank = self.rank(actor, target_room)
        authorize(rank, Action.BAN, target_room.name)
        person, masks = self._banned_by(target)
        if not everyone:
            refuse_everyone(masks, target)
        if person is not None:
            authorize(rank, Action.BAN, target_room.name, self.rank(person, target_room), person.nick)
            if self._named(person, target_room):
                raise ChatError("PROTECTED", "account_operator", nick=person.nick, room=target_room.name)
        if person is actor:
            raise ChatError("SELF", "ban")
        for account in (mask.account for mask in masks if mask.account):  # as if of the person: oneself, ...
            if actor.account and nick_key(account) == nick_key(actor.account):
                raise ChatError("SELF", "ban")
            if self._names(target_room, account):  # ...the room's owner, or one it named
                if nick_key(account) != nick_key(target_room.owner):
                    raise ChatError("PROTECTED", "account_operator", nick=account, room=target_room.name)
                authorize(rank, Action.BAN, target_room.name, Rank.OWNER, account)
        self._commit()
        bans = add_bans(target_room.bans, masks, actor.nick, reason, self.now(), duration, LIST_MAX)
        if not bans and person not in target_room.members:
            raise already_banned(target)
        for ban in bans:
            target_room.broadcast(BanChanged(target_room.name, actor.nick, str(ban.mask), True, until(ban), reason))
        self._lapses(target_room, bans)
        for member, role in list(target_room.members.items()):
            if person is not None:
                if member is not person:
                    continue  # others behind the same address did nothing: they stay, and the ban stops them later
                if not any(mask.matches(member.nick, member.account, member.address) for mask in masks):
                    continue  # their address, banned for guests, while they are logged in
            elif Role.OPERATOR in role or self._exempt(member, target_room):
                continue  # a mask does not put out an operator, who may have set it
            elif not ban_on(bans, self.now(), member.nick, member.account, member.address, member.details.user):
                continue  # not one of these bans (a mute puts nobody out)
            elif self._banned(member, target_room) is None:
                continue  # let past it by an exception
            self._remove(target_room, Kicked(target_room.name, actor.nick, member.nick, ban_kick(reason)), member)
        self._save(target_room)

    @change
    def unban(self, actor: Member, room: str, mask: str) -> None:
        target_room = self._room_of(actor, room)
        authorize(self.rank(actor, target_room), Action.BAN, target_room.name)
        ban = find_ban(target_room.bans, mask)
        self._commit()
        target_room.bans.remove(ban)
        lapse = target_room.lapses.pop(ban, None)
        if lapse is not None:
            lapse.cancel()
        target_room.broadcast(BanChanged(target_room.name, actor.nick, str(ban.mask), False, until(ban), ""))
        self._save(target_room)

    @change
    def allow(self, actor: Member, room: str, mask: str, added: bool) -> None:
        """Let a mask into the room past invite-only, or no longer (IRC's +I/-I); the key and limit still apply."""
        target_room = self._room_of(actor, room)
        parsed = self._list_entry(actor, target_room, target_room.allowed, mask, added)
        if parsed is None:
            return
        self._commit()
        _put(target_room.allowed, parsed, actor.nick, added)
        target_room.broadcast(AllowChanged(target_room.name, actor.nick, str(parsed), added))
        self._save(target_room)

    @change
    def except_bans(self, actor: Member, room: str, mask: str, added: bool) -> None:
        """Let a mask past the room's bans and mutes, or no longer (IRC's +e/-e); `m:MASK` past its mutes only."""
        target_room = self._room_of(actor, room)
        parsed = self._list_entry(actor, target_room, target_room.excepted, mask, added)
        if parsed is None:
            return
        self._commit()
        _put(target_room.excepted, parsed, actor.nick, added)
        target_room.broadcast(ExceptChanged(target_room.name, actor.nick, str(parsed), added))
        self._save(target_room)

    def _list_entry(self, actor: Member, room: Room, entries: list[Allowed], mask: str, added: bool) -> Mask | None:
        """The mask to add to a room's list of masks, or take off it; None if that changes nothing."""
        authorize(self.rank(actor, room), Action.CONFIGURE, room.name)
        parsed = Mask.parse(mask)
        refuse_everyone([parsed], mask)
        there = any(str(entry.mask).lower() == str(parsed).lower() for entry in entries)
        if added == there:
            return None  # as on IRC: adding what is there, or lifting what is not, changes nothing
        if added:
            refuse_full(entries, 1)
        return parsed

    def allowed(self, member: Member, room: str) -> AllowList:
        target_room = self._room_of(member, room)
        return AllowList(target_room.name, tuple((str(entry.mask), entry.setter) for entry in target_room.allowed))

    def exceptions(self, member: Member, room: str) -> ExceptList:
        target_room = self._room_of(member, room)
        return ExceptList(target_room.name, tuple((str(entry.mask), entry.setter) for entry in target_room.excepted))

    def bans(self, member: Member, room: str) -> BanList:
        return self._room_of(member, room).ban_list(self.now())


_ATTRIBUTES = {
    Setting.KEY: "key",
    Setting.LIMIT: "limit",
    Setting.INVITE_ONLY: "invite_only",
    Setting.MODERATED: "moderated",
    Setting.TOPIC_LOCK: "topic_lock",
    Setting.SECRET: "secret",
    Setting.EXTERNAL: "external",
    Setting.NO_CTCP: "no_ctcp",
}  # each setting's RoomSettings attribute


def _put(entries: list[Allowed], mask: Mask, setter: str, added: bool) -> None:
    """Add `mask` to a list of masks, or take off the entry shown as it."""
    if added:
        entries.append(Allowed(mask, setter))
    else:
        entries[:] = [entry for entry in entries if str(entry.mask).lower() != str(mask).lower()]

"""Rooms and talk: joining and parting, what is said in a room and to one person, where each person has read up
to, topics, and the lists of rooms.

`say` and the delivery it makes are the chat's hot path: each message costs a check of the room, the member, the
lockdown and the room's `moderated` setting, then one broadcast (docs/performance.md).
"""

from __future__ import annotations

from dataclasses import replace

from chatroom.core.base import ChatBase, client_tags
from chatroom.core.errors import ChatError
from chatroom.core.events import (
    AwayChanged,
    Message,
    MetadataSync,
    Names,
    Parted,
    PrivateMessage,
    Reaction,
    ReadMarker,
    RoleChanged,
    RoomInfo,
    RoomList,
    Topic,
    Typing,
)
from chatroom.core.gestures import answered, reaction, typing_due, typing_ended, typing_relayed, typing_state
from chatroom.core.history import JOIN_LINES, check_point, page, persisted, timestamp
from chatroom.core.markers import marker_target, read_time
from chatroom.core.members import Member, Room
from chatroom.core.moderation import CTCP, Action, Lockdown, Rank, Role, authorize, ban_why
from chatroom.core.multiline import check_lines
from chatroom.core.names import nick_key, room_key, room_name
from chatroom.core.private import conversation, keeps_private, stored
from chatroom.core.sequencing import change


class Talk(ChatBase):
    """What members say, and the rooms they say it in."""

    @change
    def join(self, member: Member, name: str, key: str = "", since: str = "", lines: int = JOIN_LINES) -> str:
        """Enter a room, creating it if needed; joining one you are in changes nothing. Returns its name.

        With history on, the member is then shown the room's last `lines`, or, with `since` (a message id they
        saw before they were disconnected), everything kept after it: before any line said after they joined.
        """
        self._present(member)
        if since:
            check_point(since)
        page(lines)
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
        room.joined[member] = now = self.stay_start(room)
        self._stay(member, room, now)
        member.rooms[room_id] = room
        room.broadcast(self._joined(room, member))
        if member.metadata:  # the others learn who joined: their display name, avatar...
            introduced = MetadataSync(room.name, tuple((member.nick, k, v) for k, v in member.metadata.items()))
            for other in room.members:
                if other is not member:
                    other.session.deliver(introduced)
        if member.details.away:  # those who show who is away learn it as the person arrives (IRC's away-notify)
            away = AwayChanged(member.nick, member.details.away)
            for other in room.members:
                if other is not member:
                    other.session.deliver(away)
        if role:
            room.members[member] = role
            if len(room.members) > 1:  # the others see the server give it; NAMES shows it to the one joining
                room.broadcast(RoleChanged(room.name, "", member.nick, "operator", True))
        self._show(member, member.session, room, since, lines)
        return room.name

    def _admit(self, member: Member, room: Room, key: str) -> None:
        """Raise ChatError if `member` may not join `room`: banned, not invited, a wrong key, or it is full."""
        full = self.limits.members_per_room
        if full and len(room.members) >= full:
            raise ChatError("ROOM_FULL", room=room.name, count=full)
        if self._exempt(member, room):
            return
        ban = self._banned(member, room)
        if ban is not None:
            raise ChatError("BANNED", room=room.name, why=ban_why(ban))
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
        self,
        member: Member,
        room: str,
        text: str,
        action: bool = False,
        notice: bool = False,
        to: str = "",
        tags: dict[str, str] | None = None,
        breaks: tuple[int, ...] = (),
    ) -> None:
        """Send text to a room the member is in, or to one open to outsiders; members get it, the sender too.

        `to` is "@" for the room's operators only, "+" for those with voice and operators (see Message); `tags`
        are the message's client tags, and may be all of it (`text` "": never kept).
        """
        target = self._heard_by(member, room)
        carried = client_tags(text, tags)
        check_lines(text, breaks)
        reply = answered(tags)
        self.may_speak(member)
        self._heard_in(member, target, text, action)
        gesture = "" if text or to else typing_state(tags)
        if gesture and not typing_due(member, room_key(target.name), gesture, self.now()):
            return  # too soon after the last: dropped, as a flood of them would be (chatroom.core.gestures)
        emoji = "" if text or to or gesture or not reply else reaction(tags)
        kept = bool(text) or (not (gesture or emoji) and persisted(text, carried))
        self._commit()
        now = self.now()
        if gesture and not self._typing(member, room_key(target.name), gesture, now):  # checked again, in its turn
            return
        msgid, said = target.history.stamp(now, aside=bool(to) or not kept)
        if gesture:
            target.broadcast(Typing(target.name, member.nick, gesture, False, msgid, said, carried))
            return
        if emoji:
            target.broadcast(Reaction(target.name, member.nick, reply, emoji, False, msgid, said, carried))
            return
        self.messages += 1  # a reaction or a typing notice is not a message, for the metrics' count
        typing_ended(member, room_key(target.name))
        event = Message(target.name, member.nick, text, action, notice, to, msgid, said, carried, reply, tuple(breaks))
        if kept:  # a message without its client tags: relayed, not kept (their bytes are not history's to count)
            self._keep(target, replace(event, tags=()) if text and carried else event, now)
        if not to:
            target.broadcast(event)
            return
        least = Role.OPERATOR if to == "@" else Role.VOICE | Role.OPERATOR
        for listener, role in list(target.members.items()):
            if listener is member or role & least:
                listener.session.deliver(event)

    def _heard_in(self, member: Member, room: Room, text: str, action: bool) -> None:
        """Raise ChatError unless `member` may say `text` in `room`: its moderation, a mute on them (voice or an
        exception lets them past it), and a CTCP request while the room refuses them."""
        if room.settings.no_ctcp and text.startswith(CTCP) and not action:
            raise ChatError("NO_CTCP", room=room.name)
        if not (room.settings.moderated or room.bans):
            return
        rank = self.rank(member, room)
        if room.settings.moderated:
            authorize(rank, Action.SPEAK, room.name)
        if rank < Rank.VOICE and self._banned(member, room, mute=True) is not None:
            raise ChatError("MUTED", room=room.name)

    @change
    def private(
        self,
        member: Member,
        nick: str,
        text: str,
        action: bool = False,
        notice: bool = False,
        tags: dict[str, str] | None = None,
        breaks: tuple[int, ...] = (),
    ) -> None:
        """Send text (or client tags, or both: see say) to one person; the sender gets a copy as proof of
        delivery."""
        self._present(member)
        recipient = self._find(nick)
        carried = client_tags(text, tags)
        check_lines(text, breaks)
        reply = answered(tags)
        self.may_speak(member)
        gesture = "" if text else typing_state(tags)
        if gesture and not typing_due(member, _private_key(recipient), gesture, self.now()):
            return
        emoji = "" if text or gesture or not reply else reaction(tags)
        self._commit()
        if gesture or emoji:
            if gesture and not self._typing(member, _private_key(recipient), gesture, self.now()):
                return
            stamped = self.conversations.stamp(PrivateMessage(member.nick, recipient.nick, ""), self.now())
            told = (
                Typing(recipient.nick, member.nick, gesture, True, stamped.id, stamped.time, carried)
                if gesture
                else Reaction(recipient.nick, member.nick, reply, emoji, True, stamped.id, stamped.time, carried)
            )
            recipient.session.deliver(told)
            if recipient is not member:
                member.session.deliver(told)
            return
        self.messages += 1
        typing_ended(member, _private_key(recipient))
        event = PrivateMessage(
            member.nick, recipient.nick, text, action, notice, tags=carried, reply=reply, breaks=tuple(breaks)
        )
        if keeps_private(self.history_limits):  # kept, for these two only to read (chatroom.core.private)
            key = conversation(self._party(member), self._party(recipient))
            event, line = self.conversations.say(key, event, self.now(), self.history_limits)
            if (text or persisted(text, carried)) and stored(key):
                self.history_store.said_private(key, line)
        else:
            event = self.conversations.stamp(event, self.now())
        recipient.session.deliver(event)
        if recipient is not member:
            member.session.deliver(event)

    @staticmethod
    def _typing(member: Member, key: str, state: str, now: float) -> bool:
        """Whether a typing notice is relayed, noting it if it is (chatroom.core.gestures)."""
        if not typing_due(member, key, state, now):
            return False
        typing_relayed(member, key, state, now)
        return True

    @change
    def set_topic(self, member: Member, room: str, text: str) -> None:
        target = self._room_of(member, room)
        self.may_speak(member)
        if target.settings.topic_lock:
            authorize(self.rank(member, target), Action.TOPIC, target.name)
        self._commit()
        now = self.now()
        msgid, said = target.history.stamp(now)
        target.topic = Topic(target.name, member.nick, text, msgid, said)
        target.topic_time = now
        self._keep(target, Message(target.name, member.nick, text, id=msgid, time=said, topic=True), now)
        target.broadcast(target.topic)
        self._save(target)

    def _keep(self, room: Room, line: Message, now: float) -> None:
        """Keep a line said to the whole room, as far as the room keeps any, in memory and in the history store."""
        dropped = room.history.keep(line, now)
        key = room_key(room.name)
        self.history_store.said(key, line, kept=room.history.limits.lines > 0)
        if dropped and room.settings.keep_lines + room.settings.keep_age:  # else the store bounds itself
            self.history_store.redacted(key, [message.id for message in dropped])

    # Where a person has read up to (chatroom.core.markers)

    @change
    def mark_read(self, member: Member, target: str, time: str) -> bool:
        """`member` has read `target` (a room or a nickname) up to `time`: each of their sessions is told.

        A marker never moves back: whether it moved (if not, nothing changes, and the caller tells the session that
        asked where it stands).
        """
        self._present(member)
        shown, key = marker_target(target)
        # Not past now: a marker never moves back, so one set in the year 9999 would stand for ever
        time = min(read_time(time), timestamp(self.now()))
        if self.markers(member).get(key) >= time:
            return False
        self._commit(True)
        self.markers(member).move(key, time)
        if member.account is not None:  # an account's markers are kept with the history; a guest's end with them
            self.history_store.marked(self.kept_as(member.account), key, time)
        member.session.deliver(ReadMarker(shown, time))
        return True

    def read_marker(self, member: Member, target: str) -> ReadMarker:
        """Where `member` has read `target` up to ("" if never marked)."""
        shown, key = marker_target(target)
        return ReadMarker(shown, self.markers(member).get(key))

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

    def _heard_by(self, member: Member, name: str) -> Room:
        """The room `member` says something in: one they are in, or one that takes messages from outsiders (IRC's
        -n) and has not banned them."""
        self._present(member)
        shown = room_name(name)
        key = room_key(shown)
        room = member.rooms.get(key)
        if room is not None:
            return room
        room = self.rooms.get(key)
        if room is None or not room.settings.external:
            raise ChatError("NOT_IN_ROOM", room=shown)
        ban = self._banned(member, room)
        if ban is not None:
            raise ChatError("BANNED", room=room.name, why=ban_why(ban))
        return room


def _private_key(recipient: Member) -> str:
    """A private conversation's place among a sender's typing notes: never a room's key (it has a space)."""
    return "to " + nick_key(recipient.nick)

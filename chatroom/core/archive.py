"""The lines rooms kept (--history), as their members ask for them, and as operators and administrators remove
them; the history itself is chatroom.core.history's.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger

from chatroom.core.base import ChatBase
from chatroom.core.errors import ChatError
from chatroom.core.events import History, Redacted
from chatroom.core.history import JOIN_LINES, RoomHistory, check_point, page, seconds
from chatroom.core.members import Member
from chatroom.core.moderation import Action, authorize
from chatroom.core.names import VALID_NICK, nick_key, room_key, room_name, validate_nick
from chatroom.core.private import conversation, keeps_private, stored
from chatroom.core.sequencing import change

log = Logger(namespace="chatroom")


class Archive(ChatBase):
    """Asking a room's history, and removing from it."""

    def history(
        self, member: Member, room: str, how: str = "latest", point: str = "", lines: int = JOIN_LINES
    ) -> Deferred[History]:
        """Lines a room kept, for a member of it: `how` is "latest", "before", "after" or "around" `point`.

        `point` is a message id or a time (chatroom.core.history); "latest" takes "" for none. Fires at once when
        memory holds the lines, later when the store reads them.
        """
        target = self._room_of(member, room)
        if not self.history_limits.lines:
            raise ChatError("NO_HISTORY")
        if how not in RoomHistory.QUERIES or (how != "latest" and not point):
            raise ChatError("USAGE", "history")
        if point:
            check_point(point)
        return self._kept(target, how, point, page(lines), self.readable_from(member, target))

    def history_targets(self, member: Member, one: str, other: str, most: int) -> list[tuple[str, str]]:
        """The member's rooms whose last kept line was said between two times (in either order, both excluded),
        each with that line's time, the earliest first, at most `most` (page): where a client back from an absence
        has lines to catch up on (IRCv3's CHATHISTORY TARGETS)."""
        self._present(member)
        start, end = sorted((seconds(one), seconds(other)))
        lasts = ((room.history.last_time(), room) for room in member.rooms.values())
        latest = [
            (last, room.name) for last, room in lasts if last and seconds(last) >= self.readable_from(member, room)
        ]
        latest += [(line.time, self._shown(other)) for other, line in self.conversations.latest(self._party(member))]
        found = sorted((time, name) for time, name in latest if start < seconds(time) < end)
        return [(name, time) for time, name in found[: page(most)]]

    def private_history(self, member: Member, nick: str, how: str, point: str, lines: int) -> Deferred[History]:
        """Lines of `member`'s private conversation with `nick` (--history-private), asked as `history` asks a
        room's: only the two people in it can, as each asks for the other (chatroom.core.private).

        Nothing, with an unknown number lost, when the server keeps no private conversations.
        """
        self._present(member)
        validate_nick(nick)
        if how not in RoomHistory.QUERIES or (how != "latest" and not point):
            raise ChatError("USAGE", "history")
        if point:
            check_point(point)
        page(lines)
        if not keeps_private(self.history_limits):
            return succeed(History(nick, (), lost=-1))
        key = conversation(self._party(member), self._party_named(nick))
        # From memory only: what --history-memory drops of a conversation is not read back (it is of the rooms')
        return succeed(self.conversations.query(key, nick, how, point, lines, self.now()))

    def _party_named(self, nick: str) -> str:
        """Who `nick` is in a conversation: whoever has it now, or else the account of that name; a guest who left
        is nobody any more (their conversations ended with them)."""
        present = self.nicks.get(nick_key(nick))
        if present is not None:
            return self._party(present)
        account = self.accounts.account(nick)
        return "a:" + nick_key(self.kept_as(account)) if account is not None else "g:" + nick_key(nick)

    def _shown(self, side: str) -> str:
        """The name a conversation's other party is shown by: a guest's nickname, or an account holder's present
        nickname, else the account's name."""
        kind, _, key = side.partition(":")
        key = key.partition("~")[0]  # an account's identity (`kept_as`)
        if kind == "g":
            return self.nicks[key].nick
        holder = next((member for member in self.signed_in if nick_key(member.account or "") == key), None)
        return holder.nick if holder is not None else self.accounts.account(key) or key

    @change
    def redact(self, actor: Member, room: str, target: str, reason: str = "") -> None:
        """Remove a line from the room's history (by its id), or every kept line of a nickname: an operator's act,
        or anyone's on a line of their own (by its id) where the room's rule lets members erase their own."""
        target_room = self._room_of(actor, room)
        history = target_room.history
        found = next((message for message in history.kept if message.id == target), None)
        own = found is not None and nick_key(found.nick) == nick_key(actor.nick) and target_room.settings.redact_mine
        if not own:  # an operator's act; so is a line only the store holds (whose it is, only the store knows)
            authorize(self.rank(actor, target_room), Action.REDACT, target_room.name)
        by_id = found is not None or history.beyond(target)
        said = any(nick_key(line.nick) == nick_key(target) for line in history.kept)
        maybe_nick = VALID_NICK.fullmatch(target) is not None and not history.of_this_life(target)
        by_nick = not by_id and (said or (history.behind and maybe_nick))
        if not (by_id or by_nick):
            raise ChatError("NO_SUCH_MESSAGE", room=target_room.name, target=target)
        self._commit()
        # An id memory does not hold is one the store holds: gone from it, if it is there
        removed = (history.redact({target}) or [target]) if by_id else history.redact(set(), target)
        self.history_store.redacted(room_key(target_room.name), removed, target if by_nick else "")
        log.info(
            "{nick} removed {count} lines from the history of {room}",
            nick=actor.nick,
            count=len(removed),
            room=target_room.name,
        )
        if removed:  # none: a nickname's lines only the store held, which no one is shown now
            target_room.broadcast(Redacted(target_room.name, actor.nick, tuple(removed), reason))

    @change
    def redact_private(self, actor: Member, nick: str, msgid: str, reason: str = "") -> None:
        """Remove a line of one's own from one's private conversation with `nick` (--history-private), as from a
        room: told to both people's sessions, and gone from the store. Whose a line is goes by the nickname it was
        said under: one's present nickname, or an account holder's account name."""
        self._present(actor)
        validate_nick(nick)
        key = conversation(self._party(actor), self._party_named(nick))
        history = self.conversations.kept.get(key) if keeps_private(self.history_limits) else None
        found = next((line for line in history.kept if line.id == msgid), None) if history is not None else None
        if history is None or found is None:
            raise ChatError("NO_SUCH_MESSAGE", "private", nick=nick, target=msgid)
        if nick_key(found.nick) not in (nick_key(actor.nick), nick_key(actor.account or "")):
            raise ChatError("NOT_YOURS", target=msgid)
        self._commit()
        removed = history.redact({msgid})
        if stored(key):
            self.history_store.redacted(key, removed)
        told = Redacted(found.room, actor.nick, tuple(removed), reason, private=True)
        actor.session.deliver(told)
        other = self.nicks.get(nick_key(nick))
        if other is not None and other is not actor:
            other.session.deliver(told)

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

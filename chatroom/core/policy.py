"""Changing a room's history rule (chatroom.core.rules says what a rule is), and what a room's owner and members
may erase of its history or take away."""

from __future__ import annotations

import dataclasses

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from chatroom.core.base import ChatBase
from chatroom.core.errors import ChatError
from chatroom.core.events import Exported, KeptNotice, Redacted
from chatroom.core.members import Member
from chatroom.core.moderation import Action, Rank, authorize
from chatroom.core.names import nick_key, room_key
from chatroom.core.rules import RULES, keeps, parse_keep, rule_limits, rule_words
from chatroom.core.sequencing import change

log = Logger(namespace="chatroom")


class Policy(ChatBase):
    """Changing a room's history rule, and what its owner and members may erase or take away."""

    @change
    def set_history_rule(self, actor: Member, room: str, what: str, value: str) -> None:
        """`what` is "history" (off, since-join, all), "keep" (`parse_keep`), or "redact-mine" (on, off).

        A narrower rule drops at once what it no longer keeps, from memory and the store; everyone in the room is
        told the rule as a joiner is.
        """
        target = self._room_of(actor, room)
        authorize(self.rank(actor, target), Action.CONFIGURE, target.name)
        settings, word = target.settings, value.strip().lower()
        if what == "history" and word in RULES:
            new = dataclasses.replace(settings, history=word)
        elif what == "keep":
            lines, age = parse_keep(value)
            new = dataclasses.replace(settings, keep_lines=lines, keep_age=age)
        elif what == "redact-mine" and word in ("on", "off"):
            new = dataclasses.replace(settings, redact_mine=word == "on")
        else:
            raise ChatError("BAD_RULE", "rule", text=f"{what} {value}".strip())
        if new == settings:
            return
        self._commit()
        target.settings = new
        self.apply_rule(target)
        told = keeps(self.history_limits, new) or "this room keeps no history"
        target.broadcast(KeptNotice(target.name, actor.nick, told, rule_words(new)))
        self._save(target)

    @change
    def forget(self, actor: Member, room: str) -> None:
        """The owner's `/room forget`: every line the room kept is erased, from memory and the store."""
        target = self._room_of(actor, room)
        authorize(self.rank(actor, target), Action.OWN, target.name)
        self._commit()
        count = target.history.clear()
        self.history_store.cleared(room_key(target.name))
        log.info("{nick} made {room} forget its history ({count} lines)", nick=actor.nick, room=target.name,
                 count=count)  # fmt: skip
        target.broadcast(Redacted(target.name, actor.nick, ()))

    @change
    def redact_mine(self, actor: Member, room: str) -> None:
        """Erase every line the room keeps of the actor's nickname, where the room's rule allows it (its operators
        always may). Refused when there is none, rather than done without a word: the person asked and is told.
        Lines a store holds beyond memory cannot be counted here: then the store is told to erase theirs."""
        target = self._room_of(actor, room)
        if not target.settings.redact_mine and self.rank(actor, target) < Rank.OPERATOR:
            raise ChatError("NOT_ALLOWED", "redact_mine", room=target.name)
        mine = nick_key(actor.nick)
        if not target.history.behind and all(nick_key(line.nick) != mine for line in target.history.kept):
            raise ChatError("NO_SUCH_MESSAGE", "mine", room=target.name)
        self._commit()
        removed = target.history.redact(set(), actor.nick)
        if removed or target.history.behind:  # and those the store holds beyond memory
            self.history_store.redacted(room_key(target.name), removed, actor.nick)
        if removed:
            target.broadcast(Redacted(target.name, actor.nick, tuple(removed)))

    def export(self, actor: Member, room: str) -> Deferred[Exported]:
        """Everything the room keeps that the actor may read, for `/room export`: its owner's or an operator's;
        with what the store holds beyond memory (then it fires later)."""
        target = self._room_of(actor, room)
        authorize(self.rank(actor, target), Action.CONFIGURE, target.name)
        if not self.history_limits.lines:
            raise ChatError("NO_HISTORY")
        limits = rule_limits(self.history_limits, target.settings)
        kept = self._kept(target, "latest", "", limits.lines, self.readable_from(actor, target))
        return kept.addCallback(lambda history: Exported(target.name, history.messages))

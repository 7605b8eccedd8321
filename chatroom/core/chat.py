"""The chat: who is here under which nickname, which rooms exist, and the rules for changing either.

A person enters with `register`, which claims a nickname and gives back their `Member`; everything else
takes that member. A member is present from `register` until `quit` (or the server's `close`); after that,
every method refuses it with `Departed`, so a late callback can never act for someone who has left.

`Chat` is one object made of parts, each a module named for what it does, all over one state:
- chatroom.core.base: `ChatBase`, the state (members by nickname, rooms, server bans, the lockdown) and what
  several parts use (finding a member or a room, ranks, telling those who share a room, leaving a room, saving);
- chatroom.core.presence: entering, sessions, coming back after a lost connection, nicknames, details, leaving;
- chatroom.core.talk: joining and parting rooms, what is said in them and privately, topics, lists of rooms;
- chatroom.core.operators: keeping order in a room: roles, kicks, invitations, settings, bans, allow lists;
- chatroom.core.archive: the history rooms kept, as members ask for it and operators remove it;
- chatroom.core.policy: each room's history rule, and what its owner and members erase or export;
- chatroom.core.search: searching the lines kept in the rooms a member is in;
- chatroom.core.renaming: a room's new name;
- chatroom.core.registered: rooms registered to an account, which outlive their members;
- chatroom.core.administration: the server administrators' acts: kill, server bans, lockdown, wallops;
- chatroom.core.metadata: what a person says of themselves and a room of itself (display names, avatars).

Why mixins over one base rather than parts Chat delegates to: the parts are not separable states but views of
one (a kick changes the room, the member and who hears what), so each would hold the others anyway; front ends
call `chat.kick(...)`, and delegation would repeat each of some sixty methods once more, and put one more call on
the path of every message (`say`), which a mixin does not (a method is found once per class, not per call); and
`@change` (chatroom.core.sequencing) marks methods where they are written, which `changes(Chat)` finds through
the classes as it did in one. Each part is typed against `ChatBase`, so mypy checks what it uses of the state.
A part calls only its own methods and the base's: what two parts need is in the base.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from twisted.internet.defer import Deferred, fail, succeed

from chatroom.core.administration import Administration
from chatroom.core.archive import Archive
from chatroom.core.errors import ChatError
from chatroom.core.events import Session
from chatroom.core.members import Details, Member
from chatroom.core.metadata import Metadata
from chatroom.core.operators import Operators
from chatroom.core.policy import Policy
from chatroom.core.presence import Presence
from chatroom.core.registered import RegisteredRooms
from chatroom.core.renaming import Renaming
from chatroom.core.search import Search
from chatroom.core.sequencing import Points, asking
from chatroom.core.talk import Talk


class Chat(Presence, Talk, Operators, Renaming, Archive, Policy, Search, RegisteredRooms, Administration, Metadata):
    """Every room and nickname of one server."""

    def _alone(self) -> Points:
        return AtOnce(self)


class AtOnce:
    """One process, with no sequencer: the other points of a Sequencer, answered as a chat alone answers them.

    It has no `run` nor `commit`: a chat with no sequencer calls its changes and its `_commit` directly, so that one
    process pays nothing for a chat that can be shared (`Chat.sequence_by` binds them to a sequencer).
    """

    def __init__(self, chat: Chat) -> None:
        self.chat = chat

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
        try:
            return succeed(self.chat.register(session, nick, account, address, details, token, identity))
        except ChatError:
            return fail()

    def leave(self, member: Member, session: Session, reason: str, lost: bool) -> bool:
        return self.chat.end_session(member, session, reason, lost)

    def lingering(self, member: Member, reason: str) -> None:
        member.expiry = self.chat.timers.callLater(self.chat.limits.linger, self.chat.expire, member, reason)

    def token_made(self, member: Member, renewed: bool) -> None:
        pass

    def together(self, member: Member, room: str) -> AbstractContextManager[None]:
        return self.chat.told_together(member, room)

    def settled(self, member: Member, session: Session | None) -> Deferred[None] | None:
        return None

    def outcome(self, member: Member) -> Deferred[None] | None:
        return None

    def departed(self, member: Member) -> None:
        pass

    def stores(self) -> bool:
        return True

    def asker(self) -> Session | None:
        return asking()  # a change is made as it is asked for, inside the asking line

    def closing(self, reason: str) -> None:
        pass

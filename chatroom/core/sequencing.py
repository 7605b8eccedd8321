"""Which of the chat's methods are changes, and who decides when a change is made.

A change (`@change`) checks what is asked against the state, then reaches `Chat._commit`, where its effects
begin. In one process it simply goes on (chatroom.core.chat's `AtOnce`). Processes sharing one chat
(chatroom.bus.shared) install a sequencer that stops it there, puts it in the log they all read, and makes it when
its turn comes, on every replica in the same order. The mark on each method is the one list of changes: the bus
replicates exactly the methods `changes` finds, so a change added to the core later is replicated by the line that
declares it.

Why a mark and a stop point rather than two methods per change (a check and an apply): the checks and the
effects share the values they compute (the room found, the target member, a role), and splitting some 30 methods in
two would say each of them twice; the stop point keeps one method per change, readable top to bottom.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from contextvars import ContextVar
from typing import Any, Protocol, TypeVar

from twisted.internet.defer import Deferred

from chatroom.core.events import Session
from chatroom.core.members import Details, Member

F = TypeVar("F", bound=Callable[..., Any])

CHANGE = "__chat_change__"  # the attribute `change` sets on the methods it marks

# The session whose line is being executed: what a sequencer that makes changes later tells their refusal to.
_ASKING: ContextVar[Session | None] = ContextVar("asking", default=None)


class asked_by:  # lower case: read as a function: `with asked_by(session):`
    """The changes asked for inside are `session`'s: refused in their turn, later (chatroom.bus.shared), they are
    told to it alone, not to the person's other sessions, which did not ask.

    A context variable rather than an argument of every change: a change is called with the member acting, and the
    front end's connection knows which of their sessions asked. Twisted runs a coroutine in a copy of the context it
    started in, so a login checked in a thread still asks as its session when it resumes. A class, not a
    generator: every line a client sends runs inside one, and this costs a third as much.
    """

    __slots__ = ("_session", "_token")

    def __init__(self, session: Session) -> None:
        self._session = session

    def __enter__(self) -> None:
        self._token = _ASKING.set(self._session)

    def __exit__(self, *exception: object) -> None:
        _ASKING.reset(self._token)


def asking() -> Session | None:
    """The session asking for the changes made now (`asked_by`); None for the server's own (a timer's)."""
    return _ASKING.get()


class Points(Protocol):
    """The points where a chat alone in its process (chatroom.core.chat's AtOnce) and one shared by several
    differ, besides making the changes themselves (Sequencer); the chat's rules stay in the chat."""

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
        """`Chat.register`, made in its turn: fires with the member, or fails with the ChatError that refused it."""

    def leave(self, member: Member, session: Session, reason: str, lost: bool) -> bool:
        """`Chat.end_session`, made in its turn; whether the person leaves with it (as far as can be said now)."""

    def lingering(self, member: Member, reason: str) -> None:
        """`member` lingers from now: whoever is to end it arranges `Chat.expire` after RoomLimits.linger seconds."""

    def token_made(self, member: Member, renewed: bool) -> None:
        """`member`'s resume token was just made here, first or `renewed` (the old one must reclaim nobody, and
        their sessions are told the new one): whoever may check it must know it."""

    def together(self, member: Member, room: str) -> AbstractContextManager[None]:
        """Changes made inside are made, and told, together (`Chat.told_together` where they are made)."""

    def settled(self, member: Member, session: Session | None) -> Deferred[None] | None:
        """Fires once the changes `session` asked for as `member` are made (None: those no session asked for); None
        if they all are. Per session, not per person: a person's devices are connections of their own, and one's
        change waiting for its turn must not hold the others' next lines."""

    def outcome(self, member: Member) -> Deferred[None] | None:
        """Fires once the change `member` has just asked for has had its turn, or fails with the ChatError that
        refused it then, told to nobody else; None if it was made at once."""

    def departed(self, member: Member) -> None:
        """`member` has left the chat (quit, expelled, or its process gone)."""

    def stores(self) -> bool:
        """Whether the change being made is written to the chat's store here (once, by one process)."""

    def asker(self) -> Session | None:
        """The session that asked for the change being made (`asked_by`), if it is on this process; None if none
        did (the server's own) or it was asked for on another: what tells an IRC client's own line from the same
        person's line said on another of their connections."""

    def closing(self, reason: str) -> None:
        """The chat is closing (server shutdown): everyone present is let go just after."""


class Sequencer(Points, Protocol):
    """Whoever orders a chat's changes (chatroom.bus.shared's Replica, a log's reader): `Chat.sequence_by`."""

    def run(self, name: str, change: Callable[..., Any], member: Member, *args: Any, **kwargs: Any) -> Any:
        """Make `change` (the method marked `name`, bound to its chat) for `member`, as a front end asked; what it
        returns."""

    def commit(self, result: object = None) -> None:
        """The change being made passed its checks and its effects begin: return to go on, or raise to stop.

        `result` is what its caller would get back at once if it stops here.
        """


def change(method: F) -> F:
    """Declare a method of Chat a change: one that takes the member acting first and calls `_commit` once checked.

    Only a mark: the method is unchanged. Its arguments after the member must be what JSON holds (or enums
    chatroom.bus.shared knows): a log carries them.
    """
    setattr(method, CHANGE, True)
    return method


def changes(cls: type) -> dict[str, Callable[..., Any]]:
    """The changes `cls` declares, by name: what a sequencer is handed, and a replica makes in their turn."""
    return {name: getattr(cls, name) for name in dir(cls) if getattr(getattr(cls, name, None), CHANGE, False)}

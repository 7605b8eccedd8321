"""`/watch` and `/unwatch`: be told when people arrive and leave (WATCH lines), from the connection's watch list,
which the core keeps (chatroom.core.monitor) as it keeps an IRC connection's MONITOR list."""

from __future__ import annotations

from chatroom.core.errors import ChatError
from chatroom.core.events import Watched
from chatroom.core.monitor import WATCH_MAX
from chatroom.frontends.line.commands import command
from chatroom.frontends.line.dialect import LineDialect
from chatroom.frontends.line.wire import listed


@command(
    "watch",
    "[NICK...]",
    f"be told when these people arrive and leave (at most {WATCH_MAX}), and whether they are here now;"
    " alone: whom you watch",
)
def _watch(session: LineDialect, arg: str) -> None:
    chat, member = session.chat, session.member
    nicks = arg.split()
    if not nicks:
        session.write(listed("WATCHING", [], chat.watched(session.connection)))
        return
    refused = chat.watch(member, session.connection, nicks)
    for nick in nicks:
        if nick not in refused:
            present = chat.person(nick)
            session.deliver(Watched(present.nick, True) if present is not None else Watched(nick, False))
    if refused:
        raise ChatError("WATCH_FULL", most=WATCH_MAX)


@command("unwatch", "[NICK...]", "stop watching these people; alone: stop watching anyone")
def _unwatch(session: LineDialect, arg: str) -> None:
    session.chat.unwatch(session.connection, arg.split() or None)

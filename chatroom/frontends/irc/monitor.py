"""MONITOR (IRCv3 monitor and extended-monitor) and SETNAME (IRCv3 setname): IRC's words for what a connection
watches and for a person's real name, both kept by the core (chatroom.core.monitor, chatroom.core.presence).

The notices themselves (730/731 as a watched person comes and goes; AWAY, ACCOUNT and SETNAME to watchers with
extended-monitor) are the core's events, rendered by chatroom.frontends.irc.dialect.
"""

from __future__ import annotations

from collections.abc import Iterable

from chatroom.core.errors import ChatError
from chatroom.core.monitor import WATCH_MAX
from chatroom.core.names import validate_nick
from chatroom.frontends.irc import numerics as n
from chatroom.frontends.irc.commands import REALNAME_MAX, command
from chatroom.frontends.irc.dialect import IRCDialect
from chatroom.frontends.irc.wire import BODY_MAX


@command(
    "MONITOR",
    params=1,
    summary="MONITOR +|- NICK[,NICK]|C|L|S: be told when people come and go (730/731); clear, list or show your list",
)
def _monitor(session: IRCDialect, params: list[str]) -> None:
    sub = params[0]
    targets = [target for target in params[1].split(",") if target] if len(params) > 1 else []
    chat, member = session.chat, session.member
    if sub == "+":
        valid = []
        for target in targets:
            try:
                validate_nick(target)
            except ChatError as error:
                session.fail(error, target)
                continue
            valid.append(target)
        refused = chat.watch(member, session.connection, valid) if valid else ()
        if refused:
            session.reply(n.ERR_MONLISTFULL, str(WATCH_MAX), ",".join(refused), text="Monitor list is full")
        _status(session, [target for target in valid if target not in refused])
    elif sub == "-":
        if targets:
            chat.unwatch(session.connection, targets)
    elif sub.upper() == "C":
        chat.unwatch(session.connection)
    elif sub.upper() == "L":
        _listed(session, n.RPL_MONLIST, chat.watched(session.connection))
        session.reply(n.RPL_ENDOFMONLIST, text="End of MONITOR list")
    elif sub.upper() == "S":
        _status(session, chat.watched(session.connection))


def _status(session: IRCDialect, nicks: Iterable[str]) -> None:
    """730 for those of `nicks` present (as `nick!user@host`, in the case they write it), 731 for the others."""
    online, offline = [], []
    for nick in nicks:
        present = session.chat.person(nick)
        if present is None:
            offline.append(nick)
        else:
            online.append(f"{present.nick}!{session.identify(present.nick)}")
    _listed(session, n.RPL_MONONLINE, online)
    _listed(session, n.RPL_MONOFFLINE, offline)


def _listed(session: IRCDialect, numeric: str, items: list[str]) -> None:
    """`items` comma-separated after `numeric`, in as many lines as BODY_MAX needs; none if there are none."""
    head = len(session.numeric(numeric, text=""))
    batch: list[str] = []
    for item in items:
        if batch and head + len(",".join([*batch, item]).encode()) > BODY_MAX:
            session.reply(numeric, text=",".join(batch))
            batch = []
        batch.append(item)
    if batch:
        session.reply(numeric, text=",".join(batch))


@command("SETNAME", params=1, summary="SETNAME :REAL NAME: change the real name others see (WHOIS, WHO)")
def _setname(session: IRCDialect, params: list[str]) -> None:
    realname = params[0]
    if not realname or len(realname) > REALNAME_MAX:
        session.write(session.line("FAIL", "SETNAME", "INVALID_REALNAME", text="Real name is empty or too long"))
        return
    with session.about():
        session.chat.set_realname(session.member, realname)

"""The line protocol's /register: a person registers their nickname as an account (chatroom.server.signup).

Before choosing a nickname, `/register NICK PASSWORD` registers NICK and enters under it, logged in; afterwards, NICK
must be one's own nickname, and the person is logged in to it at once. The server answers `REGISTERED NICK`, or the
refusal's ERR line (REGISTRATION_OFF when the server does not let clients register).
"""

from __future__ import annotations

from chatroom.core.errors import ChatError
from chatroom.core.names import nick_key
from chatroom.frontends.line.commands import COMMANDS, command
from chatroom.frontends.line.dialect import LineDialect
from chatroom.frontends.line.wire import line


@command(
    "register",
    "NICK PASSWORD",
    "register NICK (your nickname, or the one you take) as an account with this password, and log in to it",
    verbatim=True,
)
def _register(session: LineDialect, arg: str) -> None:
    nick, _, password = arg.partition(" ")
    if not nick or not password:
        raise COMMANDS["register"].usage_error()
    member = session.connection.member
    if member is not None and nick_key(member.nick) != nick_key(nick):
        raise ChatError("NOT_YOUR_NICK", nick=nick)
    session.connection.wait_for(_registering(session, nick, password))


async def _registering(session: LineDialect, nick: str, password: str) -> None:
    connection = session.connection
    member = connection.member
    login = await session.registrar.register(connection.address, nick, password, member)
    account = login.account
    session.write(line("REGISTERED", account, text=f"{account} is registered: you are logged in to it"))
    if member is None:
        session.pending_login = None
        session.entered(await session.registrar.enter(connection, account, proven=login))

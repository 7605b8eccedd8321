"""IRC's account registration (draft/account-registration): REGISTER and VERIFY onto chatroom.server.signup.

Offered while the server lets clients register: `--registration open` (before connecting too: `before-connect`),
or `connected` (after connecting only). No e-mail is asked, and none is checked: the account is made, and the
client logged in to it, at once.
"""

from __future__ import annotations

from chatroom.core.errors import ChatError
from chatroom.core.names import nick_key
from chatroom.frontends.irc import numerics as n
from chatroom.frontends.irc.commands import command
from chatroom.frontends.irc.dialect import IRCDialect
from chatroom.frontends.irc.refusals import word

# The spec's FAIL codes for the core's refusals; anything else is TEMPORARILY_UNAVAILABLE, with its words.
CODES = {
    "EXISTS": "ACCOUNT_EXISTS",
    "NICK_TAKEN": "ACCOUNT_EXISTS",
    "BAD_NICK": "BAD_ACCOUNT_NAME",
    "WEAK_PASSWORD": "WEAK_PASSWORD",
}


@command(
    "REGISTER",
    params=3,
    before_registration=True,
    summary="REGISTER <account>|* <email>|* <password>: register your nickname as an account and log in to it",
)
def _register(session: IRCDialect, params: list[str]) -> None:
    account, _email, password = params[0], params[1], params[2]
    member = session.connection.member
    nick = member.nick if member is not None else session.nick or session.asked
    if account == "*":
        if not nick:
            _fail(session, "NEED_NICK", "*", "choose a nickname (NICK) first: it is the account's name")
            return
        account = nick
    elif nick is None or nick_key(account) != nick_key(nick):
        _fail(session, "ACCOUNT_NAME_MUST_BE_NICK", account, "the account's name must be your nickname")
        return
    if session.account is not None or (member is not None and member.account is not None):
        _fail(session, "ALREADY_AUTHENTICATED", account, "you are logged in to an account already")
        return
    session.connection.wait_for(_registering(session, account, password))


async def _registering(session: IRCDialect, account: str, password: str) -> None:
    member = session.connection.member
    try:
        login = await session.registrar.register(session.connection.address, account, password, member)
    except ChatError as error:
        if (error.code, error.case) == ("REGISTRATION_OFF", "entered"):
            _fail(session, "COMPLETE_CONNECTION_REQUIRED", account, "register once connected (after CAP END)")
        else:
            _fail(session, CODES.get(error.code, "TEMPORARILY_UNAVAILABLE"), account, word(error))
        return
    if member is None:
        session.account = login  # registration then goes on as after SASL
    registered = login.account
    session.write(session.line("REGISTER", "SUCCESS", registered, text="Account created"))
    session.reply(n.RPL_LOGGEDIN, session.source(), registered, text=f"You are now logged in as {registered}")


@command(
    "VERIFY",
    params=2,
    before_registration=True,
    summary="VERIFY <account> <code>: not needed here: REGISTER makes the account at once",
)
def _verify(session: IRCDialect, params: list[str]) -> None:
    _fail(session, "INVALID_CODE", params[0], "this server sends no codes: REGISTER makes the account at once")


def _fail(session: IRCDialect, code: str, account: str, why: str) -> None:
    session.write(session.line("FAIL", "REGISTER" if code != "INVALID_CODE" else "VERIFY", code, account, text=why))

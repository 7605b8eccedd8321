"""Becoming a member, whatever the front end: a free nickname, and the password of a registered one.

The line protocol's `/nick` and `/pass` and IRC's NICK, PASS and SASL all end here, so the rules (which
nicknames need a password, how guessing is slowed) are the same everywhere. A login goes through the
twisted.cred portal of chatroom.server.auth, as Twisted Words' realm hands out an avatar whatever the protocol.
"""

from __future__ import annotations

import hmac
import math
from typing import Protocol

from twisted.internet.interfaces import IReactorTime

from chatroom.core.chat import Chat
from chatroom.core.errors import ChatError
from chatroom.core.events import Session
from chatroom.core.members import Details, Member
from chatroom.core.names import nick_key
from chatroom.server.auth import Authenticator, GuessBook, Login, MemoryGuesses, shielded
from chatroom.server.signup import Signup


class Wording(Protocol):
    def word(self, error: ChatError) -> str:
        """A refusal as the connection's front end words it."""


class Entrant(Session, Protocol):
    """What registration uses of a connection: chatroom.server.connection.Connection, which builds the Registrar.

    A protocol rather than that class, so that registration does not import the connection that imports it.
    """

    @property
    def address(self) -> str:
        """What login slow-downs count by."""

    @property
    def host(self) -> str | None:
        """The IP address the connection was admitted under, if any."""

    @property
    def peer(self) -> str:
        """The other end, as the log shows it."""

    @property
    def dialect(self) -> Wording: ...

    def registered(self, member: Member) -> None:
        """The connection is now this member's."""


class Registrar:
    def __init__(
        self, chat: Chat, auth: Authenticator | None, clock: IReactorTime, guesses: GuessBook | None = None
    ) -> None:
        self.chat = chat
        self.auth = auth  # None: accounts are off, every free nickname may be taken
        # By address, so that a server password is guessed as slowly; with --redis, over every process.
        self.server_password_guesses = guesses or MemoryGuesses(clock)
        self.signup = Signup(auth, clock)  # registering accounts from clients: off unless --registration open

    async def check_server_password(self, given: str | None, expected: str, address: str) -> None:
        """A server password (IRC's PASS with --irc-password): ChatError unless right, slowed after failures.

        While the address must wait, even the right password is refused, so the answer tells a guesser nothing.
        None given is no guess, and is not counted as one: a newcomer learns the server wants a password, then gives it.
        """
        if given is None:
            raise ChatError("BAD_LOGIN", "server_password_missing")
        right = given is not None and hmac.compare_digest(given.encode(), expected.encode())
        # Shielded: a client leaving meanwhile must not cancel the book's command; its guess counts all the same.
        wait = await shielded(self.server_password_guesses.guess("server-password:" + address, right))
        if wait > 0:
            raise ChatError("SLOW_DOWN", "server_password", wait=math.ceil(wait))
        if not right:
            raise ChatError("BAD_LOGIN", "server_password")

    async def register(self, address: str, name: str, password: str, member: Member | None = None) -> Login:
        """Register the account `name` and log the connection in to it (a member already here at once); ChatError.

        A nickname someone else is using now cannot be registered from under them. The login carries the new
        account's identity: it may be removed, and its name registered again, before the login's turn.
        """
        here = self.chat.nicks.get(nick_key(name))
        if here is not None and here is not member:
            raise ChatError("NICK_TAKEN", nick=name)
        login = await self.signup.register(name, password, address, entered=member is not None)
        if member is not None and member.present:
            try:
                await self.log_in(member, login)
            except ChatError as error:
                if error.code != "BAD_LOGIN":
                    raise
                # No password was wrong: the account just made was removed, or its name registered again, before
                # the login's turn (see log_in). Its name is not the client's account: say so (IRC's ACCOUNT_EXISTS).
                raise ChatError("EXISTS", "changed", name=name) from None
        return login

    async def log_in(self, member: Member, login: Login) -> None:
        """Log `member` in to `login`'s account as they are (those who show accounts are told), and return once the
        chat has made it: with several processes, in its turn in the log, where it is refused (ChatError) if the
        account's removal came first. Only then may the front end tell the client it is logged in."""
        self.chat.rename(member, member.nick, login.account, login.identity)
        made = self.chat.outcome(member)
        if made is not None:
            await made
            if member.account != login.account:  # resynchronised from a snapshot in which the others refused it
                raise ChatError("BAD_LOGIN")

    def needs_password(self, nick: str, asking: Member | None = None) -> bool:
        """Whether `nick` takes a password; ChatError if it is invalid or taken, so nobody types one for nothing.

        One's own registered nickname does not, to a member logged in to its account: they proved it already.
        A registered nickname whose person is here asks for its password too: it attaches another session.
        """
        self.chat.check_nick(nick, asking, account=None if asking is not None else nick)
        if _owns(asking.account if asking is not None else None, nick):
            return False
        return self.auth is not None and self.auth.needs_password(nick)

    async def enter(
        self,
        connection: Entrant,
        nick: str,
        password: str | None = None,
        proven: Login | None = None,
        details: Details = Details(),
    ) -> Member:
        """Make the connection a member under `nick`; the nickname is claimed only once the login succeeded.

        `proven` is an account the client logged in to beforehand (IRC's SASL): its own nickname needs no
        password then, and under another free nickname the member still acts as that account. `details` are
        what the client said of itself (IRC's USER). A login to an account whose person is here, under whatever
        nickname (IRC clients set up with one of their own; a person renamed since), makes the connection one more
        of their sessions while they may take one (Chat.register): one account, one person. After SASL, the
        nickname the client asked for is not even looked at then: it may be someone else's.
        """
        if proven is not None and (present := self._person_of(proven.account)) is not None:
            return await self._join(connection, present, proven, details)
        nick, login = await self._identify(nick, password, connection.address, proven=proven)
        return await self._join(connection, nick, login, details)

    def _person_of(self, account: str) -> str | None:
        """The nickname of `account`'s person if they are here and may take one more session: else the nickname
        asked for is taken, as it was."""
        holder = self.chat.person_of(account)
        return holder.nick if holder is not None and self.chat.may_join(holder) else None

    async def resume(self, connection: Entrant, nick: str, token: str) -> Member:
        """Make the connection one more session of the person `token` reclaims (Chat.resume_token)."""
        return await self._join(connection, nick, None, token=token)

    async def _join(
        self, connection: Entrant, nick: str, login: Login | None, details: Details = Details(), token: str = ""
    ) -> Member:
        address = connection.host or connection.peer
        account, identity = (login.account, login.identity) if login is not None else (None, None)
        try:
            member = await self.chat.enter(connection, nick, account, address, details, token, identity)
        except ChatError as error:
            if error.code == "BANNED":  # from the whole server: nothing more to say to them (the reason: not logged)
                connection.close(connection.dialect.word(error), "banned from the server")
            raise
        connection.registered(member)
        return member

    async def rename(self, connection: Entrant, member: Member, nick: str, password: str | None = None) -> None:
        nick, login = await self._identify(nick, password, connection.address, member)
        if login is None:
            self.chat.rename(member, nick)
        else:
            self.chat.rename(member, nick, login.account, login.identity)

    async def _identify(
        self, nick: str, password: str | None, address: str, asking: Member | None = None, proven: Login | None = None
    ) -> tuple[str, Login | None]:
        """The nickname as it will be shown, and the login to the account it is (None: a guest, or no change)."""
        logged_in = asking.account if asking is not None else None
        own = proven or (Login(logged_in, None) if logged_in is not None else None)  # nothing checked now
        if own is not None and _owns(own.account, nick):
            self.chat.check_nick(nick, asking, account=own.account if asking is None else None)
            return own.account, own  # one's own registered nickname, shown as registered: already logged in
        if not self.needs_password(nick, asking):
            return nick, proven
        if password is None or self.auth is None:
            raise ChatError("NO_LOGIN", nick=nick)
        login = await self.auth.login(nick, password, address)
        return login.account, login  # a registered nickname is shown as it was registered


def _owns(account: str | None, nick: str) -> bool:
    return account is not None and nick_key(account) == nick_key(nick)

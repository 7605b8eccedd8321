"""Who may use which nickname: registered ones through twisted.cred, guests as the mode allows.

The line protocol asks an `Authenticator` before taking a nickname; another
front end (IRC) can ask the same one. Passwords are checked in a thread, as
scrypt is slow on purpose and the reactor must keep serving everyone else.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import IUsernamePassword, UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import IRealm, Portal
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.threads import deferToThread
from twisted.logger import Logger
from zope.interface import Attribute, Interface, implementer

from chatroom.accounts import AccountStore
from chatroom.core import ChatError, nick_key

log = Logger(namespace="chatroom")

BACKOFF_MAX = 60.0  # seconds
BACKOFF_FORGET = 900.0  # seconds after which failures are forgotten


class AuthMode(enum.Enum):
    OFF = "off"  # every nickname is free to take
    OPTIONAL = "optional"  # registered nicknames need their password; guests take any other
    REQUIRED = "required"  # no guests


class IChatIdentity(Interface):
    nick = Attribute("The nickname this login may use, as registered.")


@implementer(IChatIdentity)
@dataclass(frozen=True)
class Identity:
    nick: str


@implementer(ICredentialsChecker)
class AccountsChecker:
    credentialInterfaces = (IUsernamePassword,)

    def __init__(self, store: AccountStore) -> None:
        self.store = store

    def requestAvatarId(self, credentials: IUsernamePassword) -> Deferred[str]:
        checking = deferToThread(self.store.verify, credentials.username.decode(), credentials.password.decode())

        def judged(name: str | None) -> str:
            if name is None:
                raise UnauthorizedLogin()
            return name

        return checking.addCallback(judged)


@implementer(IRealm)
class ChatRealm:
    def requestAvatar(self, avatarId: str, mind: object, *interfaces: type[Interface]) -> tuple:
        if IChatIdentity not in interfaces:
            raise NotImplementedError("chatroom hands out IChatIdentity avatars only")
        return IChatIdentity, Identity(avatarId), lambda: None


class Backoff:
    """After a failed login, the account and the address must wait: 1 s, then 2, 4 ... up to a minute.

    Attempts during the wait are refused without checking the password, so
    guessing cannot go faster than the wait allows, however many connections
    try at once.
    """

    def __init__(self, clock: IReactorTime) -> None:
        self.clock = clock
        self._failures: dict[str, tuple[int, float]] = {}  # key -> (failures, refused until)

    def wait(self, *keys: str) -> float:
        now = self.clock.seconds()
        return max((self._failures[key][1] - now for key in keys if key in self._failures), default=0.0)

    def failed(self, *keys: str) -> None:
        now = self.clock.seconds()
        self._failures = {k: v for k, v in self._failures.items() if v[1] > now - BACKOFF_FORGET}  # stay bounded
        for key in keys:
            count = self._failures.get(key, (0, 0.0))[0] + 1
            self._failures[key] = (count, now + min(2.0 ** (count - 1), BACKOFF_MAX))

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)


class Authenticator:
    def __init__(self, mode: AuthMode, store: AccountStore, clock: IReactorTime) -> None:
        self.mode = mode
        self.store = store
        self.portal = Portal(ChatRealm(), [AccountsChecker(store)])
        self.backoff = Backoff(clock)

    def needs_password(self, nick: str) -> bool:
        """In required mode every nickname asks for one, so that nobody learns which ones are registered."""
        if self.mode is AuthMode.OFF:
            return False
        return self.mode is AuthMode.REQUIRED or self.store.get(nick) is not None

    async def login(self, nick: str, password: str, address: str) -> str:
        """The registered nickname, or ChatError: one answer for a wrong password and an unknown account."""
        account, place = "account:" + nick_key(nick), "address:" + address
        wait = self.backoff.wait(account, place)
        if wait > 0:
            raise ChatError("SLOW_DOWN", f"too many failed logins: try again in {math.ceil(wait)} s")
        try:
            _, identity, _logout = await self.portal.login(
                UsernamePassword(nick.encode(), password.encode()), None, IChatIdentity
            )
        except UnauthorizedLogin:
            self.backoff.failed(account, place)
            log.info("failed login as {nick} from {address}", nick=nick, address=address)
            raise ChatError("BAD_LOGIN", "wrong nickname or password") from None
        self.backoff.succeeded(account)
        return identity.nick

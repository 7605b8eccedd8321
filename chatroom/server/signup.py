"""Registering an account from a client: IRC's draft/account-registration, the line protocol's /register and the web
client's form all end here, so the rules are the same everywhere.

Off unless the administrator opens it: `--registration open`, or `connected` for people who have entered under a
nickname only (IRC: after NICK, USER and CAP END; not `before-connect`). When open, a registration:
- takes a valid nickname nobody else is using now, and a password of at least `--password-min` characters
  (chatroom-accounts' rule);
- is checked under the login policy (chatroom.server.auth.Authenticator.guarded): one at a time per address,
  hashed within the server's checks at once, and a refused one (the name is registered already) slows the
  address as a wrong password does;
- is limited to REGISTRATIONS_PER_ADDRESS accounts per address (IPv4 address, IPv6 /64) in REGISTRATION_WINDOW,
  counted by this process;
- logs the person in to the new account.
"""

from __future__ import annotations

import enum

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.threads import deferToThread

from chatroom.core.errors import ChatError
from chatroom.core.names import not_reserved, validate_nick
from chatroom.server.auth import Authenticator, Login
from chatroom.stores.accounts import MIN_PASSWORD, Secret, adding, new_identity

REGISTRATIONS_PER_ADDRESS = 3  # accounts one address may register in REGISTRATION_WINDOW
REGISTRATION_WINDOW = 24 * 3600.0  # seconds


class RegistrationMode(enum.Enum):
    OPEN = "open"  # anyone may register a free nickname, before entering under it too
    CONNECTED = "connected"  # only a person who has entered: their own nickname
    OFF = "off"  # only the administrator adds accounts (chatroom-accounts)


class Signup:
    """The registrations of one process; its mode and password minimum change on SIGHUP (--config)."""

    def __init__(self, auth: Authenticator | None, clock: IReactorTime) -> None:
        self.auth = auth
        self.clock = clock
        self.mode = RegistrationMode.OFF
        self.shortest = MIN_PASSWORD  # --password-min
        self._made: dict[str, list[float]] = {}  # address key -> when its registrations were made, in the window

    @property
    def open(self) -> bool:
        return self.mode is not RegistrationMode.OFF and self.auth is not None and self.auth.writer is not None

    @property
    def before_entering(self) -> bool:
        return self.open and self.mode is RegistrationMode.OPEN

    def check(self, name: str, password: str, address: str, entered: bool = True) -> None:
        """What can be refused at once, before anything is booked: ChatError."""
        if not self.open:
            raise ChatError("REGISTRATION_OFF")
        if not (entered or self.before_entering):
            raise ChatError("REGISTRATION_OFF", "entered")
        validate_nick(name)
        not_reserved(name)
        if len(password) < self.shortest:
            raise ChatError("WEAK_PASSWORD", most=self.shortest)
        if len(self._recent(address)) >= REGISTRATIONS_PER_ADDRESS:
            raise ChatError("SLOW_DOWN", "registrations", most=REGISTRATIONS_PER_ADDRESS)

    async def register(self, name: str, password: str, address: str, entered: bool = True) -> Login:
        """The login to the new account; ChatError if refused (EXISTS: someone registered it first).

        The login carries the identity made for the account, so that entering with it is refused if the account
        was removed, or its name registered again by someone else, before (chatroom.core.presence's `_proved`).
        `entered`: the person has entered under a nickname already (see RegistrationMode.CONNECTED).
        """
        self.check(name, password, address, entered)
        auth = self.auth
        assert auth is not None and auth.writer is not None  # self.open
        writer = auth.writer

        async def enrol() -> Login:
            secret = await deferToThread(Secret.of, password)
            identity = new_identity()
            await writer.change(name, adding(name, secret, identity))
            return Login(name, identity)

        login = await auth.guarded(name, address, lambda: Deferred.fromCoroutine(enrol()))
        self._made.setdefault(address, []).append(self.clock.seconds())
        return login

    def _recent(self, address: str) -> list[float]:
        since = self.clock.seconds() - REGISTRATION_WINDOW
        for key in [key for key, times in self._made.items() if times[-1] <= since]:  # stay bounded
            del self._made[key]
        recent = [made for made in self._made.get(address, []) if made > since]
        if recent:
            self._made[address] = recent
        return recent

"""Who may use which nickname: registered ones through twisted.cred, guests as the mode allows.

Every front end asks the same `Authenticator` (through chatroom.server.registration). Passwords are checked in a
thread, as scrypt is slow on purpose and the reactor must keep serving everyone else; how many checks may
run, and when a guess is refused without one, is the policy of `Authenticator.login`. A SCRAM-SHA-256 proof
(RFC 5802, 7677: IRC's SASL) is checked by the same portal under the same policy, against the account's
verifier: the server never sees the password then.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn, Protocol, TypeVar

from scramp import ScramException, ScramMechanism
from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import ICredentials, IUsernamePassword, UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import IRealm, Portal
from twisted.internet.defer import CancelledError, Deferred, DeferredSemaphore, fail, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.threads import deferToThread
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import Attribute, Interface, implementer

from chatroom.core.errors import ChatError, mistake
from chatroom.core.names import nick_key
from chatroom.stores.accounts import (
    SCRAM_ITERATIONS,
    SCRAM_SALT,
    Account,
    AccountBook,
    AccountStore,
    Change,
    decoy_hash,
    scram_verifier,
    with_verifier,
)

log = Logger(namespace="chatroom")

T = TypeVar("T")

BACKOFF_MAX = 60.0  # seconds
BACKOFF_FORGET = 900.0  # seconds after the last failure when failures are forgotten
ACCOUNT_ALLOWANCE = 10  # failures of one account, from all addresses together, before it is slowed too
# Failures of an address, and of an account from it, that cost no wait: a typo is retried at once (irctest's SASL
# retry), and a guesser is slowed from the second on, as before but one guess later.
TYPO_ALLOWANCE = 1
CHECKS_AT_ONCE = 4  # scrypt checks running at once, server-wide: about 32 MiB and one core each
CHECKS_WAITING = 32  # checks waiting for one of those, server-wide: under a second's wait; past it, "busy"
TRUSTED_PER_ACCOUNT = 8  # addresses remembered per account as having logged in
QUEUED_PER_KEY = 4  # attempts that may wait behind the check of one address (or account), before SLOW_DOWN
QUEUE_RETRY = 1.0  # seconds before a queued attempt asks again, if the check it waits for is another process's


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


@dataclass(frozen=True)
class Login:
    """An account a login proved: its name as registered, and its identity (chatroom.stores.accounts) as it was
    when the secret was checked, which the login's turn in the chat compares with the account's then
    (Chat.register): the name may have been removed, or registered again by someone else, meanwhile; for an
    account the connection has just registered, the identity made for it. None: nothing to compare (an account the
    member is logged in to already)."""

    account: str
    identity: str | None


@implementer(ICredentialsChecker)
class AccountsChecker:
    credentialInterfaces = (IUsernamePassword,)

    def __init__(self, store: AccountBook) -> None:
        self.store = store
        # Made now rather than at the first unknown name, whose answer would otherwise be slower: a signal.
        self.decoy = decoy_hash()

    def requestAvatarId(self, credentials: IUsernamePassword) -> Deferred[bytes | tuple[()]]:
        """The account's name as registered, in UTF-8: twisted.cred's avatar ids are bytes."""
        checking = deferToThread(
            self.store.verify, credentials.username.decode(), credentials.password.decode(), self.decoy
        )

        def judged(name: str | None) -> bytes | tuple[()]:
            if name is None:
                raise UnauthorizedLogin()
            return name.encode()

        return checking.addCallback(judged)


class IScramProof(ICredentials):
    """SCRAM's last client message, to be checked by the exchange that answered its first (twisted.cred)."""

    username = Attribute("The account name the client gave in its first message.")
    identity = Attribute("The identity of the account whose verifier the proof is checked against; None if none.")

    def check() -> bool:
        """Whether the client's proof is right."""


class Scram:
    """SCRAM-SHA-256 exchanges (RFC 5802, 7677) against the accounts' verifiers.

    A name with no account, or an account without a verifier yet, gets a decoy salt as long as a real one that
    stays the same for that name (derived from `secret`: the server's, the same in every process and across
    restarts, as a real account's salt is), so the first answer does not tell which names exist.
    """

    def __init__(self, store: AccountBook, secret: bytes | None = None) -> None:
        self.store = store
        self.mechanism = ScramMechanism("SCRAM-SHA-256")
        self._secret = secret or os.urandom(32)

    def exchange(self) -> ScramExchange:
        return ScramExchange(self)

    def verifier(self, name: str, account: Account | None) -> tuple[bytes, bytes, bytes, int]:
        """`account`'s verifier (the account `name` names, or None), or a decoy's."""
        if account is not None and account.scram is not None:
            return account.scram.auth_info()
        salt = hmac.new(self._secret, nick_key(name).encode(), hashlib.sha256).digest()[:SCRAM_SALT]
        return salt, os.urandom(32), os.urandom(32), SCRAM_ITERATIONS


@implementer(IScramProof)
class ScramExchange:
    """One client's exchange: its first message answered, then its proof checked through the portal."""

    def __init__(self, scram: Scram) -> None:
        self.username = ""
        self.identity: str | None = None  # the account's whose verifier the proof is checked against, if any
        self.final = ""
        self._server = scram.mechanism.make_server(self._verifier)
        self._scram = scram

    def _verifier(self, name: str) -> tuple[bytes, bytes, bytes, int]:
        self.username = name
        account = self._scram.store.get(name)
        self.identity = account.identity if account is not None else None
        return self._scram.verifier(name, account)

    def first(self, client_first: str) -> str:
        """The server's first message; ScramException if the client's is malformed."""
        self._server.set_client_first(client_first)
        answer: str = self._server.get_server_first()
        return answer

    def check(self) -> bool:
        try:
            self._server.set_client_final(self.final)
        except ScramException:
            return False
        return True

    def signature(self) -> str:
        """The server's final message, which proves to the client that the server knew its verifier."""
        answer: str = self._server.get_server_final()
        return answer


@implementer(ICredentialsChecker)
class ScramChecker:
    """SCRAM proofs: a few HMACs, so checked at once, but only under the login policy like any password."""

    credentialInterfaces = (IScramProof,)

    def __init__(self, store: AccountBook) -> None:
        self.store = store

    def requestAvatarId(self, credentials: IScramProof) -> Deferred[bytes | tuple[()]]:
        """The account, if the proof is right and it is still the account the exchange began with: a proof checked
        against a removed account's verifier is a failure, booked as one, never a login to the name's new account."""
        account = self.store.get(credentials.username)
        if (
            account is None
            or account.scram is None
            or account.identity != credentials.identity  # removed, or registered again, since the first message
            or not credentials.check()
        ):
            return fail(UnauthorizedLogin())
        return succeed(account.name.encode())


class AccountWriter(Protocol):
    """How the server changes an account itself (a registration; a verifier added): the file, or Redis."""

    def change(self, name: str, change: Change) -> Deferred[None]:
        """Apply `change` to the account `name` where the accounts are kept; ChatError if it refuses."""


class FileAccountWriter:
    """AccountWriter over the accounts file: changed under its lock, in a thread, as chatroom-accounts does."""

    def __init__(self, store: AccountStore) -> None:
        self.store = store

    def change(self, name: str, change: Change) -> Deferred[None]:
        return deferToThread(self.store.change, name, change)


@implementer(IRealm)
class ChatRealm:
    def requestAvatar(
        self, avatarId: bytes | tuple[()], mind: object, *interfaces: type[Interface]
    ) -> tuple[type[Interface], Identity, Callable[[], None]]:
        if IChatIdentity not in interfaces or not isinstance(avatarId, bytes):
            raise NotImplementedError("chatroom hands out IChatIdentity avatars, to accounts only")
        return IChatIdentity, Identity(avatarId.decode()), lambda: None


class Backoff:
    """After failures, a key must wait: 1 s, then 2, 4 ... up to a minute, once `allowance` failures are spent."""

    def __init__(self, clock: IReactorTime, allowance: int = 0) -> None:
        self.clock = clock
        self.allowance = allowance
        self._failures: dict[str, tuple[int, float]] = {}  # key -> (failures, refused until)
        self._next_prune = 0.0

    def wait(self, *keys: str) -> float:
        now = self.clock.seconds()
        return max((self._failures[key][1] - now for key in keys if key in self._failures), default=0.0)

    def failed(self, *keys: str) -> None:
        now = self.clock.seconds()
        if now >= self._next_prune:  # stay bounded, without a pass over every entry at every failure
            self._failures = {k: v for k, v in self._failures.items() if v[1] > now - BACKOFF_FORGET}
            self._next_prune = now + BACKOFF_FORGET / 15
        for key in keys:
            count = self._failures.get(key, (0, 0.0))[0] + 1
            slowed = count - self.allowance
            self._failures[key] = (count, now + min(2.0 ** (slowed - 1), BACKOFF_MAX) if slowed > 0 else now)

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)


@dataclass(frozen=True)
class Attempt:
    """A login attempt as the book found it: allowed (and then marked in flight), or why it must wait."""

    account: str  # "account:", the nickname's key, and "~" and its account's identity if it has one
    address: str  # the address key the caps count by
    trusted: bool  # the address logged in to the account before
    checking: bool = False  # refused: a check of this address, or of this account from a stranger, is in flight
    wait: float = 0.0  # refused: seconds before failures allow another guess
    token: str = ""  # how the book tells this attempt's marks from others' (Redis: its markers' value)

    @property
    def allowed(self) -> bool:
        return not self.checking and self.wait <= 0

    @property
    def place(self) -> str:
        return "address:" + self.address

    @property
    def pair(self) -> str:
        return f"{self.account} from {self.address}"

    @property
    def busy(self) -> set[str]:
        """What this check keeps others from checking meanwhile: a trusted address does not hold the account."""
        return {self.place} if self.trusted else {self.place, self.account}


class LoginBook(Protocol):
    """What the login slow-downs remember between attempts: failures, checks in flight, trusted addresses.

    MemoryBook keeps it in this process; with --redis, chatroom.bus.limits.RedisBook shares it among every
    process, so that guesses spread over processes are no more than against one. Only `begin` may refuse.
    """

    def begin(self, account: str, address: str) -> Deferred[Attempt]:
        """Look the attempt up; if it is allowed, mark its check in flight at once."""

    def abandon(self, attempt: Attempt) -> Deferred[None]:
        """An allowed attempt whose check never ran: take its marks away."""

    def failed(self, attempt: Attempt) -> Deferred[None]:
        """Its check found a wrong password: book the failure, and take its marks away."""

    def succeeded(self, attempt: Attempt) -> Deferred[None]:
        """Its check succeeded: forgive the account's failures from this address, trust it, take the marks away."""


class MemoryBook:
    """The book in this process's memory: failures forgotten after BACKOFF_FORGET, trust until it restarts."""

    def __init__(self, clock: IReactorTime) -> None:
        self.backoff = Backoff(clock, TYPO_ALLOWANCE)  # per address, and per (account, address)
        self.account_backoff = Backoff(clock, ACCOUNT_ALLOWANCE)
        self._checking: set[str] = set()  # the account and address keys of every check in flight
        self._trusted: dict[str, dict[str, None]] = {}  # account -> addresses that logged in to it, oldest first

    def begin(self, account: str, address: str) -> Deferred[Attempt]:
        attempt = Attempt(account, address, address in self._trusted.get(account, {}))
        if attempt.busy & self._checking:
            return succeed(Attempt(account, address, attempt.trusted, checking=True))
        wait = self.backoff.wait(attempt.place, attempt.pair)
        if not attempt.trusted:
            wait = max(wait, self.account_backoff.wait(account))
        if wait > 0:
            return succeed(Attempt(account, address, attempt.trusted, wait=wait))
        self._checking |= attempt.busy
        return succeed(attempt)

    def abandon(self, attempt: Attempt) -> Deferred[None]:
        self._checking -= attempt.busy
        return succeed(None)

    def failed(self, attempt: Attempt) -> Deferred[None]:
        self._checking -= attempt.busy
        self.backoff.failed(attempt.place, attempt.pair)
        self.account_backoff.failed(attempt.account)
        return succeed(None)

    def succeeded(self, attempt: Attempt) -> Deferred[None]:
        self._checking -= attempt.busy
        self.backoff.succeeded(attempt.pair)
        trusted = self._trusted.setdefault(attempt.account, {})
        trusted.pop(attempt.address, None)
        trusted[attempt.address] = None
        while len(trusted) > TRUSTED_PER_ACCOUNT:
            del trusted[next(iter(trusted))]
        return succeed(None)


class GuessBook(Protocol):
    """The failures of one shared secret per key, and the waits they impose: IRC's server password by address.

    MemoryGuesses keeps them in this process; with --redis, chatroom.bus.limits.RedisGuesses shares them among
    every process, so that N processes do not allow N times the guesses.
    """

    def guess(self, key: str, right: bool) -> Deferred[float]:
        """The wait `key` is under (the guess is refused, right or not), or 0 once the guess is booked."""


class MemoryGuesses:
    """The guesses in this process's memory, forgotten BACKOFF_FORGET after the last failure."""

    def __init__(self, clock: IReactorTime) -> None:
        self.backoff = Backoff(clock)

    def guess(self, key: str, right: bool) -> Deferred[float]:
        wait = self.backoff.wait(key)
        if wait > 0:
            return succeed(wait)
        if right:
            self.backoff.succeeded(key)
        else:
            self.backoff.failed(key)
        return succeed(0.0)


class Authenticator:
    """Checks passwords for every front end, so that guessing is slow and nobody can lock the owner out.

    The policy (docs/protocol.md, Accounts):
    - one check at a time per address, and per account from addresses that never logged in to it: a second
      attempt meanwhile waits for the first's to end, up to QUEUED_PER_KEY of them, and past those gets SLOW_DOWN
      (the owner, from an address that logged in before, never waits behind a stranger's guess);
    - CHECKS_AT_ONCE checks server-wide; up to CHECKS_WAITING more wait their turn (dropped if their connection
      closes), and past those the server is busy: SLOW_DOWN;
    - after a failure past the first (TYPO_ALLOWANCE), the address, and the account from that address, wait 1, 2,
      4 ... 60 s;
    - the account from everywhere else is slowed the same way only past ACCOUNT_ALLOWANCE failures, and never
      from an address that has logged in to it before: guesses from elsewhere cannot lock the owner out.
    Every check that starts runs to its end and counts, even if the guesser disconnects meanwhile.
    What the rules remember is the `book`'s (LoginBook); the checks at once and waiting are this process's own,
    since they protect its CPU and memory.
    """

    def __init__(
        self,
        mode: AuthMode,
        store: AccountBook,
        clock: IReactorTime,
        book: LoginBook | None = None,
        writer: AccountWriter | None = None,
        secret: bytes | None = None,
    ) -> None:
        self.mode = mode
        self.store = store
        self.clock = clock
        self.portal = Portal(ChatRealm(), [AccountsChecker(store), ScramChecker(store)])
        self.scram = Scram(store, secret)  # `secret`: the server's (chatroom.server.tls.secret), else this process's
        self.book = book or MemoryBook(clock)  # with --redis, chatroom.bus.limits.RedisBook
        self.writer = writer  # None: the server never changes an account itself (no verifier added)
        self._checks = DeferredSemaphore(CHECKS_AT_ONCE)
        self._queued: dict[str, int] = {}  # address or account key -> attempts waiting for its check to end
        self._turns: list[Deferred[None]] = []  # those attempts, woken when any check of this process ends
        self.failures = 0  # wrong passwords since the start, for the metrics

    def needs_password(self, nick: str) -> bool:
        """In required mode every nickname asks for one, so that nobody learns which ones are registered."""
        if self.mode is AuthMode.OFF:
            return False
        return self.mode is AuthMode.REQUIRED or self.store.get(nick) is not None

    async def login(self, nick: str, password: str, address: str) -> Login:
        """The registered account, or ChatError: one answer for a wrong password and an unknown account.

        `address` is the key the caps count by (chatroom.core.addresses.address_key). An account from before
        SCRAM gets its verifier from the password it logged in with.
        """
        credentials = UsernamePassword(nick.encode(), password.encode())
        login = await self._login(nick, credentials, address, lambda: self.store.identity(nick))
        await self._add_verifier(login.account, password)
        return login

    async def login_scram(self, exchange: ScramExchange, final: str, address: str) -> Login:
        """The account a SCRAM exchange proves with the client's `final` message, under the same slow-downs as a
        password; ChatError otherwise. Its identity is the one the exchange's first message found: the proof is
        checked against that account's verifier, whatever the name holds now."""
        exchange.final = final
        return await self._login(exchange.username, exchange, address, lambda: exchange.identity)

    async def _login(
        self, nick: str, credentials: ICredentials, address: str, checked: Callable[[], str | None]
    ) -> Login:
        """`credentials` checked under the policy; `checked` says, as the check begins, the identity of the account
        they are checked against (None: no account had the name then)."""

        def check() -> Deferred[Login]:
            identity = checked()
            return self.portal.login(credentials, None, IChatIdentity).addCallback(_login_of, identity)

        return await self.guarded(nick, address, check)

    async def guarded(self, nick: str, address: str, check: Callable[[], Deferred[T]]) -> T:
        """Run `check` (a password's, or a registration's hashing) under the policy above.

        Its UnauthorizedLogin is a wrong password (BAD_LOGIN), and a ChatError (a name taken) is a failure too:
        both are booked, and slow the next attempt.
        """
        attempt = await self._begin(nick, address)
        if attempt.wait > 0:
            raise ChatError("SLOW_DOWN", "failures", wait=math.ceil(attempt.wait))
        if len(self._checks.waiting) >= CHECKS_WAITING:
            self._abandon(attempt)
            raise ChatError("SLOW_DOWN", "busy")
        try:
            await self._checks.acquire()  # cancelled while waiting, the guess was never made
        except BaseException:
            self._abandon(attempt)
            raise
        judged: Deferred[T] = check().addBoth(self._judged, nick, attempt)
        return await shielded(judged)

    async def _begin(self, nick: str, address: str) -> Attempt:
        """The book's answer, once no other check holds this address (or the account, for a stranger).

        A second login from an address waits for the first's check to end (two tabs of a web client), rather than
        being refused: the checks still run one at a time, and the second sees the first's failure's wait. At
        most QUEUED_PER_KEY wait per key; past them, SLOW_DOWN.
        """
        while True:
            # If the connection leaves while the book is asked, the marks the answer may bring are taken away.
            attempt = await shielded(self.book.begin(self._account_key(nick), address), self._orphaned)
            if not attempt.checking:
                return attempt
            if any(self._queued.get(key, 0) >= QUEUED_PER_KEY for key in attempt.busy):
                raise ChatError("SLOW_DOWN", "checking")
            await self._turn(attempt.busy)

    def _account_key(self, nick: str) -> str:
        """What the book keeps an account's failures, checks and trusted addresses under: its name and, since
        identities, its identity (chatroom.stores.accounts), so that a name removed and registered again by someone
        else is another key: the removed account's owner, from an address it trusted, is a stranger to the new one."""
        identity = self.store.identity(nick)
        return f"account:{nick_key(nick)}" + (f"~{identity}" if identity else "")

    async def _turn(self, keys: set[str]) -> None:
        """Until a check of this process ends, or QUEUE_RETRY passes (the check may be another process's)."""
        turn: Deferred[None] = Deferred()
        retry = self.clock.callLater(QUEUE_RETRY, _take, turn)
        self._turns.append(turn)
        for key in keys:
            self._queued[key] = self._queued.get(key, 0) + 1
        try:
            await turn
        finally:
            if retry.active():
                retry.cancel()
            if turn in self._turns:
                self._turns.remove(turn)
            for key in keys:
                self._queued[key] -= 1
                if not self._queued[key]:
                    del self._queued[key]

    def _ended(self, result: T) -> T:
        """A check ended and is booked: every attempt queued here asks the book again."""
        turns, self._turns = self._turns, []
        for turn in turns:
            _take(turn)
        return result

    def _abandon(self, attempt: Attempt) -> None:
        self.book.abandon(attempt).addCallback(self._ended)

    def _orphaned(self, attempt: Attempt) -> None:
        if attempt.allowed:
            self._abandon(attempt)

    async def _add_verifier(self, name: str, password: str) -> None:
        """Give an account from before SCRAM its verifier, so that its next login may use SCRAM.

        Its PBKDF2 takes milliseconds, in a thread; a failure to write it is logged, and the login stands.
        """
        account = self.store.get(name)
        if self.writer is None or account is None or account.scram is not None:
            return
        try:
            verifier = await deferToThread(scram_verifier, password)
            if verifier is not None:
                await self.writer.change(name, with_verifier(name, account.hash, verifier))
        except CancelledError:
            raise  # the client left: its login stops here, not registering a session that has ended
        except Exception as error:  # told without its message, which may quote the verifier
            log.error("could not add {name}'s SCRAM verifier: {mistake}", name=name, mistake=mistake(error))

    def _judged(self, outcome: T | Failure, nick: str, attempt: Attempt) -> Deferred[T]:
        """Book the outcome of a check, whether or not anyone still waits for it; answer once it is booked."""
        self._checks.release()
        if isinstance(outcome, Failure):
            if isinstance(refusal := outcome.value, ChatError):
                return self.book.failed(attempt).addCallback(self._ended).addCallback(_refused, refusal)
            if not outcome.check(UnauthorizedLogin):
                self._abandon(attempt)
                outcome.raiseException()  # the checker's own error, not a wrong password
            # The name only if it is an account's: a name is typed, and people type their password there too
            named = nick if self.store.get(nick) is not None else "a name that is no account"
            log.info("failed login as {nick} from {address}", nick=named, address=attempt.address)
            self.failures += 1
            return self.book.failed(attempt).addCallback(self._ended).addCallback(_wrong)
        return self.book.succeeded(attempt).addCallback(self._ended).addCallback(lambda _: outcome)


def _take(turn: Deferred[None]) -> None:
    if not turn.called:
        turn.callback(None)


def _login_of(avatar: tuple[type[Interface], object, Callable[[], None]], identity: str | None) -> Login:
    """The account the portal's avatar is, with the identity read as its check began. An account with none then
    was added since: the check found it, but it is not the account the login began to prove, and refused alike."""
    _, found, _logout = avatar
    assert isinstance(found, Identity)
    if identity is None:
        raise UnauthorizedLogin()
    return Login(found.nick, identity)


def _refused(_: None, refusal: ChatError) -> NoReturn:
    raise refusal


def _wrong(_: None) -> NoReturn:
    raise ChatError("BAD_LOGIN")


def shielded(work: Deferred[T], orphaned: Callable[[T], object] | None = None) -> Deferred[T]:
    """A view of `work` that its waiter may cancel without cancelling `work` itself (nor a Redis command).

    A result that comes once the view was cancelled goes to `orphaned`, if given: nobody else will take it.
    """
    view: Deferred[T] = Deferred()

    def deliver(result: T) -> None:
        if not view.called:
            view.callback(result)
        elif orphaned is not None:
            orphaned(result)

    def failed(failure: Failure) -> None:
        if not view.called:
            view.errback(failure)

    work.addCallbacks(deliver, failed)
    return view

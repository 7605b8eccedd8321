"""Removing an account ends every session logged in to it, in every front end, as soon as the server sees the
change: the accounts file replaced (`chatroom-accounts remove`), or with --redis the log's `account` entry. So does
its name registered again (another identity); a new password or a grant ends nothing. A login whose password was
checked against the account as it went is refused."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from twisted.cred.portal import Portal
from twisted.internet.defer import Deferred, ensureDeferred, gatherResults, succeed
from twisted.internet.endpoints import connectProtocol
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from chatroom.app.service import AccountsWatch
from chatroom.bus.log import MemoryLog, decode
from chatroom.bus.shared import SharedChat
from chatroom.core.chat import Chat
from chatroom.core.events import Quit
from chatroom.frontends.irc.frontend import IRCFrontEnd
from chatroom.frontends.line.frontend import LineFrontEnd
from chatroom.server import signup
from chatroom.server.auth import Authenticator, AuthMode, ChatRealm
from chatroom.server.connection import ConnectionFactory
from chatroom.server.signup import RegistrationMode
from chatroom.stores.accounts import (
    Account,
    AccountStore,
    Change,
    SharedAccounts,
    adding,
    administrator,
    new_password,
    removing,
)
from tests.helpers import LineClient, MemoryClient, MemoryServer, RecordingSession
from tests.test_account_identity import UNUSED
from tests.test_irc import IRCServer, commands
from tests.test_lifecycle import GENEROUS, PendingChecker, with_accounts
from tests.test_redis import WaitingSession, told
from tests.test_signup import UNAVAILABLE, inline
from tests.test_stores import RedisStoresTestCase
from tests.test_websocket import WebTestCase, until

REMOVED = "your account was removed"
BAD_LOGIN = "ERR BAD_LOGIN :wrong nickname or password"


def record(name: str, identity: str) -> str:
    """An account's record, as the accounts file and Redis hold it."""
    return Account(name, "scrypt$unused", identity=identity).record()


class CoreTests(SynchronousTestCase):
    """The rule, in the core: whoever is logged in to an account no longer registered, or no longer the one the
    chat's state under its name is of, is put out when the chat hears that the accounts changed."""

    def setUp(self) -> None:
        self.accounts = SharedAccounts()  # accounts in memory, changed as a shared chat's log changes them
        self.accounts.load({name: record(name, "1a") for name in ("alice", "carol")})
        self.chat = Chat(accounts=self.accounts, clock=Clock())
        self.sessions = {nick: RecordingSession() for nick in ("alice", "bob", "carol")}
        for nick, session in self.sessions.items():
            member = self.chat.register(session, nick, nick if nick != "bob" else None, "192.0.2.1")
            self.chat.join(member, "5")
        self.sessions["bob"].take()

    def change(self, name: str, account: Account | None) -> None:
        self.accounts.apply(name, account.record() if account is not None else None)
        self.chat.accounts_changed()

    def test_a_removed_accounts_person_is_put_out(self) -> None:
        self.change("alice", removing("alice")(self.accounts.get("alice")))
        self.assertEqual(self.sessions["alice"].closed, REMOVED)
        self.assertEqual(self.sessions["bob"].take(), [Quit("alice", REMOVED)])
        self.assertNotIn("alice", self.chat.nicks)
        self.assertIsNone(self.sessions["carol"].closed, "another account's person stays")

    def test_a_name_registered_again_puts_out_the_removed_accounts_person(self) -> None:
        self.change("alice", Account.parse(record("alice", "2b")))
        self.assertEqual(self.sessions["alice"].closed, REMOVED)

    def test_a_new_password_or_a_grant_keeps_the_account_and_its_person(self) -> None:
        self.change("alice", new_password("alice", UNUSED)(self.accounts.get("alice")))
        self.change("alice", administrator("alice", True)(self.accounts.get("alice")))
        self.assertIsNone(self.sessions["alice"].closed)
        self.assertEqual(self.sessions["bob"].take(), [])
        self.assertTrue(self.chat.is_admin(self.chat.nicks["alice"]))


class WatchTests(SynchronousTestCase):
    """The accounts file's watch, on a fake clock: what it takes for a removal, and what it must not."""

    def setUp(self) -> None:
        directory = Path(self.mktemp())
        directory.mkdir()
        self.store = AccountStore(directory / "accounts.db")
        for name in ("alice", "carol"):
            self.store.change(name, adding(name, UNUSED))
        self.clock = Clock()
        self.seen: list[list[str]] = []  # the accounts as each change applied found them
        self.watch = AccountsWatch(self.store.path, self.clock, lambda: self.seen.append(self.store.names()))
        self.watch.start()
        self.addCleanup(self.watch.stop)

    def look(self, times: int = 1) -> None:
        for _ in range(times):
            self.clock.advance(1)

    def test_a_removal_is_applied_once_the_file_has_settled(self) -> None:
        self.store.remove("alice")
        self.look()
        self.assertEqual(self.seen, [], "changing still, perhaps")
        self.look(3)
        self.assertEqual(self.seen, [["carol"]], "once, at the second look")

    def test_a_file_caught_while_written_in_place_removes_nobody(self) -> None:
        # Found in review: `cp backup accounts.db` caught after its first bytes put out everyone logged in.
        whole = self.store.path.read_bytes()
        self.store.path.write_bytes(whole[: len(whole) // 3])  # cut inside alice's line: no account at all
        self.look()
        self.store.path.write_bytes(whole)
        self.look(3)
        self.assertNotIn([], self.seen)
        self.assertTrue(all(names == ["alice", "carol"] for names in self.seen), self.seen)

    def test_a_look_that_fails_does_not_end_the_watch(self) -> None:
        # Found in review: one stat error other than a missing file ended the watch, and later removals ended no one.
        directory = self.store.path.parent
        directory.rename(directory.with_name("away"))
        directory.write_text("a file where the directory was: stat says ENOTDIR")
        self.look(2)
        directory.unlink()
        directory.with_name("away").rename(directory)
        self.store.remove("alice")
        self.look(2)
        self.assertEqual(self.seen, [["carol"]])

    def test_a_change_that_fails_to_be_applied_does_not_end_the_watch(self) -> None:
        calls: list[None] = []

        def fails() -> None:
            calls.append(None)
            raise RuntimeError("the chat could not apply it")

        self.watch.changed = fails
        self.store.remove("alice")
        self.look(2)
        self.store.remove("carol")
        self.look(2)
        self.assertEqual(len(calls), 2)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 2)


class FileTests(WebTestCase):
    """The real service on its accounts file, over TLS: alice on the line protocol, on IRC and on the web at once,
    and bob, a guest, in her room."""

    def setUp(self) -> Deferred[None]:  # type: ignore[override]  # trial waits for it
        return ensureDeferred(self.started())

    async def started(self) -> None:
        state = Path(self.mktemp()).resolve()
        state.mkdir()
        self.accounts = AccountStore(state / "accounts.db")
        for name in ("alice", "carol"):
            self.accounts.add(name, f"{name}'s secret")
        self.start_web("--accounts", str(self.accounts.path), "--rooms", str(state / "rooms.json"))
        self.bob = await self.connect("bob", "5")
        self.alice = await self.login("alice")
        self.irc = await self.irc_login("alice")
        self.web = await self.web_client(["text.ircv3.net"], tls=True, origin=f"https://localhost:{self.web_port}")
        await self.web.opened
        self.web.send("PASS :alice's secret")
        await self.register(self.web, "alice")

    async def login(self, name: str) -> LineClient:
        client = await self.connect(name)
        client.send(f"/pass {name}'s secret", "/join 5", "/ping in")
        await client.until("PONG :in")
        return client

    async def irc_login(self, name: str) -> LineClient:
        """`name` logged in over IRC with TLS, by PASS."""
        client: LineClient = await connectProtocol(self.endpoint(self.irc_port, tls=True), LineClient())
        self.addCleanup(self._disconnect, client)
        client.send(f"PASS :{name}'s secret", f"NICK {name}", f"USER {name} 0 * :{name}")
        await client.until(f":irc.test 001 {name} ")
        return client

    async def assert_put_out(self) -> None:
        """Each of alice's sessions is told why, and closed; bob hears her quit."""
        await self.bob.until(f"QUIT alice :{REMOVED}")
        await self.alice.until(f"BYE :{REMOVED}")
        closing, _ = await self.irc.until("ERROR ")
        self.assertIn(REMOVED, closing)
        await until(self.web, REMOVED)
        await self.alice.lost
        await self.irc.lost
        await self.web.closed

    async def test_removing_the_account_ends_its_sessions_in_every_front_end(self) -> None:
        self.accounts.remove("alice")
        await self.assert_put_out()

    async def test_the_name_registered_again_ends_the_removed_accounts_sessions(self) -> None:
        self.accounts.remove("alice")
        self.accounts.change("alice", adding("alice", UNUSED))
        await self.assert_put_out()

    async def test_a_new_password_or_a_grant_ends_nothing(self) -> None:
        carol = await self.login("carol")
        self.accounts.set_password("alice", "alice's new secret")
        self.accounts.set_admin("alice", True)
        self.accounts.remove("carol")  # once carol is put out, the server has seen alice's changes too
        await carol.until(f"BYE :{REMOVED}")
        self.alice.send("/ping still")
        _, before = await self.alice.until("PONG :still")
        self.assertNotIn(f"QUIT alice :{REMOVED}", before)
        self.assertFalse(self.irc.lost.called or self.web.closed.called, "nor her other sessions")


class RedisTests(RedisStoresTestCase):
    """With --redis: alice is logged in on two processes, and each ends its own session when it hears the change."""

    async def test_removing_the_account_ends_its_sessions_on_every_process(self) -> None:
        for name in ("alice", "carol"):
            await self.accounts.change(name, adding(name, UNUSED))
        a, b = await self.process("a"), await self.process("b")
        _, on_a = await self.member(a.chat, "alice", "alice")
        on_b = WaitingSession()
        await b.chat.enter(on_b, "alice", "alice", "192.0.2.9")  # one more session of the same person
        _, carol = await self.member(b.chat, "carol", "carol")
        _, bob_on_a = await self.member(a.chat, "bob")
        _, dan_on_b = await self.member(b.chat, "dan")
        await self.accounts.change("alice", new_password("alice", UNUSED))
        await self.accounts.change("alice", administrator("alice", True))
        await self.accounts.change("carol", removing("carol"))
        await gatherResults([each.until(told(Quit("carol", REMOVED))) for each in (bob_on_a, dan_on_b)])
        self.assertEqual((carol.closed, on_a.closed, on_b.closed), (REMOVED, None, None), "only carol's ended")
        await self.accounts.change("alice", removing("alice"))
        await gatherResults([each.until(told(Quit("alice", REMOVED))) for each in (bob_on_a, dan_on_b)])
        self.assertEqual((on_a.closed, on_b.closed), (REMOVED, REMOVED))


class LoginRace:
    """Found in review: a login whose password was checked against alice's account entered logged in to it though
    the account was removed, or its name registered again by someone else, before the login's turn. The login is
    refused, as a wrong password is. Mixed into a test case for one process and one with --redis's log."""

    checker: PendingChecker

    def remove(self) -> None:
        """Remove alice's account where the server keeps it."""
        raise NotImplementedError

    def register_again(self) -> None:
        """Remove alice's account and register the name again, for someone else."""
        raise NotImplementedError

    def client(self) -> MemoryClient:
        """A client connected to the process where the login is checked."""
        raise NotImplementedError

    def settle(self) -> None:
        """Let every change take its turn (in one process, each is made at once)."""

    def chats(self) -> list[Chat]:
        """The chat as every process holds it."""
        raise NotImplementedError

    def typed(self, client: MemoryClient, *lines: str) -> None:
        """`lines` typed and handled, their answers read."""
        client.type(*lines)
        self.settle()
        client.read()

    def logged_in_as_alice(self, client: MemoryClient, changed: Callable[[], None]) -> list[str]:
        """What `client` is answered to alice's right password, her account `changed` while it is checked."""
        self.typed(client, "/nick alice", "/pass correct horse")
        changed()
        self.checker.answer(len(self.checker.checks) - 1, right=True)
        self.settle()
        return client.read()

    def assert_refused(self, answer: list[str]) -> None:
        """Refused as a wrong password is, and nobody, on any process, logged in to alice's account."""
        case = cast(SynchronousTestCase, self)
        case.assertEqual(answer, [BAD_LOGIN])
        for chat in self.chats():
            case.assertEqual([member.nick for member in chat.signed_in], [])
            case.assertNotIn("alice", chat.nicks)

    def test_a_login_to_an_account_removed_while_it_is_checked_is_refused(self) -> None:
        self.assert_refused(self.logged_in_as_alice(self.client(), self.remove))

    def test_a_login_with_the_old_password_to_the_name_registered_again_is_refused(self) -> None:
        self.assert_refused(self.logged_in_as_alice(self.client(), self.register_again))

    def test_a_guest_logging_in_to_an_account_removed_while_it_is_checked_stays_a_guest(self) -> None:
        guest = self.client()
        self.typed(guest, "/nick guest")
        self.assert_refused(self.logged_in_as_alice(guest, self.remove))
        for chat in self.chats():
            cast(SynchronousTestCase, self).assertIsNone(chat.nicks["guest"].account)


def accounts_of(chat: Chat) -> AccountStore:
    """The accounts file `with_accounts` gave `chat`, to change as an administrator would."""
    store = chat.accounts
    assert isinstance(store, AccountStore)
    return store


class OneProcessLoginRaceTests(LoginRace, SynchronousTestCase):
    """One process: the account changes in the accounts file while the password is checked (in a thread)."""

    def setUp(self) -> None:
        self.server = MemoryServer(GENEROUS)
        self.checker = with_accounts(self, self.server)
        self.store = accounts_of(self.server.chat)

    def remove(self) -> None:
        self.store.remove("alice")

    def register_again(self) -> None:
        self.store.remove("alice")
        self.store.change("alice", adding("alice", UNUSED))

    def client(self) -> MemoryClient:
        return self.server.connect()

    def chats(self) -> list[Chat]:
        return [self.server.chat]


class SharedProcesses(SynchronousTestCase):
    """Processes a and b sharing a chat through the log in memory, alice's account and ada's, an administrator's."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.log = MemoryLog(self.clock)
        self.checker = PendingChecker()
        self.a, self.b = self.process("a"), self.process("b")

    def process(self, name: str) -> ConnectionFactory:
        accounts = SharedAccounts()
        accounts.load(
            {"alice": record("alice", "1a"), "ada": Account("ada", "scrypt$unused", True, identity="2b").record()}
        )
        chat = SharedChat(self.log, self.clock.seconds, accounts=accounts, process=name, timers=self.clock)
        started = chat.start()
        self.settle()
        self.successResultOf(started)
        auth = Authenticator(AuthMode.OPTIONAL, accounts, self.clock)
        auth.portal = Portal(ChatRealm(), [self.checker])
        return ConnectionFactory(chat, self.clock, LineFrontEnd, GENEROUS, "", auth)

    def changed(self, account: str | None, name: str = "alice") -> None:
        """As `chatroom-accounts --redis` changes an account: an `account` entry in the log."""
        self.log.append({"k": "account", "n": name, "r": account})

    def settle(self) -> None:
        while any(call.getTime() <= self.clock.seconds() for call in self.clock.getDelayedCalls()):
            self.clock.advance(0)


class LogWriter:
    """How the server writes an account with --redis (chatroom.bus.stores.RedisAccountWriter), on the log in memory:
    an `account` entry, which every process applies in its turn, the writer's own too."""

    def __init__(self, log: MemoryLog, accounts: SharedAccounts) -> None:
        self.log = log
        self.accounts = accounts

    def change(self, name: str, change: Change) -> Deferred[None]:
        account = change(self.accounts.get(name))
        self.log.append({"k": "account", "n": name, "r": None if account is None else account.record()})
        return succeed(None)


class RegisteredAgain(LogWriter):
    """An account written, and its name registered again by someone else just after, before anything else."""

    def change(self, name: str, change: Change) -> Deferred[None]:
        written = super().change(name, change)
        self.log.append({"k": "account", "n": name, "r": record(name, "2b")})
        return written


class SharedRegistrationTests(SharedProcesses):
    def test_a_registration_logs_in_though_its_process_has_not_applied_the_new_account_yet(self) -> None:
        """The login a registration makes carries the new account's identity: compared before the registration's
        turn, where the account's entry is not applied yet, it refused every registration with --redis."""
        self.patch(signup, "deferToThread", inline)
        auth = self.a.registrar.auth
        assert auth is not None and isinstance(auth.store, SharedAccounts)
        auth.writer = LogWriter(self.log, auth.store)
        self.a.registrar.signup.mode = RegistrationMode.OPEN
        newcomer, guest = MemoryClient(self.a), MemoryClient(self.a)
        told = newcomer.type("/register carol correct horse battery")
        told += guest.type("/nick dave", "/register dave correct horse battery")
        self.settle()
        told += newcomer.read() + guest.read()
        answers = [line.split(" :")[0] for line in told if line.startswith(("REGISTERED", "WELCOME", "ERR"))]
        self.assertEqual(answers, ["REGISTERED carol", "WELCOME carol", "WELCOME dave", "REGISTERED dave"])
        for chat in (self.a.chat, self.b.chat):
            self.assertEqual([chat.nicks[nick].account for nick in ("carol", "dave")], ["carol", "dave"])


class SharedLoginRaceTests(SharedProcesses, LoginRace):
    """With --redis, on the log in memory that every process reads in order: the account's change comes first in
    the log, before the process where the login is checked has applied it, and then the login's entry."""

    def remove(self) -> None:
        self.changed(None)

    def register_again(self) -> None:
        self.remove()
        self.changed(record("alice", "2b"))

    def client(self) -> MemoryClient:
        return MemoryClient(self.a)

    def chats(self) -> list[Chat]:
        return [self.a.chat, self.b.chat]

    def test_the_login_carries_the_identity_checked_into_the_log_after_the_removal(self) -> None:
        self.logged_in_as_alice(self.client(), self.remove)
        kinds = [(entry["k"], entry.get("i")) for entry in map(decode, self.log.entries)]
        self.assertEqual(kinds[-2:], [("account", None), ("enter", "1a")], "refused in its turn, not before")


def plain(name: str, password: str) -> str:
    """AUTHENTICATE's SASL PLAIN credentials for `name`."""
    return base64.b64encode(f"\0{name}\0{password}".encode()).decode()


class IrcSaslRaceTests(SynchronousTestCase):
    """IRC's SASL, its password checked against alice's account as it is removed: what the client is told."""

    def setUp(self) -> None:
        self.server = IRCServer(GENEROUS)
        self.checker = with_accounts(self, self.server)
        self.store = accounts_of(self.server.chat)

    def test_sasl_before_registering_refused_at_registration_lets_the_client_go_on(self) -> None:
        """Found in review: the refused login stayed the connection's, so even a guest's nickname was refused (the
        login still sent with it) and AUTHENTICATE answered 907, already authenticated: stuck until it reconnected."""
        irc = self.server.irc()
        irc.type("CAP LS 302", "CAP REQ :sasl", "AUTHENTICATE PLAIN", "AUTHENTICATE " + plain("alice", "right"))
        self.store.remove("alice")
        self.checker.answer(0, right=True)
        self.assertEqual(commands(irc.read()), ["900", "903"], "checked against the account as it went")
        refused = irc.type("NICK alice", "USER a 0 * :A", "CAP END")
        self.assertEqual(refused, [":chatroom 464 * :wrong nickname or password"])
        self.assertEqual(irc.type("AUTHENTICATE PLAIN"), ["AUTHENTICATE +"], "it may authenticate again")
        irc.type("AUTHENTICATE *")
        self.assertEqual(commands(irc.type("NICK someoneelse"))[0], "001", "or go on as a guest")
        self.assertIsNone(self.server.chat.nicks["someoneelse"].account)


class SharedIrcLoginTests(SharedProcesses):
    """IRC's logins mid-chat with --redis (SASL after registering, OPER): a rename in its turn in the log, which the
    account's removal, earlier in the log, refuses. Found in review: 903, or 381 and +o, were told at once, and the
    refusal came after; the SASL login stayed the connection's, so every AUTHENTICATE then got 907."""

    def irc(self, nick: str) -> MemoryClient:
        """An IRC client on process a, registered as `nick`, with sasl and account-notify."""
        client = MemoryClient(self.a.speaking(IRCFrontEnd.serving("chatroom", None)))
        client.type("CAP LS 302", "CAP REQ :sasl account-notify", f"NICK {nick}", f"USER {nick} 0 * :x", "CAP END")
        self.settle()
        client.read()
        return client

    def answered(self, client: MemoryClient, removed: str) -> tuple[list[str], list[str]]:
        """What `client` is told once its password is checked right, the account `removed` (unless empty) earlier in
        the log: at once, then once every entry has had its turn."""
        if removed:
            self.changed(None, removed)
        self.checker.answer(len(self.checker.checks) - 1, right=True)
        at_once = client.read()
        self.settle()
        return at_once, client.read()

    def test_sasl_after_registering_is_told_once_made(self) -> None:
        guest = self.irc("guest")
        guest.type("AUTHENTICATE PLAIN", "AUTHENTICATE " + plain("alice", "right"))
        self.assertEqual(self.answered(guest, removed=""), ([], [
            ":chatroom 900 guest guest!guest@chatroom alice :You are now logged in as alice",
            ":chatroom 903 guest :SASL authentication successful",
        ]))  # fmt: skip
        self.assertEqual([chat.nicks["guest"].account for chat in (self.a.chat, self.b.chat)], ["alice", "alice"])

    def test_sasl_after_registering_refused_in_its_turn_fails_and_may_be_tried_again(self) -> None:
        guest = self.irc("guest")
        guest.type("AUTHENTICATE PLAIN", "AUTHENTICATE " + plain("alice", "right"))
        refused = [":chatroom 904 guest :SASL authentication failed: wrong nickname or password"]
        self.assertEqual(self.answered(guest, removed="alice"), ([], refused))
        self.assertIsNone(self.a.chat.nicks["guest"].account)
        self.assertEqual(guest.type("AUTHENTICATE PLAIN"), ["AUTHENTICATE +"], "no stale login: not 907")

    def test_oper_refused_in_its_turn_tells_no_success(self) -> None:
        guest = self.irc("guest")
        guest.type("OPER ada right")
        refused = [":chatroom 464 guest :wrong nickname or password"]
        self.assertEqual(self.answered(guest, removed="ada"), ([], refused))
        self.assertIsNone(self.a.chat.nicks["guest"].account)

    def test_oper_is_told_once_made(self) -> None:
        guest = self.irc("guest")
        guest.type("OPER ada right")
        at_once, then = self.answered(guest, removed="")
        self.assertEqual((at_once, commands(then)), ([], ["381", "MODE"]))
        self.assertEqual(self.a.chat.nicks["guest"].account, "ada")

    def lose_renames(self) -> None:
        """The log loses process a's renames: Redis's XADD failed, and RedisLog tells the replica (not_appended)."""
        chat = self.a.chat
        assert isinstance(chat, SharedChat)
        replica = chat.replica
        append = self.log.append

        def losing(entry: dict[str, Any]) -> None:
            if (entry.get("k"), entry.get("f"), entry.get("p")) == ("do", "rename", "a"):
                self.clock.callLater(0, replica.not_appended, [entry])
            else:
                append(entry)

        self.patch(self.log, "append", losing)

    def test_a_login_the_log_lost_is_told_refused_not_made(self) -> None:
        """Found in the second review: the waiter was settled as made after the refusal was told, so the client
        read DEGRADED, then 900 and 903 (or 381), and SASL's stale login answered 907 ever after."""
        guest = self.irc("guest")
        self.lose_renames()
        guest.type("AUTHENTICATE PLAIN", "AUTHENTICATE " + plain("alice", "right"))
        at_once, then = self.answered(guest, removed="")
        self.assertEqual(commands(at_once + then), ["904"])
        self.assertIn("the chat is degraded", then[0])
        self.assertEqual(guest.type("AUTHENTICATE PLAIN"), ["AUTHENTICATE +"], "no stale login: not 907")
        guest.type("AUTHENTICATE *")
        guest.type("OPER ada right")
        at_once, then = self.answered(guest, removed="")
        self.assertEqual((at_once, commands(then)), ([], ["NOTICE"]), "no 381, no +o")
        self.assertIn("the chat is degraded", then[0])
        self.assertEqual([chat.nicks["guest"].account for chat in (self.a.chat, self.b.chat)], [None, None])

    def test_register_refused_in_its_turn_says_the_account_is_not_available(self) -> None:
        """Found in review: `FAIL REGISTER TEMPORARILY_UNAVAILABLE :wrong nickname or password` for a registration whose
        name was registered again before its login's turn: a try-later code, a wrong password's words."""
        self.patch(signup, "deferToThread", inline)
        auth = self.a.registrar.auth
        assert auth is not None and isinstance(auth.store, SharedAccounts)
        auth.writer = RegisteredAgain(self.log, auth.store)
        self.a.registrar.signup.mode = RegistrationMode.OPEN
        guest = self.irc("carol")
        guest.type("REGISTER * * correcthorsebattery")
        self.settle()
        self.assertEqual(guest.read(), [UNAVAILABLE.format("carol")])
        self.assertEqual([chat.nicks["carol"].account for chat in (self.a.chat, self.b.chat)], [None, None])

    def test_a_registration_refused_at_once_keeps_its_login(self) -> None:
        """Found in the second review: REGISTER before CAP END, then the enter refused at once (the log out of reach a
        moment). The refused login was dropped, its account not yet applied here; told 900, the client had then
        lost it, and its own nickname wanted a password."""
        self.patch(signup, "deferToThread", inline)
        auth = self.a.registrar.auth
        assert auth is not None
        auth.writer = LogWriter(self.log, auth.store)  # type: ignore[arg-type]
        self.a.registrar.signup.mode = RegistrationMode.OPEN
        client = MemoryClient(self.a.speaking(IRCFrontEnd.serving("chatroom", None)))
        client.type("CAP LS 302", "CAP REQ :sasl", "NICK carol", "USER c 0 * :c", "REGISTER * * correcthorsebattery")
        chat = self.a.chat
        assert isinstance(chat, SharedChat)
        chat.replica.unavailable()
        self.assertIn("the chat is degraded", client.type("CAP END")[-1])
        chat.replica.available()
        self.settle()
        client.read()
        client.type("NICK carol")  # a refused registration is tried again with a NICK
        self.settle()
        self.assertEqual(commands(client.read()[:1]), ["001"])
        self.assertEqual(self.b.chat.nicks["carol"].account, "carol")

    def test_a_login_refused_while_its_process_resynchronised_is_not_told_made(self) -> None:
        """Found in the second review: a fails to apply alice's removal (a bug), and joins again from b's snapshot,
        in which the login was refused in its turn; every change of a's from before was settled as made."""
        guest = self.irc("guest")
        guest.type("AUTHENTICATE PLAIN", "AUTHENTICATE " + plain("alice", "right"))
        changed = self.a.chat.accounts_changed
        failed: list[bool] = []

        def failing_once(*args: Any, **kwargs: Any) -> None:
            if not failed:
                failed.append(True)
                raise RuntimeError("a bug applying the removal")
            changed(*args, **kwargs)

        self.patch(self.a.chat, "accounts_changed", failing_once)
        _, then = self.answered(guest, removed="alice")
        self.flushLoggedErrors(RuntimeError)
        self.assertIn(":chatroom 904 guest :SASL authentication failed: wrong nickname or password", then)
        self.assertNotIn("903", commands(then))
        self.assertEqual([chat.nicks["guest"].account for chat in (self.a.chat, self.b.chat)], [None, None])

"""Removing an account ends every session logged in to it, in every front end, as soon as the server sees the
change: the accounts file replaced (`chatroom-accounts remove`), or with --redis the log's `account` entry. So does
its name registered again (another identity); a new password or a grant ends nothing."""

from __future__ import annotations

from pathlib import Path

from twisted.internet.defer import Deferred, ensureDeferred, gatherResults
from twisted.internet.endpoints import connectProtocol
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from chatroom.core.chat import Chat
from chatroom.core.events import Quit
from chatroom.stores.accounts import (
    Account,
    AccountStore,
    SharedAccounts,
    adding,
    administrator,
    new_password,
    removing,
)
from tests.helpers import LineClient, RecordingSession
from tests.test_account_identity import UNUSED
from tests.test_redis import WaitingSession, told
from tests.test_stores import RedisStoresTestCase
from tests.test_websocket import WebTestCase, until

REMOVED = "your account was removed"


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

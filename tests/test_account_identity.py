"""An account removed and registered again under the same name, by someone else, is a new account: it inherits
nothing the removed one had (rooms it owned or was named in, private conversations, read markers, stays), and a
person still logged in to the removed one has none of the new one's rights (chatroom.stores.accounts' identities).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from chatroom.bus.stores import Keys
from chatroom.core.moderation import Rank
from chatroom.stores.accounts import Account, AccountStore, Secret, adding, removing
from tests.helpers import LineClient, MemoryClient, ServerTestCase
from tests.test_moderation import RefusingStore
from tests.test_sessions import Sessions, unstamped
from tests.test_stores import PREFIX, Process, RedisStoresTestCase

NOON = "2026-11-23T12:00:00.000Z"
UNUSED = Secret("scrypt$unused", None)  # never checked: the tests' checker answers for it


class ReusedNameTests(ServerTestCase):
    """The real service, on its files: alice leaves traces, then her account is removed and the name registered
    again by someone else."""

    def setUp(self) -> None:
        state = Path(self.mktemp()).resolve()
        state.mkdir()
        self.accounts = AccountStore(state / "accounts.db")
        for name in ("alice", "bob"):
            self.accounts.add(name, f"{name}'s secret")
        self.arguments = ["--accounts", str(self.accounts.path), "--rooms", str(state / "rooms.json"),
                          "--history", "20", "--history-private"]  # fmt: skip

    async def login(self, name: str, password: str) -> LineClient:
        client = await self.connect(name)
        client.send(f"/pass {password}", "/ping in")
        await client.until("PONG :in")
        return client

    async def traces(self) -> LineClient:
        """Alice's registered room #club (since-join), where bob says something once she has gone, her conversation
        with bob, and where she read it up to. Bob, still here."""
        alice = await self.login("alice", "alice's secret")
        bob = await self.login("bob", "bob's secret")
        alice.send("/join club", "/room register", "/room set history since-join", "/msg bob hello bob")
        alice.send(f"/read bob {NOON}", "/ping done")
        await alice.until("PONG :done")
        bob.send("/join club", "/ping joined")
        await bob.until("PONG :joined")
        alice.send("/quit")  # her account's stay in #club goes on
        await alice.until("BYE")
        bob.send("said once alice had gone", "/ping said")
        await bob.until("PONG :said")
        return bob

    def reregister(self) -> None:
        self.accounts.remove("alice")
        self.accounts.add("alice", "another person's secret")

    async def assert_inherits_nothing(self) -> None:
        alice = await self.login("alice", "another person's secret")
        alice.send("/history bob")
        _, shown = await alice.until("HISTORY bob ")
        self.assertEqual(unstamped(shown), [], "the removed account's private conversation")
        alice.send("/read bob")
        await alice.until("READ bob *")  # not the removed account's marker
        alice.send("/join club", "/ping joined")
        _, shown = await alice.until("PONG :joined")
        self.assertNotIn("MSG #club bob :said once alice had gone", unstamped(shown), "the removed account's stay")
        alice.send("/room drop", "/ping dropped")
        _, shown = await alice.until("PONG :dropped")
        self.assertEqual([line.split()[1] for line in shown], ["NOT_REGISTERED"], "the removed account's room")

    async def test_a_name_registered_again_while_the_server_runs_inherits_nothing(self) -> None:
        self.start_server(*self.arguments)
        await self.traces()
        self.reregister()
        await self.assert_inherits_nothing()

    async def test_a_name_registered_again_while_the_server_is_down_inherits_nothing(self) -> None:
        self.start_server(*self.arguments)
        bob = await self.traces()
        bob.send("/quit")
        await bob.until("BYE")
        await self.served.stopService()
        self.reregister()
        self.start_server(*self.arguments)
        await self.assert_inherits_nothing()

    async def test_the_same_account_keeps_everything_across_a_change_of_password(self) -> None:
        self.start_server(*self.arguments)
        await self.traces()
        self.accounts.set_password("alice", "alice's new secret")
        alice = await self.login("alice", "alice's new secret")
        alice.send("/read bob")
        await alice.until(f"READ bob {NOON}")
        alice.send("/join club")
        await alice.until("NAMES #club @alice")

    async def test_a_room_transferred_to_the_name_registered_again_keeps_all_but_its_owner(self) -> None:
        """The docs' way out for a removed account's rooms, `/room transfer` to the name registered again, first
        unregistered the room (the new account identified): its named operators and its members' stays were lost."""
        self.accounts.set_admin("bob", True)
        self.start_server(*self.arguments)
        alice = await self.login("alice", "alice's secret")
        bob = await self.login("bob", "bob's secret")
        alice.send("/join club", "/room register", "/room op bob", "/ping done")
        await alice.until("PONG :done")
        alice.send("/quit")
        await alice.until("BYE")
        self.reregister()
        bob.send("/join club", "/room transfer alice", "/room info", "/ping moved")
        _, shown = await bob.until("PONG :moved")
        self.assertIn("OWNER #club bob alice", unstamped(shown))
        self.assertNotIn("OWNER #club bob *", unstamped(shown))
        self.assertEqual(unstamped(shown)[-1], "ROOM #club alice topiclock :bob", "its named operator kept")


class PresentTests(Sessions):
    """Someone still logged in to an account as it is removed and its name registered again."""

    def reregister(self, name: str, admin: bool = False) -> None:
        store = self.chat.accounts
        assert isinstance(store, AccountStore)
        store.change(name, removing(name))
        store.change(name, adding(name, UNUSED))
        if admin:
            store.set_admin(name, True)

    def login(self) -> MemoryClient:
        """Someone logging in to alice (the account registered now), their greeting read."""
        client = self.server.connect()
        client.type("/nick alice", "/pass correct horse")
        self.checker.answer(len(self.checker.checks) - 1, right=True)
        self.assertTrue(client.read()[0].startswith("WELCOME alice "))
        return client

    def test_the_new_account_does_not_take_over_the_person_of_the_old_one_waiting_to_come_back(self) -> None:
        self.alice().lose()  # she lingers, in #5, and private messages are held for her
        self.ben.type("/msg alice for alice's eyes")
        self.reregister("alice")
        new = self.login()
        self.assertEqual(new.read(), [], "what was held for the removed account's person")
        self.assertEqual(self.chat.nicks["alice"].rooms, {}, "the removed account's person's rooms")
        self.assertEqual(self.ben.read(), ["QUIT alice :your account was removed"])

    def test_the_new_accounts_login_does_not_join_the_old_ones_person_renamed(self) -> None:
        old = self.alice()
        old.type("/nick ally")
        self.reregister("alice")
        self.login()  # WELCOME alice: a person of the new account, not one more session of ally
        self.assertEqual(old.read(), ["BYE :your account was removed"])
        self.assertEqual(len(self.chat.nicks["alice"].sessions), 1)

    def test_a_disk_that_refuses_does_not_refuse_the_new_accounts_login(self) -> None:
        """The rooms' store refusing, the login that identified the new account was refused NOT_SAVED half made: the
        removed account's person put out, and the new one never let in."""
        old = self.alice()
        old.type("/join club", "/room register")
        self.reregister("alice")
        self.chat.store = RefusingStore()
        self.login()  # WELCOME alice
        self.assertNotIn("club", self.chat.rooms, "unregistered, and ended with nobody in it; the disk told in the log")

    def test_a_removed_account_has_none_of_the_rights_of_the_one_registered_again(self) -> None:
        old = self.alice()
        self.reregister("alice", admin=True)
        self.assertFalse(self.chat.is_admin(self.chat.nicks["alice"]))
        self.assertTrue(old.type("/server kill ben")[0].startswith("ERR "))
        self.login()
        self.assertEqual(old.read(), ["BYE :your account was removed"], "put out as the new account logs in")


class AccountRecordTests(SynchronousTestCase):
    def test_an_account_added_has_an_identity_no_other_has(self) -> None:
        first, second = (adding("alice", UNUSED)(None) for _ in range(2))
        self.assertNotEqual(first.identity, second.identity)
        self.assertEqual(Account.parse(first.record()), first)

    def test_an_account_written_before_identities_keeps_what_it_had(self) -> None:
        account = Account.parse("alice scrypt$unused admin")
        assert account is not None
        self.assertEqual(account.identity, "")
        self.assertEqual(account.record(), "alice scrypt$unused admin")

    def test_an_identity_damaged_by_hand_is_no_account(self) -> None:
        """Kept, `id=ABC` was written into the rooms file, which then refused it at start: the server did not start."""
        self.assertIsNone(Account.parse("alice scrypt$unused id=ABC admin"))
        self.assertIsNone(Account.parse("alice scrypt$unused id=0123;rm"))
        self.assertEqual(
            Account.parse("alice scrypt$unused id=0a1b admin"), Account("alice", "scrypt$unused", True, None, "0a1b")
        )


class InRedisTests(RedisStoresTestCase):
    """With --redis: the accounts kept in Redis, the name registered again while processes run or while none does."""

    async def owned(self, process: Process) -> None:
        """owen, on `process`, registers #5."""
        owen, _ = await self.member(process.chat, "owen", "owen")
        process.chat.register_room(owen, "#5")
        registered = process.chat.settled(owen, None)  # asked for by no session
        if registered is not None:
            await registered

    async def reregister(self) -> None:
        await self.accounts.change("owen", removing("owen"))
        await self.accounts.change("owen", adding("owen", UNUSED))

    async def assert_not_owner(self, process: Process) -> None:
        owen, _ = await self.member(process.chat, "owen", "owen")
        self.assertNotEqual(process.chat.rank(owen, process.chat.rooms["5"]), Rank.OWNER)

    async def test_a_name_registered_again_while_processes_run_owns_nothing(self) -> None:
        await self.accounts.change("owen", adding("owen", UNUSED))
        a, b = await self.process("a"), await self.process("b")
        await self.owned(a)
        await self.reregister()
        await self.assert_not_owner(b)

    async def test_a_name_registered_again_while_no_process_runs_owns_nothing(self) -> None:
        await self.accounts.change("owen", adding("owen", UNUSED))
        a = await self.process("a")
        await self.owned(a)
        await a.stop()
        await self.reregister()
        await self.assert_not_owner(await self.process("b"))  # alone: it starts from Redis

    async def test_a_snapshot_from_an_earlier_version_keeps_the_identities_read_from_redis(self) -> None:
        """A process of an earlier version sends no identities: the newcomer held none, and took owen, in his own
        rooms, for another owen registered again (a rolling upgrade's processes then disagreed on his rights)."""
        await self.accounts.change("owen", adding("owen", UNUSED))
        a = await self.process("a")
        await self.owned(a)
        while not await self.admin.get(Keys(PREFIX).identities):  # owen's, written by his login: each read a round trip
            pass
        earlier = a.chat.replica._snapshot

        def without_identities() -> dict[str, Any]:
            state = earlier()
            del state["identities"]
            return state

        a.chat.replica._snapshot = without_identities  # type: ignore[method-assign]
        b = await self.process("b")
        self.assertEqual(b.chat.identities, a.chat.identities)

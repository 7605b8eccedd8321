"""Accounts, registered rooms and server bans kept in Redis: the same on every process, across restarts."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from scramp import ScramClient
from twisted.internet import reactor
from twisted.internet.defer import Deferred, ensureDeferred, gatherResults
from twisted.internet.task import Clock, deferLater
from twisted.logger import LogLevel, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from chatroom.app import tap
from chatroom.bus.history import RedisHistory
from chatroom.bus.log import MemoryLog
from chatroom.bus.redis import RETRY, RedisAddress, RedisLog
from chatroom.bus.shared import SharedChat
from chatroom.bus.stores import Keys, RedisAccounts, RedisAccountWriter, RedisRoomStore, RedisStores
from chatroom.core.errors import ChatError
from chatroom.core.events import Message
from chatroom.core.history import HistoryLimits
from chatroom.core.members import Member
from chatroom.core.names import room_key
from chatroom.core.state import RoomRecord
from chatroom.server.auth import Authenticator, AuthMode
from chatroom.server.signup import RegistrationMode, Signup
from chatroom.stores.accounts import AccountStore, SharedAccounts, adding, administrator, hashed_password
from chatroom.stores.rooms import FileRoomStore
from tests.helpers import ServerTestCase, ServiceReactor, observe_log
from tests.redisserver import RedisServer, free_port
from tests.test_redis import WaitingSession, logged_once, told

ACCOUNTS = [sys.executable, "-m", "chatroom.cli.accounts"]
ROOMSTORE = [sys.executable, "-m", "chatroom.cli.rooms"]
PREFIX = "test"


class Process:
    """One process sharing the chat: its replica, its log and its stores, as `twistd chatroom --redis` wires them."""

    def __init__(self, url: str, name: str, history: HistoryLimits = HistoryLimits(), ttl: float = 10.0) -> None:
        self.stores = RedisStores(PREFIX, reactor)
        self.history = RedisHistory(PREFIX, reactor, history) if history.lines else None
        address = RedisAddress.parse(url)
        self.bus = RedisLog(address, reactor, PREFIX, ttl / 5, ttl, shared=self.stores, history=self.history)
        self.chat = SharedChat(
            self.bus,
            reactor.seconds,
            accounts=self.stores.accounts,
            store=self.stores.rooms,
            process=name,
            history=history,
            history_store=self.history,
        )
        writer = RedisAccountWriter(self.bus, PREFIX)
        self.auth = Authenticator(AuthMode.OPTIONAL, self.stores.accounts, reactor, writer=writer)

    async def start(self) -> SharedChat:
        await self.bus.connect()
        await self.chat.start()
        return self.chat

    async def stop(self) -> None:
        self.chat.close("server shutting down")
        await self.chat.left
        await self.bus.disconnect()


class RedisStoresTestCase(ServerTestCase):
    """A real redis-server for each test, a connection to it, and processes sharing a chat through it."""

    def setUp(self) -> Deferred[None]:  # type: ignore[override]  # trial waits for it
        return ensureDeferred(self.started())

    async def started(self) -> None:
        self.redis = RedisServer(Path(self.mktemp()).absolute())
        self.redis.directory.mkdir()
        self.addCleanup(self.redis.stop)
        await self.redis.start()
        self.admin = await RedisAddress.parse(self.redis.url).connect(reconnect=False)
        self.addCleanup(self.admin.disconnect)
        self.accounts = RedisAccounts(self.admin, PREFIX)

    async def process(self, name: str, history: HistoryLimits = HistoryLimits(), ttl: float = 10.0) -> Process:
        process = Process(self.redis.url, name, history, ttl)
        await process.start()
        self.addCleanup(lambda: process.bus.disconnect() if not process.bus.stopped else None)
        return process

    async def member(self, chat: SharedChat, nick: str, account: str | None = None) -> tuple[Member, WaitingSession]:
        session = WaitingSession()
        member = await chat.enter(session, nick, account, f"192.0.2.{len(chat.nicks) + 1}")  # a ban may hold one
        chat.join(member, "5")
        await session.until(lambda events: any(getattr(event, "nicks", None) for event in events))  # NAMES
        return member, session

    async def everyone_read(self, chat: SharedChat, member: Member, *sessions: WaitingSession) -> None:
        """Whatever reached the log before this message has been applied by the processes of `sessions`."""
        chat.say(member, "5", "anything before this?")
        await gatherResults(
            [session.until(told(Message("#5", member.nick, "anything before this?"))) for session in sessions]
        )

    async def cli(self, *arguments: str, stdin: str = "", program: list[str] = ACCOUNTS) -> tuple[int | None, str]:
        process = self.spawn([*program, "--redis", self.redis.url, "--redis-prefix", PREFIX, *arguments])
        process.transport.write(stdin.encode())
        process.transport.closeStdin()
        return await process.exit_code(), process.output


class SharedStoresTests(RedisStoresTestCase):
    async def test_a_room_registered_on_one_process_is_registered_on_every_one_and_after_they_all_restart(self) -> None:
        await self.accounts.change("owen", adding("owen", hashed_password("owen", "owen's secret")))
        a, b = await self.process("a"), await self.process("b")
        owen, heard_by_owen = await self.member(a.chat, "owen", "owen")
        _, heard_by_bob = await self.member(b.chat, "bob")
        a.chat.register_room(owen, "5")
        a.chat.set_topic(owen, "5", "kept")
        await self.everyone_read(a.chat, owen, heard_by_owen, heard_by_bob)
        self.assertEqual(b.chat.rooms[room_key("#5")].owner, "owen")
        await a.stop()
        await b.stop()
        c = await self.process("c")  # alone: it starts from Redis
        room = c.chat.rooms[room_key("#5")]
        self.assertEqual((room.owner, room.topic.text), ("owen", "kept"))
        await c.stop()

    async def test_an_account_registered_on_one_process_logs_in_with_scram_on_another(self) -> None:
        """With --redis, a registration is written to Redis with its SCRAM verifier, and every process applies it."""
        a, b = await self.process("a"), await self.process("b")
        signup = Signup(a.auth, reactor)
        signup.mode = RegistrationMode.OPEN
        registered = await signup.register("carol", "carol's passphrase", "192.0.2.9")
        self.assertEqual(registered.account, "carol")
        speaker, heard_by_speaker = await self.member(a.chat, "speaker")
        _, heard_on_b = await self.member(b.chat, "listener")
        await self.everyone_read(a.chat, speaker, heard_by_speaker, heard_on_b)  # b has applied the account too
        record = await self.admin.hget(Keys(PREFIX).accounts, "carol")
        self.assertIn(" scram-sha-256$4096$", record.decode())
        exchange = b.auth.scram.exchange()
        client = ScramClient(["SCRAM-SHA-256"], "carol", "carol's passphrase")
        client.set_server_first(exchange.first(client.get_client_first()))
        login = await b.auth.login_scram(exchange, client.get_client_final(), "192.0.2.10")
        self.assertEqual(login, registered, "the account the registration made, its identity written to Redis")

    async def test_a_server_ban_set_on_one_process_holds_on_every_one_and_after_a_restart(self) -> None:
        await self.accounts.change("ada", adding("ada", hashed_password("ada", "ada's secret")))
        await self.accounts.change("ada", administrator("ada", True))
        a, b = await self.process("a"), await self.process("b")
        ada, heard_by_ada = await self.member(a.chat, "ada", "ada")
        _, heard_by_bob = await self.member(b.chat, "bob")
        mallory, _ = await self.member(b.chat, "mallory")
        a.chat.server_ban(ada, "mallory", None, "spam")
        await self.everyone_read(a.chat, ada, heard_by_ada, heard_by_bob)
        self.assertFalse(mallory.present)
        banned = b.chat.enter(WaitingSession(), "mallory", None, "192.0.2.9")
        self.assertEqual((await banned.addErrback(lambda failure: failure.value)).code, "BANNED")
        await a.stop()
        await b.stop()
        c = await self.process("c")
        self.assertEqual(
            [ban.mask.real() for ban in c.chat.server_bans], [ban.mask.real() for ban in b.chat.server_bans]
        )
        again = c.chat.enter(WaitingSession(), "mallory", None, "192.0.2.9")
        self.assertEqual((await again.addErrback(lambda failure: failure.value)).code, "BANNED")
        await c.stop()

    async def test_an_account_added_and_changed_with_the_command_line_counts_on_every_process_at_once(self) -> None:
        a, b = await self.process("a"), await self.process("b")
        zed, heard_by_zed = await self.member(a.chat, "zed")
        _, heard_by_bob = await self.member(b.chat, "bob")
        self.assertEqual(await self.cli("add", "alice", stdin="first secret\nfirst secret\n"), (0, "added alice\n"))
        await self.everyone_read(a.chat, zed, heard_by_zed, heard_by_bob)
        for process in (a, b):
            self.assertTrue(process.auth.needs_password("alice"))
            self.assertEqual((await process.auth.login("alice", "first secret", "192.0.2.1")).account, "alice")
        changed = await self.cli("passwd", "alice", stdin="second secret\nsecond secret\n")
        self.assertEqual(changed, (0, "changed the password of alice\n"))
        self.assertEqual(await self.cli("grant", "alice", "admin"), (0, "alice is now a server administrator\n"))
        await self.everyone_read(a.chat, zed, heard_by_zed, heard_by_bob)
        for process in (a, b):
            self.assertEqual((await process.auth.login("alice", "second secret", "192.0.2.2")).account, "alice")
            with self.assertRaises(ChatError):
                await process.auth.login("alice", "first secret", "192.0.2.3")
            self.assertTrue(process.chat.accounts.is_admin("alice"))
        self.assertEqual(await self.cli("list"), (0, "alice (admin)\n"))
        self.assertEqual(await self.cli("remove", "alice"), (0, "removed alice\n"))
        await self.everyone_read(a.chat, zed, heard_by_zed, heard_by_bob)
        self.assertEqual([a.chat.accounts.account("alice"), b.chat.accounts.account("alice")], [None, None])
        await a.stop()
        await b.stop()

    async def rejoined(self, *processes: Process) -> None:
        """Once each process has found its place in the log lost and joined anew (Redis lost the log)."""
        await logged_once(observe_log(self), "chatroom lost its place in the log", times=len(processes))
        await deferLater(reactor, 0)  # each has a new `ready` once it has logged it
        await gatherResults([process.chat.ready for process in processes])

    async def lose_places(self, *processes: Process) -> None:
        """The processes join Redis anew, which kept what is beside the log (as after the log was trimmed)."""
        rejoined = self.rejoined(*processes)
        await self.admin.execute_command("DEL", Keys(PREFIX).log, f"{PREFIX}:processes")
        await self.admin.execute_command("CLIENT", "KILL", "TYPE", "normal")  # the admin's own survives (SKIPME)
        await rejoined

    async def test_a_redis_restarted_empty_leaves_registered_names_to_their_accounts_and_says_so(self) -> None:
        await self.accounts.change("ada", adding("ada", hashed_password("ada", "ada's secret")))
        await self.accounts.change("ada", administrator("ada", True))
        a, b = await self.process("a"), await self.process("b")
        logged = observe_log(self)
        rejoined = self.rejoined(a, b)
        await self.redis.stop()
        await self.redis.start()  # without persistence: empty
        await rejoined
        for number, process in enumerate((a, b)):
            self.assertTrue(process.auth.needs_password("ada"), "a guest cannot take ada's name")
            self.assertTrue(process.chat.accounts.is_admin("ada"))
            self.assertEqual((await process.auth.login("ada", "ada's secret", f"192.0.2.{number}")).account, "ada")
        errors = [formatEvent(event) for event in logged if event["log_level"] == LogLevel.error]
        self.assertEqual(len(errors), 2, errors)  # one a process
        self.assertTrue(errors[0].startswith("Redis lost chatroom's accounts"), errors[0])
        self.assertIn("chatroom-accounts --redis URL import", errors[0])
        # Put back (restored, or imported), Redis is believed again, as a process started now would.
        self.admin = await RedisAddress.parse(self.redis.url).connect(reconnect=False)
        self.addCleanup(self.admin.disconnect)
        await RedisAccounts(self.admin, PREFIX).change("bob", adding("bob", hashed_password("bob", "bob's secret")))
        await self.lose_places(a, b)
        for process in (a, b):
            self.assertEqual(process.stores.accounts.names(), ["bob"])
            await process.stop()

    async def test_accounts_all_removed_are_gone_after_a_process_joins_anew(self) -> None:
        """Removed with the command line, while Redis kept its data: not taken for a Redis that lost it."""
        await self.accounts.change("ada", adding("ada", hashed_password("ada", "ada's secret")))
        a = await self.process("a")
        self.assertEqual(await self.cli("remove", "ada"), (0, "removed ada\n"))
        logged = observe_log(self)
        await self.lose_places(a)
        self.assertEqual(a.stores.accounts.names(), [])
        self.assertFalse(a.auth.needs_password("ada"))
        self.assertEqual([event for event in logged if event["log_level"] == LogLevel.error], [])
        await a.stop()

    async def test_the_import_copies_a_files_accounts_and_rooms_and_overwrites_only_when_told(self) -> None:
        workdir = Path(self.mktemp()).resolve()
        workdir.mkdir()
        accounts = AccountStore(workdir / "accounts.db")
        accounts.add("alice", "alice's secret")
        accounts.add("bob", "bob's secret")
        accounts.set_admin("bob", True)
        await self.accounts.change("bob", adding("bob", hashed_password("bob", "bob's other one")))
        code, output = await self.cli("--file", str(accounts.path), "import")
        self.assertEqual(code, 1)
        self.assertEqual(
            output,
            f"chatroom-accounts: imported 1 of the 2 accounts of {accounts.path}: alice; kept bob as Redis holds"
            " them (--replace overwrites them)\n",
        )
        self.assertEqual(await self.accounts.get("alice"), accounts.get("alice"))
        self.assertNotEqual(await self.accounts.get("bob"), accounts.get("bob"))
        imported = await self.cli("--file", str(accounts.path), "import", "--replace")
        self.assertEqual(imported, (0, f"imported 2 of the 2 accounts of {accounts.path}: alice, bob\n"))
        self.assertEqual(await self.accounts.get("bob"), accounts.get("bob"))

        rooms = FileRoomStore(workdir / "rooms.json")
        rooms.save_room(RoomRecord("#club", "alice"))
        rooms.save_room(RoomRecord("#5", "bob"))
        identities = {"alice": accounts.identity("alice") or "", "bob": accounts.identity("bob") or ""}
        rooms.save_identities(identities)  # as alice's and bob's first logins wrote them
        await self.admin.hset(Keys(PREFIX).rooms, room_key("#5"), b'{"name":"#5","owner":"carol"}')
        code, output = await self.cli("--file", str(rooms.path), "import", program=ROOMSTORE)
        self.assertEqual(code, 1)
        self.assertEqual(
            output,
            f"chatroom-rooms: imported 1 of the 2 rooms of {rooms.path}: #club, and no server bans; kept #5 as"
            " Redis holds them (--replace overwrites them)\n",
        )
        code, output = await self.cli("--file", str(rooms.path), "import", "--replace", program=ROOMSTORE)
        self.assertEqual(
            (code, output), (0, f"imported 2 of the 2 rooms of {rooms.path}: #5, #club, and no server bans\n")
        )
        first = await self.process("a")
        owners = {name: room.owner for name, room in first.chat.rooms.items()}
        self.assertEqual(owners, {"club": "alice", "5": "bob"})
        # Left behind, they made alice's first login with --redis unregister #club, as if she were another alice
        self.assertEqual(first.chat.identities, identities)
        self.assertEqual(first.stores.accounts.names(), ["alice", "bob (admin)"])
        await first.stop()

    async def test_the_import_of_a_damaged_accounts_file_imports_nothing(self) -> None:
        """It imported 0 of 0 accounts and said it had done so: the file's damaged line left every account out."""
        path = Path(self.mktemp()).resolve()
        AccountStore(path).add("alice", "alice's secret")
        path.write_text(path.read_text() + "garbage line\n")
        code, output = await self.cli("--file", str(path), "import")
        self.assertEqual(code, 1)
        self.assertIn(f"{path} is not an accounts file: its line 2 is not NAME scrypt$...", output)
        self.assertIsNone(await self.accounts.get("alice"))

    async def test_files_that_redis_lacks_are_named_at_start_with_their_import_command(self) -> None:
        """With --redis and an accounts.db and a rooms.json, the server started with neither, without a word."""
        workdir = Path(self.mktemp()).resolve()
        accounts = AccountStore(workdir / "accounts.db")
        accounts.add("teacher", "teacher's secret")
        rooms = FileRoomStore(workdir / "rooms.json")
        rooms.save_room(RoomRecord("#class", "teacher"))
        logged = observe_log(self)

        def warned() -> list[str]:
            first = len(logged)
            options = tap.Options()
            options.parseOptions(
                ["--certs", str(workdir / "certs"), "--redis", self.redis.url, "--redis-prefix", PREFIX,
                 "--accounts", str(accounts.path), "--rooms", str(rooms.path)]
            )  # fmt: skip
            tap.makeService(options, ServiceReactor())
            return [formatEvent(event) for event in logged[first:] if event["log_level"] == LogLevel.warn]

        target = f"--redis {RedisAddress.parse(self.redis.url).shown()} --redis-prefix {PREFIX} import"
        unused = " and Redis none, and with --redis the file is not used: copy them into Redis once with"
        self.assertEqual(
            warned(),
            [
                f"{accounts.path} holds 1 account(s){unused} chatroom-accounts --file {accounts.path} {target}",
                f"{rooms.path} holds 1 registered room(s) and 0 server ban(s){unused} chatroom-rooms"
                f" --file {rooms.path} {target}",
            ],
        )
        self.assertEqual((await self.cli("--file", str(accounts.path), "import"))[0], 0)
        self.assertEqual((await self.cli("--file", str(rooms.path), "import", program=ROOMSTORE))[0], 0)
        self.assertEqual(warned(), [])
        (workdir / "history.sqlite").write_bytes(b"")  # a server alone's, with --history: said, as it is not used
        [history] = warned()
        self.assertTrue(history.startswith(f"{workdir / 'history.sqlite'} holds the history a server alone kept"))

    async def test_the_command_lines_say_what_is_wrong_in_one_line(self) -> None:
        nowhere = f"redis://127.0.0.1:{free_port()}/0"
        process = self.spawn([*ACCOUNTS, "--redis", nowhere, "list"])
        self.assertEqual(
            (await process.exit_code(), process.output),
            (1, f"chatroom-accounts: cannot reach Redis at {nowhere}: Connection refused\n"),
        )
        self.assertEqual(await self.cli("list"), (0, "no accounts\n"))
        refusal = "chatroom-accounts: there is no account nobody: use add\n"
        self.assertEqual(await self.cli("passwd", "nobody"), (1, refusal))
        weak = "chatroom-accounts: a password needs at least 8 characters\n"
        self.assertEqual(await self.cli("add", "alice", stdin="short\nshort\n"), (1, weak))
        self.assertEqual(
            await self.cli("grant", "nobody", "admin"), (1, "chatroom-accounts: there is no account nobody\n")
        )
        missing = Path(self.mktemp()).resolve()
        code, output = await self.cli("--file", str(missing), "import", program=ROOMSTORE)
        self.assertEqual((code, output), (1, f"chatroom-rooms: {missing} does not exist: nothing to import\n"))
        code, output = await self.cli("--file", str(missing), "import")
        self.assertEqual((code, output), (1, f"chatroom-accounts: {missing} does not exist: nothing to import\n"))
        process = self.spawn([*ACCOUNTS, "import"])
        self.assertEqual(await process.exit_code(), 2)
        self.assertIn("import copies --file into Redis: give --redis URL", process.output)

    async def test_with_redis_auth_is_optional_by_default_even_before_redis_holds_an_account(self) -> None:
        """Accounts added later are enforced at once: the log says optional, and how to add the first."""

        def authenticator(*arguments: str) -> Authenticator | None:
            options = tap.Options()
            options.parseOptions(["--redis", self.redis.url, "--redis-prefix", PREFIX, *arguments])
            return tap._authenticator(options, Clock(), RedisStores(PREFIX, Clock()), b"secret")

        logged = observe_log(self)
        optional = authenticator()
        self.assertEqual(optional.mode if optional else None, AuthMode.OPTIONAL)
        self.assertIn("which holds none yet", formatEvent(logged[-1]))
        error = self.assertRaises(SystemExit, authenticator, "--auth", "required")
        self.assertIn("--auth required needs accounts, and Redis at", str(error))
        await self.accounts.change("alice", adding("alice", hashed_password("alice", "alice's secret")))
        required = authenticator("--auth", "required")
        self.assertEqual(required.mode if required else None, AuthMode.REQUIRED)
        self.assertIsNone(authenticator("--auth", "off"))


class AccountEntryTests(SynchronousTestCase):
    def test_every_replica_applies_an_account_change_at_its_place_in_the_log(self) -> None:
        clock = Clock()
        log = MemoryLog(clock)
        replicas = [SharedChat(log, clock.seconds, accounts=SharedAccounts(), process=name) for name in "ab"]
        for replica in replicas:
            replica.start()
            clock.advance(0)
        log.append({"k": "account", "n": "alice", "r": "Alice scrypt$1$1$1$AA==$AA== admin"})
        clock.advance(0)
        self.assertEqual([replica.accounts.account("ALICE") for replica in replicas], ["Alice", "Alice"])
        self.assertEqual([replica.accounts.is_admin("alice") for replica in replicas], [True, True])
        log.append({"k": "account", "n": "alice", "r": None})
        clock.advance(0)
        self.assertEqual([replica.accounts.account("alice") for replica in replicas], [None, None])


class FailingCommands:
    """txredisapi's commands as a store sends them, each answered by the test."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple[Any, ...], Deferred[int]]] = []

    def _sent(self, name: str, *arguments: Any) -> Deferred[int]:
        answer: Deferred[int] = Deferred()
        self.sent.append((name, arguments, answer))
        return answer

    def hset(self, *arguments: Any) -> Deferred[int]:
        return self._sent("hset", *arguments)

    def hdel(self, *arguments: Any) -> Deferred[int]:
        return self._sent("hdel", *arguments)

    def set(self, *arguments: Any) -> Deferred[int]:
        return self._sent("set", *arguments)


class RoomStoreWriteTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.commands = FailingCommands()
        self.store = RedisRoomStore(Keys(PREFIX), self.clock)
        self.store.loaded(None, None, None, self.commands)

    def test_a_failed_write_is_written_again_with_the_newest_record_until_redis_takes_it(self) -> None:
        self.store.save_room(RoomRecord("#5", "owen"))
        self.store.save_room(RoomRecord("#5", "ada"))
        self.store.drop_room("#club")
        first, second, dropped = self.commands.sent
        first[2].errback(ConnectionError("lost"))
        second[2].errback(ConnectionError("lost"))
        dropped[2].callback(1)
        self.clock.advance(RETRY)
        ((name, (key, field, value), answer),) = self.commands.sent[3:]
        self.assertEqual((name, key, field), ("hset", "test:rooms", "5"))
        self.assertIn(b'"owner":"ada"', value)  # the newest, not the one that failed first
        answer.callback(0)
        self.clock.advance(RETRY)
        self.assertEqual(len(self.commands.sent), 4, "written: nothing more to send")

    def test_a_write_superseded_by_one_that_landed_is_not_sent_again(self) -> None:
        self.store.save_server_bans(())
        self.store.save_server_bans(())
        first, second = self.commands.sent
        second[2].callback(1)
        first[2].errback(ConnectionError("lost"))
        self.clock.advance(RETRY)
        self.assertEqual(len(self.commands.sent), 2)

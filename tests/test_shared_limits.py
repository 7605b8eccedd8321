"""The connection cap per address and the login slow-downs hold over every process sharing the chat, not per process.

Each "process" is a replica with its own RedisLog, factory and authenticator, in this test process, sharing a real
redis-server; the factories' timers run on a fake clock that never moves, so only Redis's answers drive a test.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from twisted.application.service import MultiService
from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import IUsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import Portal
from twisted.internet.address import IPv4Address
from twisted.internet.defer import CancelledError, Deferred, gatherResults
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.ssl import Certificate, optionsForClientTLS, trustRootFromCertificates
from twisted.internet.task import Clock
from twisted.protocols.tls import TLSMemoryBIOFactory, TLSMemoryBIOProtocol
from twisted.test import iosim
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from chatroom.app import tap
from chatroom.app.service import ChatService
from chatroom.bus.limits import RedisBook, RedisCounts, RedisGuesses
from chatroom.bus.redis import RedisLog
from chatroom.bus.shared import SharedChat
from chatroom.core.errors import ChatError
from chatroom.core.events import Quit, ServerNotice
from chatroom.core.wording import DEGRADED
from chatroom.frontends.irc.frontend import IRCFrontEnd
from chatroom.frontends.line.frontend import LineFrontEnd
from chatroom.frontends.line.refusals import word
from chatroom.server import tls
from chatroom.server.auth import ACCOUNT_ALLOWANCE, Attempt, Authenticator, AuthMode, ChatRealm, GuessBook, MemoryBook
from chatroom.server.connection import ConnectionFactory
from chatroom.server.limits import Admission, ConnectionLimits
from chatroom.server.tls_transport import Flushes, TLSFactory
from chatroom.stores.accounts import AccountStore
from tests.helpers import MemoryClient, MemoryServer, ServiceReactor
from tests.redisserver import TwistdWithRedis
from tests.test_redis import RedisTestCase, told
from tests.test_twistd import LISTENING

CAP_OF_TWO = ConnectionLimits(max_per_address=2)
HELLO = "HELLO chatroom"

LOST = "while this server has lost contact with the others: try again in a few seconds"
UNSHARED = "logins cannot be checked " + LOST
UNGUESSED = "server passwords cannot be checked " + LOST


@implementer(ICredentialsChecker)
class Checker:
    """Only "right" is right. While `holding`, checks wait for `answer`; `started` fires as the first one starts."""

    credentialInterfaces = (IUsernamePassword,)

    def __init__(self) -> None:
        self.holding = False
        self.started: Deferred[None] = Deferred()
        self._held: list[Deferred[None]] = []

    def requestAvatarId(self, credentials: IUsernamePassword) -> Deferred[bytes | tuple[()]]:
        if not self.started.called:
            self.started.callback(None)
        waiting: Deferred[None] = Deferred()
        if self.holding:
            self._held.append(waiting)
        else:
            waiting.callback(None)

        def judged(_: None) -> bytes:
            if credentials.password != b"right":
                raise UnauthorizedLogin()
            return credentials.username

        return waiting.addCallback(judged)

    def answer(self) -> None:
        self.holding = False
        for waiting in self._held:
            waiting.callback(None)


class Process:
    """What one `twistd chatroom --redis` builds on its replica: a factory and an authenticator sharing limits."""

    def __init__(self, test: RedisTestCase, chat: SharedChat, bus: RedisLog, limits: ConnectionLimits) -> None:
        self.chat, self.bus = chat, bus
        accounts = Path(test.mktemp())
        accounts.write_text("alice scrypt$unused\nbob scrypt$unused\n")  # never read by the checker
        self.auth = Authenticator(AuthMode.REQUIRED, AccountStore(accounts), Clock(), RedisBook(bus))
        self.checker = Checker()
        self.auth.portal = Portal(ChatRealm(), [self.checker])
        self.factory = ConnectionFactory(
            chat, Clock(), LineFrontEnd, limits, auth=self.auth, counts=RedisCounts(bus), guesses=RedisGuesses(bus)
        )

    async def connect(self, host: str) -> MemoryClient:
        """A client from `host`, once the count of every process has answered for it."""
        client = MemoryClient(self.factory, host)
        if client.connection.claim is not None:
            await client.connection.claim.verdict()
        return client

    async def login(self, nick: str, password: str, address: str) -> str:
        """The answer to a login: the account, or the refusal's code and text."""
        try:
            return (await self.auth.login(nick, password, address)).account
        except ChatError as error:
            return f"{error.code} :{word(error)}"


class BuiltByTwistdTests(RedisTestCase):
    def test_with_redis_the_server_is_built_counting_over_every_process(self) -> None:
        """Each part is given its shared count as it is made: nothing is swapped in once the server is built."""
        directory = Path(self.mktemp()).absolute()
        directory.mkdir()
        options = tap.Options()
        options.parseOptions(
            ["--certs", str(directory / "certs"), "--redis", self.redis.url, "--auth", "optional",
             "--accounts", str(directory / "accounts.db"), "--rooms", str(directory / "rooms.json")]
        )  # fmt: skip
        service = tap.makeService(options, ServiceReactor())
        assert isinstance(service, MultiService)
        (chat_service,) = (child for child in service if isinstance(child, ChatService))
        factory = chat_service.factory
        self.assertIsInstance(factory.admission.shared, RedisCounts)
        self.assertIsInstance(factory.registrar.server_password_guesses, RedisGuesses)
        assert factory.registrar.auth is not None
        self.assertIsInstance(factory.registrar.auth.book, RedisBook)


class SharedCapTests(RedisTestCase):
    async def processes(self, limits: ConnectionLimits = CAP_OF_TWO, ttl: float = 10.0) -> tuple[Process, Process]:
        (a, bus_a), (b, bus_b) = await self.process("a", ttl), await self.process("b", ttl)
        return Process(self, a, bus_a, limits), Process(self, b, bus_b, limits)

    async def test_the_cap_per_address_counts_the_connections_of_every_process(self) -> None:
        a, b = await self.processes()
        first = await a.connect("192.0.2.1")
        self.assertTrue(first.read()[0].startswith(HELLO))
        second = await b.connect("192.0.2.1")
        self.assertTrue(second.read()[0].startswith(HELLO))
        third = MemoryClient(a.factory, "192.0.2.1")  # one here: this process alone would take it
        self.assertEqual(third.type("/nick eve"), [], "neither greeted nor read before the count answers")
        await third.connection.claim.verdict()
        self.assertEqual(third.read(), ["BYE :too many connections from 192.0.2.1"], "the nickname was never taken")
        self.assertTrue(third.transport.disconnecting)
        self.assertEqual(a.factory.counts.refused["per_address"], 1)
        third.lose()
        self.assertTrue((await b.connect("192.0.2.2")).read()[0].startswith(HELLO), "another address has room")
        first.lose()
        self.assertTrue((await a.connect("192.0.2.1")).read()[0].startswith(HELLO), "a place given back is free")

    async def test_loopback_is_exempt_from_the_shared_count_too(self) -> None:
        a, b = await self.processes(ConnectionLimits(max_per_address=1))
        clients = [await process.connect("127.0.0.1") for process in (a, b, a, b)]
        self.assertEqual([client.connection.claim for client in clients], [None] * 4, "not even asked")

    async def test_a_process_that_leaves_gives_back_its_connections(self) -> None:
        a, b = await self.processes()
        for _ in range(2):
            await b.connect("192.0.2.1")
        counts = RedisCounts(a.bus)
        self.assertIsNone(await counts.claim("192.0.2.1", 2))
        b.chat.close("server shutting down")  # its `gone` deletes its counts, long before they would expire
        await b.chat.left
        self.assertIsNotNone(await counts.claim("192.0.2.1", 2))
        self.assertFalse(await a.bus.commands.exists(a.bus.connections_key("b")), "nor are its addresses kept")

    async def test_a_process_declared_lost_loses_its_connections(self) -> None:
        a, b = await self.processes(ttl=1.0)
        _, heard_by_alice = await self.member(a.chat, "alice", "5")
        await self.member(b.chat, "bob", "5")
        for _ in range(2):
            await b.connect("192.0.2.1")
        counts = RedisCounts(a.bus)
        self.assertIsNone(await counts.claim("192.0.2.1", 2))
        b.bus.stopped = True  # as kill -9: no goodbye, no more heartbeats
        await b.bus.disconnect()
        await heard_by_alice.until(told(Quit("bob", "server lost")))
        self.assertIsNotNone(await counts.claim("192.0.2.1", 2))

    async def test_a_process_that_starts_clears_what_it_counted_before(self) -> None:
        a, _ = await self.processes()
        await a.bus.commands.hset(a.bus.connections_key("c"), "192.0.2.1", 5)  # left by an earlier "c"
        _, bus_c = await self.process("c")
        self.assertIsNotNone(await RedisCounts(bus_c).claim("192.0.2.1", 2))

    async def test_while_redis_is_away_each_process_counts_its_own(self) -> None:
        a, b = await self.processes(ConnectionLimits(max_per_address=1))
        _, heard = await self.member(a.chat, "alice", "5")
        await b.connect("192.0.2.1")
        await self.redis.stop()
        await heard.until(told(ServerNotice(DEGRADED)))
        admitted = await a.connect("192.0.2.1")
        self.assertTrue(admitted.read()[0].startswith(HELLO), "the other process's connection cannot be seen")
        refused = MemoryClient(a.factory, "192.0.2.1")
        self.assertEqual(refused.read(), ["BYE :too many connections from 192.0.2.1"], "this one's own count holds")


class SharedLoginTests(RedisTestCase):
    async def processes(self) -> tuple[Process, Process]:
        (a, bus_a), (b, bus_b) = await self.process("a"), await self.process("b")
        return Process(self, a, bus_a, CAP_OF_TWO), Process(self, b, bus_b, CAP_OF_TWO)

    async def test_failures_on_one_process_slow_the_address_on_another(self) -> None:
        a, b = await self.processes()
        self.assertEqual(await a.login("alice", "guess", "192.0.2.1"), "BAD_LOGIN :wrong nickname or password")
        self.assertEqual(await b.login("alice", "guess", "192.0.2.1"), "BAD_LOGIN :wrong nickname or password", "free")
        slowed = "SLOW_DOWN :too many failed logins: try again in 1 s"
        self.assertEqual(await b.login("bob", "right", "192.0.2.1"), slowed, "the address, whatever the account")
        self.assertEqual(await a.login("bob", "right", "198.51.100.1"), "bob", "another address is not slowed")

    async def test_a_check_in_flight_on_one_process_makes_the_other_wait(self) -> None:
        a, b = await self.processes()
        a.checker.holding = True
        pending = Deferred.fromCoroutine(a.login("alice", "right", "192.0.2.1"))
        await a.checker.started
        same_address = Deferred.fromCoroutine(b.login("bob", "guess", "192.0.2.1"))
        same_account = Deferred.fromCoroutine(b.login("alice", "guess", "198.51.100.1"))
        self.assertFalse(b.checker.started.called, "both wait, unchecked, while the other process checks")
        a.checker.answer()
        self.assertEqual(await pending, "alice")
        # Then each is checked: the process that waits asks Redis again (QUEUE_RETRY), as it hears no end itself.
        self.assertEqual(await same_address, "BAD_LOGIN :wrong nickname or password")
        self.assertEqual(await same_account, "BAD_LOGIN :wrong nickname or password")

    async def test_the_account_allowance_and_the_owners_trust_are_shared(self) -> None:
        a, b = await self.processes()
        self.assertEqual(await a.login("alice", "right", "203.0.113.5"), "alice")
        for n in range(ACCOUNT_ALLOWANCE + 1):  # a botnet spreading its guesses over both processes
            process = (a, b)[n % 2]
            self.assertEqual((await process.login("alice", "guess", f"198.51.100.{n + 1}")).split(" :")[0], "BAD_LOGIN")
        self.assertEqual((await a.login("alice", "guess", "192.0.2.200")).split(" :")[0], "SLOW_DOWN")
        self.assertEqual(await b.login("alice", "right", "203.0.113.5"), "alice", "the owner, trusted on the other")

    async def test_while_redis_is_away_logins_are_refused(self) -> None:
        a, _ = await self.processes()
        _, heard = await self.member(a.chat, "alice", "5")
        await self.redis.stop()
        await heard.until(told(ServerNotice(DEGRADED)))
        self.assertEqual(await a.login("alice", "right", "203.0.113.5"), "SLOW_DOWN :" + UNSHARED)
        self.assertFalse(a.checker.started.called, "no password was checked")


class Answered:
    """A GuessBook passing each guess on, and keeping its answer for the test to wait for."""

    def __init__(self, book: GuessBook) -> None:
        self.book = book
        self.answers: list[Deferred[float]] = []

    def guess(self, key: str, right: bool) -> Deferred[float]:
        self.answers.append(self.book.guess(key, right))
        return self.answers[-1]


class SharedServerPasswordTests(RedisTestCase):
    async def processes(self) -> tuple[Process, Process]:
        (a, bus_a), (b, bus_b) = await self.process("a"), await self.process("b")
        return Process(self, a, bus_a, CAP_OF_TWO), Process(self, b, bus_b, CAP_OF_TWO)

    @staticmethod
    async def check(process: Process, given: str, address: str) -> str:
        """The answer to a server password: "" when right, else the refusal's code and text."""
        try:
            await process.factory.registrar.check_server_password(given, "letmein", address)
        except ChatError as error:
            return f"{error.code} :{word(error)}"
        return ""

    async def test_wrong_server_passwords_on_one_process_slow_the_address_on_another(self) -> None:
        a, b = await self.processes()
        answered = []
        for process in (a, b):
            process.factory.dialect = IRCFrontEnd.serving("irc.test", "letmein")
            registrar = process.factory.registrar
            registrar.server_password_guesses = Answered(registrar.server_password_guesses)
            answered.append(registrar.server_password_guesses.answers)
        on_a, on_b = answered
        wrong = await a.connect("192.0.2.1")
        self.assertEqual(wrong.type("PASS guess", "NICK alice", "USER a 0 * :A"), [], "Redis has not answered yet")
        await on_a[0]
        self.assertEqual(
            wrong.read(), [":irc.test 464 alice :wrong server password", "ERROR :Closing link: wrong server password"]
        )
        again = await b.connect("192.0.2.1")
        again.type("PASS letmein", "NICK alice", "USER a 0 * :A")
        await on_b[0]
        slowed = "too many wrong server passwords: try again in 1 s"
        self.assertEqual(
            again.read(), [f":irc.test 464 alice :{slowed}", f"ERROR :Closing link: {slowed}"], "even the right one"
        )
        self.assertTrue(again.transport.disconnecting)
        other = await b.connect("198.51.100.1")
        other.type("PASS letmein", "NICK bob", "USER b 0 * :B")
        await on_b[1]
        self.assertEqual(other.read(), [":irc.test 433 * bob :bob needs a password"], "admitted: the account's turn")

    async def test_guesses_at_once_on_both_processes_are_one_guess(self) -> None:
        a, b = await self.processes()
        guesses = [self.check(process, "guess", "192.0.2.1") for process in (a, b, a, b)]
        answers = await gatherResults([Deferred.fromCoroutine(guess) for guess in guesses])
        self.assertEqual(sorted(answer.split(" :")[0] for answer in answers), ["BAD_LOGIN"] + ["SLOW_DOWN"] * 3)

    async def test_a_right_server_password_forgets_the_failures(self) -> None:
        a, b = await self.processes()
        key = "test:failures:server-password:192.0.2.1"
        await a.bus.commands.set(key, 1)  # a failure whose wait is over: no time to live beyond the forgetting
        self.assertEqual(await self.check(b, "letmein", "192.0.2.1"), "")
        self.assertFalse(await a.bus.commands.exists(key))

    async def test_while_redis_is_away_server_passwords_are_refused(self) -> None:
        a, _ = await self.processes()
        _, heard = await self.member(a.chat, "alice", "5")
        await self.redis.stop()
        await heard.until(told(ServerNotice(DEGRADED)))
        self.assertEqual(await self.check(a, "letmein", "192.0.2.1"), "SLOW_DOWN :" + UNGUESSED, "even the right one")


class TwoTwistdTests(TwistdWithRedis):
    async def test_two_servers_count_one_address_together(self) -> None:
        await self.start_redis()
        ports = []
        for _ in range(2):
            process = self.chatroom("--max-per-address", "1", "--limit-loopback")
            ports.append(int((await process.until(LISTENING)).group(1)))
            await process.until("joined the others through Redis")
            self.addCleanup(process.transport.signalProcess, "TERM")
        self.port = ports[0]
        await self.connect("alice")
        self.port = ports[1]
        refused = await self.connect_raw()
        self.assertEqual(await refused.next_line(), "BYE :too many connections from 127.0.0.1")


class FakeCounts:
    """The count of every process, answered by the test."""

    def __init__(self) -> None:
        self.asked: list[Deferred[Callable[[], None] | None]] = []
        self.released = 0

    def claim(self, key: str, cap: int) -> Deferred[Callable[[], None] | None]:
        self.asked.append(Deferred())
        return self.asked[-1]

    def admit(self, index: int) -> None:
        self.asked[index].callback(self.release)

    def release(self) -> None:
        self.released += 1


class Heard(Protocol):
    """A client that only keeps what it was sent."""

    data = b""

    def dataReceived(self, data: bytes) -> None:
        self.data += data


class WaitingForTheCountTests(SynchronousTestCase):
    """The connection's side of a shared count, in memory: nothing happens for it until the count answers."""

    def setUp(self) -> None:
        self.server = MemoryServer(CAP_OF_TWO)
        self.counts = FakeCounts()
        self.server.factory.admission = Admission(CAP_OF_TWO, self.counts)

    def test_lines_wait_for_the_count_and_are_read_once_admitted(self) -> None:
        client = MemoryClient(self.server.factory, "192.0.2.1")
        self.assertEqual(client.type("/nick zoe"), [])
        self.counts.admit(0)
        self.assertEqual([line.split(" ")[0] for line in client.read()], ["HELLO", "WELCOME"])
        client.lose()
        self.assertEqual(self.counts.released, 1)

    def test_a_connection_gone_before_the_answer_gives_its_place_back_when_it_comes(self) -> None:
        client = MemoryClient(self.server.factory, "192.0.2.1")
        client.lose()
        self.assertEqual((self.counts.released, self.server.factory.admission.total), (0, 0))
        self.counts.admit(0)
        self.assertEqual(self.counts.released, 1)
        self.assertEqual(client.read(), [], "nothing is said to a connection that has gone")

    def test_a_refusal_before_tls_is_up_is_said_once_it_is(self) -> None:
        """Found by TwoTwistdTests: the count refused before the handshake ended, and a cut there lost the BYE."""
        certs = Path(self.mktemp())
        tls.create(certs, "localhost")
        front = TLSFactory(tls.SwappableContext(tls.load(certs)), self.server.factory, Flushes(self.server.clock))
        peer = IPv4Address("TCP", "192.0.2.1", 40000)
        server = front.buildProtocol(peer)
        trust = trustRootFromCertificates([Certificate.loadPEM((certs / "ca.pem").read_bytes())])
        heard = Heard()
        client = TLSMemoryBIOProtocol(
            TLSMemoryBIOFactory(optionsForClientTLS("localhost", trustRoot=trust), True, Factory()), heard
        )
        pump = iosim.connect(
            server, iosim.FakeTransport(server, True, peerAddress=peer), client, iosim.FakeTransport(client, False),
            greet=False, clock=self.server.clock,
        )  # fmt: skip
        self.counts.asked[0].callback(None)  # refused, before the client's first handshake bytes are read
        pump.flush()
        self.assertEqual(heard.data, b"BYE :too many connections from 192.0.2.1\n")

    def test_the_registration_timeout_still_applies_while_waiting(self) -> None:
        client = MemoryClient(self.server.factory, "192.0.2.1")
        self.server.clock.advance(CAP_OF_TWO.registration_timeout)
        self.assertEqual(client.read(), ["BYE :registration timeout: choose a nickname sooner"])

    def test_without_a_shared_count_nothing_waits(self) -> None:
        self.server.factory.admission.shared = None
        client = MemoryClient(self.server.factory, "192.0.2.1")
        self.assertEqual(client.read()[0].split(" ")[0], "HELLO")
        self.assertEqual(self.counts.asked, [])


class SlowBook(MemoryBook):
    """The book in memory, answering `begin` when the test says, as Redis answers later."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.asked: list[tuple[str, str, Deferred[Attempt]]] = []

    def begin(self, account: str, address: str) -> Deferred[Attempt]:
        self.asked.append((account, address, Deferred()))
        return self.asked[-1][2]

    def answer(self) -> None:
        account, address, waiting = self.asked.pop(0)
        super().begin(account, address).chainDeferred(waiting)


class LeavingWhileTheBookAnswersTests(SynchronousTestCase):
    def test_a_login_abandoned_before_the_book_answers_leaves_no_mark(self) -> None:
        accounts = Path(self.mktemp())
        accounts.write_text("alice scrypt$unused\n")
        auth = Authenticator(AuthMode.REQUIRED, AccountStore(accounts), Clock())
        auth.portal = Portal(ChatRealm(), [Checker()])
        auth.book = book = SlowBook(Clock())
        leaving = Deferred.fromCoroutine(auth.login("alice", "guess", "192.0.2.1"))
        leaving.cancel()  # the connection closed
        self.failureResultOf(leaving, CancelledError)
        book.answer()  # the check it marked in flight will never run
        again = Deferred.fromCoroutine(auth.login("alice", "right", "192.0.2.1"))
        book.answer()
        self.assertEqual(self.successResultOf(again).account, "alice", "not 'being checked'")

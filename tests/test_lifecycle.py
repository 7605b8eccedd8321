"""A member's life has one owner: once a connection is leaving, nothing it sent and no callback acts for it.

Each test is an attack that worked on chatroom 0.1 (issue 9), driven in memory with a fake clock and a
password checker whose verdicts the test hands out, so every interleaving is exact.
"""

from __future__ import annotations

from pathlib import Path

from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import IUsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import Portal
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.ssl import KeyPair, optionsForClientTLS
from twisted.logger import ILogObserver, LogEvent, formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer, provider

from chatroom.server.auth import (
    ACCOUNT_ALLOWANCE,
    BACKOFF_MAX,
    CHECKS_AT_ONCE,
    CHECKS_WAITING,
    QUEUED_PER_KEY,
    Authenticator,
    AuthMode,
    ChatRealm,
)
from chatroom.server.limits import ConnectionLimits
from chatroom.stores.accounts import AccountStore, Secret, adding
from tests.helpers import LineClient, MemoryClient, MemoryServer, ServerTestCase, assert_consistent, observe_log

GENEROUS = ConnectionLimits(flood_burst=10_000, flood_rate=10_000.0, max_per_address=1000)


@implementer(ICredentialsChecker)
class PendingChecker:
    """A twisted.cred checker whose verdicts the test gives, one check at a time."""

    credentialInterfaces = (IUsernamePassword,)

    def __init__(self) -> None:
        self.checks: list[tuple[str, str, Deferred[bytes | tuple[()]]]] = []

    def requestAvatarId(self, credentials: IUsernamePassword) -> Deferred[bytes | tuple[()]]:
        verdict: Deferred[bytes | tuple[()]] = Deferred()
        self.checks.append((credentials.username.decode(), credentials.password.decode(), verdict))
        return verdict

    def answer(self, index: int, right: bool) -> None:
        name, _, verdict = self.checks[index]
        if right:
            verdict.callback(name.encode())
        else:
            verdict.errback(UnauthorizedLogin())


def with_accounts(
    test: SynchronousTestCase, server: MemoryServer, mode: AuthMode = AuthMode.OPTIONAL
) -> PendingChecker:
    """Turn accounts on for `server` (alice, bob, and ada an administrator), the test handing out the verdicts."""
    store = Path(test.mktemp())
    store.write_text("alice scrypt$unused\nbob scrypt$unused\nada scrypt$unused admin\n")  # never read by the checker
    auth = Authenticator(mode, AccountStore(store), server.clock)
    checker = PendingChecker()
    auth.portal = Portal(ChatRealm(), [checker])
    server.factory.registrar.auth = auth
    server.chat.accounts = auth.store
    return checker


class GoodbyeTests(SynchronousTestCase):
    """Lines sent after the server decided a connection is leaving are never executed."""

    def setUp(self) -> None:
        self.server = MemoryServer(ConnectionLimits(registration_timeout=30, idle_timeout=300))
        self.observer = self.server.connect("observer", "lobby")

    def test_lines_after_quit_leave_no_ghost(self) -> None:
        ghost = self.server.connect("ghost", "5")
        self.assertEqual(ghost.type("/quit bye"), ["BYE :bye"])
        self.assertEqual(ghost.type("/join lobby", "/nick admin", "hello"), [], "nothing more is executed")
        self.assertEqual(self.observer.read(), [])
        twin = self.server.connect()
        self.assertTrue(twin.type("/nick ghost")[0].startswith("WELCOME ghost "), "the nickname is free again")
        self.assertEqual(self.observer.type("/who lobby"), ["NAMES #lobby @observer"])
        assert_consistent(self, self.server.factory)

    def test_lines_in_the_same_read_as_quit_are_not_executed(self) -> None:
        ghost = self.server.connect("ghost")
        self.assertEqual(ghost.type("/quit", "/join lobby"), ["BYE :quit"])
        self.assertEqual(self.observer.read(), [])
        assert_consistent(self, self.server.factory)

    def test_no_nickname_squatted_after_the_registration_timeout(self) -> None:
        squatter = self.server.connect()
        self.server.clock.advance(30)
        self.assertEqual(squatter.read(), ["BYE :registration timeout: choose a nickname sooner"])
        self.assertEqual(squatter.type("/nick admin"), [])
        admin = self.server.connect()
        self.assertTrue(admin.type("/nick admin")[0].startswith("WELCOME admin "))
        assert_consistent(self, self.server.factory)

    def test_nothing_executed_after_a_ping_timeout(self) -> None:
        sleeper = self.server.connect("sleeper")
        self.server.clock.advance(300)
        self.observer.type("/pong")
        self.server.clock.advance(300)
        self.assertEqual(sleeper.read()[-1], "BYE :ping timeout")
        self.assertEqual(sleeper.type("/join lobby"), [])
        self.assertEqual(self.observer.type("/who lobby")[-1], "NAMES #lobby @observer")

    def test_a_departed_connection_cannot_take_the_new_owners_nickname(self) -> None:
        """0.1: /nick from the departed connection deleted the new owner's entry, then KeyError everywhere."""
        departed = self.server.connect("w")
        departed.type("/quit")
        owner = self.server.connect("w", "lobby")
        self.assertEqual(departed.type("/nick x"), [])
        self.assertEqual(owner.type("/nick w2"), ["NICK w w2"])
        departed.lose()
        assert_consistent(self, self.server.factory)
        closed = self.server.factory.close("server shutting down")
        for client in self.server.connections:
            if client is not departed:
                client.lose()
        self.successResultOf(closed)
        self.assertEqual(self.server.factory.admission.total, 0)

    def test_teardown_releases_the_admission_slot_even_if_leaving_the_chat_fails(self) -> None:
        client = self.server.connect("alice")

        def broken(*args: object) -> None:
            raise RuntimeError("a bug on the way out")

        self.patch(self.server.chat, "leave", broken)
        self.assertRaises(RuntimeError, client.lose)
        self.assertNotIn(client.connection, self.server.factory.connections)
        self.assertEqual(self.server.factory.admission.total, 1, "only the observer is counted")


class LoginRaceTests(SynchronousTestCase):
    """A login verdict that arrives after its connection started leaving changes nothing."""

    def setUp(self) -> None:
        self.server = MemoryServer(ConnectionLimits(registration_timeout=30, flood_burst=100))
        self.checker = with_accounts(self, self.server)

    def test_a_verdict_after_the_registration_timeout_installs_nothing(self) -> None:
        slow = self.server.connect()
        slow.type("/nick alice", "/pass correct horse")
        self.server.clock.advance(30)
        self.assertEqual(slow.read()[-1], "BYE :registration timeout: choose a nickname sooner")
        self.checker.answer(0, right=True)
        self.assertEqual(slow.read(), [], "no WELCOME for a connection that is leaving")
        self.assertEqual(self.server.chat.nicks, {})
        owner = self.server.connect()
        owner.type("/nick alice", "/pass correct horse")
        self.checker.answer(1, right=True)
        self.assertTrue(owner.read()[-1].startswith("WELCOME alice "), "the owner is not told NICK_TAKEN")
        slow.lose()
        assert_consistent(self, self.server.factory)

    def test_a_close_during_a_login_is_noticed_and_the_verdict_ignored(self) -> None:
        """Reading goes on while a password is checked, so a client that hangs up is seen at once."""
        leaver = self.server.connect()
        leaver.type("/nick alice", "/pass correct horse")
        self.assertEqual(leaver.transport.producerState, "producing")
        leaver.lose()
        self.checker.answer(0, right=True)
        self.assertEqual(self.server.chat.nicks, {})
        assert_consistent(self, self.server.factory)

    def test_lines_after_pass_wait_for_the_verdict_in_order(self) -> None:
        alice = self.server.connect()
        alice.type("/nick alice")
        self.assertEqual(alice.type("/pass correct horse", "/join 5", "hi"), [])
        self.checker.answer(0, right=True)
        lines = alice.read()
        self.assertTrue(lines[0].startswith("WELCOME alice "))
        self.assertEqual(
            lines[1:], ["JOIN #5 alice", "ROOM #5 * topiclock", "NAMES #5 @alice", "CURRENT #5", "MSG #5 alice :hi"]
        )

    def test_many_lines_during_a_login_stop_reading_until_it_is_done(self) -> None:
        alice = self.server.connect()
        alice.type("/nick alice", "/pass correct horse")
        alice.type(*(f"line {n}" for n in range(40)))
        self.assertEqual(alice.transport.producerState, "paused", "the waiting lines are bounded")
        self.checker.answer(0, right=True)
        self.assertEqual(alice.transport.producerState, "producing")

    def test_a_bug_while_running_the_waiting_lines_is_answered_and_the_rest_run(self) -> None:
        """Neither frozen (the lines after it never read) nor dropped: told in one line, as any line's bug is."""
        logged = observe_log(self)
        alice = self.server.connect()
        dialect = alice.connection.dialect
        original = dialect.line_received

        def buggy(text: str) -> None:
            if text == "/boom":
                raise RuntimeError("a bug")
            original(text)

        self.patch(dialect, "line_received", buggy)
        alice.type("/nick alice", "/pass right", "/boom", *[f"/ping {n}" for n in range(40)])
        self.checker.answer(0, right=True)
        answers = alice.read()
        self.assertIn("ERR SERVER_ERROR :the server could not do that; try again later", answers)
        self.assertEqual(answers[-1], "PONG :39", "every line after it ran")
        self.assertFalse(alice.transport.disconnected)
        reported = [event for event in logged if "could not run a line: RuntimeError" in formatEvent(event)]
        self.assertEqual(len(reported), 1)
        alice.lose()
        assert_consistent(self, self.server.factory)

    def test_the_password_is_the_rest_of_the_line_spaces_included(self) -> None:
        alice = self.server.connect()
        alice.type("/nick alice", "/pass  two  spaces ")
        self.assertEqual(self.checker.checks[0][:2], ("alice", " two  spaces "))

    def test_mid_chat_nick_to_a_registered_name(self) -> None:
        bob = self.server.connect("guest", "5")
        self.assertEqual(bob.type("/nick bob")[0].split(" :")[0], "AUTH bob")
        bob.type("/pass right")
        self.checker.answer(0, right=True)
        self.assertEqual(bob.read(), ["NICK guest bob"])
        connection = bob.connection
        self.assertEqual((connection.member.nick, connection.member.account), ("bob", "bob"))


class LoginPolicyTests(SynchronousTestCase):
    """Guessing is slow, bounded in cost, and cannot lock the owner out."""

    def setUp(self) -> None:
        self.server = MemoryServer(GENEROUS)
        self.checker = with_accounts(self, self.server, AuthMode.REQUIRED)

    def attempt(self, nick: str, password: str, host: str) -> MemoryClient:
        """A login from `host`; its answer so far is in `self.answer`."""
        client = self.server.connect(host=host)
        self.answer = client.type(f"/nick {nick}", f"/pass {password}")[-1]
        return client

    def verdict(self, client: MemoryClient, right: bool) -> str:
        """Answer the latest check; the client's reply."""
        self.checker.answer(len(self.checker.checks) - 1, right)
        return client.read()[-1]

    def test_one_check_at_a_time_per_address(self) -> None:
        """0.1: sixty /pass at once from one address were all checked (memory 51 -> 372 MiB).

        Now one is checked, QUEUED_PER_KEY wait for it, and the rest are refused at once.
        """
        answers = []
        for n in range(60):
            self.attempt("alice", f"guess {n}", "192.0.2.1")
            answers.append(self.answer.split(" :")[0])
        self.assertEqual(len(self.checker.checks), 1)
        self.assertEqual(answers[1 : 1 + QUEUED_PER_KEY], ["AUTH alice"] * QUEUED_PER_KEY, "waiting, unanswered")
        self.assertEqual(answers[1 + QUEUED_PER_KEY :], ["ERR SLOW_DOWN"] * (59 - QUEUED_PER_KEY))
        self.attempt("bob", "guess", "192.0.2.1")
        self.assertEqual(self.answer.split(" :")[0], "ERR SLOW_DOWN", "per address, whatever the account")

    def test_a_second_login_from_an_address_waits_for_the_first(self) -> None:
        """Two tabs of a web client log in at once: the second was refused (gamja: 904, then 433)."""
        first = self.attempt("alice", "right", "192.0.2.1")
        second = self.attempt("alice", "right", "192.0.2.1")
        self.assertEqual(self.answer.split(" :")[0], "AUTH alice", "not refused: waiting for its check")
        self.assertEqual(len(self.checker.checks), 1, "still one check at a time")
        self.assertTrue(self.verdict(first, right=True).startswith("WELCOME alice "))
        self.assertEqual(len(self.checker.checks), 2, "the second is checked once the first is done")
        self.assertTrue(self.verdict(second, right=True).startswith("WELCOME alice "))

    def test_a_login_waiting_behind_a_failure_gets_its_wait(self) -> None:
        first = self.attempt("alice", "guess", "192.0.2.1")
        second = self.attempt("alice", "another", "192.0.2.1")
        third = self.attempt("alice", "a third", "192.0.2.1")
        self.assertEqual(self.verdict(first, right=False), "ERR BAD_LOGIN :wrong nickname or password")
        self.assertEqual(len(self.checker.checks), 2, "one failure costs no wait: the next is checked at once")
        self.assertEqual(self.verdict(second, right=False), "ERR BAD_LOGIN :wrong nickname or password")
        self.assertEqual(third.read(), ["ERR SLOW_DOWN :too many failed logins: try again in 1 s"])
        self.assertEqual(len(self.checker.checks), 2, "the guess waiting behind the second failure was never checked")

    def test_a_waiting_login_that_hangs_up_leaves_the_queue(self) -> None:
        first = self.attempt("alice", "guess", "192.0.2.1")
        for _ in range(QUEUED_PER_KEY):
            self.attempt("alice", "guess", "192.0.2.1").lose()
        last = self.attempt("alice", "right", "192.0.2.1")
        self.assertEqual(self.answer.split(" :")[0], "AUTH alice", "queued: those who left made room")
        self.assertTrue(self.verdict(first, right=True).startswith("WELCOME alice "))
        self.assertEqual(len(self.checker.checks), 2, "the ones that left were never checked")
        self.assertTrue(self.verdict(last, right=True).startswith("WELCOME alice "))

    def test_one_check_at_a_time_per_account(self) -> None:
        self.attempt("alice", "guess", "192.0.2.1")
        stranger = self.attempt("ALICE", "guess", "198.51.100.1")
        self.assertEqual(self.answer.split(" :")[0], "AUTH ALICE", "waits for the other stranger's check")
        self.assertEqual(len(self.checker.checks), 1)
        self.checker.answer(0, right=False)
        self.assertEqual(len(self.checker.checks), 2, "then is checked")
        self.assertEqual(self.verdict(stranger, right=False), "ERR BAD_LOGIN :wrong nickname or password")

    def test_a_bounded_number_of_checks_server_wide_the_rest_wait_their_turn(self) -> None:
        clients = [self.attempt(f"user{n}", "pw", f"192.0.2.{n + 1}") for n in range(CHECKS_AT_ONCE + 2)]
        self.assertEqual(len(self.checker.checks), CHECKS_AT_ONCE)
        clients[-1].lose()  # gone while waiting: its check never runs
        self.checker.answer(0, right=False)
        self.assertEqual(len(self.checker.checks), CHECKS_AT_ONCE + 1)
        self.assertEqual(self.checker.checks[-1][0], f"user{CHECKS_AT_ONCE}")
        for index in range(1, CHECKS_AT_ONCE + 1):
            self.checker.answer(index, right=False)
        self.assertEqual(len(self.checker.checks), CHECKS_AT_ONCE + 1, "the one that left was never checked")

    def test_a_strangers_waiting_guess_does_not_keep_the_owner_out(self) -> None:
        owner = self.attempt("alice", "right", "203.0.113.5")
        self.assertTrue(self.verdict(owner, right=True).startswith("WELCOME alice "))
        owner.type("/quit")
        for n in range(CHECKS_AT_ONCE):  # every check slot busy with other names
            self.attempt(f"user{n}", "guess", f"198.51.100.{n + 1}")
        self.attempt("alice", "guess", "192.0.2.66")  # a stranger's guess for alice, waiting for a slot
        self.attempt("alice", "right", "203.0.113.5")
        self.assertEqual(self.answer.split(" :")[0], "AUTH alice", "the owner waits for a slot like anyone")
        self.attempt("alice", "another guess", "192.0.2.67")
        self.assertEqual(self.answer.split(" :")[0], "AUTH alice", "strangers still get one check at a time")
        self.assertEqual(len(self.checker.checks), CHECKS_AT_ONCE + 1, "it waits, unchecked")

    def test_the_queue_of_checks_is_bounded(self) -> None:
        for n in range(CHECKS_AT_ONCE + CHECKS_WAITING):
            self.attempt(f"user{n}", "guess", f"198.51.{n // 250}.{n % 250 + 1}")
        self.attempt("late", "guess", "203.0.113.9")
        self.assertEqual(
            self.answer, "ERR SLOW_DOWN :the server is busy checking passwords: try again in a few seconds"
        )
        self.assertEqual(len(self.checker.checks), CHECKS_AT_ONCE)

    def test_failures_slow_the_address_and_the_ipv6_slash_64(self) -> None:
        for host in ("2001:db8:1:2::1", "2001:db8:1:2::2"):  # the first failure costs no wait, the second does
            guesser = self.attempt("alice", "guess", host)
            self.assertEqual(self.verdict(guesser, right=False), "ERR BAD_LOGIN :wrong nickname or password")
        self.attempt("bob", "guess", "2001:db8:1:2::99")
        self.assertEqual(self.answer, "ERR SLOW_DOWN :too many failed logins: try again in 1 s")
        self.server.clock.advance(1)
        self.attempt("bob", "guess", "2001:db8:1:2::99")
        self.assertEqual(len(self.checker.checks), 3)

    def test_a_guess_counts_even_if_the_guesser_hangs_up(self) -> None:
        for index in range(2):
            self.attempt("alice", "guess", "192.0.2.1").lose()
            self.checker.answer(index, right=False)
        self.attempt("alice", "guess", "192.0.2.1")
        self.assertEqual(self.answer.split(" :")[0], "ERR SLOW_DOWN")

    def test_guesses_from_elsewhere_do_not_lock_the_owner_out(self) -> None:
        """0.1: a few wrong guesses from anywhere, and the owner got SLOW_DOWN ... 32 s."""
        owner = self.attempt("alice", "right", "203.0.113.5")
        self.assertTrue(self.verdict(owner, right=True).startswith("WELCOME alice "))
        owner.type("/quit")
        for n in range(ACCOUNT_ALLOWANCE + 1):  # a botnet: every guess from an address of its own
            guesser = self.attempt("alice", f"guess {n}", f"198.51.100.{n + 1}")
            self.assertEqual(self.verdict(guesser, right=False).split(" :")[0], "ERR BAD_LOGIN")
        self.attempt("alice", "guess", "192.0.2.200")
        self.assertEqual(self.answer.split(" :")[0], "ERR SLOW_DOWN", "past its allowance the account is slowed")
        back = self.attempt("alice", "right", "203.0.113.5")
        self.assertTrue(self.verdict(back, right=True).startswith("WELCOME alice "), "but not for its owner")
        self.assertEqual(len(self.checker.checks), ACCOUNT_ALLOWANCE + 3)

    def test_a_name_registered_again_is_not_trusted_from_the_removed_accounts_addresses(self) -> None:
        """Trust was kept by name: the removed account's owner, from an address that had logged in to it, guessed at
        the new account's password past the slow-down that held every stranger."""
        owner = self.attempt("alice", "right", "203.0.113.5")
        self.assertTrue(self.verdict(owner, right=True).startswith("WELCOME alice "))
        owner.type("/quit")
        store = self.server.chat.accounts
        assert isinstance(store, AccountStore)
        store.remove("alice")
        store.change("alice", adding("alice", Secret("scrypt$unused", None)))  # someone else's
        for n in range(ACCOUNT_ALLOWANCE + 1):
            guesser = self.attempt("alice", f"guess {n}", f"198.51.100.{n + 1}")
            self.assertEqual(self.verdict(guesser, right=False).split(" :")[0], "ERR BAD_LOGIN")
        self.attempt("alice", "guess", "203.0.113.5")
        self.assertEqual(self.answer.split(" :")[0], "ERR SLOW_DOWN", "the old owner is a stranger to the new account")
        self.server.clock.advance(BACKOFF_MAX)
        self.attempt("alice", "guess", "203.0.113.5")
        self.assertEqual(self.answer.split(" :")[0], "AUTH alice", "checked once the wait is over")


class FloodAndLogTests(SynchronousTestCase):
    def test_oversize_lines_spend_flood_tokens(self) -> None:
        """0.1: 10,000 ERR TOO_LONG in 0.7 s from one client; now they are slowed like any line."""
        server = MemoryServer(ConnectionLimits(max_line=100, flood_burst=10, flood_rate=4.0))
        flooder = server.connect("flooder")
        server.clock.advance(10)
        flooder.send((b"x" * 200 + b"\n") * 30)
        self.assertEqual(len(flooder.read()), 10, "the burst, then reading stops")
        self.assertEqual(flooder.transport.producerState, "paused")

    def test_refused_lines_are_logged_as_a_count(self) -> None:
        logged = observe_log(self)
        server = MemoryServer(GENEROUS)
        noisy = server.connect("noisy")
        for _ in range(5):
            noisy.type(*["/bogus"] * 100)
            server.clock.advance(1)
        noisy.lose()
        reports = [formatEvent(event) for event in logged if "refused" in formatEvent(event)]
        self.assertEqual(len(reports), 2, "one at the first refusal, one with the rest at the end")
        self.assertIn("UNKNOWN_COMMAND x1", reports[0])
        self.assertIn("UNKNOWN_COMMAND x499", reports[1])

    def test_a_quit_reason_is_not_logged(self) -> None:
        logged = observe_log(self)
        server = MemoryServer()
        peer = server.connect("peer", "5")
        leaver = server.connect("leaver", "5")
        leaver.type("/quit my secret reason")
        leaver.lose()
        self.assertEqual(peer.read(), ["QUIT leaver :my secret reason"], "the room hears it")
        text = "\n".join(formatEvent(event) for event in logged)
        self.assertIn("(leaver) disconnected: quit", text)
        self.assertNotIn("secret", text)

    def test_the_line_limit_counts_content_not_the_line_ending(self) -> None:
        server = MemoryServer(ConnectionLimits(max_line=100))
        alice = server.connect("alice", "5")
        self.assertEqual(alice.type("x" * 95), [f"MSG #5 alice :{'x' * 95}"])  # 100 bytes with its CRLF
        alice.send(b"y" * 100 + b"\r\n")
        self.assertEqual(alice.read(), [f"MSG #5 alice :{'y' * 100}"])
        alice.send(b"z" * 101 + b"\r\n")
        self.assertEqual(alice.read(), ["ERR TOO_LONG :line longer than 100 bytes; it was ignored"])

    def test_idleness_ends_with_complete_lines_only(self) -> None:
        """0.1: a client trickling bytes of a line it never finished was never pinged or cut."""
        server = MemoryServer(ConnectionLimits(idle_timeout=300, max_line=4096))
        trickler = server.connect("trickler")
        for _ in range(599):
            server.clock.advance(1)
            trickler.send(b"a")
        server.clock.advance(1)
        lines = trickler.read()
        self.assertEqual([line.split(" :")[0] for line in lines], ["PING", "BYE"])
        self.assertEqual(lines[-1], "BYE :ping timeout")


class GoodbyeOverTLSTests(ServerTestCase):
    async def test_a_failed_handshake_says_why_in_the_log(self) -> None:
        """`(-) disconnected: connection lost` was all the log said of a device that distrusted the certificate."""
        logged = observe_log(self)
        self.start_server()
        both: Deferred[None] = Deferred()

        @provider(ILogObserver)
        def counted(event: LogEvent) -> None:
            if sum("(-) disconnected: " in formatEvent(each) for each in logged) == 2 and not both.called:
                both.callback(None)

        globalLogPublisher.addObserver(counted)
        self.addCleanup(globalLogPublisher.removeObserver, counted)
        stranger = KeyPair.generate(size=2048).selfSignedCert(1, CN="another CA")
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.port)
        distrusting = await connectProtocol(
            wrapClientTLS(optionsForClientTLS("localhost", trustRoot=stranger), endpoint), LineClient()
        )
        await distrusting.lost
        plain = await connectProtocol(endpoint, LineClient())
        plain.transport.write(b"GET / HTTP/1.0\r\n\r\n")
        await plain.lost
        await both
        text = "\n".join(formatEvent(event) for event in logged)
        self.assertIn(
            "(-) disconnected: TLS failed (TLSV1_ALERT_UNKNOWN_CA): the client does not trust the server's certificate",
            text,
        )
        self.assertIn("(-) disconnected: TLS failed (HTTP_REQUEST): the client spoke plain HTTP, not TLS", text)

    async def test_lines_sent_during_the_close_grace_are_not_executed(self) -> None:
        self.start_server()
        observer = await self.connect("observer", "lobby")
        ghost = await self.connect("ghost")
        ghost.send("/quit")
        await ghost.until("BYE ")
        ghost.send("/join lobby", "/nick admin")  # the server waits for our close_notify meanwhile
        observer.send("/who lobby", "/ping done")
        await observer.until("PONG :done")
        self.assertIn("NAMES #lobby @observer", observer.lines)
        newcomer = await self.connect()
        newcomer.send("/nick admin")
        await newcomer.until("WELCOME admin ")
        ghost.transport.loseConnection()
        await ghost.lost
        assert_consistent(self, self.service.factory)

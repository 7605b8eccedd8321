"""SASL SCRAM-SHA-256 (RFC 5802, 7677) over the IRC front end, and the accounts file's SCRAM verifiers.

The exchanges are real: scramp's client against the server's front end, in memory, with the accounts file the
server reads. A SCRAM proof is a few HMACs, checked without a thread, so the test runs on a fake clock.
"""

from __future__ import annotations

import base64
from pathlib import Path

from scramp import ScramClient
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.logger import LogLevel, formatEvent
from twisted.trial.unittest import SynchronousTestCase, TestCase

from chatroom.core.errors import ChatError
from chatroom.server import tls
from chatroom.server.auth import Authenticator, AuthMode, FileAccountWriter
from chatroom.stores.accounts import Account, AccountStore, Change, Secret, adding, check_password, hash_password
from tests.helpers import MemoryClient, observe_log
from tests.test_irc import IRCServer, commands
from tests.test_lifecycle import GENEROUS


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def unb64(line: str) -> str:
    return base64.b64decode(line.split(" ", 1)[1]).decode()


class ScramLoginTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = IRCServer(GENEROUS)
        self.store = AccountStore(Path(self.mktemp()))
        self.store.change("alice", adding("alice", Secret.of("correct horse")))
        self.auth = Authenticator(AuthMode.OPTIONAL, self.store, self.server.clock)
        self.server.factory.registrar.auth = self.auth
        self.server.chat.accounts = self.auth.store

    def start(self, client: MemoryClient, name: str, password: str) -> ScramClient:
        """CAP REQ sasl, AUTHENTICATE SCRAM-SHA-256 and the client's first message; the server's is taken."""
        client.type("CAP LS 302", "CAP REQ :sasl")
        self.assertEqual(client.type("AUTHENTICATE SCRAM-SHA-256"), ["AUTHENTICATE +"])
        scram = ScramClient(["SCRAM-SHA-256"], name, password)
        [first] = client.type("AUTHENTICATE " + b64(scram.get_client_first()))
        scram.set_server_first(unb64(first))
        return scram

    def test_the_right_password_logs_in_and_the_server_proves_itself(self) -> None:
        client = self.server.irc()
        scram = self.start(client, "alice", "correct horse")
        [final] = client.type("AUTHENTICATE " + b64(scram.get_client_final()))
        scram.set_server_final(unb64(final))  # raises if the server did not know alice's verifier
        self.assertEqual(commands(client.type("AUTHENTICATE +")), ["900", "903"])
        self.assertEqual(commands(client.type("NICK alice", "USER a 0 * :A", "CAP END"))[0], "001")
        self.assertEqual(self.server.chat.nicks["alice"].account, "alice")

    def test_a_proof_for_an_account_removed_and_registered_again_during_the_exchange_logs_in_to_neither(self) -> None:
        """Found in review: the proof is checked against the verifier the exchange began with, the removed account's,
        and logged in to the account the name held by then: someone else's, with the old password. Then, in a
        second review: refused only at registration, it was booked as a successful login to the new account, whose
        slow-downs then trusted the removed account's owner's address. It is a failed login, at once."""
        client = self.server.irc()
        scram = self.start(client, "alice", "correct horse")
        self.store.remove("alice")
        self.store.change("alice", adding("alice", Secret.of("another person's secret")))
        refused = client.type("AUTHENTICATE " + b64(scram.get_client_final()))
        self.assertEqual(refused, [":chatroom 904 * :SASL authentication failed: wrong nickname or password"])
        self.assertEqual(self.auth.failures, 1)
        new_account = f"account:alice~{self.store.identity('alice')}"  # what the book keeps its logins under
        new = self.successResultOf(self.auth.book.begin(new_account, "127.0.0.1"))  # the client's address
        self.assertFalse(new.trusted, "a stranger to the new account")
        answer = client.type("NICK alice", "USER a 0 * :A", "CAP END")
        self.assertEqual(answer, [":chatroom 433 * alice :alice needs a password"])
        self.assertNotIn("alice", self.server.chat.nicks)

    def test_scram_after_registering_logs_the_member_in_as_plain_does(self) -> None:
        """Found in review: 900 and 903 were told, but the member stayed a guest, and nobody was told."""
        watcher = self.server.irc("watcher", "#room", caps="account-notify")
        client = self.server.irc("guest", "#room", caps="sasl")
        self.assertEqual(client.type("AUTHENTICATE SCRAM-SHA-256"), ["AUTHENTICATE +"])
        scram = ScramClient(["SCRAM-SHA-256"], "alice", "correct horse")
        [first] = client.type("AUTHENTICATE " + b64(scram.get_client_first()))
        scram.set_server_first(unb64(first))
        client.type("AUTHENTICATE " + b64(scram.get_client_final()))
        self.assertEqual(commands(client.type("AUTHENTICATE +")), ["900", "903"])
        self.assertEqual(self.server.chat.nicks["guest"].account, "alice")
        self.assertEqual(watcher.read(), [":guest!guest@chatroom ACCOUNT alice"])

    def test_a_wrong_password_fails_and_slows_the_next_guess(self) -> None:
        client = self.server.irc()
        for _ in range(2):  # the first failure costs no wait, the second does
            scram = self.start(client, "alice", "wrong horse")
            refused = client.type("AUTHENTICATE " + b64(scram.get_client_final()))
            self.assertEqual(refused, [":chatroom 904 * :SASL authentication failed: wrong nickname or password"])
        scram = self.start(client, "alice", "correct horse")
        [slowed] = client.type("AUTHENTICATE " + b64(scram.get_client_final()))
        self.assertIn("904 * :SASL authentication failed: too many failed logins", slowed, "even the right one")
        self.assertEqual(commands(client.type("NICK alice", "USER a 0 * :A", "CAP END")), ["433"])

    def test_an_unknown_name_gets_a_salt_like_an_account_and_fails_like_a_wrong_password(self) -> None:
        client = self.server.irc()
        scram = self.start(client, "nobody", "whatever it is")
        refused = client.type("AUTHENTICATE " + b64(scram.get_client_final()))
        self.assertEqual(refused, [":chatroom 904 * :SASL authentication failed: wrong nickname or password"])

    def test_an_unknown_names_salt_is_as_long_as_an_accounts_and_the_same_in_every_process(self) -> None:
        """A 16-byte decoy beside a 32-byte salt told which names are accounts; so did a decoy that changed from one
        process (or restart) to the next, where an account's salt does not."""

        def salt(name: str, auth: Authenticator) -> str:
            self.server.factory.registrar.auth = auth
            first = self.start(self.server.irc(), name, "whatever it is")
            server_first = str(first.server_first)
            return dict(field.split("=", 1) for field in server_first.split(","))["s"]

        certs = Path(self.mktemp())
        secret = tls.secret(tls.load_or_create(certs, "localhost"), "chatroom SCRAM decoy salts")
        self.assertEqual(tls.secret(tls.load(certs), "chatroom SCRAM decoy salts"), secret, "as read after a restart")
        processes = [Authenticator(AuthMode.OPTIONAL, self.store, self.server.clock, secret=secret) for _ in "ab"]
        decoys = [salt("nobody", auth) for auth in processes]
        self.assertEqual(decoys[0], decoys[1])
        self.assertEqual(len(base64.b64decode(decoys[0])), len(base64.b64decode(salt("alice", processes[0]))))

    def test_a_failed_login_logs_the_name_only_if_it_is_an_accounts(self) -> None:
        """People type their password where the name goes: a name no account has is not written down."""
        logged = observe_log(self)
        for name in ("my secret diary entry", "alice"):
            client = self.server.irc()
            scram = self.start(client, name, "wrong password")
            client.type("AUTHENTICATE " + b64(scram.get_client_final()))
        lines = [formatEvent(event) for event in logged if "failed login" in formatEvent(event)]
        self.assertEqual(
            lines, ["failed login as a name that is no account from 127.0.0.1", "failed login as alice from 127.0.0.1"]
        )

    def test_the_mechanisms_are_advertised_and_an_unknown_one_lists_them(self) -> None:
        client = self.server.irc()
        [listed] = client.type("CAP LS 302")
        self.assertIn("sasl=PLAIN,SCRAM-SHA-256", listed.split(" :", 1)[1].split())
        client.type("CAP REQ :sasl")
        self.assertEqual(
            client.type("AUTHENTICATE SCRAM-SHA-1"),
            [
                ":chatroom 908 * PLAIN,SCRAM-SHA-256 :are the available SASL mechanisms",
                ":chatroom 904 * :SASL authentication failed: unknown mechanism",
            ],
        )

    def test_a_malformed_first_message_fails_in_one_line(self) -> None:
        client = self.server.irc()
        client.type("CAP REQ :sasl", "AUTHENTICATE SCRAM-SHA-256")
        self.assertEqual(
            client.type("AUTHENTICATE " + b64("not scram at all")),
            [":chatroom 904 * :SASL authentication failed: malformed SCRAM-SHA-256 message"],
        )

    def test_an_endless_exchange_fails_once_past_its_limit(self) -> None:
        """irctest's testPlainInfiniteMessages: 400-byte lines without end got 905, which is for one long line."""
        client = self.server.irc()
        client.type("CAP REQ :sasl", "AUTHENTICATE PLAIN")
        answers = [line for _ in range(11) for line in client.type("AUTHENTICATE " + "eHh4" * 100)]
        refused = ":chatroom 904 * :SASL authentication failed: the exchange is longer than 4096 bytes"
        self.assertEqual(answers, [refused])


class AccountsFileTests(SynchronousTestCase):
    def test_a_record_keeps_its_verifier_and_plain_still_checks_the_hash(self) -> None:
        secret = Secret.of("correct horse")
        account = Account("Alice", secret.hash, admin=True, scram=secret.scram)
        read = Account.parse(account.record())
        self.assertEqual(read, account)
        assert read is not None
        self.assertTrue(check_password("correct horse", read.hash))
        self.assertFalse(check_password("wrong horse", read.hash))

    def test_a_record_from_before_scram_reads_without_a_verifier(self) -> None:
        hashed = hash_password("correct horse")
        self.assertEqual(Account.parse(f"alice {hashed} admin"), Account("alice", hashed, True))

    def test_a_password_that_saslprep_refuses_still_logs_in_with_plain(self) -> None:
        secret = Secret.of("bell\u0007")  # a control character: RFC 4013 prohibits it
        self.assertIsNone(secret.scram)
        self.assertTrue(check_password("bell\u0007", secret.hash))


class VerifierAddedTests(TestCase):
    """An account from before SCRAM gets its verifier at its next PLAIN login (checked in a real thread)."""

    async def test_a_plain_login_adds_the_verifier_and_scram_works_after(self) -> None:
        path = Path(self.mktemp())
        path.write_text(f"alice {hash_password('correct horse')}\n")
        store = AccountStore(path)
        clock = Clock()
        auth = Authenticator(AuthMode.OPTIONAL, store, clock, writer=FileAccountWriter(store))
        self.assertNotIn("scram-sha-256", path.read_text())
        self.assertEqual((await auth.login("alice", "correct horse", "192.0.2.1")).account, "alice")
        self.assertIn(" scram-sha-256$4096$", path.read_text(), "in the file, for every process")
        exchange = auth.scram.exchange()
        client = ScramClient(["SCRAM-SHA-256"], "alice", "correct horse")
        client.set_server_first(exchange.first(client.get_client_first()))
        self.assertEqual((await auth.login_scram(exchange, client.get_client_final(), "192.0.2.1")).account, "alice")

    async def test_a_verifier_that_cannot_be_written_still_logs_in_and_the_log_never_quotes_the_password(self) -> None:
        path = Path(self.mktemp())
        path.write_text(f"alice {hash_password('correct horse')}\n")
        store = AccountStore(path)
        writer = FileAccountWriter(store)
        logged = observe_log(self)

        def broken(name: str, change: Change) -> Deferred[None]:
            raise OSError(f"cannot write {change(store.get(name))!r}")  # quoting the verifier, from the password

        self.patch(writer, "change", broken)
        auth = Authenticator(AuthMode.OPTIONAL, store, Clock(), writer=writer)
        self.assertEqual((await auth.login("alice", "correct horse", "192.0.2.1")).account, "alice")
        [error] = [formatEvent(event) for event in logged if event.get("log_level") == LogLevel.error]
        self.assertIn("could not add alice's SCRAM verifier: OSError at ", error)
        self.assertNotIn("stored_key", repr(list(logged)), "nothing made from a password is ever logged")

    async def test_a_wrong_plain_password_adds_nothing(self) -> None:
        path = Path(self.mktemp())
        path.write_text(f"alice {hash_password('correct horse')}\n")
        store = AccountStore(path)
        auth = Authenticator(AuthMode.OPTIONAL, store, Clock(), writer=FileAccountWriter(store))
        with self.assertRaises(ChatError):
            await auth.login("alice", "wrong horse", "192.0.2.1")
        self.assertIsNone(store.get("alice").scram)

"""A client that leaves while its login or its registration is still being made is not left in the chat.

Before, two paths registered such a client anyway, on its ended connection: a login that gave an account from before
SCRAM its verifier carried on when the connection closed during the write (the cancellation was caught with the
write's failures), and a registration answered by a snapshot (a process catching up, with --redis) was installed
without asking whether its connection had closed. Its nickname stayed taken by nobody, and with several processes
the first delivery to it stopped the process from applying the log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twisted.internet import task
from twisted.internet.defer import Deferred, succeed
from twisted.trial.unittest import SynchronousTestCase

import chatroom.server.auth as auth_module
from chatroom.bus.log import MemoryLog
from chatroom.bus.shared import SharedChat
from chatroom.core.events import Message
from chatroom.frontends.irc.frontend import IRCFrontEnd
from chatroom.server.auth import Authenticator, AuthMode
from chatroom.server.connection import ConnectionFactory
from chatroom.stores.accounts import AccountStore, Change, hash_password
from tests.helpers import MemoryClient
from tests.test_irc import IRCServer
from tests.test_lifecycle import GENEROUS
from tests.test_shared import fail_once

SIGN_ON = ("PASS :correct horse", "NICK alice", "USER alice 0 * :Alice")


class SlowWriter:
    """The accounts file's writer, whose changes are written when the test says: never, here."""

    def __init__(self) -> None:
        self.pending: list[Deferred[None]] = []

    def change(self, name: str, change: Change) -> Deferred[None]:
        self.pending.append(Deferred())
        return self.pending[-1]


def accounts(case: SynchronousTestCase) -> AccountStore:
    """An account from before SCRAM: its first login with a password writes its verifier."""
    path = Path(case.mktemp())
    path.write_text(f"alice {hash_password('correct horse')}\n")
    case.patch(auth_module, "deferToThread", lambda function, *args: succeed(function(*args)))
    return AccountStore(path)


class OneProcessTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = IRCServer(GENEROUS)
        self.writer = SlowWriter()
        store = accounts(self)
        auth = Authenticator(AuthMode.OPTIONAL, store, self.server.clock, writer=self.writer)
        self.server.factory.registrar.auth = auth
        self.server.chat.accounts = store

    def test_leaving_while_the_verifier_is_written(self) -> None:
        alice = self.server.irc()
        alice.type(*SIGN_ON)
        self.assertEqual(len(self.writer.pending), 1, "the verifier is being written")
        alice.lose()
        self.assertNotIn("alice", self.server.chat.nicks)
        bob = self.server.irc("bob")
        self.assertEqual(bob.type("PRIVMSG alice :hi"), [":chatroom 401 bob alice :nobody is called alice"])


class SharedTests(SynchronousTestCase):
    """Two processes sharing the chat through a log in memory, as --redis shares it through Redis."""

    def setUp(self) -> None:
        self.clock = task.Clock()
        self.log = MemoryLog(self.clock)
        self.writer = SlowWriter()
        self.store = accounts(self)
        self.a = self.process("a")
        self.b = self.process("b")

    def process(self, name: str) -> ConnectionFactory:
        chat = SharedChat(self.log, self.clock.seconds, process=name, accounts=self.store, timers=self.clock)
        started = chat.start()
        self.settle()
        self.successResultOf(started)
        auth = Authenticator(AuthMode.OPTIONAL, self.store, self.clock, writer=self.writer)
        return ConnectionFactory(chat, self.clock, IRCFrontEnd.serving("chatroom", None), GENEROUS, auth=auth)

    def settle(self) -> None:
        """Every entry of the log has its turn."""
        while any(call.getTime() <= self.clock.seconds() for call in self.clock.getDelayedCalls()):
            self.clock.advance(0)

    def client(self, nick: str) -> MemoryClient:
        client = MemoryClient(self.a)
        client.type(f"NICK {nick}", f"USER {nick} 0 * :{nick}")
        self.settle()
        client.read()
        return client

    def assert_gone_and_the_chat_goes_on(self, bob: MemoryClient, nick: str) -> None:
        replica: Any = self.a.chat.sequencer
        self.assertNotIn(nick, self.a.chat.nicks)
        self.assertNotIn(nick, self.b.chat.nicks)
        self.assertEqual(bob.type(f"PRIVMSG {nick} :hi"), [f":chatroom 401 bob {nick} :nobody is called {nick}"])
        bob.type("JOIN #x")
        self.settle()
        self.assertTrue(replica.is_ready)
        self.assertEqual(bob.read()[0], ":bob!bob@chatroom JOIN #x")

    def test_leaving_while_the_verifier_is_written(self) -> None:
        alice = MemoryClient(self.a)
        alice.type(*SIGN_ON)
        self.assertEqual(len(self.writer.pending), 1, "the verifier is being written")
        alice.lose()
        self.settle()
        self.assert_gone_and_the_chat_goes_on(self.client("bob"), "alice")

    def test_leaving_while_a_snapshot_answers_the_registration(self) -> None:
        bob = self.client("bob")
        replica: Any = self.a.chat.sequencer
        self.patch(replica, "_enter", fail_once(replica._enter))  # a bug met once: a asks the others for a snapshot
        dave = MemoryClient(self.a)
        failed = replica._failed

        def failing(entry: dict[str, Any], error: Any) -> None:
            failed(entry, error)
            dave.lose()  # while the snapshot is on its way

        self.patch(replica, "_failed", failing)
        dave.type("NICK dave", "USER dave 0 * :dave")
        self.settle()
        bob.read()
        self.assert_gone_and_the_chat_goes_on(bob, "dave")


class EndedConnectionTests(SynchronousTestCase):
    def test_what_still_reaches_an_ended_connection_does_nothing(self) -> None:
        """As a delivery to a session the chat has not let go of yet: the connection's own dialect is let go of as
        it ends (tests/test_ended.py), and what stands in for it says nothing."""
        server = IRCServer(GENEROUS)
        alice = server.irc("alice", "#room")
        connection = alice.connection
        alice.lose()
        connection.deliver(Message("#room", "bob", "hello"))
        connection.timeoutConnection()
        connection.close("server shutting down")
        self.assertEqual(alice.read(), [])

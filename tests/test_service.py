"""The service's plumbing: the clock that lets every TLS connection flush from one reactor call, and reloads."""

from __future__ import annotations

from pathlib import Path

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorFromThreads
from twisted.internet.task import Clock
from twisted.logger import formatEvent
from twisted.trial.unittest import SynchronousTestCase

from chatroom.app.service import CoalescingClock, Reloader
from chatroom.server import tls
from tests.helpers import MemoryServer, ServerTestCase, observe_log
from tests.test_tls import self_signed_rsa


class ReloaderTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.certs = Path(self.mktemp())
        self.identity = tls.load_or_create(self.certs, "chat.example.org")
        self.context = tls.SwappableContext(self.identity.options)
        self.motd = Path(self.mktemp())
        self.motd.write_text("before\n")
        self.server = MemoryServer()
        self.reloader = Reloader(IReactorFromThreads(reactor), self.certs, self.context, self.server.factory, self.motd)
        self.logged = observe_log(self)

    def messages(self) -> list[str]:
        return [formatEvent(event) for event in self.logged]

    def test_a_pair_openssl_refuses_keeps_the_old_one_in_service(self) -> None:
        """A review found this logged as reloaded, and every new connection then failing."""
        self_signed_rsa(self.certs, bits=1024)
        self.reloader.reload()
        self.assertIs(self.context.options, self.identity.options)
        self.assertTrue(
            any(message.startswith("SIGHUP: kept the certificate in service") for message in self.messages())
        )

    def test_the_motd_is_read_again_or_kept(self) -> None:
        self.motd.write_text("after\n")
        self.reloader.reload()
        self.assertEqual(self.server.factory.motd, ["after"])
        self.motd.unlink()
        self.reloader.reload()
        self.assertEqual(self.server.factory.motd, ["after"])
        self.assertIn(f"SIGHUP: kept the message of the day: {self.motd}: No such file or directory", self.messages())


class CoalescingClockTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.reactor = Clock()
        self.clock = CoalescingClock(self.reactor)
        self.ran: list[str] = []

    def test_next_iteration_calls_share_one_reactor_call(self) -> None:
        for name in ("a", "b", "c"):
            self.clock.callLater(0, self.ran.append, name)
        self.assertEqual(len(self.reactor.getDelayedCalls()), 1)
        self.assertEqual(len(self.clock.getDelayedCalls()), 4)  # the reactor's one, and the three it will run
        self.reactor.advance(0)
        self.assertEqual(self.ran, ["a", "b", "c"], "in the order they were scheduled")
        self.clock.callLater(0, self.ran.append, "d")  # the next iteration gets a reactor call of its own
        self.reactor.advance(0)
        self.assertEqual(self.ran, ["a", "b", "c", "d"])

    def test_cancelled_calls_do_not_run(self) -> None:
        first = self.clock.callLater(0, self.ran.append, "first")
        second = self.clock.callLater(0, self.ran.append, "second")
        first.cancel()
        self.assertFalse(first.active())
        self.reactor.advance(0)
        self.assertEqual(self.ran, ["second"])
        self.assertFalse(second.active())

    def test_a_failing_call_does_not_stop_the_others(self) -> None:
        self.clock.callLater(0, lambda: 1 / 0)
        self.clock.callLater(0, self.ran.append, "after")
        self.reactor.advance(0)
        self.assertEqual(self.ran, ["after"])
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)

    def test_later_calls_go_to_the_reactor(self) -> None:
        call = self.clock.callLater(5, self.ran.append, "later")
        self.assertEqual(call.getTime(), 5)
        self.reactor.advance(5)
        self.assertEqual(self.ran, ["later"])


class ReadyTests(ServerTestCase):
    async def test_connections_are_accepted_once_the_chat_is_ready(self) -> None:
        ready: Deferred[None] = Deferred()
        service = self.start_server(ready=ready)
        listening = service.ports[0]
        self.assertNotIn(listening, reactor.getReaders())  # connections wait in the kernel's queue, or go elsewhere
        ready.callback(None)
        self.assertIn(listening, reactor.getReaders())
        await self.connect("alice")  # greeted, registered and answered

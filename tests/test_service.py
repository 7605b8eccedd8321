"""The service's plumbing: the clock that lets every TLS connection flush from one reactor call."""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from chatroom.service import CoalescingClock


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

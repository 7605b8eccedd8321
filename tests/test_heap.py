"""Trimming the heap after a wave of connections (chatroom.server.heap), on a task.Clock."""

from __future__ import annotations

import platform

from twisted.internet.task import Clock
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from chatroom.server.heap import LONGEST, QUIET, HeapTrim, malloc_trim


class HeapTrimTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.trims: list[float] = []
        self.heap = HeapTrim(self.clock, lambda: self.trims.append(self.clock.seconds()))

    def test_a_storm_is_followed_by_one_trim_once_it_pauses(self) -> None:
        for _ in range(2000):
            self.heap.changed()
            self.clock.advance(0.0001)
        self.clock.advance(QUIET)
        self.assertEqual(len(self.trims), 1)
        self.clock.advance(100)
        self.assertEqual(len(self.trims), 1, "nothing more while nothing changes")

    def test_arrivals_that_never_pause_still_get_a_trim_every_so_often(self) -> None:
        """A server that people keep arriving at is trimmed all the same, at the latest LONGEST seconds after the
        first arrival since the last trim."""
        for _ in range(int(3 * LONGEST / 0.5)):
            self.heap.changed()
            self.clock.advance(0.5)
        self.assertEqual(len(self.trims), 3)
        gaps = [later - earlier for earlier, later in zip(self.trims, self.trims[1:], strict=False)]
        self.assertTrue(all(gap >= LONGEST - QUIET for gap in gaps), gaps)

    def test_a_stopped_server_trims_nothing_more(self) -> None:
        self.heap.changed()
        self.heap.stop()
        self.heap.changed()
        self.clock.advance(LONGEST)
        self.assertEqual((self.trims, self.clock.getDelayedCalls()), ([], []))

    def test_without_malloc_trim_nothing_is_scheduled(self) -> None:
        heap = HeapTrim(self.clock, None)
        heap.changed()
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_glibc_has_malloc_trim(self) -> None:
        """With glibc (Debian's C library, where CI runs) the trim is real, and gives no error."""
        if platform.libc_ver()[0] != "glibc":
            raise SkipTest("not glibc: no malloc_trim, and HeapTrim does nothing")
        trim = malloc_trim()
        assert trim is not None
        self.assertIn(trim(), (0, 1))  # 1: memory was given back, 0: there was none to give

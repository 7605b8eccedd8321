"""Giving the heap back after a wave of connections: glibc keeps what a storm of TLS handshakes freed.

A TLS handshake in flight holds OpenSSL's buffers and both memory BIOs' handshake flights, tens of KB, which it
frees once done. When thousands of connections arrive at once, what they freed is spread between what the
connections keep, and glibc's `free` gives back to the system only the top of the heap: the server's RSS stays
at the storm's peak (56 KB a connection after 2,000 at once against 26 KB when they arrive 50 at a time,
docs/performance.md). `malloc_trim(0)` returns every free page of the heap to the system. It walks the whole heap
(about 15 ms for 3 GB), so it runs once arrivals and departures pause, or, while they go on, `LONGEST` seconds
after the first of them. Without glibc (musl, macOS) there is no `malloc_trim`, and nothing is done.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable

from twisted.internet.interfaces import IDelayedCall, IReactorTime

QUIET = 1.0  # seconds without a connection arriving or leaving before the heap is trimmed
LONGEST = 10.0  # seconds a trim waits at most after the first change, while connections keep arriving or leaving


def malloc_trim() -> Callable[[], object] | None:
    """glibc's `malloc_trim(0)`, or None where the C library has none."""
    name = ctypes.util.find_library("c")
    function = getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    return None if function is None else lambda: function(0)


class HeapTrim:
    """Trims the heap once connections have stopped arriving and leaving for `QUIET` seconds."""

    def __init__(self, clock: IReactorTime, trim: Callable[[], object] | None) -> None:
        self.clock = clock
        self.trim = trim
        self._call: IDelayedCall | None = None
        self._since = 0.0  # when the first change after the last trim came

    def changed(self) -> None:
        """A connection finished its handshake (or failed it), or ended."""
        if self.trim is None:
            return
        if self._call is None:
            self._since = self.clock.seconds()
            self._call = self.clock.callLater(QUIET, self._run)
        elif self.clock.seconds() - self._since < LONGEST - QUIET:
            self._call.reset(QUIET)

    def _run(self) -> None:
        self._call = None
        assert self.trim is not None
        self.trim()

    def stop(self) -> None:
        """No more trims: the server is stopping, and its connections' ends need none."""
        self.trim = None
        if self._call is not None:
            self._call.cancel()
            self._call = None

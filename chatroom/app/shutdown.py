"""One stop however many SIGTERMs or SIGINTs arrive.

Twisted's handlers call `reactor.stop` for every signal, and a second one while the reactor stops (goodbyes
draining, workers ending) raises ReactorNotRunning, logged as a CRITICAL traceback. An administrator or a
supervisor that sends its signal twice must see one clean stop, with the exit status of the first signal.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType

from twisted.internet.interfaces import IReactorCore
from twisted.logger import Logger

log = Logger(namespace="chatroom")

Handler = Callable[[int, FrameType | None], object]


def stop_once(reactor: IReactorCore) -> None:
    """Under twistd (the reactor not running yet): once the reactor's handlers are in, let only the first stop."""
    if not reactor.running:  # in-process (tests) the signals belong to whoever runs the reactor
        reactor.addSystemEventTrigger("during", "startup", _wrap_stopping_signals, reactor)


def _wrap_stopping_signals(reactor: IReactorCore) -> None:
    """Runs after the reactor installed its handlers (`during startup`, after its own trigger)."""
    stopping = False

    def stopped() -> None:
        nonlocal stopping
        stopping = True

    def once(twisted: Handler) -> Handler:
        def handle(number: int, frame: FrameType | None) -> None:
            if stopping:
                log.info("received {name} again: already stopping", name=signal.Signals(number).name)
                return
            stopped()
            twisted(number, frame)

        return handle

    for number in (signal.SIGTERM, signal.SIGINT):
        handler = signal.getsignal(number)
        if callable(handler) and handler is not signal.default_int_handler:
            signal.signal(number, once(handler))
    reactor.addSystemEventTrigger("before", "shutdown", stopped)  # a stop for another reason is one too

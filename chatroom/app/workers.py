"""`--workers N`: one `twistd chatroom` runs N processes that serve the same sockets and share the chat through Redis.

The parent binds every listener as a single process does (before twistd daemonizes or drops privileges, so that a
port in use is one line on the terminal), never accepts on them, and starts N workers: `python -m twisted
chatroom` with the same options, each adopting the parent's sockets where a single process would have listened.
The kernel gives each new connection to whichever worker accepts it first, and an idle worker wakes sooner than a
busy one. Every worker is a whole chatroom process joined to the others through `--redis`, so it does not matter
which one a person lands on.

The parent writes the workers' log events into its own log, starts a worker again if it ends, passes SIGHUP on,
and at SIGTERM stops them all and waits until each has said goodbye to its clients. A worker whose parent dies is
sent SIGTERM by the kernel (Linux's parent-death signal): no worker outlives a parent killed with SIGKILL.

Why not SO_REUSEPORT: it cannot share a UNIX socket or a port the kernel chose (tcp:0), and a port held by another
program would be reported once per worker. Why not twisted.runner.procmon: it cannot hand sockets to its children,
and its stop does not wait for them.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from types import FrameType
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.endpoints import AdoptedStreamServerEndpoint
from twisted.internet.error import ProcessExitedAlready
from twisted.internet.interfaces import IDelayedCall, IListeningPort, IStreamServerEndpoint
from twisted.internet.protocol import Factory, ProcessProtocol
from twisted.logger import Logger, eventFromJSON, globalLogPublisher
from twisted.python.failure import Failure

from chatroom.app.service import Listener, bind
from chatroom.server.transport import SendingReactor

log = Logger(namespace="chatroom")

WORKER = "CHATROOM_WORKER"  # in a worker's environment: what it inherits, as JSON
PR_SET_PDEATHSIG = 1
QUICK = 10.0  # seconds: a worker that ends sooner after its start is started again less and less eagerly
LONGEST_WAIT = 60.0  # seconds between two starts of a worker that keeps ending at once, at most
KILL_AFTER = 30.0  # seconds a stopping worker has to say goodbye before SIGKILL


@dataclass(frozen=True)
class Inherited:
    """What a worker takes over from its parent: the listening sockets, as (descriptor, address family)."""

    number: int
    parent: int  # the parent's process id
    sockets: list[tuple[int, int]]  # the listeners, in the order of the options (--listen, --irc, --irc-plaintext)
    metrics: tuple[int, int] | None  # --metrics goes to worker 1 alone: a scrape sees one process, always the same

    @classmethod
    def found(cls, environment: Mapping[str, str]) -> Inherited | None:
        """In a worker, what its parent handed it; None in a process that nobody started as a worker."""
        if WORKER not in environment:
            return None
        given = json.loads(environment[WORKER])
        metrics = given["metrics"]
        sockets = [(fd, family) for fd, family in given["sockets"]]
        return cls(given["number"], given["parent"], sockets, (metrics[0], metrics[1]) if metrics else None)

    def environment(self) -> dict[str, str]:
        return {WORKER: json.dumps(asdict(self))}

    def endpoints(self, reactor: Any) -> list[IStreamServerEndpoint]:
        """Where the worker listens: its parent's sockets, TCP ones with chatroom.server.transport's sending
        connections."""
        sending = SendingReactor(reactor)
        return [AdoptedStreamServerEndpoint(sending, fd, family) for fd, family in self.sockets]

    def metrics_endpoint(self, reactor: Any) -> IStreamServerEndpoint | None:
        return None if self.metrics is None else AdoptedStreamServerEndpoint(reactor, *self.metrics)

    def follow_parent(self) -> None:
        """Take signals from the parent alone, be sent SIGTERM if it dies (Linux), and stop if it is gone already.

        A process group of its own: a terminal's Ctrl-C, or a kill of the parent's group, reaches the parent
        alone, which stops every worker once; a second SIGTERM would stop a stopping reactor.
        """
        os.setpgid(0, 0)
        if sys.platform.startswith("linux"):
            ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != self.parent:
            raise SystemExit(f"chatroom: worker {self.number}: its parent ended before it started")


class Worker(ProcessProtocol):
    """One worker process, seen from the parent: its log events go to the parent's log."""

    def __init__(self, number: int) -> None:
        self.number = number
        self._partial = {1: b"", 2: b""}
        self._waiting: list[Deferred[BaseException]] = []

    def ended(self) -> Deferred[BaseException]:
        """Fires once the process has ended, with why: ProcessDone or ProcessTerminated."""
        waiting: Deferred[BaseException] = Deferred()
        self._waiting.append(waiting)
        return waiting

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        *lines, self._partial[childFD] = (self._partial[childFD] + data).split(b"\n")
        for line in lines:
            self._relay(line.decode("utf-8", "replace").lstrip("\x1e"), childFD == 2)

    def _relay(self, text: str, error: bool) -> None:
        """A log event from the worker's JSON log, marked with its number; anything else, as a line."""
        if not text:
            return
        try:
            event = eventFromJSON(text)
        except ValueError:
            event = None
        if isinstance(event, dict) and "log_format" in event:
            event["log_system"] = f"worker {self.number}"
            globalLogPublisher(event)
        elif error:
            log.error("worker {number}: {line}", number=self.number, line=text)
        else:
            log.info("worker {number}: {line}", number=self.number, line=text)

    def processEnded(self, reason: Failure) -> None:
        waiting, self._waiting = self._waiting, []
        assert reason.value is not None
        for each in waiting:
            each.callback(reason.value)


HELD = Factory()  # the parent's sockets never accept
HELD.noisy = False


class Workers(Service):
    """The parent of `--workers N`: binds, starts N workers on its sockets, and stops them all at SIGTERM."""

    def __init__(
        self,
        reactor: Any,
        count: int,
        arguments: list[str],
        listeners: list[Listener],
        metrics: tuple[str, IStreamServerEndpoint] | None,
    ) -> None:
        self.reactor = reactor
        self.count = count
        self.arguments = arguments  # the chatroom options of the command line, given again to every worker
        self.listeners = listeners
        self.metrics = metrics
        self.ports: list[IListeningPort] = []
        self.workers: dict[int, Worker] = {}
        self._waits: dict[int, float] = {}
        self._restarts: dict[int, IDelayedCall] = {}
        self._previous_sighup: Any = None

    def privilegedStartService(self) -> None:
        if self.ports:
            return  # bound already, before twistd daemonized (chatroom.app.tap)
        for listener in self.listeners:
            listener.listening(self._hold(listener.description, listener.endpoint))
        if self.metrics is not None:
            self._hold(*self.metrics)

    def _hold(self, description: str, endpoint: IStreamServerEndpoint) -> IListeningPort:
        """Bind, and leave accepting to the workers."""
        port = bind(description, endpoint, HELD, self.ports)
        port.stopReading()  # type: ignore[attr-defined]
        return port

    def startService(self) -> None:
        self.privilegedStartService()
        Service.startService(self)
        self._previous_sighup = signal.signal(signal.SIGHUP, self._hangup)
        for number in range(1, self.count + 1):
            self._start(number)

    def _start(self, number: int) -> None:
        sockets = [(port.fileno(), port.socket.family) for port in self.ports]  # type: ignore[attr-defined]
        metrics = sockets.pop() if self.metrics is not None else None
        inherited = Inherited(number, os.getpid(), sockets, metrics if number == 1 else None)
        given: dict[int, int | str] = {0: "w", 1: "r", 2: "r"}
        given.update((fd, fd) for fd, _ in inherited.sockets)
        if inherited.metrics is not None:
            given[inherited.metrics[0]] = inherited.metrics[0]
        worker = Worker(number)
        command = [sys.executable, "-m", "twisted", "--log-format=json", "--log-file=-", "chatroom", *self.arguments]
        environment = {**os.environ, **inherited.environment()}
        process = self.reactor.spawnProcess(worker, sys.executable, command, env=environment, childFDs=given)
        self.workers[number] = worker
        log.info("worker {number} started: process {pid}", number=number, pid=process.pid)
        worker.ended().addCallback(self._ended, number, self.reactor.seconds())

    def _ended(self, reason: BaseException, number: int, started: float) -> None:
        del self.workers[number]
        if not self.running:
            return
        quick = self.reactor.seconds() - started < QUICK
        wait = min(self._waits.get(number, 0.5) * 2, LONGEST_WAIT) if quick else 1.0
        self._waits[number] = wait
        log.warn(
            "worker {number} ended ({why}): starting it again in {wait:.0f} s",
            number=number,
            why=reason,
            wait=wait,
        )
        self._restarts[number] = self.reactor.callLater(wait, self._start, number)

    def _hangup(self, number: int, frame: FrameType | None) -> None:
        """SIGHUP: every worker reloads (chatroom.app.service.Reloader)."""
        self.reactor.callFromThread(self._signal_all, "HUP")

    def _signal_all(self, name: str) -> None:
        for worker in self.workers.values():
            with contextlib.suppress(ProcessExitedAlready):
                worker.transport.signalProcess(name)  # type: ignore[union-attr]

    def stopService(self) -> Deferred[None]:
        Service.stopService(self)
        signal.signal(signal.SIGHUP, self._previous_sighup)
        for restart in self._restarts.values():
            if restart.active():
                restart.cancel()
        ended = [worker.ended() for worker in self.workers.values()]
        self._signal_all("TERM")
        killing = self.reactor.callLater(KILL_AFTER, self._signal_all, "KILL")

        def all_ended(_: object) -> None:
            if killing.active():
                killing.cancel()
            ports, self.ports = self.ports, []
            for port in ports:
                port.stopListening()

        return DeferredList(ended).addCallback(all_ended)

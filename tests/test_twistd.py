"""`twistd chatroom` itself, as an administrator runs it: the installed plugin, signals, exit status."""

from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure

from tests.helpers import ServerTestCase

TWISTD = str(Path(sys.executable).with_name("twistd"))


class Twistd(ProcessProtocol):
    """A twistd process whose log we read line by line until it says where it listens."""

    def __init__(self) -> None:
        self.output = b""
        self.listening: Deferred[int] = Deferred()
        self.ended: Deferred[ProcessDone | ProcessTerminated] = Deferred()

    def outReceived(self, data: bytes) -> None:
        self.output += data
        found = re.search(rb"chatroom listening on 127\.0\.0\.1:(\d+) with TLS", self.output)
        if found and not self.listening.called:
            self.listening.callback(int(found.group(1)))

    errReceived = outReceived

    def processEnded(self, reason: Failure) -> None:
        if not self.listening.called:
            self.listening.errback(AssertionError(f"twistd ended before listening:\n{self.output.decode()}"))
        self.ended.callback(reason.value)


class TwistdTests(ServerTestCase):
    timeout = 60

    async def run_twistd(self) -> Twistd:
        workdir = Path(self.mktemp())
        workdir.mkdir()
        self.certs = workdir / "certs"
        process = Twistd()
        arguments = [TWISTD, "-n", "--pidfile=", "chatroom", "--listen", "tcp:0:interface=127.0.0.1"]
        transport = reactor.spawnProcess(
            process, TWISTD, arguments, env={**os.environ, "PYTHONUNBUFFERED": "1"}, path=str(workdir)
        )

        async def stop() -> None:
            if not process.ended.called:
                transport.signalProcess("KILL")
            await process.ended

        self.addCleanup(stop)
        self.port = await process.listening
        return process

    async def stops_cleanly_on(self, signal_name: str) -> None:
        process = await self.run_twistd()
        self.assertTrue((self.certs / "ca.pem").exists(), "the first start generates a CA")
        self.assertEqual(os.stat(self.certs / "server.key").st_mode & 0o777, 0o600)
        alice = await self.connect("alice", "5")
        bob = await self.connect("bob", "5")
        alice.send("a secret the server must not log")
        await bob.until("MSG #5 alice :a secret the server must not log")
        process.transport.signalProcess(signal_name)
        await alice.until("BYE :server shutting down")
        await bob.until("BYE :server shutting down")
        # twistd shuts down cleanly, then ends by the signal it was sent (Twisted #7225), so that a
        # supervisor can tell "stopped" from "exited": a shell sees 128 + the signal's number.
        ended = await process.ended
        self.assertEqual((ended.exitCode, ended.signal), (None, getattr(signal, "SIG" + signal_name)))
        log = process.output.decode()
        self.assertIn("SHA-256 fingerprint", log)
        self.assertIn("is now alice", log)
        self.assertNotIn("secret", log)
        self.assertNotIn("Traceback", log)

    async def test_sigterm(self) -> None:
        await self.stops_cleanly_on("TERM")

    async def test_sigint(self) -> None:
        await self.stops_cleanly_on("INT")

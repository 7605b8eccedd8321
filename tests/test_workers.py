"""`twistd chatroom --workers 2`: two processes serve one port and share the chat; one SIGTERM stops both."""

from __future__ import annotations

import contextlib
import os
import select
import signal

from twisted.internet import reactor
from twisted.internet.defer import maybeDeferred
from twisted.internet.protocol import ServerFactory
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from chatroom.app.workers import Inherited
from tests.helpers import GENEROUS, Subprocess
from tests.redisserver import TwistdWithRedis
from tests.test_client import CLIENT
from tests.test_twistd import LISTENING, TWISTD

JOINED = r"\[worker \d\] chatroom joined the others through Redis"
LIMIT = GENEROUS / 2  # seconds for a worker to end (it takes well under one): says which, before trial gives up


async def ended(pid: int, limit: float) -> bool:
    """Whether a process that is not our child (a worker of a twistd we started) ends within `limit` seconds.

    Linux's pidfd becomes readable when the process ends, even if nobody reaps it.
    """
    try:
        descriptor = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = await deferToThread(select.select, [descriptor], [], [], limit)
    finally:
        os.close(descriptor)
    return bool(readable)


def stop_stray(pid: int) -> None:
    """Only if a test fails: a worker that outlived its parent is killed, not left behind."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


class WorkersTests(TwistdWithRedis):
    async def start(self, *arguments: str) -> tuple[Subprocess, list[int]]:
        """`twistd chatroom --workers 2` on a free port; the workers' process ids once both have joined."""
        await self.start_redis()
        process = self.chatroom("--workers", "2", *arguments)
        self.port = int((await process.until(LISTENING)).group(1))
        workers = [int((await process.until(rf"worker {n} started: process (\d+)")).group(1)) for n in (1, 2)]
        await process.until(JOINED)
        await process.until(JOINED)
        return process, workers

    async def test_two_workers_serve_one_port_share_the_rooms_and_stop_together(self) -> None:
        parent, (first, second) = await self.start()
        # Whichever worker is not stopped accepts: alice lands on the first, bob on the second.
        os.kill(second, signal.SIGSTOP)
        alice = await self.connect("alice", "5")  # its PONG follows her join's turn: the first worker made it
        os.kill(second, signal.SIGCONT)
        os.kill(first, signal.SIGSTOP)
        bob = await self.connect("bob", "5")
        os.kill(first, signal.SIGCONT)
        await alice.until("JOIN #5 bob")
        alice.send("one port, two processes")
        await bob.until("MSG #5 alice :one port, two processes")

        os.kill(second, signal.SIGKILL)  # a worker that crashes is started again; the others go on
        await bob.lost
        await parent.until(r"worker 2 ended \(.*\): starting it again in 1 s")
        await parent.until(r"worker 2 started: process \d+")
        await parent.until(JOINED)
        carol = await self.connect("carol", "5")
        await alice.until("JOIN #5 carol")

        parent.transport.signalProcess("TERM")
        await alice.until("BYE :server shutting down")
        await carol.until("BYE :server shutting down")
        await parent.ended
        for worker in (first, second):
            with self.assertRaises(ProcessLookupError):
                os.kill(worker, 0)
        self.assertNotIn("one port, two processes", parent.output)
        self.assertNotIn("Traceback", parent.output)

    async def test_a_client_of_a_worker_killed_with_sigkill_is_back_on_the_other_at_once(self) -> None:
        """Issue 26's target: back in its rooms, under its nickname, with the lines missed, on its first attempt."""
        parent, (first, second) = await self.start("--history", "20")
        os.kill(second, signal.SIGSTOP)  # carol lands on the first worker
        trust = ["--port", str(self.port), "--ca", str(self.certs / "ca.pem")]
        carol = self.spawn(
            [*CLIENT, "127.0.0.1", *trust, "--nick", "carol", "--room", "5"],
            terminal=True,
            XDG_CONFIG_HOME=str(self.workdir / "config"),
            NO_COLOR="1",
        )
        await carol.until(r"\[#5\] -- here: @carol")
        os.kill(second, signal.SIGCONT)
        os.kill(first, signal.SIGSTOP)  # bob, on the second
        bob = await self.connect("bob", "5")
        os.kill(first, signal.SIGCONT)
        await carol.until(r"--> bob joined")

        os.kill(first, signal.SIGKILL)
        await carol.until(r"reconnecting in\s+1 s")
        bob.send("said while carol was away")
        await carol.until(r"<bob> said while carol was away")  # shown first, then where it is back
        await carol.until(r"reconnected to 127\.0\.0\.1:\d+ as carol: back in #5")
        carol.type("back\r")
        await bob.until("MSG #5 carol :back")
        self.assertNotIn("Nickname:", carol.output.split("reconnecting")[-1], "no question asked")
        self.assertFalse([line for line in bob.lines if line.startswith("QUIT carol")], "the room saw nothing")
        parent.transport.signalProcess("TERM")
        await parent.ended

    async def test_workers_stop_with_a_parent_killed_without_warning(self) -> None:
        parent, workers = await self.start()
        for worker in workers:
            self.addCleanup(stop_stray, worker)
        alice = await self.connect("alice", "5")
        parent.transport.signalProcess("KILL")
        for worker in workers:
            self.assertTrue(await ended(worker, LIMIT), f"worker {worker} still runs {LIMIT} s after its parent died")
        await alice.until("BYE :server shutting down")
        await alice.lost
        port = reactor.listenTCP(self.port, ServerFactory(), interface="127.0.0.1")  # nobody holds the port
        await maybeDeferred(port.stopListening)

    async def test_workers_need_redis(self) -> None:
        process = self.spawn([TWISTD, "-n", "--pidfile=", "chatroom", "--workers", "2"])
        await process.until("--workers needs --redis: the workers share the chat through it")


class InheritedTests(TestCase):
    def test_a_worker_reads_what_its_parent_wrote(self) -> None:
        inherited = Inherited(2, 100, [(5, 2), (6, 10)], None)
        self.assertEqual(Inherited.found(inherited.environment()), inherited)
        self.assertIsNone(Inherited.found({}))

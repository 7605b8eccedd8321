"""`twistd chatroom --workers 2`: two processes serve one port and share the chat; one SIGTERM stops both."""

from __future__ import annotations

import os
import signal

from twisted.trial.unittest import TestCase

from chatroom.workers import Inherited
from tests.helpers import Subprocess
from tests.redisserver import TwistdWithRedis
from tests.test_twistd import LISTENING, TWISTD

JOINED = r"\[worker \d\] chatroom joined the others through Redis"


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

    async def test_workers_stop_with_a_parent_killed_without_warning(self) -> None:
        parent, _ = await self.start()
        alice = await self.connect("alice", "5")
        parent.transport.signalProcess("KILL")
        await alice.until("BYE :server shutting down")
        await alice.lost

    async def test_workers_need_redis(self) -> None:
        process = self.spawn([TWISTD, "-n", "--pidfile=", "chatroom", "--workers", "2"])
        await process.until("--workers needs --redis: the workers share the chat through it")


class InheritedTests(TestCase):
    def test_a_worker_reads_what_its_parent_wrote(self) -> None:
        inherited = Inherited(2, 100, [(5, 2), (6, 10)], None)
        self.assertEqual(Inherited.found(inherited.environment()), inherited)
        self.assertIsNone(Inherited.found({}))

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
from tests.test_stores import ACCOUNTS
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

    async def test_a_guest_whose_worker_is_killed_with_sigkill_is_back_on_the_other_at_once(self) -> None:
        await self.back_after_sigkill("carol")

    async def test_an_account_holder_whose_worker_is_killed_with_sigkill_is_back_on_the_other_at_once(self) -> None:
        await self.back_after_sigkill("carol", "a long enough passphrase")

    async def back_after_sigkill(self, nick: str, password: str | None = None) -> None:
        """Issue 26's target: a client whose worker is killed is back in its room, under its nickname, with the
        line missed, on its first attempt, without a question; the room sees nothing. With `password`, as the
        holder of the account `nick`, logging in with --password-file."""
        parent, (first, second) = await self.start("--history", "20")
        logging_in = []
        if password is not None:
            adding = self.spawn([*ACCOUNTS, "--redis", self.redis.url, "add", nick])
            adding.transport.write(f"{password}\n".encode() * 2)
            adding.transport.closeStdin()
            self.assertEqual(await adding.exit_code(), 0, adding.output)
            (self.workdir / "password").write_text(f"{password}\n")
            logging_in = ["--password-file", str(self.workdir / "password")]
        os.kill(second, signal.SIGSTOP)  # the client lands on the first worker
        trust = ["--port", str(self.port), "--ca", str(self.certs / "ca.pem")]
        client = self.spawn(
            [*CLIENT, "127.0.0.1", *trust, "--nick", nick, "--room", "5", *logging_in],
            terminal=True,
            XDG_CONFIG_HOME=str(self.workdir / "config"),
            NO_COLOR="1",
        )
        await client.until(rf"\[#5\] -- here: @{nick}")
        os.kill(second, signal.SIGCONT)
        os.kill(first, signal.SIGSTOP)  # bob, on the second
        bob = await self.connect("bob", "5")
        os.kill(first, signal.SIGCONT)
        await client.until(r"--> bob joined")

        os.kill(first, signal.SIGKILL)
        await client.until(r"reconnecting in\s+1 s")
        bob.send(f"said while {nick} was away")
        await client.until(rf"<bob> said while {nick} was away")  # shown first, then where it is back
        await client.until(rf"reconnected to 127\.0\.0\.1:\d+ as {nick}: back in #5")
        client.type("back\r")
        await bob.until(f"MSG #5 {nick} :back")
        away = client.output.split("reconnecting")[-1]
        self.assertNotIn("Nickname:", away, "no question asked")
        self.assertNotIn("Password:", away)
        self.assertFalse([line for line in bob.lines if line.startswith(f"QUIT {nick}")], "the room saw nothing")
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

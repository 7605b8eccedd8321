"""`twistd chatroom` itself, as an administrator runs it: the installed plugin, signals, exit status."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from twisted.internet import reactor
from twisted.internet.protocol import ServerFactory

from chatroom.server.tls import fingerprint
from chatroom.stores.accounts import AccountStore
from tests.helpers import LineClient, ServerTestCase, Subprocess, port_of

TWISTD = str(Path(sys.executable).with_name("twistd"))


def served_fingerprint(client: LineClient) -> str:
    return fingerprint(client.transport.getPeerCertificate().to_cryptography())


LISTENING = r"chatroom listening on 127\.0\.0\.1:(\d+) with TLS \(line\)"


class TwistdTests(ServerTestCase):
    async def stops_cleanly_on(self, signal_name: str) -> None:
        workdir = Path(self.mktemp())
        workdir.mkdir()
        self.certs = workdir / "certs"
        process = self.spawn(
            [TWISTD, "-n", f"--pidfile={workdir / 'twistd.pid'}", "chatroom", "--certs", str(self.certs),
             "--listen", "tcp:0:interface=127.0.0.1", "--no-irc", "--no-web"]
        )  # fmt: skip
        listening = await process.until(LISTENING)
        self.port = int(listening.group(1))
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
        self.assertIn("SHA-256 fingerprint", process.output)
        self.assertIn("is now alice", process.output)
        self.assertNotIn("#5", process.output, "who is in which room is not logged")
        self.assertNotIn("secret", process.output)
        self.assertNotIn("Traceback", process.output)

    async def cannot_listen(self, *twistd: str) -> None:
        """twistd with the port taken exits 1 at once, with one line on the terminal, and leaves no pidfile."""
        busy = reactor.listenTCP(0, ServerFactory(), interface="127.0.0.1")
        self.addCleanup(busy.stopListening)
        workdir = Path(self.mktemp())
        workdir.mkdir()
        pidfile, logfile = workdir / "twistd.pid", workdir / "twistd.log"
        endpoint = f"tcp:{port_of(busy)}:interface=127.0.0.1"
        process = self.spawn(
            [TWISTD, *twistd, f"--pidfile={pidfile}", f"--logfile={logfile}", "chatroom",
             "--certs", str(workdir / "certs"), "--listen", endpoint, "--no-irc", "--no-web"]
        )  # fmt: skip

        def stop_a_stray_daemon() -> None:
            if pidfile.exists() and "-n" not in twistd:  # only if this test fails: a daemon outlived its parent
                os.kill(int(pidfile.read_text()), signal.SIGKILL)

        self.addCleanup(stop_a_stray_daemon)
        self.assertEqual(await process.exit_code(), 1)
        self.assertEqual(process.output, f"chatroom: cannot listen on {endpoint}: Address already in use\n")
        self.assertFalse(pidfile.exists(), "no pidfile is left behind")
        self.assertNotIn("Traceback", logfile.read_text() if logfile.exists() else "")

    async def test_a_daemon_that_cannot_listen_exits_at_once_with_one_line(self) -> None:
        """0.1 never returned; then the terminal read `An error has occurred: b'chatroom.ListenError: ...'`, the log
        a traceback, and the pidfile went only a moment after twistd returned."""
        await self.cannot_listen()

    async def test_in_the_foreground_a_port_in_use_is_one_line_and_no_pidfile(self) -> None:
        """`twistd -n` left its pidfile behind."""
        await self.cannot_listen("-n")

    async def test_a_registered_room_keeps_its_owner_operators_bans_and_topic_across_a_restart(self) -> None:
        workdir = Path(self.mktemp()).resolve()
        workdir.mkdir()
        self.certs = workdir / "certs"
        accounts = AccountStore(workdir / "accounts.db")
        accounts.add("owen", "owner's password")
        accounts.add("olga", "operator's password")

        async def start() -> Subprocess:
            process = self.spawn(
                [TWISTD, "-n", f"--pidfile={workdir / 'twistd.pid'}", "chatroom", "--certs", str(self.certs),
                 "--listen", "tcp:0:interface=127.0.0.1", "--no-irc", "--no-web",
                 "--accounts", str(workdir / "accounts.db"), "--rooms", str(workdir / "rooms.json")]
            )  # fmt: skip
            self.port = int((await process.until(LISTENING)).group(1))
            return process

        async def log_in(nick: str, password: str, names: str) -> LineClient:
            client = await self.connect()
            client.send(f"/nick {nick}", f"/pass {password}", "/join club")
            await client.until(names)
            return client

        first = await start()
        owen = await log_in("owen", "owner's password", "NAMES #club @owen")
        owen.send("/room register", "/topic chess on tuesdays", "/ban troll* 7d trolling", "/room set invite on")
        owen.send("/room op olga")
        await owen.until("ROOM #club owen invite topiclock :olga")
        first.transport.signalProcess("TERM")
        await owen.until("BYE :server shutting down")
        await first.ended

        await start()
        guest = await self.connect("guest")
        guest.send("/join club")
        await guest.expect("ERR INVITE_ONLY :#club is invite-only: an operator must /invite you first")
        owen = await log_in("owen", "owner's password", "NAMES #club @owen")
        owen.send("/invite guest", "/topic")
        await owen.until("TOPIC #club owen :chess on tuesdays")
        guest.send("/join club")
        await guest.expect("INVITE #club owen guest", "JOIN #club guest", "TOPIC #club owen :chess on tuesdays")
        await guest.expect("ROOM #club owen invite topiclock :olga", "NAMES #club @owen guest")
        await log_in("olga", "operator's password", "NAMES #club @olga @owen guest")  # named: past invite-only too
        troll = await self.connect("trollface")
        owen.send("/invite trollface")
        troll.send("/join club")
        await troll.until("ERR BANNED :you are banned from #club: trolling (until ")

    async def test_sighup_renews_the_certificate_motd_and_limits_without_disconnecting_anyone(self) -> None:
        workdir = Path(self.mktemp()).resolve()
        workdir.mkdir()
        self.certs = workdir / "certs"
        motd = workdir / "motd.txt"
        motd.write_text("exams on friday\n")
        config = workdir / "chatroom.toml"
        config.write_text('listen = ["tcp:0:interface=127.0.0.1"]\nno-irc = true\nno-web = true\nmax-clients = 100\n')
        process = self.spawn(
            [TWISTD, "-n", f"--pidfile={workdir / 'twistd.pid'}", "chatroom", "--certs", str(self.certs),
             "--config", str(config), "--motd-file", str(motd)]
        )  # fmt: skip
        self.port = int((await process.until(LISTENING)).group(1))
        alice = await self.connect("alice", "5")
        bob = await self.connect("bob", "5")
        before = served_fingerprint(alice)

        renewal = self.spawn([sys.executable, "-m", "chatroom.cli.certs", "--certs", str(self.certs), "renew"])
        self.assertEqual(await renewal.exit_code(), 0, renewal.output)
        motd.write_text("exams moved to monday\n")
        process.transport.signalProcess("HUP")
        reloaded = await process.until(r"SIGHUP: reloaded \S+server\.crt: SHA-256 fingerprint (\S+),")
        await process.until("SIGHUP: reloaded the message of the day")
        after = reloaded.group(1)
        self.assertNotEqual(after, before)

        alice.send("still here")
        await bob.until("MSG #5 alice :still here")  # connected before: unaffected
        self.assertEqual(served_fingerprint(alice), before)
        carol = await self.connect_raw()
        await carol.until("HELLO ")  # the handshake is done
        self.assertEqual(served_fingerprint(carol), after)  # connected after: the new certificate, same CA
        carol.send("/nick carol")
        await carol.until("MOTD :exams moved to monday")

        (self.certs / "server.crt").write_text("not a certificate")
        config.write_text('listen = ["tcp:0:interface=127.0.0.1"]\nmax-clients = 3\n')  # alice, bob and carol
        process.transport.signalProcess("HUP")
        await process.until(r"SIGHUP: kept the certificate in service: \S+server\.crt is not a usable")
        await process.until("SIGHUP: max-clients is now 3")
        dave = await self.connect_raw()
        await dave.until("BYE :server full: too many connections")
        self.assertEqual(served_fingerprint(dave), after)
        alice.send("still fine")
        await bob.until("MSG #5 alice :still fine")
        self.assertNotIn("Traceback", process.output)

    async def test_a_device_as_the_motd_or_the_certificate_is_one_line_never_a_frozen_server(self) -> None:
        """A review: --motd-file /dev/zero never finished starting (3 GB in 8 s, no output); server.crt as a symlink
        to /dev/zero, then SIGHUP, froze the server (9 GB in 20 s) and later SIGHUPs were not handled."""
        workdir = Path(self.mktemp()).resolve()
        workdir.mkdir()
        self.certs = workdir / "certs"
        command = [TWISTD, "-n", f"--pidfile={workdir / 'twistd.pid'}", "chatroom", "--certs", str(self.certs),
                   "--listen", "tcp:0:interface=127.0.0.1", "--no-irc", "--no-web"]  # fmt: skip
        refused = self.spawn([*command, "--motd-file", "/dev/zero"])
        self.assertEqual(await refused.exit_code(), 1)
        self.assertEqual(
            refused.output, "chatroom: cannot read --motd-file /dev/zero: not a regular file (a device, a pipe or a"
            " socket)\n"
        )  # fmt: skip
        process = self.spawn(command)
        self.port = int((await process.until(LISTENING)).group(1))
        alice = await self.connect("alice", "5")
        crt = self.certs / "server.crt"
        good = crt.read_bytes()
        crt.unlink()
        crt.symlink_to("/dev/zero")
        process.transport.signalProcess("HUP")
        await process.until(r"SIGHUP: kept the certificate in service: cannot read \S+server\.crt: not a regular file")
        crt.unlink()
        crt.write_bytes(good)
        process.transport.signalProcess("HUP")  # handled: the server did not freeze on the last one
        await process.until(r"SIGHUP: reloaded \S+server\.crt")
        bob = await self.connect("bob", "5")
        alice.send("still here")
        await bob.until("MSG #5 alice :still here")
        self.assertNotIn("Traceback", process.output)

    async def test_sigterm(self) -> None:
        await self.stops_cleanly_on("TERM")

    async def test_sigint(self) -> None:
        await self.stops_cleanly_on("INT")

    async def test_sigterm_again_and_again_stops_once_without_a_traceback(self) -> None:
        """0.1: a second SIGTERM, 5 ms after the first, logged a CRITICAL ReactorNotRunning traceback."""
        workdir = Path(self.mktemp())
        workdir.mkdir()
        self.certs = workdir / "certs"
        process = self.spawn(
            [TWISTD, "-n", "--pidfile=", "chatroom", "--certs", str(self.certs),
             "--rooms", str(workdir / "rooms.json"), "--listen", "tcp:0:interface=127.0.0.1", "--no-irc", "--no-web"]
        )  # fmt: skip
        self.port = int((await process.until(LISTENING)).group(1))
        alice = await self.connect("alice", "5")  # served: the reactor runs, its signal handlers are in
        deaf = await self.connect("deaf")
        deaf.transport.pauseProducing()  # never answers the TLS close: the shutdown waits on it (5 s at most)
        process.transport.signalProcess("TERM")
        process.transport.signalProcess("TERM")
        await process.until("chatroom shutting down")
        process.transport.signalProcess("TERM")  # while the goodbyes drain
        await alice.until("BYE :server shutting down")
        ended = await process.ended
        self.assertEqual((ended.exitCode, ended.signal), (None, signal.SIGTERM), "as for one SIGTERM")
        self.assertEqual(process.output.count("chatroom shutting down"), 1)
        self.assertIn("received SIGTERM again: already stopping", process.output)
        self.assertNotIn("Traceback", process.output)
        self.assertNotIn("critical", process.output.lower())

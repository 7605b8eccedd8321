"""The service's plumbing: reloads, and accepting connections once the chat is ready."""

from __future__ import annotations

from pathlib import Path

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorFromThreads
from twisted.logger import eventAsJSON, eventFromJSON, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from chatroom.app.service import Reloader
from chatroom.server import tls
from tests.helpers import MemoryServer, ServerTestCase, observe_log
from tests.test_tls import self_signed_rsa


class ReloaderTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.certs = Path(self.mktemp())
        self.identity = tls.load_or_create(self.certs, "chat.example.org")
        self.context = tls.SwappableContext(self.identity)
        self.motd = Path(self.mktemp())
        self.motd.write_text("before\n")
        self.server = MemoryServer()
        self.reloader = Reloader(IReactorFromThreads(reactor), self.certs, self.context, self.server.factory, self.motd)
        self.logged = observe_log(self)

    def messages(self) -> list[str]:
        return [formatEvent(event) for event in self.logged]

    def test_a_pair_openssl_refuses_keeps_the_old_one_in_service(self) -> None:
        """A review found this logged as reloaded, and every new connection then failing."""
        self_signed_rsa(self.certs, bits=1024)
        self.reloader.reload()
        self.assertIs(self.context.identity, self.identity)
        self.assertTrue(
            any(message.startswith("SIGHUP: kept the certificate in service") for message in self.messages())
        )

    def test_a_device_or_a_huge_file_is_refused_and_the_old_ones_kept(self) -> None:
        """A review: server.crt as a symlink to /dev/zero, then SIGHUP: the server froze, grew to 9 GB, and handled
        no SIGHUP after that. Each is refused in one line; the next reload works."""
        crt = self.certs / "server.crt"
        good = crt.read_bytes()
        crt.unlink()
        crt.symlink_to("/dev/zero")
        self.motd.unlink()
        self.motd.symlink_to("/dev/zero")
        self.reloader.reload()
        self.assertIs(self.context.identity, self.identity)
        self.assertEqual(self.server.factory.motd, [])
        self.assertIn(
            f"SIGHUP: kept the certificate in service: cannot read {crt}: not a regular file (a device, a pipe or a"
            " socket)",
            self.messages(),
        )
        self.assertIn(
            f"SIGHUP: kept the message of the day: {self.motd}: not a regular file (a device, a pipe or a socket)",
            self.messages(),
        )
        self.motd.unlink()
        self.motd.write_text("welcome\n" * 101)
        self.reloader.reload()
        self.assertIn(
            f"SIGHUP: kept the message of the day: {self.motd}: must be at most 100 lines, what a login carries"
            " (not 101)",
            self.messages(),
        )
        crt.unlink()
        crt.write_bytes(good)
        self.motd.write_text("after\n")
        self.reloader.reload()
        self.assertEqual(self.server.factory.motd, ["after"])
        self.assertIsNot(self.context.identity, self.identity)

    def test_a_certificate_about_to_expire_is_announced_at_a_reload_as_at_start(self) -> None:
        """A review: certbot's renewals arrive by SIGHUP, and a near expiry was said at start only."""
        certificate = self_signed_rsa(self.certs, days=10)  # relative to now: no date of the calendar matters
        self.reloader.reload()
        self.assertIn(
            f"SIGHUP: the server certificate expires in 9 days ({certificate.not_valid_after_utc:%Y-%m-%d}): renew it"
            " where it came from (certbot, your CA) and send the server SIGHUP",
            self.messages(),
        )

    def test_a_key_other_users_may_read_is_announced_in_one_line(self) -> None:
        """A review: a server.key of mode 0644 was taken at start and at a reload without a word. Its group may read
        it (0640, root:chatroom, is a way to run); others may not."""
        key = self.certs / "server.key"
        key.chmod(0o640)
        self.reloader.reload()
        self.assertEqual([message for message in self.messages() if "readable" in message], [])
        key.chmod(0o644)
        self.reloader.reload()
        self.assertIn(
            f"SIGHUP: {key} is readable by every user of this machine (mode 0644): chmod 600 {key}", self.messages()
        )

    def test_the_reloaded_line_is_the_same_in_a_worker(self) -> None:
        """A review: `expires 2027-03-06` in one process, `expires 2027-03-06 19:23:10+00:00` under --workers, whose
        workers' events reach the parent's log as JSON (chatroom.app.workers)."""
        self.reloader.reload()
        (reloaded,) = [event for event in self.logged if "server.crt" in formatEvent(event)]
        self.assertEqual(formatEvent(eventFromJSON(eventAsJSON(reloaded))), formatEvent(reloaded))
        self.assertRegex(formatEvent(reloaded), r", expires \d{4}-\d\d-\d\d$")

    def test_the_motd_is_read_again_or_kept(self) -> None:
        self.motd.write_text("after\n")
        self.reloader.reload()
        self.assertEqual(self.server.factory.motd, ["after"])
        self.motd.unlink()
        self.reloader.reload()
        self.assertEqual(self.server.factory.motd, ["after"])
        self.assertIn(f"SIGHUP: kept the message of the day: {self.motd}: No such file or directory", self.messages())


class ReadyTests(ServerTestCase):
    async def test_connections_are_accepted_once_the_chat_is_ready(self) -> None:
        ready: Deferred[None] = Deferred()
        service = self.start_server(ready=ready)
        listening = service.ports[0]
        self.assertNotIn(listening, reactor.getReaders())  # connections wait in the kernel's queue, or go elsewhere
        ready.callback(None)
        self.assertIn(listening, reactor.getReaders())
        await self.connect("alice")  # greeted, registered and answered

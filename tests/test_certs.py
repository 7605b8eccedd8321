"""`chatroom-certs`, as an administrator runs it, and what a reload takes from its work."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from cryptography import x509

from chatroom.server import tls
from tests.helpers import ServerTestCase
from tests.test_tls import self_signed_rsa

CERTS = [sys.executable, "-m", "chatroom.cli.certs"]


class CertsCommandTests(ServerTestCase):
    def setUp(self) -> None:
        self.certs = Path(self.mktemp()).resolve()
        tls.create(self.certs, "chat.example.org")

    async def run_certs(self, *arguments: str) -> tuple[int | None, str]:
        process = self.spawn([*CERTS, "--certs", str(self.certs), *arguments])
        return await process.exit_code(), process.output

    def server_certificate(self) -> x509.Certificate:
        return tls.read_chain(self.certs / tls.SERVER_CERT)[0]

    async def test_show(self) -> None:
        code, output = await self.run_certs("show")
        self.assertEqual(code, 0)
        self.assertIn("names: localhost, 127.0.0.1, ::1, chat.example.org\n", output)
        self.assertRegex(output, r"expires: \d{4}-\d\d-\d\d \d\d:\d\d UTC \(82\d days left\)")
        self.assertIn(f"SHA-256 fingerprint: {tls.fingerprint(self.server_certificate())}", output)

    async def test_renew_keeps_the_names_and_the_ca(self) -> None:
        before = self.server_certificate()
        code, output = await self.run_certs("renew")
        self.assertEqual(code, 0, output)
        after = self.server_certificate()
        self.assertNotEqual(tls.fingerprint(after), tls.fingerprint(before))
        self.assertEqual(tls.names_of(after), tls.names_of(before))
        after.verify_directly_issued_by(tls.read_chain(self.certs / tls.CA_CERT)[0])  # clients keep trusting it
        self.assertIn(f"SHA-256 fingerprint: {tls.fingerprint(after)}", output)
        self.assertIn("send SIGHUP to the server", output)
        tls.load(self.certs)  # the new key matches the new certificate
        self.assertEqual([path.name for path in self.certs.iterdir() if path.name.startswith(".")], [])

    async def test_renew_for_other_names(self) -> None:
        code, output = await self.run_certs("renew", "chat.example.net", "192.0.2.10")
        self.assertEqual(code, 0, output)
        self.assertEqual(tls.names_of(self.server_certificate()), ["chat.example.net", "192.0.2.10"])
        self.assertEqual(self.server_certificate().subject.rfc4514_string(), "CN=chat.example.net")

    async def test_print_the_ca(self) -> None:
        self.assertEqual(await self.run_certs("ca"), (0, (self.certs / tls.CA_CERT).read_text()))

    async def test_no_ca_printed_for_a_certificate_it_did_not_issue(self) -> None:
        """After a switch to one's own certificate, the old ca.pem would make clients refuse the server."""
        self_signed_rsa(self.certs)
        code, output = await self.run_certs("ca")
        self.assertEqual(code, 1)
        self.assertNotIn("BEGIN CERTIFICATE", output)
        self.assertEqual(output.count("\n"), 1, output)
        self.assertIn(f"{self.certs / tls.SERVER_CERT} was not issued by {self.certs / tls.CA_CERT}", output)

    async def test_renew_never_replaces_a_certificate_of_another_ca(self) -> None:
        self_signed_rsa(self.certs)  # an administrator's own (or certbot's), beside the generated CA
        before = (self.certs / tls.SERVER_CERT).read_bytes()
        code, output = await self.run_certs("renew")
        self.assertEqual(code, 1)
        self.assertIn("was not issued by", output)
        self.assertEqual((self.certs / tls.SERVER_CERT).read_bytes(), before)

    async def test_renew_refuses_a_ca_key_that_is_not_the_cas(self) -> None:
        other = Path(self.mktemp())
        tls.create(other, "elsewhere")
        (self.certs / tls.CA_KEY).write_bytes((other / tls.CA_KEY).read_bytes())
        code, output = await self.run_certs("renew")
        self.assertEqual((code, output.count("\n")), (1, 1))
        self.assertIn("is not the key of", output)

    async def test_a_failed_renew_leaves_the_old_pair_whole(self) -> None:
        before = tls.load(self.certs).fingerprint
        (self.certs / ".server.crt.new").mkdir()  # the certificate cannot be written
        code, output = await self.run_certs("renew")
        self.assertEqual(code, 1)
        self.assertIn("Is a directory", output)
        self.assertEqual(tls.load(self.certs).fingerprint, before)  # the key was not replaced either
        self.assertFalse((self.certs / ".server.key.new").exists())

    async def test_renew_keeps_the_modes_an_administrator_chose(self) -> None:
        os.chmod(self.certs / tls.SERVER_KEY, 0o640)  # readable by the server's group
        self.assertEqual((await self.run_certs("renew"))[0], 0)
        self.assertEqual(stat.S_IMODE((self.certs / tls.SERVER_KEY).stat().st_mode), 0o640)

    async def test_names_are_checked(self) -> None:
        long_name = ".".join(["a" * 30] * 3)  # 92 characters: a DNS name, too long for a common name
        code, output = await self.run_certs("renew", "café.example", long_name, "2001:DB8::1")
        self.assertEqual(code, 0, output)
        self.assertEqual(tls.names_of(self.server_certificate()), ["xn--caf-dma.example", long_name, "2001:db8::1"])
        for bad in ["not a name!", "10.0.0.0/8", "x_y", "", "a..b", "x-.example"]:
            code, output = await self.run_certs("renew", bad)
            self.assertEqual((code, output), (1, f"chatroom-certs: {bad!r} is neither a host name nor an IP address\n"))

    async def test_one_line_when_it_cannot(self) -> None:
        (self.certs / tls.CA_KEY).unlink()  # an administrator's own certificate: no CA kept here
        code, output = await self.run_certs("renew")
        self.assertEqual(
            (code, output),
            (1, f"chatroom-certs: cannot read {self.certs / tls.CA_KEY}: No such file or directory\n"),
        )
        (self.certs / tls.CA_CERT).write_bytes(b"\x00\xff binary")
        code, output = await self.run_certs("ca")
        self.assertEqual((code, output.count("\n")), (1, 1))
        self.certs = self.certs / "nowhere"
        code, output = await self.run_certs("show")
        self.assertEqual(code, 1)
        self.assertEqual(output.count("\n"), 1)
        self.assertIn("No such file or directory", output)

"""The server's certificate: generated on first start, or the administrator's own, and clear errors."""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from twisted.trial.unittest import SynchronousTestCase

from chatroom.server import tls


def self_signed_rsa(directory: Path, days: int = 30, bits: int = 2048) -> x509.Certificate:
    """What `openssl req -x509 -newkey rsa:2048 -nodes -keyout server.key -out server.crt` gives."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=60))
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "server.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )
    (directory / "server.key").chmod(0o600)  # as openssl writes it
    (directory / "server.crt").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return certificate


class IdentityTests(SynchronousTestCase):
    def test_a_pair_openssl_refuses_is_refused_when_loaded(self) -> None:
        """A review found a reload accepting one and every new connection then failing: OpenSSL judges at load."""
        certs = Path(self.mktemp())
        self_signed_rsa(certs, bits=1024)  # below OpenSSL's default security level
        error = self.assertRaises(tls.CertificateError, tls.load, certs)
        self.assertIn("cannot be used for TLS", str(error))
        self.assertIn("too small", str(error))

    def setUp(self) -> None:
        self.certs = Path(self.mktemp())

    def refused(self, *phrases: str) -> None:
        error = self.assertRaises(tls.CertificateError, tls.load_or_create, self.certs, "chat.example.org")
        message = str(error)
        self.assertNotIn("\n", message)
        for phrase in phrases:
            self.assertIn(phrase, message)

    def test_first_start_generates_a_ca_and_a_server_certificate(self) -> None:
        identity = tls.load_or_create(self.certs, "chat.example.org")
        self.assertTrue(identity.generated)
        for private in ("ca.key", "server.key"):
            self.assertEqual(os.stat(self.certs / private).st_mode & 0o777, 0o600, private)
        ca = x509.load_pem_x509_certificate((self.certs / "ca.pem").read_bytes())
        server = x509.load_pem_x509_certificate((self.certs / "server.crt").read_bytes())
        server.verify_directly_issued_by(ca)
        names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        self.assertEqual(set(names.get_values_for_type(x509.DNSName)), {"localhost", "chat.example.org"})
        self.assertEqual(
            set(names.get_values_for_type(x509.IPAddress)),
            {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")},
        )
        self.assertEqual(identity.fingerprint, tls.fingerprint(server))
        self.assertRegex(identity.fingerprint, r"^([0-9A-F]{2}:){31}[0-9A-F]{2}$")

    def test_second_start_reuses_the_certificate(self) -> None:
        first = tls.load_or_create(self.certs, "chat.example.org")
        second = tls.load_or_create(self.certs, "another.name")
        self.assertFalse(second.generated)
        self.assertEqual(first.fingerprint, second.fingerprint)

    def test_an_administrators_own_certificate_is_used_as_it_is(self) -> None:
        certificate = self_signed_rsa(self.certs)
        identity = tls.load_or_create(self.certs, "chat.example.org")
        self.assertFalse(identity.generated)
        self.assertEqual(identity.fingerprint, tls.fingerprint(certificate))
        self.assertFalse((self.certs / "ca.pem").exists())

    def test_mismatched_key(self) -> None:
        tls.create(self.certs, "a")
        other = Path(self.mktemp())
        tls.create(other, "b")
        (self.certs / "server.key").write_bytes((other / "server.key").read_bytes())
        self.refused("server.key does not belong to", "server.crt")

    def test_missing_half_of_the_pair(self) -> None:
        tls.create(self.certs, "a")
        (self.certs / "server.key").unlink()
        self.refused("server.key is missing", "remove", "server.crt")

    def test_unreadable_and_garbage_files(self) -> None:
        tls.create(self.certs, "a")
        (self.certs / "server.crt").write_text("not a certificate")
        self.refused("server.crt is not a usable unencrypted PEM file")
        tls_dir = self.certs / "server.crt"
        tls_dir.unlink()
        tls_dir.mkdir()  # a directory where a file should be: unreadable
        self.refused("cannot read", "server.crt")

    def test_a_device_a_pipe_or_a_huge_file_is_refused_unread(self) -> None:
        """A review: server.crt as a symlink to /dev/zero froze the server, which grew to 9 GB in 20 s."""
        tls.create(self.certs, "a")
        crt = self.certs / "server.crt"
        crt.unlink()
        crt.symlink_to("/dev/zero")
        self.refused(f"cannot read {crt}: not a regular file (a device, a pipe or a socket)")
        crt.unlink()
        os.mkfifo(crt)  # opening one for reading would wait for a writer
        self.refused(f"cannot read {crt}: not a regular file")
        crt.unlink()
        with crt.open("wb") as huge:
            huge.truncate(1024 * 1024 + 1)
        self.refused(f"cannot read {crt}: larger than 1 MiB, more than such a file can need")

    def test_expired_certificate(self) -> None:
        self_signed_rsa(self.certs, days=-1)
        self.refused("expired on", "renew it")


class CipherTests(SynchronousTestCase):
    def test_tls12_offers_only_aead_with_forward_secrecy(self) -> None:
        """0.1 still accepted CBC suites with SHA-1 MACs, and RSA key exchange without forward secrecy."""
        generated = tls.load_or_create(Path(self.mktemp()), "chat.example.org")
        own = Path(self.mktemp())
        self_signed_rsa(own, days=100)
        for identity in (generated, tls.load_or_create(own, "chat.example.org")):
            ciphers = [cipher["name"] for cipher in identity.context().get_ciphers()]
            tls12 = [name for name in ciphers if not name.startswith("TLS_")]  # TLS 1.3's are all AEAD with (EC)DHE
            self.assertTrue(tls12)
            for name in tls12:
                self.assertRegex(name, r"^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$")

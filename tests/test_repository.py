"""The repository itself: no private key is ever committed (`.ci/check-keys`, run by `.ci/run`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from twisted.trial.unittest import SkipTest, SynchronousTestCase

CHECKOUT = Path(__file__).resolve().parent.parent
CHECK_KEYS = CHECKOUT / ".ci" / "check-keys"


def git(repository: Path, *arguments: str) -> None:
    subprocess.run(["git", "-C", str(repository), *arguments], check=True, capture_output=True)


class CheckKeysTests(SynchronousTestCase):
    def check(self, repository: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(CHECK_KEYS)], cwd=repository, capture_output=True, text=True)

    def test_a_committed_key_fails_the_check(self) -> None:
        repository = Path(self.mktemp())
        repository.mkdir()
        git(repository, "init", "--quiet")
        (repository / "README.md").write_text("nothing secret\n")
        (repository / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
        git(repository, "add", ".")
        self.assertEqual(self.check(repository).returncode, 0, "certificates are public")
        key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        (repository / "deep").mkdir()
        (repository / "deep" / "server.key").write_bytes(key)
        (repository / "ignored.key").write_bytes(key)  # not tracked: not the check's business
        git(repository, "add", "deep/server.key")
        result = self.check(repository)
        self.assertEqual(result.returncode, 1)
        self.assertEqual(
            result.stdout,
            "check-keys: deep/server.key holds a private key; remove it from git (and replace the key: it is public"
            " now)\n",
        )

    def test_every_form_of_key_from_anywhere_in_the_repository(self) -> None:
        """A review found these missed: other formats, a run from a subfolder, a key staged then edited away."""
        repository = Path(self.mktemp())
        (repository / "sub").mkdir(parents=True)
        git(repository, "init", "--quiet")
        private = "PRIVATE KEY"  # apart, so that this file is not a key to the check itself
        keys = {
            "putty.ppk": b"PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n",
            "pgp.asc": f"-----BEGIN PGP {private} BLOCK-----\n\nlQ\n".encode(),
            "ssh2.key": f"---- BEGIN SSH2 ENCRYPTED {private} ----\nP2/\n".encode(),
            "id_ed25519": f"-----BEGIN OPENSSH {private}-----\r\nb3Bl\r\n".encode(),
            "store.p12": b"\x30\x82binary",
            "utf16.pem": f"-----BEGIN EC {private}-----\nMHc\n".encode("utf-16"),
        }
        for name, content in keys.items():
            (repository / name).write_bytes(content)
        git(repository, "add", ".")
        (repository / "id_ed25519").write_text("edited away, but still staged\n")
        result = self.check(repository / "sub")
        self.assertEqual(result.returncode, 1)
        self.assertEqual(sorted(line.split()[1] for line in result.stdout.splitlines()), sorted(keys))

    def test_this_checkout_holds_no_key(self) -> None:
        if not (CHECKOUT / ".git").exists():
            raise SkipTest("not a git checkout")
        result = self.check(CHECKOUT)
        self.assertEqual((result.returncode, result.stdout), (0, ""))

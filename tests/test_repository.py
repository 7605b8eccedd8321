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

    def test_this_checkout_holds_no_key(self) -> None:
        if not (CHECKOUT / ".git").exists():
            raise SkipTest("not a git checkout")
        result = self.check(CHECKOUT)
        self.assertEqual((result.returncode, result.stdout), (0, ""))

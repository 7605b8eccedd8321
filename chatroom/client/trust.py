"""Whether to believe the server is who it claims: a CA, the system's roots, or a fingerprint pinned on first use.

With --ca the check is Twisted's own, strict one (chain and hostname, through
service-identity). Without it, the handshake is allowed to finish whatever the
certificate, and the client decides before it sends a single byte: the
system's roots and the hostname, or else a fingerprint the user accepted
before, as ssh's known_hosts does.

The fingerprint pinned is that of the CA which issued the server's certificate
when the server sends it along (chatroom's generated CA, which `chatroom-certs
renew` keeps), so that a renewed certificate from the same CA is
trusted as the old one was; else that of the certificate itself. A pin of the
certificate itself, as older clients made, becomes a pin of its CA once the
server sends it.
"""

from __future__ import annotations

import enum
import ipaddress
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import platformdirs
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from OpenSSL.crypto import X509
from OpenSSL.SSL import VERIFY_FAIL_IF_NO_PEER_CERT, VERIFY_PEER, Connection
from service_identity import VerificationError
from service_identity.cryptography import verify_certificate_hostname, verify_certificate_ip_address
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator
from twisted.internet.ssl import optionsForClientTLS
from twisted.protocols.tls import TLSMemoryBIOProtocol
from zope.interface import implementer

from chatroom.server.tls import fingerprint


def known_hosts_path() -> Path:
    """Where pinned fingerprints live: the user's config directory (XDG_CONFIG_HOME on Linux)."""
    return platformdirs.user_config_path("chatroom") / "known_hosts"


class KnownHosts:
    """Fingerprints the user accepted, one `HOST:PORT FINGERPRINT` a line."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def get(self, server: str) -> str | None:
        return self._read().get(server)

    def pin(self, server: str, pinned: str) -> None:
        """Remember a fingerprint, replacing the file whole so that a crash cannot leave half of it."""
        entries = self._read() | {server: pinned}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".known_hosts.")
        with os.fdopen(descriptor, "w") as file:
            file.writelines(f"{name} {value}\n" for name, value in entries.items())
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)

    def _read(self) -> dict[str, str]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return {}
        return dict(line.split(None, 1) for line in text.splitlines() if line.strip() and not line.startswith("#"))


class Verdict(enum.Enum):
    TRUSTED = "trusted"
    UNKNOWN = "unknown"  # nothing vouches for it: ask the user
    CHANGED = "changed"  # a different certificate than the one pinned: refuse, loudly


def server_name(host: str, port: int) -> str:
    """How known_hosts names a server: host:port, with IPv6 addresses in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@implementer(IOpenSSLClientConnectionCreator)
class TrustOnFirstUse:
    """Completes the handshake with any certificate, noting whether the system's roots vouched for it."""

    def __init__(self, host: str, port: int, known_hosts: KnownHosts) -> None:
        self.host = host
        self.server = server_name(host, port)
        self.known_hosts = known_hosts
        self.vouched = True
        self._options = optionsForClientTLS(host)  # the system's roots, SNI, TLS versions: Twisted's defaults

    def clientConnectionForTLS(self, tlsProtocol: TLSMemoryBIOProtocol) -> Connection:
        connection = self._options.clientConnectionForTLS(tlsProtocol)
        connection.set_verify(VERIFY_PEER | VERIFY_FAIL_IF_NO_PEER_CERT, self._note)
        return connection

    def _note(self, connection: Connection, certificate: X509, error: int, depth: int, ok: int) -> bool:
        if not ok:
            self.vouched = False
        return True  # the decision is made in verdict(), before anything is sent

    def verdict(self, chain: list[x509.Certificate]) -> Verdict:
        """What to make of the certificates the server sent, its own first."""
        if self.vouched and _names_host(chain[0], self.host):
            return Verdict.TRUSTED
        pinned = self.known_hosts.get(self.server)
        if pinned is None:
            return Verdict.UNKNOWN
        if pinned == _pinned(chain, self.host):
            return Verdict.TRUSTED
        if pinned == fingerprint(chain[0]):  # pinned before the server sent its CA, or by an older client
            self.pin(chain)
            return Verdict.TRUSTED
        return Verdict.CHANGED

    def pin(self, chain: list[x509.Certificate]) -> None:
        self.known_hosts.pin(self.server, _pinned(chain, self.host))


def _pinned(chain: list[x509.Certificate], host: str) -> str:
    """The fingerprint to pin: of the CA in the chain that signed the server's certificate, else of the certificate.

    Only a CA whose signature is checked counts: anyone can send a copy of the real CA beside a certificate of
    their own. And only for a certificate that names the host: a CA may sign for other servers too (an
    organisation's own), and a pin of it must not let one of them stand in for this one. A certificate that does
    not name the host (reached by an address it does not list) is pinned itself, as before.
    """
    if not _names_host(chain[0], host):
        return fingerprint(chain[0])
    for issuer in chain[1:]:
        try:
            is_ca = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
            chain[0].verify_directly_issued_by(issuer)
        except (x509.ExtensionNotFound, ValueError, TypeError, InvalidSignature):
            continue
        if is_ca:
            return fingerprint(issuer)
    return fingerprint(chain[0])


def _names_host(certificate: x509.Certificate, host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        verify: Callable[[x509.Certificate, str], None] = verify_certificate_hostname
    else:
        verify = verify_certificate_ip_address
    try:
        verify(certificate, host)
    except VerificationError:
        return False
    return True

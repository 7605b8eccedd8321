"""The server's TLS identity: the certificate in certs/, made on first start if there is none.

A generated identity is a small local CA (ca.pem, ca.key) and a server
certificate it signed (server.crt, server.key), both ECDSA P-256, whose
handshake costs a fraction of RSA-2048's. Clients trust the server by being
given ca.pem; the server sends ca.pem after its certificate, so that a client
that trusts it on first use pins the CA, and trusts a certificate renewed from
it. A server.crt/server.key pair put there by hand (a real CA's, or one from
`openssl req -x509`) is used as it is.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import hmac
import ipaddress
import os
import re
import ssl
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from service_identity import CertificateError as CertificateError_
from service_identity import VerificationError
from service_identity.cryptography import verify_certificate_hostname, verify_certificate_ip_address

from chatroom.stores.files import SMALL_FILE, read_bounded

T = TypeVar("T")

CA_CERT = "ca.pem"
CA_KEY = "ca.key"
SERVER_CERT = "server.crt"
SERVER_KEY = "server.key"

# TLS 1.2 suites: ephemeral key exchange (forward secrecy) and AEAD only, no CBC or SHA-1 MACs. TLS 1.3's
# suites all qualify and are not configured by this string.
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"

EXPIRY_WARNING = datetime.timedelta(days=30)  # a certificate that expires sooner is warned of at start and at reloads
_CA_LIFETIME = datetime.timedelta(days=3650)
_SERVER_LIFETIME = datetime.timedelta(days=825)  # the longest that browsers' and Apple's rules accept


class CertificateError(Exception):
    """The certificate or key cannot be used; the message says what to do, in one line."""


@dataclass(frozen=True)
class ServerIdentity:
    chain: tuple[x509.Certificate, ...]  # the server's certificate first, then what is sent along
    key: Path
    fingerprint: str
    certificate: Path
    generated: bool
    expires: datetime.datetime

    def context(self, protocols: tuple[str, ...] = ()) -> ssl.SSLContext:
        """A server context with this identity, offering these ALPN protocols (none matching is no protocol).

        TLS 1.2 at least, its suites TLS12_CIPHERS; no session resumption (no tickets, as Twisted's defaults had it:
        clients reconnect seldom, and each ticket costs the handshake a signature's worth of work).
        """
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(TLS12_CIPHERS)
        context.options |= ssl.OP_NO_RENEGOTIATION | ssl.OP_NO_TICKET
        context.num_tickets = 0
        # `ssl` loads certificates from files only; these are public, the key is read from where it is kept.
        with tempfile.NamedTemporaryFile(prefix="chatroom-chain-", suffix=".pem") as chain:
            chain.write(b"".join(certificate.public_bytes(serialization.Encoding.PEM) for certificate in self.chain))
            chain.flush()
            context.load_cert_chain(chain.name, self.key)
        if protocols:
            context.set_alpn_protocols(list(protocols))
        return context


class SwappableContext:
    """The server's TLS contexts, one for each set of ALPN protocols a listener speaks, replaced whole by a reload:
    new connections get the new ones, open ones keep theirs.

    Each is made when a listener first asks (chatroom.server.tls_transport.TLSFactory, before twistd gives up its
    privileges) and again at once by a reload: the key is read then, never as a connection arrives.
    """

    def __init__(self, identity: ServerIdentity) -> None:
        self.identity = identity
        self._made: dict[tuple[str, ...], ssl.SSLContext] = {}

    def replace(self, identity: ServerIdentity) -> None:
        self._made = {protocols: identity.context(protocols) for protocols in self._made}
        self.identity = identity

    def __call__(self, protocols: tuple[str, ...]) -> ssl.SSLContext:
        made = self._made.get(protocols)
        if made is None:
            made = self._made[protocols] = self.identity.context(protocols)
        return made


_SIGNING_KEYS = (
    rsa.RSAPrivateKey,
    ec.EllipticCurvePrivateKey,
    ed25519.Ed25519PrivateKey,
    ed448.Ed448PrivateKey,
    dsa.DSAPrivateKey,
)


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 in the form `openssl x509 -fingerprint -sha256` prints, for people to compare."""
    return ":".join(f"{byte:02X}" for byte in certificate.fingerprint(hashes.SHA256()))


def secret(identity: ServerIdentity, purpose: str) -> bytes:
    """A secret of this server for `purpose`, the same in every process that shares its key and across restarts:
    derived from the private key, read again for it and not kept."""
    key = _read(identity.key, _load_key)
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return hmac.new(der, purpose.encode(), hashlib.sha256).digest()


def load_or_create(directory: Path, hostname: str) -> ServerIdentity:
    """The identity in `directory`, made there first (a local CA and a server certificate) if it has none."""
    cert_path, key_path = directory / SERVER_CERT, directory / SERVER_KEY
    generated = not cert_path.exists() and not key_path.exists()
    if generated:
        create(directory, hostname)
    return load(directory, generated)


def load(directory: Path, generated: bool = False) -> ServerIdentity:
    """The identity in `directory`, checked: both halves present, matching, and not expired."""
    cert_path, key_path = directory / SERVER_CERT, directory / SERVER_KEY
    if not cert_path.exists() or not key_path.exists():
        present, missing = (cert_path, key_path) if cert_path.exists() else (key_path, cert_path)
        raise CertificateError(
            f"{missing} is missing: put it back, or remove {present} too to have a new pair generated"
        )
    chain = read_chain(cert_path)
    if len(chain) == 1 and issued_here(directory):  # sent along: what clients that trust on first use pin
        chain += read_chain(directory / CA_CERT)[:1]
    key = _read(key_path, _load_key)
    if not isinstance(key, _SIGNING_KEYS):
        raise CertificateError(f"{key_path} holds a {type(key).__name__}, which cannot sign a TLS handshake")
    if _public_bytes(chain[0].public_key()) != _public_bytes(key.public_key()):
        raise CertificateError(
            f"{key_path} does not belong to {cert_path}: put the matching pair there,"
            " or remove both to have a new one generated"
        )
    expiry = chain[0].not_valid_after_utc
    if expiry < datetime.datetime.now(datetime.UTC):
        raise CertificateError(f"{cert_path} expired on {expiry:%Y-%m-%d}: {renewal_advice(directory)}")
    identity = ServerIdentity(tuple(chain), key_path, fingerprint(chain[0]), cert_path, generated, expiry)
    try:
        identity.context()  # made now: a refusal is a refusal to load
    except (ssl.SSLError, OSError) as error:
        raise CertificateError(f"{cert_path} cannot be used for TLS: {_openssl_reason(error)}") from None
    return identity


def cautions(identity: ServerIdentity, directory: Path, now: datetime.datetime) -> list[str]:
    """What the administrator should act on about an identity that loaded, a line each: a certificate that expires
    within EXPIRY_WARNING, a key other users may read. Said at start and at each reload: certbot's renewals (and a
    key copied by hand) arrive by SIGHUP."""
    found = []
    left = identity.expires - now
    if left < EXPIRY_WARNING:
        found.append(
            f"the server certificate expires in {left.days} days ({identity.expires:%Y-%m-%d}):"
            f" {renewal_advice(directory)}"
        )
    exposed = key_exposed(identity.key)
    if exposed is not None:
        found.append(exposed)
    return found


def key_exposed(path: Path) -> str | None:
    """A line if users other than the key's owner and group may read it. Its group may: a key of mode 0640, owned by
    root and the server's group, is a way to run."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:  # gone since it was read: the next reload says so
        return None
    if not mode & stat.S_IROTH:
        return None
    return f"{path} is readable by every user of this machine (mode {mode:04o}): chmod 600 {path}"


def issued_here(directory: Path) -> bool:
    """Whether the server certificate was issued by the local CA kept beside it, so that `renew` may replace it."""
    try:
        server = read_chain(directory / SERVER_CERT)[0]
        ca = read_chain(directory / CA_CERT)[0]
        server.verify_directly_issued_by(ca)
    except (CertificateError, ValueError, TypeError, InvalidSignature):
        return False
    return True


def renewal_advice(directory: Path) -> str:
    """What to do about a certificate that expires: chatroom renews its own, the CA that issued another does."""
    if issued_here(directory):
        return f"renew it with chatroom-certs --certs {directory} renew, then send the server SIGHUP"
    return "renew it where it came from (certbot, your CA) and send the server SIGHUP"


def create(directory: Path, hostname: str) -> None:
    """Write a new local CA and a server certificate for `hostname` into `directory`."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"chatroom local CA for {hostname}")])
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key(), now, _CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server_key, server = _server_certificate(ca_key, ca, hostname, ["localhost", "127.0.0.1", "::1", hostname])
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _write(directory / CA_KEY, _private_pem(ca_key), 0o600)
        _write(directory / CA_CERT, ca.public_bytes(serialization.Encoding.PEM), 0o644)
        _write(directory / SERVER_KEY, _private_pem(server_key), 0o600)
        _write(directory / SERVER_CERT, server.public_bytes(serialization.Encoding.PEM), 0o644)
    except OSError as error:
        raise CertificateError(f"cannot write a new certificate into {directory}: {error.strerror}") from None


def issue(directory: Path, names: list[str] | None = None) -> None:
    """A new server certificate and key for `names` (the first is its common name), signed by the kept local CA;
    without names, for those of the certificate it replaces.

    Clients that trust ca.pem trust the new one at once. The pair replaces the old one atomically, the key
    first: a server reloading between the two renames would refuse the mismatched pair and keep the old one.
    """
    ca = read_chain(directory / CA_CERT)[0]
    ca_key = _read(directory / CA_KEY, _load_key)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey) or _public_bytes(ca_key.public_key()) != _public_bytes(
        ca.public_key()
    ):
        raise CertificateError(f"{directory / CA_KEY} is not the key of {directory / CA_CERT}, the CA chatroom made")
    if ca.not_valid_after_utc <= datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1):
        raise CertificateError(f"{directory / CA_CERT} has expired: clients would not trust what it signs")
    if (directory / SERVER_CERT).exists() and not issued_here(directory):
        raise CertificateError(
            f"{directory / SERVER_CERT} was not issued by {directory / CA_CERT}: renew it where it came from"
            " (certbot, your CA); renew replaces only certificates of the kept CA"
        )
    names = names or names_of(read_chain(directory / SERVER_CERT)[0])
    if not names:
        raise CertificateError("the current certificate names no host: give the names, as renew NAME ...")
    valid = [valid_name(name) for name in names]
    server_key, server = _server_certificate(ca_key, ca, valid[0], valid)
    key_path, cert_path = directory / SERVER_KEY, directory / SERVER_CERT
    written: list[Path] = []
    try:
        # Both written before either replaces anything: a failure leaves the old pair whole.
        written.append(_prepare(key_path, _private_pem(server_key), 0o600))
        written.append(_prepare(cert_path, server.public_bytes(serialization.Encoding.PEM), 0o644))
        os.replace(written[0], key_path)  # the key first: a reload in between refuses the mismatched pair
        os.replace(written[1], cert_path)
    except OSError as error:
        for temporary in written:
            temporary.unlink(missing_ok=True)
        raise CertificateError(f"cannot write a new certificate into {directory}: {error.strerror}") from None


def _server_certificate(
    ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate, common_name: str, names: list[str]
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A key and a certificate for `names`; the common name is left out if it is longer than one may be (64)."""
    server_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    common = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if len(common_name) <= 64 else []
    server = (
        _builder(
            x509.Name(common),
            ca.subject,
            server_key.public_key(),
            now,
            min(_SERVER_LIFETIME, ca.not_valid_after_utc - now),  # never outliving the CA that vouches for it
        )
        .add_extension(x509.SubjectAlternativeName([_general_name(name) for name in dict.fromkeys(names)]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return server_key, server


def names_of(certificate: x509.Certificate) -> list[str]:
    """The DNS names and IP addresses a certificate is valid for."""
    try:
        alternatives = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [str(name.value) for name in alternatives if isinstance(name, x509.DNSName | x509.IPAddress)]


def covers(certificate: x509.Certificate, name: str) -> bool:
    """Whether a client connecting by `name` (a host name or an IP address) accepts the certificate: its
    subjectAltName names it, or a wildcard there does, as service-identity checks it for our client."""
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        address = None
    try:
        if address is None:
            verify_certificate_hostname(certificate, name.removesuffix("."))
        else:
            verify_certificate_ip_address(certificate, str(address))
    except (VerificationError, CertificateError_, ValueError):
        return False
    return True


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime.datetime,
    lifetime: datetime.timedelta,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))  # tolerate clients whose clock is a little behind
        .not_valid_after(now + lifetime)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _key_usage(**granted: bool) -> x509.KeyUsage:
    usages = dict.fromkeys(
        [
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ],
        False,
    )
    return x509.KeyUsage(**(usages | granted))


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _prepare(path: Path, data: bytes, mode: int) -> Path:
    """A temporary file beside `path` to rename over it, with the owner and mode `path` has if it exists.

    An administrator who made the key readable by the server's group (0640 root:chatroom) keeps it so.
    """
    temporary = path.with_name(f".{path.name}.new")
    temporary.unlink(missing_ok=True)  # a directory in the way raises IsADirectoryError: nothing is replaced
    _write(temporary, data, mode)
    try:
        status = path.stat()
    except FileNotFoundError:
        return temporary
    os.chmod(temporary, stat.S_IMODE(status.st_mode))
    with contextlib.suppress(PermissionError):  # only root gives a file away
        os.chown(temporary, status.st_uid, status.st_gid)
    return temporary


_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def valid_name(name: str) -> str:
    """An IP address, or a host name as DNS writes it (IDNA for non-ASCII); CertificateError otherwise."""
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        pass
    try:
        ascii_name = name.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_name = ""
    labels = ascii_name.removesuffix(".").split(".")
    if not ascii_name or len(ascii_name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise CertificateError(f"{name!r} is neither a host name nor an IP address")
    return ascii_name


def _write(path: Path, data: bytes, mode: int) -> None:
    """Create `path` with `mode` from the start, so a private key is never readable by others."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def read_chain(path: Path) -> list[x509.Certificate]:
    """The certificates of a PEM file, the server's first; CertificateError in one line if it cannot be read."""
    return _read(path, _load_chain)


def _load_chain(data: bytes) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(data)


def _load_key(data: bytes) -> PrivateKeyTypes:
    return serialization.load_pem_private_key(data, password=None)


def _read(path: Path, load: Callable[[bytes], T]) -> T:
    """Read and parse a PEM file, turning every way it can fail into one line."""
    try:
        data = read_bounded(path, SMALL_FILE)
    except OSError as error:
        raise CertificateError(f"cannot read {path}: {error.strerror}") from None
    try:
        return load(data)
    except (ValueError, TypeError) as error:
        raise CertificateError(f"{path} is not a usable unencrypted PEM file: {error}") from None


def _openssl_reason(error: Exception) -> str:
    """OpenSSL's words for why, such as "ee key too small", without its library code and source line."""
    if isinstance(error, ssl.SSLError) and isinstance(error.reason, str):
        return error.reason.replace("_", " ").lower()
    return str(error)


def _public_bytes(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

"""`chatroom-certs`: look at the server's certificate, renew it from the kept local CA, print the CA.

A renewed certificate is signed by the same CA, so clients that were given ca.pem trust it at once, and so do
those that trusted the server on first use (they pinned the CA, which the server sends). A running server takes
it on SIGHUP (`kill -HUP PID`), without disconnecting anyone.
"""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from chatroom.server import tls

PROGRAM = "chatroom-certs"
DEFAULT_DIRECTORY = "certs"


def show(directory: Path) -> str:
    """What the server certificate is, even if it has expired: that is when one looks."""
    path = directory / tls.SERVER_CERT
    certificate = tls.read_chain(path)[0]
    expires = certificate.not_valid_after_utc
    left = (expires - datetime.datetime.now(datetime.UTC)).days
    return "\n".join(
        [
            f"certificate: {path}",
            f"names: {', '.join(tls.names_of(certificate)) or '(none)'}",
            f"issued by: {certificate.issuer.rfc4514_string()}",
            f"expires: {expires:%Y-%m-%d %H:%M} UTC ({f'{left} days left' if left >= 0 else 'EXPIRED'})",
            f"SHA-256 fingerprint: {tls.fingerprint(certificate)}",
        ]
    )


def renew(directory: Path, names: list[str]) -> str:
    """Issue a new server certificate from the kept CA, for `names` or else for the names the current one has."""
    tls.issue(directory, names)
    return show(directory) + (
        "\nsend SIGHUP to the server (kill -HUP PID) to use it; clients that trust ca.pem, given or pinned on first"
        " use, keep trusting the server"
    )


def ca(directory: Path) -> str:
    """The kept CA, for copying to clients, only while it issued the server's certificate: clients given it would
    refuse a server whose certificate comes from elsewhere (certbot, the administrator's own CA)."""
    kept = tls.read_chain(directory / tls.CA_CERT)[0]
    tls.read_chain(directory / tls.SERVER_CERT)  # a missing or damaged one is said as it is
    if not tls.issued_here(directory):
        raise tls.CertificateError(
            f"{directory / tls.SERVER_CERT} was not issued by {directory / tls.CA_CERT}: clients check it against"
            " the CA that issued it (a public one needs nothing given), so there is no CA of chatroom's to share"
        )
    return kept.public_bytes(Encoding.PEM).decode()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=PROGRAM, description="Look at, renew and share the server's TLS certificate.")
    parser.add_argument("--certs", type=Path, default=Path(DEFAULT_DIRECTORY), help=f"default: ./{DEFAULT_DIRECTORY}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("show", help="names, expiry and SHA-256 fingerprint of the server certificate")
    renewing = commands.add_parser(
        "renew", help="a new server certificate from the kept CA, for the same names unless others are given"
    )
    renewing.add_argument("names", nargs="*", metavar="NAME", help="host names or IP addresses, the first its CN")
    commands.add_parser("ca", help="print the CA certificate (ca.pem) for copying to clients")
    arguments = parser.parse_args(argv)
    try:
        if arguments.command == "show":
            print(show(arguments.certs))
        elif arguments.command == "renew":
            print(renew(arguments.certs, arguments.names))
        else:
            print(ca(arguments.certs), end="")
    except tls.CertificateError as error:
        raise SystemExit(f"{PROGRAM}: {error}") from None
    except OSError as error:
        raise SystemExit(f"{PROGRAM}: {error.filename}: {error.strerror}") from None


if __name__ == "__main__":
    main()

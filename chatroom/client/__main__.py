"""`python -m chatroom.client`: chat from a terminal, over verified TLS."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from contextlib import nullcontext
from pathlib import Path

from cryptography import x509
from OpenSSL.crypto import X509
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import HostnameEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator, IReactorCore, IReactorFromThreads, IReactorTime
from twisted.internet.ssl import Certificate, optionsForClientTLS, trustRootFromCertificates
from twisted.internet.stdio import StandardIO
from twisted.internet.task import react

from chatroom.client import settings
from chatroom.client.console import LineEditor, PipeConsole, keys_one_by_one
from chatroom.client.render import Renderer
from chatroom.client.session import HANDSHAKE_TIMEOUT, Client, ServerProtocol
from chatroom.client.settings import settings_path
from chatroom.client.trust import KnownHosts, TrustOnFirstUse, known_hosts_path, server_name


def _path(saved: dict[str, object], name: str) -> Path | None:
    """A path from client.toml, `~` expanded; one line if it names a user that does not exist."""
    if name not in saved:
        return None
    try:
        return Path(str(saved[name])).expanduser()
    except RuntimeError as error:
        raise SystemExit(f"chatroom: {settings_path()}: {name}: {error}") from None


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    """The command line over client.toml (chatroom.client.settings)."""
    try:
        saved = settings.read(settings_path())
    except settings.SettingsError as error:
        raise SystemExit(f"chatroom: {error}") from None
    parser = argparse.ArgumentParser(
        prog="python -m chatroom.client",
        description="Chat on a chatroom server from this terminal. Type /help once connected for the commands;"
        " Ctrl+D, Ctrl+C or /quit leave. A dropped connection is made again by itself, unless --no-reconnect;"
        " exit status: 0 when you leave, 1 when something failed.",
    )
    parser.add_argument(
        "host", nargs="?", default=saved.get("server", "localhost"), help="the server (default: localhost)"
    )
    parser.add_argument("--port", type=int, default=saved.get("port", 5050), help="its port (default: 5050)")
    parser.add_argument("--nick", default=saved.get("nick"), help="the nickname to use (default: ask)")
    parser.add_argument(
        "--room",
        action="append",
        dest="rooms",
        help="a room to join, by name or number; repeat for several, the last is current (default: ask)",
    )
    parser.add_argument(
        "--password-file",
        type=Path,
        default=_path(saved, "password-file"),
        help="read the password of a registered nickname from this file's first line instead of asking",
    )
    parser.add_argument(
        "--no-reconnect",
        action="store_true",
        default=not saved.get("reconnect", True),
        help="when the connection drops, exit with status 1 instead of reconnecting (1, 2, 4 ... 60 s apart)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=HANDSHAKE_TIMEOUT,
        help=f"seconds to connect, and again to complete TLS (default: {HANDSHAKE_TIMEOUT:.0f})",
    )
    parser.add_argument(
        "--ca",
        type=Path,
        default=_path(saved, "ca"),
        help="trust the server only if this CA (the server's certs/ca.pem) signed its certificate; without it,"
        " the system's CAs, else a fingerprint you accepted before, else you are asked (known hosts file:"
        f" {known_hosts_path()})",
    )
    parser.add_argument(
        "--export-dir",
        type=Path,
        default=_path(saved, "export-dir") or Path("."),
        help="where /room export writes a room's history, as ROOM-DATE.txt and ROOM-DATE.json (default: here)",
    )
    parser.epilog = f"Defaults for these options may be set in {settings_path()} (see docs/client.md)."
    arguments = parser.parse_args(argv)
    arguments.rooms = arguments.rooms or list(saved.get("rooms", []))
    arguments.highlight = list(saved.get("highlight", []))
    return arguments


def tls_for(arguments: argparse.Namespace) -> IOpenSSLClientConnectionCreator:
    if arguments.ca is None:
        return TrustOnFirstUse(arguments.host, arguments.port, KnownHosts(known_hosts_path()))
    try:
        authorities = x509.load_pem_x509_certificates(arguments.ca.read_bytes())
    except OSError as error:
        raise SystemExit(f"chatroom: cannot read {arguments.ca}: {error.strerror}") from None
    except ValueError:
        raise SystemExit(f"chatroom: {arguments.ca} is not a PEM certificate file (the server's ca.pem)") from None
    trust = trustRootFromCertificates([Certificate(X509.from_cryptography(each)) for each in authorities])
    return optionsForClientTLS(arguments.host, trustRoot=trust)


async def chat(reactor: IReactorCore, arguments: argparse.Namespace, interactive: bool) -> None:
    tls = tls_for(arguments)
    server = server_name(arguments.host, arguments.port)
    password = None
    if arguments.password_file is not None:
        try:
            password = arguments.password_file.read_text().splitlines()[0]
        except (OSError, IndexError, UnicodeDecodeError):
            raise SystemExit(f"chatroom: cannot read a password from {arguments.password_file}") from None
    colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    client = Client(
        IReactorTime(reactor),
        Renderer(colour),
        server,
        tls if isinstance(tls, TrustOnFirstUse) else None,
        interactive,
        arguments.nick,
        arguments.rooms,
        password,
        arguments.timeout,
        arguments.highlight,
        arguments.export_dir,
    )
    client.console = console = LineEditor(client) if interactive else PipeConsole(client)
    StandardIO(console, reactor=reactor)
    # Without a terminal, Ctrl+C arrives as SIGINT; SIGTERM asks to stop: leave as politely as with /quit. Set
    # once the reactor has started, or the reactor's own handlers (which just stop it) would replace these.
    threads = IReactorFromThreads(reactor)

    def leave_on_signals() -> None:
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, lambda *_: threads.callFromThread(client.interrupted))

    IReactorTime(reactor).callLater(0, leave_on_signals)
    endpoint = wrapClientTLS(tls, HostnameEndpoint(reactor, arguments.host, arguments.port, timeout=arguments.timeout))
    connecting: Deferred[ServerProtocol] = connectProtocol(endpoint, ServerProtocol(client))
    client.reconnect = lambda: connectProtocol(endpoint, ServerProtocol(client))
    client.reconnecting = not arguments.no_reconnect

    def stop_connecting(result: object) -> object:
        """Leaving (Ctrl+C) before the connection is made ends the attempt too."""
        connecting.cancel()
        return result

    client.done.addBoth(stop_connecting)
    try:
        await connecting
    except Exception as error:
        if client.done.called:  # the user left while connecting
            return await client.done
        raise SystemExit(f"chatroom: cannot connect to {server}: {error}") from None
    await client.done


def main(argv: list[str] | None = None) -> None:
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    interactive = sys.stdin.isatty()
    with keys_one_by_one(sys.stdin.fileno()) if interactive else nullcontext():
        react(lambda reactor: Deferred.fromCoroutine(chat(reactor, arguments, interactive)))


if __name__ == "__main__":
    main()

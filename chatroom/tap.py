"""`twistd chatroom`: its command-line options and the service they describe."""

from __future__ import annotations

import socket
from pathlib import Path

from twisted.application.service import IService
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IReactorCore
from twisted.logger import Logger
from twisted.python import usage

from chatroom import tls
from chatroom.core import Chat
from chatroom.protocol import ChatFactory
from chatroom.service import ChatService

DEFAULT_LISTEN = "tcp:5050:backlog=1024"

log = Logger(namespace="chatroom")


class Options(usage.Options):
    synopsis = "[options]"
    longdesc = (
        "Run a chatroom server: group chat for terminals over TLS. Clients connect with"
        " `python -m chatroom.client`. Nothing anyone says is logged or kept."
    )
    optParameters = [
        [
            "certs",
            "c",
            "certs",
            "Directory holding server.crt and server.key; on first start, a local CA (ca.pem) and a"
            " certificate it signed are generated there.",
        ],
        ["hostname", None, socket.gethostname(), "Name written into a generated certificate, besides localhost."],
        ["motd", None, "", "Message of the day, shown to each person after they choose a nickname."],
        ["max-line", None, 4096, "Longest line accepted from a client, in bytes.", int],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["listen"] = []

    def opt_listen(self, endpoint: str) -> None:
        """Where to listen, as a Twisted endpoint string; repeat for several (default: tcp:5050:backlog=1024, all IPv4 interfaces). chatroom adds TLS itself, so give a plain tcp:, tcp6: or unix: endpoint."""  # noqa: E501
        if endpoint.split(":", 1)[0].lower() in ("ssl", "tls"):
            raise usage.UsageError("--listen takes a plain endpoint such as tcp:5050; chatroom adds TLS itself")
        self["listen"].append(endpoint)

    opt_l = opt_listen

    def postOptions(self) -> None:
        if not self["listen"]:
            self["listen"] = [DEFAULT_LISTEN]
        if self["max-line"] < 64:
            raise usage.UsageError("--max-line must be at least 64 bytes")


def makeService(options: Options, reactor: IReactorCore | None = None) -> IService:
    if reactor is None:
        from twisted.internet import reactor as default_reactor

        reactor = default_reactor  # type: ignore[assignment]
    certs = Path(options["certs"])
    try:
        identity = tls.load_or_create(certs, options["hostname"])
        endpoints = {description: serverFromString(reactor, description) for description in options["listen"]}
    except tls.CertificateError as error:
        raise SystemExit(f"chatroom: {error}") from None
    except ValueError as error:
        raise SystemExit(f"chatroom: bad --listen endpoint: {error}") from None
    if identity.generated:
        log.info(
            "generated a local CA and a server certificate in {certs}; clients trust it with --ca {ca}",
            certs=certs,
            ca=certs / tls.CA_CERT,
        )
    log.info(
        "server certificate {path}, SHA-256 fingerprint {fingerprint}",
        path=identity.certificate,
        fingerprint=identity.fingerprint,
    )
    factory = ChatFactory(Chat(), reactor, motd=options["motd"], max_line=options["max-line"])  # type: ignore[arg-type]
    return ChatService(factory, identity.options, endpoints)

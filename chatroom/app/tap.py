"""`twistd chatroom`: its command-line options and the service they describe."""

from __future__ import annotations

import datetime
import getopt
import math
import os
import re
import socket
import sys
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from twisted.application.service import IService, MultiService
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import (
    IProtocolFactory,
    IReactorCore,
    IReactorFromThreads,
    IReactorTime,
    IStreamServerEndpoint,
)
from twisted.logger import Logger
from twisted.python import usage

from chatroom.app import config
from chatroom.app.metrics import metrics
from chatroom.app.service import AccountsWatch, ChatService, Listener, Reloader, motd_fault, read_motd
from chatroom.app.shutdown import stop_once
from chatroom.app.workers import Inherited, Workers
from chatroom.bus.history import RedisHistory
from chatroom.bus.limits import RedisBook, RedisCounts, RedisGuesses
from chatroom.bus.redis import RedisAddress, RedisLog, RedisUnreachable, Sharing
from chatroom.bus.shared import SharedChat
from chatroom.bus.stores import Keys, RedisAccountWriter, RedisStores
from chatroom.core.chat import Chat
from chatroom.core.errors import ChatError
from chatroom.core.history import HistoryLimits
from chatroom.core.members import RoomLimits
from chatroom.core.moderation import parse_duration
from chatroom.core.names import SERVICES, nick_key
from chatroom.core.state import StoreError
from chatroom.frontends.irc.frontend import IRCFrontEnd
from chatroom.frontends.line.frontend import LineFrontEnd
from chatroom.frontends.web.site import web_site
from chatroom.server import tls
from chatroom.server.auth import AccountWriter, Authenticator, AuthMode, FileAccountWriter, LoginBook
from chatroom.server.connection import ConnectionFactory, Dialect
from chatroom.server.limits import ConnectionLimits, allow_open_files, motd_lines
from chatroom.server.signup import RegistrationMode
from chatroom.server.transport import SendingReactor
from chatroom.stores.accounts import DEFAULT_FILE, MIN_PASSWORD, AccountBook, AccountStore
from chatroom.stores.history import DEFAULT_FILE as HISTORY_FILE
from chatroom.stores.history import SqliteHistory
from chatroom.stores.rooms import DEFAULT_FILE as ROOMS_FILE
from chatroom.stores.rooms import FileRoomStore

DEFAULT_LISTEN = "tcp:5050:backlog=1024"
DEFAULT_IRC = "tcp:6697:backlog=1024"
DEFAULT_WEB = "tcp:8443:backlog=1024"
REDIS_PREFIX = "chatroom"

S = TypeVar("S", ChatService, Workers)

log = Logger(namespace="chatroom")


def _hostname(name: str) -> str:
    """--hostname: a host name (non-ASCII ones as DNS writes them) or an IP address, as chatroom-certs renew takes;
    ValueError otherwise. It goes into the certificate and is the IRC server's name in every message."""
    try:
        return tls.valid_name(str(name))
    except tls.CertificateError:
        raise ValueError(f"must be a host name or an IP address, such as chat.example.org; not {name!r}") from None


def _default_hostname() -> str:
    """This machine's name, or localhost if it is not one a certificate and IRC can carry (my_laptop)."""
    try:
        return _hostname(socket.gethostname())
    except ValueError:
        return "localhost"


class Options(usage.Options):
    synopsis = "[options]"
    longdesc = (
        "Run a chatroom server: group chat over TLS, for browsers, its terminal client (`python -m chatroom.client`)"
        " and IRC clients. Nothing anyone says is logged, nor kept unless --history asks it to be."
    )
    optParameters: list[list[Any]] = [
        [
            "certs",
            "c",
            "certs",
            "Directory holding server.crt and server.key; on first start, a local CA (ca.pem) and a"
            " certificate it signed are generated there.",
        ],
        [
            "config",
            None,
            None,
            "TOML file of these options, by their long names (flood-rate = 5.0); the command line wins over it."
            " SIGHUP reads it again and applies the limits, the MOTD, registration and password-min; the rest takes a"
            " restart.",
        ],
        [
            "hostname",
            None,
            _default_hostname(),
            "Name written into a generated certificate, besides localhost, 127.0.0.1 and ::1; also the IRC server's"
            " name. A host name or an IP address.",
        ],
        ["irc-description", None, "chatroom", "What IRC clients are told of this server (LINKS, WHOIS)."],
        [
            "irc-password",
            None,
            None,
            "A server password IRC clients must give with PASS (accounts then log in with SASL); none by default.",
        ],
        ["motd", None, "", "Message of the day, shown to each person after they choose a nickname."],
        [
            "motd-file",
            None,
            None,
            "File holding the message of the day instead of --motd; read again on SIGHUP.",
        ],
        [
            "accounts",
            None,
            DEFAULT_FILE,
            "File of registered nicknames, managed with `chatroom-accounts`; re-read when it changes."
            " With --redis, Redis keeps them instead (docs/scaling.md).",
        ],
        [
            "rooms",
            None,
            ROOMS_FILE,
            "File keeping registered rooms (owners, operators, settings, bans, topics) and server bans;"
            " written on every change. With --redis, Redis keeps them instead (docs/scaling.md).",
        ],
        [
            "auth",
            None,
            None,
            "off, optional (registered nicknames need their password, guests use any other) or required (no"
            " guests). Default: optional, which accounts added while the server runs count in at once.",
        ],
        [
            "registration",
            None,
            "off",
            "open: people register accounts from their client (IRC's REGISTER, /register, the web client's form),"
            " 3 a day per address, slowed as logins are; connected: the same, once entered under a nickname (IRC:"
            " not before-connect); off: only chatroom-accounts adds them. SIGHUP applies it.",
        ],
        [
            "password-min",
            None,
            MIN_PASSWORD,
            "The fewest characters a password registered from a client may have (chatroom-accounts --password-min"
            " says the same for the administrator's). SIGHUP applies it.",
            int,
        ],
        [
            "redis",
            None,
            None,
            "Share the rooms with every chatroom process using this Redis: redis://[:PASSWORD@]HOST[:PORT][/DB],"
            " rediss://... (TLS) or unix:///PATH[?db=N] (docs/scaling.md). Without it, one process, nothing else.",
        ],
        [
            "redis-prefix",
            None,
            REDIS_PREFIX,
            "Prefix of chatroom's keys in Redis, so that several chat servers can share one Redis.",
        ],
        [
            "workers",
            None,
            1,
            "Processes serving the same listening sockets on this machine, sharing the chat through --redis"
            " (docs/scaling.md). One SIGTERM stops them all.",
            int,
        ],
        [
            "metrics",
            None,
            None,
            "Serve Prometheus metrics over plain HTTP on this endpoint, such as tcp:9123:interface=127.0.0.1"
            " (off by default). Counts only: nothing anyone said, and no nickname.",
        ],
        ["max-line", None, ConnectionLimits.max_line, "Longest line accepted from a client, in bytes.", int],
        ["flood-burst", None, ConnectionLimits.flood_burst, "Lines a client may send at once.", int],
        [
            "flood-rate",
            None,
            ConnectionLimits.flood_rate,
            "Lines per second a client may send after its burst; faster lines are read later, never dropped.",
            float,
        ],
        [
            "send-queue",
            None,
            ConnectionLimits.send_queue,
            "Bytes of output that may wait for a client that does not read; past that it is disconnected.",
            int,
        ],
        ["max-clients", None, ConnectionLimits.max_clients, "Connections the server holds at once.", int],
        [
            "max-per-address",
            None,
            ConnectionLimits.max_per_address,
            "Connections from one IPv4 address or IPv6 /64 (loopback is exempt unless --limit-loopback).",
            int,
        ],
        [
            "registration-timeout",
            None,
            ConnectionLimits.registration_timeout,
            "Seconds a connection has to finish TLS and choose a nickname.",
            float,
        ],
        [
            "idle-timeout",
            None,
            ConnectionLimits.idle_timeout,
            "Seconds of silence before the server pings a client, and again before it disconnects it.",
            float,
        ],
        ["max-rooms", None, RoomLimits.rooms_per_member, "Rooms one client may be in at once.", int],
        ["room-size", None, RoomLimits.members_per_room, "Members one room may hold; 0 for no limit.", int],
        [
            "max-sessions",
            None,
            RoomLimits.sessions_per_person,
            "Connections one person may have at once under one nickname (a phone and a laptop): a login to an"
            " account whose nickname is present joins that person instead of being refused.",
            int,
        ],
        [
            "linger",
            None,
            RoomLimits.linger,
            "Seconds a person whose last connection was lost without a quit stays, away, so that a reconnection"
            " reclaims their nickname and rooms (by logging in, or a guest by its resume token); the rooms see them"
            " quit only once it has passed. 0: they quit at once.",
            float,
        ],
        [
            "history",
            None,
            HistoryLimits.lines,
            "Messages each room keeps, for those who join later or come back after a disconnection: in memory and"
            " written down (--history-store), or with --redis in Redis (docs/scaling.md); 0 keeps nothing. Private"
            " messages are kept only with --history-private.",
            int,
        ],
        [
            "history-store",
            None,
            "",
            "Where kept messages are written down, so that a restart keeps the registered rooms' history:"
            f" sqlite:PATH, or memory for nowhere. Default with --history: sqlite:{HISTORY_FILE} beside the accounts"
            " file; with --redis, Redis keeps it and this must not be given.",
        ],
        [
            "history-age",
            None,
            "0",
            "Drop kept messages older than this, such as 24h or 7d; 0 drops them only by --history's number.",
        ],
        [
            "history-memory",
            None,
            "256MB",
            "The most memory all rooms' kept messages may take together, such as 256MB or 2GB (each counted as its"
            " text plus 300 bytes); past it the server's oldest kept messages are dropped from memory first (the"
            " history file keeps them, to be read back). With --redis every process drops the same ones.",
        ],
    ]
    optFlags: list[list[Any]] = [
        ["no-irc", None, "Serve no IRC at all (by default IRC clients connect with TLS on port 6697)."],
        ["no-web", None, "Serve no web site (by default browsers connect with HTTPS on port 8443)."],
        [
            "web-hsts",
            None,
            "Tell browsers to use HTTPS only for this host (HSTS), whatever the port; on port 443 it is always sent.",
        ],
        ["no-multiclient", None, "One connection per person, as --max-sessions 1."],
        [
            "history-private",
            None,
            "Keep private conversations too, as rooms' messages are kept (--history, --history-age, --history-memory),"
            " readable by the two people in each only, never by administrators; between two accounts they are"
            " written to the history store (with --redis, Redis), a guest's end with its session (docs/running.md).",
        ],
        [
            "limit-loopback",
            None,
            "Count loopback connections against --max-per-address too (by default they are exempt, so that one"
            " machine can run the benchmark's thousands of clients).",
        ],
    ]
    minimums = {
        "max-line": 64,
        "flood-burst": 1,
        "flood-rate": 0.01,
        "send-queue": 1024,
        "max-clients": 1,
        "password-min": 1,
        "max-per-address": 1,
        "registration-timeout": 0.1,
        "idle-timeout": 0.1,
        "max-rooms": 1,
        "room-size": 0,
        "max-sessions": 1,
        "linger": 0,
        "history": 0,
        "workers": 1,
    }

    def __init__(self) -> None:
        usage.Options.__init__(self)
        self["listen"] = []
        self["irc"] = []
        self["irc-plaintext"] = []
        self["web"] = []
        self["web-plaintext"] = []
        self["web-origin"] = []
        self.from_file: dict[str, Any] = {}
        self.given: dict[str, str] = {}  # what the command line gives, by long name
        self.arguments: list[str] = []  # the command line itself, for --workers to give every worker
        self.pinned: set[str] = set()  # settings the command line gives: a reload of the file leaves them

    def settings(self) -> dict[str, config.Setting]:
        """Every option as --config takes it: its type, default and minimum."""
        table = {
            name: config.Setting(rest[0] if rest else str, default, self.minimums.get(name))
            for name, _, default, _, *rest in self.optParameters
        }
        table.update((name, config.Setting(bool, False)) for name, _, _ in self.optFlags)
        table.update((name, replace(table[name], meaning=meaning)) for name, meaning in MEANINGS.items())
        table["listen"] = config.Setting(list, [DEFAULT_LISTEN])
        table["irc"] = config.Setting(list, [DEFAULT_IRC])
        table["irc-plaintext"] = config.Setting(list, [])
        table["web"] = config.Setting(list, [DEFAULT_WEB])
        table["web-plaintext"] = config.Setting(list, [])
        table["web-origin"] = config.Setting(list, [])
        return table

    def parseOptions(self, options: list[str] | None = None) -> None:
        """The --config file first, then the command line over it."""
        arguments = list(sys.argv[1:] if options is None else options)
        self.arguments = arguments
        self.given = self._given(arguments)
        if "config" in self.given:
            path = Path(self.given["config"])
            try:
                self.from_file = config.read(path, self.settings())
            except config.ConfigError as error:
                raise usage.UsageError(str(error)) from None
            for name in ENDPOINT_LISTS:
                for endpoint in self.from_file.get(name, []):
                    _check_endpoint(endpoint, str(path))
            for name, value in self.from_file.items():
                if name not in LISTS:
                    self[name] = value
        usage.Options.parseOptions(self, arguments)
        self.pinned = set(self.given) - {"config"}  # a reload of the file leaves what the command line gives
        if self["motd-file"]:
            self.pinned.add("motd")  # the file of --motd-file is the message of the day

    def _given(self, arguments: list[str]) -> dict[str, str]:
        """The options the command line gives, by their long names, read as usage.Options reads them."""
        try:
            found, _ = getopt.getopt(arguments, self.shortOpt, self.longOpt)
        except getopt.error:
            return {}  # usage.Options says what is wrong
        return {self.synonyms[option.lstrip("-")]: value for option, value in found}

    def opt_listen(self, endpoint: str) -> None:
        """Where to listen, as a Twisted endpoint string; repeat for several (default: tcp:5050:backlog=1024, all IPv4 interfaces). chatroom adds TLS itself, so give a plain tcp:, tcp6: or unix: endpoint."""  # noqa: E501
        _check_endpoint(endpoint, "--listen")
        self["listen"].append(endpoint)

    opt_l = opt_listen

    def opt_irc(self, endpoint: str) -> None:
        """Serve IRC with TLS (the server's certificate) on this endpoint; repeat for several (default: tcp:6697:backlog=1024 unless another IRC endpoint or --no-irc is given)."""  # noqa: E501
        _check_endpoint(endpoint, "--irc")
        self["irc"].append(endpoint)

    def opt_irc_plaintext(self, endpoint: str) -> None:
        """Serve IRC without TLS on this endpoint (never by default): for loopback, a TLS-terminating proxy, or tests."""  # noqa: E501
        _check_endpoint(endpoint, "--irc-plaintext")
        self["irc-plaintext"].append(endpoint)

    def opt_web(self, endpoint: str) -> None:
        """Serve the web client and IRC over WebSocket (at /irc) with HTTPS, the server's certificate, on this endpoint; repeat for several (default: tcp:8443:backlog=1024 unless another web endpoint or --no-web is given)."""  # noqa: E501
        _check_endpoint(endpoint, "--web")
        self["web"].append(endpoint)

    def opt_web_plaintext(self, endpoint: str) -> None:
        """Serve the web site over plain HTTP on this endpoint (never by default): for loopback, a TLS-terminating proxy, or tests."""  # noqa: E501
        _check_endpoint(endpoint, "--web-plaintext")
        self["web-plaintext"].append(endpoint)

    def opt_web_origin(self, origin: str) -> None:
        """Let pages from this origin (https://host[:port]) use the WebSocket too; repeat for several. By default only the server's own pages may (the host the browser asked for)."""  # noqa: E501
        self["web-origin"].append(origin)  # checked in postOptions, with those of the --config file

    def postOptions(self) -> None:
        for name in LISTS:
            if not self[name]:
                self[name] = list(self.from_file.get(name, []))
        if self["no-irc"] and ("irc" in self.given or "irc-plaintext" in self.given):
            raise usage.UsageError("--no-irc serves no IRC: it cannot go with --irc or --irc-plaintext")
        if self["no-web"] and ("web" in self.given or "web-plaintext" in self.given):
            raise usage.UsageError("--no-web serves no web site: it cannot go with --web or --web-plaintext")
        self.update(config.served(self, self.settings()))  # as a SIGHUP settles them again, to compare
        try:
            self["web-origin"] = [_origin(origin) for origin in self["web-origin"]]
        except ValueError as error:
            raise usage.UsageError(str(error)) from None
        if self["motd"] and self["motd-file"]:
            if "motd-file" in self.given and "motd" not in self.given:
                self["motd"] = ""  # the command line wins over the file
            elif "motd" in self.given and "motd-file" not in self.given:
                self["motd-file"] = None
            else:
                raise usage.UsageError("give the message of the day with --motd or --motd-file, not both")
        for name, meaning in MEANINGS.items():
            try:
                self[name] = meaning(self[name])
            except ValueError as error:
                raise usage.UsageError(f"--{name} {error}") from None
        if self["history-store"] and self["redis"]:
            raise usage.UsageError("--history-store is for a server alone: with --redis, Redis keeps the history")
        if self["history-store"] not in ("", "memory") and not self["history-store"].startswith("sqlite:"):
            raise usage.UsageError("--history-store must be sqlite:PATH or memory")
        if self["history-private"] and not self["history"]:
            raise usage.UsageError("--history-private needs --history N: private conversations are kept as rooms' are")
        if self["workers"] > 1 and not self["redis"]:
            raise usage.UsageError("--workers needs --redis: the workers share the chat through it")
        if self["auth"] not in (None, *(mode.value for mode in AuthMode)):
            raise usage.UsageError("--auth must be off, optional or required")
        for name, minimum in self.minimums.items():
            if not math.isfinite(self[name]) or self[name] < minimum:
                raise usage.UsageError(f"--{name} must be at least {minimum}, and a finite number")
        self._say_unused()

    def _say_unused(self) -> None:
        """One warning for each option given on the command line that another makes idle, so that nobody believes
        it in force (not refused: a deployment's scripts may carry it ahead of the option that uses it)."""
        nothing_kept = "without --history N nothing is kept"
        idle = [
            *((name, not self["history"], nothing_kept) for name in ("history-age", "history-memory", "history-store")),
            ("web-hsts", not self["web"], "no web listener is served"),
            ("max-sessions", bool(self["no-multiclient"]), "--no-multiclient allows one"),
        ]
        for name, unused, why in idle:
            if unused and name in self.given:
                log.warn("--{name} has no effect: {why}", name=name, why=why)


def _age(text: str) -> float:
    """--history-age in seconds: a duration, or 0 for none; ValueError otherwise."""
    if str(text) in ("0", "off"):
        return 0.0
    try:
        seconds = parse_duration(str(text))
    except ChatError:
        seconds = None
    if seconds is None:
        raise ValueError(f"must be a duration from 1s to 3650d, such as 24h, or 0; not {text}")
    return seconds


_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
MEMORY_MIN = 1024 * 1024


def _memory(text: str | int) -> int:
    """--history-memory in bytes: a number, with K, M, G or T (powers of 1024, with or without "B" or "iB")."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*", str(text), re.IGNORECASE)
    size = int(float(found[1]) * _UNITS[found[2].upper()]) if found else 0
    if size < MEMORY_MIN:
        raise ValueError(f"must be a size of at least 1MB, such as 256MB or 2GB; not {text}")
    return size


def _origin(text: str) -> str:
    """A --web-origin: scheme://host[:port], as browsers send it in Origin; ValueError otherwise."""
    origin = str(text).strip().rstrip("/").lower()
    if not re.fullmatch(r"https?://[^/\s?#@]+", origin):
        raise ValueError(f"--web-origin takes scheme://host[:port], such as https://chat.example.org; not {text}")
    return origin


def _redis(url: str | None) -> RedisAddress | None:
    """--redis's address, or None without it; ValueError for what is not a Redis URL."""
    return RedisAddress.parse(url) if url else None


# The options whose text the server turns into something else: the value it runs with, from the text.
def _registration(text: str) -> str:
    """--registration: open or off; ValueError otherwise."""
    modes = [mode.value for mode in RegistrationMode]
    return RegistrationMode(text).value if text in modes else _refuse("must be open, connected or off")


def _refuse(why: str) -> str:
    raise ValueError(why)


def _motd(text: str) -> str:
    """--motd (or a --config file's motd) as given, if a login can carry it; ValueError otherwise."""
    motd_lines(str(text))
    return str(text)


MEANINGS = {
    "redis": _redis,
    "history-age": _age,
    "history-memory": _memory,
    "registration": _registration,
    "hostname": _hostname,
    "motd": _motd,
}


def makeService(options: Options, reactor: IReactorCore | None = None) -> IService:
    if reactor is None:
        from twisted.internet import reactor as default_reactor

        reactor = default_reactor
    stop_once(reactor)
    certs = Path(options["certs"])
    try:
        identity = tls.load_or_create(certs, options["hostname"])
    except tls.CertificateError as error:
        raise SystemExit(f"chatroom: {error}") from None
    irc = IRCFrontEnd.serving(options["hostname"], options["irc-password"], options["irc-description"])
    web = irc.over_websocket()
    site = partial(web_site, dialect=web, origins=tuple(options["web-origin"]), hsts=options["web-hsts"] or None)
    listeners = [
        *_listeners(reactor, options, "listen", LineFrontEnd, True),
        *_listeners(reactor, options, "irc", irc, True),
        *_listeners(reactor, options, "irc-plaintext", irc, False),
        *_listeners(reactor, options, "web", web, True, site),
        *_listeners(reactor, options, "web-plaintext", web, False, site),
    ]
    inherited = Inherited.found(os.environ)  # a worker of --workers: its parent's sockets, where it would listen
    if inherited is not None:
        inherited.follow_parent()
        adopted = inherited.endpoints(reactor)
        listeners = [replace(each, endpoint=endpoint) for each, endpoint in zip(listeners, adopted, strict=True)]
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
    if "hostname" in options.given or "hostname" in options.from_file:
        _check_hostname(options["hostname"], identity, certs)
    for caution in tls.cautions(identity, certs, datetime.datetime.now(datetime.UTC)):
        log.warn("{caution}", caution=caution)
    limits, room_limits = config.limits(options)
    history = HistoryLimits(
        options["history"], options["history-age"], options["history-memory"], bool(options["history-private"])
    )
    allow_open_files(limits.max_clients)
    clock = IReactorTime(reactor)
    redis: RedisAddress | None = options["redis"]
    stores = None if redis is None else RedisStores(options["redis-prefix"], clock)  # accounts, rooms and bans
    sharing = bus = written = history_file = None
    try:
        if redis is not None:
            redis.check()
            if inherited is None:  # the process the administrator started, not each of its workers
                _unused_files(options, redis, Keys(options["redis-prefix"]))
            written = RedisHistory(options["redis-prefix"], clock, history) if history.lines else None
            bus = RedisLog(redis, clock, options["redis-prefix"], shared=stores, history=written)
        # With --redis, the slow-downs of logins count every process, as do the caps and server passwords below.
        secret = tls.secret(identity, "chatroom SCRAM decoy salts")  # every process's, as real salts are
        if bus is None:
            auth = _authenticator(options, clock, stores, secret)
        else:
            writer = RedisAccountWriter(bus, options["redis-prefix"])
            auth = _authenticator(options, clock, stores, secret, RedisBook(bus), writer)
        rooms = FileRoomStore(Path(options["rooms"])) if stores is None else stores.rooms
        if bus is None:
            history_file = _history_file(options, history, reactor)
            chat = Chat(
                room_limits,
                accounts=auth.store if auth else None,
                store=rooms,
                history=history,
                history_store=history_file,
                clock=clock,
            )
            chat.search_index = history_file  # searched in the file (FTS5); without one, in the rooms' kept lines
        else:
            chat = SharedChat(
                bus,
                clock.seconds,
                room_limits,
                accounts=auth.store if auth else None,
                store=rooms,
                history=history,
                history_store=written,
            )
            sharing = Sharing(chat.replica, bus)
            log.info("sharing the chat through Redis at {url}", url=bus.address.shown())
        chat.reserved = SERVICES | {nick_key(options["hostname"])}  # the source of the server's own notices
    except (StoreError, RedisUnreachable) as error:
        raise SystemExit(f"chatroom: {error}") from None
    if stores is None:  # Redis's are counted once read, as this process joins the others
        log.info(
            "registered rooms and server bans: {path} ({rooms} rooms, {bans} server bans)",
            path=options["rooms"],
            rooms=len(chat.rooms),
            bans=len(chat.server_bans),
        )
    motd_file = Path(options["motd-file"]) if options["motd-file"] else None
    motd = options["motd"]  # checked as the options were read (MEANINGS)
    if motd_file is not None:
        try:
            motd = read_motd(motd_file)
        except (OSError, ValueError) as error:
            raise SystemExit(f"chatroom: cannot read --motd-file {motd_fault(motd_file, error)}") from None
    counts, guesses = (None, None) if bus is None else (RedisCounts(bus), RedisGuesses(bus))
    factory = ConnectionFactory(chat, clock, LineFrontEnd, limits, motd, auth, counts, guesses)
    config.sign_up(factory.registrar.signup, options)
    context = tls.SwappableContext(identity)
    configured = None
    if options["config"]:
        current = {name: options[name] for name in options.settings()}
        configured = config.Configured(Path(options["config"]), options.settings(), current, options.pinned)
    reloader = Reloader(IReactorFromThreads(reactor), certs, context, factory, motd_file, configured)
    metrics_endpoint = None
    if options["metrics"]:
        metrics_endpoint = _endpoint(reactor, "metrics", options["metrics"])
    if options["workers"] > 1 and inherited is None:
        # Everything above checked the options as each worker will; the workers build it again for themselves.
        held = (options["metrics"], metrics_endpoint) if metrics_endpoint is not None else None
        return _bound(options, Workers(reactor, options["workers"], options.arguments, listeners, held))
    if inherited is not None and metrics_endpoint is not None:
        metrics_endpoint = inherited.metrics_endpoint(reactor)  # worker 1's alone
    served = None
    if metrics_endpoint is not None:
        front_ends = [listener.dialect.name for listener in listeners]
        served = metrics(options["metrics"], metrics_endpoint, chat, factory, front_ends, auth, clock)
    ready = None if sharing is None else sharing.replica.ready
    watch = None  # with --redis, each process hears of a removal in the log; without accounts, nobody logs in
    if auth is not None and stores is None:
        watch = AccountsWatch(Path(options["accounts"]), clock, chat.accounts_changed)
    service = _bound(options, ChatService(factory, context, listeners, reloader, served, ready, watch))
    beneath = sharing or history_file
    if beneath is None:
        return service
    both = MultiService()
    both.addService(beneath)  # started first, stopped last: the goodbyes still reach the others, the last lines disk
    both.addService(service)
    return both


def _check_hostname(hostname: str, identity: tls.ServerIdentity, certs: Path) -> None:
    """Warn, in one line, if the certificate in use does not name --hostname: it is written only into one that is
    generated, and clients connecting by that name would refuse the server."""
    certificate = identity.chain[0]
    if tls.covers(certificate, hostname):
        return
    names = tls.names_of(certificate)
    if tls.issued_here(certs):
        wanted = " ".join(dict.fromkeys([hostname, *names]))  # its names kept, this one first: the common name
        advice = f"renew it for that name with chatroom-certs --certs {certs} renew {wanted}, then send SIGHUP"
    else:
        advice = "get one for that name where this one came from (certbot, your CA), then send SIGHUP"
    log.warn(
        "the server certificate {path} does not name --hostname {hostname} (it names {names}), so clients connecting"
        " by that name refuse it: --hostname is written only into a certificate generated at the first start; {advice}",
        path=identity.certificate,
        hostname=hostname,
        names=", ".join(names) or "no host",
        advice=advice,
    )


def _history_file(options: Options, history: HistoryLimits, reactor: IReactorCore) -> SqliteHistory | None:
    """The history file of a server alone, if it keeps history and may write it down; None for memory only."""
    store = options["history-store"] or f"sqlite:{Path(options['accounts']).parent / HISTORY_FILE}"
    if not history.lines or store == "memory":
        return None
    path = Path(store.removeprefix("sqlite:"))
    log.info("history: up to {lines} lines a room, written down in {path}", lines=history.lines, path=path)
    return SqliteHistory(path, history, IReactorFromThreads(reactor), IReactorTime(reactor))


def _bound(options: Options, service: S) -> S:
    """The service, listening already if twistd runs it: before twistd writes its pidfile and forks a daemon.

    A port in use is then one line on the terminal (SystemExit), and leaves no pidfile behind: raised once
    twistd had forked, it reached the user as a bytes repr, the log as a traceback, and `-n` left the pidfile.
    """
    if getattr(options, "parent", None) is not None:  # twistd's (or twist's) own options, when it runs us
        service.privilegedStartService()
    return service


def _unused_files(options: Options, redis: RedisAddress, keys: Keys) -> None:
    """With --redis, say in one line each if the accounts or rooms file holds what Redis lacks, or a history file
    is beside them: they are not used.

    Not copied here: which of a file and Redis is right is the administrator's call, and with processes on
    several machines, each would copy its own file and the first would win unseen.
    """
    target = f"--redis {redis.shown()}" + (f" --redis-prefix {keys.prefix}" if keys.prefix != REDIS_PREFIX else "")
    history = Path(options["accounts"]).parent / HISTORY_FILE
    if history.is_file():
        log.warn(
            "{path} holds the history a server alone kept, and with --redis it is not used (nothing copies it into"
            " Redis, which keeps the rooms' history from now on): move it away to keep it, and this line goes",
            path=history,
        )
    try:
        accounts = AccountStore(Path(options["accounts"])).all()
        saved = FileRoomStore(Path(options["rooms"])).load()
    except (OSError, StoreError):
        return  # unreadable: it is not what anyone meant to bring along
    unused = (
        " and Redis none, and with --redis the file is not used: copy them into Redis once with"
        " chatroom-{module} --file {path} {target} import"
    )
    if accounts and redis.ask("HLEN", keys.accounts) == b"0":
        log.warn(
            "{path} holds {count} account(s)" + unused,
            path=options["accounts"], count=len(accounts), module="accounts", target=target,
        )  # fmt: skip
    held = saved.rooms or saved.server_bans
    if held and redis.ask("HLEN", keys.rooms) == redis.ask("EXISTS", keys.server_bans) == b"0":
        log.warn(
            "{path} holds {rooms} registered room(s) and {bans} server ban(s)" + unused,
            path=options["rooms"], rooms=len(saved.rooms), bans=len(saved.server_bans), module="rooms",
            target=target,
        )  # fmt: skip


def _listeners(
    reactor: IReactorCore,
    options: Options,
    option: str,
    dialect: type[Dialect],
    secure: bool,
    site: Callable[[ConnectionFactory], IProtocolFactory] | None = None,
) -> list[Listener]:
    listeners = []
    for description in options[option]:
        # TCP connections that send at once, without a reactor turn per write (chatroom.server.transport).
        endpoint = _endpoint(SendingReactor(reactor), option, description)
        listeners.append(Listener(description, endpoint, dialect, secure, site))
    return listeners


def _endpoint(reactor: Any, option: str, description: str) -> IStreamServerEndpoint:
    """The endpoint an option describes, or SystemExit with one line naming the option, the value and the fault.

    Twisted's parsers fail in many ways besides ValueError: a TypeError for an unknown or repeated parameter (an
    IPv6 address's unescaped colons make extra fields), an IndexError for a systemd socket that was not passed,
    an OSError for a file an ssl: endpoint names.
    """
    try:
        endpoint: IStreamServerEndpoint = serverFromString(reactor, description)
    except Exception as error:
        fault = _endpoint_fault(description, error)
        raise SystemExit(f"chatroom: bad --{option} endpoint '{description}': {fault}") from None
    return endpoint


def _endpoint_fault(description: str, error: Exception) -> str:
    """What is wrong with an endpoint string, in words, from the exception Twisted's parser raised."""
    text = str(error)
    escape = r"a colon inside a value must be escaped with a backslash, as IPv6 addresses' are (interface=\:\:1)"
    if isinstance(error, TypeError):
        unknown = re.search(r"unexpected keyword argument '([^']*)'", text)
        missing = re.search(r"missing \d+ required positional arguments?: '([^']*)'", text)
        twice = re.search(r"multiple values for argument '([^']*)'", text)
        if unknown:
            return f"no such parameter {unknown[1]}="
        if missing:
            return f"no {missing[1]} given"
        if twice:
            return f"{twice[1]} given twice; {escape}"
        return f"too many fields; {escape}"
    if isinstance(error, IndexError) and description.split(":", 1)[0].lower() == "systemd":
        return "systemd passed no socket at that index (start it from a systemd socket unit, or give tcp:PORT)"
    if isinstance(error, OSError):
        where = f" {error.filename}" if error.filename else ""
        return f"cannot read{where}: {error.strerror or error}"
    number = re.fullmatch(r"invalid literal for int\(\) with base 10: (.*)", text)
    if number:
        return f"{number[1]} is not a number"
    return text or type(error).__name__


def _authenticator(
    options: Options,
    clock: IReactorTime,
    stores: RedisStores | None,
    secret: bytes,
    book: LoginBook | None = None,
    writer: AccountWriter | None = None,
) -> Authenticator | None:
    """The accounts of the file, or with --redis those Redis keeps; optional unless told, even with none yet.

    Accounts added while the server runs count at once: a server that started without any must not let guests
    take the nicknames registered later.
    """
    mode = AuthMode(options["auth"] or AuthMode.OPTIONAL.value)
    store: AccountBook
    if stores is None:
        store = file = AccountStore(Path(options["accounts"]))
        if mode is not AuthMode.OFF:
            file.check()  # StoreError: one line, as for --rooms
        writer = FileAccountWriter(file)
        where, adding = str(file.path), f"chatroom-accounts --file {file.path} add NAME"
        held = file.exists()
    else:
        redis: RedisAddress = options["redis"]
        store, where = stores.accounts, f"Redis at {redis.shown()}"
        adding = "chatroom-accounts --redis URL add NAME"
        held = mode is not AuthMode.OFF and redis.ask("HLEN", stores.names.accounts) != b"0"
    if mode is AuthMode.REQUIRED and not held:
        raise SystemExit(f"chatroom: --auth required needs accounts, and {where} holds none: add one with {adding}")
    if mode is AuthMode.OPTIONAL and not held:
        log.info(
            "accounts: optional, from {where}, which holds none yet: registered nicknames need their password from"
            " the first one added ({adding})",
            where=where,
            adding=adding,
        )
    else:
        log.info("accounts: {mode}, from {where}", mode=mode.value, where=where)
    return None if mode is AuthMode.OFF else Authenticator(mode, store, clock, book, writer, secret)


ENDPOINT_LISTS = config.ENDPOINT_LISTS  # repeatable options of endpoints
LISTS = (*ENDPOINT_LISTS, "web-origin")  # repeatable options: the command line's, else the --config file's


def _check_endpoint(endpoint: str, source: str) -> None:
    kind = endpoint.split(":", 1)[0].lower()
    if kind in ("ssl", "tls"):
        raise usage.UsageError(f"{source} takes plain endpoints such as tcp:5050; chatroom adds TLS itself")
    if kind == "haproxy":
        # Twisted's wrapper starts the connection before its PROXY header says whose it is: every limit per
        # address would count the balancer's.
        raise usage.UsageError(f"{source}: the PROXY protocol (haproxy:) is not supported yet; see docs/running.md")

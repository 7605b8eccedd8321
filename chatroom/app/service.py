"""The running server: TLS listeners in front of a ConnectionFactory, a reload on SIGHUP, a watch on the accounts
file, a goodbye at shutdown."""

from __future__ import annotations

import datetime
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocolFactory,
    IReactorFromThreads,
    IReactorTime,
    IStreamServerEndpoint,
)
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from chatroom.app import config
from chatroom.app.metrics import Metrics
from chatroom.server import tls
from chatroom.server.connection import ConnectionFactory, Dialect, describe
from chatroom.server.heap import HeapTrim, malloc_trim
from chatroom.server.limits import allow_open_files, motd_lines
from chatroom.server.tls_transport import Flushes, TLSFactory
from chatroom.stores.files import SMALL_FILE, read_bounded, stamp

log = Logger(namespace="chatroom")


class Reloader:
    """What SIGHUP reloads: the certificate and key, the message of the day if it comes from a file, and the
    limits, MOTD, registration and password-min of a --config file.

    Each is logged as reloaded, or as kept with the reason: a bad new certificate leaves the old one in service.
    Connections already open keep their certificate and their per-connection limits; the connection caps, room
    limits and registration settings count for them at once (config.RELOADABLE).
    """

    def __init__(
        self,
        reactor: IReactorFromThreads,
        certs: Path,
        context: tls.SwappableContext,
        factory: ConnectionFactory,
        motd_file: Path | None = None,
        configured: config.Configured | None = None,
    ) -> None:
        self.reactor = reactor
        self.certs = certs
        self.context = context
        self.factory = factory
        self.motd_file = motd_file
        self.configured = configured

    def signalled(self, number: int, frame: FrameType | None) -> None:
        """A signal interrupts whatever runs: reload from the reactor's loop instead, as Twisted does for SIGINT."""
        self.reactor.callFromThread(self.reload)

    def reload(self) -> None:
        try:
            identity = tls.load(self.certs)
        except tls.CertificateError as error:
            log.error("SIGHUP: kept the certificate in service: {error}", error=error)
        else:
            self.context.replace(identity)
            log.info(
                "SIGHUP: reloaded {path}: SHA-256 fingerprint {fingerprint}, expires {date}",
                path=identity.certificate,
                fingerprint=identity.fingerprint,
                # A string: a worker's events reach the parent's log as JSON, and Twisted's flattening of an event for
                # JSON keeps str() of a field, its format (%Y-%m-%d) lost: a worker logged "2027-03-06 19:23:10+00:00".
                date=f"{identity.expires:%Y-%m-%d}",
            )
            for caution in tls.cautions(identity, self.certs, datetime.datetime.now(datetime.UTC)):
                log.warn("SIGHUP: {caution}", caution=caution)
        if self.motd_file is not None:
            try:
                self.factory.motd = motd_lines(read_motd(self.motd_file))
            except (OSError, ValueError) as error:
                log.error("SIGHUP: kept the message of the day: {why}", why=motd_fault(self.motd_file, error))
            else:
                log.info("SIGHUP: reloaded the message of the day from {path}", path=self.motd_file)
        if self.configured is not None:
            self._reload_settings(self.configured)

    def _reload_settings(self, configured: config.Configured) -> None:
        """Apply what changed in the --config file and may change while running; say why for the rest."""
        try:
            values = config.read(configured.path, configured.settings)
            meanings = config.meant(configured.path, values, configured.settings)
        except config.ConfigError as error:
            log.error("SIGHUP: kept every setting: {error}", error=error)
            return
        # The endpoint lists a restart would serve, with the command line's no-irc, no-web and lists where it gives
        # them: a file's no-irc = true, or web = [...] under --no-web, leaves IRC's or the web's none, unchanged.
        settled = {name: configured.current[name] if name in configured.pinned else values.get(name)
                   for name in (*config.ENDPOINT_LISTS, "no-irc", "no-web")}  # fmt: skip
        for name, endpoints in config.served(settled, configured.settings).items():
            if name not in configured.pinned:
                meanings[name] = endpoints
        changes = {}
        for name in configured.settings:
            wanted, now = meanings[name], configured.current[name]
            if name == "config" or wanted == now or (name in configured.pinned and name not in values):
                continue
            if name in configured.pinned:
                log.info("SIGHUP: kept {name}: the command line sets it", name=name)
            elif name not in config.RELOADABLE:
                log.warn("SIGHUP: kept {name}: changing it takes a restart", name=name)
            else:
                changes[name] = wanted
        configured.current.update(changes)
        connection_limits, room_limits = config.limits(configured.current)
        self.factory.limits = self.factory.admission.limits = connection_limits
        self.factory.chat.limits = room_limits
        if "motd" in changes:
            self.factory.motd = motd_lines(str(changes["motd"]))  # checked as the file was read (tap's MEANINGS)
        config.sign_up(self.factory.registrar.signup, configured.current)
        if "max-clients" in changes:
            allow_open_files(connection_limits.max_clients)
        for name, value in changes.items():
            log.info("SIGHUP: {name} is now {value!r}, {when}", name=name, value=value, when=config.RELOADABLE[name])


ACCOUNTS_POLL = 1.0  # seconds between looks at the accounts file: at most this long after a removal, its sessions end


class AccountsWatch:
    """Looks at the accounts file every ACCOUNTS_POLL seconds and, once a change has settled, has the chat put out
    whoever is logged in to an account since removed (Chat.accounts_changed).

    `chatroom-accounts remove` only replaces the file: otherwise the server would see the removal at the next thing
    that reads the accounts (a login), and its person stayed. A stat a second costs nothing, and needs neither a
    signal from the administrator nor inotify. With --redis there is no file: each process hears the change in
    the log (chatroom.bus.shared).

    Settled: the same at two looks in a row. A file written in place (`cp backup accounts.db`, an editor) may be
    caught empty or cut short, which reads as every account removed. A look that fails, or a change that fails to
    be applied, is logged and the watch goes on: stopped, it would leave a later removal's people in the chat.
    """

    def __init__(self, path: Path, clock: IReactorTime, changed: Callable[[], None]) -> None:
        self.path = path
        self.changed = changed
        self._acted = self._seen = stamp(path)  # what was last applied, and what the last look saw
        self._failing = False  # the last look failed, and said so
        self._looking = LoopingCall(self._look)
        self._looking.clock = clock

    def start(self) -> None:
        self._looking.start(ACCOUNTS_POLL, now=False)

    def stop(self) -> None:
        if self._looking.running:
            self._looking.stop()

    def _look(self) -> None:
        try:
            seen = stamp(self.path)
        except OSError as error:
            if not self._failing:
                log.warn("cannot look at {path} for removed accounts: {why}", path=self.path, why=error.strerror)
            self._failing = True
            return
        self._failing = False
        if seen != self._seen:  # still changing, perhaps: the next look says
            self._seen = seen
        elif seen != self._acted:
            self._acted = seen
            try:
                self.changed()
            except Exception:
                log.failure("could not put out the people of accounts removed from {path}", path=self.path)


def read_motd(path: Path) -> str:
    """--motd-file's text, checked (motd_lines); OSError if it cannot be read or is no small regular file,
    ValueError if a login cannot carry it."""
    text = read_bounded(path, SMALL_FILE).decode("utf-8", errors="replace")  # then bounded as a login carries it
    motd_lines(text)
    return text


def motd_fault(path: Path, error: OSError | ValueError) -> str:
    """Why --motd-file cannot be used (read_motd's error), in one line naming it."""
    return f"{path}: {error.strerror if isinstance(error, OSError) else error}"


@dataclass(frozen=True)
class Listener:
    """One endpoint and the language spoken on it; TLS unless it is one of the plaintext listeners.

    `site`: a web listener's (chatroom.frontends.web.site), built on the shared ConnectionFactory; its WebSocket
    connections speak `dialect`.
    """

    description: str
    endpoint: IStreamServerEndpoint
    dialect: type[Dialect]
    tls: bool = True
    site: Callable[[ConnectionFactory], IProtocolFactory] | None = None

    def listening(self, port: IListeningPort) -> None:
        log.info(
            "chatroom listening on {address} {security} ({dialect})",
            address=describe(port.getHost()),
            dialect=self.dialect.name if self.site is None else "web: the web client, and IRC over WebSocket",
            security="with TLS" if self.tls else "in plaintext",
        )


class ChatService(Service):
    """Listens on every endpoint with one TLS context; at stop, closes them and says goodbye to everyone."""

    def __init__(
        self,
        factory: ConnectionFactory,
        context: tls.SwappableContext,
        listeners: list[Listener],
        reloader: Reloader | None = None,
        metrics: Metrics | None = None,
        ready: Deferred[None] | None = None,
        accounts: AccountsWatch | None = None,
    ) -> None:
        self.factory = factory
        self.context = context  # one TLS context for every listener
        self.listeners = listeners
        self.reloader = reloader
        self.metrics = metrics  # served over plain HTTP, without TLS
        # With --redis, connections are accepted once this process holds the chat's state: until then they wait
        # in the kernel's queue, or another worker of --workers takes them, rather than being refused.
        self.ready = ready
        self.accounts = accounts  # None with --redis, or without accounts
        self.ports: list[IListeningPort] = []
        self.heap = HeapTrim(factory.clock, malloc_trim())
        self._previous_sighup: Any = None

    def privilegedStartService(self) -> None:
        """Bind before twistd drops privileges (chatroom.app.tap binds earlier still: before twistd daemonizes)."""
        if self.ports:
            return  # bound already
        flushes = Flushes(self.factory.clock)  # one for every listener: a broadcast crosses them
        for listener in self.listeners:
            front: IProtocolFactory = (
                self.factory.speaking(listener.dialect) if listener.site is None else listener.site(self.factory)
            )
            if listener.tls:
                front = TLSFactory(self.context, front, flushes, self.heap)
            listener.listening(self._listen(listener.description, listener.endpoint, front))
        if self.metrics is not None:
            port = self._listen(self.metrics.description, self.metrics.endpoint, self.metrics.site)
            log.info("chatroom metrics on http://{address}/metrics", address=describe(port.getHost()))

    def _listen(self, description: str, endpoint: IStreamServerEndpoint, factory: IProtocolFactory) -> IListeningPort:
        return bind(description, endpoint, factory, self.ports)

    def startService(self) -> None:
        self.privilegedStartService()
        if self.ready is not None and not self.ready.called:
            chat_ports = self.ports[: len(self.listeners)]
            for port in chat_ports:
                port.stopReading()  # type: ignore[attr-defined]
            self.ready.addCallback(self._accept, chat_ports)
        if self.reloader is not None:
            self._previous_sighup = signal.signal(signal.SIGHUP, self.reloader.signalled)
        if self.metrics is not None:
            self.metrics.start()
        if self.accounts is not None:
            self.accounts.start()
        Service.startService(self)

    def _accept(self, result: None, ports: list[IListeningPort]) -> None:
        for port in ports:
            if port in self.ports:  # not stopped meanwhile
                port.startReading()  # type: ignore[attr-defined]
        return result

    def stopService(self) -> Deferred[None]:
        if self.metrics is not None:
            self.metrics.stop()
        if self.accounts is not None:
            self.accounts.stop()
        Service.stopService(self)
        self.heap.stop()
        log.info("chatroom shutting down")
        closing = [*self._stop_ports(), self.factory.close("server shutting down")]
        # SIGHUP still reloads while the goodbyes drain, rather than killing the process half-way.
        return gatherResults(closing).addCallback(lambda _: self._restore_sighup())

    def _restore_sighup(self) -> None:
        if self.reloader is not None:
            signal.signal(signal.SIGHUP, self._previous_sighup)

    def _stop_ports(self) -> list[Deferred[None]]:
        ports, self.ports = self.ports, []
        return [_stopped(port) for port in ports]


def bind(
    description: str,
    endpoint: IStreamServerEndpoint,
    factory: IProtocolFactory,
    ports: list[IListeningPort],
) -> IListeningPort:
    """Listen at once, adding the port to `ports`; failing, close those and exit with one line (status 1)."""
    outcome: list[IListeningPort | Failure] = []
    endpoint.listen(factory).addBoth(outcome.append)
    # Stream endpoints listen at once; a Deferred still waiting would be a bug to hear about.
    (result,) = outcome
    if isinstance(result, Failure):
        for port in ports:
            port.stopListening()
        ports.clear()
        error = result.value
        reason = error.socketError.strerror if isinstance(error, CannotListenError) else str(error)
        raise SystemExit(f"chatroom: cannot listen on {description}: {reason}")
    ports.append(result)
    return result


def _stopped(port: IListeningPort) -> Deferred[None]:
    stopping = port.stopListening()
    return stopping if stopping is not None else succeed(None)

"""`--metrics ENDPOINT`: the server's health in Prometheus's text format. Counts only: never who, never what.

Totals are plain integers kept where things happen (chatroom.server.connection.Counts, the chat, the authenticator),
so that a delivery costs an addition and not a lock; a collector reads them, and the live state, at each scrape.
The page is rendered in the reactor's thread, where that state lives.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from twisted.internet.interfaces import IDelayedCall, IReactorTime, IStreamServerEndpoint
from twisted.logger import ILogObserver, LogEvent, LogLevel, LogPublisher, globalLogPublisher
from twisted.web import http
from twisted.web.resource import NoResource, Resource
from twisted.web.server import Request, Site
from zope.interface import implementer

from chatroom.core.chat import Chat
from chatroom.server.auth import Authenticator
from chatroom.server.connection import ConnectionFactory

LAG_INTERVAL = 1.0  # seconds between two measures of how late the reactor runs a timer
CONNECTION_STATES = ("registering", "member", "closing")


class ChatCollector(Collector):
    def __init__(
        self,
        chat: Chat,
        factory: ConnectionFactory,
        front_ends: Iterable[str],
        auth: Authenticator | None,
        lag: ReactorLag,
        errors: LoggedErrors,
    ) -> None:
        self.chat = chat
        self.factory = factory  # every front end's connections, each speaking its listener's dialect
        self.front_ends = sorted(set(front_ends))  # the dialects listened for: counted even when none is open
        self.auth = auth
        self.lag = lag
        self.errors = errors

    def collect(self) -> Iterator[Metric]:
        connections = GaugeMetricFamily(
            "chatroom_connections",
            "Open connections, by front end and state: registering (no nickname yet), member, closing",
            labels=["frontend", "state"],
        )
        counted = {(front_end, state): 0 for front_end in self.front_ends for state in CONNECTION_STATES}
        for connection in self.factory.connections:
            state = "closing" if connection.closing else "member" if connection.member else "registering"
            counted[connection.speaks.name, state] = counted.get((connection.speaks.name, state), 0) + 1
        for (front_end, state), count in counted.items():
            connections.add_metric([front_end, state], count)
        yield connections
        registered = sum(1 for room in self.chat.rooms.values() if room.owner)
        yield GaugeMetricFamily("chatroom_members", "People in the chat under a nickname", len(self.chat.nicks))
        yield GaugeMetricFamily("chatroom_rooms", "Rooms, registered or with someone in them", len(self.chat.rooms))
        yield GaugeMetricFamily("chatroom_registered_rooms", "Rooms registered to an owner", registered)
        yield CounterMetricFamily("chatroom_messages", "Messages said, in rooms and privately", self.chat.messages)
        memory = self.chat.history_memory
        yield GaugeMetricFamily(
            "chatroom_history_bytes", "Memory the rooms' kept messages take, as --history-memory counts it", memory.size
        )
        yield CounterMetricFamily(
            "chatroom_history_dropped",
            "Kept messages dropped from memory, the oldest first, to stay within --history-memory",
            memory.dropped,
        )  # fmt: skip
        refused = CounterMetricFamily(
            "chatroom_refused_connections", "Connections refused at once, by reason", labels=["reason"]
        )
        for name, help_text, value in [
            ("deliveries", "Events written to members (a room message counts once per member)", "deliveries"),
            ("sent_bytes", "Bytes written to clients, before TLS", "bytes_out"),
            ("send_queue_disconnects", "Clients dropped for not reading their output", "send_queue_disconnects"),
            ("flood_slowdowns", "Times a client was read more slowly for sending too fast", "flood_slowdowns"),
            ("tls_handshake_failures", "Connections that ended in a TLS error", "tls_failures"),
        ]:
            yield CounterMetricFamily(f"chatroom_{name}", help_text, getattr(self.factory.counts, value))
        for reason in ("server_full", "per_address"):
            refused.add_metric([reason], self.factory.counts.refused[reason])
        yield refused
        failures = self.auth.failures if self.auth is not None else 0
        yield CounterMetricFamily("chatroom_login_failures", "Logins refused for a wrong password", failures)
        yield GaugeMetricFamily(
            "chatroom_reactor_lag_seconds", "How late the reactor last ran a timer: above 0.1, it is overloaded",
            self.lag.seconds,
        )  # fmt: skip
        logged = CounterMetricFamily(
            "chatroom_logged_errors",
            "Errors the log told, by the module that logged them: a bug, or a part gone (Redis, the disk)",
            labels=["namespace"],
        )
        for namespace, count in sorted(self.errors.counts.items()):
            logged.add_metric([namespace], count)
        yield logged


@implementer(ILogObserver)
class LoggedErrors:
    """The errors logged, by namespace: an alert on them finds what only the log told, such as a bug passed over
    in a heartbeat. Read from the log itself, so that every error counts, Twisted's own too; a namespace is
    `chatroom` for chatroom's own lines, a module's name for a library's, never anything a client sent."""

    def __init__(self, publisher: LogPublisher = globalLogPublisher) -> None:
        # chatroom's own, at 0 from the start: a series that first appears at 1 is no increase to an alert
        self.counts: Counter[str] = Counter({"chatroom": 0})
        self._publisher = publisher

    def __call__(self, event: LogEvent) -> None:
        if event.get("log_level") in (LogLevel.error, LogLevel.critical):
            self.counts[event.get("log_namespace", "unknown")] += 1

    def start(self) -> None:
        self._publisher.addObserver(self)

    def stop(self) -> None:
        self._publisher.removeObserver(self)


class ReactorLag:
    """How late a timer due LAG_INTERVAL seconds after the last one actually runs: the reactor's own health."""

    def __init__(self, clock: IReactorTime) -> None:
        self.clock = clock
        self.seconds = 0.0
        self._due = 0.0
        self._next: IDelayedCall | None = None

    def start(self) -> None:
        self._schedule()

    def stop(self) -> None:
        if self._next is not None and self._next.active():
            self._next.cancel()
        self._next = None

    def _schedule(self) -> None:
        self._due = self.clock.seconds() + LAG_INTERVAL
        self._next = self.clock.callLater(LAG_INTERVAL, self._tick)

    def _tick(self) -> None:
        self.seconds = max(0.0, self.clock.seconds() - self._due)
        self._schedule()


class MetricsPage(Resource):
    """The page at /metrics, and 404 at every other path."""

    isLeaf = True
    PATH = b"/metrics"

    def __init__(self, registry: CollectorRegistry) -> None:
        Resource.__init__(self)
        self.registry = registry

    def render_GET(self, request: Request) -> bytes:
        if request.path != self.PATH:
            page: bytes = NoResource().render(request)
            return page
        request.setHeader(b"content-type", CONTENT_TYPE_LATEST.encode())
        return generate_latest(self.registry)


class QuietSite(Site):
    """No access log: a scrape every few seconds would fill the log with lines that say nothing (as the web
    listener's chatroom.frontends.web.site.WebSite), and no line per factory start."""

    noisy = False

    def __init__(self, page: MetricsPage) -> None:
        Site.__init__(self, page)

    def log(self, request: http.Request) -> None:
        pass


@dataclass
class Metrics:
    """What `--metrics` adds to the service: a page to listen with, and the lag to measure while it runs."""

    description: str  # the endpoint as given, for messages
    endpoint: IStreamServerEndpoint
    site: Site
    lag: ReactorLag
    errors: LoggedErrors

    def start(self) -> None:
        self.lag.start()
        self.errors.start()

    def stop(self) -> None:
        self.lag.stop()
        self.errors.stop()


def metrics(
    description: str,
    endpoint: IStreamServerEndpoint,
    chat: Chat,
    factory: ConnectionFactory,
    front_ends: Iterable[str],
    auth: Authenticator | None,
    clock: IReactorTime,
) -> Metrics:
    lag, errors = ReactorLag(clock), LoggedErrors()
    registry = CollectorRegistry()
    registry.register(ChatCollector(chat, factory, front_ends, auth, lag, errors))
    ProcessCollector(registry=registry)  # CPU seconds, memory and open files of this process
    return Metrics(description, endpoint, QuietSite(MetricsPage(registry)), lag, errors)

"""`--metrics`: the Prometheus page, scraped during a real conversation over TLS."""

from __future__ import annotations

import re
from pathlib import Path

from twisted.internet import reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.ssl import Certificate, optionsForClientTLS
from twisted.internet.task import Clock
from twisted.logger import Logger, LogPublisher, formatEvent
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.client import Agent, readBody

from chatroom.app.metrics import LoggedErrors, ReactorLag
from chatroom.stores.accounts import AccountStore
from tests.helpers import LineClient, ServerTestCase, observe_log, port_of
from tests.test_irc import IRCClient


class MetricsTests(ServerTestCase):
    async def scrape(self) -> dict[str, float]:
        port = port_of(self.service.ports[-1])  # the metrics listener comes after the chat's
        response = await Agent(reactor).request(b"GET", f"http://127.0.0.1:{port}/metrics".encode())
        self.assertEqual(response.code, 200)
        self.assertEqual(response.headers.getRawHeaders(b"content-type")[0].split(b";")[0], b"text/plain")
        self.page = (await readBody(response)).decode()
        figures = {}
        for line in self.page.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                figures[name] = float(value)
        return figures

    async def test_figures_move_with_a_conversation_and_tell_nothing_of_it(self) -> None:
        accounts = Path(self.mktemp()).resolve()
        AccountStore(accounts).add("olga", "her password")
        self.start_server(
            "--metrics", "tcp:0:interface=127.0.0.1", "--accounts", str(accounts),
            "--flood-burst", "2", "--flood-rate", "50", "--limit-loopback", "--max-per-address", "3",
        )  # fmt: skip
        before = await self.scrape()
        self.assertEqual(before['chatroom_connections{frontend="line",state="member"}'], 0)
        self.assertEqual(before["chatroom_members"], 0)
        self.assertIn("process_cpu_seconds_total", before)
        self.assertGreaterEqual(before["chatroom_reactor_lag_seconds"], 0)

        alice = await self.connect("alice", "5")
        bob = await self.connect("bob", "5")
        alice.send("a secret plan", "second", "third", "fourth")  # past the burst of 2: slowed, not dropped
        await bob.until("MSG #5 alice :fourth")
        guesser = await self.connect()
        guesser.send("/nick olga", "/pass wrong guess")
        await guesser.until("ERR BAD_LOGIN")
        refused = await self.connect_raw()  # a fourth connection from loopback: over --max-per-address 3
        await refused.lost
        middle = await self.scrape()
        self.assertEqual(middle['chatroom_connections{frontend="line",state="registering"}'], 1)
        guesser.transport.loseConnection()
        await guesser.lost
        plain = await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", self.port), LineClient())
        plain.transport.write(b"GET / HTTP/1.0\r\n\r\n")  # not TLS
        await plain.lost

        after = await self.scrape()
        self.assertEqual(after['chatroom_connections{frontend="line",state="member"}'], 2)
        self.assertEqual(after['chatroom_connections{frontend="line",state="registering"}'], 0)
        self.assertEqual(after["chatroom_members"], 2)
        self.assertEqual(after["chatroom_rooms"], 1)
        self.assertEqual(after["chatroom_messages_total"], 4)
        self.assertGreaterEqual(after["chatroom_deliveries_total"] - before["chatroom_deliveries_total"], 8)
        self.assertGreater(after["chatroom_sent_bytes_total"], before["chatroom_sent_bytes_total"])
        self.assertGreaterEqual(after["chatroom_flood_slowdowns_total"], 1)
        self.assertEqual(after["chatroom_login_failures_total"], 1)
        self.assertEqual(after['chatroom_refused_connections_total{reason="per_address"}'], 1)
        self.assertEqual(after["chatroom_tls_handshake_failures_total"], 1)
        for private in ["alice", "bob", "olga", "secret", "#5", "127.0.0.1"]:
            self.assertIsNone(re.search(re.escape(private), self.page), f"{private} is in the metrics")

    async def test_each_front_end_is_counted_under_its_own_name(self) -> None:
        """IRC connections were counted as frontend="line": the label is the listener's language."""
        self.start_server("--metrics", "tcp:0:interface=127.0.0.1")
        before = await self.scrape()
        self.assertEqual(before['chatroom_connections{frontend="irc",state="member"}'], 0)
        await self.connect("alice")
        trust = Certificate.loadPEM((self.certs / "ca.pem").read_bytes())
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.irc_port)
        ivy = await connectProtocol(
            wrapClientTLS(optionsForClientTLS("localhost", trustRoot=trust), endpoint), IRCClient("ivy")
        )
        self.addCleanup(lambda: ivy.lost)
        self.addCleanup(ivy.quit, "bye")
        await ivy.signed_on
        figures = await self.scrape()
        self.assertEqual(figures['chatroom_connections{frontend="line",state="member"}'], 1)
        self.assertEqual(figures['chatroom_connections{frontend="irc",state="member"}'], 1)

    async def test_only_metrics_is_served_and_no_scrape_is_logged(self) -> None:
        """Every path answered 200 with the page, and each scrape (every 15 s) logged an access line."""
        self.start_server("--metrics", "tcp:0:interface=127.0.0.1")
        logged = observe_log(self)
        await self.scrape()
        await self.scrape()
        port = port_of(self.service.ports[-1])
        for path in ["/", "/metrics/x", "/metrics/", "/other", "/metricsx"]:
            response = await Agent(reactor).request(b"GET", f"http://127.0.0.1:{port}{path}".encode())
            await readBody(response)
            self.assertEqual(response.code, 404, path)
        response = await Agent(reactor).request(b"GET", f"http://127.0.0.1:{port}/metrics?x=1".encode())
        await readBody(response)
        self.assertEqual(response.code, 200, "a query, as a scraper's params, is still the page")
        access = [formatEvent(event) for event in logged if "HTTP/1.1" in formatEvent(event)]  # the client's are not
        self.assertEqual(access, [])

    async def test_the_history_memory_bound_and_what_it_dropped(self) -> None:
        self.start_server(
            "--metrics", "tcp:0:interface=127.0.0.1", "--history", "1000", "--history-memory", "1MB",
            "--flood-burst", "100000", "--flood-rate", "100000",
        )  # fmt: skip
        alice = await self.connect("alice", "5")
        for number in range(400):  # 1.7 MB of 4 KB lines, each counted 4304 bytes: 243 fit in 1 MiB
            alice.send(f"{number:03d} " + "x" * 4000)
        await alice.until("MSG #5 alice :399 ")
        figures = await self.scrape()
        self.assertLessEqual(figures["chatroom_history_bytes"], 1024 * 1024)
        self.assertGreater(figures["chatroom_history_bytes"], 1000 * 1024)
        self.assertEqual(figures["chatroom_history_dropped_total"], 400 - 243)
        bob = await self.connect("bob", "5")
        bob.send("/history #5 500")
        footer, shown = await bob.until("HISTORY #5 ")
        self.assertEqual(footer, "HISTORY #5 400 0", "the 157 memory dropped, read back from the history file")
        said = [line for line in shown if line.startswith("SAID #5 alice ")]
        self.assertEqual([line.rpartition(":")[2][:3] for line in said], [f"{number:03d}" for number in range(400)])

    async def test_errors_the_log_told_are_counted_by_where_they_were_logged(self) -> None:
        """A bug passed over in Redis's upkeep left only a log line, seen by no alert (stop 48's hang)."""
        self.start_server("--metrics", "tcp:0:interface=127.0.0.1")
        before = await self.scrape()
        self.assertNotIn('chatroom_logged_errors_total{namespace="chatroom.somewhere"}', before)
        self.assertEqual(before['chatroom_logged_errors_total{namespace="chatroom"}'], 0, "an alert's first increase")
        somewhere = Logger(namespace="chatroom.somewhere")
        somewhere.error("a bug: {mistake}", mistake="KeyError at x.py:1 in f")
        somewhere.critical("a part gone")
        somewhere.warn("refused by Redis")  # a warning is not an error
        Logger(namespace="twisted.web.server").error("Twisted's own")
        after = await self.scrape()
        self.assertEqual(after['chatroom_logged_errors_total{namespace="chatroom.somewhere"}'], 2)
        self.assertEqual(after['chatroom_logged_errors_total{namespace="twisted.web.server"}'], 1)


class LoggedErrorsTests(SynchronousTestCase):
    def test_counted_while_started_only(self) -> None:
        publisher = LogPublisher()
        errors = LoggedErrors(publisher)
        log = Logger(namespace="chatroom.here", observer=publisher)
        log.error("before")
        errors.start()
        log.error("while")
        log.info("not an error")
        errors.stop()
        log.error("after")
        self.assertEqual(errors.counts, {"chatroom": 0, "chatroom.here": 1})


class ReactorLagTests(SynchronousTestCase):
    def test_how_late_a_timer_runs(self) -> None:
        clock = Clock()
        lag = ReactorLag(clock)
        lag.start()
        clock.advance(1.0)
        self.assertEqual(lag.seconds, 0.0)
        clock.advance(1.5)  # the reactor was busy: the timer due at 2.0 ran at 2.5
        self.assertEqual(lag.seconds, 0.5)
        clock.advance(3.25)  # due at 3.5, ran at 5.75
        self.assertEqual(lag.seconds, 2.25)
        clock.advance(1.0)
        self.assertEqual(lag.seconds, 0.0)
        lag.stop()
        self.assertEqual(clock.getDelayedCalls(), [])

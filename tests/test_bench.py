"""The benchmark, run on a tiny workload: it works end to end and reports every figure. Speed is not judged here."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from twisted.trial.unittest import SkipTest, SynchronousTestCase

import chatroom.bench
from chatroom.bench import (
    LIFT_FLOOD_CONTROL,
    SETTLE_LONGEST,
    SETTLE_WINDOW,
    WORKLOADS,
    HistoryFigures,
    Plan,
    Server,
    measure_history,
    open_files_short,
)
from chatroom.core.events import Message
from tests.helpers import ServerTestCase
from tests.test_twistd import LISTENING, TWISTD


def workload(name: str) -> Plan:
    return Plan("127.0.0.1", 0, "", duration=10.0, processes=2, **WORKLOADS[name])


class BusyServer(Server):
    """A server whose CPU time rises by `spent` for each of its first `busy` windows, then stays."""

    def __init__(self, busy: int, spent: float = 0.2) -> None:
        super().__init__(0)
        self.readings = [spent * min(index, busy) for index in range(1000)]

    def cpu_seconds(self) -> float:
        return self.readings.pop(0)


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class SettleTests(SynchronousTestCase):
    """An idle workload's memory is read once the server is idle (a join's notices still being written to a room's
    members are not what an idle connection keeps), and not later than a bound."""

    def setUp(self) -> None:
        self.time = FakeTime()
        self.patch(chatroom.bench, "time", self.time)

    def test_read_once_a_window_passes_without_work(self) -> None:
        BusyServer(busy=3).settle()
        self.assertEqual(self.time.now, 4 * SETTLE_WINDOW)

    def test_a_server_that_never_rests_is_read_after_the_bound(self) -> None:
        BusyServer(busy=1000).settle()
        self.assertGreaterEqual(self.time.now, SETTLE_LONGEST)
        self.assertLess(self.time.now, SETTLE_LONGEST + 2 * SETTLE_WINDOW)


class LayoutTests(SynchronousTestCase):
    """Who sends: the burst the README describes, senders in every room; hot-room keeps the old layout."""

    def rooms_of_senders(self, plan: Plan) -> dict[str, int]:
        senders = plan.senders_in_order()
        self.assertEqual(len(set(senders)), plan.senders, "each sender once")
        self.assertTrue(all(0 <= number < plan.clients for number in senders))
        heard: dict[str, int] = {}
        for number in senders:
            heard[plan.room(number)] = heard.get(plan.room(number), 0) + 1
        return heard

    def test_burst_spreads_its_senders_over_every_room(self) -> None:
        self.assertEqual(self.rooms_of_senders(workload("burst")), {f"#{room}": 10 for room in range(10)})

    def test_hot_room_puts_every_sender_in_one_room(self) -> None:
        self.assertEqual(self.rooms_of_senders(workload("hot-room")), {"#0": 100})

    def test_steady_has_everyone_send(self) -> None:
        plan = workload("steady")
        self.assertEqual(sorted(plan.senders_in_order()), list(range(plan.clients)))

    def test_uneven_senders_still_reach_every_room(self) -> None:
        plan = Plan("127.0.0.1", 0, "", clients=25, rooms=4, senders=6, rate=1.0, duration=1.0, processes=1)
        self.assertEqual(self.rooms_of_senders(plan), {"#0": 2, "#1": 2, "#2": 1, "#3": 1})

    def test_too_many_senders_for_the_hot_room(self) -> None:
        plan = Plan("127.0.0.1", 0, "", clients=20, rooms=4, senders=6, rate=1.0, duration=1.0, processes=1,
                    layout="hot-room")  # fmt: skip
        with self.assertRaises(ValueError):
            plan.senders_in_order()


class ScaleTests(SynchronousTestCase):
    """What 100,000 clients need: several source addresses, and open files enough in every process."""

    def test_one_address_while_its_ports_suffice(self) -> None:
        plan = workload("idle")
        self.assertEqual({plan.source(number) for number in range(plan.clients)}, {None})

    def test_more_clients_come_from_further_loopback_addresses(self) -> None:
        plan = Plan("127.0.0.1", 0, "", clients=100_000, rooms=100, senders=0, rate=0.0, duration=1.0, processes=4)
        sources = Counter(plan.source(number) for number in range(plan.clients))
        self.assertEqual(sources, {f"127.0.0.{host}": 20_000 for host in range(1, 6)})

    def test_open_files_for_every_process(self) -> None:
        plan = Plan("127.0.0.1", 0, "", clients=100_000, rooms=100, senders=0, rate=0.0, duration=1.0, processes=4)
        self.assertIsNone(open_files_short(plan, 100_100, workers=1))
        short = open_files_short(plan, 20_000, workers=1)
        assert short is not None
        self.assertIn("100,100 open files in the server", short)
        self.assertIn("ulimit -Hn 100100", short)
        self.assertIsNone(open_files_short(plan, 25_100, workers=0), "a server not ours is not checked")
        short = open_files_short(plan, 25_099, workers=0)
        assert short is not None
        self.assertIn("25,100 open files in each load generator", short)


class BenchSmokeTests(ServerTestCase):
    async def tiny(self, *options: str) -> tuple[str, Any]:
        """The steady workload made tiny (20 clients in 4 rooms, 10 of them saying 5 lines a second for 1 s), with
        `options`: what it printed, and its figures."""
        figures_file = Path(self.mktemp())
        bench = self.spawn(
            [sys.executable, "-m", "chatroom.bench", "steady", "--clients", "20", "--rooms", "4",
             "--senders", "10", "--rate", "5", "--duration", "1", *options, "--json", str(figures_file)]
        )  # fmt: skip
        self.assertEqual(await bench.exit_code(), 0, bench.output)
        return bench.output, json.loads(figures_file.read_text())

    async def test_tiny_workload(self) -> None:
        output, figures = await self.tiny("--processes", "2")
        self.assertEqual(figures["expected"], 10 * 5 * 1 * 5)  # 10 senders, 5 a second, 1 s, 5 per room
        self.assertEqual(figures["delivered"], figures["expected"])
        for name in (
            "deliveries_per_second",
            "server_cpu_us_per_delivery",
            "server_rss_kb_per_connection",
            "server_cpu_us_per_connection",
            "generator_cpu_share",
            "server_cpu_share",
        ):
            self.assertIsInstance(figures[name], float, name)
        self.assertEqual(set(figures["latency_ms"]), {"p50", "p99", "max"})
        self.assertTrue(all(isinstance(value, float) for value in figures["latency_ms"].values()))
        self.assertIn("deliveries: 250 of 250 expected", output)

    async def test_figures_are_what_they_claim(self) -> None:
        """A known load on a server the test started: exactly the deliveries it makes, a CPU figure within what the
        kernel counts for the server's process, and deliveries per second over the time the load really took."""
        self.certs = Path(self.mktemp()).resolve()
        server = self.spawn(
            [TWISTD, "-n", "--pidfile=", "chatroom", "--certs", str(self.certs), "--listen",
             "tcp:0:interface=127.0.0.1", "--no-irc", "--no-web", *LIFT_FLOOD_CONTROL]
        )  # fmt: skip
        port = int((await server.until(LISTENING)).group(1))
        figures_file = Path(self.mktemp())
        bench = self.spawn(
            [sys.executable, "-m", "chatroom.bench", "burst", "--clients", "20", "--rooms", "4", "--senders", "8",
             "--rate", "50", "--duration", "1", "--port", str(port), "--server-pid", str(server.transport.pid),
             "--ca", str(self.certs / "ca.pem"), "--json", str(figures_file)]
        )  # fmt: skip
        self.assertEqual(await bench.exit_code(), 0, bench.output)
        spent = Server(server.transport.pid).cpu_seconds()  # all the server's CPU, from its start
        figures = json.loads(figures_file.read_text())
        self.assertEqual(figures["expected"], 8 * 50 * 5)  # 8 senders, 50 lines each, to the 5 members of their room
        self.assertEqual(figures["delivered"], figures["expected"])
        during_load = figures["server_cpu_us_per_delivery"] * figures["delivered"] / 1e6
        self.assertGreater(during_load, 0.0)
        self.assertLessEqual(during_load, spent)
        self.assertGreater(figures["load_seconds"], (50 - 1) / 50)  # the last line is due 1/50 s before the end
        self.assertAlmostEqual(figures["deliveries_per_second"] * figures["load_seconds"], figures["delivered"])
        self.assertIn("deliveries: 2,000 of 2,000 expected", bench.output)

    async def test_clients_come_from_several_addresses(self) -> None:
        """With fewer clients allowed per source address than the plan holds, the server sees them arrive from
        127.0.0.1 and 127.0.0.2, and registers them all."""
        self.certs = Path(self.mktemp()).resolve()
        server = self.spawn(
            [TWISTD, "-n", "--pidfile=", "chatroom", "--certs", str(self.certs), "--listen",
             "tcp:0:interface=127.0.0.1", "--no-irc", "--no-web"]
        )  # fmt: skip
        port = int((await server.until(LISTENING)).group(1))
        figures_file = Path(self.mktemp())
        bench = self.spawn(
            [sys.executable, "-m", "chatroom.bench", "idle", "--clients", "6", "--rooms", "2", "--processes", "2",
             "--clients-per-address", "3", "--port", str(port), "--server-pid", str(server.transport.pid),
             "--ca", str(self.certs / "ca.pem"), "--json", str(figures_file)]
        )  # fmt: skip
        self.assertEqual(await bench.exit_code(), 0, bench.output)
        seen = {}
        for _ in range(6):  # the server logs each registration with the peer's address
            registered = await server.until(r"(127\.0\.0\.\d+):\d+ is now (b\d+)")
            seen[registered.group(2)] = registered.group(1)
        self.assertEqual(seen, {f"b{number}": "127.0.0.1" if number < 3 else "127.0.0.2" for number in range(6)})
        figures = json.loads(figures_file.read_text())
        self.assertEqual(figures["sources"], {"127.0.0.1": 3, "127.0.0.2": 3})
        self.assertEqual((figures["registered"], figures["joined"]), (6, 6))
        self.assertIsInstance(figures["connections_per_second"], float)
        self.assertIn("clients registered: 6 of 6, from 127.0.0.1 (3), 127.0.0.2 (3)", bench.output)

    async def test_websocket_compared_with_irc(self) -> None:
        """--compare irc: the same workload over WebSocket and over IRC, both against chatroom, with the ratios."""
        output, figures = await self.tiny("--protocol", "websocket", "--compare", "irc")
        for name, protocol in (("chatroom over websocket", "websocket"), ("chatroom over irc", "irc")):
            (run,) = figures[name]
            self.assertEqual((run["server"], run["protocol"]), ("chatroom", protocol))
            self.assertEqual(run["delivered"], 10 * 5 * 1 * 4)  # IRC does not echo a message to its sender
        self.assertEqual(set(figures["ratios"]["server CPU per delivery"]),
                         {"chatroom over websocket", "chatroom over irc", "ratio"})  # fmt: skip
        self.assertIn("chatroom over websocket against chatroom over irc", output)

    async def test_comparison_with_ngircd(self) -> None:
        """--compare runs the same workload over IRC against chatroom and ngircd, and gives the ratios."""
        if shutil.which("ngircd", path="/usr/sbin:/usr/bin") is None:
            raise SkipTest("ngircd is not installed (apt-get install ngircd)")
        output, figures = await self.tiny("--compare")
        for server in ("chatroom", "ngircd"):
            (run,) = figures[server]
            self.assertEqual((run["server"], run["protocol"]), (server, "irc"))
            self.assertEqual(run["expected"], 10 * 5 * 1 * 4)  # IRC does not echo a message to its sender
            self.assertEqual(run["delivered"], run["expected"], server)
        row = figures["ratios"]["server CPU per delivery"]
        self.assertIsInstance(row["chatroom"], float)
        self.assertIsInstance(row["ngircd"], float)
        self.assertIn("ratio", row)  # n/a when a server spent too little CPU to be measured (in 10 ms ticks)
        self.assertIn("chatroom against ngircd", output)

    async def test_comparison_with_the_floor(self) -> None:
        """--compare floor runs the same workload against chatroom.floor, which relays every line to every other
        member of its room, as a server must for the figures to compare."""
        output, figures = await self.tiny("--compare", "floor")
        for server in ("chatroom", "floor"):
            (run,) = figures[server]
            self.assertEqual((run["server"], run["registered"], run["joined"]), (server, 20, 20))
            self.assertEqual(run["delivered"], 10 * 5 * 1 * 4, server)  # to the room's 4 others, not the sender
        self.assertIn("chatroom against floor", output)


class FloorTests(SynchronousTestCase):
    def test_certificates_it_cannot_read_are_said_in_one_line(self) -> None:
        missing = Path(self.mktemp())
        run = subprocess.run(
            [sys.executable, "-m", "chatroom.floor", str(missing)], capture_output=True, text=True, timeout=60
        )
        self.assertEqual(run.returncode, 1)
        (line,) = run.stderr.splitlines()
        self.assertTrue(line.startswith(f"chatroom.floor: {missing / 'server.crt'} is missing"), line)


class HistoryBenchTests(SynchronousTestCase):
    """`python -m chatroom.bench history`, tiny: what a kept line costs, said through the core."""

    def test_every_kept_line_is_counted_with_what_it_holds(self) -> None:
        figures = measure_history(HistoryFigures(rooms=3, lines=20, age=0.0, per_room=30))
        self.assertEqual((figures.said, figures.kept), (90, 60))  # each room keeps its last 20 of 30
        assert figures.traced_bytes_per_line is not None and figures.text_bytes_per_line is not None
        self.assertGreaterEqual(figures.text_bytes_per_line, sys.getsizeof("x" * 60))  # 60 to 100 characters
        self.assertLessEqual(figures.text_bytes_per_line, sys.getsizeof("x" * 100))
        # at least the text and the message holding it, with its id and time: nothing kept is missed
        stamped = Message("#room0", "alice", "", id="x" * 12, time="2026-11-23T09:30:00.000Z")
        held = sys.getsizeof(stamped) + sys.getsizeof(stamped.id) + sys.getsizeof(stamped.time)
        self.assertGreater(figures.traced_bytes_per_line, figures.text_bytes_per_line + held)
        self.assertIsInstance(figures.rss_bytes_per_line, float)
        self.assertIsInstance(figures.cpu_us_per_say, float)
        self.assertIsInstance(figures.full_collection_ms, float)
        self.assertIsInstance(figures.full_collections_ms, float)

    def test_nothing_kept(self) -> None:
        figures = measure_history(HistoryFigures(rooms=2, lines=0, age=0.0, per_room=5))
        self.assertEqual((figures.said, figures.kept), (10, 0))
        self.assertIsNone(figures.traced_bytes_per_line)
        self.assertIsNone(figures.rss_bytes_per_line)
        self.assertIsInstance(figures.cpu_us_per_say, float)  # what saying costs without keeping


class HistoryBenchCommandTests(ServerTestCase):
    async def test_history_workload(self) -> None:
        figures_file = Path(self.mktemp())
        bench = self.spawn(
            [sys.executable, "-m", "chatroom.bench", "history", "--rooms", "4", "--history", "10",
             "--history-age", "1h", "--json", str(figures_file)]
        )  # fmt: skip
        self.assertEqual(await bench.exit_code(), 0, bench.output)
        figures = json.loads(figures_file.read_text())
        self.assertEqual((figures["rooms"], figures["lines"], figures["age"]), (4, 10, 3600.0))
        self.assertEqual((figures["said"], figures["kept"]), (40, 40))  # as many said as kept, by default
        self.assertIsInstance(figures["traced_bytes_per_line"], float)
        self.assertIn("bytes per kept line:", bench.output)

    async def test_history_age_must_be_a_duration(self) -> None:
        bench = self.spawn([sys.executable, "-m", "chatroom.bench", "history", "--history-age", "soon"])
        self.assertNotEqual(await bench.exit_code(), 0)
        self.assertIn("--history-age must be a duration", bench.output)

"""The benchmark, run on a tiny workload: it works end to end and reports every figure. Speed is not judged here."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from chatroom.bench import HistoryFigures, measure_history
from chatroom.core.events import Message
from tests.helpers import ServerTestCase


class BenchSmokeTests(ServerTestCase):
    async def test_tiny_workload(self) -> None:
        figures_file = Path(self.mktemp())
        bench = self.spawn(
            [sys.executable, "-m", "chatroom.bench", "steady", "--clients", "20", "--rooms", "4",
             "--senders", "10", "--rate", "5", "--duration", "1", "--processes", "2", "--json", str(figures_file)]
        )  # fmt: skip
        self.assertEqual(await bench.exit_code(), 0, bench.output)
        figures = json.loads(figures_file.read_text())
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
        self.assertIn("deliveries: 250 of 250 expected", bench.output)

    async def test_comparison_with_ngircd(self) -> None:
        """--compare runs the same workload over IRC against chatroom and ngircd, and gives the ratios."""
        if shutil.which("ngircd", path="/usr/sbin:/usr/bin") is None:
            raise SkipTest("ngircd is not installed (apt-get install ngircd)")
        figures_file = Path(self.mktemp())
        bench = self.spawn(
            [sys.executable, "-m", "chatroom.bench", "steady", "--clients", "20", "--rooms", "4",
             "--senders", "10", "--rate", "5", "--duration", "1", "--compare", "--json", str(figures_file)]
        )  # fmt: skip
        self.assertEqual(await bench.exit_code(), 0, bench.output)
        figures = json.loads(figures_file.read_text())
        for server in ("chatroom", "ngircd"):
            (run,) = figures[server]
            self.assertEqual((run["server"], run["protocol"]), (server, "irc"))
            self.assertEqual(run["expected"], 10 * 5 * 1 * 4)  # IRC does not echo a message to its sender
            self.assertEqual(run["delivered"], run["expected"], server)
        row = figures["ratios"]["server CPU per delivery"]
        self.assertIsInstance(row["chatroom"], float)
        self.assertIsInstance(row["ngircd"], float)
        self.assertIn("ratio", row)  # n/a when a server spent too little CPU to be measured (in 10 ms ticks)
        self.assertIn("chatroom against ngircd", bench.output)


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

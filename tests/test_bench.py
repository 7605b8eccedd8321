"""The benchmark, run on a tiny workload: it works end to end and reports every figure. Speed is not judged here."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from twisted.trial.unittest import SkipTest

from tests.helpers import ServerTestCase


class BenchSmokeTests(ServerTestCase):
    timeout = 120

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

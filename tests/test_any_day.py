"""The tests that show or compute dates and times pass on any day, at any hour, in any time zone.

Issue 25: one passed only on 2026-11-23, because its renderer read the machine's clock. This runs those tests again
in a child trial under libfaketime, at dates and zones chosen to be awkward: just before midnight where the date
differs from UTC's, a leap day, and the first second of a year. The whole suite is not run so: under libfaketime
redis-server never gets ready (../shared/notes/twisted.md), and these modules are the ones that format or compare
times (the client's renderer, history's ids and times, certificates' validity, IRC's server-time, ban durations).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from tests.helpers import ServerTestCase

FAKETIME = shutil.which("faketime")
CHECKOUT = Path(__file__).resolve().parent.parent
MODULES = (
    "tests.test_client_units",
    "tests.test_history",
    "tests.test_tls",
    "tests.test_certs",
    "tests.test_irc",
    "tests.test_moderation",
)
# (libfaketime's start, TZ): time runs on from the start, so timeouts still work.
MOMENTS = (
    ("@2027-03-14 23:30:00", "Pacific/Auckland"),  # UTC+13: already the 15th there, and the morning
    ("@2028-02-29 23:59:30", "America/Los_Angeles"),  # a leap day, half a minute before the next
    ("@2031-01-01 00:00:05", "Asia/Kolkata"),  # a new year, in a zone half an hour off the hour
)


class AnyDayTests(ServerTestCase):  # for its spawn(), which stops what it started; it starts no server
    if FAKETIME is None:
        skip = "needs faketime (apt-get install faketime; .ci/run installs it)"

    # One test a moment, each with its own timeout, which trial -j2 runs beside the others' tests.
    async def test_before_midnight_where_the_date_is_already_tomorrow(self) -> None:
        await self._pass_at(*MOMENTS[0])

    async def test_on_a_leap_day(self) -> None:
        await self._pass_at(*MOMENTS[1])

    async def test_in_the_first_seconds_of_a_year_half_an_hour_off_the_hour(self) -> None:
        await self._pass_at(*MOMENTS[2])

    async def _pass_at(self, start: str, zone: str) -> None:
        assert FAKETIME is not None
        temp = Path(self.mktemp()).resolve()
        command = [FAKETIME, "-f", start, sys.executable, "-m", "twisted.trial", f"--temp-directory={temp}", *MODULES]
        run = self.spawn(command, TZ=zone, PYTHONPATH=str(CHECKOUT))
        self.assertEqual(await run.exit_code(), 0, f"at {start[1:]} in {zone}:\n{run.output[-3000:]}")

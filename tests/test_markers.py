"""Read markers: where a person has read each room up to, the same on every device (draft/read-marker).

In memory, through both front ends: what each device of one person is told when one of them reads, and what a
device that asks, or joins, is told.
"""

from __future__ import annotations

import base64

from chatroom.core.history import seconds
from tests.helpers import MemoryClient
from tests.test_irc import commands
from tests.test_sessions import Sessions

NOON = "2026-11-23T12:00:00.000Z"
LATER = "2026-11-23T12:05:30.250Z"


class Marking(Sessions):
    START = seconds("2026-11-24T00:00:00Z")  # the markers' times are past: a marker is never set past now


class LineMarkerTests(Marking):
    def test_a_marker_past_now_stands_at_now(self) -> None:
        """It never moves back: one in the year 9999 would stand for ever, and nothing read after count."""
        laptop = self.alice()
        self.assertEqual(laptop.type("/read #5 9999-12-31T23:59:59Z"), ["READ #5 2026-11-24T00:00:00.000Z"])

    def test_reading_on_one_device_tells_every_device(self) -> None:
        laptop, phone = self.alice(), self.alice()
        self.assertEqual(laptop.type(f"/read #5 {NOON}"), [f"READ #5 {NOON}"])
        self.assertEqual(phone.read(), [f"READ #5 {NOON}"])
        self.assertEqual(self.ben.read(), [], "nobody else is told")
        self.assertEqual(phone.type("/read 5"), [f"READ #5 {NOON}"], "where it stands, to the one who asks")
        self.assertEqual(laptop.read(), [])

    def test_a_marker_never_moves_back(self) -> None:
        laptop, phone = self.alice(), self.alice()
        laptop.type(f"/read #5 {LATER}")
        phone.read()
        self.assertEqual(phone.type(f"/read #5 {NOON}"), [f"READ #5 {LATER}"], "the later time stands")
        self.assertEqual(laptop.read(), [], "nothing moved: the other device is not told")

    def test_an_accounts_markers_outlive_its_sessions_and_a_guests_do_not(self) -> None:
        laptop = self.alice()
        laptop.type(f"/read #5 {NOON}", "/quit")
        self.assertEqual(self.alice().type("/read #5"), [f"READ #5 {NOON}"])

        carol, _ = self.guest("carol")
        carol.type(f"/read #5 {NOON}", "/quit")
        carol, _ = self.guest("carol")
        self.assertEqual(carol.type("/read #5"), ["READ #5 *"])

    def test_a_guest_who_logs_in_keeps_what_they_read(self) -> None:
        client = self.server.connect()
        client.type("/nick dave", "/join 5", f"/read #5 {NOON}", f"/read ben {LATER}")
        client.read()
        client.type("/nick alice", "/pass correct horse")
        self.checker.answer(len(self.checker.checks) - 1, right=True)
        client.read()
        self.assertEqual(client.type("/read #5", "/read ben"), [f"READ #5 {NOON}", f"READ ben {LATER}"])

    def test_a_bad_time_or_room_is_refused_in_one_line(self) -> None:
        laptop = self.alice()
        self.assertEqual(
            laptop.type("/read #5 yesterday"),
            ["ERR BAD_TIME :yesterday is not a time: write it as 2026-11-23T09:30:00.000Z"],
        )
        self.assertEqual(laptop.type("/read #no!room 2026-11-23T12:00:00Z")[0].split()[:2], ["ERR", "BAD_ROOM"])
        self.assertEqual(laptop.type("/read"), ["ERR USAGE :usage: /read #ROOM|NICK [TIME]"])


class IRCMarkerTests(Marking):
    def irc_alice(self) -> MemoryClient:
        """Alice on IRC with draft/read-marker, logged in by SASL, in #5 (her account's room)."""
        irc = self.server.irc()
        irc.type("CAP REQ :sasl draft/read-marker", "AUTHENTICATE PLAIN")
        irc.type("AUTHENTICATE " + base64.b64encode(b"\0alice\0correct horse").decode())
        self.checker.answer(len(self.checker.checks) - 1, right=True)
        irc.type("NICK alice", "USER a 0 * :A", "CAP END")
        irc.read()
        return irc

    def test_markread_moves_for_every_session_and_answers_a_question(self) -> None:
        laptop = self.alice()
        irc = self.irc_alice()
        self.assertEqual(irc.type(f"MARKREAD #5 timestamp={NOON}"), [f":chatroom MARKREAD #5 timestamp={NOON}"])
        self.assertEqual(laptop.read(), [f"READ #5 {NOON}"])
        laptop.type(f"/read #5 {LATER}")
        self.assertEqual(irc.read(), [f":chatroom MARKREAD #5 timestamp={LATER}"])
        self.assertEqual(irc.type("MARKREAD #5"), [f":chatroom MARKREAD #5 timestamp={LATER}"])
        self.assertEqual(irc.type("MARKREAD #6"), [":chatroom MARKREAD #6 *"])
        self.assertEqual(irc.type(f"MARKREAD #5 timestamp={NOON}"), [f":chatroom MARKREAD #5 timestamp={LATER}"])

    def test_joining_tells_the_marker_before_the_end_of_names(self) -> None:
        irc = self.irc_alice()
        irc.type(f"MARKREAD #7 timestamp={NOON}")
        burst = irc.type("JOIN #7")
        self.assertLess(commands(burst).index("MARKREAD"), commands(burst).index("366"))
        self.assertIn(f":chatroom MARKREAD #7 timestamp={NOON}", burst)

    def test_a_client_without_the_capability_is_not_told(self) -> None:
        self.alice().type(f"/read #5 {NOON}")
        irc = self.server.irc()
        irc.type("CAP REQ :sasl", "AUTHENTICATE PLAIN")
        irc.type("AUTHENTICATE " + base64.b64encode(b"\0alice\0correct horse").decode())
        self.checker.answer(len(self.checker.checks) - 1, right=True)
        burst = irc.type("NICK alice", "USER a 0 * :A", "CAP END")
        self.assertNotIn("MARKREAD", commands(burst))
        self.alice().type(f"/read #5 {LATER}")
        self.assertEqual(irc.read(), [])

    def test_bad_markreads_fail_as_the_specification_says(self) -> None:
        irc = self.irc_alice()
        self.assertEqual(irc.type("MARKREAD"), [":chatroom FAIL MARKREAD NEED_MORE_PARAMS :Missing parameters"])
        for bad in ("*", "timestamp=not-a-time", NOON):
            (line,) = irc.type(f"MARKREAD #5 {bad}")
            self.assertTrue(line.startswith(":chatroom FAIL MARKREAD INVALID_PARAMS #5 :"), line)

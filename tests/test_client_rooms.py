"""The terminal client and the room words of issue 29: exceptions, and a room's new name; and being away."""

from __future__ import annotations

import datetime

from twisted.trial.unittest import SynchronousTestCase

from chatroom.client.render import Renderer
from chatroom.frontends.line.wire import parse
from tests.test_client_units import NOON_34, ClientCase


class RoomWordsRenderTests(SynchronousTestCase):
    def test_the_lines_read_as_sentences(self) -> None:
        plain = Renderer(colour=False, now=lambda: NOON_34, zone=datetime.UTC)
        cases = {
            "RENAME #club #chess alice :better": "12:34 [#chess] -- alice renamed #club to #chess: better",
            "RENAME #club #chess alice": "12:34 [#chess] -- alice renamed #club to #chess",
            "EXCEPT #5 alice m:bob!*@*": "12:34 [#5] -- alice lets m:bob!*@* past bans and mutes",
            "UNEXCEPT #5 alice bob!*@*": "12:34 [#5] -- alice no longer lets bob!*@* past bans and mutes",
            "EXCEPTED #5 bob!*@* alice": "12:34 [#5] -- let past bans and mutes: bob!*@*, by alice",
            "EXCEPTS #5 0": "12:34 [#5] -- let past bans and mutes: nobody",
        }
        for raw, shown in cases.items():
            self.assertEqual(plain(parse(raw)), shown, raw)


class AwayRenderTests(SynchronousTestCase):
    def test_being_marked_away_and_back_reads_as_a_sentence(self) -> None:
        plain = Renderer(colour=False, now=lambda: NOON_34, zone=datetime.UTC)
        marked = "12:34 -- you are marked away: at lunch (/away alone once back)"
        self.assertEqual(plain(parse("AWAY :at lunch")), marked)
        self.assertEqual(plain(parse("AWAY")), "12:34 -- you are back")


class RenamedRoomTests(ClientCase):
    def test_a_renamed_room_is_known_by_its_new_name(self) -> None:
        self.start()
        self.chatting("bob", ("#club", "#5"))
        self.hear("RENAME #club #chess alice :a better game")
        self.client.switch_to(0)  # Alt+1: the first room joined, by the name it has now
        self.assertEqual(self.sent(), ["/join #chess"])

    def test_lines_unread_in_a_renamed_room_are_counted_under_its_new_name(self) -> None:
        self.start()
        self.chatting("bob", ("#club", "#5"))
        self.hear("MSG #club alice 1-1 2026-01-02T03:04:05.000Z :bob, chess tonight?")
        self.assertEqual(self.console.prompt, "[#5] (#club 1!) ")
        self.hear("RENAME #club #chess alice", "MSG #chess alice 1-2 2026-01-02T03:04:06.000Z :at eight")
        self.assertEqual(self.console.prompt, "[#5] (#chess 2!) ", "one count, under the name the room has now")
        self.client.switch_to(0)
        self.hear("JOIN #chess bob", "CURRENT #chess")
        self.assertEqual(self.console.prompt, "[#chess] ", "read once shown")

"""Moderation as line-protocol clients type it and see it, on in-memory transports."""

from __future__ import annotations

from twisted.logger import formatEvent
from twisted.trial.unittest import SynchronousTestCase

from chatroom.core.administration import SERVER_BANS_MAX
from chatroom.frontends.line.commands import COMMANDS
from chatroom.frontends.line.refusals import word
from chatroom.server.limits import ConnectionLimits
from tests.helpers import MemoryClient, MemoryServer, assert_consistent, observe_log
from tests.test_lifecycle import with_accounts

SETTINGS = "invite, key, moderated, topiclock, limit, secret, external, noctcp"


def usage(command: str) -> str:
    return f"ERR USAGE :{word(COMMANDS[command].usage_error())}"


class ModerationCommandTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = MemoryServer(ConnectionLimits(flood_burst=1000, max_line=8192))  # flood control has its own tests
        self.checker = with_accounts(self, self.server)
        self.alice = self.server.connect("teacher", "5")
        self.bob = self.server.connect("student", "5", host="198.51.100.20")

    def log_in(self, nick: str) -> MemoryClient:
        client = self.server.connect()
        client.type(f"/nick {nick}", "/pass unused")
        self.checker.answer(len(self.checker.checks) - 1, True)
        client.read()
        return client

    def test_kick_is_seen_by_all_and_moves_the_kicked_client_out(self) -> None:
        self.bob.type("/join 6", "/join 5")
        self.alice.read()
        self.assertEqual(
            self.alice.type("/kick student talking in class"), ["KICK #5 teacher student :talking in class"]
        )
        self.assertEqual(self.bob.read(), ["KICK #5 teacher student :talking in class", "CURRENT #6"])
        self.assertEqual(self.bob.type("/kick #6 teacher"), ["ERR NOT_THERE :teacher is not in #6"])
        self.assertEqual(self.alice.type("/kick"), ["ERR USAGE :usage: /kick [#ROOM] NICK [REASON]"])
        self.assertEqual(
            self.bob.type("/part 6", "plain text"),
            ["PART #6 student :", "CURRENT", "ERR NO_ROOM :you are not in a room: /join ROOM first"],
        )
        assert_consistent(self, self.server.factory)

    def test_roles_with_and_without_naming_the_room(self) -> None:
        self.alice.type("/join 6")
        self.bob.type("/join 6")
        self.alice.read()
        self.assertEqual(self.alice.type("/voice #5 student"), ["VOICE #5 teacher student"])
        self.assertEqual(self.alice.type("/op student"), ["OP #6 teacher student"])
        self.assertEqual(self.bob.read(), ["VOICE #5 teacher student", "OP #6 teacher student"])
        self.assertEqual(self.alice.type("/who 5"), ["NAMES #5 @teacher +student"])
        carol = self.server.connect("carol", "5")
        self.assertEqual(carol.type("/deop #6 student"), ["ERR NOT_IN_ROOM :you are not in #6"])
        self.assertEqual(
            carol.type("/devoice student"),
            ["ERR NOT_OPERATOR :only an operator of #5 may give or take operator and voice"],
        )

    def test_a_mistyped_duration_is_refused_not_a_ban_for_ever(self) -> None:
        self.server.connect("troll", "5")
        self.assertEqual(
            self.alice.type("/ban troll 10x talking"),
            ["ERR BAD_DURATION :10x is not a duration: write it like 10m, 2h, 7d, 1h30m or forever"],
        )
        self.assertEqual(self.bob.read(), [], "nobody was banned")
        self.alice.type("/ban troll 10min talking")
        self.assertEqual(self.bob.read()[0], "BAN #5 teacher troll!*@* 1970-01-01T00:10:00Z :talking")

    def test_forever_makes_room_for_a_reason_that_begins_with_a_number(self) -> None:
        """`/ban troll 3 strikes` is refused (3 is no duration); there was no way to give that reason unlimited."""
        self.server.connect("troll", "5")
        self.alice.type("/ban troll Forever 3 strikes")
        self.assertEqual(self.bob.read()[0], "BAN #5 teacher troll!*@* - :3 strikes")

    def test_a_pupil_muted_by_account_stays_silent_and_is_told_so(self) -> None:
        """As docs/accounts.md tells a teacher to: `/ban m:account:NAME DURATION`."""
        bob = self.log_in("bob")
        bob.type("/join 5")
        self.alice.read()
        self.alice.type("/ban m:account:bob 10m chatting")
        self.assertEqual(bob.read()[0], "BAN #5 teacher m:account:bob 1970-01-01T00:10:00Z :chatting")
        self.assertEqual(bob.type("may I?"), ["ERR MUTED :you are muted in #5: only its operators can lift that"])
        self.assertEqual(self.bob.type("I still can")[-1], "MSG #5 student :I still can")

    def test_a_timed_mute_or_ban_that_runs_out_is_told_to_the_room(self) -> None:
        """As an operator lifting it would be, from the server (`*`): IRC clients' ban lists no longer show it."""
        troll = self.server.connect("troll", "5")
        self.alice.type("/ban m:troll 1m talk less", "/ban m:student 2m", "/unban m:student!*@*")
        self.bob.read()
        self.server.clock.advance(59)
        self.assertEqual(self.bob.read(), [], "not before its time")
        self.server.clock.advance(1)
        self.assertEqual(self.bob.read(), ["UNBAN #5 * m:troll!*@* 1970-01-01T00:01:00Z :"])
        self.assertEqual(troll.type("free at last")[-1], "MSG #5 troll :free at last")
        self.bob.read()
        self.server.clock.advance(60)
        self.assertEqual(self.bob.read(), [], "one lifted before its time is not told again")
        room = self.server.chat.rooms["5"]
        self.alice.type("/ban m:troll 1h", "/part")
        for client in (self.bob, troll):
            client.type("/part")
        self.assertEqual((self.server.chat.rooms, room.lapses), ({}, {}), "a room that ended waits for no ban's end")

    def test_ban_with_duration_and_reason_then_list_and_lift(self) -> None:
        self.server.connect("troll", "5", host="203.0.113.5")
        self.alice.type("/ban troll 10m spamming links")
        lines = self.bob.read()
        self.assertEqual(
            lines,
            [
                "BAN #5 teacher troll!*@* 1970-01-01T00:10:00Z :spamming links",
                "BAN #5 teacher *!*@address-of-troll 1970-01-01T00:10:00Z :spamming links",
                "KICK #5 teacher troll :banned: spamming links",
            ],
        )
        self.assertEqual(
            self.bob.type("/bans"),
            [
                "BANNED #5 troll!*@* teacher 1970-01-01T00:10:00Z :spamming links",
                "BANNED #5 *!*@address-of-troll teacher 1970-01-01T00:10:00Z :spamming links",
                "BANS #5 2",
            ],
        )
        self.assertEqual(
            self.alice.type("/ban spammer* just a reason")[0], "BAN #5 teacher spammer*!*@* - :just a reason"
        )
        self.assertEqual(self.alice.type("/unban spammer*"), ["UNBAN #5 teacher spammer*!*@* - :"])
        self.assertEqual(
            self.alice.type("/ban troll2 0m"),
            ["ERR BAD_DURATION :0m: a ban lasts from 1s to 10 years (3650d), or until lifted"],
        )
        self.assertEqual(
            self.alice.type("/ban *")[0],
            "ERR BAD_MASK :* would ban everyone: name a nickname, an address or an account",
        )
        self.assertEqual(self.alice.type("/unban"), ["ERR USAGE :usage: /unban [#ROOM] MASK"])

    def test_banning_a_logged_in_pupil_leaves_the_guests_behind_the_schools_address(self) -> None:
        """A ban of a logged-in member banned `*!*@address-of-NICK` too: every guest of the school's NAT was out."""
        pupil = self.log_in("bob")
        pupil.type("/join 5")
        self.alice.read()
        self.assertEqual(self.alice.type("/ban bob"), ["BAN #5 teacher account:bob - :", "KICK #5 teacher bob :banned"])
        classmate = self.server.connect("carla")  # a guest from the same (loopback) address
        self.assertEqual(classmate.type("/join 5")[0], "JOIN #5 carla")
        self.alice.read()
        asked = self.alice.type("/ban *!*@address-of-bob")  # guests from there now wait outside; carla stays
        self.assertEqual(asked, ["BAN #5 teacher *!*@address-of-bob - :"])
        another = self.server.connect("dora")
        self.assertEqual(another.type("/join 5"), ["ERR BANNED :you are banned from #5"])

    def test_room_settings_and_a_keyed_join(self) -> None:
        self.assertEqual(self.alice.type("/room set key secret"), ["SET #5 teacher key :secret"])
        self.assertEqual(self.alice.type("/room set limit 30"), ["SET #5 teacher limit :30"])
        self.assertEqual(self.alice.type("/room set moderated on"), ["SET #5 teacher moderated :on"])
        self.assertEqual(self.alice.type("/room set topiclock off"), ["SET #5 teacher topiclock :off"])
        self.assertEqual(self.alice.type("/room"), ["ROOM #5 * key=secret moderated limit=30"])
        self.assertEqual(self.bob.read()[:1], ["SET #5 teacher key :secret"])
        self.assertEqual(
            self.bob.type("hello?"), ["ERR MODERATED :#5 is moderated: only voiced members and operators speak"]
        )
        for bad, error in [
            ("/room set limit lots", "ERR BAD_LIMIT :a limit is a number of people from 1 to 100000, or off"),
            ("/room set limit ²", "ERR BAD_LIMIT :a limit is a number of people from 1 to 100000, or off"),
            ("/room set limit 999999999999", "ERR BAD_LIMIT :a limit is a number of people from 1 to 100000, or off"),
            ("/room set limit " + "9" * 4400, "ERR BAD_LIMIT :a limit is a number of people from 1 to 100000, or off"),
            ("/room set moderated maybe", "ERR USAGE :usage: /room set moderated on|off"),
            ("/room set colour red", "ERR USAGE :there is no setting colour; the settings are " + SETTINGS),
            ("/room colour", usage("room")),
        ]:
            self.assertEqual(self.alice.type(bad), [error])
        carol = self.server.connect("carol")
        self.assertEqual(carol.type("/join 5"), ["ERR BAD_KEY :you cannot join #5: it needs a key: /join ROOM KEY"])
        self.assertEqual(carol.type("/join 5 secret")[:2], ["JOIN #5 carol", "ROOM #5 * key=secret moderated limit=30"])

    def test_server_bans_are_capped_with_a_one_line_error(self) -> None:
        ada = self.log_in("ada")
        for number in range(SERVER_BANS_MAX):
            ada.type(f"/server ban spammer{number}!*@*")
        self.assertEqual(ada.type("/server bans")[-1], f"BANS * {SERVER_BANS_MAX}")
        self.assertEqual(
            ada.type("/server ban one-more!*@*"),
            [f"ERR LIST_FULL :the list is full ({SERVER_BANS_MAX} entries): remove one first"],
        )
        ada.type("/server unban spammer0!*@*")
        self.assertEqual(ada.type("/server ban one-more!*@*"), ["BAN * ada one-more!*@* - :"])

    def test_invite_only(self) -> None:
        self.alice.type("/room set invite on")
        carol = self.server.connect("carol")
        self.assertEqual(
            carol.type("/join 5"), ["ERR INVITE_ONLY :#5 is invite-only: an operator must /invite you first"]
        )
        self.assertEqual(self.alice.type("/invite carol"), ["INVITE #5 teacher carol"])
        self.assertEqual(carol.read(), ["INVITE #5 teacher carol"])
        self.assertEqual(carol.type("/join 5")[0], "JOIN #5 carol")

    def test_administrators_and_a_server_ban_that_closes_the_connection(self) -> None:
        self.assertEqual(
            self.bob.type("/server lockdown join"),
            ["ERR NOT_ADMIN :only a server administrator may do that"],
        )
        ada = self.log_in("ada")
        self.assertEqual(ada.type("/server lockdown speak"), ["LOCKDOWN ada speak"])
        self.assertEqual(self.bob.read(), ["LOCKDOWN ada speak"])
        self.assertEqual(
            self.bob.type("hi")[0], "ERR LOCKDOWN :the server is locked down: only registered accounts may talk for now"
        )
        ada.type("/server lockdown off")
        self.assertEqual(
            ada.type("/server ban student 1h raiding"),
            [
                "BAN * ada student!*@* 1970-01-01T01:00:00Z :raiding",
                "BAN * ada *!*@address-of-student 1970-01-01T01:00:00Z :raiding",
            ],
        )
        self.assertEqual(self.bob.read()[-1], "BYE :banned from the server: raiding (until 1970-01-01 01:00 UTC)")
        self.assertEqual(
            self.alice.read(),
            [
                "LOCKDOWN ada speak",
                "LOCKDOWN ada off",
                "QUIT student :banned from the server: raiding (until 1970-01-01 01:00 UTC)",
            ],
        )
        self.bob.lose()
        back = self.server.connect(host="198.51.100.20")
        self.assertEqual(
            back.type("/nick student2"), ["BYE :you are banned from this server: raiding (until 1970-01-01 01:00 UTC)"]
        )
        back.lose()
        self.assertEqual(ada.type("/server bans")[-1], "BANS * 2")
        self.assertEqual(
            ada.type("/server unban *!*@address-of-student"),
            ["UNBAN * ada *!*@address-of-student 1970-01-01T01:00:00Z :"],
        )
        self.assertEqual(ada.type("/server kill teacher go home"), [])
        self.assertEqual(self.alice.read(), ["BYE :disconnected by ada: go home"])
        self.assertEqual(ada.type("/server reboot"), [usage("server")])
        self.alice.lose()
        assert_consistent(self, self.server.factory)

    def test_an_administrators_reasons_are_not_logged(self) -> None:
        """A kill's and a server ban's reasons are typed, and may quote what someone said: the log read
        `(student) disconnected: disconnected by ada: you said ...`."""
        logged = observe_log(self)
        ada = self.log_in("ada")
        ada.type("/server kill student you said SECRET", "/server ban teacher SECRET too")
        self.assertEqual(self.bob.read()[-1], "BYE :disconnected by ada: you said SECRET", "they are told")
        self.bob.lose()
        self.alice.lose()
        again = self.server.connect()
        self.assertIn("SECRET too", again.type("/nick teacher")[-1], "coming back, they are told why")
        again.lose()
        text = "\n".join(formatEvent(event) for event in logged)
        self.assertIn("(student) disconnected: disconnected by ada\n", text + "\n")
        self.assertIn("(teacher) disconnected: banned from the server\n", text + "\n")
        self.assertIn("(-) disconnected: banned from the server\n", text + "\n")
        self.assertNotIn("SECRET", text)

    def test_help_lists_the_moderation_commands(self) -> None:
        shown = "\n".join(self.alice.type("/help"))
        for command in [
            "/op",
            "/deop",
            "/voice",
            "/devoice",
            "/kick",
            "/ban",
            "/unban",
            "/bans",
            "/invite",
            "/room",
            "/server",
        ]:
            self.assertIn(f"HELP :{command} ", shown)

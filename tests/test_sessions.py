"""A person with sessions (issue 26): several devices under one nickname, and a lost connection reclaimed.

In memory, with a fake clock driving the grace period (--linger): what each device and the others in the room
see, line by line.
"""

from __future__ import annotations

import base64
import re

from twisted.trial.unittest import SynchronousTestCase

from chatroom.core.history import HistoryLimits
from chatroom.core.members import LINGERING, RoomLimits
from chatroom.server.auth import AuthMode
from tests.helpers import MemoryClient, assert_consistent
from tests.test_irc import IRCServer, commands
from tests.test_lifecycle import GENEROUS, PendingChecker, with_accounts

KEEPS = "KEEPS #5 * :this room keeps the last 50 lines of history"  # told on joining, on every device
LINGER = 60.0
ONE_ONLY = "alice is connected already, and this server allows one connection per person: end it"


def unstamped(lines: list[str]) -> list[str]:
    """Kept lines (SAID) without their ids and times, as tests.helpers.unstamped leaves live ones."""
    return [re.sub(r"^SAID (\S+) (\S+) \S+ \S+ :", r"SAID \1 \2 :", line) for line in lines]


class Sessions(SynchronousTestCase):
    START = 0.0  # the fake clock's time when the server starts

    def setUp(self) -> None:
        self.server = IRCServer(GENEROUS, RoomLimits(linger=LINGER), history=50)
        self.server.clock.rightNow = self.START
        self.chat = self.server.chat
        self.checker: PendingChecker = with_accounts(self, self.server, AuthMode.OPTIONAL)
        self.ben = self.server.connect("ben", "5")

    def sasl(self, caps: str = "") -> MemoryClient:
        """An IRC client logged in as alice by SASL (with `caps` asked for too), not registered yet."""
        irc = self.server.irc()
        irc.type(f"CAP REQ :sasl {caps}".rstrip(), "AUTHENTICATE PLAIN")
        irc.type("AUTHENTICATE " + base64.b64encode(b"\0alice\0correct horse").decode())
        self.checker.answer(len(self.checker.checks) - 1, right=True)
        irc.read()
        return irc

    def alice(self, room: str | None = "5") -> MemoryClient:
        """Alice, logged in to her account on one more device, her output read up to now."""
        client = self.server.connect()
        client.type("/nick alice", "/pass correct horse")
        self.checker.answer(len(self.checker.checks) - 1, right=True)
        if room and room not in {r.strip("#") for r in self.chat.nicks["alice"].rooms}:
            client.type(f"/join {room}")
        for each in self.server.connections:
            each.read()
        return client

    def guest(self, nick: str) -> tuple[MemoryClient, str]:
        """A guest in room 5, and the resume token the server gave them."""
        client = self.server.connect()
        client.type(f"/nick {nick}", "/join 5")
        for each in self.server.connections:
            each.read()
        return client, client.token


class SeveralDevicesTests(Sessions):
    def test_registration_gives_a_resume_token(self) -> None:
        client = self.server.connect()
        client.send(b"/nick carol\r\n")
        welcome, resume = client.read(stamps=True)[:2]
        self.assertTrue(welcome.startswith("WELCOME carol "))
        word, token, text = resume.split(" ", 2)
        self.assertEqual((word, text), ("RESUME", ":if your connection is lost: /resume carol TOKEN"))
        self.assertGreaterEqual(len(token), 24)
        self.assertNotEqual(token, self.guest("dave")[1], "one secret per person")

    def test_two_sessions_of_one_account_in_one_room(self) -> None:
        laptop = self.alice()
        phone = self.server.connect()
        phone.type("/nick alice", "/pass correct horse")
        self.checker.answer(1, right=True)
        burst = phone.read()
        self.assertEqual(burst[0].split()[:2], ["WELCOME", "alice"])
        self.assertTrue(phone.token)
        self.assertEqual(
            burst[1:],
            ["JOIN #5 alice", "ROOM #5 * topiclock", "NAMES #5 @ben alice", KEEPS, "CURRENT #5"],
            "what the room keeps: this device is told too",
        )
        self.assertEqual(self.ben.read(), [], "no QUIT, no JOIN: alice was here already")
        self.assertEqual(laptop.read(), [])

        laptop.type("hello from the laptop")
        self.assertEqual(self.ben.read(), ["MSG #5 alice :hello from the laptop"])
        self.assertEqual(phone.read(), ["MSG #5 alice :hello from the laptop"], "echoed to her other device")
        phone.type("/msg ben and from the phone")
        self.assertEqual(self.ben.read(), ["PRIV alice ben :and from the phone"])
        self.assertEqual(laptop.read(), ["PRIV alice ben :and from the phone"])

        self.assertEqual(phone.type("/quit"), ["BYE :quit"])
        self.assertEqual(self.ben.read(), [], "no QUIT: she is still here on her laptop")
        self.ben.type("still there?")
        self.assertEqual(laptop.read(), ["MSG #5 ben :still there?"])
        assert_consistent(self, self.server.factory)

    def test_a_join_a_part_and_a_nick_change_from_one_device_show_in_all(self) -> None:
        laptop, phone = self.alice(), self.alice()
        laptop.type("/join 6")
        self.assertEqual(phone.read()[0], "JOIN #6 alice")
        self.assertEqual(laptop.type("/part 5"), ["PART #5 alice :"], "#6 is current here already")
        self.assertEqual(phone.read(), ["PART #5 alice :", "CURRENT #6"], "its text no longer goes to #5")
        laptop.type("/nick ally")
        self.assertEqual(phone.read(), ["NICK alice ally"])

    def test_an_irc_client_logged_in_under_another_nickname_joins_the_person_already_here(self) -> None:
        # irssi set up with `alice_lunch` and SASL as alice made a second person of the same account, whose
        # `NICK alice` was then refused as taken: by herself.
        laptop = self.alice()
        irc = self.sasl()
        lines = irc.type("NICK alice_lunch", "USER a 0 * :A", "CAP END")
        self.assertTrue(lines[0].startswith(":chatroom 001 alice :"), "her client learns its nickname from 001")
        self.assertTrue(lines[0].endswith(" alice!alice@chatroom"), "and its source, as her JOINs show it")
        told = ":chatroom NOTICE alice :alice is here already: this connection is one more of their sessions"
        self.assertIn(told, lines)
        self.assertIn(":alice!alice@chatroom JOIN #5", lines, "in her rooms at once")
        self.assertEqual(list(self.chat.nicks), ["ben", "alice"])
        self.assertEqual(len(self.chat.nicks["alice"].sessions), 2)
        self.assertEqual(self.ben.read(), [], "nobody else sees anyone arrive")
        irc.type("PRIVMSG #5 :from the lunch room")
        self.assertEqual(laptop.read(), ["MSG #5 alice :from the lunch room"])

    def test_a_login_joins_the_person_under_the_nickname_they_took_since(self) -> None:
        # Alice renamed herself ally on her laptop; her phone's login, as alice, made a second person of the same
        # account, who saw neither her rooms nor her private messages.
        laptop = self.alice()
        laptop.type("/nick ally")
        self.ben.read()
        phone = self.server.connect()
        phone.type("/nick alice", "/pass correct horse")
        self.checker.answer(len(self.checker.checks) - 1, right=True)
        self.assertEqual(phone.read()[0].split()[:2], ["WELCOME", "ally"], "her client learns its nickname")
        irc = self.sasl()
        lines = irc.type("NICK alice", "USER a 0 * :A", "CAP END")
        self.assertTrue(lines[0].startswith(":chatroom 001 ally :"))
        self.assertIn(
            ":chatroom NOTICE ally :ally is here already: this connection is one more of their sessions", lines
        )
        self.assertIn(":ally!alice@chatroom JOIN #5", lines, "in her rooms at once")
        self.assertEqual(list(self.chat.nicks), ["ben", "ally"])
        self.assertEqual(len(self.chat.nicks["ally"].sessions), 3)
        self.assertEqual(self.ben.read(), [], "nobody else sees anyone arrive")

    def test_a_login_joins_the_person_as_they_are_named_in_its_turn(self) -> None:
        # With --redis, the login's turn may come after a rename made on another process: decided earlier, against
        # the nickname as it was, it made a second person of the account under the name given up.
        laptop = self.alice()
        laptop.type("/nick ally")
        phone = self.server.connect()
        member = self.chat.register(phone.connection, "alice", "alice", "127.0.0.1")
        self.assertIs(member, self.chat.nicks["ally"])
        self.assertEqual(list(self.chat.nicks), ["ben", "ally"])

    def test_a_login_under_another_nickname_joins_only_a_person_who_may_take_one_more_session(self) -> None:
        # With alice at her limit, a SASL login under alice_lunch was refused `433 alice has 2 sessions` at every
        # NICK: no nickname could get it in. It is taken as it was before such logins joined the person.
        self.chat.limits = RoomLimits(sessions_per_person=2, linger=LINGER)
        self.alice(), self.alice()
        lines = self.sasl().type("NICK alice_lunch", "USER a 0 * :A", "CAP END")
        self.assertTrue(lines[0].startswith(":chatroom 001 alice_lunch "))
        self.assertEqual(self.chat.nicks["alice_lunch"].account, "alice")

    def test_sessions_lists_her_devices_and_ends_one(self) -> None:
        laptop, phone = self.alice(), self.alice()
        self.server.clock.advance(1.5)
        irc = self.sasl()
        irc.type("NICK alice", "USER a 0 * :A", "CAP END")
        listed = phone.type("/sessions")
        ids = [serial.split()[1].rstrip("*") for serial in listed[:-1]]
        self.assertEqual(
            listed,
            [
                f"SESSION {ids[0]} line 1970-01-01T00:00:00.000Z :127.0.0.1:40001",
                f"SESSION {ids[1]}* line 1970-01-01T00:00:00.000Z :127.0.0.1:40002",
                f"SESSION {ids[2]} irc 1970-01-01T00:00:01.500Z :127.0.0.1:41003",
                "SESSIONS 3",
            ],
        )
        self.assertEqual(
            phone.type(f"/sessions kick {ids[0]}"),
            [*listed[1:3], "SESSIONS 2"],
            "answered with those left: the client had nothing to show",
        )
        self.assertEqual(laptop.read(), ["BYE :ended from another of your sessions"])
        self.assertEqual(irc.read(), [], "told nothing: IRC has no /resume, and no use for the token renewed")
        self.assertTrue(laptop.transport.disconnecting)
        laptop.lose()
        self.assertEqual(self.ben.read(), [], "alice is still here")
        self.assertEqual(len(self.chat.nicks["alice"].sessions), 2)
        self.assertEqual(
            phone.type(f"/sessions kick {ids[0]}"),
            [f"ERR NO_SUCH_SESSION :you have no session {ids[0]}: /sessions lists them"],
        )
        self.assertEqual(
            phone.type(f"/sessions kick {ids[1]}"), ["ERR NO_SUCH_SESSION :that is this session: /quit ends it"]
        )
        self.assertEqual(phone.type("/sessions end"), ["ERR USAGE :usage: /sessions [kick ID]"])

    def test_a_session_ended_from_another_cannot_come_back_with_the_token_it_had(self) -> None:
        """Found in review: /sessions kick ended it, and /resume with its token brought it straight back."""
        laptop, token = self.guest("carol")
        phone = self.server.connect()
        phone.type(f"/resume carol {token}")
        laptop_id = phone.type("/sessions")[0].split()[1]
        self.assertEqual(phone.type(f"/sessions kick {laptop_id}")[-1], "SESSIONS 1")
        renewed = phone.token
        self.assertNotEqual(renewed, token, "the sessions that remain are given a new one")
        self.assertEqual(
            laptop.read(stamps=True), ["BYE :ended from another of your sessions"], "the ended one is not given it"
        )
        laptop.lose()
        again = self.server.connect()
        self.assertEqual(again.type(f"/resume carol {token}"), ["ERR RESUME_FAILED :that is not carol's resume token"])
        self.assertEqual(again.type(f"/resume carol {renewed}")[0].split()[:2], ["WELCOME", "carol"])
        self.assertEqual(again.token, renewed)

    def test_the_limit_of_sessions_per_person(self) -> None:
        self.chat.limits = RoomLimits(sessions_per_person=2, linger=LINGER)
        self.alice(), self.alice()
        third = self.server.connect()
        lines = third.type("/nick alice")
        self.assertEqual(lines, ["ERR TOO_MANY_SESSIONS :alice has 2 sessions, the most allowed: end one"])

    def test_without_multiclient_her_second_connection_is_told_she_is_connected_already(self) -> None:
        self.chat.limits = RoomLimits(sessions_per_person=1, linger=LINGER)
        self.alice()
        self.assertEqual(
            self.server.connect().type("/nick alice"),
            [f"ERR TOO_MANY_SESSIONS :{ONE_ONLY}"],
            "the limit, as with --max-sessions: not NICK_TAKEN, which has a client try another nickname",
        )
        irc = self.sasl()
        lines = irc.type("NICK alice_lunch", "USER a 0 * :A", "CAP END")
        self.assertTrue(lines[0].startswith(":chatroom 001 alice_lunch "), "under the nickname asked for, as before")

    def login_over_the_limit(self, most: int) -> list[str]:
        """What an IRC client logging in as alice under her nickname is told while she has `most` sessions, the
        most allowed: NICK before SASL, in the order irssi and WeeChat send them."""
        self.chat.limits = RoomLimits(sessions_per_person=most, linger=LINGER)
        for _ in range(most):
            self.alice()
        irc = self.server.irc()
        told = irc.type("CAP LS 302", "NICK alice", "USER a 0 * :A", "CAP REQ :sasl", "AUTHENTICATE PLAIN")
        told += irc.type("AUTHENTICATE " + base64.b64encode(b"\0alice\0correct horse").decode())
        self.checker.answer(len(self.checker.checks) - 1, right=True)
        told += irc.read() + irc.type("CAP END")
        self.assertTrue(irc.transport.disconnecting, "closed: no nickname gets the client in as alice now")
        self.assertEqual(len(self.chat.nicks["alice"].sessions), most)
        self.assertNotIn("433", commands(told))
        return told[told.index(":chatroom 903 alice :SASL authentication successful") + 1 :]

    def test_a_login_over_the_limit_of_sessions_is_refused_with_fail_and_error_not_433(self) -> None:
        # 433 "alice has 2 sessions, the most allowed: end one" had irssi and WeeChat send NICK alice_, which came in
        # as a second person of alice's account: past the limit, and not her.
        text = "alice has 2 sessions, the most allowed: end one"
        self.assertEqual(
            self.login_over_the_limit(2),
            [f":chatroom FAIL * TOO_MANY_SESSIONS :{text}", f"ERROR :Closing link: {text}"],
        )

    def test_without_multiclient_a_login_while_she_is_here_is_refused_with_fail_and_error(self) -> None:
        self.assertEqual(
            self.login_over_the_limit(1),
            [f":chatroom FAIL * TOO_MANY_SESSIONS :{ONE_ONLY}", f"ERROR :Closing link: {ONE_ONLY}"],
        )

    def test_a_guest_cannot_take_a_present_account_holders_nickname_with_the_wrong_password(self) -> None:
        self.alice()
        intruder = self.server.connect()
        intruder.type("/nick alice", "/pass guess")
        self.checker.answer(1, right=False)
        self.assertEqual(intruder.read(), ["ERR BAD_LOGIN :wrong nickname or password"])
        self.assertEqual(len(self.chat.nicks["alice"].sessions), 1)

    def test_an_irc_device_sees_what_her_line_device_says(self) -> None:
        laptop = self.alice()
        irc = self.sasl()
        burst = irc.type("NICK alice", "USER a 0 * :A", "CAP END")
        self.assertEqual(commands(burst)[0], "001")
        self.assertIn(":alice!alice@chatroom JOIN #5", burst)
        self.assertIn(":chatroom 353 alice = #5 :@ben alice", burst)
        self.assertIn(":chatroom 366 alice #5 :End of /NAMES list", burst)
        self.assertEqual(self.ben.read(), [])

        laptop.type("from the laptop")
        self.assertEqual(irc.read(), [":alice!alice@chatroom PRIVMSG #5 :from the laptop"], "without echo-message")
        self.assertEqual(irc.type("PRIVMSG #5 :from irc"), [], "its own line: an IRC client shows it itself")
        self.assertEqual(laptop.read(), ["MSG #5 alice :from irc"])
        self.assertEqual(self.ben.read(), ["MSG #5 alice :from the laptop", "MSG #5 alice :from irc"])

    def irc_alice(self, caps: str = "") -> MemoryClient:
        """Alice on one more device, an IRC client logged in with SASL, its welcome read."""
        irc = self.sasl(caps)
        self.welcome = irc.type("NICK alice", "USER a 0 * :A", "CAP END")
        return irc

    def test_away_is_the_persons_every_session_is_told_and_one_that_comes_shows_it(self) -> None:
        """Set on one device, cleared on another (our own client among them): each shows what the others see."""
        laptop = self.alice()
        weechat, irssi = self.irc_alice(), self.irc_alice()
        carol = self.server.irc("carol", "#5", caps="away-notify")
        weechat.type("AWAY :at lunch")
        self.assertEqual(commands(weechat.read()), [], "answered as it ran")
        self.assertEqual(irssi.read(), [":chatroom 306 alice :You have been marked as being away"])
        self.assertEqual(laptop.read(), ["AWAY :at lunch"])
        self.assertEqual(carol.read(), [":alice!alice@chatroom AWAY :at lunch"], "the others, once")
        phone = self.irc_alice()
        self.assertIn(":chatroom 306 alice :You have been marked as being away", self.welcome)
        self.assertEqual(laptop.type("/away"), ["AWAY"], "back, from our own client")
        for irc in (weechat, irssi, phone):
            self.assertEqual(irc.read(), [":chatroom 305 alice :You are no longer marked as being away"])
        self.assertEqual(carol.read(), [":alice!alice@chatroom AWAY"])
        self.assertEqual(irssi.type("AWAY"), [":chatroom 305 alice :You are no longer marked as being away"])
        self.assertEqual(carol.read(), [], "nothing changed: the others are not told again")

    def test_her_typing_on_one_device_is_not_shown_on_her_others(self) -> None:
        laptop = self.alice()
        weechat = self.irc_alice(caps="message-tags")
        carol = self.server.irc("carol", "#5", caps="message-tags")
        laptop.type("/typing active")
        self.assertEqual(weechat.read(), [], "not herself, typing elsewhere")
        self.assertEqual(len(carol.read()), 1, "the others see it")


class ComingBackTests(Sessions):
    def test_an_account_holder_reclaims_a_lost_connection_with_the_lines_missed(self) -> None:
        laptop = self.alice()
        laptop.lose()
        self.assertEqual(self.ben.read(), [], "no QUIT yet")
        self.assertEqual(self.chat.nicks["alice"].details.away, LINGERING)
        self.ben.type("are you there?")
        self.server.clock.advance(LINGER - 1)
        back = self.server.connect()
        back.type("/nick alice", "/pass correct horse")
        self.checker.answer(1, right=True)
        burst = unstamped(back.read())
        self.assertEqual(
            burst[1:],
            [
                "JOIN #5 alice",
                "ROOM #5 * topiclock",
                "NAMES #5 @ben alice",
                KEEPS,
                "SAID #5 ben :are you there?",
                "HISTORY #5 1 0",
                "CURRENT #5",
            ],
        )
        self.assertEqual(self.chat.nicks["alice"].details.away, "", "back")
        self.server.clock.advance(LINGER)
        self.assertEqual(self.ben.read(), [], "never a QUIT")
        assert_consistent(self, self.server.factory)

    def test_a_guest_reclaims_by_token(self) -> None:
        carol, token = self.guest("carol")
        carol.lose()
        self.ben.type("missed this")
        back = self.server.connect()
        burst = unstamped(back.type(f"/resume carol {token}"))
        self.assertEqual(burst[0].split()[:2], ["WELCOME", "carol"])
        self.assertEqual(back.token, token, "the same secret")
        self.assertEqual(burst[1:4], ["JOIN #5 carol", "ROOM #5 * topiclock", "NAMES #5 @ben carol"])
        self.assertEqual(burst[4:], [KEEPS, "SAID #5 ben :missed this", "HISTORY #5 1 0", "CURRENT #5"])
        back.type("I'm back")
        self.assertEqual(self.ben.read(), ["MSG #5 carol :I'm back"], "no QUIT, no JOIN")

    def test_a_resume_with_the_last_line_seen_shows_exactly_what_came_after(self) -> None:
        """The network blinked: the client noticed first, and the server went on writing to the dead connection."""
        carol, token = self.guest("carol")
        self.ben.type("seen")
        seen = carol.read(stamps=True)[-1].split()[3]  # MSG #5 ben ID TIME :seen
        self.ben.type("written to the dead connection", "and this")
        back = self.server.connect()
        burst = unstamped(back.type(f"/resume carol {token} #5:{seen}"))
        self.assertEqual(
            burst[-4:],
            ["SAID #5 ben :written to the dead connection", "SAID #5 ben :and this", "HISTORY #5 2 0", "CURRENT #5"],
            "neither what it saw nor less than it missed",
        )
        self.assertEqual(
            self.server.connect().type(f"/resume carol {token} #5"),
            ["ERR USAGE :usage: /resume NICK TOKEN [ROOM:ID...]"],
        )

    def test_private_messages_to_a_lingering_person_are_given_when_they_come_back(self) -> None:
        """Found by hand: no history keeps a private message, and one sent meanwhile was lost."""
        carol, token = self.guest("carol")
        carol.lose()
        self.assertEqual(self.ben.type("/msg carol are you there?"), ["PRIV ben carol :are you there?"])
        burst = unstamped(self.server.connect().type(f"/resume carol {token}"))
        self.assertEqual(burst[-2:], ["PRIV ben carol :are you there?", "CURRENT #5"], "after her rooms' lines")
        self.assertEqual(len([line for line in burst if line.startswith("PRIV ")]), 1, "once")

    def test_a_wrong_token_or_a_free_nickname_does_not_resume(self) -> None:
        carol, token = self.guest("carol")
        carol.lose()
        client = self.server.connect()
        wrong = "x" * len(token)
        self.assertEqual(client.type(f"/resume carol {wrong}"), ["ERR RESUME_FAILED :that is not carol's resume token"])
        self.assertEqual(
            client.type(f"/resume nobody {token}"),
            ["ERR RESUME_FAILED :nobody is called nobody any more: choose a nickname"],
        )
        self.assertEqual(client.type("/resume carol"), ["ERR USAGE :usage: /resume NICK TOKEN [ROOM:ID...]"])

    def test_nobody_else_can_take_a_lingering_nickname(self) -> None:
        carol, _ = self.guest("carol")
        carol.lose()
        self.assertEqual(self.server.connect().type("/nick carol"), ["ERR NICK_TAKEN :nickname carol is taken"])
        self.assertEqual(self.ben.type("/nick carol"), ["ERR NICK_TAKEN :nickname carol is taken"])

    def test_the_grace_period_ends_with_one_quit(self) -> None:
        carol, _ = self.guest("carol")
        self.alice().lose()
        carol.lose()
        self.server.clock.advance(LINGER - 0.1)
        self.assertEqual(self.ben.read(), [])
        self.server.clock.advance(0.1)
        self.assertEqual(self.ben.read(), ["QUIT alice :connection lost", "QUIT carol :connection lost"])
        self.server.clock.advance(LINGER)
        self.assertEqual(self.ben.read(), [], "once")
        self.assertEqual(self.server.connect().type("/nick carol")[0].split()[:2], ["WELCOME", "carol"], "free")

    def test_a_quit_does_not_linger(self) -> None:
        carol, _ = self.guest("carol")
        carol.type("/quit bye")
        self.assertEqual(self.ben.read(), ["QUIT carol :bye"])

    def test_without_linger_a_lost_connection_quits_at_once(self) -> None:
        self.chat.limits = RoomLimits(linger=0)
        carol, _ = self.guest("carol")
        carol.lose()
        self.assertEqual(self.ben.read(), ["QUIT carol :connection lost"])

    def test_an_irc_guest_does_not_linger(self) -> None:
        self.server.irc("dave", "#5").lose()
        self.assertEqual(self.ben.read(), ["QUIT dave :connection lost"])

    def test_a_lingering_person_is_let_go_at_shutdown(self) -> None:
        carol, _ = self.guest("carol")
        carol.lose()
        expiry = self.chat.nicks["carol"].expiry
        assert expiry is not None
        self.server.factory.close("server shutting down")
        self.assertEqual(self.chat.nicks, {})
        self.assertFalse(expiry.active(), "no expiry left behind")


class HistoryOffTests(SynchronousTestCase):
    def test_without_history_a_reclaim_shows_the_room_as_it_is(self) -> None:
        server = IRCServer(GENEROUS, RoomLimits(linger=LINGER))
        server.chat.history_limits = HistoryLimits(0)
        ben = server.connect("ben", "5")
        carol = server.connect()
        carol.type("/nick carol", "/join 5")
        carol.lose()
        ben.type("lost to carol")
        burst = server.connect().type(f"/resume carol {carol.token}")
        self.assertEqual(burst[1:], ["JOIN #5 carol", "ROOM #5 * topiclock", "NAMES #5 @ben carol", "CURRENT #5"])

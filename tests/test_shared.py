"""Several processes' replicas of one chat, on the log in memory: the order, the races, joining late, leaving."""

from __future__ import annotations

import ast
import inspect
import itertools
import textwrap
from collections.abc import Callable, Iterable
from typing import Any

from twisted.internet import task
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from chatroom.bus.log import MemoryLog, decode, gone
from chatroom.bus.shared import LOST_PLACE, REPLICATED, RESTORED, SharedChat
from chatroom.core.chat import Chat
from chatroom.core.errors import ChatError
from chatroom.core.events import (
    Event,
    History,
    Joined,
    Message,
    Names,
    Parted,
    PrivateMessage,
    Quit,
    ReadMarker,
    Redacted,
    ResumeToken,
    RoleChanged,
    ServerNotice,
    SettingChanged,
    Topic,
    Wallops,
)
from chatroom.core.history import LINE_BYTES, HistoryLimits, seconds
from chatroom.core.members import LINGERING, Member, RoomLimits
from chatroom.core.moderation import Role, Setting
from chatroom.core.names import room_key
from chatroom.core.sequencing import asked_by, changes
from chatroom.core.wording import DEGRADED
from chatroom.frontends.irc.frontend import IRCFrontEnd
from chatroom.frontends.irc.wire import parse
from chatroom.server.connection import ConnectionFactory
from tests.helpers import MemoryClient, RecordingSession
from tests.test_lifecycle import GENEROUS
from tests.test_moderation import Directory


class Replicas(SynchronousTestCase):
    """Processes "a" and "b" sharing a log in memory; time stands still unless a test moves it."""

    history = HistoryLimits()
    limits = RoomLimits()

    def setUp(self) -> None:
        self.clock = task.Clock()
        self.log = MemoryLog(self.clock)
        self.sessions: list[RecordingSession] = []
        self.a = self.process("a")
        self.b = self.process("b")

    def process(self, name: str) -> SharedChat:
        chat = SharedChat(
            self.log,
            self.clock.seconds,
            limits=self.limits,
            accounts=Directory(ada=True),
            process=name,
            history=self.history,
            timers=self.clock,
        )
        started = chat.start()
        self.settle()
        self.assertIsNone(self.successResultOf(started))
        return chat

    def settle(self) -> None:
        """Let the log deliver everything appended so far, and what that appends in turn (not later timers)."""
        while any(call.getTime() <= self.clock.seconds() for call in self.clock.getDelayedCalls()):
            self.clock.advance(0)

    def member(
        self, chat: SharedChat, nick: str, *rooms: str, account: str | None = None
    ) -> tuple[Member, RecordingSession]:
        """A member in these rooms; every session's record starts afresh after it arrives."""
        session = RecordingSession()
        self.sessions.append(session)
        entered = chat.enter(session, nick, account, "192.0.2.1")
        self.settle()
        member = self.successResultOf(entered)
        for room in rooms:
            chat.join(member, room)
        self.settle()
        for recorded in self.sessions:
            recorded.take()
        return member, session


class SharedChatTests(Replicas):
    def test_members_on_two_processes_talk_in_one_room(self) -> None:
        alice, heard_by_alice = self.member(self.a, "alice", "5")
        bob, heard_by_bob = self.member(self.b, "bob")
        self.b.join(bob, "5")
        self.settle()
        self.assertEqual(heard_by_alice.take(), [Joined("#5", "bob")])
        self.assertIn(Names("#5", ("@alice", "bob")), heard_by_bob.take())
        self.b.say(bob, "5", "hello")
        self.assertEqual(heard_by_bob.events, [], "nothing is said before its turn in the log")
        self.settle()
        self.assertEqual(heard_by_alice.take(), [Message("#5", "bob", "hello")])
        self.assertEqual(heard_by_bob.take(), [Message("#5", "bob", "hello")])
        self.assertEqual(self.a.who(alice, "5"), self.b.who(bob, "5"))

    def test_a_private_message_reaches_a_person_on_another_process(self) -> None:
        alice, heard_by_alice = self.member(self.a, "alice")
        _, heard_by_bob = self.member(self.b, "bob")
        self.a.private(alice, "Bob", "just between us")
        self.settle()
        told = PrivateMessage("alice", "bob", "just between us")
        self.assertEqual((heard_by_bob.take(), heard_by_alice.take()), ([told], [told]))

    def test_concurrent_senders_on_two_processes_are_heard_in_one_order_by_everyone(self) -> None:
        alice, heard_by_alice = self.member(self.a, "alice", "5")
        bob, heard_by_bob = self.member(self.b, "bob", "5")
        _, heard_by_carol = self.member(self.b, "carol", "5")
        for number in range(20):
            self.a.say(alice, "5", f"a{number}")
            self.b.say(bob, "5", f"b{number}")
            if number % 3 == 0:
                self.settle()
        self.settle()
        heard = heard_by_alice.take()
        self.assertEqual(len(heard), 40)
        self.assertEqual(heard_by_bob.take(), heard)
        self.assertEqual(heard_by_carol.take(), heard)

    def test_a_refusal_is_answered_at_once_and_nothing_reaches_the_log(self) -> None:
        alice, _ = self.member(self.a, "alice")
        before = len(self.log.entries)
        error = self.assertRaises(ChatError, self.a.say, alice, "5", "hello")
        self.assertEqual(error.code, "NOT_IN_ROOM")
        self.assertEqual(len(self.log.entries), before)

    def test_wallops_reach_those_who_hear_them_on_every_process(self) -> None:
        ada, heard_by_ada = self.member(self.a, "ada", account="ada")  # a server administrator
        bob, heard_by_bob = self.member(self.b, "bob")
        carol, heard_by_carol = self.member(self.a, "carol")
        self.b.set_wallops(bob, True)
        self.settle()
        self.assertTrue(self.a.nicks["bob"].details.wallops, "+w is the member's, on every replica")
        self.a.wallops(ada, "restarting at noon")
        self.assertEqual(heard_by_bob.events, [], "told in its turn in the log")
        self.settle()
        said = Wallops("ada", "restarting at noon")
        self.assertEqual((heard_by_bob.take(), heard_by_ada.take(), heard_by_carol.take()), ([said], [said], []))
        error = self.assertRaises(ChatError, self.a.wallops, carol, "me too")
        self.assertEqual((error.code, error.arguments), ("NOT_ADMIN", {"action": "send wallops"}))

    def test_a_read_marker_moves_for_a_persons_sessions_on_every_process_and_a_newcomer_knows_it(self) -> None:
        self.clock.rightNow = seconds("2026-11-24T00:00:00Z")  # the markers are in the past: never set past now
        ada_here, heard_here = self.member(self.a, "ada", "5", account="ada")
        ada_there, heard_there = self.member(self.b, "ada", account="ada")  # her phone, on the other process
        self.assertIs(self.b.nicks["ada"], ada_there)
        carol, _ = self.member(self.b, "carol", "5")
        self.a.mark_read(ada_here, "#5", "2026-11-23T12:00:00.000Z")
        self.b.mark_read(carol, "ada", "2026-11-23T12:01:00.000Z")
        self.settle()
        marked = ReadMarker("#5", "2026-11-23T12:00:00.000Z")
        self.assertEqual((heard_here.take(), heard_there.take()), ([marked], [marked]))
        c = self.process("c")
        self.assertEqual(c.read_marker(c.nicks["ada"], "#5"), marked, "an account's, in the snapshot")
        self.assertEqual(c.read_marker(c.nicks["carol"], "ada"), ReadMarker("ada", "2026-11-23T12:01:00.000Z"))

    def test_one_nickname_claimed_on_two_processes_at_once_goes_to_the_first_in_the_log(self) -> None:
        first, second = RecordingSession(), RecordingSession()
        won = self.a.enter(first, "zoe", None, "192.0.2.1")
        lost = self.b.enter(second, "ZOE", None, "192.0.2.2")
        self.settle()
        self.assertEqual(self.successResultOf(won).nick, "zoe")
        self.assertEqual(self.failureResultOf(lost, ChatError).value.code, "NICK_TAKEN")
        self.assertEqual(set(self.a.nicks), {"zoe"})
        self.assertEqual(set(self.b.nicks), {"zoe"})

    def test_a_rename_racing_a_registration_elsewhere_is_refused_to_the_one_who_came_second(self) -> None:
        bob, heard_by_bob = self.member(self.b, "bob", "5")
        entered = self.a.enter(RecordingSession(), "zoe", None, "192.0.2.1")
        with asked_by(heard_by_bob):  # as his connection asks
            self.b.rename(bob, "Zoe")  # free in b's replica when asked
        self.settle()
        self.assertEqual(self.successResultOf(entered).nick, "zoe")
        self.assertEqual(heard_by_bob.refusals, ["NICK_TAKEN"])
        self.assertEqual(bob.nick, "bob")
        self.assertEqual(self.a.nicks.keys(), self.b.nicks.keys())

    def test_a_process_joining_late_gets_the_state_and_then_follows(self) -> None:
        alice, _ = self.member(self.a, "alice", "5", "maths")
        _, heard_by_bob = self.member(self.b, "bob", "5")
        self.a.set_topic(alice, "5", "homework")
        self.a.set_role(alice, "5", "bob", Role.VOICE, True)
        self.a.configure(alice, "maths", Setting.MODERATED, True)
        self.a.invite(alice, "maths", "bob")
        self.settle()
        c = self.process("c")
        self.assertEqual(c.who(alice, "5"), self.a.who(alice, "5"))
        self.assertEqual(c.room_list(alice), self.a.room_list(alice))
        self.assertEqual(c.rooms[room_key("5")].topic, Topic("#5", "alice", "homework"))
        self.assertTrue(c.rooms[room_key("maths")].settings.moderated)
        carol, heard_by_carol = self.member(c, "carol", "5")
        c.say(carol, "5", "hi")
        self.settle()
        self.assertEqual(heard_by_bob.take()[-1], Message("#5", "carol", "hi"))
        self.assertEqual(heard_by_carol.take(), [Message("#5", "carol", "hi")])

    def test_members_of_a_lost_process_quit_everywhere_and_free_their_nicknames(self) -> None:
        alice, heard_by_alice = self.member(self.a, "alice", "5")
        self.member(self.b, "bob", "5")
        self.log.lose("b")
        self.settle()
        self.assertEqual(heard_by_alice.take(), [Quit("bob", "server lost")])
        self.assertEqual(self.a.who(alice, "5"), Names("#5", ("@alice",)))
        self.member(self.a, "bob")

    def test_a_newcomer_only_a_lost_process_would_answer_is_answered_once_that_one_is_gone(self) -> None:
        alice, _ = self.member(self.b, "alice", "5")
        self.log.readers.pop("a")  # the oldest process is killed; nobody has noticed yet
        c = SharedChat(self.log, self.clock.seconds, process="c")
        started = c.start()
        self.settle()
        self.assertNoResult(started)
        dave, _ = self.member(self.b, "dave")  # after c's hello: the snapshot taken later includes these
        self.b.rename(dave, "dan")
        self.settle()
        self.log.lose("a")  # now the others notice
        self.settle()
        self.successResultOf(started)
        self.assertEqual(c.who(alice, "5"), self.b.who(alice, "5"))
        self.assertEqual(c.nicks.keys(), self.b.nicks.keys())  # not "dave" entering a second time

    def test_changes_made_together_are_told_together_everywhere(self) -> None:
        alice, heard_by_alice = self.member(self.a, "alice", "5")
        _, heard_by_bob = self.member(self.b, "bob", "5")
        with self.a.changes(alice, "5"):
            self.a.configure(alice, "5", Setting.MODERATED, True)
            self.a.set_role(alice, "5", "bob", Role.VOICE, True)
        self.settle()
        (told,) = heard_by_bob.take()
        self.assertEqual(heard_by_alice.take(), [told])
        self.assertEqual(
            told.changes,
            (SettingChanged("#5", "alice", "moderated", "on"), RoleChanged("#5", "alice", "bob", "voice", True)),
        )

    def test_without_the_log_changes_are_refused_quits_wait_and_all_resumes_when_it_is_back(self) -> None:
        alice, heard_by_alice = self.member(self.a, "alice", "5")
        bob, heard_by_bob = self.member(self.a, "bob", "5")
        self.member(self.b, "carol", "5")
        self.a.unavailable()
        self.assertEqual(heard_by_alice.take(), [ServerNotice(DEGRADED)])
        error = self.assertRaises(ChatError, self.a.say, alice, "5", "anyone?")
        self.assertEqual(error.code, "DEGRADED")
        self.a.quit(bob, "bye")
        self.settle()
        self.assertIn("bob", self.b.nicks, "nothing reached the log")
        self.a.available()
        self.settle()
        self.assertEqual(heard_by_alice.take(), [ServerNotice(RESTORED), Quit("bob", "bye")])
        self.assertNotIn("bob", self.b.nicks)
        self.assertEqual(heard_by_bob.closed, None)

    def test_an_entry_naming_something_other_than_a_change_is_ignored(self) -> None:
        alice, _ = self.member(self.a, "alice", "5")
        self.log.append({"k": "do", "p": "b", "m": alice.key, "f": "close", "a": ["nope"], "t": 0})
        self.settle()
        self.assertIn("alice", self.a.nicks)
        self.assertEqual(decode(self.log.entries[-1])["f"], "close")

    def test_a_process_the_others_gave_up_lets_its_members_go_and_joins_again(self) -> None:
        """Cut off but alive: its members are no longer in the others' chat, so it must not keep them."""
        self.member(self.a, "alice", "5")
        _, heard_by_bob = self.member(self.b, "bob", "5")
        self.log.append(gone("b", "server lost", ["a"]))
        self.settle()
        self.assertEqual(heard_by_bob.closed, LOST_PLACE)
        self.assertTrue(self.b.is_ready, "it joined again, from a snapshot")
        self.assertEqual(set(self.b.nicks), {"alice"})
        self.assertEqual(set(self.a.nicks), {"alice"})
        self.member(self.b, "bob", "5")


class SharedSessionsTests(Replicas):
    """A person's sessions on several processes (issue 26): the two-process counterparts of tests/test_sessions.py."""

    history = HistoryLimits(5)
    limits = RoomLimits(sessions_per_person=3, linger=60.0)

    def setUp(self) -> None:
        super().setUp()
        self.alice, self.laptop = self.member(self.a, "alice", "5", account="alice")
        self.bob, self.heard_by_bob = self.member(self.b, "bob", "5")

    def another(self, chat: SharedChat, nick: str = "alice", account: str | None = "alice", token: str = "") -> Any:
        """One more session of a person already here, entered on `chat`: the member and its session."""
        session = RecordingSession()
        entered = chat.enter(session, nick, account, "192.0.2.3", token=token)
        self.settle()
        return self.successResultOf(entered), session

    def lose(self, chat: SharedChat, member: Member, session: RecordingSession) -> None:
        self.assertFalse(chat.leave(member, session, "connection lost", lost=True), "they linger")
        self.settle()

    def assert_alike(self) -> None:
        """Every replica counts the same sessions, on the same processes, for the same people."""
        placed = [{key: chat.replica._placed(m) for key, m in chat.replica.by_key.items()} for chat in (self.a, self.b)]
        self.assertEqual(placed[0], placed[1])
        self.assertEqual(state(self.a), state(self.b))

    def test_a_change_waiting_for_its_turn_is_awaited_by_the_session_that_asked_for_it_only(self) -> None:
        _, phone = self.another(self.a)
        with asked_by(self.laptop):
            self.a.join(self.alice, "6")
        self.assertIsNone(self.a.settled(self.alice, phone), "the phone asked for nothing: its next line goes on")
        with asked_by(phone):
            self.a.set_away(self.alice, "at lunch")
        by_laptop, by_phone = self.a.settled(self.alice, self.laptop), self.a.settled(self.alice, phone)
        assert by_laptop is not None and by_phone is not None
        self.assertIsNone(self.a.settled(self.alice, None), "none asked for by no session")
        away_then = by_laptop.addCallback(lambda _: self.alice.details.away)
        self.settle()
        self.assertEqual(self.successResultOf(away_then), "", "the laptop goes on at its join's turn")
        self.successResultOf(by_phone)

    def test_two_sessions_of_one_account_on_two_processes_both_hear_and_one_quits_unseen(self) -> None:
        member, phone = self.another(self.b)
        self.assertIs(member, self.b.nicks["alice"])
        self.b.catch_up(member, phone)
        self.assertIn(Names("#5", ("@alice", "bob")), phone.take())
        self.assertEqual(self.heard_by_bob.take(), [], "no QUIT, no JOIN: alice was here already")
        self.assertEqual([len(chat.nicks["alice"].sessions) for chat in (self.a, self.b)], [2, 2])
        self.assert_alike()

        self.a.say(self.alice, "5", "from the laptop")
        self.settle()
        said = [Message("#5", "alice", "from the laptop")]
        self.assertEqual([heard(phone), heard(self.laptop), heard(self.heard_by_bob)], [said, said, said])

        self.assertFalse(self.a.leave(self.alice, self.alice.sessions[0], "bye"), "she stays, on the phone")
        self.settle()
        self.assertEqual(self.heard_by_bob.take(), [])
        self.b.say(member, "5", "from the phone")
        self.settle()
        self.assertEqual(heard(self.heard_by_bob), [Message("#5", "alice", "from the phone")])
        self.assertEqual([len(chat.nicks["alice"].sessions) for chat in (self.a, self.b)], [1, 1])
        self.assert_alike()

    def test_the_limit_of_sessions_counts_every_process(self) -> None:
        self.another(self.b)
        self.another(self.a)
        entering = self.b.enter(RecordingSession(), "alice", "alice", "192.0.2.3")
        self.assertEqual(self.failureResultOf(entering, ChatError).value.code, "TOO_MANY_SESSIONS")

    def test_a_lost_connection_is_reclaimed_on_the_other_process_by_account_with_the_lines_missed(self) -> None:
        self.lose(self.a, self.alice, self.laptop)
        self.assertEqual(self.heard_by_bob.take(), [])
        self.assertEqual([chat.nicks["alice"].details.away for chat in (self.a, self.b)], [LINGERING] * 2)
        self.b.say(self.bob, "5", "alice, are you there?")
        self.settle()
        member, back = self.another(self.b)
        self.b.catch_up(member, back)
        shown = [event for event in back.take() if isinstance(event, History)]
        self.assertEqual([m.text for m in shown[0].messages], ["alice, are you there?"])
        self.assertEqual([chat.nicks["alice"].details.away for chat in (self.a, self.b)], ["", ""])
        self.clock.advance(self.limits.linger)
        self.settle()
        self.assertEqual(self.heard_by_bob.take(), [Message("#5", "bob", "alice, are you there?")], "no QUIT")
        self.assert_alike()

    def test_a_private_message_held_while_away_is_given_once_wherever_she_comes_back(self) -> None:
        self.lose(self.a, self.alice, self.laptop)
        self.b.private(self.bob, "alice", "psst")
        self.settle()
        member, back = self.another(self.b)
        self.b.catch_up(member, back)
        psst = PrivateMessage("bob", "alice", "psst")
        self.assertEqual([event for event in back.take() if isinstance(event, PrivateMessage)], [psst])
        self.lose(self.b, member, back)  # away again, with nothing sent meanwhile: process a held "psst" too
        member, again = self.another(self.a)
        self.a.catch_up(member, again)
        self.assertEqual([event for event in again.take() if isinstance(event, PrivateMessage)], [], "given once")

    def test_a_guest_reclaims_by_token_on_the_other_process(self) -> None:
        carol, session = self.member(self.a, "carol", "5")
        token = self.a.resume_token(carol)
        self.settle()
        self.lose(self.a, carol, session)
        wrong = self.b.enter(RecordingSession(), "carol", None, "192.0.2.3", token="not-" + token)
        self.assertEqual(self.failureResultOf(wrong, ChatError).value.code, "RESUME_FAILED")
        member, _ = self.another(self.b, "carol", None, token)
        self.assertIs(member, self.b.nicks["carol"])
        self.assertEqual(self.b.resume_token(member), token, "one token, the same on every process")
        self.assertEqual(self.heard_by_bob.take(), [])
        self.assert_alike()

    def test_a_token_renewed_on_one_process_replaces_the_old_one_on_the_other(self) -> None:
        """A session of carol's ended from another of hers (/sessions kick): the token it had reclaims her nowhere."""
        carol, on_a = self.member(self.a, "carol", "5")
        token = self.a.resume_token(carol)
        self.settle()
        member, on_b = self.another(self.b, "carol", None, token)
        on_b.take()
        self.a.renew_token(carol)
        self.settle()
        renewed = carol.token
        self.assertNotEqual(renewed, token)
        told = [ResumeToken("carol", renewed)]
        self.assertEqual([on_a.take(), on_b.take()], [told, told], "each of her sessions, on either process")
        self.assertEqual(self.b.nicks["carol"].token, renewed)
        stale = self.b.enter(RecordingSession(), "carol", None, "192.0.2.3", token=token)
        self.assertEqual(self.failureResultOf(stale, ChatError).value.code, "RESUME_FAILED")
        self.assertIs(self.another(self.b, "carol", None, renewed)[0], member)
        self.assert_alike()

    def test_a_process_joining_late_counts_the_sessions_and_knows_the_tokens(self) -> None:
        carol, session = self.member(self.a, "carol", "5")
        token = self.a.resume_token(carol)
        self.another(self.b)
        self.settle()
        self.lose(self.a, carol, session)
        late = self.process("c")
        self.assert_alike()
        self.assertEqual(state(late), state(self.a))
        self.assertEqual(late.replica._placed(late.nicks["alice"]), [("a", 1), ("b", 1)])
        self.assertEqual(late.nicks["carol"].sessions, [], "lingering")
        self.another(late, "carol", None, token)
        self.clock.advance(self.limits.linger)
        self.settle()
        self.assertEqual(self.heard_by_bob.take(), [], "carol came back through the late process")

    def test_nobody_else_can_take_a_lingering_nickname_on_the_other_process(self) -> None:
        self.lose(self.a, self.alice, self.laptop)
        taking = self.b.enter(RecordingSession(), "alice", None, "192.0.2.3")
        self.assertEqual(self.failureResultOf(taking, ChatError).value.code, "NICK_TAKEN")

    def test_the_grace_period_ends_with_exactly_one_quit_seen_by_everyone(self) -> None:
        _, heard_by_dave = self.member(self.a, "dave", "5")
        self.lose(self.a, self.alice, self.laptop)
        self.clock.advance(self.limits.linger)
        self.settle()
        quit = [Quit("alice", "connection lost")]
        self.assertEqual([self.heard_by_bob.take(), heard_by_dave.take()], [quit, quit])
        self.assertEqual(sum(decode(data).get("f") == "expire" for data in self.log.entries), 1)
        self.assertNotIn("alice", self.b.nicks)
        self.assert_alike()

    def test_a_lost_process_leaves_its_people_lingering_and_they_come_back_elsewhere(self) -> None:
        _, heard_by_dave = self.member(self.a, "dave", "5")
        self.member(self.b, "erin", "5")  # a guest never told a token: nothing could bring her back
        self.member(self.b, "gina", "5", account="gina")
        token = self.b.resume_token(self.bob)
        self.another(self.b)  # alice, on both
        self.settle()
        heard_by_dave.take()
        self.log.lose("b")
        self.settle()
        self.assertEqual(heard_by_dave.take(), [Quit("erin", "server lost")])
        self.assertEqual(self.a.nicks["alice"].sessions, [self.laptop], "her session here is all she has left")
        self.assertEqual(self.a.nicks["gina"].details.away, LINGERING)
        self.another(self.a, "gina", "gina")
        self.another(self.a, "bob", None, token)
        self.clock.advance(self.limits.linger)
        self.settle()
        self.assertEqual(heard_by_dave.take(), [], "both came back in time")

    def test_a_lingering_person_whose_expiring_process_is_lost_is_expired_once_by_the_oldest(self) -> None:
        _, heard_by_dave = self.member(self.a, "dave", "5")
        gina, on_b = self.member(self.b, "gina", "5", account="gina")
        self.lose(self.b, gina, on_b)
        self.clock.advance(self.limits.linger / 2)
        self.log.lose("b")  # bob, a guest with no token, quits: gina was already lingering, with B's timer
        self.settle()
        self.assertEqual(heard_by_dave.take(), [Quit("bob", "server lost")])
        self.c = self.process("c")
        self.clock.advance(self.limits.linger)
        self.settle()
        self.assertEqual(heard_by_dave.take(), [Quit("gina", "connection lost")])
        self.assertEqual(self.a.nicks.keys(), self.c.nicks.keys())
        self.clock.advance(self.limits.linger)  # the lost one's timer, had it lived on, expires nobody twice
        self.settle()
        self.assertEqual(heard_by_dave.take(), [])


def fail_once(method: Callable[..., Any]) -> Callable[..., Any]:
    """`method`, but its first call raises, as a bug met in one replica only would."""
    calls = itertools.count()

    def failing(*args: Any, **kwargs: Any) -> Any:
        if next(calls) == 0:
            raise RuntimeError("injected")
        return method(*args, **kwargs)

    return failing


def state(chat: SharedChat) -> tuple[object, ...]:
    """What every replica must agree on: members and their details, rooms with roles, topics and settings."""
    return (
        sorted((member.key, member.nick, member.details) for member in chat.nicks.values()),
        sorted(
            (
                key,
                sorted((member.key, role) for member, role in room.members.items()),
                room.topic,
                room.settings,
                [message.text for message in room.history.kept],
            )
            for key, room in chat.rooms.items()
        ),
    )


class ResynchronisingTests(Replicas):
    """A replica that fails to apply an entry tells its members, resynchronises from a snapshot, and goes on."""

    history = HistoryLimits(5)

    def setUp(self) -> None:
        super().setUp()
        self.logged = EventLoggingObserver()
        globalLogPublisher.addObserver(self.logged)
        self.addCleanup(globalLogPublisher.removeObserver, self.logged)
        self.alice, self.heard_by_alice = self.member(self.a, "alice", "5", "maths")
        self.bob, self.heard_by_bob = self.member(self.b, "bob", "5", "maths")
        self.carol, self.heard_by_carol = self.member(self.b, "carol", "5")
        self.a.set_topic(self.alice, "5", "homework")
        self.settle()
        for session in (self.heard_by_alice, self.heard_by_bob, self.heard_by_carol):
            session.take()

    def test_a_change_half_made_on_one_replica_is_undone_by_a_snapshot_from_the_other(self) -> None:
        self.patch(self.b, "_leave", fail_once(self.b._leave))
        self.a.part(self.alice, "maths")  # b tells its members, then fails to remove her
        self.settle()
        told = [Parted("#maths", "alice", ""), ServerNotice(DEGRADED), ServerNotice(RESTORED)]
        self.assertEqual(self.heard_by_bob.take(), told)
        self.assertEqual(self.heard_by_carol.take(), [ServerNotice(DEGRADED), ServerNotice(RESTORED)])
        self.assertEqual(state(self.b), state(self.a))
        self.assertEqual(self.b.who(self.bob, "maths"), Names("#maths", ("bob",)))
        self.assertEqual(self.heard_by_alice.take(), [Parted("#maths", "alice", "")], "a noticed nothing")
        self.keep_chatting()

    def test_a_line_a_replica_failed_to_deliver_is_kept_alike_and_never_logged(self) -> None:
        self.patch(self.b.history_store, "said", fail_once(self.b.history_store.said))
        self.a.say(self.alice, "5", "the secret plan")
        self.b.say(self.bob, "5", "right after")  # before b's call for a snapshot: it comes with the snapshot
        self.settle()
        self.assertEqual(state(self.b), state(self.a))
        self.assertEqual(self.heard_by_carol.take(), [ServerNotice(DEGRADED), ServerNotice(RESTORED)])
        self.assertEqual(
            [message.text for message in self.b.rooms[room_key("5")].history.kept],
            ["homework", "the secret plan", "right after"],  # the topic change first: kept among the lines
            "what b's members missed meanwhile, they can read in the history",
        )
        [failure] = [event for event in self.logged if "failed to apply" in formatEvent(event)]
        self.assertIn("do say", formatEvent(failure))
        self.assertNotIn("secret", repr(list(self.logged)), "nothing anyone types is ever logged")
        self.keep_chatting()

    def test_a_change_asked_while_resynchronising_is_refused_and_a_quit_still_goes_through(self) -> None:
        refused = []

        def told(event: Event) -> None:
            """Bob's client answers the notice at once: the snapshot is not there yet."""
            if event == ServerNotice(DEGRADED):
                refused.append(self.assertRaises(ChatError, self.b.say, self.bob, "5", "anyone?").code)
                self.b.quit(self.carol, "bye")

        self.patch(self.heard_by_bob, "deliver", told)
        self.patch(self.b, "_leave", fail_once(self.b._leave))
        self.a.part(self.alice, "maths")
        self.settle()
        self.assertEqual(refused, ["DEGRADED"])
        self.assertEqual(self.heard_by_alice.take(), [Parted("#maths", "alice", ""), Quit("carol", "bye")])
        self.assertNotIn("carol", self.b.nicks)
        self.assertEqual(state(self.b), state(self.a))

    def test_a_replica_alone_rebuilds_itself_from_its_own_snapshot(self) -> None:
        self.log.lose("a")
        self.settle()
        self.patch(self.b, "_leave", fail_once(self.b._leave))
        self.b.part(self.carol, "5")  # half made: the room still holds her, her own list of rooms not
        self.settle()
        room = self.b.rooms[room_key("5")]
        self.assertEqual((self.carol in room.members, list(self.carol.rooms.values())), (True, [room]), "whole again")
        self.assertEqual(self.heard_by_carol.take()[-2:], [ServerNotice(DEGRADED), ServerNotice(RESTORED)])
        self.b.say(self.bob, "5", "still here")
        self.settle()
        self.assertEqual(self.heard_by_bob.take()[-1], Message("#5", "bob", "still here"))

    def keep_chatting(self) -> None:
        """Members on both processes talk on: the resynchronised replica's members are the ones front ends hold."""
        self.b.say(self.bob, "5", "still here")
        self.a.say(self.alice, "5", "me too")
        self.settle()
        said = [Message("#5", "bob", "still here"), Message("#5", "alice", "me too")]
        for session in (self.heard_by_alice, self.heard_by_bob, self.heard_by_carol):
            self.assertEqual([event for event in session.take() if isinstance(event, Message)][-2:], said)
        self.assertEqual(state(self.b), state(self.a))
        self.assertEqual(state(self.process("c")), state(self.a))


class DeclaredChangesTests(SynchronousTestCase):
    """The core's @change marks are the one list of changes: a change added later is replicated, or this fails."""

    def test_every_method_that_commits_is_declared_a_change_and_the_replica_sequences_each(self) -> None:
        parts = [part for part in Chat.__mro__ if part.__module__.startswith("chatroom.core.")]  # Chat is in parts
        self.assertGreater(len(parts), 2)
        committing = {
            method.name
            for part in parts
            for method in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(part))))
            if isinstance(method, ast.FunctionDef)
            and any(
                isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "_commit"
                for call in ast.walk(method)
            )
        }
        declared = set(changes(Chat))
        # register is made through enter, which puts its own kind of entry in the log
        self.assertEqual(committing - {"register", "_commit"}, declared)
        self.assertEqual(set(REPLICATED), declared, "a log entry may name each declared change, and nothing else")
        chat = SharedChat(MemoryLog(task.Clock()), lambda: 0.0)
        handed = {name for name in declared if getattr(getattr(chat, name), "func", None) == chat.replica.run}
        self.assertEqual(handed, declared, "a replica is handed every change")
        self.assertFalse(any(name in vars(Chat()) for name in declared), "a chat alone calls its changes directly")


def stamped(messages: Iterable[Message]) -> list[tuple[str, str, str, str]]:
    """Messages with their ids and times, which Message's == leaves out."""
    return [(message.id, message.time, message.nick, message.text) for message in messages]


def heard(session: RecordingSession) -> list[Message]:
    return [event for event in session.take() if isinstance(event, Message)]


class SharedHistoryTests(Replicas):
    """With --history, every replica keeps the same lines under the same ids and times: the log's order makes them."""

    history = HistoryLimits(5)

    def setUp(self) -> None:
        super().setUp()
        self.clock.advance(1_795_000_000)  # 2026: ids and times as they look in use

    def kept(self, chat: SharedChat, room: str = "5") -> tuple[str, int, list[tuple[str, str, str, str]]]:
        history = chat.rooms[room_key(room)].history
        return history.epoch, history.said, stamped(history.kept)

    def talk(self, *said: tuple[SharedChat, Member, str]) -> None:
        """Each says their line in the same turn, the clock moving on a little after each; then the log runs."""
        for chat, member, text in said:
            chat.say(member, "5", text)
            self.clock.advance(0.25)
        self.settle()

    def test_two_replicas_give_the_same_ids_and_times_and_keep_the_same_lines(self) -> None:
        alice, heard_by_alice = self.member(self.a, "alice", "5")
        bob, heard_by_bob = self.member(self.b, "bob", "5")
        for number in range(4):
            self.talk((self.a, alice, f"a{number}"), (self.b, bob, f"b{number}"))
        told = heard(heard_by_alice)
        self.assertEqual(stamped(heard(heard_by_bob)), stamped(told))
        self.assertEqual(len({message.id for message in told}), 8, "one id each")
        self.assertEqual(len({message.time for message in told}), 8, "each the time its entry was made")
        self.assertEqual(self.kept(self.b), self.kept(self.a))
        epoch, said, kept = self.kept(self.a)
        self.assertEqual((said, kept), (8, stamped(told[-5:])))
        self.assertEqual([message.id for message in told], [f"{epoch}-{number}" for number in range(1, 9)])
        carol, heard_by_carol = self.member(self.a, "carol")
        dave, heard_by_dave = self.member(self.b, "dave")
        self.a.join(carol, "5")
        self.b.join(dave, "5")
        self.settle()
        (history,) = [event for event in heard_by_carol.take() if isinstance(event, History)]
        (same,) = [event for event in heard_by_dave.take() if isinstance(event, History)]
        self.assertEqual(stamped(same.messages), stamped(history.messages))
        self.assertEqual(stamped(history.messages), kept)
        self.assertEqual(
            stamped(self.successResultOf(self.a.history(alice, "5", "before", told[-1].id, 2)).messages),
            stamped(self.successResultOf(self.b.history(bob, "5", "before", told[-1].id, 2)).messages),
        )

    def test_a_process_that_joins_late_gets_the_history_and_catches_a_member_up(self) -> None:
        alice, heard_by_alice = self.member(self.a, "alice", "5")
        bob, _ = self.member(self.b, "bob", "5")
        self.talk(*((self.a, alice, f"before {number}") for number in range(3)))
        self.talk((self.a, alice, "to all"))
        self.a.say(alice, "5", "for the operators", to="@")  # given an id, never kept
        self.settle()
        seen = heard(heard_by_alice)
        c = self.process("c")
        self.assertEqual(self.kept(c), self.kept(self.a))
        self.assertEqual(self.kept(c)[1], 4)  # the operators' line is numbered aside: 4.1
        self.assertEqual(c.rooms["5"].history.asides, 1)
        self.talk((self.b, bob, "after c"), (self.a, alice, "and again"))
        self.assertEqual(self.kept(c), self.kept(self.a))
        self.assertEqual(self.kept(c), self.kept(self.b))
        # Back after a disconnection, on the late process: everything kept after the last line they saw, and no more.
        carol, heard_by_carol = self.member(c, "carol")
        c.join(carol, "5", since=seen[1].id)
        self.settle()
        (history,) = [event for event in heard_by_carol.take() if isinstance(event, History)]
        self.assertEqual(history.lost, 0)
        self.assertEqual(stamped(history.messages), self.kept(self.a)[2][-4:])
        self.assertEqual([message.text for message in history.messages], ["before 2", "to all", "after c", "and again"])
        # More said since than kept: how many were lost is counted alike (not the operators' line: never kept).
        self.talk(*((self.b, bob, f"more {number}") for number in range(3)))
        dave, heard_by_dave = self.member(c, "dave")
        c.join(dave, "5", since=seen[0].id)
        self.settle()
        (history,) = [event for event in heard_by_dave.take() if isinstance(event, History)]
        self.assertEqual(history.lost, 3)
        self.assertEqual(stamped(history.messages), self.kept(self.b)[2])

    def test_redactions_and_clearing_are_ordered_and_made_by_every_replica(self) -> None:
        alice, heard_by_alice = self.member(self.a, "alice", "5")  # she opened the room: its operator
        bob, heard_by_bob = self.member(self.b, "bob", "5")
        ada, _ = self.member(self.b, "ada", "5", account="ada")  # a server administrator
        self.talk((self.b, bob, "spam 1"), (self.a, alice, "hello"), (self.b, bob, "spam 2"))
        first = heard(heard_by_alice)[0]
        self.a.redact(alice, "5", first.id)
        self.b.say(bob, "5", "spam 3")  # in the same turn: the log puts it after the redaction
        self.settle()
        self.assertEqual([message.text for message in self.b.rooms["5"].history.kept], ["hello", "spam 2", "spam 3"])
        self.assertEqual(self.kept(self.a), self.kept(self.b))
        self.b.say(bob, "5", "spam 4")  # before the redaction of all his lines, in the log
        self.a.redact(alice, "5", "bob")
        self.b.say(bob, "5", "spam 5")  # after it: kept
        self.settle()
        for chat in (self.a, self.b):
            self.assertEqual([message.text for message in chat.rooms["5"].history.kept], ["hello", "spam 5"])
        self.assertEqual(self.kept(self.a), self.kept(self.b))
        told = [event for event in heard_by_bob.take() if isinstance(event, Redacted)]
        self.assertEqual(told, [event for event in heard_by_alice.take() if isinstance(event, Redacted)])
        self.assertEqual(len(told[1].ids), 3, "spam 2, 3 and 4")
        self.b.clear_history(ada, "5")
        self.a.say(alice, "5", "a fresh start")
        self.settle()
        for chat in (self.a, self.b):
            self.assertEqual([message.text for message in chat.rooms["5"].history.kept], ["a fresh start"])
        self.assertEqual(self.kept(self.a), self.kept(self.b))
        self.assertEqual(self.kept(self.process("c")), self.kept(self.a))

    def test_a_message_refused_in_its_turn_is_kept_nowhere(self) -> None:
        alice, _ = self.member(self.a, "alice", "5")
        bob, heard_by_bob = self.member(self.b, "bob", "5")
        self.talk((self.a, alice, "one"))
        self.a.kick(alice, "5", "bob")
        with asked_by(heard_by_bob):
            self.b.say(bob, "5", "too late")  # still in the room in b's replica: checked, and put in the log
        self.settle()
        self.assertEqual(heard_by_bob.refusals, ["NOT_IN_ROOM"])
        for chat in (self.a, self.b, self.process("c")):
            self.assertEqual(self.kept(chat), self.kept(self.a))
            self.assertEqual([text for _, _, _, text in self.kept(chat)[2]], ["one"])
            self.assertEqual(self.kept(chat)[1], 1, "it was given no id either")


class SharedHistoryMemoryTests(Replicas):
    """--history-memory with several processes: each replica drops the same lines, so ids and catch-ups agree."""

    BOUND = 20 * (LINE_BYTES + 1000)
    history = HistoryLimits(100, memory=BOUND)

    def kept(self, chat: SharedChat) -> dict[str, list[tuple[str, str, str, str]]]:
        return {key: stamped(room.history.kept) for key, room in sorted(chat.rooms.items())}

    def test_every_replica_drops_the_same_oldest_lines_a_late_one_too(self) -> None:
        self.clock.advance(1_795_000_000)
        alice, heard_by_alice = self.member(self.a, "alice", "1", "2", "3")
        bob, _ = self.member(self.b, "bob", "1", "2", "3")
        seen = []
        for turn in range(12):  # the two processes speak in the same turns, in rooms of different sizes
            self.a.say(alice, str(1 + turn % 3), f"a{turn} " + "x" * (200 * (turn % 5)))
            self.b.say(bob, str(1 + turn % 2), f"b{turn} " + "y" * 900)
            self.clock.advance(0.001)  # lines a millisecond apart, or in the same millisecond: rooms break ties
            self.settle()
            seen += heard(heard_by_alice)
        c = self.process("c")
        for turn in range(12, 30):
            self.b.say(bob, str(1 + turn % 3), f"b{turn} " + "y" * 900)
            self.a.say(alice, "2", f"a{turn}")
            self.settle()
        for chat in (self.a, self.b, c):
            self.assertLessEqual(chat.history_memory.size, self.BOUND)
            self.assertEqual(self.kept(chat), self.kept(self.a))
        self.assertGreater(self.a.history_memory.dropped, 10)
        carol, heard_by_carol = self.member(c, "carol")
        dave, heard_by_dave = self.member(self.a, "dave")
        c.join(carol, "1", since=seen[0].id)
        self.a.join(dave, "1", since=seen[0].id)
        self.settle()
        [late] = [event for event in heard_by_carol.take() if isinstance(event, History)]
        [early] = [event for event in heard_by_dave.take() if isinstance(event, History)]
        self.assertGreater(late.lost, 0)
        self.assertEqual((stamped(late.messages), late.lost), (stamped(early.messages), early.lost))


class SharedIRCDetailsTests(SynchronousTestCase):
    """IRC's user name, real name, away and +i are the member's, so every process shows the same."""

    def setUp(self) -> None:
        self.clock = task.Clock()
        self.log = MemoryLog(self.clock)
        self.a = self.process("a")
        self.b = self.process("b")

    def process(self, name: str) -> ConnectionFactory:
        chat = SharedChat(self.log, self.clock.seconds, process=name)
        started = chat.start()
        self.settle()
        self.successResultOf(started)
        return ConnectionFactory(chat, self.clock, IRCFrontEnd.serving("chatroom", None), GENEROUS)

    def settle(self) -> None:
        """Run what is due now (the log's deliveries, and what they append), not the connections' timeouts."""
        while any(call.getTime() <= self.clock.seconds() for call in self.clock.getDelayedCalls()):
            self.clock.advance(0)

    def irc(self, factory: ConnectionFactory, nick: str, realname: str) -> MemoryClient:
        client = MemoryClient(factory)
        client.type(f"NICK {nick}", f"USER {nick[:2]} 0 * :{realname}")
        self.settle()
        self.assertEqual(parse(client.read()[0]).command, "001")
        return client

    def test_a_person_on_one_process_is_seen_alike_from_another_and_from_a_late_one(self) -> None:
        alice = self.irc(self.a, "alice", "Alice Liddell")
        alice.type("AWAY :at lunch", "MODE alice -i")
        self.settle()
        alice.read()
        carol = self.irc(self.a, "carol", "Carol")
        bob = self.irc(self.b, "bob", "Bob")
        questions = ("WHOIS alice", "WHO alice", "USERHOST alice", "LUSERS")
        seen_from_b = self.answers(bob, *questions)
        self.assertIn(":chatroom 311 ME alice al chatroom * :Alice Liddell", seen_from_b)
        self.assertIn(":chatroom 301 ME alice :at lunch", seen_from_b)
        self.assertIn(":chatroom 352 ME * al chatroom chatroom alice G :0 Alice Liddell", seen_from_b)
        self.assertIn(":chatroom 302 ME :alice=-al@chatroom", seen_from_b)
        self.assertIn(":chatroom 251 ME :There are 1 users and 2 invisible on 1 servers", seen_from_b)
        self.assertEqual(self.answers(carol, *questions), seen_from_b, "the same as from alice's own process")
        self.assertTrue(self.listed(bob, "alice"), "-i: WHO's masks find her from anywhere")

        alice.type("AWAY", "MODE alice +i")
        self.settle()
        back = self.answers(bob, *questions)
        self.assertNotIn(":chatroom 301 ME alice :at lunch", back)
        self.assertIn(":chatroom 352 ME * al chatroom chatroom alice H :0 Alice Liddell", back)
        self.assertEqual(self.answers(carol, *questions), back)
        self.assertFalse(self.listed(bob, "alice"))

        alice.type("AWAY :gone fishing", "MODE alice -i")
        self.settle()
        late = self.irc(self.process("c"), "dave", "Dave")
        self.assertIn(":chatroom 301 ME alice :gone fishing", self.answers(late, "WHOIS alice"))
        self.assertEqual(self.answers(late, *questions), self.answers(bob, *questions))

    def answers(self, client: MemoryClient, *lines: str) -> list[str]:
        """What `client` is answered, with its own nickname as ME, so that the answers to two askers compare."""
        received = client.type(*lines)
        me = parse(received[0]).params[0]
        return [line.replace(f" {me} ", " ME ", 1) for line in received]

    def listed(self, client: MemoryClient, nick: str) -> bool:
        """Whether WHO's mask `*` lists `nick` to `client`, who shares no room with them."""
        return any(parse(line).command == "352" and parse(line).params[5] == nick for line in client.type("WHO *"))

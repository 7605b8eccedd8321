"""Scrollback: what a room keeps (chatroom.core.history), who is shown it, and what an operator can take out of it."""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from chatroom.core.chat import Chat
from chatroom.core.errors import ChatError
from chatroom.core.events import Event, History, Message, Redacted
from chatroom.core.history import (
    JOIN_LINES,
    LINE_BYTES,
    HistoryLimits,
    RoomHistory,
    check_point,
    epoch,
    parse_id,
    seconds,
    timestamp,
)
from chatroom.core.members import Member
from tests.helpers import LineClient, RecordingSession, ServerTestCase
from tests.test_moderation import Directory

START = 1_795_000_000.0  # 2026-11-18T11:06:40Z


class HistoryLimitsTests(SynchronousTestCase):
    """RoomHistory on its own, with times given by the test; a Chat on a fake clock for the room's lives."""

    def setUp(self) -> None:
        self.now = START

    def history(self, lines: int = 5, age: float = 0.0) -> RoomHistory:
        return RoomHistory(epoch(START, 1), HistoryLimits(lines, age))

    def say(self, history: RoomHistory, *texts: str, nick: str = "alice", to: str = "", step: float = 1.0) -> list[str]:
        """Say each text a `step` of seconds after the last, as Chat.say does; the ids given."""
        ids = []
        for text in texts:
            self.now += step
            msgid, said = history.stamp(self.now)
            history.keep(Message("#r", nick, text, to=to, id=msgid, time=said), self.now)
            ids.append(msgid)
        return ids

    def ask(self, history: RoomHistory, how: str, point: str, lines: int) -> History:
        return history.query("#r", how, point, lines, self.now)

    @staticmethod
    def texts(history: History | RoomHistory) -> list[str]:
        return [message.text for message in (history.messages if isinstance(history, History) else history.kept)]

    # Bounds

    def test_a_room_keeps_its_last_lines_and_counts_all(self) -> None:
        history = self.history(lines=3)
        ids = self.say(history, "1", "2", "3", "4", "5")
        self.assertEqual(self.texts(history), ["3", "4", "5"])
        self.assertEqual(history.said, 5)
        self.assertEqual([parse_id(msgid)[1] for msgid in ids], [1, 2, 3, 4, 5])
        self.assertEqual({parse_id(msgid)[0] for msgid in ids}, {history.epoch})

    def test_history_off_keeps_nothing_but_still_stamps(self) -> None:
        history = self.history(lines=0)
        ids = self.say(history, "1", "2")
        self.assertEqual(list(history.kept), [])
        self.assertEqual(ids, [f"{history.epoch}-1", f"{history.epoch}-2"])

    def test_lines_for_operators_or_voice_only_are_never_kept(self) -> None:
        history = self.history()
        self.say(history, "all")
        self.say(history, "ops", to="@")
        self.say(history, "voiced", to="+")
        self.assertEqual(self.texts(history), ["all"])
        self.assertEqual(history.said, 3)  # they were said all the same: their numbers are taken

    def test_restored_history_is_bounded_too(self) -> None:
        """A snapshot from another process may hold more than this one keeps (chatroom.bus)."""
        lines = [Message("#r", "alice", str(number), id=f"abc-{number}", time=timestamp(START)) for number in range(9)]
        history = RoomHistory("abc", HistoryLimits(4), said=9, kept=lines)
        self.assertEqual(self.texts(history), ["5", "6", "7", "8"])
        self.assertEqual(history.stamp(START)[0], "abc-10")

    def test_lines_older_than_the_age_go_when_a_line_is_kept_or_asked_for(self) -> None:
        history = self.history(lines=100, age=60)
        self.say(history, "1", "2", "3", step=20)  # at +20, +40, +60
        self.assertEqual(self.texts(history), ["1", "2", "3"])
        self.say(history, "4", step=30)  # +90: "1", 70 s old, goes
        self.assertEqual(self.texts(history), ["2", "3", "4"])
        self.now += 45  # +135: "2" (+40) and "3" (+60) are too old for anyone who asks now
        self.assertEqual(self.texts(self.ask(history, "latest", "", 10)), ["4"])
        self.assertEqual(self.texts(history), ["4"])
        self.now += 1000
        self.assertEqual(self.texts(self.ask(history, "latest", "", 10)), [])

    def test_a_line_exactly_as_old_as_the_age_is_kept(self) -> None:
        history = self.history(age=60)
        self.say(history, "1")
        self.assertEqual(self.texts(history.query("#r", "latest", "", 10, self.now + 60)), ["1"])
        self.assertEqual(self.texts(history.query("#r", "latest", "", 10, self.now + 60.001)), [])

    def test_the_ring_stays_bounded_after_a_redaction(self) -> None:
        history = self.history(lines=3)
        ids = self.say(history, "1", "2", "3")
        history.redact({ids[1]})
        self.say(history, "4", "5", "6")
        self.assertEqual(self.texts(history), ["4", "5", "6"])

    # Ids and times

    def test_a_room_that_begins_again_has_a_new_life(self) -> None:
        """Ids of an earlier life are older than everything kept, and how much was missed is not known."""
        clock = Clock()
        clock.advance(START)
        chat = Chat(now=clock.seconds, history=HistoryLimits(10))
        alice = chat.register(RecordingSession(), "alice", None, "192.0.2.1")
        bob_session = RecordingSession()
        bob = chat.register(bob_session, "bob", None, "192.0.2.2")
        chat.join(alice, "5")
        chat.say(alice, "5", "first life")
        first = chat.rooms["5"].history
        chat.part(alice, "5")  # the room ends with its last member, and its history with it
        chat.join(alice, "5")  # the same millisecond: the chat's count of rooms opened tells the lives apart
        second = chat.rooms["5"].history
        self.assertNotEqual(first.epoch, second.epoch)
        self.assertEqual(list(second.kept), [])
        chat.say(alice, "5", "second life")
        (message,) = second.kept
        self.assertEqual(message.id, f"{second.epoch}-1")
        self.assertEqual(message.time, timestamp(START))
        chat.join(bob, "5", since=f"{first.epoch}-1")
        self.assertEqual(bob_session.events[-1], History("#5", (Message("#5", "alice", "second life"),), lost=-1))

    def test_every_life_of_every_room_has_its_own_epoch(self) -> None:
        lives = {epoch(START, serial) for serial in range(1, 1000)} | {epoch(START + 0.001, 1)}
        self.assertEqual(len(lives), 1000)
        for life in lives:
            self.assertTrue(life.isalnum() and life.isascii() and life == life.lower(), life)

    def test_times_are_iso_utc_to_the_millisecond(self) -> None:
        self.assertEqual(timestamp(START), "2026-11-18T11:06:40.000Z")
        self.assertEqual(timestamp(START + 0.1234), "2026-11-18T11:06:40.123Z")
        self.assertEqual(timestamp(START + 59.9999), "2026-11-18T11:07:39.999Z")
        self.assertEqual(timestamp(START + 0.9999996), "2026-11-18T11:06:41.000Z")  # rounded to the microsecond
        self.assertEqual(timestamp(START + 86400 + 0.5), "2026-11-19T11:06:40.500Z")
        self.assertEqual(timestamp(START + 0.25), "2026-11-18T11:06:40.250Z")  # the second's text is not stale
        self.assertEqual(seconds(timestamp(START + 1.5)), START + 1.5)
        self.assertEqual(seconds("2026-11-18T11:06:40Z"), START)
        # A time a client sent without a zone is UTC too, never the server's zone (tests.test_any_day runs this in
        # others): CHATHISTORY and read markers must mean the same moment on every server.
        self.assertEqual(seconds("2026-11-18T11:06:40"), START)

    def test_what_is_not_a_time_or_an_id(self) -> None:
        for bad in ["2026-13-01T00:00:00Z", "yesterday:", "11:06"]:
            self.assertEqual(self.assertRaises(ChatError, seconds, bad).code, "BAD_TIME", bad)
            self.assertEqual(self.assertRaises(ChatError, check_point, bad).code, "BAD_TIME", bad)
        for bad in ["", "abc", "abc-", "-5", "a b-5", "abc-1x", "abc-+1", "abc-١٢", "ábc-1", "a.b-1", "a-b-7"]:
            self.assertEqual(self.assertRaises(ChatError, parse_id, bad).code, "BAD_MSGID", bad)
            self.assertEqual(self.assertRaises(ChatError, check_point, bad).code, "BAD_MSGID", bad)
        self.assertEqual(parse_id("lq3k9d2a-1041"), ("lq3k9d2a", 1041))
        check_point("lq3k9d2a-1041")
        check_point("2026-11-23T09:30:00.000Z")

    # After an id, and what was lost

    def test_after_an_id_of_this_life_counts_what_is_no_longer_kept(self) -> None:
        history = self.history(lines=3)
        ids = self.say(history, "1", "2", "3", "4", "5", "6")
        self.assertEqual(self.ask(history, "after", ids[0], 10), History("#r", self.messages(history, 3), lost=2))
        self.assertEqual(self.ask(history, "after", ids[3], 10), History("#r", self.messages(history, 2), lost=0))
        self.assertEqual(self.ask(history, "after", ids[5], 10), History("#r", (), lost=0))
        self.assertEqual(self.ask(history, "after", f"{history.epoch}-99", 10), History("#r", (), lost=0))
        self.assertEqual(self.ask(history, "after", "other-2", 10), History("#r", self.messages(history, 3), -1))
        self.assertEqual(self.ask(history, "after", ids[0], 1).lost, 2)  # lost counts up to the first shown

    def test_after_a_redacted_line(self) -> None:
        history = self.history()
        ids = self.say(history, "1", "2", "3")
        history.redact({ids[1]})
        self.assertEqual(self.texts(self.ask(history, "after", ids[1], 10)), ["3"])
        self.assertEqual(self.ask(history, "after", ids[0], 10).lost, 1)  # the removed line: no longer kept

    def test_latest_after_an_id_shows_the_last_lines_and_counts_the_rest_as_lost(self) -> None:
        """A client back after a disconnection asks for at most `lines`: what it is not shown is lost to it."""
        history = self.history(lines=5)
        ids = self.say(history, "1", "2", "3", "4", "5", "6", "7")
        caught_up = self.ask(history, "latest", ids[0], 3)
        self.assertEqual(self.texts(caught_up), ["5", "6", "7"])
        self.assertEqual(caught_up.lost, 1 + 2)  # "2" dropped by the ring, "3" and "4" not shown
        self.assertEqual(self.ask(history, "latest", "other-1", 3).lost, -1)
        self.assertEqual(self.texts(self.ask(history, "latest", "", 2)), ["6", "7"])
        self.assertEqual(self.ask(history, "latest", ids[0], 0).messages, ())

    # Before, after and around, by id and by time

    def test_before_after_and_around_an_id(self) -> None:
        history = self.history(lines=10)
        ids = self.say(history, *"0123456789")
        self.assertEqual(self.texts(self.ask(history, "before", ids[5], 3)), ["2", "3", "4"])
        self.assertEqual(self.texts(self.ask(history, "before", ids[1], 3)), ["0"])
        self.assertEqual(self.texts(self.ask(history, "after", ids[5], 3)), ["6", "7", "8"])
        self.assertEqual(self.texts(self.ask(history, "around", ids[5], 4)), ["3", "4", "5", "6"])
        self.assertEqual(self.texts(self.ask(history, "around", ids[5], 1)), ["5"])
        self.assertEqual(self.texts(self.ask(history, "around", ids[0], 4)), ["0", "1", "2", "3"])
        self.assertEqual(self.texts(self.ask(history, "around", ids[9], 4)), ["7", "8", "9"])
        for how in ("before", "after", "around"):
            self.assertEqual(self.ask(history, how, ids[5], 0).messages, ())
        self.assertEqual(self.texts(self.ask(history, "before", "other-5", 3)), [])  # an earlier life's id
        self.assertEqual(self.texts(self.ask(history, "around", "other-5", 2)), ["0", "1"])

    def test_before_after_and_around_a_time(self) -> None:
        history = self.history(lines=10)
        self.say(history, *"0123456789", step=10)  # at +10 ... +100
        at_50 = timestamp(START + 50)  # "4" was said then
        between = timestamp(START + 55)
        self.assertEqual(self.texts(self.ask(history, "before", at_50, 2)), ["2", "3"])
        self.assertEqual(self.texts(self.ask(history, "after", at_50, 2)), ["5", "6"])
        self.assertEqual(self.texts(self.ask(history, "before", between, 2)), ["3", "4"])
        self.assertEqual(self.texts(self.ask(history, "after", between, 2)), ["5", "6"])
        self.assertEqual(self.texts(self.ask(history, "around", at_50, 3)), ["3", "4", "5"])
        self.assertEqual(self.ask(history, "after", at_50, 2).lost, 0)  # after a time, nothing counts as lost
        self.assertEqual(self.texts(self.ask(history, "after", timestamp(START), 2)), ["0", "1"])
        self.assertEqual(self.texts(self.ask(history, "before", timestamp(START + 1000), 2)), ["8", "9"])
        self.assertEqual(self.texts(self.ask(history, "before", "2026-11-18T11:07:31Z", 1)), ["4"])  # no fraction

    def test_lines_of_one_millisecond_by_time(self) -> None:
        history = self.history(lines=10)
        self.say(history, "a", "b", "c", step=0.0001)  # all three within START+0.000 and START+0.001
        said = timestamp(START)
        self.assertEqual(self.texts(self.ask(history, "after", said, 10)), [])
        self.assertEqual(self.texts(self.ask(history, "before", said, 10)), [])
        self.assertEqual(self.texts(self.ask(history, "around", said, 10)), ["a", "b", "c"])

    # Redaction

    def test_redact_by_id_or_every_line_of_a_nickname(self) -> None:
        history = self.history(lines=10)
        ids = self.say(history, "1", "2")
        ids += self.say(history, "spam", "more spam", nick="Mallory")
        ids += self.say(history, "3")
        self.assertEqual(history.redact({ids[0]}), [ids[0]])
        self.assertEqual(history.redact(set(), "mALLORY"), [ids[2], ids[3]])  # nicknames match without case
        self.assertEqual(self.texts(history), ["2", "3"])
        self.assertEqual(history.redact({ids[0]}), [])  # already gone
        self.assertEqual(history.redact({"other-2"}), [])
        self.assertEqual(history.said, 5)
        self.assertEqual(history.clear(), 2)
        self.assertEqual(list(history.kept), [])
        self.assertEqual(history.clear(), 0)
        self.assertEqual(self.say(history, "4"), [f"{history.epoch}-6"])  # numbers go on after a clear

    def messages(self, history: RoomHistory, last: int) -> tuple[Message, ...]:
        return tuple(history.kept)[-last:]


class ChatTestCase(SynchronousTestCase):
    """A Chat keeping 5 lines a room, on a fake clock, and its members' sessions."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_800_000_000)  # 2027-01-15: a time that reads as one
        self.accounts = Directory(root=True)
        self.chat = self.make(HistoryLimits(lines=5))

    def make(self, limits: HistoryLimits) -> Chat:
        return Chat(accounts=self.accounts, now=self.clock.seconds, history=limits)

    def member(self, nick: str, *rooms: str, account: str | None = None) -> tuple[Member, RecordingSession]:
        session = RecordingSession()
        member = self.chat.register(session, nick, account, "192.0.2.1")
        for room in rooms:
            self.chat.join(member, room)
        return member, session

    def say(self, member: Member, *texts: str) -> None:
        for text in texts:
            self.chat.say(member, "5", text)
            self.clock.advance(1)

    def kept(self, member: Member, room: str, how: str = "latest", point: str = "", lines: int = JOIN_LINES) -> History:
        """What the core answers a member asking for a room's history, from memory: at once."""
        return self.successResultOf(self.chat.history(member, room, how, point, lines))

    def shown(self, events: list[Event]) -> list[tuple[str, ...]]:
        """The History events among `events`, as (text..., lost) each."""
        return [
            (*(message.text for message in event.messages), f"lost={event.lost}")
            for event in events
            if isinstance(event, History)
        ]


class ChatHistoryTests(ChatTestCase):
    def test_every_message_has_an_id_and_the_time_it_was_said(self) -> None:
        alice, session = self.member("alice", "5")
        session.take()
        self.say(alice, "one", "two")
        first, second = session.take()
        assert isinstance(first, Message) and isinstance(second, Message)
        self.assertEqual(first.time, "2027-01-15T08:00:00.000Z")
        self.assertEqual(second.time, "2027-01-15T08:00:01.000Z")
        self.assertNotEqual(first.id, second.id)
        self.assertEqual(first.id.rpartition("-")[0], second.id.rpartition("-")[0])  # the same life of the room

    def test_a_late_joiner_sees_the_last_lines_before_anything_live(self) -> None:
        alice, _ = self.member("alice", "5")
        self.say(alice, *(f"line {n}" for n in range(7)))
        _bob, session = self.member("bob", "5")
        events = session.take()
        self.assertIsInstance(events[-1], History)  # after JOIN, ROOM and NAMES
        self.assertEqual(self.shown(events), [("line 2", "line 3", "line 4", "line 5", "line 6", "lost=0")])
        carol, session = self.member("carol")
        self.chat.join(carol, "5", lines=2)
        self.assertEqual(self.shown(session.take()), [("line 5", "line 6", "lost=0")])

    def test_paging_back_with_ids(self) -> None:
        alice, _session = self.member("alice", "5")
        self.say(alice, "a", "b", "c", "d")
        latest = self.kept(alice, "5", "latest", "", 2)
        self.assertEqual([message.text for message in latest.messages], ["c", "d"])
        earlier = self.kept(alice, "5", "before", latest.messages[0].id, 2)
        self.assertEqual([message.text for message in earlier.messages], ["a", "b"])
        self.assertEqual(self.kept(alice, "5", "before", earlier.messages[0].id, 2).messages, ())
        around = self.kept(alice, "5", "around", latest.messages[0].id, 3)
        self.assertEqual([message.text for message in around.messages], ["b", "c", "d"])
        by_time = self.kept(alice, "5", "after", latest.messages[0].time, 5)
        self.assertEqual([message.text for message in by_time.messages], ["d"])

    def test_catching_up_after_a_disconnection_shows_exactly_what_was_missed(self) -> None:
        alice, _ = self.member("alice", "5")
        bob, session = self.member("bob", "5")
        self.say(alice, "seen")
        last_seen = session.take()[-1]
        assert isinstance(last_seen, Message)
        self.chat.quit(bob, "connection lost")
        self.say(alice, "missed 1", "missed 2")
        bob, session = self.member("bob")
        self.chat.join(bob, "5", since=last_seen.id)
        self.assertEqual(self.shown(session.take()), [("missed 1", "missed 2", "lost=0")])
        self.say(alice, "live")
        self.assertEqual(session.take(), [Message("#5", "alice", "live")])

    def test_a_catch_up_says_how_much_was_no_longer_kept(self) -> None:
        alice, session = self.member("alice", "5")
        self.say(alice, "seen")
        last_seen = session.take()[-1]
        assert isinstance(last_seen, Message)
        self.say(alice, *(f"later {n}" for n in range(8)))  # five are kept
        carol, session = self.member("carol")
        self.chat.join(carol, "5", since=last_seen.id)
        self.assertEqual(self.shown(session.take()), [(*tuple(f"later {n}" for n in range(3, 8)), "lost=3")])

    def test_lines_for_operators_only_are_not_counted_lost_by_those_who_missed_them(self) -> None:
        """Regression: they took a number, were never kept, and a catch-up counted them as lost."""
        alice, session = self.member("alice", "5")
        self.say(alice, "seen")
        last_seen = session.take()[-1]
        assert isinstance(last_seen, Message)
        self.chat.say(alice, "5", "ops only", to="@")
        aside = session.take()[-1]
        assert isinstance(aside, Message)
        bob, session = self.member("bob")
        self.chat.join(bob, "5", since=last_seen.id)
        self.assertEqual(self.shown(session.take()), [("lost=0",)])
        self.say(alice, "for all")
        carol, session = self.member("carol")
        self.chat.join(carol, "5", since=aside.id)  # an operator's client saw the aside last
        self.assertEqual(self.shown(session.take()), [("for all", "lost=0")])

    def test_an_id_from_an_earlier_life_of_the_room_means_the_loss_is_unknown(self) -> None:
        alice, session = self.member("alice", "5")
        self.say(alice, "before")
        old = session.take()[-1]
        assert isinstance(old, Message)
        self.chat.part(alice, "5")  # the room ends with its last member, and what it kept with it
        self.chat.join(alice, "5")
        self.say(alice, "after")
        bob, session = self.member("bob")
        self.chat.join(bob, "5", since=old.id)
        self.assertEqual(self.shown(session.take()), [("after", "lost=-1")])

    def test_lines_older_than_the_age_limit_are_dropped(self) -> None:
        self.chat = self.make(HistoryLimits(lines=100, age=60))
        alice, _ = self.member("alice", "5")
        self.say(alice, "old")
        self.clock.advance(59)
        self.say(alice, "recent")
        self.clock.advance(1)
        _bob, session = self.member("bob", "5")
        self.assertEqual(self.shown(session.take()), [("recent", "lost=0")])

    def test_private_messages_and_lines_for_operators_only_are_never_kept(self) -> None:
        alice, _ = self.member("alice", "5")
        _bob, _ = self.member("bob", "5")
        self.chat.private(alice, "bob", "a secret")
        self.chat.say(alice, "5", "ops only", to="@")
        self.assertEqual(list(self.chat.rooms["5"].history.kept), [])

    def test_history_off_keeps_nothing_and_says_so(self) -> None:
        self.chat = self.make(HistoryLimits())
        alice, session = self.member("alice", "5")
        self.say(alice, "gone as soon as delivered")
        self.assertEqual(list(self.chat.rooms["5"].history.kept), [])
        error = self.assertRaises(ChatError, self.chat.history, alice, "5")
        self.assertEqual(error.code, "NO_HISTORY")
        bob, session = self.member("bob")
        self.chat.join(bob, "5", since="x1-1")  # back after a disconnection: told that nothing could be kept
        self.assertEqual(self.shown(session.take()), [("lost=-1",)])

    def test_bad_points_are_refused_before_anything_happens(self) -> None:
        alice, _ = self.member("alice", "5")
        for point in ("nonsense", "abc-", "-12", "2027-13-45T99:00:00Z"):
            error = self.assertRaises(ChatError, self.chat.history, alice, "5", "before", point)
            self.assertIn(error.code, ("BAD_MSGID", "BAD_TIME"))
        bob, _ = self.member("bob")
        self.assertRaises(ChatError, self.chat.join, bob, "5", "", "nonsense")
        self.assertNotIn(bob, self.chat.rooms["5"].members)
        self.assertEqual(
            self.assertRaises(ChatError, self.chat.history, alice, "5", "latest", "", 501).code, "BAD_COUNT"
        )

    def test_an_operator_redacts_a_line_or_everything_a_nickname_said(self) -> None:
        alice, _ = self.member("alice", "5")  # the room's operator: she opened it
        bob, session = self.member("bob", "5")
        self.say(bob, "spam 1", "fine")
        self.chat.say(alice, "5", "hello")
        self.say(bob, "spam 2")
        kept = list(self.chat.rooms["5"].history.kept)
        session.take()
        error = self.assertRaises(ChatError, self.chat.redact, bob, "5", kept[2].id)  # alice's: his own he may
        self.assertEqual(error.code, "NOT_OPERATOR")
        self.chat.redact(alice, "5", kept[1].id)
        self.assertEqual(session.take(), [Redacted("#5", "alice", (kept[1].id,))])
        self.chat.redact(alice, "5", "BOB")
        self.assertEqual(session.take(), [Redacted("#5", "alice", (kept[0].id, kept[3].id))])
        texts = [message.text for message in self.kept(alice, "5").messages]
        self.assertEqual(texts, ["hello"])
        error = self.assertRaises(ChatError, self.chat.redact, alice, "5", "bob")
        self.assertEqual(error.code, "NO_SUCH_MESSAGE")

    def test_a_server_administrator_clears_a_room_history(self) -> None:
        alice, session = self.member("alice", "5")
        self.say(alice, "one", "two")
        root, told = self.member("root", account="root")
        session.take()
        self.assertEqual(self.assertRaises(ChatError, self.chat.clear_history, alice, "5").code, "NOT_ADMIN")
        self.chat.clear_history(root, "5")
        self.assertEqual(session.take(), [Redacted("#5", "root", ())])
        self.assertEqual(told.take(), [Redacted("#5", "root", ())])  # not in the room: told all the same
        self.assertEqual(self.kept(alice, "5").messages, ())
        self.assertEqual(self.assertRaises(ChatError, self.chat.clear_history, root, "6").code, "NO_SUCH_ROOM")


class HistoryMemoryTests(ChatTestCase):
    """--history-memory: every room's history together is bounded in bytes; past it the server's oldest lines go."""

    BIG = "x" * 4000  # a kept 4 KB line: `N BIG` costs 4302 bytes
    BOUND = 10 * (LINE_BYTES + len(f"0 {BIG}")) + 100  # ten of them fit

    def setUp(self) -> None:
        super().setUp()
        self.chat = self.make(HistoryLimits(lines=1000, memory=self.BOUND))

    def say_in(self, member: Member, room: str, *texts: str) -> None:
        for text in texts:
            self.chat.say(member, room, text)
            self.clock.advance(1)

    def test_past_the_bound_the_oldest_lines_of_any_room_go_first(self) -> None:
        alice, _ = self.member("alice", "1", "2")
        self.say_in(alice, "1", *(f"{n} {self.BIG}" for n in range(6)))
        self.say_in(alice, "2", *(f"{n} {self.BIG}" for n in range(4)))
        self.say_in(alice, "2", "small")  # past the bound: the server's oldest line goes, though it is #1's
        first = self.kept(alice, "1", "latest", "", 500).messages
        self.assertEqual([message.text.split()[0] for message in first], ["1", "2", "3", "4", "5"])
        self.say_in(alice, "2", *(f"more {n}" for n in range(10)))  # bytes, not lines: a big one made room for ten
        kept = [len(self.kept(alice, room, "latest", "", 500).messages) for room in ("1", "2")]
        self.assertEqual(kept, [5, 15])
        self.assertEqual(self.chat.history_memory.dropped, 1)
        self.assertLessEqual(self.chat.history_memory.size, self.BOUND)

    def test_a_catch_up_counts_the_lines_the_bound_dropped_as_lost(self) -> None:
        alice, session = self.member("alice", "5")
        self.say(alice, "seen")
        last_seen = session.take()[-1]
        assert isinstance(last_seen, Message)
        self.say(alice, *(f"{n} {self.BIG}" for n in range(12)))
        carol, session = self.member("carol")
        self.chat.join(carol, "5", since=last_seen.id)
        [shown] = [event for event in session.take() if isinstance(event, History)]
        self.assertEqual([message.text.split()[0] for message in shown.messages], [str(n) for n in range(2, 12)])
        self.assertEqual(shown.lost, 2, "lines 0 and 1 went (and 'seen' before them)")

    def test_what_an_emptied_room_kept_is_freed(self) -> None:
        alice, _ = self.member("alice", "1", "2")
        self.say_in(alice, "1", *(f"{n} {self.BIG}" for n in range(5)))
        self.say_in(alice, "2", "hello")
        self.chat.part(alice, "1")  # #1 ends
        self.assertEqual(self.chat.history_memory.size, LINE_BYTES + len("hello"))
        self.say_in(alice, "2", *(f"{n} {self.BIG}" for n in range(9)))
        self.assertEqual(self.chat.history_memory.dropped, 0, "the ended room's lines no longer count")


class HistoryOverTLSTests(ServerTestCase):
    """The real service, real TLS, clients reading the stamps as a program does."""

    async def stamped(self, nick: str, room: str | None = None, since: str = "") -> LineClient:
        client = await self.connect(nick)
        client.stamps = True
        if room is not None:
            client.send(f"/join {room}" + (f" after {since}" if since else ""))
        return client

    async def said(self, client: LineClient, text: str) -> str:
        """Say `text` in the current room; its id, once the server has given it its place."""
        client.send(text)
        line, _ = await client.until("MSG ")
        self.assertTrue(line.endswith(" :" + text), line)
        return line.split()[3]

    @staticmethod
    async def history(client: LineClient) -> tuple[list[str], str]:
        """The history lines up to the HISTORY line, as `NICK: TEXT` each, and that line."""
        last, before = await client.until("HISTORY ")
        kept = [line for line in before if line.startswith(("SAID ", "DID "))]
        return [f"{line.split()[2]}: {line.partition(' :')[2]}" for line in kept], last

    async def test_a_late_joiner_sees_the_last_lines_in_order_then_live_ones(self) -> None:
        self.start_server("--history", "3", "--flood-burst", "100")
        alice = await self.stamped("alice", "5")
        for n in range(5):
            await self.said(alice, f"line {n}")
        bob = await self.stamped("bob", "5")
        _, joining = await bob.until("NAMES #5")
        self.assertTrue(joining[0].startswith("JOIN #5 bob"), joining)
        lines, summary = await self.history(bob)
        self.assertEqual(lines, ["alice: line 2", "alice: line 3", "alice: line 4"])
        self.assertEqual(summary, "HISTORY #5 3 0")
        await self.said(alice, "live")
        line, skipped = await bob.until("MSG ")
        self.assertEqual(skipped, ["CURRENT #5"])
        self.assertRegex(line, r"^MSG #5 alice \w+-6 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z :live$")

    async def test_history_pages_back(self) -> None:
        self.start_server("--history", "10", "--flood-burst", "100")
        alice = await self.stamped("alice", "5")
        ids = [await self.said(alice, f"line {n}") for n in range(6)]
        alice.send("/history 2")
        self.assertEqual((await self.history(alice))[0], ["alice: line 4", "alice: line 5"])
        alice.send(f"/history #5 3 before {ids[4]}")
        self.assertEqual((await self.history(alice))[0], ["alice: line 1", "alice: line 2", "alice: line 3"])
        alice.send(f"/history 3 before {ids[1]}")
        self.assertEqual(await self.history(alice), (["alice: line 0"], "HISTORY #5 1 0"))
        alice.send(f"/history 2 after {ids[3]}")
        self.assertEqual((await self.history(alice))[0], ["alice: line 4", "alice: line 5"])
        alice.send("/history 2 before yesterday")
        await alice.until("ERR BAD_MSGID ")

    async def test_a_reconnecting_client_gets_exactly_what_it_missed(self) -> None:
        """No gap and no duplicate, while others go on talking through the moment it joins again."""
        self.start_server("--history", "100", "--flood-burst", "1000")
        alice = await self.stamped("alice", "5")
        bob = await self.stamped("bob", "5")
        await alice.until("JOIN #5 bob")
        last_seen = await self.said(alice, "before the cut")
        await bob.until("MSG #5 alice")
        bob.transport.loseConnection()
        await bob.lost
        await alice.until("QUIT bob")
        for n in range(5):
            alice.send(f"missed {n}")
        bob = await self.stamped("bob", "5", since=last_seen)
        for n in range(20):  # around and after bob's join: each either in his catch-up or live, once
            alice.send(f"during {n}")
        alice.send("the end")
        read: list[str] = []
        while not read or not read[-1].endswith(" :the end"):
            line, skipped = await bob.until("MSG #5 alice")
            read += [*skipped, line]
        heard = [line.partition(" :")[2] for line in read if line.startswith(("SAID ", "MSG "))]
        self.assertEqual(heard, [*(f"missed {n}" for n in range(5)), *(f"during {n}" for n in range(20)), "the end"])
        summary = next(line for line in read if line.startswith("HISTORY "))
        self.assertRegex(summary, r"^HISTORY #5 \d+ 0$")

    async def test_history_off_keeps_nothing(self) -> None:
        self.start_server()
        alice = await self.stamped("alice", "5")
        await self.said(alice, "not kept")
        self.assertEqual(list(self.service.factory.chat.rooms["5"].history.kept), [])
        alice.send("/history")
        line, _ = await alice.until("ERR ")
        self.assertEqual(line, "ERR NO_HISTORY :this server keeps no history: its administrator has not turned it on")

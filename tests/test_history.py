"""What a room keeps (chatroom.core.history): its bounds, ids across lives, lost counts, redaction and queries."""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from chatroom.core.chat import Chat
from chatroom.core.errors import ChatError
from chatroom.core.events import History, Message
from chatroom.core.history import HistoryLimits, RoomHistory, check_point, epoch, parse_id, seconds, timestamp
from tests.helpers import RecordingSession

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
        self.assertEqual(self.texts(history.latest("#r", "", 10, self.now)), ["4"])
        self.assertEqual(self.texts(history), ["4"])
        self.now += 1000
        self.assertEqual(self.texts(history.latest("#r", "", 10, self.now)), [])

    def test_a_line_exactly_as_old_as_the_age_is_kept(self) -> None:
        history = self.history(age=60)
        self.say(history, "1")
        self.assertEqual(self.texts(history.latest("#r", "", 10, self.now + 60)), ["1"])
        self.assertEqual(self.texts(history.latest("#r", "", 10, self.now + 60.001)), [])

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
        self.assertEqual(history.after("#r", ids[0], 10, self.now), History("#r", self.messages(history, 3), lost=2))
        self.assertEqual(history.after("#r", ids[3], 10, self.now), History("#r", self.messages(history, 2), lost=0))
        self.assertEqual(history.after("#r", ids[5], 10, self.now), History("#r", (), lost=0))
        self.assertEqual(history.after("#r", f"{history.epoch}-99", 10, self.now), History("#r", (), lost=0))
        self.assertEqual(history.after("#r", "other-2", 10, self.now), History("#r", self.messages(history, 3), -1))
        self.assertEqual(history.after("#r", ids[0], 1, self.now).lost, 2)  # lost counts up to the first shown

    def test_after_a_redacted_line(self) -> None:
        history = self.history()
        ids = self.say(history, "1", "2", "3")
        history.redact({ids[1]})
        self.assertEqual(self.texts(history.after("#r", ids[1], 10, self.now)), ["3"])
        self.assertEqual(history.after("#r", ids[0], 10, self.now).lost, 1)  # the removed line: no longer kept

    def test_latest_after_an_id_shows_the_last_lines_and_counts_the_rest_as_lost(self) -> None:
        """A client back after a disconnection asks for at most `lines`: what it is not shown is lost to it."""
        history = self.history(lines=5)
        ids = self.say(history, "1", "2", "3", "4", "5", "6", "7")
        caught_up = history.latest("#r", ids[0], 3, self.now)
        self.assertEqual(self.texts(caught_up), ["5", "6", "7"])
        self.assertEqual(caught_up.lost, 1 + 2)  # "2" dropped by the ring, "3" and "4" not shown
        self.assertEqual(history.latest("#r", "other-1", 3, self.now).lost, -1)
        self.assertEqual(self.texts(history.latest("#r", "", 2, self.now)), ["6", "7"])
        self.assertEqual(history.latest("#r", ids[0], 0, self.now).messages, ())

    # Before, after and around, by id and by time

    def test_before_after_and_around_an_id(self) -> None:
        history = self.history(lines=10)
        ids = self.say(history, *"0123456789")
        self.assertEqual(self.texts(history.before("#r", ids[5], 3, self.now)), ["2", "3", "4"])
        self.assertEqual(self.texts(history.before("#r", ids[1], 3, self.now)), ["0"])
        self.assertEqual(self.texts(history.after("#r", ids[5], 3, self.now)), ["6", "7", "8"])
        self.assertEqual(self.texts(history.around("#r", ids[5], 4, self.now)), ["3", "4", "5", "6"])
        self.assertEqual(self.texts(history.around("#r", ids[5], 1, self.now)), ["5"])
        self.assertEqual(self.texts(history.around("#r", ids[0], 4, self.now)), ["0", "1", "2", "3"])
        self.assertEqual(self.texts(history.around("#r", ids[9], 4, self.now)), ["7", "8", "9"])
        for query in (history.before, history.after, history.around):
            self.assertEqual(query("#r", ids[5], 0, self.now).messages, ())
        self.assertEqual(self.texts(history.before("#r", "other-5", 3, self.now)), [])  # an earlier life's id
        self.assertEqual(self.texts(history.around("#r", "other-5", 2, self.now)), ["0", "1"])

    def test_before_after_and_around_a_time(self) -> None:
        history = self.history(lines=10)
        self.say(history, *"0123456789", step=10)  # at +10 ... +100
        at_50 = timestamp(START + 50)  # "4" was said then
        between = timestamp(START + 55)
        self.assertEqual(self.texts(history.before("#r", at_50, 2, self.now)), ["2", "3"])
        self.assertEqual(self.texts(history.after("#r", at_50, 2, self.now)), ["5", "6"])
        self.assertEqual(self.texts(history.before("#r", between, 2, self.now)), ["3", "4"])
        self.assertEqual(self.texts(history.after("#r", between, 2, self.now)), ["5", "6"])
        self.assertEqual(self.texts(history.around("#r", at_50, 3, self.now)), ["3", "4", "5"])
        self.assertEqual(history.after("#r", at_50, 2, self.now).lost, 0)  # after a time, nothing counts as lost
        self.assertEqual(self.texts(history.after("#r", timestamp(START), 2, self.now)), ["0", "1"])
        self.assertEqual(self.texts(history.before("#r", timestamp(START + 1000), 2, self.now)), ["8", "9"])
        self.assertEqual(self.texts(history.before("#r", "2026-11-18T11:07:31Z", 1, self.now)), ["4"])  # no fraction

    def test_lines_of_one_millisecond_by_time(self) -> None:
        history = self.history(lines=10)
        self.say(history, "a", "b", "c", step=0.0001)  # all three within START+0.000 and START+0.001
        said = timestamp(START)
        self.assertEqual(self.texts(history.after("#r", said, 10, self.now)), [])
        self.assertEqual(self.texts(history.before("#r", said, 10, self.now)), [])
        self.assertEqual(self.texts(history.around("#r", said, 10, self.now)), ["a", "b", "c"])

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

"""Rooms' history in Redis with --redis: written by the oldest process in the log's order, read with the hello."""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from chatroom.bus.history import ASK_EVERY, PRUNE_EVERY, WRITE_EVERY, RedisHistory
from chatroom.bus.log import MemoryLog, place
from chatroom.bus.redis import RETRY, RedisAddress
from chatroom.bus.shared import SharedChat, line_data, line_message
from chatroom.bus.stores import RedisAccounts
from chatroom.core.events import Event, History, Message, Quit
from chatroom.core.history import HistoryLimits, RoomHistory, timestamp
from chatroom.core.members import Member, Room
from chatroom.core.names import room_key
from chatroom.stores.accounts import adding, hashed_password
from tests.helpers import RecordingSession, Subprocess
from tests.redisserver import TwistdWithRedis
from tests.test_redis import WaitingSession, told
from tests.test_shared import stamped
from tests.test_stores import PREFIX, Process, RedisStoresTestCase
from tests.test_twistd import LISTENING

KEPT = HistoryLimits(5)


def numbered(message: Message) -> int:
    return int(message.id.rpartition("-")[2])


def histories(events: list[Event]) -> list[History]:
    return [event for event in events if isinstance(event, History)]


class LineDataTests(SynchronousTestCase):
    def test_a_kept_line_is_carried_whole(self) -> None:
        """Snapshots and Redis carry each kept line: a topic change and kept tags too, and a line of six items (kept
        before there were either) still reads."""
        lines = [
            Message("#5", "ann", "hello", id="e1-1", time="2026-11-18T08:26:41.000Z"),
            Message("#5", "ann", "exams on friday", id="e1-2", time="2026-11-18T08:26:42.000Z", topic=True),
            Message("#5", "ann", "", id="e1-3", time="2026-11-18T08:26:43.000Z", tags=(("+draft/persist", ""),)),
        ]
        carried = [line_message("#5", json.loads(json.dumps(line_data(line)))) for line in lines]
        self.assertEqual(stamped(carried), stamped(lines))
        self.assertEqual([(line.topic, line.tags) for line in carried], [(line.topic, line.tags) for line in lines])
        self.assertEqual(len(line_data(lines[0])), 6)


class HistoryInRedisTests(RedisStoresTestCase):
    """Processes with --history 5 sharing a real Redis."""

    maxDiff = None

    async def lines(self, room: str) -> list[list[Any]]:
        return [json.loads(line) for line in await self.admin.lrange(f"{PREFIX}:history:{room}", 0, -1)]

    async def about(self, room: str) -> bytes | None:
        about: bytes | None = await self.admin.hget(f"{PREFIX}:histories", room)
        return about

    async def in_redis(self, process: Process, room: str = "5") -> None:
        """What the oldest process wrote is what its replica keeps."""
        assert process.history is not None
        await process.history.flush()
        history = process.chat.rooms[room_key(room)].history
        self.assertEqual(await self.lines(room), [line_data(message) for message in history.kept])
        self.assertEqual(await self.about(room), f"{history.epoch} {history.said} #{room}".encode())

    async def say(
        self, chat: SharedChat, member: Member, text: str, *sessions: WaitingSession, room: str = "5"
    ) -> None:
        """Say a line and wait until the processes of `sessions` have applied it, and everything before it."""
        chat.say(member, room, text)
        await gatherResults([session.until(told(Message(f"#{room}", member.nick, text))) for session in sessions])

    async def enter(self, chat: SharedChat, member: Member, room: str, session: WaitingSession) -> None:
        chat.join(member, room)
        await session.until(lambda events: any(getattr(event, "room", "") == f"#{room}" for event in events))

    async def test_the_oldest_writes_in_the_logs_order_and_a_registered_rooms_history_outlives_every_process(
        self,
    ) -> None:
        await self.accounts.change("owen", adding("owen", hashed_password("owen", "owen's secret")))
        a, b = await self.process("a", KEPT), await self.process("b", KEPT)
        owen, heard_by_owen = await self.member(a.chat, "owen", "owen")  # opens #5: its operator
        bob, heard_by_bob = await self.member(b.chat, "bob")
        a.chat.register_room(owen, "5")
        for number in range(3):
            await self.say(b.chat, bob, f"bob {number}", heard_by_owen, heard_by_bob)
            await self.say(a.chat, owen, f"owen {number}", heard_by_owen, heard_by_bob)
        a.chat.say(owen, "5", "for the operators", to="@")  # numbered, never kept
        spam = [message for message in heard_by_owen.events if isinstance(message, Message)][-2]
        a.chat.redact(owen, "5", spam.id)
        await self.say(b.chat, bob, "said as it was redacted", heard_by_owen, heard_by_bob)
        a.chat.set_topic(owen, "5", "exams on friday")  # kept among the lines, in its place (IRC's event-playback)
        await self.say(a.chat, owen, "the last", heard_by_owen, heard_by_bob)
        await self.in_redis(a)
        self.assertEqual(
            [text for _, text, *_ in await self.lines("5")][-3:], ["said as it was redacted", "exams on friday",
                                                                   "the last"]
        )  # fmt: skip
        self.assertNotIn(spam.text, [text for _, text, *_ in await self.lines("5")])

        # An unregistered room's history ends with it: when it empties, and when the chat does.
        await self.enter(b.chat, bob, "6", heard_by_bob)
        await self.say(b.chat, bob, "in #6", heard_by_bob, room="6")
        await self.enter(b.chat, bob, "7", heard_by_bob)
        # owen in #7 too: the writer (a) has applied bob's line once owen heard it; bob hearing it tells only of b.
        await self.enter(a.chat, owen, "7", heard_by_owen)
        await self.say(b.chat, bob, "in #7", heard_by_owen, heard_by_bob, room="7")
        await self.in_redis(a, "7")
        b.chat.part(bob, "6")
        await self.say(b.chat, bob, "after #6 ended", heard_by_owen, heard_by_bob)
        assert a.history is not None
        await a.history.flush()
        self.assertEqual((await self.lines("6"), await self.about("6")), ([], None))
        before = a.chat.rooms[room_key("5")].history
        await b.stop()
        await a.stop()
        self.assertEqual((await self.lines("7"), await self.about("7")), ([], None))

        c = await self.process("c", KEPT)  # alone: it starts from Redis
        after = c.chat.rooms[room_key("5")].history
        self.assertEqual(
            (after.epoch, after.said, stamped(after.kept)), (before.epoch, before.said, stamped(before.kept))
        )
        self.assertEqual([line.text for line in after.kept if line.topic], ["exams on friday"])
        # Back after the restart, from the last line they saw: the same ids, and what they missed.
        heard_by_dave = WaitingSession()
        dave = await c.chat.enter(heard_by_dave, "dave", None, "192.0.2.9")
        c.chat.join(dave, "5", since=spam.id)
        await heard_by_dave.until(lambda events: bool(histories(events)))
        (caught_up,) = histories(heard_by_dave.events)
        self.assertEqual(
            stamped(caught_up.messages), stamped(line for line in before.kept if numbered(line) > numbered(spam))
        )
        self.assertEqual(caught_up.lost, 0)
        await self.say(c.chat, dave, "after the restart", heard_by_dave)
        self.assertEqual(c.chat.rooms[room_key("5")].history.kept[-1].id, f"{before.epoch}-{before.said + 1}")
        await self.in_redis(c)
        await c.stop()

    async def test_when_the_writer_is_lost_the_next_oldest_writes_what_it_had_not(self) -> None:
        a, b = await self.process("a", KEPT, ttl=1.0), await self.process("b", KEPT, ttl=1.0)
        bob, heard_by_bob = await self.member(b.chat, "bob")  # opens #5: its operator
        alice, heard_by_alice = await self.member(a.chat, "alice")
        await self.say(a.chat, alice, "written by a", heard_by_alice, heard_by_bob)
        await self.in_redis(a)
        a.bus.stopped = True  # as kill -9: no goodbye, no more heartbeats, nothing more written
        assert a.history is not None
        await a.history.leave()  # nothing waits: it was all written
        await a.bus.disconnect()
        await self.say(b.chat, bob, "said while a lay dead", heard_by_bob)
        b.chat.redact(bob, "5", "alice")
        await heard_by_bob.until(told(Quit("alice", "server lost")))
        await self.in_redis(b)
        self.assertEqual([text for _, text, *_ in await self.lines("5")], ["said while a lay dead"])
        await b.stop()

    async def test_a_process_restarted_after_a_crash_goes_on_with_the_history_once_the_dead_one_is_declared_gone(
        self,
    ) -> None:
        """As under systemd: the dead process is still listed at the new one's hello, which is answered by nobody."""
        await self.accounts.change("owen", adding("owen", hashed_password("owen", "owen's secret")))
        a = await self.process("a", KEPT, ttl=1.0)
        owen, heard_by_owen = await self.member(a.chat, "owen", "owen")
        a.chat.register_room(owen, "5")
        await self.enter(a.chat, owen, "6", heard_by_owen)
        await self.say(a.chat, owen, "in #6, which ends with the crash", heard_by_owen, room="6")
        await self.say(a.chat, owen, "kept", heard_by_owen)
        await self.in_redis(a)
        before = a.chat.rooms[room_key("5")].history
        a.bus.stopped = True  # kill -9
        assert a.history is not None
        await a.history.leave()
        await a.bus.disconnect()
        b = await self.process("b", KEPT, ttl=1.0)  # ready once it declared a gone: it is the chat then
        after = b.chat.rooms[room_key("5")].history
        self.assertEqual(
            (after.epoch, after.said, stamped(after.kept)), (before.epoch, before.said, stamped(before.kept))
        )
        self.assertNotIn(room_key("6"), b.chat.rooms)
        await self.in_redis(b)
        self.assertEqual((await self.lines("6"), await self.about("6")), ([], None))
        await b.stop()

    async def test_a_process_that_keeps_no_history_and_starts_alone_forgets_it_all(self) -> None:
        await self.accounts.change("owen", adding("owen", hashed_password("owen", "owen's secret")))
        a = await self.process("a", KEPT)
        owen, heard_by_owen = await self.member(a.chat, "owen", "owen")
        a.chat.register_room(owen, "5")
        await self.say(a.chat, owen, "kept", heard_by_owen)
        await self.in_redis(a)
        await a.stop()
        off = await self.process("b")
        self.assertEqual(list(off.chat.rooms[room_key("5")].history.kept), [])
        self.assertEqual((await self.lines("5"), await self.about("5")), ([], None))
        await off.stop()


class WritingTests(RedisStoresTestCase):
    """RedisHistory's script on a real Redis, its time driven by the test."""

    def history(self, limits: HistoryLimits = HistoryLimits(3)) -> RedisHistory:
        self.clock = Clock()
        self.clock.advance(1_795_000_000)
        history = RedisHistory(PREFIX, self.clock, limits)
        history.loaded([], self.admin)  # its commands on the test's connection: answered in the order sent
        return history

    def said(self, history: RedisHistory, at: int, number: int, text: str, life: str = "life") -> None:
        history.turn(place(at))
        history.said("5", Message("#5", "alice", text, id=f"{life}-{number}", time=timestamp(self.clock.seconds())))

    async def lines(self, room: str = "5") -> list[str]:
        return [json.loads(line)[1] for line in await self.admin.lrange(f"{PREFIX}:history:{room}", 0, -1)]

    async def test_changes_already_written_are_passed_over_by_their_place(self) -> None:
        writer = self.history()
        writer.lead()
        self.said(writer, 1, 1, "one")
        self.said(writer, 2, 2, "two")
        await writer.flush()
        follower = RedisHistory(PREFIX, self.clock, HistoryLimits(3))
        follower.loaded([], self.admin)
        self.said(follower, 1, 1, "one")  # held back, as the writer wrote them
        self.said(follower, 2, 2, "two")
        follower.turn(place(3))
        follower.redacted("5", ["life-1"])  # the writer went before writing these
        self.said(follower, 4, 3, "three")
        follower.lead()
        await follower.flush()
        self.assertEqual(await self.lines(), ["two", "three"])
        for at, number in enumerate(range(4, 7), start=5):
            self.said(follower, at, number, str(number))
        await follower.flush()
        self.assertEqual(await self.lines(), ["4", "5", "6"], "the last 3: --history")
        self.assertEqual(await self.admin.hget(f"{PREFIX}:histories", "5"), b"life 6 #5")
        follower.turn(place(8))
        follower.cleared("5")
        self.said(follower, 9, 7, "after clearing")
        await follower.flush()
        self.assertEqual(await self.lines(), ["after clearing"])
        self.said(follower, 10, 1, "a new life", life="next")
        await follower.flush()
        self.assertEqual(await self.lines(), ["a new life"], "the room began again: what it kept before is not its")
        follower.turn(place(11))
        follower.ended("5")
        await follower.flush()
        self.assertEqual((await self.lines(), await self.admin.hget(f"{PREFIX}:histories", "5")), ([], None))

    async def test_flush_fires_only_once_redis_has_answered_the_calls_it_waits_for(self) -> None:
        """A leaving process, and the tests, read Redis once flush fires, maybe on another connection: the changes
        must be there. txredisapi's Deferred counts as called while it still waits for the command's answer."""
        writer = self.history()
        elsewhere = await RedisAddress.parse(self.redis.url).connect(reconnect=False)  # not ordered with our reads
        self.addCleanup(elsewhere.disconnect)
        writer.loaded([], elsewhere)
        writer.lead()
        self.said(writer, 1, 1, "sent by flush")
        flushed = writer.flush()
        self.assertNoResult(flushed)  # Redis's answer cannot have been read within this reactor turn
        await flushed
        self.assertEqual(await self.lines(), ["sent by flush"])
        self.said(writer, 2, 2, "on its way")
        self.clock.advance(WRITE_EVERY)  # the call is made: flush has nothing to send, and waits for it
        flushed = writer.flush()
        self.assertNoResult(flushed)
        await flushed
        self.assertEqual(await self.lines(), ["sent by flush", "on its way"])
        await writer.leave()

    async def test_writing_every_room_anew_ends_those_not_named(self) -> None:
        writer = self.history()
        writer.lead()
        self.said(writer, 1, 1, "in a room that ended meanwhile")
        writer.stayed("5", "ann", timestamp(0.0))
        await writer.flush()
        kept = [Message("#Club", "bob", "hi", id="c-4", time=timestamp(self.clock.seconds()))]
        writer.turn(place(2))
        club = Room("#Club", 0.0, RoomHistory("c", HistoryLimits(3), 9, kept))
        club.owner, club.stays = "owen", {"owen": 1.0}
        writer.lead({"club": club})
        await writer.flush()
        self.assertEqual((await self.lines(), await self.lines("club")), ([], ["hi"]))
        self.assertEqual(await self.admin.hgetall(f"{PREFIX}:histories"), {b"club": b"c 9 #Club"})
        self.assertEqual(await self.admin.hgetall(f"{PREFIX}:stays"), {b"club owen": timestamp(1.0).encode()})

    async def test_lines_older_than_the_age_go_each_minute_and_a_quiet_rooms_list_expires(self) -> None:
        writer = self.history(HistoryLimits(5, 60.0))
        writer.lead()  # prunes now, and every PRUNE_EVERY seconds
        self.clock.advance(1)
        self.said(writer, 1, 1, "old")
        self.clock.advance(69)
        self.said(writer, 2, 2, "new")
        await writer.flush()
        self.assertTrue(0 < await self.admin.execute_command("PTTL", f"{PREFIX}:history:5") <= 60_000)
        self.clock.advance(PRUNE_EVERY * 2 - 70)  # the second pass: before it, 60 s ago
        self.assertEqual(await self.lines(), ["new"])
        writer.leave()


class Commands:
    """txredisapi's eval and get as one process's RedisHistory calls them: each call recorded, answered at once or
    by the test; `written`, shared by the processes, is how far any of them wrote (PREFIX:history-written)."""

    def __init__(self, written: list[str]) -> None:
        self.answer = True
        self.calls: list[tuple[list[list[Any]], Deferred[str]]] = []
        self.written = written

    def eval(self, script: str, keys: list[str], arguments: list[Any]) -> Deferred[str]:
        answer: Deferred[str] = succeed("") if self.answer else Deferred()
        if len(arguments) == 4:  # WRITE's: the changes last
            changes = json.loads(arguments[3])
            self.calls.append((changes, answer))
            self.written.append(changes[-1][0])
        return answer

    def get(self, key: str) -> Deferred[bytes | None]:
        return succeed(max(self.written).encode() if self.written else None)


class WhoWritesTests(SynchronousTestCase):
    """On the log in memory: which replica writes, and what the next one writes when it goes."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_795_000_000)
        self.log = MemoryLog(self.clock)
        self.commands: dict[str, Commands] = {}
        self.places: list[str] = []  # written
        self.a, self.b = self.process("a"), self.process("b")

    def process(self, name: str) -> SharedChat:
        written = RedisHistory(PREFIX, self.clock, KEPT)
        self.commands[name] = Commands(self.places)
        written.loaded([], self.commands[name])
        chat = SharedChat(self.log, self.clock.seconds, process=name, history=KEPT, history_store=written)
        chat.start()
        self.settle()
        return chat

    def settle(self) -> None:
        """Run the log's deliveries, what they append, and the history's writes; not the processes' other timers."""
        while due := [call.getTime() for call in self.clock.getDelayedCalls()]:
            if min(due) > self.clock.seconds() + WRITE_EVERY:
                return
            self.clock.advance(min(due) - self.clock.seconds())

    def member(self, chat: SharedChat, nick: str) -> Member:
        entered = chat.enter(RecordingSession(), nick, None, "192.0.2.1")
        self.settle()
        member = self.successResultOf(entered)
        chat.join(member, "5")
        self.settle()
        return member

    def written(self, name: str) -> list[tuple[str, list[Any]]]:
        """What a process wrote: (place, change) in the order sent."""
        return [(at, change) for changes, _ in self.commands[name].calls for at, group in changes for change in group]

    def test_the_oldest_writes_the_others_hold_back_and_the_next_oldest_writes_what_it_held(self) -> None:
        alice, bob = self.member(self.a, "alice"), self.member(self.b, "bob")
        self.b.say(bob, "5", "one")
        self.a.say(alice, "5", "two")
        self.settle()
        by_a = self.written("a")
        self.assertEqual(self.written("b"), [], "b holds them back")
        self.assertEqual(
            [(change[0], json.loads(change[3])[1]) for _, change in by_a], [("said", "one"), ("said", "two")]
        )
        self.assertEqual([at for at, _ in by_a], sorted({at for at, _ in by_a}), "in the log's order, each its place")
        c = self.process("c")  # late: it holds back from its snapshot on
        self.log.lose("a")  # b is the oldest now
        self.settle()
        self.assertEqual(self.written("b")[:2], by_a, "what b held back, as a wrote it: Redis passes over those")
        self.b.say(bob, "5", "three")
        self.settle()
        self.assertEqual(json.loads(self.written("b")[-1][1][3])[1], "three")
        self.assertEqual(self.written("c"), [])
        c.close("bye")
        self.settle()

    def test_what_the_writer_has_written_is_held_back_no_longer(self) -> None:
        self.member(self.a, "alice")
        bob = self.member(self.b, "bob")
        self.b.say(bob, "5", "one")
        self.settle()
        self.clock.advance(ASK_EVERY)  # b asks how far a wrote: past "one"
        self.b.say(bob, "5", "two")
        self.settle()
        self.log.lose("a")
        self.settle()
        self.assertEqual([json.loads(change[3])[1] for _, change in self.written("b")], ["two"])
        self.assertEqual([json.loads(change[3])[1] for _, change in self.written("a")], ["one", "two"])

    def test_a_process_whose_hello_only_a_lost_one_could_answer_writes_what_it_holds_anew(self) -> None:
        """The others went before answering: the history they wrote since its hello is not in its replica."""
        self.member(self.a, "alice")
        self.log.readers.pop("a")  # the oldest is killed; nobody has noticed yet
        c = self.process("c")
        self.assertFalse(c.is_ready, "a would answer it")
        self.log.lose("b")  # and the other goes before a is declared gone: c is the chat now
        self.settle()
        self.assertTrue(c.is_ready)
        ((_, change),) = self.written("c")
        self.assertEqual(change, ["all", "", {}, {}], "every room anew, and their stays: none (#5 was not registered)")

    def test_a_failed_write_is_sent_again_with_what_came_since_one_call_at_a_time(self) -> None:
        self.commands["a"].answer = False
        alice = self.member(self.a, "alice")
        self.a.say(alice, "5", "one")
        self.settle()
        ((_, first),) = self.commands["a"].calls
        self.a.say(alice, "5", "two")
        self.settle()
        self.assertEqual(len(self.commands["a"].calls), 1, "the next waits for the answer")
        first.errback(ConnectionError("Redis went away"))
        self.clock.advance(RETRY)
        ((changes, second),) = self.commands["a"].calls[1:]
        self.assertEqual([json.loads(group[1][0][3])[1] for group in changes], ["one", "two"])
        second.callback("")
        self.a.say(alice, "5", "three")
        self.settle()
        self.assertEqual(len(self.commands["a"].calls), 3)


class TwoTwistdHistoryTests(TwistdWithRedis):
    """Two real `twistd chatroom --redis --history 20`, then one alone after both stopped."""

    async def start(self) -> tuple[Subprocess, int]:
        process = self.chatroom("--history", "20")
        port = int((await process.until(LISTENING)).group(1))
        await process.until("joined the others through Redis")
        return process, port

    async def joined(self, port: int, nick: str) -> list[str]:
        """What someone joining #club on the server at `port` is shown of its history: SAID lines, with ids."""
        self.port = port
        client = await self.connect(nick)
        client.stamps = True
        client.send("/join club")
        last, shown = await client.until("HISTORY #club ")
        said = [line for line in shown if line.startswith("SAID ")]
        self.assertEqual(last, f"HISTORY #club {len(said)} 0")
        return said

    async def stop(self, *processes: Subprocess) -> None:
        for process in processes:
            process.transport.signalProcess("TERM")
        await gatherResults([process.ended for process in processes])

    async def test_both_servers_show_the_same_history_and_a_registered_room_keeps_it_across_a_restart(self) -> None:
        await self.start_redis()
        admin = await RedisAddress.parse(self.redis.url).connect(reconnect=False)
        self.addCleanup(admin.disconnect)
        await RedisAccounts(admin, "chatroom").change("owen", adding("owen", hashed_password("owen", "owen's secret")))
        (first, first_port), (second, second_port) = await self.start(), await self.start()
        self.port = first_port
        owen = await self.connect("owen")
        owen.stamps = True
        owen.send("/pass owen's secret", "/join club")
        await owen.until("NAMES #club @owen")
        owen.send("/room register")
        await owen.until("OWNER #club owen owen")
        self.port = second_port
        bob = await self.connect("bob", "club")  # its PONG follows the join's turn in the log
        for number in range(4):  # on both servers at once: the log orders them
            owen.send(f"owen {number}")
            bob.send(f"bob {number}")
        heard = [(await owen.until("MSG #club "))[0] for _ in range(8)]
        said = [line.replace("MSG ", "SAID ", 1) for line in heard]
        self.assertEqual(await self.joined(first_port, "carol"), said)
        self.assertEqual(await self.joined(second_port, "dave"), said, "the same lines, ids and order")
        await self.stop(first, second)

        third, third_port = await self.start()  # alone: it starts #club from Redis
        self.assertEqual(await self.joined(third_port, "erin"), said)
        await self.stop(third)
        output = first.output + second.output + third.output
        self.assertIn("this process writes the rooms' history to Redis from now on", first.output)
        self.assertIn("from Redis: the history of 1 registered rooms, 8 lines", third.output)
        self.assertNotIn("Traceback", output)
        self.assertNotIn("owen 0", output, "nothing said is logged")

"""Replicas of one chat sharing a real Redis server: order, races, a process lost, Redis lost and back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, cast

import txredisapi
from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.internet.interfaces import IProtocol, IProtocolFactory, IStreamClientEndpoint
from twisted.internet.task import Clock, deferLater
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import ILogObserver, LogEvent, LogLevel, formatEvent, globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface import implementer, provider

from chatroom.app.metrics import LoggedErrors
from chatroom.bus.log import encode, hello
from chatroom.bus.redis import (
    ANSWER,
    LATE,
    RETENTION,
    RETRY,
    REWRITE,
    UNHEARD,
    RedisAddress,
    RedisLog,
    RedisUnreachable,
    Unanswered,
    passed_over,
)
from chatroom.bus.shared import RESTORED, SharedChat
from chatroom.core.errors import ChatError
from chatroom.core.events import Event, History, Joined, Message, PrivateMessage, Quit, ServerNotice
from chatroom.core.history import HistoryLimits
from chatroom.core.members import Member
from chatroom.core.wording import DEGRADED
from tests.helpers import GENEROUS, RecordingSession, Subprocess, observe_log
from tests.redisserver import RedisServer, TwistdWithRedis, free_port
from tests.test_shared import fail_once, state
from tests.test_twistd import LISTENING


class WaitingSession(RecordingSession):
    """A session a test can wait on: `until` fires once what it was told satisfies a condition."""

    def __init__(self) -> None:
        super().__init__()
        self._waiting: list[tuple[Callable[[list[Event]], bool], Deferred[None]]] = []

    def deliver(self, event: Event) -> None:
        super().deliver(event)
        for waiting in list(self._waiting):
            if waiting[0](self.events):
                self._waiting.remove(waiting)
                # On the next turn of the reactor: a session must not call back into the chat as it delivers.
                reactor.callLater(0, waiting[1].callback, None)

    def until(self, condition: Callable[[list[Event]], bool]) -> Deferred[None]:
        done: Deferred[None] = Deferred()
        if condition(self.events):
            done.callback(None)
        else:
            self._waiting.append((condition, done))
        return done


def messages(events: list[Event]) -> list[Message]:
    return [event for event in events if isinstance(event, Message)]


def told(event: Event) -> Callable[[list[Event]], bool]:
    return lambda events: event in events


class RedisTestCase(TestCase):
    """A real redis-server for each test, and replicas of one chat sharing it as processes would."""

    timeout = GENEROUS
    redis_options: tuple[str, ...] = ()

    def setUp(self) -> Deferred[None]:  # type: ignore[override]  # trial waits for it
        self.redis = RedisServer(Path(self.mktemp()).absolute(), True, None, *self.redis_options)
        self.redis.directory.mkdir()
        self.addCleanup(self.redis.stop)
        return self.redis.start()

    async def process(
        self,
        name: str,
        ttl: float = 10.0,
        retention: float = RETENTION,
        rewrite: float = REWRITE,
        history: HistoryLimits = HistoryLimits(),
    ) -> tuple[SharedChat, RedisLog]:
        address = RedisAddress.parse(self.redis.url)
        bus = RedisLog(address, reactor, "test", ttl / 5, ttl, retention=retention, rewrite=rewrite)
        await bus.connect()
        self.addCleanup(bus.disconnect)
        chat = SharedChat(bus, reactor.seconds, process=name, history=history)
        await chat.start()
        return chat, bus

    async def member(self, chat: SharedChat, nick: str, room: str) -> tuple[Member, WaitingSession]:
        session = WaitingSession()
        member = await chat.enter(session, nick, None, "192.0.2.1")
        chat.join(member, room)
        await session.until(lambda events: any(getattr(event, "nicks", None) for event in events))  # NAMES
        session.take()
        return member, session


class SharedThroughRedisTests(RedisTestCase):
    async def test_four_members_on_two_processes_hear_10000_messages_from_four_senders_in_one_order(self) -> None:
        (a, _), (b, _) = await self.process("a"), await self.process("b")
        members = [await self.member(chat, nick, "5") for chat, nick in ((a, "m1"), (a, "m2"), (b, "m3"), (b, "m4"))]
        chats = (a, a, b, b)
        for number in range(2500):
            for (member, _), chat in zip(members, chats, strict=True):
                chat.say(member, "5", str(number))
        await gatherResults([session.until(lambda events: len(messages(events)) == 10_000) for _, session in members])
        heard = [messages(session.take()) for _, session in members]
        for other in heard[1:]:
            self.assertEqual(other, heard[0])
        for member, _ in members:  # and each sender's own messages in the order sent
            said = [event.text for event in heard[0] if event.nick == member.nick]
            self.assertEqual(said, [str(number) for number in range(2500)])

    async def test_a_nickname_claimed_on_two_processes_at_once_goes_to_one_of_them(self) -> None:
        (a, _), (b, _) = await self.process("a"), await self.process("b")
        claims = [a.enter(RecordingSession(), "zoe", None, "192.0.2.1"), b.enter(RecordingSession(), "Zoe", None, "")]
        outcomes = await gatherResults([claim.addErrback(lambda failure: failure.value) for claim in claims])
        refused = [outcome for outcome in outcomes if isinstance(outcome, ChatError)]
        self.assertEqual([error.code for error in refused], ["NICK_TAKEN"])
        self.assertEqual(list(a.nicks), list(b.nicks))

    async def lose_a_process(self, survivor: str, lost: str) -> SharedChat:
        """alice on `survivor` hears bob, on `lost`, quit: "server lost". Returns the survivor."""
        (a, _), (b, bus_b) = await self.process(survivor, ttl=1.0), await self.process(lost, ttl=1.0)
        _, heard_by_alice = await self.member(a, "alice", "5")
        await self.member(b, "bob", "5")
        bus_b.stopped = True  # as kill -9: no goodbye, no more heartbeats
        await bus_b.disconnect()
        await heard_by_alice.until(told(Quit("bob", "server lost")))
        return a

    async def test_the_members_of_a_process_that_stops_answering_quit_everywhere(self) -> None:
        self.assertNotIn("bob", (await self.lose_a_process("a", "b")).nicks)

    async def test_processes_named_by_digits_alone_still_see_one_another_go(self) -> None:
        # A process's name is 12 random hexadecimal digits: about one in 300 has no letter. txredisapi read such a
        # name back from Redis as a number, and the heartbeat, failing on it, never again let a lost process's
        # members quit (CI saw it once in about 70 runs of TwoTwistdTests).
        self.assertNotIn("bob", (await self.lose_a_process("672522230147", "0589413")).nicks)

    async def test_a_guest_of_a_process_that_stops_answering_lingers_and_resumes_elsewhere_by_token(self) -> None:
        kept = HistoryLimits(10)
        (a, bus_a), (b, bus_b) = await self.process("a", 1.0, history=kept), await self.process("b", 1.0, history=kept)
        alice, heard_by_alice = await self.member(a, "alice", "5")
        carol, _ = await self.member(b, "carol", "5")
        await self.member(b, "bob", "5")  # a guest never told a token: he quits
        token = b.resume_token(carol)
        late, _ = await self.process("c", 1.0, history=kept)  # its snapshot carries the token beside the log
        self.assertEqual(late.nicks["carol"].token, token)
        bus_b.stopped = True  # as kill -9: no goodbye, no more heartbeats
        await bus_b.disconnect()
        await heard_by_alice.until(told(Quit("bob", "server lost")))
        a.say(alice, "5", "carol, still there?")
        # Said before she resumes: once alice hears it, it has its place in the log, so the enter appended next comes
        # after it and c applies it first. Appended in the same turn, the two XADDs reach Redis in either order; an
        # enter first gets a catch-up without the line, which then reaches her live.
        await heard_by_alice.until(told(Message("#5", "alice", "carol, still there?")))
        back = WaitingSession()
        member = await late.enter(back, "carol", None, "192.0.2.9", token=token)
        late.catch_up(member, back)
        shown = [event for event in back.take() if isinstance(event, History)]
        self.assertEqual([line.text for line in shown[0].messages], ["carol, still there?"])
        self.assertNotIn(Quit("carol", "server lost"), heard_by_alice.events)
        on_disk = await bus_a.commands.execute_command("XRANGE", bus_a.keys["log"], "-", "+")
        self.assertNotIn(token, str(on_disk), "the token never reaches Redis's disk")

    async def test_a_replica_that_fails_to_apply_an_entry_gets_a_snapshot_through_redis_and_talks_on(self) -> None:
        (a, _), (b, _) = await self.process("a"), await self.process("b")
        alice, heard_by_alice = await self.member(a, "alice", "5")
        bob, heard_by_bob = await self.member(b, "bob", "5")
        self.patch(b, "_leave", fail_once(b._leave))
        a.part(alice, "5")  # b tells bob, then fails to remove her
        await heard_by_bob.until(told(ServerNotice(RESTORED)))
        self.assertIn(ServerNotice(DEGRADED), heard_by_bob.events)
        self.assertEqual(state(b), state(a))
        a.join(alice, "5")
        await heard_by_bob.until(told(Joined("#5", "alice")))
        b.say(bob, "5", "welcome back")
        await heard_by_alice.until(told(Message("#5", "bob", "welcome back")))
        self.assertEqual(state(b), state(a))

    async def test_while_redis_is_away_the_chat_says_so_refuses_changes_and_then_recovers(self) -> None:
        await self.through_an_outage(self.redis.stop, self.redis.start)

    async def test_a_redis_that_stops_answering_is_taken_for_lost_and_recovers_the_same_way(self) -> None:
        # Connections stay open and nothing is answered: within ANSWER seconds, taken for lost.
        await self.through_an_outage(self.redis.freeze, self.redis.thaw)

    async def through_an_outage(
        self, begin: Callable[[], Awaitable[None] | None], end: Callable[[], Awaitable[None] | None]
    ) -> None:
        """Two processes are told the chat is degraded, refuse what is said, and recover with nothing lost."""
        (a, _), (b, _) = await self.process("a"), await self.process("b")
        alice, heard_by_alice = await self.member(a, "alice", "5")
        _, heard_by_bob = await self.member(b, "bob", "5")
        heard = (heard_by_alice, heard_by_bob)
        logged = observe_log(self)
        if (began := begin()) is not None:
            await began
        await gatherResults([session.until(told(ServerNotice(DEGRADED))) for session in heard])
        error = self.assertRaises(ChatError, a.say, alice, "5", "anyone?")
        self.assertEqual(error.code, "DEGRADED")
        if (ended := end()) is not None:
            await ended
        await gatherResults([session.until(told(ServerNotice(RESTORED))) for session in heard])
        a.say(alice, "5", "back")
        back = Message("#5", "alice", "back")
        await gatherResults([session.until(told(back)) for session in heard])
        for session in heard:
            self.assertEqual(messages(session.events), [back], "nothing lost, nothing twice")
        assert_outage_logged_once_each(self, logged, processes=2)


def assert_outage_logged_once_each(test: TestCase, logged: Iterable[LogEvent], processes: int) -> None:
    """Each process says once that it lost Redis and once that it is back, and the libraries say nothing of their
    retries: txredisapi's ClientService logged a line a connection a try, and "Discarding dead connection."."""
    lines = [formatEvent(event) for event in logged]
    for said in ("chatroom lost contact with the log", "chatroom is in contact with the log again"):
        test.assertEqual(len([line for line in lines if line.startswith(said)]), processes, said)
    test.assertEqual([line for line in lines if "retry" in line or "Discarding" in line], [])


@implementer(IStreamClientEndpoint)
class Attempts:
    """An endpoint that tells a test when each connection attempt through it has ended, either way."""

    def __init__(self, endpoint: IStreamClientEndpoint) -> None:
        self.endpoint = endpoint
        self.made = 0
        self.pending: list[Deferred[None]] = []

    def connect(self, factory: IProtocolFactory) -> Deferred[IProtocol]:
        self.made += 1
        ended: Deferred[None] = Deferred()
        self.pending.append(ended)

        def end(result: object) -> object:
            # On the next turn of the reactor: once the ClientService that made it has seen it end.
            reactor.callLater(0, ended.callback, None)
            return result

        return self.endpoint.connect(factory).addBoth(end)

    async def ended(self) -> int:
        """Once the attempts under way have ended: how many were made since the last call."""
        pending, self.pending = self.pending, []
        await gatherResults(pending)
        made, self.made = self.made, 0
        return made


class KeptConnectionTests(RedisTestCase):
    """The log's connections to a real Redis, made again while it is away; time (the retries') a Clock."""

    async def test_redis_away_half_a_minute_is_tried_each_second_and_found_within_one(self) -> None:
        clock, logged = Clock(), observe_log(self)
        attempts = Attempts(RedisAddress.parse(self.redis.url).endpoint())
        self.patch(RedisAddress, "endpoint", lambda _: attempts)
        bus = RedisLog(RedisAddress.parse(self.redis.url), clock, "test")
        await bus.connect()
        self.addCleanup(bus.disconnect)
        chat = SharedChat(bus, clock.seconds, process="a")
        await chat.start()
        await attempts.ended()
        lost = logged_once(logged, "chatroom lost contact with the log")
        await self.redis.stop()
        await lost
        for second in range(30):  # each connection (commands, reading, hearing) tries each second, no less often
            clock.advance(RETRY)
            self.assertEqual(await attempts.ended(), 3, f"second {second + 1}")
        back = logged_once(logged, "chatroom is in contact with the log again")
        await self.redis.start()
        clock.advance(RETRY)
        await attempts.ended()
        await back
        assert_outage_logged_once_each(self, logged, processes=1)


class Handshakes:
    """Tells a test when txredisapi has settled each connection's AUTH and SELECT, accepted or refused."""

    def __init__(self, test: TestCase) -> None:
        self.pending: list[Deferred[Any]] = []
        self.open: list[txredisapi.RedisProtocol] = []
        made = txredisapi.RedisProtocol.connectionMade

        def watched(protocol: txredisapi.RedisProtocol) -> Deferred[Any]:
            handshake: Deferred[Any] = made(protocol)
            self.pending.append(handshake)
            self.open.append(protocol)
            return handshake

        test.patch(txredisapi.RedisProtocol, "connectionMade", watched)

    async def settled(self) -> int:
        """Once those under way have settled: how many there were since the last call."""
        pending, self.pending = self.pending, []
        await gatherResults(pending)
        return len(pending)

    async def closed(self) -> None:
        """Once every connection made so far has closed, and its ClientService has seen it (a reactor turn later)."""
        connections, self.open = self.open, []
        await gatherResults([connection.whenDisconnected() for connection in connections if connection.connected])
        await deferLater(reactor, 0)


class RefusedTests(RedisTestCase):
    """A Redis that refuses chatroom's password once the chat runs; time (the retries') a Clock."""

    redis_options = ("--requirepass", "secret")

    async def test_a_password_changed_in_redis_is_one_error_and_putting_it_back_heals_the_chat(self) -> None:
        clock, logged, errors = Clock(), observe_log(self), LoggedErrors()
        errors.start()
        self.addCleanup(errors.stop)
        url = self.redis.url.replace("redis://", "redis://:secret@")
        admin = await RedisAddress.parse(url).connect(reconnect=False)
        self.addCleanup(admin.disconnect)
        handshakes, attempts = Handshakes(self), Attempts(RedisAddress.parse(url).endpoint())
        self.patch(RedisAddress, "endpoint", lambda _: attempts)
        bus = RedisLog(RedisAddress.parse(url), clock, "test")
        await bus.connect()
        self.addCleanup(bus.disconnect)
        chat = SharedChat(bus, clock.seconds, process="a")
        await chat.start()
        await attempts.ended()
        self.assertEqual(await handshakes.settled(), 3)
        await admin.execute_command("CONFIG", "SET", "requirepass", "other")  # the operator's change
        for kind in ("normal", "pubsub"):  # as a restart of Redis would, but the test's own (SKIPME)
            await admin.execute_command("CLIENT", "KILL", "TYPE", kind)
        await handshakes.closed()
        # Each connection tries again each second, and is refused; for less than ANSWER seconds, so that the try to
        # find our place again under way since the first second is answered once Redis accepts us.
        for second in range(3):
            clock.advance(RETRY)
            self.assertEqual(await attempts.ended(), 3, f"second {second + 1}")
            self.assertEqual(await handshakes.settled(), 3, f"second {second + 1}")
            await handshakes.closed()
        refused = [formatEvent(event) for event in logged if event["log_level"] == LogLevel.error]
        self.assertEqual(len(refused), 1, refused)
        self.assertIn("refuses chatroom's connections (could not auth: WRONGPASS", refused[0])
        self.assertIn("tries again every 1 seconds", refused[0])
        self.assertNotIn("secret", refused[0])
        self.assertEqual(errors.counts["chatroom"], 1)
        back = logged_once(logged, "chatroom is in contact with the log again")
        await admin.execute_command("CONFIG", "SET", "requirepass", "secret")
        clock.advance(RETRY)
        await attempts.ended()
        await back
        assert_outage_logged_once_each(self, logged, processes=1)


def logged_once(logged: EventLoggingObserver, line: str, times: int = 1) -> Deferred[None]:
    """Fires once a line starting with `line` is logged (`times` times)."""
    seen: Deferred[None] = Deferred()
    count = [0]

    @provider(ILogObserver)
    def watch(event: LogEvent) -> None:
        if not seen.called and formatEvent(event).startswith(line):
            count[0] += 1
            if count[0] == times:
                globalLogPublisher.removeObserver(watch)
                seen.callback(None)

    globalLogPublisher.addObserver(watch)
    return seen


class Silent:
    """txredisapi's connections as Redis leaves them when it never answers."""

    def execute_command(self, *command: Any) -> Deferred[Any]:
        return Deferred()


class AnswerTests(SynchronousTestCase):
    """How long the log waits for Redis's answer to a command (ANSWER), on a Clock."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.bus = RedisLog(RedisAddress.parse("redis://127.0.0.1:1/0"), self.clock)

    def test_a_command_unanswered_for_the_bound_fails(self) -> None:
        asked = self.bus._bounded(Deferred())
        self.clock.advance(ANSWER)
        self.assertEqual(str(self.failureResultOf(asked, Unanswered).value), "Redis did not answer within 5 seconds")

    def test_a_process_too_busy_to_read_the_answer_in_time_gives_redis_its_time_again(self) -> None:
        answer: Deferred[bytes] = Deferred()
        asked = self.bus._bounded(answer)
        self.clock.advance(ANSWER + 2 * LATE)  # the timer fires late: this process was busy
        self.assertNoResult(asked)
        answer.callback(b"OK")  # read as the reactor reads on
        self.assertEqual(self.successResultOf(asked), b"OK")


class JoinFaultTests(SynchronousTestCase):
    def test_a_bug_in_reading_the_log_joined_is_logged_without_its_message(self) -> None:
        """What a process reads as it joins holds the rooms' kept lines: a bug's message may quote one of them."""
        bus = RedisLog(RedisAddress.parse("redis://127.0.0.1:1/0"), Clock())
        logged = observe_log(self)

        class Answering:
            def eval(self, *arguments: Any) -> Deferred[Any]:
                return succeed([b"1-0", 1, [], [], [], [], [], None])

        class Reader:
            def received(self, entry: object) -> None:
                raise ValueError("cannot read 'the secret plan'")

        bus.commands = Answering()
        bus.join("a", cast(SharedChat, Reader()))
        [error] = [formatEvent(event) for event in logged if event.get("log_level") == LogLevel.error]
        self.assertIn("could not join the log: ValueError at ", error)
        self.assertNotIn("secret", repr(list(logged)), "nothing anyone types is ever logged")

    def test_redis_going_away_is_passed_over_but_a_bug_in_the_upkeep_is_told(self) -> None:
        # A bug in a heartbeat's search for lost processes was passed over as if Redis had gone away, every beat.
        logged = observe_log(self)
        passed_over(Failure(txredisapi.ConnectionError("Not connected")))
        self.assertEqual([event for event in logged if event.get("log_level") > LogLevel.debug], [])
        passed_over(Failure(txredisapi.ResponseError("NOPERM this user has no permissions to run the 'eval' command")))
        [refused] = [formatEvent(event) for event in logged if event.get("log_level") == LogLevel.warn]
        self.assertIn("Redis refused a command of the log's upkeep: NOPERM", refused)
        try:
            raise AttributeError("'int' object has no attribute 'decode'")
        except AttributeError:
            passed_over(Failure())
        [error] = [formatEvent(event) for event in logged if event.get("log_level") == LogLevel.error]
        self.assertIn("the upkeep of the log on Redis failed: AttributeError at ", error)


class UnheardTests(SynchronousTestCase):
    """What an entry carries beside the log (by PUBLISH), met on a real replica; its Redis faked, time a Clock."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.bus = RedisLog(RedisAddress.parse("redis://127.0.0.1:1/0"), self.clock)
        self.bus.commands = self.bus.reading = Silent()
        self.chat = SharedChat(self.bus, self.clock.seconds, process="b")
        self.bus.reader, self.bus.up = self.chat, True
        self.read = 0
        self.chat.received(hello("b", True))
        self.bob = RecordingSession()
        self.chat.enter(self.bob, "bob", None, "192.0.2.2")
        self.feed(
            {"k": "enter", "p": "b", "m": "b/1", "a": ["bob", None, "192.0.2.2", {}]},
            {"k": "enter", "p": "a", "m": "a/1", "a": ["alice", None, "192.0.2.1", {}]},
            {"k": "do", "p": "b", "m": "b/1", "f": "join", "a": ["5"]},
            {"k": "do", "p": "a", "m": "a/1", "f": "join", "a": ["5"]},
        )
        self.bob.take()

    def feed(self, *entries: dict[str, Any]) -> None:
        """Entries as XREAD answers them."""
        self.read += 1
        self.bus._got([[b"chatroom:log", [(f"{self.read}-0".encode(), [b"o", encode(list(entries))])]]])

    def test_an_entry_waits_for_what_it_carries_and_takes_it_when_heard(self) -> None:
        self.feed({"k": "do", "p": "a", "m": "a/1", "f": "private", "a": ["bob", None], "off": ["t1", [1]]})
        self.assertEqual(self.bob.take(), [])
        self.bus._heard('[["t1", ["psst"]]]')  # as published
        self.assertEqual(self.bob.take(), [PrivateMessage("alice", "bob", "psst")])

    def test_unheard_a_private_message_is_dropped_and_a_quit_told_without_its_reason(self) -> None:
        self.feed(
            {"k": "do", "p": "a", "m": "a/1", "f": "private", "a": ["bob", None], "off": ["t1", [1]]},
            {"k": "do", "p": "a", "m": "a/1", "f": "quit", "a": [None], "off": ["t2", [0]]},
        )
        self.assertEqual(self.bob.take(), [])
        self.clock.advance(UNHEARD)
        self.assertEqual(self.bob.take(), [Quit("alice", "")])


class UnreachableTests(TestCase):
    def test_an_unreachable_redis_is_one_line(self) -> None:
        address = RedisAddress.parse(f"redis://127.0.0.1:{free_port()}/0")
        error = self.assertRaises(RedisUnreachable, address.check)
        self.assertRegex(str(error), r"^cannot reach Redis at redis://127\.0\.0\.1:\d+/0: Connection refused$")

    def test_a_url_that_is_not_redis_is_refused(self) -> None:
        self.assertRaises(ValueError, RedisAddress.parse, "http://example.com")


class TwoTwistdTests(TwistdWithRedis):
    """Two real `twistd chatroom` processes sharing one real Redis, as an administrator runs them."""

    async def test_two_servers_share_rooms_nicknames_and_see_each_other_leave(self) -> None:
        await self.start_redis()

        async def start() -> tuple[Subprocess, int]:
            process = self.chatroom("--linger", "1")  # a stopped server's people linger a second, then quit
            port = int((await process.until(LISTENING)).group(1))
            await process.until("joined the others through Redis")
            return process, port

        (first, self.port), (second, second_port) = await start(), await start()
        alice = await self.connect("alice", "5")
        self.port = second_port
        bob = await self.connect("bob", "5")
        carol = await self.connect("carol", "5")
        await alice.until("JOIN #5 carol")
        alice.send("hello from the first server")
        await bob.until("MSG #5 alice :hello from the first server")
        carol.send("/nick Alice")
        await carol.until("ERR NICK_TAKEN ")
        carol.send("/who 5")
        await carol.until("NAMES #5 @alice bob carol")
        second.transport.signalProcess("TERM")
        await bob.until("BYE :server shutting down")
        await alice.until("QUIT bob :server shutting down")
        await alice.until("QUIT carol :server shutting down")
        await second.ended
        (third, self.port) = await start()
        await self.connect("dave", "5")
        await alice.until("JOIN #5 dave")
        third.transport.signalProcess("KILL")  # no goodbye: the first server must notice by itself
        await alice.until("QUIT dave :server lost")
        first.transport.signalProcess("TERM")
        await first.ended
        self.assertNotIn("hello from the first server", first.output + second.output)
        self.assertNotIn("Traceback", first.output + second.output + third.output)

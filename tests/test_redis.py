"""Replicas of one chat sharing a real Redis server: order, races, a process lost, Redis lost and back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults
from twisted.trial.unittest import TestCase

from chatroom.bus.redis import RedisAddress, RedisLog, RedisUnreachable
from chatroom.bus.shared import DEGRADED, RESTORED, SharedChat
from chatroom.core.chat import Member
from chatroom.core.errors import ChatError
from chatroom.core.events import Event, Message, Quit, ServerNotice
from tests.helpers import GENEROUS, RecordingSession, Subprocess
from tests.redisserver import RedisServer, TwistdWithRedis, free_port
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

    def setUp(self) -> Deferred[None]:  # type: ignore[override]  # trial waits for it
        self.redis = RedisServer(Path(self.mktemp()).absolute(), keep=True)
        self.redis.directory.mkdir()
        self.addCleanup(self.redis.stop)
        return self.redis.start()

    async def process(self, name: str, ttl: float = 10.0) -> tuple[SharedChat, RedisLog]:
        bus = RedisLog(RedisAddress.parse(self.redis.url), reactor, prefix="test", beat=ttl / 5, ttl=ttl)
        await bus.connect()
        self.addCleanup(bus.disconnect)
        chat = SharedChat(bus, reactor.seconds, process=name)
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

    async def test_the_members_of_a_process_that_stops_answering_quit_everywhere(self) -> None:
        (a, _), (b, bus_b) = await self.process("a", ttl=1.0), await self.process("b", ttl=1.0)
        _, heard_by_alice = await self.member(a, "alice", "5")
        await self.member(b, "bob", "5")
        bus_b.stopped = True  # as kill -9: no goodbye, no more heartbeats
        await bus_b.disconnect()
        await heard_by_alice.until(told(Quit("bob", "server lost")))
        self.assertNotIn("bob", a.nicks)

    async def test_while_redis_is_away_the_chat_says_so_refuses_changes_and_then_recovers(self) -> None:
        (a, _), (b, _) = await self.process("a"), await self.process("b")
        alice, heard_by_alice = await self.member(a, "alice", "5")
        _, heard_by_bob = await self.member(b, "bob", "5")
        await self.redis.stop()
        await gatherResults(
            [heard_by_alice.until(told(ServerNotice(DEGRADED))), heard_by_bob.until(told(ServerNotice(DEGRADED)))]
        )
        error = self.assertRaises(ChatError, a.say, alice, "5", "anyone?")
        self.assertEqual(error.code, "DEGRADED")
        await self.redis.start()
        await gatherResults(
            [heard_by_alice.until(told(ServerNotice(RESTORED))), heard_by_bob.until(told(ServerNotice(RESTORED)))]
        )
        a.say(alice, "5", "back")
        back = Message("#5", "alice", "back")
        await gatherResults([heard_by_alice.until(told(back)), heard_by_bob.until(told(back))])
        for session in (heard_by_alice, heard_by_bob):
            self.assertEqual(messages(session.events), [back], "nothing lost, nothing twice")


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
            process = self.chatroom()
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

"""The connection policy, the same tests over two message transports: real line framing, and whole messages in memory.

What a client notices (what it is sent, when it is read, when it is cut off) must not depend on the framing: a
WebSocket transport then only has to pass the fake transport's part of the bargain.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IAddress, IPushProducer
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from chatroom.core.chat import Chat
from chatroom.core.members import RoomLimits
from chatroom.frontends.line.frontend import LineFrontEnd
from chatroom.server.connection import Connection, ConnectionFactory
from chatroom.server.limits import ConnectionLimits
from tests.helpers import MemoryClient, unstamped

if TYPE_CHECKING:
    _TestCase = SynchronousTestCase
else:
    _TestCase = object  # the tests run in each transport's TestCase below, never on their own

LIMITS = ConnectionLimits(
    max_line=100, flood_burst=10, flood_rate=4.0, send_queue=2000, registration_timeout=30, idle_timeout=300
)


def chat(clock: Clock) -> Chat:
    """The connection's policy, not lingering (tests/test_sessions.py): a person cut off leaves at once."""
    return Chat(RoomLimits(linger=0), now=clock.seconds, clock=clock)


class Client:
    """One client as a person sees it, whatever carries its messages."""

    def send(self, *messages: str) -> None:
        raise NotImplementedError

    def send_too_long(self) -> None:
        raise NotImplementedError

    def written(self) -> bytes:
        """What the server wrote since the last read, and forget it."""
        raise NotImplementedError

    def read(self) -> list[str]:
        return [unstamped(line) for line in self.written().decode().splitlines()]

    @property
    def reading(self) -> bool:
        """The server reads what it sends."""
        raise NotImplementedError

    @property
    def closing(self) -> bool:
        """The server has closed, politely or not."""
        raise NotImplementedError

    @property
    def cut(self) -> bool:
        """Dropped without waiting for its goodbye to be sent."""
        raise NotImplementedError

    @property
    def producer(self) -> IPushProducer:
        """What the transport pauses once it is full."""
        raise NotImplementedError

    def lose(self) -> None:
        raise NotImplementedError


class LineClient(Client):
    """Line framing over StringTransport, as a listener builds it."""

    def __init__(self, factory: ConnectionFactory, port: int) -> None:
        self.client = MemoryClient(factory, port=port)

    def send(self, *messages: str) -> None:
        self.client.send(b"".join(message.encode() + b"\r\n" for message in messages))

    def send_too_long(self) -> None:
        self.client.send(b"x" * (LIMITS.max_line + 10) + b"\n")

    def written(self) -> bytes:
        value: bytes = self.client.transport.value()
        self.client.transport.clear()
        return value

    @property
    def reading(self) -> bool:
        return bool(self.client.transport.producerState == "producing")

    @property
    def closing(self) -> bool:
        return bool(self.client.transport.disconnecting)

    @property
    def cut(self) -> bool:
        return bool(self.client.transport.disconnected)

    @property
    def producer(self) -> IPushProducer:
        producer: IPushProducer | None = self.client.transport.producer
        assert producer is not None
        return producer

    def lose(self) -> None:
        self.client.lose()


class FakeMessages(Client):
    """A chatroom.server.messages.MessageTransport in memory: whole messages, delivered unless reading is paused."""

    handshaking = False

    def __init__(self, factory: ConnectionFactory, port: int) -> None:
        self.address = IPv4Address("TCP", "127.0.0.1", port)
        receiver = factory.admit(self.address, LineFrontEnd)
        assert isinstance(receiver, Connection)
        self.receiver = receiver
        self.out: list[bytes] = []
        self.inbox: deque[bytes | None] = deque()  # None: a message too long to keep
        self.paused = self.closed = self.aborted = self._busy = False
        receiver.connection_made(self)

    # the peer's side

    def send(self, *messages: str) -> None:
        self.inbox.extend(message.encode() for message in messages)
        self._deliver()

    def send_too_long(self) -> None:
        self.inbox.append(None)
        self._deliver()

    def written(self) -> bytes:
        written, self.out = b"".join(self.out), []
        return written

    @property
    def reading(self) -> bool:
        return not self.paused

    @property
    def closing(self) -> bool:
        return self.closed or self.aborted

    @property
    def cut(self) -> bool:
        return self.aborted

    @property
    def producer(self) -> IPushProducer:
        return self.send_queue

    def lose(self) -> None:
        self.receiver.connection_lost(Failure(ConnectionDone()))

    def _deliver(self) -> None:
        """Messages in order, none while paused; a pause from inside a delivery holds the rest.

        Even to a closing receiver, as a framing may: the policy must then execute nothing by itself.
        """
        if self._busy:
            return
        self._busy = True
        try:
            while self.inbox and not self.paused:
                message = self.inbox.popleft()
                if message is None:
                    self.receiver.message_too_long()
                else:
                    self.receiver.message_received(message)
        finally:
            self._busy = False

    # chatroom.server.messages.MessageTransport

    def write(self, message: bytes) -> None:
        self.out.append(message)

    def write_messages(self, messages: list[bytes]) -> None:
        self.out.extend(messages)

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False
        self._deliver()

    def register_producer(self, producer: IPushProducer) -> None:
        self.send_queue = producer

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def peer_address(self) -> IAddress:
        return self.address


class PolicyTests(_TestCase):
    """Each rule of the connection policy, as its clients see it."""

    transport: type[LineClient | FakeMessages]

    def setUp(self) -> None:
        self.clock = Clock()
        self.factory = ConnectionFactory(chat(self.clock), self.clock, LineFrontEnd, LIMITS)
        self.clients: list[Client] = []

    def connect(self, nick: str | None = None) -> Client:
        """A client, registered in #5 if it has a nickname, with a full flood bucket and nothing left to read."""
        client = self.transport(self.factory, 40000 + len(self.clients))
        self.clients.append(client)
        if nick:
            client.send(f"/nick {nick}", "/join 5")
        self.clock.advance(10)
        for each in self.clients:
            each.read()
        return client

    def test_a_flood_is_slowed_not_dropped(self) -> None:
        flooder, listener = self.connect("flooder"), self.connect("listener")
        flooder.send(*(f"line {n}" for n in range(30)))
        self.assertEqual(len(listener.read()), 10, "the burst goes through at once")
        self.assertFalse(flooder.reading, "then the server stops reading the flooder")
        listener.send("meanwhile")
        listener.read()
        self.assertEqual(flooder.read()[-1], "MSG #5 listener :meanwhile", "others are served meanwhile")
        self.clock.advance(1)
        heard = listener.read()
        self.assertEqual(len(heard), 4, "then four lines a second")
        self.clock.pump([0.25] * 16)
        heard += listener.read()
        self.assertEqual(heard, [f"MSG #5 flooder :line {n}" for n in range(10, 30)], "every line, in order")
        self.clock.advance(1)
        self.assertTrue(flooder.reading)

    def test_a_message_too_long_is_refused_and_the_next_one_read(self) -> None:
        talker, listener = self.connect("talker"), self.connect("listener")
        talker.send_too_long()
        talker.send("short")
        self.assertEqual(
            talker.read(), ["ERR TOO_LONG :line longer than 100 bytes; it was ignored", "MSG #5 talker :short"]
        )
        self.assertEqual(listener.read(), ["MSG #5 talker :short"])

    def test_refused_messages_cost_flood_tokens(self) -> None:
        flooder = self.connect("flooder")
        for _ in range(10):
            flooder.send_too_long()
        self.assertFalse(flooder.reading, "refusing must not be the cheap flood")

    def test_a_client_that_does_not_read_is_cut_off_past_its_send_queue(self) -> None:
        stalled, talker, listener = self.connect("stalled"), self.connect("talker"), self.connect("listener")
        stalled.producer.pauseProducing()  # the transport is full: the client does not read
        for n in range(20):  # 20 lines of 136 bytes: past the send queue's 2000
            talker.send(f"message {n} " + "x" * 80)
            self.clock.advance(1)
        self.assertTrue(stalled.cut, "dropped at once: a goodbye would never be read")
        self.assertEqual(stalled.read(), [], "nothing more was written to it")
        stalled.lose()
        self.assertEqual(listener.read()[-1], "QUIT stalled :send queue exceeded")
        talker.read()
        talker.send("still here")
        self.assertEqual(talker.read(), ["MSG #5 talker :still here"])

    def test_a_client_without_a_nickname_in_time_is_told_and_closed(self) -> None:
        silent = self.connect()
        self.clock.advance(LIMITS.registration_timeout - 10 - 1)
        silent.send("/help")  # lines that do not register it buy no time
        silent.read()
        self.clock.advance(1)
        self.assertEqual(silent.read(), ["BYE :registration timeout: choose a nickname sooner"])
        self.assertTrue(silent.closing)
        self.assertFalse(silent.cut, "politely: the goodbye goes out first")

    def test_an_idle_client_is_pinged_then_dropped(self) -> None:
        idle, alive = self.connect("idle"), self.connect("alive")
        self.clock.advance(LIMITS.idle_timeout - 10)
        self.assertEqual([line.split(" :")[0] for line in idle.read()], ["PING"])
        [ping] = alive.read()
        alive.send(f"/pong {ping.split(' :')[1]}")  # an answer, or any line, resets the timer
        self.clock.advance(LIMITS.idle_timeout)
        self.assertEqual(idle.read(), ["BYE :ping timeout"])
        self.assertTrue(idle.closing)
        self.assertIn("QUIT idle :ping timeout", alive.read())
        self.assertFalse(alive.closing)

    def test_nothing_is_executed_after_a_quit(self) -> None:
        leaver, listener = self.connect("leaver"), self.connect("listener")
        leaver.send("/quit bye", "after the quit")
        self.assertEqual(leaver.read(), ["BYE :bye"])
        self.assertEqual(listener.read(), ["QUIT leaver :bye"])
        leaver.send("later still")
        self.clock.advance(10)
        self.assertEqual((leaver.read(), listener.read()), ([], []))

    def test_lines_held_by_flood_control_are_not_executed_after_a_quit(self) -> None:
        flooder, listener = self.connect("flooder"), self.connect("listener")
        flooder.send(*(f"line {n}" for n in range(10)), "/quit enough", "after the quit")
        self.assertFalse(flooder.reading)
        self.clock.advance(1)
        self.assertEqual(listener.read()[-1], "QUIT flooder :enough")
        self.clock.advance(10)
        self.assertEqual(listener.read(), [], "not a word after its goodbye")
        flooder.lose()
        listener.lose()
        self.assertEqual(self.clock.getDelayedCalls(), [], "no timer is left for either")


class LineFramingTests(PolicyTests, SynchronousTestCase):
    transport = LineClient


class FakeTransportTests(PolicyTests, SynchronousTestCase):
    transport = FakeMessages


class LineFramingLimitTests(SynchronousTestCase):
    """What only line framing decides: the length limit counts a line's content, not its CR or LF."""

    def test_the_limit_counts_neither_cr_nor_lf(self) -> None:
        clock = Clock()
        factory = ConnectionFactory(chat(clock), clock, LineFrontEnd, LIMITS)
        client = LineClient(factory, 40000)
        client.send("/nick longest", "/join 5")
        client.read()
        at_limit = "/me " + "x" * (LIMITS.max_line - 4)
        client.client.send(at_limit.encode() + b"\r\n" + at_limit.encode() + b"y\n")
        self.assertEqual(
            client.read(),
            [f"ACTION #5 longest :{at_limit[4:]}", "ERR TOO_LONG :line longer than 100 bytes; it was ignored"],
        )

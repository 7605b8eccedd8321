"""Each defence against a misbehaving client, proven: the others keep being served."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.error import AlreadyCalled, AlreadyCancelled
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from chatroom.core.history import HistoryLimits
from chatroom.core.members import RoomLimits
from chatroom.server import tls
from chatroom.server.connection import ANSWER_BYTES, ANSWER_FREE, Refusal
from chatroom.server.limits import TURN_BYTES, Admission, ConnectionLimits, Deadlines, TokenBucket
from chatroom.server.lines import LineFraming
from chatroom.server.tls_transport import Flushes, TLSFactory
from tests.helpers import MemoryClient, MemoryServer, ServerTestCase, unstamped
from tests.test_irc import IRCServer

GENEROUS_FLOOD: dict[str, Any] = {"flood_burst": 10_000, "flood_rate": 10_000.0}


class TokenBucketTests(SynchronousTestCase):
    def test_burst_then_rate(self) -> None:
        bucket = TokenBucket(burst=3, rate=2.0, now=0.0)
        self.assertEqual([bucket.take(0.0) for _ in range(2)], [0.0, 0.0])
        self.assertEqual(bucket.take(0.0), 0.5)  # the burst is spent: the next line in half a second
        self.assertEqual(bucket.take(0.5), 0.5)
        self.assertEqual(bucket.take(10.0), 0.0)  # a quiet client earns its burst back, no more


class FloodTests(SynchronousTestCase):
    def setUp(self) -> None:
        # 4 lines a second: steps of 0.25 s add up exactly in floating point
        self.server = MemoryServer(ConnectionLimits(flood_burst=10, flood_rate=4.0))

    def test_flooders_lines_are_slowed_not_dropped(self) -> None:
        flooder = self.server.connect("flooder", "5")
        listener = self.server.connect("listener", "5")
        self.server.clock.advance(10)  # registering spent tokens: start with a full bucket
        flooder.send(b"".join(f"line {n}\n".encode() for n in range(30)))
        self.assertEqual(len(listener.read()), 10, "the burst goes through at once")
        self.assertEqual(flooder.transport.producerState, "paused", "then the server stops reading the flooder")

        listener.type("meanwhile")  # others are served at once while the flooder waits
        self.assertEqual(flooder.read()[-1], "MSG #5 listener :meanwhile")

        self.server.clock.advance(1)
        heard = listener.read()
        self.assertEqual(len(heard), 4, "then four lines a second")
        self.server.clock.pump([0.25] * 16)
        heard += listener.read()
        self.assertEqual(heard, [f"MSG #5 flooder :line {n}" for n in range(10, 30)], "every line, in order")
        self.server.clock.advance(1)
        self.assertEqual(flooder.transport.producerState, "producing")

    def test_a_disconnected_flooder_leaves_no_timer(self) -> None:
        flooder = self.server.connect("flooder", "5")
        flooder.send(b"x\n" * 20)
        flooder.lose()
        lingering = self.server.chat.nicks["flooder"].expiry  # the flooder may come back for a while
        self.assertEqual(self.server.clock.getDelayedCalls(), [lingering], "no flood-control timer")


class TimeoutTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = MemoryServer(ConnectionLimits(registration_timeout=30, idle_timeout=300))

    def test_silent_connections_are_closed(self) -> None:
        silent = self.server.connect()
        trickler = self.server.connect()
        for _ in range(29):
            self.server.clock.advance(1)
            trickler.send(b"/ni")  # bytes that never make a nickname do not buy time
        self.server.clock.advance(1)
        for connection in (silent, trickler):
            self.assertEqual(connection.read(), ["BYE :registration timeout: choose a nickname sooner"])
            self.assertTrue(connection.transport.disconnecting)

    def test_registering_in_time_keeps_the_connection(self) -> None:
        prompt = self.server.connect()
        self.server.clock.advance(29)
        prompt.type("/nick prompt")
        self.server.clock.advance(2)
        self.assertFalse(prompt.transport.disconnecting)

    def test_idle_clients_are_pinged_then_dropped(self) -> None:
        idle = self.server.connect("idle", "5")
        alive = self.server.connect("alive", "5")
        self.server.clock.advance(300)
        self.assertEqual([line.split(" :")[0] for line in idle.read()], ["PING"])
        [ping] = alive.read()
        alive.type(f"/pong {ping.split(' :')[1]}")  # an answer, or any line, resets the timer
        self.server.clock.advance(300)
        self.assertEqual(idle.read(), ["BYE :ping timeout"])
        self.assertTrue(idle.transport.disconnecting)
        self.server.clock.advance(RoomLimits.linger)  # it may come back for a while (tests.test_sessions)
        self.assertIn("QUIT idle :ping timeout", alive.read())
        self.assertFalse(alive.transport.disconnecting)

    def test_a_closing_peer_that_never_answers_is_cut_off(self) -> None:
        """A TLS close waits for the peer's close_notify; a peer that never sends it must not pin memory."""
        silent = self.server.connect()
        self.server.clock.advance(30)
        self.assertFalse(silent.transport.disconnected)
        self.server.clock.advance(5)
        self.assertTrue(silent.transport.disconnected)

    def test_a_tls_handshake_never_finished_is_cut_at_the_registration_timeout(self) -> None:
        """0.1: raw TCP to a TLS port, or a handshake never finished, was cut 5 s after the timeout."""
        certs = Path(self.mktemp())
        tls.create(certs, "localhost")
        front = TLSFactory(tls.SwappableContext(tls.load(certs)), self.server.factory, Flushes(self.server.clock))
        tcp = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 40000))
        front.buildProtocol(tcp.getPeer()).makeConnection(tcp)
        self.server.clock.advance(29)
        self.assertFalse(tcp.disconnecting)
        self.server.clock.advance(1)
        self.assertTrue(tcp.disconnected, "cut at the timeout: no TLS, so no goodbye to wait for")
        self.assertEqual(tcp.value(), b"")


class DeadlinesTests(SynchronousTestCase):
    """A web listener's silence deadlines (chatroom.server.limits.Deadlines): late by up to a sweep, one reactor
    call for all of them, and nothing left behind by one cancelled."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.deadlines = Deadlines(self.clock)
        self.passed: list[str] = []

    def test_a_deadline_passes_at_the_first_sweep_after_it_never_before(self) -> None:
        deadline = self.deadlines.callLater(2.5, self.passed.append, "silent")
        self.clock.advance(2)
        self.assertEqual(self.passed, [])
        self.assertTrue(deadline.active())
        self.clock.advance(1)
        self.assertEqual(self.passed, ["silent"])
        self.assertFalse(deadline.active())
        self.assertRaises(AlreadyCalled, deadline.reset, 1)
        self.assertEqual(self.clock.getDelayedCalls(), [], "no sweep once none is due")

    def test_reset_puts_a_deadline_off_and_cancel_forgets_it(self) -> None:
        heard = self.deadlines.callLater(2, self.passed.append, "heard from")
        cancelled = self.deadlines.callLater(2, self.passed.append, "cancelled")
        self.clock.advance(1)
        heard.reset(3)  # data came: three more seconds from now
        cancelled.cancel()
        self.assertRaises(AlreadyCancelled, cancelled.cancel)
        self.assertEqual(self.deadlines.getDelayedCalls(), [heard])
        self.clock.advance(2)
        self.assertEqual(self.passed, [])
        self.clock.advance(1)
        self.assertEqual(self.passed, ["heard from"])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_cancelling_the_last_leaves_no_reactor_call(self) -> None:
        """As when a web listener stops: its site cancels its own timer, and nothing may be left for the reactor."""
        self.deadlines.callLater(5, self.passed.append, "never").cancel()
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_many_deadlines_are_one_reactor_call(self) -> None:
        held = [self.deadlines.callLater(30, self.passed.append, str(number)) for number in range(100)]
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        for deadline in held[::2]:
            deadline.cancel()
        self.clock.advance(30)
        self.assertEqual(self.passed, [str(number) for number in range(1, 100, 2)])

    def test_one_that_raises_leaves_the_others_to_the_next_sweep(self) -> None:
        def fail() -> None:
            raise RuntimeError("a deadline's call failed")

        self.deadlines.callLater(1, fail)
        self.deadlines.callLater(1, self.passed.append, "after")
        self.assertRaises(RuntimeError, self.clock.advance, 1)
        self.clock.advance(1)
        self.assertEqual(self.passed, ["after"])


class SendQueueTests(SynchronousTestCase):
    def test_a_client_that_stops_reading_is_cut_off(self) -> None:
        server = MemoryServer(ConnectionLimits(send_queue=2000, **GENEROUS_FLOOD))
        stalled = server.connect("stalled", "5")
        talker = server.connect("talker", "5")
        listener = server.connect("listener", "5")
        stalled.transport.producer.pauseProducing()  # what the transport does once its buffer passes 64 KiB
        for n in range(20):
            talker.type(f"message {n} " + "x" * 100)
        self.assertTrue(stalled.transport.disconnected, "aborted: a goodbye would never be read")
        self.assertEqual(stalled.read(), [], "nothing more was written to it")
        stalled.lose()
        server.clock.advance(RoomLimits.linger)  # it may come back for a while (tests.test_sessions)
        self.assertEqual(listener.read()[-1], "QUIT stalled :send queue exceeded")
        talker.read()
        self.assertEqual(talker.type("still here"), ["MSG #5 talker :still here"])

    def test_a_slow_reader_gets_everything_once_it_reads(self) -> None:
        server = MemoryServer(ConnectionLimits(send_queue=100_000, **GENEROUS_FLOOD))
        slow = server.connect("slow", "5")
        talker = server.connect("talker", "5")
        slow.transport.producer.pauseProducing()
        talker.type(*(f"message {n}" for n in range(50)))
        self.assertEqual(slow.read(), [])
        slow.transport.producer.resumeProducing()
        self.assertEqual(slow.read(), [f"MSG #5 talker :message {n}" for n in range(50)])


class FillingTransport(StringTransport):
    """A transport that pauses its producer once it holds `room` bytes, as Twisted's do past 64 KiB."""

    def __init__(self, room: int) -> None:
        super().__init__(peerAddress=IPv4Address("TCP", "127.0.0.1", 40999))
        self.room = room

    def write(self, data: bytes) -> None:
        super().write(data)
        if len(self.value()) > self.room and self.producer is not None:
            self.producer.pauseProducing()

    def read(self) -> list[str]:
        """What the client reads: everything held, after which the producer may go on."""
        lines = self.value().decode().splitlines()
        self.clear()
        if self.producer is not None:
            self.producer.resumeProducing()
        return [unstamped(line) for line in lines]


class PagedHistoryTests(SynchronousTestCase):
    """A catch-up is made page by page as its client reads it: one that does not read costs a page, not a history."""

    def setUp(self) -> None:
        self.server = MemoryServer(ConnectionLimits(send_queue=20_000, **GENEROUS_FLOOD))
        self.server.chat.history_limits = HistoryLimits(1000)
        self.alice = self.server.connect("alice", "5")
        for number in range(500):
            self.alice.send(f"{number} {'x' * 100}\n".encode())
        self.life = self.alice.read(stamps=True)[-1].split()[3].rpartition("-")[0]  # MSG #5 alice ID TIME :...
        self.reader = FillingTransport(room=8000)
        protocol = self.server.factory.buildProtocol(self.reader.getPeer())
        assert protocol is not None
        protocol.makeConnection(self.reader)
        self.reader.read()
        protocol.dataReceived(b"/nick reader\n")
        self.reader.read()
        self.protocol = protocol

    def test_a_catch_up_is_made_as_it_is_read_and_what_follows_waits_behind_it(self) -> None:
        counts = self.server.factory.counts
        before = counts.bytes_out
        self.protocol.dataReceived(f"/join #5 after {self.life}-0\n".encode())
        self.assertLess(counts.bytes_out - before, 20_000, "not made before the client reads: 75 KB in all")
        self.alice.type("live")
        lines: list[str] = []
        while read := self.reader.read():
            lines += read
        said = [line.partition(" :")[2].split()[0] for line in lines if line.startswith("SAID #5 alice ")]
        self.assertEqual(said, [str(number) for number in range(500)], "every line kept, in order")
        self.assertEqual(lines[-3:], ["HISTORY #5 500 0", "CURRENT #5", "MSG #5 alice :live"], "in order")

    def test_what_follows_an_unread_catch_up_counts_against_the_send_queue(self) -> None:
        self.reader.producer.pauseProducing()  # the transport is full: the client is not reading
        self.protocol.dataReceived(f"/join #5 after {self.life}-0\n".encode())
        self.assertFalse(self.reader.disconnected, "75 KB of catch-up not made yet hold nothing")
        for number in range(25):  # 25 KB behind it: past the send queue
            self.alice.type(f"live {number} " + "x" * 1000)
        self.assertTrue(self.reader.disconnected, "cut at the send queue's cap")


class AdmissionTests(SynchronousTestCase):
    def test_per_address_cap(self) -> None:
        server = MemoryServer(ConnectionLimits(max_per_address=2))
        first = server.connect(host="192.0.2.7")
        server.connect(host="192.0.2.7")
        refused = MemoryClient(server.factory, host="192.0.2.7")
        self.assertIsInstance(refused.protocol, Refusal)
        self.assertEqual(refused.read(), ["BYE :too many connections from 192.0.2.7"])
        self.assertTrue(refused.transport.disconnecting)
        self.assertIsInstance(server.connect(host="192.0.2.8").protocol, LineFraming)
        for _ in range(5):
            self.assertIsInstance(server.connect().protocol, LineFraming, "loopback is exempt by default")
        first.lose()
        self.assertIsInstance(server.connect(host="192.0.2.7").protocol, LineFraming, "a freed place is reused")

    def test_ipv6_clients_are_counted_per_slash_64(self) -> None:
        server = MemoryServer(ConnectionLimits(max_per_address=2))
        server.connect(host="2001:db8:1:2::1")
        server.connect(host="2001:db8:1:2:ffff::9")
        refused = MemoryClient(server.factory, host="2001:db8:1:2::abcd")
        self.assertEqual(refused.read(), ["BYE :too many connections from 2001:db8:1:2::/64"])
        self.assertIsInstance(server.connect(host="2001:db8:1:3::1").protocol, LineFraming, "another /64")

    def test_total_cap(self) -> None:
        server = MemoryServer(ConnectionLimits(max_clients=3))
        for _ in range(3):
            server.connect()
        refused = MemoryClient(server.factory)
        self.assertEqual(refused.read(), ["BYE :server full: too many connections"])

    def test_addresses_counted_per_ipv6_slash_64(self) -> None:
        admission = Admission(ConnectionLimits(max_per_address=1, limit_loopback=True))
        self.assertIsNone(admission.admit("2001:db8:1:2::1"))
        self.assertEqual(admission.admit("2001:db8:1:2:ffff::9"), "too many connections from 2001:db8:1:2::/64")
        self.assertIsNone(admission.admit("2001:db8:1:3::1"))
        self.assertIsNone(admission.admit("::ffff:192.0.2.1"))
        self.assertEqual(admission.admit("192.0.2.1"), "too many connections from 192.0.2.1")
        self.assertIsNone(admission.admit("127.0.0.1"))
        self.assertIsNotNone(admission.admit("127.0.0.1"), "--limit-loopback counts loopback too")

    def test_counts_hold_when_the_loopback_exemption_changes(self) -> None:
        """A review found a SIGHUP turning --limit-loopback on or off leaving counts wrong for good."""
        admission = Admission(ConnectionLimits(max_per_address=2, limit_loopback=True))
        for _ in range(2):
            self.assertIsNone(admission.admit("127.0.0.1"))
        admission.limits = ConnectionLimits(max_per_address=2, limit_loopback=False)
        for _ in range(2):
            admission.release("127.0.0.1")
        admission.limits = ConnectionLimits(max_per_address=2, limit_loopback=True)
        self.assertIsNone(admission.admit("127.0.0.1"), "nobody is connected: a place is free")
        self.assertEqual(dict(admission.per_address), {"127.0.0.1": 1})


class AdmissionOverTLSTests(ServerTestCase):
    async def test_two_addresses_are_counted_apart_and_one_is_capped(self) -> None:
        """Each client's source address, not only 127.0.0.1's, is what --max-per-address counts."""
        self.start_server("--limit-loopback", "--max-per-address", "2")
        for _ in range(2):
            await (await self.connect_raw(source="127.0.0.2")).until("HELLO ")
        third = await self.connect_raw(source="127.0.0.2")
        await third.until("BYE :too many connections from 127.0.0.2")
        await third.lost
        for _ in range(2):
            await (await self.connect_raw(source="127.0.0.3")).until("HELLO ")


class FakelagTests(SynchronousTestCase):
    """A large answer costs its asker flood tokens in proportion to its size: their next line waits, nobody else's."""

    LIMITS = ConnectionLimits(flood_burst=2, flood_rate=1.0)  # after one line, one token left: the charge shows whole

    def assert_next_line_waits(self, server: MemoryServer, asker: MemoryClient, ask: str, ping: bytes) -> None:
        """`ask` is answered at once; the asker's next line is read one second per ANSWER_BYTES past ANSWER_FREE."""
        server.clock.advance(10)  # registering spent the burst: a full bucket again
        asker.read()
        asker.send(ask.encode() + b"\r\n" + ping)
        answer = b""
        while made := asker.transport.value():  # a long answer is made over several turns of the reactor
            answer += made
            asker.transport.clear()
            server.clock.advance(0)
        self.assertGreater(len(answer), 4 * ANSWER_BYTES)
        self.assertNotIn(b"PONG", answer, "the line after a large answer waits")
        wait = (len(answer) - ANSWER_FREE) / ANSWER_BYTES / self.LIMITS.flood_rate
        server.clock.advance(wait * 0.95)
        self.assertNotIn(b"PONG", asker.transport.value(), f"{wait:.1f} s for {len(answer)} bytes")
        server.clock.advance(wait * 0.1)
        self.assertIn(b"PONG", asker.transport.value())

    def test_a_line_asker_waits_in_proportion_to_the_answer(self) -> None:
        server = MemoryServer(self.LIMITS)
        server.crowd("#big", 1000)
        asker = server.connect("asker")
        other = server.connect("other", "#small")
        self.assert_next_line_waits(server, asker, "/who #big", b"/ping after\n")
        self.assertEqual(
            other.type("/who", "/ping now"), ["NAMES #small @other", "PONG :now"], "a small answer is free"
        )

    def test_an_irc_who_star_costs_its_asker_not_the_others(self) -> None:
        server = IRCServer(self.LIMITS)
        server.crowd("#big", 1000)
        asker = server.irc("asker")
        other = server.connect("other", "#small")
        self.assert_next_line_waits(server, asker, "WHO *", b"PING :after\r\n")
        self.assertEqual(other.type("/ping now"), ["PONG :now"], "others are read at once meanwhile")

    def test_joining_a_room_with_its_last_lines_is_free(self) -> None:
        server = MemoryServer(self.LIMITS)
        server.chat.history_limits = HistoryLimits(1000)
        talker = server.connect("talker", "5")
        for number in range(50):
            talker.send(f"an ordinary line of about the length people type, number {number}\n".encode())
            server.clock.advance(1)
        joiner = server.connect("joiner")
        server.clock.advance(10)  # a full bucket
        joiner.read()
        answer = joiner.type("/join #5", "/ping after")
        self.assertEqual(answer[-1], "PONG :after", "read at once")
        self.assertEqual(len([line for line in answer if line.startswith("SAID ")]), 50)

    def test_a_huge_answer_is_made_a_little_at_a_time_and_others_are_served_meanwhile(self) -> None:
        server = IRCServer(self.LIMITS)
        server.crowd("#big", 1000)
        asker = server.irc("asker")
        other = server.connect("other", "#small")
        server.clock.advance(10)  # registering spent the burst: a full bucket again
        asker.send(b"WHO *\r\n")
        first = asker.read()
        self.assertTrue(first and first[-1].startswith(":chatroom 352 "), "a first part, not the end")
        self.assertEqual(other.type("/ping now"), ["PONG :now"], "another's line is answered before the rest")
        rest: list[str] = []
        while not rest or not rest[-1].startswith(":chatroom 315 "):  # RPL_ENDOFWHO
            server.clock.advance(0)
            rest += asker.read()
        self.assertEqual(len(first) + len(rest), 1000 + 2, "everyone, the asker too, then the end")
        self.assertLess(len(first), len(rest) / 4, "the first part a small one")

    def asking_who(self, server: IRCServer) -> list[MemoryClient]:
        """Four askers of `WHO *` over 1,000 members, each having had its first TURN_BYTES at once."""
        server.crowd("#big", 1000)
        askers = [server.irc(f"asker{number}") for number in range(4)]
        server.clock.advance(10)  # registering spent the burst: full buckets again
        for asker in askers:
            asker.read()
            asker.send(b"WHO *\r\n")
            asker.read()
        return askers

    def test_several_huge_answers_take_turns_within_one_budget(self) -> None:
        server = IRCServer(self.LIMITS)
        askers = self.asking_who(server)
        one_turn_of_the_reactor(server.clock)
        made = [sum(len(line) + 2 for line in asker.read()) for asker in askers]
        self.assertTrue(all(made), f"each made a page in its turn: {made}")
        self.assertLess(sum(made), TURN_BYTES + 4 * 4096, "together, one turn's budget")

    def test_each_turn_of_the_reactor_makes_one_budget_however_many_turns_pass(self) -> None:
        """A turn used to schedule two more, so the turns doubled: ten askers' answers, due together, took 0.4 s of
        one reactor iteration at 5,000 members."""
        server = IRCServer(self.LIMITS)
        askers = self.asking_who(server)
        for _ in range(6):
            one_turn_of_the_reactor(server.clock)
        made = sum(len(line) + 2 for asker in askers for line in asker.read())
        self.assertLess(made, 6 * (TURN_BYTES + 4 * 4096), "six turns, six budgets")


def one_turn_of_the_reactor(clock: Clock) -> None:
    """Run the calls due now, not those they schedule (Clock.advance would run those too)."""
    for call in [call for call in clock.calls if call.getTime() <= clock.seconds()]:
        clock.calls.remove(call)
        call.func(*call.args, **call.kw)


class RoomLimitTests(SynchronousTestCase):
    def test_rooms_per_client_and_room_size(self) -> None:
        server = MemoryServer(rooms=RoomLimits(rooms_per_member=2, members_per_room=2))
        alice = server.connect("alice", "1")
        alice.type("/join 2")
        self.assertEqual(
            alice.type("/join 3"), ["ERR TOO_MANY_ROOMS :you are in 2 rooms, the most allowed: /part one first"]
        )
        server.connect("bob", "1")
        carol = server.connect("carol")
        self.assertEqual(carol.type("/join 1"), ["ERR ROOM_FULL :#1 is full: 2 people are in it"])


class LimitsOverTLSTests(ServerTestCase):
    async def test_non_reading_client_is_disconnected_while_others_chat(self) -> None:
        # --linger 0: the others see the stalled client quit as soon as it is cut off
        self.start_server("--send-queue", "65536", "--flood-burst", "100000", "--flood-rate", "100000", "--linger", "0")
        stalled = await self.connect("stalled", "5")
        alice = await self.connect("alice", "5")
        bob = await self.connect("bob", "5")
        stalled.transport.pauseProducing()  # this client stops reading its socket
        text = "x" * 4000
        quit_line = "QUIT stalled :send queue exceeded"
        for round_ in range(200):  # kernel buffers take a few MB first; bounded so a bug cannot loop forever
            for n in range(10):
                alice.send(f"{round_}.{n} {text}")
            await bob.until(f"MSG #5 alice :{round_}.9 ")
            if quit_line in bob.lines:
                break
        self.assertIn(quit_line, bob.lines)
        bob.send("still chatting")
        await alice.until("MSG #5 bob :still chatting")

    async def test_a_catch_up_is_made_only_as_its_client_reads_it(self) -> None:
        self.start_server("--history", "5000", "--flood-burst", "100000", "--flood-rate", "100000")
        alice = await self.connect("alice", "5")
        text = "x" * 4000
        for number in range(5000):  # 20 MB kept
            alice.send(f"{number} {text}")
        await alice.until("MSG #5 alice :4999 ")
        life = alice.lines[-1].split()[3].rpartition("-")[0]  # MSG #5 alice ID TIME :...
        stalled = await self.connect("stalled")
        bob = await self.connect("bob", "5")
        stalled.transport.pauseProducing()  # this client stops reading its socket
        counts = self.service.factory.counts
        before = counts.bytes_out  # the chatroom_sent_bytes metric
        stalled.send(f"/join #5 after {life}-0")  # everything kept, as after a disconnection
        await bob.until("JOIN #5 stalled")
        made = counts.bytes_out - before
        # Loopback's kernel buffers take about 4 MB (net.ipv4.tcp_wmem's largest): half the catch-up is far above
        self.assertLess(made, 10_000_000, "what the kernel and the transport take, not the whole catch-up")
        stalled.transport.resumeProducing()
        footer, skipped = await stalled.until("HISTORY #5 ")
        self.assertEqual(footer, "HISTORY #5 5000 0", "then all of it, once read")
        self.assertEqual(sum(line.startswith("SAID #5 alice ") for line in skipped), 5000)

    async def test_per_address_cap_refuses_with_a_reason(self) -> None:
        self.start_server("--max-per-address", "2", "--limit-loopback")
        await self.connect("one")
        await self.connect("two")
        refused = await self.connect_raw()
        line, _ = await refused.until("BYE ")
        self.assertEqual(line, "BYE :too many connections from 127.0.0.1")
        await refused.lost

"""A person's devices with --redis are connections of their own, as on one process. A change refused in its turn in
the log is told to the connection that asked for it, never to the person's other connections (found in review: every
device of the person showed the error, and the asker, when it had closed, could be told nothing at all). A change
waiting for its turn holds the next lines of the connection that asked for it only (found in review: it held every
device's). On the log in memory, and under a real Redis (RedisTests)."""

from __future__ import annotations

from typing import Any

from twisted.internet.task import Clock

from chatroom.bus.shared import SharedChat
from chatroom.frontends.irc.frontend import IRCFrontEnd
from chatroom.frontends.line.frontend import LineFrontEnd
from chatroom.server.auth import Login
from chatroom.server.connection import ConnectionFactory
from chatroom.stores.accounts import adding
from tests.helpers import MemoryClient, RecordingSession
from tests.test_account_identity import UNUSED
from tests.test_account_removal import SharedProcesses, plain
from tests.test_irc import commands
from tests.test_lifecycle import GENEROUS
from tests.test_stores import RedisStoresTestCase


class TwoDevices(SharedProcesses):
    """Alice on process a from her laptop and her phone (one person, two sessions); bob, an operator of #5, on b."""

    def setUp(self) -> None:
        super().setUp()
        self.laptop, self.phone = self.alice(), self.alice()
        self.bob = self.irc(self.b, "bob")
        self.bob.type("JOIN #5")
        self.settle()
        for device in (self.laptop, self.phone):
            device.type("JOIN #5")
            self.settle()
        self.read_all()

    def irc(self, process: Any, nick: str, *sasl: str) -> MemoryClient:
        """An IRC client of `process`, registered as `nick` (after SASL, if given its lines)."""
        client = MemoryClient(process.speaking(IRCFrontEnd.serving("chatroom", None)))
        client.type("CAP LS 302", "CAP REQ :sasl", *sasl)
        if sasl:
            self.checker.answer(len(self.checker.checks) - 1, right=True)
        client.type(f"NICK {nick}", f"USER {nick} 0 * :x", "CAP END")
        self.settle()
        return client

    def alice(self, *caps: str) -> MemoryClient:
        """One more of alice's IRC connections on process a, with these capabilities too."""
        asked = [f"CAP REQ :{cap}" for cap in caps]
        return self.irc(self.a, "alice", *asked, "AUTHENTICATE PLAIN", "AUTHENTICATE " + plain("alice", "right"))

    def read_all(self) -> None:
        for client in (self.laptop, self.phone, self.bob):
            client.read()


class RefusedInTurnTests(TwoDevices):
    def test_a_nickname_taken_first_in_the_log_is_refused_to_the_device_that_asked_only(self) -> None:
        self.assertEqual(len(self.a.chat.nicks["alice"].sessions), 2, "one person, two sessions")
        zoe = MemoryClient(self.b.speaking(IRCFrontEnd.serving("chatroom", None)))
        zoe.type("NICK zoe", "USER zoe 0 * :x")  # first in the log
        self.laptop.type("NICK zoe")  # free in a's replica when asked
        self.settle()
        # 433 names the nickname refused, as irssi and WeeChat read it (found in review: it named none)
        self.assertEqual(self.laptop.read(), [":chatroom 433 alice zoe :nickname zoe is taken"])
        self.assertEqual(self.phone.read(), [], "the phone asked for nothing")
        self.assertEqual(self.a.chat.nicks["alice"].nick, "alice")

    def test_a_message_refused_in_its_turn_is_told_to_the_device_that_sent_it_only(self) -> None:
        self.bob.type("KICK #5 alice :enough")
        self.phone.type("PRIVMSG #5 :too late")  # still in #5 in a's replica when sent
        self.settle()
        kicked = ":bob!bob@chatroom KICK #5 alice :enough"
        self.assertEqual(self.laptop.read(), [kicked])
        told = self.phone.read()
        self.assertEqual(told[0], kicked)
        self.assertEqual(told[1:], [":chatroom 442 alice #5 :you are not in #5"])

    def test_a_change_the_log_lost_is_told_degraded_to_the_device_that_asked_only(self) -> None:
        chat = self.a.chat
        assert isinstance(chat, SharedChat)
        replica = chat.replica
        append = self.log.append

        def losing(entry: dict[str, Any]) -> None:
            if (entry.get("k"), entry.get("f")) == ("do", "set_away"):
                self.clock.callLater(0, replica.not_appended, [entry])
            else:
                append(entry)

        self.patch(self.log, "append", losing)
        self.laptop.type("AWAY :lost on the way")
        self.settle()
        told = self.laptop.read()
        self.assertEqual(commands(told), ["NOTICE"])
        self.assertIn("the chat is degraded", told[0])
        self.assertEqual(self.phone.read(), [])

    def test_a_device_that_closed_before_the_refusal_leaves_nobody_to_tell(self) -> None:
        zoe = MemoryClient(self.b.speaking(IRCFrontEnd.serving("chatroom", None)))
        zoe.type("NICK zoe", "USER zoe 0 * :x")
        self.laptop.type("NICK zoe", "QUIT :bye")
        self.settle()
        self.assertEqual(self.phone.read(), [])
        self.assertEqual(len(self.a.chat.nicks["alice"].sessions), 1, "alice stays, on the phone")


class OwnLinesTests(TwoDevices):
    """What one of alice's IRC connections says reaches her others as from her nickname, as anyone's would; the one
    that said it gets it back only if it asked for echo-message (found in review: with --redis, a person with two
    connections on one process got their own line back on the one that said it too)."""

    said = [":alice!alice@chatroom PRIVMSG #5 :from the laptop", ":alice!alice@chatroom PRIVMSG bob :psst"]

    def test_without_echo_message_the_device_that_said_it_is_not_sent_it(self) -> None:
        self.laptop.type("PRIVMSG #5 :from the laptop", "PRIVMSG bob :psst")
        self.settle()
        self.assertEqual(self.laptop.read(), [], "an IRC client without echo-message shows its own lines itself")
        self.assertEqual(self.phone.read(), self.said)
        self.assertEqual(self.bob.read(), self.said)

    def test_with_echo_message_the_device_that_said_it_is_sent_it_once(self) -> None:
        tablet = self.alice("echo-message")
        self.settle()
        tablet.read()
        self.read_all()
        tablet.type("PRIVMSG #5 :from the laptop", "PRIVMSG bob :psst")
        self.settle()
        self.assertEqual(tablet.read(), self.said, "its echo, once")
        self.assertEqual(self.laptop.read(), self.said)
        self.assertEqual(self.phone.read(), self.said)


class WaitingTests(TwoDevices):
    def test_a_change_waiting_for_its_turn_holds_the_next_lines_of_the_device_that_asked_only(self) -> None:
        self.assertEqual(self.laptop.type("JOIN #6", "PING :after"), [], "the PING waits for the JOIN's turn")
        pongs = [":chatroom PONG chatroom :now", ":chatroom PONG chatroom :again"]
        self.assertEqual(self.phone.type("PING :now", "PING :again"), pongs, "the phone asked for nothing")
        self.settle()
        joined = [":alice!alice@chatroom JOIN #6", ":chatroom 353 alice = #6 :@alice"]
        self.assertEqual(self.laptop.read(), [*joined, ":chatroom 366 alice #6 :End of /NAMES list",
                                              ":chatroom PONG chatroom :after"])  # fmt: skip
        self.assertEqual(self.phone.read()[:2], joined)


class RedisTests(RedisStoresTestCase):
    """The same under a real Redis: the log's entries go through it, and come back numbered as they went."""

    async def alice(self) -> tuple[SharedChat, MemoryClient, MemoryClient]:
        """Process a's chat, and alice on it from her laptop and her phone (our line protocol)."""
        await self.accounts.change("alice", adding("alice", UNUSED))
        chat = (await self.process("a")).chat
        factory = ConnectionFactory(chat, Clock(), LineFrontEnd, GENEROUS)  # the connections' timers never fire
        laptop, phone = MemoryClient(factory), MemoryClient(factory)
        for device in (laptop, phone):  # logged in to alice's account: one person, two sessions
            await factory.registrar.enter(device.connection, "alice", proven=Login("alice", None))
            device.read()
        self.assertEqual(chat.nicks["alice"].sessions, [laptop.connection, phone.connection])
        return chat, laptop, phone

    async def test_a_nickname_taken_first_in_the_log_is_refused_to_the_device_that_asked_only(self) -> None:
        chat, laptop, phone = await self.alice()
        alice = chat.nicks["alice"]
        zoe = chat.enter(RecordingSession(), "zoe", None, "192.0.2.9")  # first in the log
        laptop.type("/nick zoe")  # free in the replica when asked
        made = chat.settled(alice, laptop.connection)
        assert made is not None, "the rename waits for its turn"
        await zoe
        await made
        self.assertEqual(laptop.read(), ["ERR NICK_TAKEN :nickname zoe is taken"])
        self.assertEqual(phone.read(), [], "the phone asked for nothing")
        self.assertEqual(alice.nick, "alice")

    async def test_a_change_waiting_for_its_turn_holds_the_next_lines_of_the_device_that_asked_only(self) -> None:
        chat, laptop, phone = await self.alice()
        self.assertEqual(laptop.type("/join 6", "/ping after"), [], "the ping waits for the join's turn")
        pongs = ["PONG :now", "PONG :again"]
        self.assertEqual(phone.type("/ping now", "/ping again"), pongs, "the phone asked for nothing")
        made = chat.settled(chat.nicks["alice"], laptop.connection)
        assert made is not None, "the join has not had its turn yet: Redis answers only once the reactor runs"
        await made
        self.assertEqual(laptop.read()[-2:], ["CURRENT #6", "PONG :after"])

"""The real service over real TLS on loopback, talked to by TLS clients that verify it."""

from __future__ import annotations

from chatroom.server.lines import LineFraming
from tests.helpers import LineClient, ServerTestCase


class ChatOverTLSTests(ServerTestCase):
    def setUp(self) -> None:
        # Flood control would pace the ordering test's bursts; it has tests of its own.
        # --linger 0: a vanished client's QUIT at once; the grace period is tested in memory (tests.test_sessions)
        self.start_server("--motd", "welcome, class", "--flood-burst", "1000", "--linger", "0")

    async def assert_heard_nothing(self, client: LineClient, *forbidden: str) -> None:
        """A round trip proves it: anything sent to `client` earlier would arrive before the PONG."""
        client.send("/ping sync")
        _, before = await client.until("PONG :sync")
        self.assertFalse([line for line in before if line.startswith(forbidden)], before)

    async def test_two_chat_while_another_room_hears_nothing(self) -> None:
        alice = await self.connect("alice", "5")
        bob = await self.connect("bob", "#5")
        carol = await self.connect("carol", "6")
        await alice.until("JOIN #5 bob")
        alice.send("hi bob")
        await bob.until("MSG #5 alice :hi bob")
        await alice.until("MSG #5 alice :hi bob")  # the sender sees its own message, in order
        bob.send("/me waves")
        await alice.until("ACTION #5 bob :waves")
        await self.assert_heard_nothing(carol, "MSG", "ACTION", "JOIN #5")

    async def test_lines_leave_at_once(self) -> None:
        """Nagle's algorithm is off on the server's side of each connection: small lines are not held back."""
        await self.connect("alice")
        [connection] = self.service.factory.connections
        assert isinstance(connection.transport, LineFraming)
        tcp = connection.transport.transport.transport  # the framing's TLS, then the TCP transport under it
        self.assertTrue(tcp.getTcpNoDelay())

    async def test_registration_and_nickname_collision(self) -> None:
        await self.connect("alice")
        other = await self.connect()
        other.send("/nick Alice")
        await other.expect("ERR NICK_TAKEN :nickname Alice is taken")
        other.send("/nick alice2")
        await other.expect(
            "WELCOME alice2 :Hello alice2. Join a room with /join ROOM; /help lists the commands.",
            "MOTD :welcome, class",
        )

    async def test_join_part_quit_and_vanishing_notices(self) -> None:
        alice = await self.connect("alice", "5")
        bob = await self.connect("bob", "5")
        carol = await self.connect("carol", "5")
        dave = await self.connect("dave", "5")
        await alice.until("JOIN #5 dave")
        bob.send("/part 5 homework")
        await alice.until("PART #5 bob :homework")
        carol.send("/quit see you")
        await carol.until("BYE :see you")
        await alice.until("QUIT carol :see you")
        dave.transport.abortConnection()  # no goodbye at all
        await alice.until("QUIT dave :connection lost")
        alice.send("/who")
        await alice.until("NAMES #5 @alice")

    async def test_private_message(self) -> None:
        alice = await self.connect("alice", "5")
        bob = await self.connect("bob", "6")
        carol = await self.connect("carol", "5")
        alice.send("/msg BOB are you there?")
        await bob.until("PRIV alice bob :are you there?")
        await alice.until("PRIV alice bob :are you there?")
        await self.assert_heard_nothing(carol, "PRIV")

    async def test_everyone_sees_the_same_order(self) -> None:
        members = [await self.connect(nick, "5") for nick in ("alice", "bob", "carol")]
        for member in members[:2]:
            await member.until("JOIN #5 carol")
        count = 30
        for number in range(count):  # two senders interleave; the server picks one order for all
            members[0].send(f"alice {number}")
            members[1].send(f"bob {number}")
        orders = []
        for member in members:
            messages: list[str] = []
            while len(messages) < 2 * count:
                line, _ = await member.until("MSG #5 ")
                messages.append(line)
            orders.append(messages)
        self.assertEqual(orders[0], orders[1])
        self.assertEqual(orders[1], orders[2])
        self.assertEqual(
            sorted(orders[0]),
            sorted([f"MSG #5 alice :alice {n}" for n in range(count)] + [f"MSG #5 bob :bob {n}" for n in range(count)]),
        )

    async def test_shutdown_tells_everyone(self) -> None:
        alice = await self.connect("alice", "5")
        silent = await self.connect()
        await self.service.stopService()
        await alice.until("BYE :server shutting down")
        await silent.until("BYE :server shutting down")
        await alice.lost
        await silent.lost

    async def test_bad_input_over_tls(self) -> None:
        alice = await self.connect("alice")
        bob = await self.connect("bob", "5")
        alice.send("hello")
        await alice.expect("ERR NO_ROOM :you are not in a room: /join ROOM first")
        alice.send("/msg nobody hi", "/part 5", "/join bad room name")
        await alice.expect(
            "ERR NO_SUCH_NICK :nobody is called nobody",
            "ERR NOT_IN_ROOM :you are not in #5",
            "ERR USAGE :usage: /join ROOM [KEY]",
        )
        alice.send("/join 5")
        await alice.until("CURRENT #5")
        alice.transport.write(b"\xff\xfe\n" + b"x" * 5000 + b"\n")
        await alice.expect(
            "ERR BAD_UTF8 :the line is not valid UTF-8; it was ignored",
            "ERR TOO_LONG :line longer than 4096 bytes; it was ignored",
        )
        # A character split across two TLS records: the server must wait for the line, not decode chunks.
        alice.transport.write(b"/ping half\ncaf" + "é".encode()[:1])
        await alice.expect("PONG :half")
        alice.transport.write("é".encode()[1:] + b" au lait\n")
        await bob.until("MSG #5 alice :café au lait")

"""The line protocol's adapter, driven through in-memory transports."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from chatroom.core.events import Names, RoomList
from chatroom.core.members import RoomLimits
from chatroom.frontends.line.wire import LIST_LINE_MAX, render
from chatroom.server.limits import ConnectionLimits
from tests.helpers import MemoryClient, MemoryServer


class ProtocolTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = MemoryServer(ConnectionLimits(max_line=100), motd="be kind\nno spam")
        self.factory = self.server.factory
        self.clock = self.server.clock
        self.connect = self.server.connect

    def test_greeting_and_registration(self) -> None:
        connection = MemoryClient(self.factory)
        self.assertEqual(connection.read(), ["HELLO chatroom 4 :Welcome to chatroom. Choose a nickname: /nick NAME"])
        self.assertEqual(
            connection.type("/nick alice"),
            [
                "WELCOME alice :Hello alice. Join a room with /join ROOM; /help lists the commands.",
                "MOTD :be kind",
                "MOTD :no spam",
            ],
        )
        self.assertEqual(
            connection.type("/join 5"), ["JOIN #5 alice", "ROOM #5 * topiclock", "NAMES #5 @alice", "CURRENT #5"]
        )

    def test_commands_before_a_nickname(self) -> None:
        connection = self.connect()
        for typed in ["/join 5", "hello", "/rooms", "/who 5", "/msg bob hi"]:
            self.assertEqual(connection.type(typed), ["ERR NO_NICK :choose a nickname first: /nick NAME"])
        self.assertEqual(connection.type("/ping x"), ["PONG :x"])

    def test_taken_and_invalid_nicknames_may_be_retried(self) -> None:
        self.connect("alice")
        connection = self.connect()
        self.assertEqual(connection.type("/nick ALICE"), ["ERR NICK_TAKEN :nickname ALICE is taken"])
        [invalid] = connection.type("/nick 9lives")
        self.assertTrue(invalid.startswith("ERR BAD_NICK :invalid nickname '9lives'"))
        [accented] = connection.type("/nick zoé")
        self.assertIn("invalid nickname 'zoé': 1-20 ASCII letters (a-z), digits", accented, "é is a letter too")
        self.assertEqual(connection.type("/nick"), ["ERR USAGE :usage: /nick NAME"])
        self.assertTrue(connection.type("/nick bob")[0].startswith("WELCOME bob "))

    def test_chat_in_a_room(self) -> None:
        alice = self.connect("alice", "5")
        bob = self.connect("bob")
        self.assertEqual(
            bob.type("/join #5"), ["JOIN #5 bob", "ROOM #5 * topiclock", "NAMES #5 @alice bob", "CURRENT #5"]
        )
        self.assertEqual(alice.read(), ["JOIN #5 bob"])
        self.assertEqual(bob.type("hi all", "/me waves", "//slash"), alice.read())
        self.assertEqual(bob.transport.value(), b"")
        self.assertEqual(alice.type("/msg bob psst"), ["PRIV alice bob :psst"])
        self.assertEqual(bob.read(), ["PRIV alice bob :psst"])

    def test_broadcast_is_formatted_once(self) -> None:
        """Every member is handed the very same bytes object."""
        written: list[list[bytes]] = []
        connections = [self.connect(nick, "5") for nick in ("a", "b", "c")]
        for connection in connections:
            sink: list[bytes] = []
            self.patch(connection.protocol, "write", sink.append)  # what the line framing is handed
            written.append(sink)
        connections[0].type("hello")
        self.assertEqual(written[0], [b"MSG #5 a 01-1 1970-01-01T00:00:00.000Z :hello\n"])
        self.assertIs(written[0][0], written[1][0])
        self.assertIs(written[1][0], written[2][0])

    def test_several_rooms_and_the_current_one(self) -> None:
        alice = self.connect("alice", "5")
        self.connect("bob", "6")
        self.assertEqual(alice.type("/join 6")[-1], "CURRENT #6")
        self.assertEqual(alice.type("/join 5"), ["CURRENT #5"])
        self.assertEqual(alice.type("hi"), ["MSG #5 alice :hi"])
        self.assertEqual(alice.type("/part 5 bye"), ["PART #5 alice :bye", "CURRENT #6"])
        self.assertEqual(alice.type("/leave"), ["PART #6 alice :", "CURRENT"])
        self.assertEqual(alice.type("hello?"), ["ERR NO_ROOM :you are not in a room: /join ROOM first"])
        self.assertEqual(alice.type("/part 5"), ["ERR NOT_IN_ROOM :you are not in #5"])

    def test_topic_who_rooms_help(self) -> None:
        alice = self.connect("alice", "5")
        self.assertEqual(alice.type("/topic"), ["TOPIC #5 * :"])
        self.assertEqual(alice.type("/topic exam on friday"), ["TOPIC #5 alice :exam on friday"])
        self.assertEqual(alice.type("/who"), ["NAMES #5 @alice"])
        self.assertEqual(alice.type("/rooms"), ["ROOMS #5:1"])
        help_lines = alice.type("/help")
        for command in ["/nick", "/join", "/part or /leave", "/rooms", "/who", "/msg", "/me", "/topic", "/quit"]:
            self.assertTrue(any(line.startswith(f"HELP :{command} ") for line in help_lines), command)

    def test_unknown_command_and_bad_arguments(self) -> None:
        alice = self.connect("alice", "5")
        self.assertEqual(
            alice.type("/dance now"), ["ERR UNKNOWN_COMMAND :unknown command /dance; /help lists the commands"]
        )
        self.assertEqual(alice.type("/msg bob"), ["ERR USAGE :usage: /msg NICK TEXT"])
        self.assertEqual(alice.type("/msg nobody hi"), ["ERR NO_SUCH_NICK :nobody is called nobody"])
        self.assertEqual(alice.type("/me"), ["ERR USAGE :usage: /me ACTION"])
        [bad_room] = alice.type("/join no/such")
        self.assertTrue(bad_room.startswith("ERR BAD_ROOM :invalid room name 'no/such'"))

    def test_invalid_utf8_and_control_characters(self) -> None:
        alice = self.connect("alice", "5")
        bob = self.connect("bob", "5")
        alice.send(b"caf\xe9\n")
        self.assertEqual(alice.read(), ["ERR BAD_UTF8 :the line is not valid UTF-8; it was ignored"])
        alice.send(b"\x1b[2Jwiped\n")
        self.assertEqual(alice.read(), ["ERR BAD_TEXT :control characters are not allowed; the line was ignored"])
        alice.send(b"nul\x00byte\n")
        self.assertEqual(alice.read()[0].split(" :")[0], "ERR BAD_TEXT")
        alice.send("pay \u202eevil.exe\n".encode())  # a right-to-left override disguises what follows
        self.assertEqual(alice.read()[0].split(" :")[0], "ERR BAD_TEXT")
        self.assertEqual(alice.type("שלום, مرحبا"), ["MSG #5 alice :שלום, مرحبا"], "right-to-left text is fine")
        self.assertEqual(bob.read(), ["MSG #5 alice :שלום, مرحبا"], "and only that reached anyone else")
        self.assertEqual(alice.type("", "   "), ["ERR EMPTY :empty line ignored"] * 2)
        self.assertEqual(bob.read(), [], "nothing bad reached anyone else")
        self.assertEqual(alice.type("tab\tis fine"), ["MSG #5 alice :tab\tis fine"])

    def test_a_unicode_line_separator_is_refused_as_a_control_character(self) -> None:
        """A line break to some terminals: what follows it would read as a line of its own, anyone's."""
        alice = self.connect("alice", "5")
        alice.send("one\u2028[#5] <bob> forged\n".encode())
        self.assertEqual(alice.read()[0].split(" :")[0], "ERR BAD_TEXT")

    def test_character_split_across_reads(self) -> None:
        alice = self.connect("alice", "5")
        encoded = "café ☕\n".encode()
        for byte in encoded:
            alice.send(bytes([byte]))
        self.assertEqual(alice.read(), ["MSG #5 alice :café ☕"])

    def test_too_long_line_refused_connection_kept(self) -> None:
        alice = self.connect("alice", "5")
        alice.send(b"x" * 60)
        alice.send(b"y" * 60)  # past the limit of 100 with no end in sight
        self.assertEqual(alice.read(), ["ERR TOO_LONG :line longer than 100 bytes; it was ignored"])
        alice.send(b"z" * 500 + b" still the same long line\nafter\n")
        self.assertEqual(alice.read(), ["MSG #5 alice :after"])
        alice.send(b"a" * 150 + b"\nnext\n" + b"b" * 150 + b"\nlast\n")  # long lines amid good ones, one read
        self.assertEqual(
            alice.read(),
            [
                "ERR TOO_LONG :line longer than 100 bytes; it was ignored",
                "MSG #5 alice :next",
                "ERR TOO_LONG :line longer than 100 bytes; it was ignored",
                "MSG #5 alice :last",
            ],
        )
        self.assertFalse(alice.transport.disconnecting)

    def test_quit_and_connection_lost(self) -> None:
        alice = self.connect("alice", "5")
        bob = self.connect("bob", "5")
        carol = self.connect("carol", "5")
        self.assertEqual(alice.type("/quit off to bed"), ["BYE :off to bed"])
        self.assertTrue(alice.transport.disconnecting)
        alice.lose()
        self.assertEqual(bob.read(), ["QUIT alice :off to bed"])
        carol.lose()
        self.assertEqual(bob.read(), [], "carol may come back for a while (tests.test_sessions)")
        self.clock.advance(RoomLimits.linger)
        self.assertEqual(bob.read(), ["QUIT carol :connection lost"])

    def test_shutdown_says_goodbye_and_waits(self) -> None:
        alice = self.connect("alice", "5")
        bob = self.connect("bob", "5")
        closed = self.factory.close("server shutting down")
        self.assertEqual(alice.read(), ["BYE :server shutting down"])
        self.assertEqual(bob.read(), ["BYE :server shutting down"])
        alice.lose()
        self.assertNoResult(closed)
        self.assertEqual(bob.read(), [], "nobody hears the others leave at shutdown")
        bob.lose()
        self.successResultOf(closed)

    def test_shutdown_cuts_off_a_peer_that_never_closes(self) -> None:
        alice = self.connect("alice", "5")
        aborted: list[bool] = []
        self.patch(alice.transport, "abortConnection", lambda: aborted.append(True))
        closed = self.factory.close("server shutting down")
        self.clock.advance(4.9)
        self.assertEqual(aborted, [])
        self.clock.advance(0.1)
        self.assertEqual(aborted, [True])
        alice.lose()
        self.successResultOf(closed)


class LongListTests(SynchronousTestCase):
    """Issue 10: 460 rooms, or a room of 800 long nicknames, made one line longer than clients read."""

    def test_long_lists_come_in_lines_no_longer_than_the_documented_maximum(self) -> None:
        names = render(Names("#5", tuple(f"n{number:019d}" for number in range(800))))
        rooms = render(RoomList(tuple((f"#r{number:031d}", 3) for number in range(460))))
        for rendered, word, count in ((names, "NAMES", 800), (rooms, "ROOMS", 460)):
            lines = rendered.decode().splitlines()
            self.assertGreater(len(lines), 1)
            self.assertLessEqual(max(len(each.encode()) + 1 for each in lines), LIST_LINE_MAX)
            self.assertTrue(all(each.startswith(word + " ") for each in lines))
            self.assertEqual(sum(len(each.split()) - (2 if word == "NAMES" else 1) for each in lines), count)
        self.assertEqual(render(RoomList(())), b"ROOMS\n")

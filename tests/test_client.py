"""The real client, as a subprocess on pipes or a pseudo-terminal, against a real server over TLS."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import wcwidth
from twisted.internet import reactor
from twisted.internet.defer import Deferred, succeed
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint, connectProtocol
from twisted.internet.interfaces import IAddress, IPushProducer
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.logger import ILogObserver, LogEvent, globalLogPublisher
from twisted.python.failure import Failure
from zope.interface import provider

from chatroom.client.company import CLIENT_COMMANDS
from chatroom.frontends.line.commands import COMMANDS
from chatroom.server import tls
from chatroom.stores.accounts import AccountStore
from tests.helpers import ServerTestCase, Subprocess, port_of

CLIENT = [sys.executable, "-m", "chatroom.client"]


class ClientTests(ServerTestCase):
    def setUp(self) -> None:
        self.start_server()
        self.config = Path(self.mktemp()).resolve()  # an empty XDG config (absolute, or XDG ignores it)

    def client(self, *arguments: str, terminal: bool = False, ca: bool = True) -> Subprocess:
        trust = ["--ca", str(self.certs / "ca.pem")] if ca else []
        return self.spawn(
            [*CLIENT, "127.0.0.1", "--port", str(self.port), *trust, *arguments],
            terminal=terminal,
            XDG_CONFIG_HOME=str(self.config),
            NO_COLOR="1",
        )

    def known_hosts(self) -> Path:
        return self.config / "chatroom" / "known_hosts"

    async def test_two_clients_chat(self) -> None:
        alice = self.client("--nick", "alice", "--room", "5")
        await alice.until(r"\[#5\] -- here: @alice")
        bob = self.client("--nick", "bob", "--room", "#5")
        await alice.until(r"\[#5\] --> bob joined")
        alice.type("hello bob\n")
        await bob.until(r"\d\d:\d\d \[#5\] <alice> hello bob")
        bob.type("/me waves\n")
        await alice.until(r"\[#5\] \* bob waves")
        alice.transport.closeStdin()  # Ctrl+D on a pipe
        await bob.until(r"<-- alice quit \(leaving\)")
        self.assertEqual(await alice.exit_code(), 0)
        self.assertNotIn("Traceback", alice.output)
        self.assertNotIn("\x1b", alice.output, "a script's output holds no terminal's escape codes")

    async def test_asks_again_after_a_refused_nickname_and_room(self) -> None:
        await self.connect("taken")
        person = self.client()
        await person.until("Nickname:")
        person.type("taken\n")
        await person.until("nickname taken is taken")
        await person.until("Nickname:")
        person.type("fresh\n")
        await person.until("Room:")
        person.type("no/good\n")
        await person.until("invalid room name")
        await person.until("Room:")
        person.type("lobby\nfirst words\n")
        await person.until(r"\[#lobby\] <fresh> first words")
        person.type("/quit see you\n")
        self.assertEqual(await person.exit_code(), 0)

    async def test_trust_on_first_use_then_remembered(self) -> None:
        first = self.client(terminal=True, ca=False)
        fingerprint = tls.load_or_create(self.certs, "unused").fingerprint
        await first.until(f"Its SHA-256 fingerprint is {fingerprint}")
        await first.until(rf"Trust it, and remember it for 127\.0\.0\.1:{self.port}\? \[y/N\]")
        first.type("y\r")
        await first.until("Nickname:")
        first.type("dora\r")
        await first.until("Room:")
        first.type("5\r")
        await first.until(r"\[#5\] -- here: @dora")
        first.type("\x04")  # Ctrl+D
        self.assertEqual(await first.exit_code(), 0)
        left = first.output.rsplit("\r\x1b[K", 1)[-1]  # what the terminal shows after the line last cleared
        self.assertEqual(left, "", "no prompt left for the shell to write after, as `[#5] EXIT=0`")
        ca = tls.fingerprint(tls.read_chain(self.certs / tls.CA_CERT)[0])
        self.assertEqual(f"127.0.0.1:{self.port} {ca}\n", self.known_hosts().read_text(), "the CA that issued it")

        again = self.client("--nick", "dora", "--room", "5", terminal=True, ca=False)
        await again.until(r"\[#5\] -- here: @dora")
        self.assertNotIn("Trust it", again.output)
        again.type("\x03")  # Ctrl+C
        self.assertEqual(await again.exit_code(), 0)

    def renew(self, authority: Path | None = None) -> None:
        """`chatroom-certs renew` and SIGHUP; given another CA's directory, its certificate (sent
        with its CA) instead, as someone intercepting the connection would present."""
        if authority is None:
            tls.issue(self.certs)
        else:
            pair = {name: (authority / name).read_bytes() for name in (tls.SERVER_CERT, tls.SERVER_KEY, tls.CA_CERT)}
            (self.certs / tls.SERVER_KEY).write_bytes(pair[tls.SERVER_KEY])
            (self.certs / tls.SERVER_CERT).write_bytes(pair[tls.SERVER_CERT] + pair[tls.CA_CERT])
        assert self.service.reloader is not None
        self.service.reloader.reload()

    async def chats_without_a_question(self, nick: str) -> None:
        person = self.client("--nick", nick, "--room", "5", terminal=True, ca=False)
        await person.until(rf"\[#5\] -- here: @{nick}")
        person.type("\x03")
        self.assertEqual(await person.exit_code(), 0)
        self.assertNotIn("Trust it", person.output)
        self.assertNotIn("WARNING", person.output)

    async def test_a_renewed_certificate_is_trusted_by_a_client_that_pinned_the_old_one(self) -> None:
        """Issue 25: renewing refused every client that had trusted the server on first use."""
        leaf = tls.load_or_create(self.certs, "unused").fingerprint
        self.known_hosts().parent.mkdir(parents=True)
        self.known_hosts().write_text(f"127.0.0.1:{self.port} {leaf}\n")  # as clients before issue 25 pinned
        await self.chats_without_a_question("dora")
        ca = tls.fingerprint(tls.read_chain(self.certs / tls.CA_CERT)[0])
        self.assertEqual(self.known_hosts().read_text(), f"127.0.0.1:{self.port} {ca}\n", "now the CA's")
        self.renew()
        self.assertNotEqual(tls.load(self.certs).fingerprint, leaf)
        await self.chats_without_a_question("dora")

    async def test_a_certificate_from_another_ca_is_still_refused(self) -> None:
        first = self.client(terminal=True, ca=False)
        await first.until(r"\[y/N\]")
        first.type("y\r")
        await first.until("Nickname:")
        first.type("\x04")
        self.assertEqual(await first.exit_code(), 0)
        other = Path(self.mktemp())
        tls.create(other, "elsewhere")
        self.renew(other)
        person = self.client("--nick", "eve", terminal=True, ca=False)
        await person.until("WARNING: 127.0.0.1:.* presented a different certificate")
        self.assertEqual(await person.exit_code(), 1)
        self.assertNotIn("Nickname:", person.output)

    async def test_refusing_an_unknown_certificate(self) -> None:
        person = self.client(terminal=True, ca=False)
        await person.until(r"\[y/N\]")
        person.type("n\r")
        await person.until("you did not trust 127.0.0.1:")
        self.assertEqual(await person.exit_code(), 1)
        self.assertFalse(self.known_hosts().exists())

    async def test_changed_certificate_is_refused_loudly(self) -> None:
        self.known_hosts().parent.mkdir(parents=True)
        self.known_hosts().write_text(f"127.0.0.1:{self.port} {'AB:' * 31}AB\n")
        person = self.client("--nick", "eve", terminal=True, ca=False)
        await person.until("WARNING: 127.0.0.1:.* presented a different certificate")
        self.assertEqual(await person.exit_code(), 1)
        self.assertNotIn("Nickname:", person.output)

    async def test_no_question_without_a_terminal(self) -> None:
        person = self.client("--nick", "mallory", ca=False)
        await person.until("no terminal to ask you: refusing")
        self.assertEqual(await person.exit_code(), 1)
        self.assertFalse(self.known_hosts().exists())

    async def test_a_ca_that_did_not_sign_the_server_is_refused(self) -> None:
        other = Path(self.mktemp())
        tls.create(other, "elsewhere")
        person = self.spawn([*CLIENT, "127.0.0.1", "--port", str(self.port), "--ca", str(other / "ca.pem")])
        await person.until(r"chatroom: TLS with 127\.0\.0\.1:\d+ failed: certificate verify failed")
        self.assertEqual(await person.exit_code(), 1)

    async def test_server_unreachable(self) -> None:
        port = self.port
        await self.service.stopService()
        person = self.spawn([*CLIENT, "127.0.0.1", "--port", str(port), "--ca", str(self.certs / "ca.pem")])
        await person.until(rf"chatroom: cannot connect to 127\.0\.0\.1:{port}: .*refused")
        self.assertEqual(await person.exit_code(), 1)

    async def test_server_shutdown_ends_the_client_with_an_error(self) -> None:
        person = self.client("--nick", "late", "--room", "5", "--no-reconnect")
        await person.until(r"\[#5\] -- here: @late")
        await self.service.stopService()
        self.assertEqual(await person.exit_code(), 1)
        self.assertIn("chatroom: the server closed the connection: server shutting down", person.output)  # stderr
        self.assertEqual(person.output.count("server shutting down"), 1, "one line says it")

    async def test_a_disconnect_is_one_line_after_everything_before_it(self) -> None:
        person = self.client("--nick", "late", "--room", "5", "--no-reconnect", terminal=True)
        await person.until(r"\[#5\] -- here: @late")
        talker = await self.connect("talker", "5")
        talker.send("last words")
        await person.until("last words")
        await self.service.stopService()
        self.assertEqual(await person.exit_code(), 1)
        ending = person.output[person.output.index("last words") :]
        self.assertRegex(ending, r"last words.*\n.*!! chatroom: the server closed the connection: server shutting down")
        self.assertEqual(person.output.count("server shutting down"), 1, "one line says it")

    async def test_incoming_lines_do_not_garble_typing(self) -> None:
        typist = self.client("--nick", "typist", "--room", "5", terminal=True)
        await typist.until(r"\[#5\] -- here: @typist")
        talker = await self.connect("talker", "5")
        typist.type("half a sen")
        await typist.until("half a sen")
        talker.send("interruption")
        # The incoming line is printed on a cleared line, then the prompt and the half-typed text come back.
        await typist.until(r"\r\x1b\[K\d\d:\d\d \[#5\] <talker> interruption\r?\n\r\x1b\[K\[#5\] half a sen")
        typist.type("tence\r")
        await talker.until("MSG #5 typist :half a sentence")
        typist.type("\x04")
        self.assertEqual(await typist.exit_code(), 0)

    async def test_a_pasted_line_keeps_its_invisible_characters(self) -> None:
        """Review: the editor dropped every character Python does not call printable, so a Persian word lost its
        zero-width non-joiner, a family emoji its joiners and a line its right-to-left mark."""
        text = "می\u200cخواهم 👩\u200d👩\u200d👧 \u200fRLM"  # noqa: RUF001  # Persian letters are meant
        listener = await self.connect("listener", "5")
        person = self.client("--nick", "parisa", "--room", "5", terminal=True)
        await person.until(r"\[#5\] $")
        person.type(f"\x1b[200~{text}\x1b[201~\r")  # as the terminal sends a paste (bracketed paste), then Enter
        said, _ = await listener.until("MSG #5 parisa :")
        self.assertEqual(said, f"MSG #5 parisa :{text}")
        person.type("\x04")
        self.assertEqual(await person.exit_code(), 0)

    async def test_emoji_are_edited_whole_on_the_terminal(self) -> None:
        """Review: Backspace over a flag left half of it, and Delete took an emoji's skin tone only."""
        listener = await self.connect("listener", "5")
        person = self.client("--nick", "zoe", "--room", "5", terminal=True)
        await person.until(r"\[#5\] $")
        person.type("a👍🏽🇫🇷b\x1b[D\x7f")  # Left, Backspace: the flag goes
        await person.until("\\[#5\\] a👍🏽b\x1b\\[1D")
        person.type("\x1b[D\x1b[3~")  # Left, Delete: the thumb goes with its skin tone
        await person.until("\\[#5\\] ab\x1b\\[1D")
        person.type("\r")
        said, _ = await listener.until("MSG #5 zoe :")
        self.assertEqual(said, "MSG #5 zoe :ab")
        person.type("\x04")
        self.assertEqual(await person.exit_code(), 0)

    async def test_kicks_and_bans_are_readable(self) -> None:
        teacher = await self.connect("teacher", "5")
        student = self.client("--nick", "student", "--room", "5", terminal=True)
        await student.until(r"\[#5\] -- here: @teacher, student")
        teacher.send("/kick student chatting")
        await student.until(r"\[#5\] <-- student was kicked by teacher \(chatting\)")
        await teacher.until("KICK #5 teacher student")
        student.type("/join 5\n")
        await teacher.until("JOIN #5 student")
        teacher.send("/ban student 10m spam")
        await student.until(r"\[#5\] -- teacher banned student!\*@\* until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(spam\)")
        await student.until(r"\[#5\] <-- student was kicked by teacher \(banned: spam\)")
        student.type("/join 5\n")
        await student.until(r"!! you are banned from #5: spam \(until .*\) \(BANNED\)")
        self.assertNotIn("Traceback", student.output)


class ClientNeverStuckTests(ServerTestCase):
    """Issue 10: the states the client got stuck in, with the real client on a terminal or a pipe."""

    def setUp(self) -> None:
        self.accounts = self.mktemp()
        AccountStore(Path(self.accounts)).add("alice", "correct horse")
        self.start_server("--accounts", self.accounts, "--max-line", "70000")
        self.config = Path(self.mktemp()).resolve()

    def client(self, *arguments: str, terminal: bool = True) -> Subprocess:
        return self.spawn(
            [*CLIENT, "127.0.0.1", "--port", str(self.port), "--ca", str(self.certs / "ca.pem"), *arguments],
            terminal=terminal,
            XDG_CONFIG_HOME=str(self.config),
            NO_COLOR="1",
        )

    async def test_a_registered_nickname_mid_chat_right_and_wrong_password(self) -> None:
        friend = await self.connect("friend", "5")
        person = self.client("--nick", "bob", "--room", "5")
        await person.until(r"\[#5\] -- here: .*bob")
        person.type("/nick alice\r")
        await person.until("Password:")
        person.type("correct horse\r")
        await friend.until("NICK bob alice")
        person.type("hello as alice\r")
        await friend.until("MSG #5 alice :hello as alice")
        person.type("/nick bob\r")
        await friend.until("NICK alice bob")
        person.type("/nick alice\r")  # her own nickname, logged in to it already: no password asked again
        await friend.until("NICK bob alice")
        person.type("/quit\r")
        self.assertEqual(await person.exit_code(), 0)

        other = self.client("--nick", "carl", "--room", "5")
        await other.until(r"\[#5\] -- here: .*carl")
        other.type("/nick alice\r")
        await other.until("Password:")
        other.type("wrong\r")
        await other.until("wrong nickname or password")
        other.type("still carl\r")
        await friend.until("MSG #5 carl :still carl")  # not "/nick still carl"
        self.assertNotIn("AUTH alice", person.output + other.output)
        other.type("/quit\r")
        self.assertEqual(await other.exit_code(), 0)

    async def test_a_password_typed_ahead_of_a_nickname_refused_as_taken_never_reaches_the_room(self) -> None:
        """Found by hand: `/nick alice` while alice was here was refused at once, and the password typed next, for
        the question expected, was said in the room. Typed in one go, as a password manager or a quick typist does."""
        alice = await self.connect()
        alice.send("/nick alice", "/pass correct horse", "/join 5")
        person = self.client("--nick", "bob", "--room", "5")
        await person.until(r"\[#5\] -- here: @alice, bob")
        person.type("/nick alice\rcorrect horse\r")
        await person.until("nickname alice is taken")
        what = await person.until(r"not sent: typed before the server answered /nick alice|<bob> correct horse")
        self.assertEqual(what[0], "not sent: typed before the server answered /nick alice")
        person.type("still bob\r")
        said, _ = await alice.until("MSG #5 bob")
        self.assertEqual(said, "MSG #5 bob :still bob", "the first line bob said")
        person.type("/quit\r")
        self.assertEqual(await person.exit_code(), 0)

    async def test_a_password_begun_at_once_in_a_moderated_room_is_neither_refused_nor_a_nickname(self) -> None:
        """Found by hand: in a moderated room, the typing notice of the password begun at once was refused while
        Password: was asked, and the client asked Nickname:, where the password showed in clear and, sent as a
        nickname, was told to the room as bob's new name. What is typed after /nick is hidden now, and a hidden line
        sends no typing notice (that refusal, coming while Password: is asked: tests/test_client_units.py)."""
        AccountStore(Path(self.accounts)).add("dana", "horsebattery7")  # a password that would be a nickname too
        moderator = await self.connect("moderator", "5")
        moderator.send("/room set moderated on")
        await moderator.until("SET #5 moderator moderated")
        person = self.client("--nick", "bob", "--room", "5")
        await person.until(r"\[#5\] -- here: @moderator, bob")
        person.type("/nick dana\rh")
        await person.until(r"Password: \*")
        person.type("orsebattery7\r")
        renamed, _ = await moderator.until("NICK bob ")
        self.assertEqual(renamed, "NICK bob dana", "logged in: the password is no one's nickname")
        person.type("/quit\r")
        self.assertEqual(await person.exit_code(), 0)
        self.assertNotIn("Nickname:", person.output)
        self.assertNotIn("MODERATED", person.output, "the room was never told bob was typing the password")
        self.assertNotIn("horsebattery7", person.output, "the password typed was never shown")

    async def test_what_is_typed_after_a_nick_mid_chat_is_hidden_until_its_answer_is_known(self) -> None:
        """Found by hand: the password, typed right after `/nick alice` before Password: appeared (as people do), was
        shown in clear at the chat prompt, then became the start of the password. Typed here in one go with the /nick,
        so that it reaches the client before the server's answer."""
        friend = await self.connect("friend", "5")
        person = self.client("--nick", "bob", "--room", "5")
        await person.until(r"\[#5\] -- here: .*bob")
        person.type("/nick carol\rhel")  # a free nickname: no password asked, and the line being typed shows again
        await person.until(r"\[#5\] hel")
        person.type("lo\r")
        await friend.until("MSG #5 carol :hello")
        person.type("/nick alice\rcorrect")
        await person.until(r"Password: \*{7}")
        person.type("\x15\r")  # thought better of it: an empty line gives the login up
        await person.until("not logged in to alice: you are still carol")
        person.type("/nick alice\rcorrect")
        await person.until(r"Password: \*{7}")
        person.type(" horse\r")
        await friend.until("NICK carol alice")
        person.type("hello as alice\r")
        said, _ = await friend.until("MSG #5 alice")
        self.assertEqual(said, "MSG #5 alice :hello as alice")
        person.type("/quit\r")
        self.assertEqual(await person.exit_code(), 0)
        for part in ("correct", "horse"):
            self.assertNotIn(part, person.output, f"{part!r} shown: nothing of the password ever is")
            self.assertNotIn(part, "\n".join(friend.lines), "nor said, nor a nickname")

    async def test_a_password_typed_ahead_at_the_first_login_is_hidden_until_its_question(self) -> None:
        """Found by hand: `alice`, Enter at Nickname: and at once the password (as people do): it was shown in clear
        until Password: appeared. The same after `/nick alice` at Room:. Typed here in one go with the nickname, so
        that it reaches the client before the server's answer."""
        friend = await self.connect("friend", "5")
        person = self.client()
        await person.until("Nickname:")
        person.type("alice\rcorrect")
        await person.until(r"Password: \*{7}")
        person.type(" horse\r")
        await person.until("Room:")
        person.type("5\r")
        await friend.until("JOIN #5 alice")
        person.type("/quit\r")
        self.assertEqual(await person.exit_code(), 0)

        other = self.client("--nick", "bob")
        await other.until("Room:")
        other.type("/nick alice\rcorrect")
        await other.until(r"Password: \*{7}")
        other.type(" horse\r")
        await other.until("Room:")  # asked again, logged in
        other.type("5\r")
        joined, _ = await friend.until("JOIN #5 ")
        self.assertEqual(joined, "JOIN #5 alice", "logged in at Room:")
        other.type("/quit\r")
        self.assertEqual(await other.exit_code(), 0)
        for part in ("correct", "horse"):
            for output in (other.output, person.output):
                self.assertNotIn(part, output, f"{part!r} shown: nothing of the password ever is")

    async def test_a_line_of_64_kib_reaches_the_client(self) -> None:
        person = self.client("--nick", "reader", "--room", "5")
        await person.until(r"\[#5\] -- here: .*reader")
        writer = await self.connect("writer", "5")
        writer.send("x" * 65536)
        await person.until(r"<writer> x{65536}")
        person.type("\x04")
        self.assertEqual(await person.exit_code(), 0)

    async def test_a_piped_script_whose_login_fails_exits_non_zero(self) -> None:
        person = self.client("--room", "5", terminal=False)
        person.type("alice\nwrong password\n")
        person.transport.closeStdin()
        self.assertEqual(await person.exit_code(), 1)
        self.assertIn("chatroom: the server refused: wrong nickname or password", person.output)

    async def test_a_handshake_that_never_completes_times_out(self) -> None:
        silent = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(Factory.forProtocol(Protocol))
        self.addCleanup(silent.stopListening)
        person = self.spawn(
            [*CLIENT, "127.0.0.1", "--port", str(port_of(silent)), "--ca", str(self.certs / "ca.pem"), "--timeout", "1"]
        )
        self.assertEqual(await person.exit_code(), 1)
        self.assertIn("accepted the connection but did not complete TLS within 1 s", person.output)

    async def test_a_dropped_connection_comes_back_logged_in_in_its_rooms(self) -> None:
        person = self.client("--room", "5")
        await person.until("Nickname:")
        person.type("alice\r")
        await person.until("Password:")
        person.type("correct horse\r")
        await person.until(r"\[#5\] -- here: @alice")
        person.type("/join 6\r")
        await person.until(r"\[#6\] -- here: @alice")
        port = self.port
        await self.service.stopService()
        await person.until(r"server shutting down: reconnecting in\s+1 s")  # wrapped at 80 columns
        person.type("typed while away\r")
        self.start_server("--accounts", self.accounts, listen=f"tcp:{port}:interface=127.0.0.1")
        await person.until(r"reconnected to 127\.0\.0\.1:\d+ as alice: back in #5, #6")
        watcher = await self.connect("watcher", "6")
        person.type("hello again\r")
        await watcher.until("MSG #6 alice :hello again")  # still the current room, still alice
        self.assertNotIn("Password:", person.output.split("reconnected")[-1], "the password was kept, in memory")
        person.type("/quit\r")
        self.assertEqual(await person.exit_code(), 0)

    async def test_a_renamed_account_holder_comes_back_logged_in_after_a_restart(self) -> None:
        # Found by hand: the client came back under its new nickname, as a guest (or NICK_TAKEN, then Nickname:).
        person = self.client("--room", "5", "--nick", "alice")
        await person.until("Password:")
        person.type("correct horse\r")
        await person.until(r"\[#5\] -- here: @alice")
        person.type("/nick ally\r")
        await person.until("alice is now known as ally")
        port = self.port
        await self.service.stopService()
        await person.until(r"server shutting down: reconnecting in\s+1 s")
        self.start_server("--accounts", self.accounts, listen=f"tcp:{port}:interface=127.0.0.1")
        await person.until("alice is now known as ally")  # logged in again as alice, then its nickname taken back
        await person.until(r"\[#5\] ")
        self.assertEqual(self.service.factory.chat.nicks["ally"].account, "alice", "not a guest")
        person.type("/quit\r")
        self.assertEqual(await person.exit_code(), 0)

    async def test_without_reconnecting_a_drop_ends_the_client(self) -> None:
        person = self.client("--nick", "bob", "--room", "5", "--no-reconnect")
        await person.until(r"\[#5\] -- here: @bob")
        await self.service.stopService()
        self.assertEqual(await person.exit_code(), 1)
        self.assertNotIn("reconnecting", person.output)

    async def test_a_trust_question_answered_after_the_server_gave_up_waiting(self) -> None:
        await self.service.stopService()
        self.start_server("--registration-timeout", "0.5")
        gave_up = self.server_gives_up()
        person = self.spawn(
            [*CLIENT, "127.0.0.1", "--port", str(self.port), "--nick", "slow", "--room", "5"],
            terminal=True,
            XDG_CONFIG_HOME=str(self.config),
            NO_COLOR="1",
        )
        await person.until(r"\[y/N\]")
        await gave_up  # the person took longer than the server waits for a nickname
        person.type("y\r")
        await person.until(r"\[#5\] -- here: @slow")
        person.type("/quit\r")
        self.assertEqual(await person.exit_code(), 0)

    async def test_a_settings_file_gives_the_defaults_and_the_command_line_wins(self) -> None:
        (self.config / "chatroom").mkdir(parents=True, exist_ok=True)
        (self.config / "chatroom" / "client.toml").write_text(
            f'server = "127.0.0.1"\nport = {self.port}\nca = "{self.certs / "ca.pem"}"\nnick = "fromfile"\n'
            'rooms = ["5", "6"]\n'
        )
        person = self.spawn(
            [*CLIENT, "--nick", "fromcommandline"], terminal=True, XDG_CONFIG_HOME=str(self.config), NO_COLOR="1"
        )
        await person.until(r"\[#6\] -- here: @fromcommandline")
        watcher = await self.connect("watcher", "6")
        person.type("in six\r")
        await watcher.until("MSG #6 fromcommandline :in six")
        self.assertIn("[#5] -- here: @fromcommandline", person.output, "both rooms, the last one current")
        person.type("/quit\r")
        self.assertEqual(await person.exit_code(), 0)

    async def test_a_mention_rings_the_terminal_bell(self) -> None:
        person = self.client("--nick", "dana", "--room", "5")
        await person.until(r"\[#5\] -- here: @dana")
        talker = await self.connect("talker", "5")
        talker.send("dana, are you there?")
        await person.until("<talker> dana, are you there\\?\x07")
        person.type("/quit\r")
        self.assertEqual(await person.exit_code(), 0)

    async def test_tab_completion_and_switching_rooms_with_keys(self) -> None:
        bobby = await self.connect("bobby", "5")
        person = self.client("--nick", "erin", "--room", "5", "--room", "6")
        await person.until(r"\[#6\] -- here: @erin")
        await person.until(r"\[#6\] $")  # the prompt, now that #6 is current
        person.type("\x10")  # Ctrl+P: the previous room, #5
        await person.until(r"\[#5\] ")
        person.type("bo\thello\r")
        await bobby.until("MSG #5 erin :bobby: hello")
        bobby.send("/join 6", "news in six")
        await person.until(r"\(#6 1\)")  # the prompt counts what is unread elsewhere
        person.type("\x1b2")  # Alt+2: the second room
        await person.until(r"\[#6\] ")
        person.type("/quit\r")
        self.assertEqual(await person.exit_code(), 0)

    async def test_a_nickname_typed_after_the_server_gave_up_waiting(self) -> None:
        await self.service.stopService()
        self.start_server("--registration-timeout", "0.5")
        gave_up = self.server_gives_up()
        person = self.client("--room", "5")
        await person.until("Nickname:")
        await gave_up
        person.type("thinker\r")
        await person.until(r"\[#5\] -- here: @thinker")
        person.type("/quit\r")
        self.assertEqual(await person.exit_code(), 0)

    def server_gives_up(self) -> Deferred[None]:
        """Fires when the server closes a connection for taking too long to register."""
        gave_up: Deferred[None] = Deferred()

        @provider(ILogObserver)
        def watch(event: LogEvent) -> None:
            if event.get("why") == "registration timeout" and not gave_up.called:
                gave_up.callback(None)

        globalLogPublisher.addObserver(watch)
        self.addCleanup(globalLogPublisher.removeObserver, watch)
        return gave_up

    async def test_wide_characters_on_the_terminal(self) -> None:
        person = self.client("--nick", "mei", "--room", "5")
        await person.until(r"\[#5\] -- here: @mei")
        await person.until(r"\[#5\] $")
        person.type("你好世界\x1b[D\x1b[D")
        await person.until("\\[#5\\] 你好世界\x1b\\[4D")  # two characters back are four columns
        person.type("\x05\x15/quit\r")  # Ctrl+E, Ctrl+U: an empty line again
        self.assertEqual(await person.exit_code(), 0)

    async def test_help_lists_every_command_wrapped_at_word_boundaries(self) -> None:
        """Issue 25: /help left out the client's own commands, and the terminal broke its lines mid-word."""
        person = self.spawn(
            [*CLIENT, "127.0.0.1", "--port", str(self.port), "--ca", str(self.certs / "ca.pem"), "--nick", "new"],
            terminal=True,
            XDG_CONFIG_HOME=str(self.config),
            NO_COLOR="1",
            COLUMNS="60",
        )
        await person.until("Room:")
        person.type("5\r")
        await person.until(r"\[#5\] -- here: @new")
        person.type("/help\r")
        await person.until(r"/reply or /r TEXT - answer the last\s+private message\r?\n")
        shown = [
            line.rstrip("\r").split("\r\x1b[K")[-1]  # each line as it stays on the screen, without redrawn prompts
            for line in person.output[person.output.index("/help") :].split("\n")[1:-1]
        ]
        self.assertLessEqual(max(wcwidth.wcswidth(line) for line in shown), 60, shown)
        entries = re.sub(r"\n {6}", " ", "\n".join(shown) + "\n")  # the wrapped lines joined again, where they broke
        for entry in dict.fromkeys(COMMANDS.values()):
            names = " or ".join(f"/{name}" for name in (entry.name, *entry.aliases))
            self.assertIn(f"-- {names} {entry.usage}".rstrip() + f" - {entry.summary}\n", entries)
        for usage in CLIENT_COMMANDS.values():
            self.assertIn(f"-- {usage}\n", entries)
        person.type("/quit\r")
        self.assertEqual(await person.exit_code(), 0)

    async def test_sigterm_leaves_politely(self) -> None:
        watcher = await self.connect("watcher", "5")
        person = self.client("--nick", "termed", "--room", "5")
        await watcher.until("JOIN #5 termed")
        person.transport.signalProcess("TERM")
        await watcher.until("QUIT termed :leaving")
        self.assertEqual(await person.exit_code(), 0)
        self.assertNotIn("lost the connection", person.output)


class Relay(Protocol):
    """One end of a connection through a `Cable`: what it reads, the other end writes."""

    def __init__(self, cable: Cable, peer: Relay | None = None) -> None:
        self.cable = cable
        self.peer = peer  # for the client's end, the server's once it is connected
        self.closed: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        self.cable.ends.append(self)
        if self.peer is not None:  # the server's end: the client's may read now
            self.peer.peer = self
            self._producer(self.peer).resumeProducing()
            return
        self._producer(self).pauseProducing()  # nothing read before the server's end is there to write it
        self.cable.up.addCallback(lambda _: self._reach_server())

    def _reach_server(self) -> None:
        if self in self.cable.ends:  # not closed meanwhile
            connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", self.cable.port), Relay(self.cable, self))

    def dataReceived(self, data: bytes) -> None:
        assert self.peer is not None and self.peer.transport is not None
        self.peer.transport.write(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.cable.ends.remove(self)
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.loseConnection()
        self.closed.callback(None)

    @staticmethod
    def _producer(end: Relay) -> IPushProducer:
        assert IPushProducer.providedBy(end.transport)
        return end.transport


class Cable(Factory):
    """A TCP relay between the client and the server, to cut as a network drops: both ends see their connection
    end, and connections made until it is mended wait, as if the network were still down."""

    def __init__(self, port: int) -> None:
        self.port = port  # the server's
        self.ends: list[Relay] = []
        self.up: Deferred[None] = succeed(None)

    def buildProtocol(self, addr: IAddress | None) -> Relay:
        return Relay(self)

    def cut(self) -> None:
        self.up = Deferred()
        for end in list(self.ends):
            end.transport.abortConnection()

    def mend(self) -> None:
        self.up.callback(None)

    async def stop(self) -> None:
        ends = list(self.ends)
        for end in ends:
            end.transport.abortConnection()
        for end in ends:
            await end.closed


class ClientHistoryTests(ServerTestCase):
    """Issue 15: the real client on a terminal, against a server that keeps history, across a dropped network."""

    async def test_a_reconnection_shows_exactly_what_was_missed(self) -> None:
        self.start_server("--history", "50")
        cable = Cable(self.port)
        listening = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(cable)
        self.addCleanup(listening.stopListening)
        self.addCleanup(cable.stop)
        talker = await self.connect("talker", "5")
        talker.send("/join 6", "said before anyone came")
        await talker.until("MSG #6 talker :said before anyone came")
        through = ["--port", str(port_of(listening)), "--ca", str(self.certs / "ca.pem")]
        person = self.spawn(
            [*CLIENT, "127.0.0.1", *through, "--nick", "person", "--room", "5", "--room", "6"],
            terminal=True,
            XDG_CONFIG_HOME=str(Path(self.mktemp()).resolve()),
            NO_COLOR="1",
        )
        await person.until(r"\[#6\] <talker> said before anyone came")  # the latest lines, on joining
        await person.until(r"\[#6\] -- above: 1 line from history")
        talker.send("/join 5", "seen live")
        await person.until(r"\[#5\] <talker> seen live")

        cable.cut()
        await talker.until("QUIT person")  # the server knows: it no longer sends to person
        await person.until("reconnecting in")
        talker.send(*[f"missed {number}" for number in range(1, 4)])
        await talker.until("MSG #5 talker :missed 3")
        cable.mend()

        await person.until(r"\[#5\] -- above: 3 lines said while you were away")
        await person.until(r"\[#6\] -- nothing was said while you were away")
        await person.until(r"reconnected to 127\.0\.0\.1:\d+ as person: back in #5, #6")
        talker.send("live again")
        await person.until(r"\[#5\] <talker> live again")
        seen = [
            line.split(" ", 1)[1]  # without the time
            for line in person.output.replace("\x1b[K", "").replace("\r", "\n").split("\n")
            if "<talker>" in line
        ]
        self.assertEqual(
            seen,
            [
                "[#6] <talker> said before anyone came",
                "[#5] <talker> seen live",
                "[#5] <talker> missed 1",
                "[#5] <talker> missed 2",
                "[#5] <talker> missed 3",
                "[#5] <talker> live again",
            ],
        )
        person.type("/quit\r")
        self.assertEqual(await person.exit_code(), 0)

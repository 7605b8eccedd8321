"""A bug costs as little as it can: never a room its broadcast, nor the process its long answers, nor the log a line.

A room's broadcast hands the same event to each member's connection in turn. Before, an exception while making one
member's copy left the broadcast there: the members after that one never got the event, the sender's own connection
was dropped in its stead with a traceback quoting the line, and with several processes the replica resynchronised
from a snapshot. A bug in a later page of a long answer stopped every long answer of the process. And a bug met
while executing a client's line dropped that client, with a report in the log quoting the error's message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, cast

from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import formatEvent
from twisted.trial.unittest import SynchronousTestCase, TestCase

from chatroom.core.events import Event, Joined, Message, Session, Topic
from chatroom.core.members import Member
from chatroom.core.wording import UNSHOWN
from chatroom.frontends.irc.render import Renderer
from chatroom.frontends.line import wire
from chatroom.frontends.line.dialect import LineDialect
from chatroom.server.connection import FAULTS_TOLERATED, Connection
from chatroom.server.limits import SendQueue, Turns
from chatroom.server.tls_transport import Flushes, TLSConnection
from tests.helpers import LineClient, MemoryClient, MemoryServer, ServerTestCase, observe_log
from tests.test_irc import IRCServer
from tests.test_lifecycle import GENEROUS
from tests.test_shared_joins import SharedServers, either


def _fail_on(case: TestCase | SynchronousTestCase, connection: Connection, kind: type[Event]) -> None:
    """The connection's rendering of `kind` has a bug from now on; of everything else, it is the real one."""
    render = connection.dialect.render

    def faulty(event: Event) -> bytes:
        if isinstance(event, kind):
            raise ValueError(f"cannot render {event!r}")  # quoting what was said: never to be logged
        return render(event)

    case.patch(connection.dialect, "render", faulty)


def _fail_everywhere_on(case: TestCase | SynchronousTestCase, kind: type[Message] | type[Topic]) -> None:
    """The line protocol's rendering of a `kind` with a snowman in its text has a bug, whoever it is for."""
    render = LineDialect.render

    def faulty(dialect: LineDialect, event: Event) -> bytes:
        if isinstance(event, kind) and "☃" in event.text:
            raise ValueError(f"cannot render {event.text!r}")
        return render(dialect, event)

    case.patch(LineDialect, "render", faulty)


def _say_with_a_snowman(say: Callable[[str], object]) -> None:
    """120 lines, the 111th with a snowman: in a page of a history answer after the first PAGE_LINES."""
    for number in range(120):
        say(f"line {number}" + (" ☃" if number == 110 else ""))


def _answer(server: MemoryServer, client: MemoryClient, asked: bytes) -> list[str]:
    """What `client` reads after sending `asked`, over the reactor turns a long answer takes."""
    client.send(asked)
    lines: list[str] = []
    for _ in range(10):
        server.clock.advance(0)
        lines += client.read()
    return lines


def _errors(logged: Iterable[dict[str, object]]) -> list[str]:
    return [formatEvent(event) for event in logged if getattr(event.get("log_level"), "name", "") == "error"]


class DeliveryFaultTests(ServerTestCase):
    def setUp(self) -> None:
        self.start_server("--linger", "0")  # a dropped client's QUIT at once, as if it had no resumption
        self.logged = observe_log(self)

    def connection_of(self, nick: str) -> Connection:
        [connection] = [each for each in self.service.factory.connections if each.member and each.member.nick == nick]
        return connection

    async def in_the_room(self, *nicks: str) -> list[LineClient]:
        clients = [await self.connect(nick, "5") for nick in nicks]
        await clients[0].until(f"JOIN #5 {nicks[-1]}")
        return clients

    async def test_a_line_one_client_cannot_be_shown_is_left_out_of_its_copy_alone(self) -> None:
        alice, carol, bob = await self.in_the_room("alice", "carol", "bob")  # carol between the two in the room
        _fail_on(self, self.connection_of("carol"), Message)
        alice.send("the secret plan")
        await bob.until("MSG #5 alice :the secret plan")
        await alice.until("MSG #5 alice :the secret plan")
        carol.send("/ping still here")
        _, missed = await carol.until("PONG :still here")
        self.assertEqual([line for line in missed if line.startswith("MSG ")], [], "carol missed the line, alone")
        self.assertIn(f"NOTICE :{UNSHOWN}", missed, "and was told so")
        [error] = _errors(self.logged)
        self.assertRegex(error, r"^127\.0\.0\.1:\d+ \(carol\): could not make a Message: ValueError at ")
        self.assertIn(" in faulty, from ", error)  # where it was raised, and chatroom's last line on the way
        self.assertIn("chatroom/server/connection.py", error)
        self.assertIn("left out", error)
        self.assertNotIn("secret", repr(list(self.logged)), "nothing anyone types is ever logged")

    async def test_a_line_nobody_can_be_shown_costs_nobody_their_connection_and_is_logged_once(self) -> None:
        alice, carol, bob = await self.in_the_room("alice", "carol", "bob")
        _fail_everywhere_on(self, Message)
        alice.send("a secret snowman ☃", "and then")
        for client in (alice, carol, bob):
            _, before = await client.until("MSG #5 alice :and then")
            self.assertEqual([line for line in before if line.startswith(("MSG ", "NOTICE "))], [f"NOTICE :{UNSHOWN}"])
        self.assertEqual([client.lost.called for client in (alice, carol, bob)], [False] * 3)
        [error] = _errors(self.logged)
        self.assertIn(": could not make a Message: ValueError at ", error)
        self.assertNotIn("secret", repr(list(self.logged)))

    async def test_a_change_one_client_cannot_be_shown_is_its_goodbye(self) -> None:
        """It would see the room wrongly from then on: told why, it comes back and sees it as it is."""
        alice, carol, bob = await self.in_the_room("alice", "carol", "bob")
        _fail_on(self, self.connection_of("carol"), Joined)
        dave = await self.connect("dave", "5")
        await carol.lost
        self.assertEqual(carol.lines[-1], "BYE :server error", "told why, in a line it can read")
        await bob.expect("JOIN #5 dave", "QUIT carol :server error")
        dave.send("hello")
        await alice.until("MSG #5 dave :hello")
        [error] = _errors(self.logged)
        self.assertIn("(carol): could not make a Joined: ValueError at ", error)
        self.assertIn("disconnecting", error)

    async def test_a_client_whose_writing_fails_is_cut_without_a_goodbye(self) -> None:
        """The goodbye would take the path that failed: the connection is cut, and the others still hear of it."""
        alice, carol, bob = await self.in_the_room("alice", "carol", "bob")

        def broken(data: bytes) -> None:
            raise OSError("the send queue has a bug")

        self.patch(self.connection_of("carol").queue, "write", broken)
        await self.connect("dave", "5")
        await DeferredList([alice.lost, carol.lost], fireOnOneCallback=True)
        self.assertTrue(carol.lost.called)
        self.assertFalse(alice.lost.called)
        await bob.expect("JOIN #5 dave", "QUIT carol :server error")
        self.assertNotIn("BYE", " ".join(carol.lines))


class FaultsInMemoryTests(SynchronousTestCase):
    def test_a_topic_no_copy_can_be_made_of_costs_no_join_after_it(self) -> None:
        """A room's topic is told again at every join: ending the connections it fails would end every join."""
        server = MemoryServer()
        logged = observe_log(self)
        _fail_everywhere_on(self, Topic)
        alice, bob = server.connect("alice", "#5"), server.connect("bob", "#5")
        alice.type("/topic a snowman ☃")
        dave = server.connect("dave")
        self.assertIn("JOIN #5 dave", dave.type("/join #5"))
        self.assertEqual([client.connection.closing for client in (alice, bob, dave)], [False] * 3)
        [error] = _errors(logged)  # the same topic, told to each: logged once
        self.assertIn(": could not make a Topic: ValueError at ", error)

    def test_a_connection_that_fails_every_line_is_ended_after_a_few(self) -> None:
        server = MemoryServer()
        logged = observe_log(self)
        alice, carol = server.connect("alice", "#5"), server.connect("carol", "#5")
        _fail_on(self, carol.connection, Message)
        for number in range(FAULTS_TOLERATED):
            self.assertFalse(carol.connection.closing)
            alice.type(f"line {number}")
        unshown = f"NOTICE :{UNSHOWN}"
        self.assertEqual(carol.read(), [unshown] * (FAULTS_TOLERATED - 1) + ["BYE :server error"], "then nothing")
        self.assertEqual(len(_errors(logged)), FAULTS_TOLERATED)
        alice.type("after")
        self.assertEqual(carol.read(), [])

    def test_an_irc_client_is_told_what_it_could_not_be_shown(self) -> None:
        server = IRCServer()
        observe_log(self)
        alice, bob = server.irc("alice", "#5"), server.irc("bob", "#5")
        _fail_on(self, bob.connection, Message)
        alice.type("PRIVMSG #5 :hello")
        self.assertEqual(bob.read(), [f":chatroom NOTICE * :{UNSHOWN}"], "as every server notice is")

    def test_a_flush_that_fails_leaves_the_others_theirs_and_the_log_never_quotes_it(self) -> None:
        clock = Clock()
        flushes = Flushes(clock)
        logged = observe_log(self)
        flushed: list[str] = []

        class Written:
            def __init__(self, name: str) -> None:
                self.name = name
                self.stream = StringTransport()

            def flush(self) -> None:
                if self.name == "broken":
                    raise ValueError("cannot write 'the secret plan'")
                flushed.append(self.name)

        for name in ("broken", "fine"):
            flushes.add(cast(TLSConnection, Written(name)))
        clock.advance(0)
        self.assertEqual(flushed, ["fine"])
        [error] = _errors(logged)
        self.assertIn("could not write to ", error)
        self.assertIn(": ValueError at ", error)
        self.assertNotIn("secret", repr(list(logged)), "nothing anyone types is ever logged")


class LineFaultTests(SynchronousTestCase):
    """A bug met while executing a client's line: before, it left dataReceived, so Twisted dropped the connection
    and logged a report quoting the error's message, which may quote the line."""

    def test_the_client_is_told_in_one_line_and_the_log_never_quotes_the_line(self) -> None:
        server = IRCServer()
        logged = observe_log(self)
        line_client, irc_client = server.connect("alice", "#5"), server.irc("bob", "#5")

        def broken(*arguments: object) -> None:
            raise ValueError(f"cannot say {arguments[2]!r}")

        self.patch(server.chat, "say", broken)
        refused = "the server could not do that; try again later"
        self.assertEqual(line_client.type("the secret plan"), [f"ERR SERVER_ERROR :{refused}"])
        self.assertEqual(
            irc_client.type("PRIVMSG #5 :the secret plan"),
            [f":chatroom NOTICE bob :{refused}"],
        )
        self.assertEqual(line_client.type("/ping still"), ["PONG :still"], "and still served")
        self.assertEqual(len(_errors(logged)), 2)
        self.assertIn("(alice): could not run a line: ValueError at ", _errors(logged)[0])
        self.assertNotIn("secret", repr(list(logged)), "nothing anyone types is ever logged")

    def test_a_bug_in_a_login_is_told_in_one_line_and_the_log_never_quotes_it(self) -> None:
        """A login runs apart from its line (Connection.wait_for): its bug was logged with its message, which may
        quote the password."""
        server = MemoryServer()
        logged = observe_log(self)

        async def broken(connection: object, nick: str, password: str | None) -> None:
            raise ValueError(f"cannot let {nick} in with {password!r}")

        self.patch(server.factory.registrar, "enter", broken)
        client = server.connect()
        refused = "the server could not do that; try again later"
        self.assertEqual(client.type("/nick secret-agent"), [f"ERR SERVER_ERROR :{refused}"])
        self.assertEqual(client.type("/ping still"), ["PONG :still"], "and still served")
        [error] = _errors(logged)
        self.assertIn(": could not finish a line: ValueError at ", error)
        self.assertNotIn("secret", repr(list(logged)), "nothing anyone types is ever logged")

    def test_a_bug_met_going_on_after_a_login_drops_the_client_and_the_log_never_quotes_it(self) -> None:
        """Lines sent during a login wait for it; the bug of one of them, outside its execution, met from the
        login's callback, was logged with its message."""
        server = MemoryServer()
        logged = observe_log(self)
        verdict: Deferred[None] = Deferred()
        enter = server.factory.registrar.enter

        async def slow(connection: Connection, nick: str, password: str | None) -> Member:
            await verdict
            return await enter(connection, nick, password)

        def broken(member: Member, session: Session | None) -> None:
            if not client.connection.executing:  # after its line, where the connection asks by itself
                raise ValueError("settling after 'the secret plan'")

        self.patch(server.factory.registrar, "enter", slow)
        client = server.connect()
        client.send(b"/nick alice\r\n/join #5\r\nthe secret plan\r\n")
        self.patch(server.chat, "settled", broken)
        verdict.callback(None)
        self.assertTrue(client.transport.disconnecting, "dropped, as Twisted drops a client whose line fails")
        [error] = _errors(logged)
        self.assertIn("(alice): could not run its waiting lines: ValueError at ", error)
        self.assertNotIn("secret", repr(list(logged)), "nothing anyone types is ever logged")


class LongAnswerFaultTests(SynchronousTestCase):
    def test_two_long_answers_asked_in_one_packet_both_end(self) -> None:
        """The first answer's end lets the asker be read again, at once: its second question was asked from inside
        the first answer's making, which asked the first answer for a page while it was making one."""
        server = IRCServer()
        logged = observe_log(self)
        server.crowd("#big", 300)
        asker = server.irc("asker")
        server.clock.advance(10)  # registering spent the burst: full buckets again
        asker.read()
        asker.send(b"WHO #big\r\nWHO #big\r\nPING :after\r\n")
        lines: list[str] = []
        for _ in range(100):
            server.clock.advance(1)
            lines += asker.read()
        self.assertEqual(len([line for line in lines if line.startswith(":chatroom 315 ")]), 2, "two ends of WHO")
        self.assertEqual(lines[-1], ":chatroom PONG chatroom :after")
        self.assertEqual(len(lines), 2 * (300 + 1) + 1)
        self.assertEqual(_errors(logged), [])

    def test_a_long_answer_that_fails_midway_ends_there_and_the_others_go_on(self) -> None:
        """Pages past the first turn's budget are made in turns shared by every connection: a bug in one of them
        used to stop the turns for good, and every long answer of the process with them."""
        server = IRCServer()
        logged = observe_log(self)
        server.crowd("#big", 1000)
        broken_asker, asker = server.irc("broken"), server.irc("asker")
        connection = broken_asker.connection
        write_pages = connection.write_pages

        def failing(pages: Iterable[bytes]) -> None:
            def some(pages: Iterable[bytes]) -> Iterator[bytes]:
                for number, page in enumerate(pages):
                    if number == 6:  # past the first turn's budget
                        raise ValueError("a bug in a later page")
                    yield page

            write_pages(some(pages))

        self.patch(connection, "write_pages", failing)
        server.clock.advance(10)  # registering spent the burst: full buckets again
        for client in (broken_asker, asker):
            client.read()
            client.send(b"WHO *\r\n")
        answers: dict[str, list[str]] = {"broken": [], "asker": []}
        for _ in range(100):
            server.clock.advance(0)
            answers["broken"] += broken_asker.read()
            answers["asker"] += asker.read()
        self.assertTrue(answers["asker"][-1].startswith(":chatroom 315 "), "the other answer ended (RPL_ENDOFWHO)")
        self.assertEqual(len(answers["asker"]), 1000 + 2, "everyone visible, the asker, then the end")
        self.assertFalse(any(line.startswith(":chatroom 315 ") for line in answers["broken"]), "cut short")
        server.clock.advance(60)  # the answer's cost in flood tokens (fakelag)
        self.assertEqual(broken_asker.type("PING :still"), [":chatroom PONG chatroom :still"], "and still served")
        [error] = _errors(logged)
        self.assertIn("(broken): could not make a long answer: ValueError at ", error)

    def test_a_history_batch_that_fails_midway_is_still_closed(self) -> None:
        """A client holds every line of an open batch back until it ends: left open, the lines already sent and the
        batch itself would be held for good."""
        server = IRCServer(GENEROUS, history=200)
        logged = observe_log(self)
        alice = server.irc("alice", "#5", caps="batch draft/chathistory")
        _say_with_a_snowman(lambda text: alice.type(f"PRIVMSG #5 :{text}"))
        kept = Renderer.kept

        def faulty(renderer: Renderer, said: Message, *arguments: Any) -> bytes:
            if "☃" in said.text:
                raise ValueError(f"cannot render {said.text!r}")
            return kept(renderer, said, *arguments)

        self.patch(Renderer, "kept", faulty)
        lines = _answer(server, alice, b"CHATHISTORY LATEST #5 * 120\r\nPING :after\r\n")
        self.assertEqual(lines[0], ":chatroom BATCH +1 chathistory #5")
        self.assertIn(":chatroom BATCH -1", lines, "the batch is closed")
        self.assertLess(lines.index(":chatroom BATCH -1"), lines.index(":chatroom PONG chatroom :after"))
        self.assertEqual(len([line for line in lines if " PRIVMSG " in line]), 100, "the pages made before it")
        [error] = _errors(logged)
        self.assertIn("(alice): could not make a long answer: ValueError at ", error)

    def test_a_history_answer_that_fails_midway_still_ends_with_its_count(self) -> None:
        """The line protocol's client ends a catch-up on its HISTORY line: without it, the room stayed among those
        it was catching up until it reconnected."""
        server = IRCServer(GENEROUS, history=200)
        logged = observe_log(self)
        alice = server.connect("alice", "#5")
        _say_with_a_snowman(alice.type)
        made = wire.lines

        def faulty(word: str, *arguments: str, text: str) -> bytes:
            if word == "SAID" and "☃" in text:
                raise ValueError(f"cannot show {text!r}")
            return made(word, *arguments, text=text)

        self.patch(wire, "lines", faulty)
        lines = _answer(server, alice, b"/history #5 120\r\n/ping after\r\n")
        self.assertEqual(len([line for line in lines if line.startswith("SAID #5 alice ")]), 100, "the pages made")
        self.assertEqual(lines[-2:], ["HISTORY #5 100 ?", "PONG :after"], "what was sent, and that more is unknown")
        [error] = _errors(logged)
        self.assertIn("(alice): could not make a long answer: ValueError at ", error)

    def test_a_queue_that_raises_in_its_turn_leaves_the_others_theirs(self) -> None:
        clock = Clock()
        turns = Turns(clock)
        made: list[str] = []

        class Queue:
            def __init__(self, name: str) -> None:
                self.name = name

            def make_page(self) -> int:
                if self.name == "broken":
                    raise ValueError("a bug")
                made.append(self.name)
                return 100

        turns.wait(cast(SendQueue, Queue("broken")))
        turns.wait(cast(SendQueue, Queue("fine")))
        self.assertRaises(ValueError, clock.advance, 0)  # the reactor logs it
        clock.advance(0)
        self.assertEqual(made, ["fine"])


class DeliveryFaultsWithRedisTests(SharedServers):
    async def test_a_faulty_copy_leaves_its_process_in_step_with_the_others(self) -> None:
        """The copies are made as the process applies the shared log's entry: the fault stays out of the log."""
        here, there = await self.servers(2)
        logged = observe_log(self)
        alice = await self.client(here)
        await alice.until("HELLO ")
        alice.send("/nick alice", "/join 5", "/ping ready")
        await alice.until("PONG :ready")
        carol, bob = await self.client(there), await self.client(there)
        for client, nick in ((carol, "carol"), (bob, "bob")):
            await client.until("HELLO ")
            client.send(f"/nick {nick}", "/join 5", "/ping ready")
            await client.until("PONG :ready")
        await alice.until("JOIN #5 bob")
        [faulty] = [each for each in there.factory.connections if each.member and each.member.nick == "carol"]
        _fail_on(self, faulty, Message)
        alice.send("the secret plan", "and then")
        heard = await either(bob, "MSG #5 alice :and then", "NOTICE ")  # a notice: the process resynchronised
        self.assertEqual(heard, ["MSG #5 alice :the secret plan", "MSG #5 alice :and then"])
        carol.send("/ping after")
        _, told = await carol.until("PONG :after")
        unshown = f"NOTICE :{UNSHOWN}"
        self.assertEqual(told, ["JOIN #5 bob", unshown, unshown], "the lines alone left out, and no resynchronisation")
        self.assertNotIn("secret", repr(list(logged)), "nothing anyone types is ever logged")

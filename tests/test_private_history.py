"""Private conversations kept when the administrator opts in (--history-private, issue 28): read by the two people
in each only, through CHATHISTORY (and TARGETS) and the line protocol's /history, never by anyone else.

In memory, through both front ends, with a fake clock; what the SQLite store keeps of them and a real restart are in
tests/test_history_file.py.
"""

from __future__ import annotations

import base64
from pathlib import Path

from twisted.internet import task
from twisted.logger import formatEvent
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase, TestCase

from chatroom.app import tap
from chatroom.core.events import Message, PrivateMessage, Redacted
from chatroom.core.history import HistoryLimits, timestamp
from chatroom.core.state import KeptHistory
from chatroom.stores.accounts import AccountStore, adding, hashed_password
from chatroom.stores.history import SqliteHistory
from tests.helpers import LineClient, MemoryClient, ServerTestCase, observe_log
from tests.test_history_file import START, THREADS
from tests.test_irc import commands, tags_of
from tests.test_redis import told
from tests.test_sessions import Sessions, unstamped
from tests.test_stores import RedisStoresTestCase

CAPS = "sasl batch draft/chathistory echo-message labeled-response message-tags server-time"


class PrivateHistoryTests(Sessions):
    """Accounts alice, bob and ada (an administrator); ben is a guest in #5."""

    def setUp(self) -> None:
        super().setUp()
        self.keep_private()

    def keep_private(self, private: bool = True) -> None:
        self.chat.history_limits = HistoryLimits(50, private=private)  # --history 50 [--history-private]

    def irc(self, account: str) -> MemoryClient:
        """`account` logged in over IRC (SASL) with chathistory and message ids."""
        irc = self.server.irc()
        irc.type(f"CAP REQ :{CAPS}", "AUTHENTICATE PLAIN")
        irc.type("AUTHENTICATE " + base64.b64encode(f"\0{account}\0correct horse".encode()).decode())
        self.checker.answer(len(self.checker.checks) - 1, right=True)
        irc.type(f"NICK {account}", f"USER {account} 0 * :{account.title()}", "CAP END")
        irc.read()
        return irc

    def conversation(self) -> tuple[MemoryClient, MemoryClient, list[str]]:
        """alice and bob on IRC, having said three lines to each other: the ids alice's client was given."""
        alice, bob = self.irc("alice"), self.irc("bob")
        ids = []
        for speaker, other, text in [(alice, "bob", "hi bob"), (bob, "alice", "hi alice"), (alice, "bob", "bye")]:
            (echo,) = stamped(speaker, f"PRIVMSG {other} :{text}")
            ids.append(tags_of(echo).get("msgid", ""))
            for each in self.server.connections:
                each.read()
        return alice, bob, ids

    def history(self, client: MemoryClient, line: str) -> list[str]:
        """The PRIVMSG lines of a CHATHISTORY answer, without their tags, after checking it is one batch."""
        answer = client.type(line)
        self.assertEqual(commands(answer[:1] + answer[-1:]), ["BATCH", "BATCH"], answer)
        return [said.partition(" ")[2] for said in answer[1:-1]]

    def test_both_people_read_their_conversation_with_its_ids(self) -> None:
        alice, bob, ids = self.conversation()
        said = [
            ":alice!alice@chatroom PRIVMSG bob :hi bob",
            ":bob!bob@chatroom PRIVMSG alice :hi alice",
            ":alice!alice@chatroom PRIVMSG bob :bye",
        ]
        self.assertEqual(self.history(alice, "CHATHISTORY LATEST bob * 10"), said)
        self.assertEqual(self.history(bob, "CHATHISTORY LATEST ALICE * 10"), said, "a nickname in any case")
        self.assertEqual(self.history(bob, f"CHATHISTORY BEFORE alice msgid={ids[2]} 10"), said[:2])
        self.assertEqual(self.history(alice, f"CHATHISTORY AFTER bob msgid={ids[0]} 1"), said[1:2])
        self.assertEqual(self.history(alice, f"CHATHISTORY AROUND bob msgid={ids[1]} 1"), said[1:2])
        self.assertEqual(self.history(alice, f"CHATHISTORY BETWEEN bob msgid={ids[2]} msgid={ids[0]} 10"), said[1:2])
        _, kept, _ = stamped(alice, "CHATHISTORY LATEST bob * 1")
        self.assertEqual(tags_of(kept)["msgid"], ids[2], "the id the message was delivered with")

    def test_nobody_else_reads_it_not_even_an_administrator(self) -> None:
        self.conversation()
        carol = self.server.connect("carol")
        ada = self.irc("ada")
        self.assertEqual(self.history(ada, "CHATHISTORY LATEST alice * 10"), [], "ada's own conversation with alice")
        self.assertEqual(self.history(ada, "CHATHISTORY LATEST bob * 10"), [])
        self.assertEqual(carol.type("/history alice"), ["HISTORY alice 0 0"])
        self.assertEqual(self.history(ada, "CHATHISTORY TARGETS timestamp=1969-01-01T00:00:00Z "
                                           "timestamp=2999-01-01T00:00:00Z 10"), [])  # fmt: skip

    def test_the_line_protocol_reads_a_conversation_with_history_and_a_nickname(self) -> None:
        alice = self.alice()
        bob = self.server.connect()
        bob.type("/nick bob", "/pass correct horse")
        self.checker.answer(len(self.checker.checks) - 1, right=True)
        bob.read()
        alice.type("/msg bob hello there")
        bob.read()
        self.assertEqual(unstamped(bob.type("/history alice")), ["SAID alice alice :hello there", "HISTORY alice 1 0"])
        self.assertEqual(unstamped(alice.type("/history bob 5")), ["SAID bob alice :hello there", "HISTORY bob 1 0"])

    def test_targets_lists_conversations_with_rooms_by_their_latest_line(self) -> None:
        alice, _, _ = self.conversation()
        self.server.clock.advance(1)
        alice.type("JOIN #7", "PRIVMSG #7 :in a room")
        answer = alice.type("CHATHISTORY TARGETS timestamp=1969-01-01T00:00:00Z timestamp=2999-01-01T00:00:00Z 10")
        self.assertEqual([line.split()[4] for line in answer if " TARGETS " in line], ["bob", "#7"], answer)

    def test_a_guests_conversation_ends_with_the_guest(self) -> None:
        alice = self.irc("alice")
        carol = self.server.connect("carol")
        carol.type("/msg alice psst")
        alice.read()
        self.assertEqual(len(self.history(alice, "CHATHISTORY LATEST carol * 10")), 1, "read while carol is here")
        self.assertEqual(carol.type("/nick carla"), ["NICK carol carla"])
        self.assertEqual(len(self.history(alice, "CHATHISTORY LATEST carla * 10")), 1, "it follows her nickname")
        carol.type("/quit")
        other = self.server.connect("carla")
        self.assertEqual(other.type("/history alice"), ["HISTORY alice 0 0"], "the next carla reads nothing")
        self.assertEqual(self.history(alice, "CHATHISTORY LATEST carla * 10"), [])

    def test_a_guest_who_logs_in_leaves_their_guest_conversations_behind(self) -> None:
        alice = self.irc("alice")
        dave = self.server.connect("dave")
        dave.type("/msg alice as a guest")
        dave.type("/nick bob", "/pass correct horse")
        self.checker.answer(len(self.checker.checks) - 1, right=True)
        for each in self.server.connections:
            each.read()
        self.assertEqual(self.history(alice, "CHATHISTORY LATEST bob * 10"), [], "not bob's account's")
        self.assertEqual(self.history(alice, "CHATHISTORY LATEST dave * 10"), [])
        self.assertEqual(self.chat.conversations.kept, {})

    def test_nothing_is_kept_unless_the_administrator_opts_in(self) -> None:
        self.keep_private(False)
        alice, _, ids = self.conversation()
        self.assertEqual(len(set(ids)), 3, "ids still, for replies and reactions to name (message-tags)")
        self.assertEqual(self.history(alice, "CHATHISTORY LATEST bob * 10"), [])
        self.assertEqual(self.history(alice, f"CHATHISTORY AFTER bob msgid={ids[0]} 10"), [])
        (fail,) = alice.type(f"REDACT bob {ids[0]}")
        self.assertEqual(fail.split()[1:6], ["FAIL", "REDACT", "UNKNOWN_MSGID", "bob", ids[0]])
        line = self.alice()
        self.assertEqual(line.type("/history bob"), ["HISTORY bob 0 ?"], "as for a server that keeps no history")
        self.assertEqual(self.chat.conversations.kept, {})

    def test_a_message_to_oneself_is_a_conversation_and_comes_back_twice_with_echo_message(self) -> None:
        alice = self.irc("alice")
        note = ":alice!alice@chatroom PRIVMSG alice :a note"
        both = [line.partition(" ")[2] for line in alice.type("PRIVMSG alice :a note")]
        self.assertEqual(both, [note, note], "the echo, and the message received")
        received, echo = stamped(alice, "@label=x PRIVMSG alice :a note")
        self.assertEqual((tags_of(received).get("label"), tags_of(echo).get("label")), (None, "x"), "one is the answer")
        self.assertEqual(tags_of(echo)["msgid"], tags_of(received)["msgid"])
        self.assertEqual(self.history(alice, "CHATHISTORY LATEST alice * 10"), [note, note], "kept once each")

    def test_either_person_redacts_their_own_line_for_both_of_them(self) -> None:
        alice, bob, ids = self.conversation()
        phone = self.irc("bob")  # bob's second session, without the capability
        alice.type("CAP REQ draft/message-redaction")
        bob.type("CAP REQ draft/message-redaction")
        self.assertEqual(untagged(alice.type(f"REDACT bob {ids[0]}")), [f":alice!alice@chatroom REDACT bob {ids[0]}"])
        self.assertEqual(untagged(bob.read()), [f":alice!alice@chatroom REDACT bob {ids[0]}"], "as it was said: to bob")
        self.assertEqual(phone.read(), [], "a session without draft/message-redaction is told nothing")
        self.assertEqual(
            untagged(bob.type(f"REDACT alice {ids[1]} :oops")), [f":bob!bob@chatroom REDACT alice {ids[1]} :oops"]
        )
        self.assertEqual(untagged(alice.read()), [f":bob!bob@chatroom REDACT alice {ids[1]} :oops"])
        self.assertEqual(self.history(bob, "CHATHISTORY LATEST alice * 10"), [":alice!alice@chatroom PRIVMSG bob :bye"])
        (fail,) = bob.type(f"REDACT alice {ids[2]}")
        self.assertEqual(fail.split()[1:6], ["FAIL", "REDACT", "REDACT_FORBIDDEN", "alice", ids[2]], "alice's line")
        (fail,) = alice.type(f"REDACT bob {ids[0]}")
        self.assertEqual(fail.split()[1:6], ["FAIL", "REDACT", "UNKNOWN_MSGID", "bob", ids[0]], "gone already")
        (fail,) = self.irc("ada").type(f"REDACT bob {ids[2]}")
        self.assertEqual(fail.split()[1:4], ["FAIL", "REDACT", "UNKNOWN_MSGID"], "not in ada's conversation with bob")
        self.assertEqual(len(self.history(alice, "CHATHISTORY LATEST bob * 10")), 1, "nobody else removes a line")

    def test_bad_input_is_one_line(self) -> None:
        alice = self.irc("alice")
        (fail,) = alice.type("CHATHISTORY LATEST no!body * 10")
        self.assertEqual(fail.split()[1:5], ["FAIL", "CHATHISTORY", "INVALID_TARGET", "LATEST"])
        (fail,) = alice.type("CHATHISTORY BEFORE bob msgid=nonsense 10")
        self.assertEqual(fail.split()[1:5], ["FAIL", "CHATHISTORY", "INVALID_PARAMS", "BEFORE"])
        line = self.server.connect("dora")
        self.assertEqual(line.type("/history bob after")[0].split()[:2], ["ERR", "USAGE"])


def untagged(lines: list[str]) -> list[str]:
    """Lines without their tags (server-time's)."""
    return [line.partition(" ")[2] if line.startswith("@") else line for line in lines]


def stamped(client: MemoryClient, line: str) -> list[str]:
    """What the server answers `line` with, tags included."""
    client.send(line.encode() + b"\r\n")
    return client.read(stamps=True)


def private(number: int, sender: str, recipient: str, text: str) -> Message:
    """A line of the conversation between accounts `a:ann` and `a:bo`, as chatroom.core.private keeps it."""
    return Message(recipient, sender, text, id=f"c1-{number}", time=timestamp(START + number))


class OptionTests(SynchronousTestCase):
    def test_history_private_needs_history(self) -> None:
        error = self.assertRaises(usage.UsageError, tap.Options().parseOptions, ["--history-private"])
        self.assertEqual(
            str(error), "--history-private needs --history N: private conversations are kept as rooms' are"
        )
        tap.Options().parseOptions(["--history", "5", "--history-private"])


class SqlitePrivateTests(TestCase):
    """What the SQLite store keeps of conversations and read markers, across a restart."""

    def setUp(self) -> None:
        self.path = Path(self.mktemp())
        self.clock = task.Clock()
        self.clock.advance(START)

    def store(self, private: bool = True) -> SqliteHistory:
        store = SqliteHistory(self.path, HistoryLimits(2, private=private), THREADS, self.clock)
        store.load()
        store.startService()
        self.addCleanup(lambda: store.stopService() if store.running else None)
        return store

    async def test_a_conversation_keeps_its_last_lines_and_ids(self) -> None:
        store = self.store()
        lines = [private(1, "ann", "bo", "one"), private(2, "bo", "ann", "two"), private(3, "ann", "bo", "three")]
        for line in lines:
            store.said_private("a:ann a:bo", line)
        await store.stopService()
        kept = self.store().load_private()
        self.assertEqual(kept, {"a:ann a:bo": KeptHistory("c1", 3, lines[1:])}, "the last --history lines")
        self.assertEqual(
            [(line.id, line.time) for line in kept["a:ann a:bo"].lines],
            [("c1-2", lines[1].time), ("c1-3", lines[2].time)],
        )

    async def test_a_redacted_line_is_gone_from_the_file(self) -> None:
        store = self.store()
        lines = [private(1, "ann", "bo", "a secret"), private(2, "bo", "ann", "two")]
        for line in lines:
            store.said_private("a:ann a:bo", line)
        store.redacted("a:ann a:bo", ["c1-1"])
        await store.stopService()
        found = b"".join(path.read_bytes() for path in self.path.parent.glob(self.path.name + "*"))
        self.assertNotIn(b"a secret", found)
        self.assertEqual(self.store().load_private(), {"a:ann a:bo": KeptHistory("c1", 2, lines[1:])})

    async def test_a_server_that_no_longer_keeps_them_deletes_them_from_the_file(self) -> None:
        store = self.store()
        store.said_private("a:ann a:bo", private(1, "ann", "bo", "a secret"))
        await store.stopService()
        logged = observe_log(self)
        await self.store(private=False).stopService()
        told = [formatEvent(event) for event in logged]
        said = f"history: deleting the private conversations {self.path} kept under --history-private (1): this server"
        self.assertEqual([text for text in told if text.startswith("history: deleting")], [f"{said} runs without it"])
        found = b"".join(path.read_bytes() for path in self.path.parent.glob(self.path.name + "*"))
        self.assertNotIn(b"a secret", found)
        self.assertEqual(self.store().load_private(), {})

    async def test_markers_only_move_forward_and_outlive_a_restart(self) -> None:
        store = self.store()
        store.marked("Ann", "#5", LATER)
        store.marked("Ann", "#5", NOON)  # from another device, later, that had read less
        store.marked("Ann", "bo", NOON)
        await store.stopService()
        self.assertEqual(self.store().load_markers(), {"Ann": {"#5": LATER, "bo": NOON}})


class PrivateRestartTests(ServerTestCase):
    """The real service, stopped and started again on the same files."""

    def setUp(self) -> None:
        state = Path(self.mktemp()).resolve()
        state.mkdir()
        for name in ("owen", "pia"):
            AccountStore(state / "accounts.db").add(name, f"{name}'s secret")
        self.files = ["--accounts", str(state / "accounts.db"), "--rooms", str(state / "rooms.json")]

    async def login(self, name: str) -> LineClient:
        client = await self.connect(name)
        client.send(f"/pass {name}'s secret", "/ping in")
        await client.until("PONG :in")
        return client

    async def test_a_conversation_and_where_an_account_read_outlive_a_restart(self) -> None:
        self.start_server("--history", "20", "--history-private", *self.files)
        owen, pia = await self.login("owen"), await self.login("pia")
        owen.send("/msg pia before the restart", f"/read pia {NOON}", "/read #5 " + LATER, "/ping said")
        await owen.until("PONG :said")
        pia.send("/quit")
        await self.served.stopService()  # the history file's writer last: every line written, the file closed

        self.start_server("--history", "20", "--history-private", *self.files)
        pia = await self.login("pia")
        pia.send("/history owen")
        _, shown = await pia.until("HISTORY owen ")
        self.assertEqual(unstamped(shown), ["SAID owen owen :before the restart"])
        laptop, phone = await self.login("owen"), await self.login("owen")
        laptop.send("/read pia", "/read 5")
        await laptop.until(f"READ pia {NOON}")
        await laptop.until(f"READ #5 {LATER}")
        phone.send(f"/read 5 {AFTER}")
        await laptop.until(f"READ #5 {AFTER}")  # it moves for both sessions, from where the restart left it


NOON = "2026-11-23T12:00:00.000Z"
LATER = "2026-11-23T12:05:30.250Z"
AFTER = "2026-11-23T13:00:00.000Z"


class InRedisTests(RedisStoresTestCase):
    """With --redis: an account's markers and conversations are written to Redis with the history, and outlive every
    process."""

    async def test_where_an_account_read_outlives_every_process(self) -> None:
        await self.accounts.change("owen", adding("owen", hashed_password("owen", "owen's secret")))
        a, b = await self.process("a", HistoryLimits(5)), await self.process("b", HistoryLimits(5))
        _, on_a = await self.member(a.chat, "ann")
        owen, on_b = await self.member(b.chat, "owen", "owen")  # on the process that does not write
        b.chat.mark_read(owen, "#5", LATER)
        b.chat.mark_read(owen, "#5", NOON)  # from a device that had read less: the marker stays
        b.chat.mark_read(owen, "pia", NOON)
        await self.everyone_read(b.chat, owen, on_a, on_b)  # the writer (a) has made the changes too
        assert a.history is not None
        await a.history.flush()
        await b.stop()
        await a.stop()
        c = await self.process("c", HistoryLimits(5))  # alone: it starts from Redis
        back, _ = await self.member(c.chat, "owen", "owen")
        self.assertEqual([c.chat.read_marker(back, target).time for target in ("#5", "pia")], [LATER, NOON])

    async def test_a_conversation_between_accounts_is_shared_and_outlives_every_process(self) -> None:
        private = HistoryLimits(5, private=True)
        for name in ("owen", "pia"):
            await self.accounts.change(name, adding(name, hashed_password(name, f"{name}'s secret")))
        a, b = await self.process("a", private), await self.process("b", private)
        owen, on_a = await self.member(a.chat, "owen", "owen")
        pia, on_b = await self.member(b.chat, "pia", "pia")
        b.chat.private(pia, "owen", "only for owen")
        await on_a.until(told(PrivateMessage("pia", "owen", "only for owen")))
        c = await self.process("c", private)  # later: from a snapshot
        for process, member in ((a, owen), (b, pia), (c, owen)):
            asked = "pia" if member is owen else "owen"
            kept = (await process.chat.private_history(member, asked, "latest", "", 10)).messages
            self.assertEqual([(line.nick, line.text) for line in kept], [("pia", "only for owen")])
        await self.everyone_read(b.chat, pia, on_a, on_b)
        assert a.history is not None
        await a.history.flush()
        for process in (c, b, a):
            await process.stop()
        d = await self.process("d", private)  # alone: it starts from Redis
        back, _ = await self.member(d.chat, "owen", "owen")
        kept = (await d.chat.private_history(back, "pia", "latest", "", 10)).messages
        self.assertEqual([(line.nick, line.room, line.text) for line in kept], [("pia", "owen", "only for owen")])
        await d.stop()
        self.assertEqual(len(await self.admin.keys("*:history:a:*")), 1, "kept in Redis")
        e = await self.process("e", HistoryLimits(5))  # alone, without --history-private: they are deleted
        self.assertEqual(await self.admin.keys("*:history:a:*"), [])
        await e.stop()

    async def test_a_line_redacted_is_gone_from_redis(self) -> None:
        private = HistoryLimits(5, private=True)
        for name in ("owen", "pia"):
            await self.accounts.change(name, adding(name, hashed_password(name, f"{name}'s secret")))
        a, b = await self.process("a", private), await self.process("b", private)
        _, on_a = await self.member(a.chat, "owen", "owen")
        pia, on_b = await self.member(b.chat, "pia", "pia")
        b.chat.private(pia, "owen", "a secret")
        b.chat.private(pia, "owen", "kept")
        await on_a.until(told(PrivateMessage("pia", "owen", "kept")))
        [secret, _] = (await b.chat.private_history(pia, "owen", "latest", "", 10)).messages
        b.chat.redact_private(pia, "owen", secret.id)  # on the process that does not write
        await on_a.until(told(Redacted("owen", "pia", (secret.id,), private=True)))
        await self.everyone_read(b.chat, pia, on_a, on_b)
        assert a.history is not None
        await a.history.flush()
        for process in (b, a):
            await process.stop()
        c = await self.process("c", private)  # alone: it starts from Redis
        back, _ = await self.member(c.chat, "owen", "owen")
        kept = (await c.chat.private_history(back, "pia", "latest", "", 10)).messages
        self.assertEqual([line.text for line in kept], ["kept"])
        await c.stop()

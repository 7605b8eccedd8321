"""Each room's history rule (issue 28): off, since-join or all, how long, the join notice, export, forget and
/redact mine, in the core and in each front end."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from chatroom.core.errors import ChatError
from chatroom.core.events import Event, History, KeptNotice, Message, Redacted
from chatroom.core.history import HistoryLimits
from chatroom.core.moderation import RoomSettings
from chatroom.core.rules import keeps, parse_keep
from chatroom.core.state import MemoryHistoryStore, RoomRecord, StoreError
from chatroom.stores.accounts import AccountStore
from chatroom.stores.rooms import FileRoomStore
from tests.helpers import LineClient, ServerTestCase
from tests.test_client import CLIENT
from tests.test_history import ChatTestCase
from tests.test_irc import IRCServer, tags_of
from tests.test_redis import told
from tests.test_stores import PREFIX, RedisStoresTestCase
from tests.test_twistd import LISTENING, TWISTD

DAY = 86400.0


class RecordingStore(MemoryHistoryStore):
    """A HistoryStore that remembers what it was told, as (kind, room, what)."""

    def __init__(self) -> None:
        self.changes: list[tuple[str, str, object]] = []

    def said(self, room: str, message: Message, kept: bool = True) -> None:
        self.changes.append(("said", room, message.text if kept else ""))  # as a store writes it (rules.unkept)

    def redacted(self, room: str, ids: list[str], nick: str = "") -> None:
        self.changes.append(("redacted", room, tuple(ids)))

    def cleared(self, room: str) -> None:
        self.changes.append(("cleared", room, None))

    def ended(self, room: str) -> None:
        self.changes.append(("ended", room, None))


def texts(history: History) -> list[str]:
    return [message.text for message in history.messages]


def notices(events: list[Event]) -> list[str]:
    return [event.text for event in events if isinstance(event, KeptNotice)]


class RuleWordsTests(SynchronousTestCase):
    def test_what_a_joiner_is_told(self) -> None:
        server = HistoryLimits(lines=1000, age=0.0)
        self.assertEqual(keeps(server, RoomSettings()), "this room keeps the last 1000 lines of history")
        self.assertEqual(keeps(server, RoomSettings(keep_age=30 * DAY)), "this room keeps 30 days of history")
        self.assertEqual(keeps(server, RoomSettings(keep_lines=5000)), "this room keeps the last 1000 lines of history")
        self.assertEqual(
            keeps(server, RoomSettings(keep_lines=50, keep_age=2 * 3600)),
            "this room keeps the last 50 lines and at most 2 hours of history",
        )
        self.assertEqual(
            keeps(server, RoomSettings(history="since-join")),
            "this room keeps the last 1000 lines of history, each member's since they joined",
        )
        self.assertEqual(keeps(server, RoomSettings(history="off")), "")
        self.assertEqual(keeps(HistoryLimits(lines=0), RoomSettings()), "", "a server keeping nothing")

    def test_keep_takes_lines_a_time_or_default(self) -> None:
        self.assertEqual(parse_keep("5000"), (5000, 0.0))
        self.assertEqual(parse_keep("5000 lines"), (5000, 0.0))
        self.assertEqual(parse_keep("30d"), (0, 30 * DAY))
        self.assertEqual(parse_keep("default"), (0, 0.0))
        for bad in ("0", "lots", "-5", "30x"):
            self.assertEqual(self.assertRaises(ChatError, parse_keep, bad).key, "BAD_RULE:keep", bad)


class CoreRuleTests(ChatTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.store = RecordingStore()
        self.chat = self.make(HistoryLimits(lines=100))
        self.chat.history_store = self.store

    def test_since_join_hides_what_was_said_before_in_every_query(self) -> None:
        alice, _ = self.member("alice", "5")
        self.chat.set_history_rule(alice, "5", "history", "since-join")
        self.say(alice, "before 1", "before 2")
        bob, session = self.member("bob", "5")
        self.assertEqual(self.shown(session.take()), [("lost=0",)], "no lines to show him on joining")
        self.say(alice, "after 1", "after 2")
        self.assertEqual(texts(self.kept(bob, "5")), ["after 1", "after 2"])
        first = self.kept(alice, "5").messages[0]
        self.assertEqual(texts(self.kept(bob, "5", "after", first.id, 10)), ["after 1", "after 2"])
        self.assertEqual(texts(self.kept(bob, "5", "around", first.id, 10)), ["after 1", "after 2"])
        last = self.kept(alice, "5").messages[-1]
        self.assertEqual(texts(self.kept(bob, "5", "before", last.id, 10)), ["after 1"])
        self.assertEqual(len(self.kept(alice, "5").messages), 4, "alice was there all along")
        self.chat.part(bob, "5")
        self.chat.join(bob, "5")
        self.assertEqual(texts(self.kept(bob, "5")), [], "a new stay starts anew")

    def test_since_join_hides_a_line_said_before_the_join_within_the_same_millisecond(self) -> None:
        """Lines keep their time to the millisecond: one said a fraction of a millisecond before someone joined is
        still from before their stay (seen with two processes through Redis, where both fit in one millisecond)."""
        alice, _ = self.member("alice", "5")
        self.chat.set_history_rule(alice, "5", "history", "since-join")
        self.clock.advance(0.0002)
        self.chat.say(alice, "5", "just before bob came")
        self.clock.advance(0.0005)
        bob, _ = self.member("bob", "5")
        self.assertEqual(texts(self.kept(bob, "5")), [])
        self.clock.advance(0.0001)
        self.chat.say(alice, "5", "just after")
        self.assertEqual(texts(self.kept(alice, "5")), ["just before bob came", "just after"])

    def test_since_join_counts_an_accounts_earliest_join_still_there(self) -> None:
        alice, _ = self.member("alice", "5")
        self.chat.set_history_rule(alice, "5", "history", "since-join")
        laptop, _ = self.member("ann", "5", account="ann")
        self.say(alice, "while ann's laptop was there")
        phone, _ = self.member("ann_phone", "5", account="ann")
        self.assertEqual(texts(self.kept(phone, "5")), ["while ann's laptop was there"])
        room = self.chat.rooms["5"]
        self.assertEqual(self.chat.readable_from(phone, room), self.chat.readable_from(laptop, room))
        guest, _ = self.member("guest", "5")
        self.assertEqual(texts(self.kept(guest, "5")), [])
        outsider, _ = self.member("outsider")
        self.assertEqual(self.chat.readable_from(outsider, room), float("inf"))

    def test_targets_leave_out_a_room_whose_last_line_is_hidden(self) -> None:
        alice, _ = self.member("alice", "5")
        self.chat.set_history_rule(alice, "5", "history", "since-join")
        self.say(alice, "before")
        bob, _ = self.member("bob", "5")
        self.assertEqual(self.chat.history_targets(bob, "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z", 10), [])
        self.assertEqual(len(self.chat.history_targets(alice, "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z", 10)), 1)

    def test_everyone_joining_is_told_what_the_room_keeps_and_a_change_is_told_to_all(self) -> None:
        alice, alices = self.member("alice", "5")
        self.assertEqual(notices(alices.take()), ["this room keeps the last 100 lines of history"])
        self.chat.set_history_rule(alice, "5", "keep", "30d")
        [told] = [event for event in alices.take() if isinstance(event, KeptNotice)]
        self.assertEqual(told, KeptNotice("#5", "alice", "this room keeps 30 days of history", ("keep=30d",)))
        _, bobs = self.member("bob", "5")
        self.assertEqual(notices(bobs.take()), ["this room keeps 30 days of history"])
        self.assertIn("keep=30d", self.chat.room_info(alice, "5").settings)
        self.chat.set_history_rule(alice, "5", "history", "off")
        _, carols = self.member("carol", "5")
        self.assertEqual(notices(carols.take()), [], "nothing is said of a room keeping nothing")

    def test_a_shorter_keep_drops_at_once_from_memory_and_the_store(self) -> None:
        alice, _ = self.member("alice", "5")
        self.say(alice, "1", "2", "3", "4")
        ids = [message.id for message in self.kept(alice, "5").messages]
        self.store.changes.clear()
        self.chat.set_history_rule(alice, "5", "keep", "2")
        self.assertEqual(texts(self.kept(alice, "5")), ["3", "4"])
        self.assertEqual(self.store.changes, [("redacted", "5", tuple(ids[:2]))])
        self.store.changes.clear()
        self.say(alice, "5")
        self.assertEqual(texts(self.kept(alice, "5")), ["4", "5"])
        self.assertEqual(self.store.changes, [("said", "5", "5"), ("redacted", "5", (ids[2],))])

    def test_an_age_keeps_no_older_line(self) -> None:
        alice, _ = self.member("alice", "5")
        self.say(alice, "old")
        self.clock.advance(2 * 3600)
        self.say(alice, "new")
        self.chat.set_history_rule(alice, "5", "keep", "1h")
        self.assertEqual(texts(self.kept(alice, "5")), ["new"])

    def test_off_keeps_nothing_and_the_store_never_gets_the_text(self) -> None:
        alice, _ = self.member("alice", "5")
        self.say(alice, "kept before")
        self.store.changes.clear()
        self.chat.set_history_rule(alice, "5", "history", "off")
        self.say(alice, "never kept")
        self.assertEqual(texts(self.kept(alice, "5")), [])
        self.assertEqual(self.store.changes, [("cleared", "5", None), ("said", "5", "")], "counted, not written")

    def test_only_operators_change_the_rule_and_only_the_owner_forgets(self) -> None:
        alice, _ = self.member("alice", "5")
        bob, _ = self.member("bob", "5")
        error = self.assertRaises(ChatError, self.chat.set_history_rule, bob, "5", "history", "off")
        self.assertEqual(error.code, "NOT_OPERATOR")
        self.assertEqual(self.assertRaises(ChatError, self.chat.forget, alice, "5").code, "NOT_OWNER")
        self.assertEqual(
            self.assertRaises(ChatError, self.chat.set_history_rule, alice, "5", "history", "some").key,
            "BAD_RULE:rule",
        )

    def test_the_owner_forgets_everything(self) -> None:
        owen, session = self.member("owen", "5", account="owen")
        self.accounts.accounts["owen"] = False
        self.chat.register_room(owen, "5")
        self.say(owen, "one", "two")
        session.take()
        self.chat.forget(owen, "5")
        self.assertEqual(session.take(), [Redacted("#5", "owen", ())])
        self.assertEqual(texts(self.kept(owen, "5")), [])
        self.assertEqual(self.store.changes[-1], ("cleared", "5", None))

    def test_redact_mine_erases_ones_own_lines_where_the_room_allows_it(self) -> None:
        alice, _ = self.member("alice", "5")
        bob, session = self.member("bob", "5")
        self.say(bob, "mine 1")
        self.say(alice, "hers")
        self.say(bob, "mine 2")
        session.take()
        self.chat.redact_mine(bob, "5")
        [redacted] = session.take()
        assert isinstance(redacted, Redacted)
        self.assertEqual(len(redacted.ids), 2)
        self.assertEqual(texts(self.kept(bob, "5")), ["hers"])
        self.chat.set_history_rule(alice, "5", "redact-mine", "off")
        self.say(bob, "mine 3")
        self.assertEqual(self.assertRaises(ChatError, self.chat.redact_mine, bob, "5").key, "NOT_ALLOWED:redact_mine")
        own = self.kept(bob, "5").messages[-1].id
        self.assertEqual(self.assertRaises(ChatError, self.chat.redact, bob, "5", own).code, "NOT_OPERATOR")

    def test_export_is_exactly_what_is_kept_for_an_operator(self) -> None:
        alice, _ = self.member("alice", "5")
        bob, _ = self.member("bob", "5")
        self.say(alice, "1", "2", "3")
        self.chat.set_history_rule(alice, "5", "keep", "2")
        exported = self.successResultOf(self.chat.export(alice, "5"))
        self.assertEqual([message.text for message in exported.messages], ["2", "3"])
        self.assertEqual(self.assertRaises(ChatError, self.chat.export, bob, "5").code, "NOT_OPERATOR")

    def test_the_rule_is_saved_with_a_registered_room(self) -> None:
        path = Path(self.mktemp())
        store = FileRoomStore(path)
        settings = RoomSettings(history="since-join", keep_lines=500, keep_age=7 * DAY, redact_mine=False)
        store.save_room(RoomRecord("#5", "owen", (), settings))
        [loaded] = FileRoomStore(path).load().rooms
        self.assertEqual(loaded.settings, settings)
        document = json.loads(path.read_text())
        del document["rooms"]["#5"]["settings"]["history"]  # a file written before rules existed
        path.write_text(json.dumps(document))
        self.assertEqual(FileRoomStore(path).load().rooms[0].settings.history, "all")
        document["rooms"]["#5"]["settings"]["keep_lines"] = -5
        path.write_text(json.dumps(document))
        self.assertRaises(StoreError, FileRoomStore(path).load)


class LineAndIRCTests(SynchronousTestCase):
    """Both front ends in memory, on one chat keeping 100 lines."""

    def setUp(self) -> None:
        self.server = IRCServer(history=100)
        self.server.clock.advance(1_800_000_000)
        self.line = self.server.connect("carol", "5")  # the room's operator: she opened it

    def say(self, *texts: str) -> None:
        for text in texts:
            self.server.clock.advance(1)
            self.line.type(text)

    def test_line_protocol_rule_notice_and_refusal(self) -> None:
        self.assertEqual(
            self.line.type("/room history since-join"),
            ["KEEPS #5 carol history=since-join :this room keeps the last 100 lines of history, each member's"
             " since they joined"],
        )  # fmt: skip
        self.say("before dave")
        self.server.clock.advance(1)
        dave = self.server.connect("dave")
        joined = dave.type("/join 5")
        self.assertIn(
            "KEEPS #5 * history=since-join :this room keeps the last 100 lines of history, each member's since they"
            " joined",
            joined,
        )
        self.assertFalse([line for line in joined if "before dave" in line])
        self.assertEqual(dave.type("/history"), ["HISTORY #5 0 0"])
        refused = dave.type("/room keep 30d")
        self.assertEqual(len(refused), 1)
        self.assertTrue(refused[0].startswith("ERR NOT_OPERATOR "), refused)

    def test_irc_join_notice_chathistory_and_the_room_command(self) -> None:
        self.line.type("/room history since-join")
        self.say("before alice")
        self.server.clock.advance(1)
        alice = self.server.irc("alice", caps="batch server-time message-tags draft/chathistory")
        joined = alice.type("JOIN #5")
        notice = ":chatroom NOTICE #5 :this room keeps the last 100 lines of history, each member's since they joined"
        self.assertTrue(joined[-1].endswith(" " + notice), "after the join burst")
        self.assertEqual(alice.type("CHATHISTORY LATEST #5 * 10"), [":chatroom BATCH +1 chathistory #5",
                                                                    ":chatroom BATCH -1"])  # fmt: skip
        refused = alice.type("ROOM #5 history all")
        self.assertEqual(len(refused), 1)
        self.assertIn(" 482 alice #5 :", refused[0])
        self.line.type("/op alice")
        alice.read()
        self.assertEqual(
            alice.type("ROOM #5 keep 30d"),
            ["@time=2027-01-15T08:00:02.000Z :chatroom NOTICE #5 :alice changed the history rule: this room keeps 30"
             " days of history, each member's since they joined"],
        )  # fmt: skip

    def test_redact_mine_with_nothing_to_remove_says_so(self) -> None:
        """It was done without a word: the person could not tell that nothing of theirs was kept."""
        nothing = ["ERR NO_SUCH_MESSAGE :#5 keeps no line of yours: nothing was removed"]
        self.assertEqual(self.line.type("/redact mine"), nothing)
        self.say("mine")
        [removed] = self.line.type("/redact mine")
        self.assertRegex(removed, r"^REDACT #5 carol \S+$")
        self.assertEqual(self.line.type("/redact mine"), nothing, "once removed, there is nothing more")

    def test_irc_a_member_redacts_their_own_line_and_the_room_is_told(self) -> None:
        alice = self.server.irc("alice", "#5", caps="message-tags echo-message draft/message-redaction")
        self.server.irc("bob", "#5")
        alice.read()
        self.server.clock.advance(1)
        alice.send(b"PRIVMSG #5 :oops\r\n")
        [echoed] = alice.read(stamps=True)
        msgid = tags_of(echoed)["msgid"]
        self.assertEqual(alice.type(f"REDACT #5 {msgid}"), [f":alice!alice@chatroom REDACT #5 {msgid}"])
        carol = self.server.chat.nicks["carol"]
        self.assertEqual(texts(self.successResultOf(self.server.chat.history(carol, "5"))), [])


class StoreTests(ServerTestCase):
    """The real service, over TLS, on an SQLite history file, stopped and started as an administrator does."""

    def setUp(self) -> None:
        state = Path(self.mktemp()).resolve()
        state.mkdir()
        AccountStore(state / "accounts.db").add("owen", "owen's secret")
        self.files = ["--accounts", str(state / "accounts.db"), "--rooms", str(state / "rooms.json")]
        self.history = state / "history.sqlite"

    async def owen(self) -> LineClient:
        owen = await self.connect("owen")
        owen.send("/pass owen's secret", "/join club")
        await owen.until("NAMES #club @owen")
        return owen

    def on_disk(self) -> bytes:
        return b"".join(path.read_bytes() for path in self.history.parent.glob(self.history.name + "*"))

    async def test_the_rule_survives_a_restart_and_hides_earlier_lines(self) -> None:
        self.start_server("--history", "20", *self.files)
        owen = await self.owen()
        owen.send("/room register", "/room history since-join", "said before the restart", "/ping said")
        await owen.until("PONG :said")
        await self.served.stopService()

        self.start_server("--history", "20", *self.files)
        owen = await self.owen()
        bob = await self.connect("bob")
        bob.send("/join club")
        notice, _ = await bob.until("KEEPS #club ")
        self.assertEqual(
            notice,
            "KEEPS #club * history=since-join :this room keeps the last 20 lines of history, each member's since"
            " they joined",
        )
        bob.send("/history", "/ping done")
        _, shown = await bob.until("PONG :done")
        self.assertEqual([line for line in shown if line.startswith("SAID")], [])
        owen.send("/history", "/ping hidden")
        _, shown = await owen.until("PONG :hidden")
        self.assertEqual([line.partition(" :")[2] for line in shown if line.startswith("SAID")],
                         ["said before the restart"] * 2,
                         "owen's stay went on across the restart: shown as he joined, and by /history")  # fmt: skip
        owen.send("/part club", "/join club", "/history", "/ping done")
        _, shown = await owen.until("PONG :done")
        self.assertEqual([line for line in shown if line.startswith("SAID")], [], "a part ended it")
        owen.send("/room history all", "/history", "/ping done")
        _, shown = await owen.until("PONG :done")
        self.assertEqual([line.partition(" :")[2] for line in shown if line.startswith("SAID")],
                         ["said before the restart"])  # fmt: skip

    async def test_the_rule_outlives_a_real_twistd_restart(self) -> None:
        self.certs = Path(self.mktemp()).resolve()
        command = [TWISTD, "-n", "--pidfile=", "chatroom", "--certs", str(self.certs), "--listen",
                   "tcp:0:interface=127.0.0.1", "--no-irc", "--no-web", "--history", "20", *self.files]  # fmt: skip
        for life in ("first", "second"):
            process = self.spawn(command)
            self.port = int((await process.until(LISTENING)).group(1))
            owen = await self.owen()
            if life == "first":
                owen.send("/room register", "/room keep 12h", "said in the first life", "/ping said")
                await owen.until("PONG :said")
            else:
                notice, _ = await owen.until("KEEPS #club ")
                self.assertEqual(notice, "KEEPS #club * keep=12h :this room keeps 12 hours of history")
                _, shown = await owen.until("HISTORY #club ")  # the lines joining shows, after KEEPS
                self.assertEqual([line.partition(" :")[2] for line in shown], ["said in the first life"])
            process.transport.signalProcess("TERM")
            await process.ended

    async def test_forget_and_redact_mine_remove_the_text_from_the_file(self) -> None:
        self.start_server("--history", "20", *self.files)
        owen = await self.owen()
        owen.send("/room register", "the secret plan", "/ping said")
        await owen.until("PONG :said")
        bob = await self.connect("bob", "club")
        bob.send("bob's regret", "also kept", "/ping said")
        await bob.until("PONG :said")
        bob.send("/redact mine")
        await bob.until("REDACT #club bob ")
        owen.send("/room forget")
        await owen.until("REDACT #club owen *")
        await self.served.stopService()  # every change written, the file checkpointed and closed
        found = self.on_disk()
        for text in (b"the secret plan", b"bob's regret", b"also kept"):
            self.assertNotIn(text, found)
        with sqlite3.connect(self.history) as db:
            self.assertEqual(db.execute("SELECT count(*) FROM lines").fetchone(), (0,))

    async def test_off_writes_nothing_to_the_file(self) -> None:
        self.start_server("--history", "20", *self.files)
        owen = await self.owen()
        owen.send("/room register", "/room history off", "not for the record", "/ping said")
        await owen.until("PONG :said")
        await self.served.stopService()
        self.assertNotIn(b"not for the record", self.on_disk())


class ExportTests(ServerTestCase):
    """The real terminal client, on a pseudo-terminal, writing what `/room export` sends."""

    async def test_export_writes_exactly_what_is_kept_to_two_files(self) -> None:
        self.start_server("--history", "3")
        config, exports = Path(self.mktemp()).resolve(), Path(self.mktemp()).resolve()
        exports.mkdir()
        alice = self.spawn(
            [*CLIENT, "127.0.0.1", "--port", str(self.port), "--ca", str(self.certs / "ca.pem"), "--nick", "alice",
             "--room", "5", "--export-dir", str(exports)],
            terminal=True, XDG_CONFIG_HOME=str(config), NO_COLOR="1",
        )  # fmt: skip
        await alice.until(r"\[#5\] -- here: @alice")
        alice.type("one\rtwo\r/me three\rfour\r")
        await alice.until(r"<alice> four")
        alice.type("/room export\r")
        found = await alice.until(r"exported 3 lines of #5 to (\S+)\.txt\s+and its \.json")
        text, data = Path(found.group(1) + ".txt"), Path(found.group(1) + ".json")
        self.assertEqual(text.parent, exports)
        lines = text.read_text().splitlines()
        self.assertEqual([line.split(" ", 1)[1] for line in lines], ["<alice> two", "* alice three", "<alice> four"])
        document = json.loads(data.read_text())
        self.assertEqual(document["room"], "#5")
        self.assertEqual([(said["text"], said["action"]) for said in document["lines"]],
                         [("two", False), ("three", True), ("four", False)])  # fmt: skip
        self.assertEqual(text.stat().st_mode & 0o777, 0o600)
        alice.type("/quit\r")
        await alice.exit_code()


class SharedRuleTests(RedisStoresTestCase):
    """Processes with --history 5 sharing a real Redis: a rule set on one holds on every replica and in Redis."""

    async def test_a_rule_replicates_and_prunes_redis_too(self) -> None:
        a, b = await self.process("a", HistoryLimits(5)), await self.process("b", HistoryLimits(5))
        owen, heard_by_owen = await self.member(a.chat, "owen")  # opens #5: its operator
        bob, heard_by_bob = await self.member(b.chat, "bob")
        a.chat.set_history_rule(owen, "5", "history", "since-join")
        await heard_by_bob.until(lambda events: any(isinstance(event, KeptNotice) for event in events))
        for number in range(3):
            b.chat.say(bob, "5", f"bob {number}")
            await heard_by_owen.until(told(Message("#5", "bob", f"bob {number}")))
        carol, heard_by_carol = await self.member(b.chat, "carol")
        self.assertEqual((await b.chat.history(carol, "5")).messages, (), "since she joined, on the other process")
        self.assertEqual(len((await b.chat.history(bob, "5")).messages), 3)
        a.chat.set_history_rule(owen, "5", "keep", "2")

        def kept_two(events: list[Event]) -> bool:
            return any(getattr(event, "rule", ()) == ("history=since-join", "keep=2") for event in events)

        await heard_by_carol.until(kept_two)
        await heard_by_owen.until(kept_two)  # applied on `a` as well, which writes Redis: its prune is queued
        self.assertEqual([said.text for said in (await b.chat.history(bob, "5")).messages], ["bob 1", "bob 2"])
        assert a.history is not None
        await a.history.flush()
        kept = [json.loads(line)[1] for line in await self.admin.lrange(f"{PREFIX}:history:5", 0, -1)]
        self.assertEqual(kept, ["bob 1", "bob 2"])
        c = await self.process("c", HistoryLimits(5))  # from a snapshot
        self.assertEqual(c.chat.rooms["5"].settings.keep_lines, 2)
        self.assertEqual(c.chat.rooms["5"].settings.history, "since-join")
        carol_there = c.chat.nicks["carol"]
        self.assertEqual((await c.chat.history(carol_there, "5")).messages, (), "her join time came with the snapshot")
        for process in (c, b, a):
            await process.stop()

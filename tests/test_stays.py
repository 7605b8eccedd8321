"""A since-join room's readers keep their stay (issue 28): an account's begins at its first join and ends only as it
leaves the room (a part, a kick, the room's end), across disconnections and, kept in the history store, restarts."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from twisted.internet import task
from twisted.trial.unittest import TestCase

from chatroom.core.chat import Chat
from chatroom.core.events import Message, Parted
from chatroom.core.history import HistoryLimits, timestamp
from chatroom.core.members import Member, RoomLimits
from chatroom.core.state import MemoryHistoryStore, MemoryRoomStore
from chatroom.stores.accounts import AccountStore, adding, hashed_password
from chatroom.stores.history import SqliteHistory
from tests.helpers import LineClient, ServerTestCase
from tests.test_history import ChatTestCase
from tests.test_history_file import START, THREADS
from tests.test_history_policy import texts
from tests.test_moderation import Directory
from tests.test_redis import told
from tests.test_shared_history import KEPT
from tests.test_stores import PREFIX, Process, RedisStoresTestCase


class KeptStays(MemoryHistoryStore):
    """A history store that keeps only the stays, in memory, as the SQLite file and Redis keep them."""

    def __init__(self) -> None:
        self.stays: dict[str, dict[str, str]] = {}

    def load_stays(self) -> dict[str, dict[str, str]]:
        return {room: dict(stays) for room, stays in self.stays.items()}

    def stayed(self, room: str, account: str, time: str) -> None:
        self.stays.setdefault(room, {})[account] = time

    def left(self, room: str, account: str) -> None:
        del self.stays[room][account]
        if not self.stays[room]:
            del self.stays[room]


class CoreStayTests(ChatTestCase):
    """The core on a fake clock, restarted as a new Chat on the same stores."""

    def setUp(self) -> None:
        self.rooms = MemoryRoomStore()
        self.written = KeptStays()
        super().setUp()
        self.accounts = Directory(owen=False, ann=False)
        self.chat = self.make(HistoryLimits(lines=100))
        self.owen, _ = self.member("owen", "5", account="owen")
        self.chat.register_room(self.owen, "5")
        self.chat.set_history_rule(self.owen, "5", "history", "since-join")

    def make(self, limits: HistoryLimits) -> Chat:
        return Chat(RoomLimits(), self.accounts, self.rooms, self.clock.seconds, limits, self.written, self.clock)

    def restart(self) -> None:
        self.chat.close("restarting")
        self.chat = self.make(HistoryLimits(lines=100))
        self.owen, _ = self.member("owen", "5", account="owen")

    def read(self, member: Member) -> list[str]:
        return texts(self.kept(member, "5"))

    def test_an_accounts_stay_outlives_its_sessions_and_a_restart_until_it_parts(self) -> None:
        self.say(self.owen, "before ann")
        ann, _ = self.member("ann", "5", account="ann")
        first_join = self.clock.seconds()
        self.say(self.owen, "while ann was there")
        self.chat.quit(ann, "bye")
        self.say(self.owen, "while ann was away")
        ann, _ = self.member("ann", "5", account="ann")
        self.assertEqual(self.read(ann), ["while ann was there", "while ann was away"])
        self.restart()  # this store keeps no lines, only stays: the SQLite file's lines are ServerStayTests'
        ann, _ = self.member("ann", "5", account="ann")
        self.assertEqual(self.chat.readable_from(ann, self.chat.rooms["5"]), first_join)
        self.chat.part(ann, "5")
        self.clock.advance(1)
        self.chat.join(ann, "5")
        self.assertEqual(self.read(ann), [], "a part ends the stay: the next join begins one")
        self.assertEqual(self.written.stays["5"]["ann"], timestamp(self.clock.seconds()))
        self.say(self.owen, "after ann's part")
        self.assertEqual(self.read(ann), ["after ann's part"])

    def test_a_guests_stay_is_their_present_one(self) -> None:
        bob, _ = self.member("bob", "5")
        self.say(self.owen, "while bob was there")
        self.assertEqual(self.read(bob), ["while bob was there"])
        self.chat.quit(bob, "bye")
        bob, _ = self.member("bob", "5")
        self.assertEqual(self.read(bob), [])
        self.assertEqual(set(self.written.stays["5"]), {"owen"}, "a guest's stay is never written")

    def test_a_kick_ends_a_stay_and_a_second_nickname_keeps_it(self) -> None:
        self.chat.limits = RoomLimits(sessions_per_person=1)  # else the phone's login joins ann: one person
        laptop, _ = self.member("ann", "5", account="ann")
        self.say(self.owen, "seen by ann")
        phone, _ = self.member("ann_phone", "5", account="ann")  # a second person of the account
        self.assertIsNot(phone, laptop)
        self.chat.part(laptop, "5")
        self.assertEqual(self.read(phone), ["seen by ann"], "the account is still there, on its phone")
        self.chat.kick(self.owen, "5", "ann_phone")
        self.assertNotIn("ann", self.written.stays["5"])
        self.chat.join(phone, "5")
        self.assertEqual(self.read(phone), [])

    def test_a_login_makes_a_guests_stay_the_accounts(self) -> None:
        guest, _ = self.member("guest", "5")
        self.say(self.owen, "seen as a guest")
        self.chat.rename(guest, "ann", "ann")
        self.chat.quit(guest, "bye")
        ann, _ = self.member("ann", "5", account="ann")
        self.assertEqual(self.read(ann), ["seen as a guest"])

    def test_only_registered_rooms_stays_are_written_and_unregistering_deletes_them(self) -> None:
        self.chat.join(self.owen, "6")
        ann, _ = self.member("ann", "6", account="ann")
        self.assertNotIn("6", self.written.stays, "an unregistered room's stays end with it")
        self.chat.register_room(self.owen, "6")
        self.assertEqual(set(self.written.stays["6"]), {"owen", "ann"}, "written as the room is registered")
        self.chat.drop_room(self.owen, "6")
        self.assertNotIn("6", self.written.stays)
        self.chat.quit(ann, "bye")
        self.assertIn("ann", self.chat.rooms["6"].stays, "still an account's stay while the room lasts")


class SqliteStayTests(TestCase):
    """The SQLite file's `stays` table, written by the store's own thread as the server runs it."""

    def store(self, path: Path) -> SqliteHistory:
        clock = task.Clock()
        clock.advance(START)
        return SqliteHistory(path, HistoryLimits(lines=100), THREADS, clock)

    async def test_stays_are_loaded_back_and_deleted_when_they_end(self) -> None:
        path = Path(self.mktemp())
        history = self.store(path)
        self.assertEqual(history.load(), {})
        history.startService()
        self.addCleanup(lambda: history.stopService() if history.running else None)
        history.stayed("5", "ann", "2027-01-15T08:00:00.000Z")
        history.stayed("5", "owen", "2027-01-15T07:00:00.000Z")
        history.stayed("6", "ann", "2027-01-15T09:00:00.000Z")
        history.left("6", "ann")
        await history.stopService()
        restarted = self.store(path)
        restarted.load()
        self.assertEqual(
            restarted.load_stays(), {"5": {"ann": "2027-01-15T08:00:00.000Z", "owen": "2027-01-15T07:00:00.000Z"}}
        )
        with contextlib.closing(sqlite3.connect(path)) as db:
            self.assertEqual(db.execute("SELECT count(*) FROM stays WHERE room = '6'").fetchone(), (0,))


class ServerStayTests(ServerTestCase):
    """The real service over TLS on an SQLite history file, stopped and started again as an administrator does."""

    def setUp(self) -> None:
        state = Path(self.mktemp()).resolve()
        state.mkdir()
        accounts = AccountStore(state / "accounts.db")
        for account in ("owen", "ann"):
            accounts.add(account, f"{account}'s secret")
        self.files = ["--accounts", str(state / "accounts.db"), "--rooms", str(state / "rooms.json")]

    async def login(self, nick: str) -> LineClient:
        """`nick`, logged in to the account of that name, in #club, past what joining showed."""
        client = await self.connect(nick)
        client.send(f"/pass {nick}'s secret", "/join club", "/ping joined")
        await client.until("PONG :joined")
        return client

    @staticmethod
    async def read(client: LineClient) -> list[str]:
        client.send("/history", "/ping read")
        _, shown = await client.until("PONG :read")
        return [line.partition(" :")[2] for line in shown if line.startswith("SAID ")]

    @staticmethod
    async def say(client: LineClient, *lines: str) -> None:
        client.send(*lines, "/ping said")
        await client.until("PONG :said")

    @staticmethod
    async def quit(client: LineClient) -> None:
        client.send("/quit")
        await client.lost

    async def test_an_account_reads_its_whole_stay_across_a_disconnection_and_a_restart_until_it_parts(self) -> None:
        self.start_server("--history", "20", *self.files)
        owen = await self.login("owen")
        await self.say(owen, "/room register", "/room history since-join", "before ann")
        ann = await self.login("ann")
        await self.say(owen, "while ann was there")
        await self.quit(ann)
        await self.say(owen, "while ann was away")
        ann = await self.login("ann")
        self.assertEqual(await self.read(ann), ["while ann was there", "while ann was away"])
        bob = await self.connect("bob", "club")  # a guest
        await self.say(owen, "while bob was there")
        await self.quit(bob)
        bob = await self.connect("bob", "club")
        self.assertEqual(await self.read(bob), [], "a guest's stay is their present one")
        await self.served.stopService()  # the history file's writer last: every change written, the file closed

        self.start_server("--history", "20", *self.files)
        owen = await self.login("owen")
        await self.say(owen, "after the restart")
        ann = await self.login("ann")
        self.assertEqual(
            await self.read(ann),
            ["while ann was there", "while ann was away", "while bob was there", "after the restart"],
            "her stay went on across the restart; never what was said before it began",
        )
        await self.say(ann, "/part club", "/join club")
        self.assertEqual(await self.read(ann), [], "a part ends her stay: the next join begins one")
        await self.say(owen, "after ann's part")
        self.assertEqual(await self.read(ann), ["after ann's part"])


class RedisStayTests(RedisStoresTestCase):
    """Processes sharing a real Redis (--redis): stays replicate, go into a snapshot and into PREFIX:stays."""

    async def stays(self, process: Process) -> dict[bytes, bytes]:
        """PREFIX:stays once `process`, the writer, has written what it holds."""
        assert process.history is not None
        await process.history.flush()
        found: dict[bytes, bytes] = await self.admin.hgetall(f"{PREFIX}:stays")
        return found

    async def test_a_stay_outlives_every_process_until_it_parts(self) -> None:
        for account in ("owen", "ann"):
            await self.accounts.change(account, adding(account, hashed_password(account, f"{account}'s secret")))
        a, b = await self.process("a", KEPT), await self.process("b", KEPT)
        owen, _ = await self.member(a.chat, "owen", "owen")  # opens #5: its operator
        a.chat.register_room(owen, "5")
        a.chat.set_history_rule(owen, "5", "history", "since-join")
        a.chat.say(owen, "5", "before ann")
        ann, heard_by_ann = await self.member(b.chat, "ann", "ann")
        a.chat.say(owen, "5", "while ann was there")
        await heard_by_ann.until(told(Message("#5", "owen", "while ann was there")))
        owen_key, ann_key = (b.chat.kept_as(account) for account in ("owen", "ann"))  # with their identities
        started = b.chat.rooms["5"].stays[ann_key]
        self.assertEqual(a.chat.rooms["5"].stays, {owen_key: a.chat.rooms["5"].stays[owen_key], ann_key: started})
        self.assertEqual((await self.stays(a))[f"5 {ann_key}".encode()], timestamp(started).encode())
        c = await self.process("c", KEPT)  # from a snapshot
        self.assertEqual(c.chat.rooms["5"].stays, a.chat.rooms["5"].stays)
        for process in (c, b, a):
            await process.stop()

        d = await self.process("d", KEPT)  # alone: it starts from Redis
        self.assertEqual(timestamp(d.chat.rooms["5"].stays[ann_key]), timestamp(started))  # kept to the millisecond
        ann, heard_by_ann = await self.member(d.chat, "ann", "ann")
        self.assertEqual(texts(await d.chat.history(ann, "5")), ["while ann was there"])
        d.chat.part(ann, "5")
        await heard_by_ann.until(lambda events: any(isinstance(event, Parted) for event in events))
        self.assertNotIn(f"5 {ann_key}".encode(), await self.stays(d))
        await d.stop()

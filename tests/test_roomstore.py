"""Registered rooms and server bans on disk: what a restart finds, and what a damaged file does."""

from __future__ import annotations

import dataclasses
import errno
import json
import math
import os
from pathlib import Path
from unittest.mock import patch

from twisted.logger import formatEvent
from twisted.trial.unittest import SynchronousTestCase

from chatroom.core.events import Topic
from chatroom.core.moderation import Ban, Mask, RoomSettings
from chatroom.core.state import RoomRecord, StoreError
from chatroom.stores.rooms import FileRoomStore
from tests.helpers import observe_log

ROOM = RoomRecord(
    "#Club",
    "owen",
    ("olga",),
    RoomSettings(invite_only=True, key="knight", moderated=True, topic_lock=False, limit=12),
    Topic("#Club", "owen", "chess on tuesdays"),
    (Ban(Mask(nick="troll*"), "owen", "trolling", 1234.5), Ban(Mask(account="eve"), "olga", "", None)),
    topic_time=1_796_000_000.5,  # when the topic was set: IRC's 333 said 0 (1970) after a restart
)


class FileRoomStoreTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.path = Path(self.mktemp()) / "rooms.json"
        self.store = FileRoomStore(self.path)

    def test_a_valid_document_loads(self) -> None:
        """The damaged documents below differ from this one in one value each."""
        self.path.parent.mkdir(parents=True)
        self.path.write_text(self.room_document("#5", owner="owen", limit=0))
        self.assertEqual([room.name for room in self.store.load().rooms], ["#5"])

    def test_what_is_saved_is_what_a_restart_loads(self) -> None:
        self.assertEqual(self.store.load().rooms, [], "no file yet: nothing registered")
        self.store.save_room(ROOM)
        self.store.save_server_bans((Ban(Mask(host="203.0.113.0/24"), "ada", "raid", None),))
        self.assertEqual(os.stat(self.path).st_mode & 0o777, 0o600)
        saved = FileRoomStore(self.path).load()
        self.assertEqual(saved.rooms, [ROOM])
        self.assertEqual(saved.server_bans, [Ban(Mask(host="203.0.113.0/24"), "ada", "raid", None)])
        self.store.drop_room("#club")
        self.assertEqual(FileRoomStore(self.path).load().rooms, [])
        self.assertEqual(len(FileRoomStore(self.path).load().server_bans), 1, "dropping a room keeps the rest")

    def test_two_writers_do_not_undo_each_other(self) -> None:
        """Each change reads the newest file under the lock: another process's change survives."""
        other = FileRoomStore(self.path)
        self.store.save_room(ROOM)
        other.save_room(RoomRecord("#other", "olga"))
        other.save_room(RoomRecord("#club", "olga"))  # the same room, as another process spells it
        self.store.save_room(ROOM)
        self.store.save_server_bans(())
        self.assertEqual(sorted(room.name for room in self.store.load().rooms), ["#Club", "#other"])

    def test_a_change_the_disk_refused_is_written_with_the_next_that_can_be(self) -> None:
        """Each write read the file and changed one room: once space came back, a topic set while the disk was full
        was lost, though its room's next change would have been saved."""
        logged = observe_log(self)
        self.store.save_room(ROOM)
        full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        with patch("chatroom.stores.rooms.replace", side_effect=full):
            topic = Topic("#Club", "olga", "set while the disk was full")
            error = self.assertRaises(StoreError, self.store.save_room, dataclasses.replace(ROOM, topic=topic))
            self.assertIn("No space left on device (the change waits for the next write)", str(error))
            error = self.assertRaises(StoreError, self.store.save_room, RoomRecord("#other", "olga"))
            self.assertIn("(2 changes wait for the next write)", str(error))
        self.assertEqual(FileRoomStore(self.path).load().rooms, [ROOM], "the file as it was")
        self.store.save_server_bans(())
        saved = FileRoomStore(self.path).load().rooms
        self.assertEqual(
            [(room.name, room.topic) for room in saved], [("#Club", topic), ("#other", Topic("#other", "", ""))]
        )
        self.assertIn(f"{self.path} written again, with the changes that had waited", [formatEvent(e) for e in logged])
        self.store.drop_room("#other")
        self.assertEqual([room.name for room in FileRoomStore(self.path).load().rooms], ["#Club"], "then one at a time")

    def test_a_value_no_command_would_set_is_one_line_naming_the_room_and_the_field(self) -> None:
        """A review: a keep_age of NaN or 1e999 loaded and every /join then failed (SERVER_ERROR), a topic with CRLF
        and ESC was sent raw to every joiner (a forged IRC line), and a key "a b:c,", an owner "not a nick!" and
        operators [null, 5] broke ROOM's one-word arguments."""
        self.path.parent.mkdir(parents=True)
        self.store.save_room(ROOM)
        valid = json.loads(self.path.read_text())
        for path, value, error in [
            (("settings", "keep_age"), math.nan, "settings: keep_age nan must be a number from 0 to 315360000"),
            (("settings", "keep_age"), math.inf, "keep_age inf must be a number from 0 to 315360000"),
            (("settings", "keep_lines"), 2.5, "keep_lines 2.5 must be a whole number from 0 to 1000000000"),
            (("settings", "limit"), True, "limit True must be a whole number from 0 to 100000"),
            (
                ("topic", "text"),
                "evil\r\nQUIT :x\x1b[2J",
                "topic 'evil\\r\\nQUIT :x\\x1b[2J' must be text without control",
            ),
            (("topic", "setter"), "two words", "topic's setter 'two words' must be text without control characters or"),
            (("topic", "time"), math.nan, "topic's time nan must be a number"),
            (("settings", "key"), "a b:c,", "key 'a b:c,' must be at most 32 characters, without spaces, ',' or ':'"),
            (("settings", "key"), "k\x1b", "key 'k\\x1b' must be text without control characters"),
            (("owner",), "not a nick!", "owner 'not a nick!' is not a nickname an account can have"),
            (("operators",), [None, 5], "operators None is not a nickname an account can have"),
            (("bans", 0, "reason"), "x\ny", "ban 'troll*!*@*': reason 'x\\ny' must be text without control"),
            (("bans", 0, "since"), math.inf, "ban 'troll*!*@*': since inf must be a number"),
        ]:
            document = json.loads(json.dumps(valid))
            place = document["rooms"]["#Club"]
            for step in path[:-1]:
                place = place[step]
            place[path[-1]] = value
            self.path.write_text(json.dumps(document))
            message = str(self.assertRaises(StoreError, self.store.load))
            self.assertTrue(message.startswith(f"{self.path}: room #Club: "), message)
            self.assertIn(error.removeprefix("settings: "), message)
            self.assertTrue(message.endswith("; correct it, or move it away to start afresh"), message)
            self.assertNotIn("\n", message)
        self.path.write_text(json.dumps(valid))
        self.assertEqual(self.store.load().rooms, [ROOM], "what the commands set loads")

    def test_a_device_a_pipe_or_a_huge_file_is_one_line_unread(self) -> None:
        """Read whole on the reactor with no limit: /dev/zero filled the memory."""
        self.path.parent.mkdir(parents=True)
        self.path.symlink_to("/dev/zero")
        error = self.assertRaises(StoreError, self.store.load)
        self.assertEqual(str(error), f"cannot read {self.path}: not a regular file (a device, a pipe or a socket)")
        self.path.unlink()
        os.mkfifo(self.path)
        self.assertRaises(StoreError, self.store.load)
        self.path.unlink()
        with self.path.open("wb") as huge:
            huge.truncate(64 * 1024 * 1024 + 1)  # sparse: nothing written
        error = self.assertRaises(StoreError, self.store.load)
        self.assertEqual(str(error), f"cannot read {self.path}: larger than 64 MiB, more than such a file can need")

    def test_leftovers_of_a_crashed_write_are_removed(self) -> None:
        self.store.save_room(ROOM)
        leftover = self.path.parent / ".rooms.json.tmp-abandoned"
        leftover.write_text("half a file")
        self.store.drop_room("#Club")
        self.assertFalse(leftover.exists())

    @staticmethod
    def room_document(name: str, owner: str, limit: int, operators: str = "[]") -> str:
        settings = f'{{"invite_only": false, "key": "", "moderated": false, "topic_lock": true, "limit": {limit}}}'
        room = f'{{"owner": "{owner}", "operators": {operators}, "settings": {settings}, "topic": {{"text": "",'
        room += ' "setter": ""}, "bans": []}'
        return f'{{"version": 1, "rooms": {{"{name}": {room}}}, "server_bans": []}}'

    def test_a_damaged_file_is_one_clear_error(self) -> None:
        self.path.parent.mkdir(parents=True)
        for damaged in [
            "{",
            '{"version": 1}',
            '{"version": 9, "rooms": {}, "server_bans": []}',
            "[]",
            '{"version": 1, "rooms": [], "server_bans": []}',
            '{"version": 1, "rooms": {}, "server_bans": [{"mask": "x", "alias": "", "guests": false, "setter": "a",'
            ' "reason": "", "until": 1e300}]}',
            "[" * 100_000,
            self.room_document("#5", owner="", limit=0),
            self.room_document("#5", owner="owen", limit=-1),
            self.room_document("#5", owner="owen", limit=100_001),
            self.room_document("5", owner="owen", limit=0),
            self.room_document("bad name!", owner="owen", limit=0),
            self.room_document("#5", owner="owen", limit=0, operators='"bob"'),
        ]:
            self.path.write_text(damaged)
            error = self.assertRaises(StoreError, self.store.load)
            self.assertIn(str(self.path), str(error))
            self.assertIn("move it away", str(error))

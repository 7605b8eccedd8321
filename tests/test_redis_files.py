"""What Redis writes to its disk with --redis: never a private message or a quit's reason; removed lines leave."""

from __future__ import annotations

from chatroom.core.events import PrivateMessage, Quit
from chatroom.core.history import HistoryLimits
from tests.test_redis import RedisTestCase, messages, told
from tests.test_stores import Process


class RedisFilesTests(RedisTestCase):
    """What Redis writes to its disk, with an append-only file as docs/scaling.md advises."""

    # The file that a rewrite starts from as commands too, not a snapshot, whose long strings Redis compresses:
    # text in it can be read, and found by these tests.
    redis_options = ("--aof-use-rdb-preamble", "no")

    def on_disk(self) -> bytes:
        return b"".join(path.read_bytes() for path in sorted(self.redis.directory.rglob("*")) if path.is_file())

    async def test_private_messages_and_quit_reasons_never_reach_redis_files_and_room_lines_leave_them(self) -> None:
        # Entries kept 1 s instead of RETENTION, the file rewritten every second instead of every REWRITE.
        (a, _), (b, _) = (
            await self.process("a", retention=1, rewrite=1),
            await self.process("b", retention=1, rewrite=1),
        )
        alice, heard_by_alice = await self.member(a, "alice", "5")
        bob, heard_by_bob = await self.member(b, "bob", "5")
        a.private(alice, "bob", "a secret for bob")
        await heard_by_bob.until(told(PrivateMessage("alice", "bob", "a secret for bob")))
        a.say(alice, "5", "a line for the room")
        await heard_by_bob.until(lambda events: "a line for the room" in [line.text for line in messages(events)])
        b.quit(bob, "my reason to go")
        await heard_by_alice.until(told(Quit("bob", "my reason to go")))
        written = self.on_disk()
        self.assertIn(b"a line for the room", written, "these are the files Redis writes its commands to")
        self.assertFalse(b"a secret for bob" in written, "a private message in Redis's files")
        self.assertFalse(b"my reason to go" in written, "a quit's reason in Redis's files")
        await self.gone_from_disk(b"a line for the room")  # trimmed from the stream, then the file rewritten

    async def test_a_redacted_line_leaves_redis_files_once_the_file_is_rewritten(self) -> None:
        process = Process(self.redis.url, "a", HistoryLimits(5))
        process.bus.retention = process.bus.rewrite = 1  # instead of RETENTION and REWRITE
        self.addCleanup(process.bus.disconnect)
        chat = await process.start()
        alice, heard_by_alice = await self.member(chat, "alice", "5")  # opens #5: its operator
        chat.say(alice, "5", "a line to take back")
        await heard_by_alice.until(lambda events: bool(messages(events)))
        assert process.history is not None
        await process.history.flush()
        self.assertIn(b"a line to take back", self.on_disk())
        chat.redact(alice, "5", messages(heard_by_alice.events)[0].id)
        await self.gone_from_disk(b"a line to take back")

    async def gone_from_disk(self, text: bytes) -> None:
        """Wait for Redis's rewrites until `text` is not in its files any more (the test's timeout bounds it)."""
        while text in self.on_disk():
            await self.redis.logged(b"Background AOF rewrite finished successfully")

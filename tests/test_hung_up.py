"""A client that sends its last lines and hangs up at once, as a notification bot does (JOIN, PRIVMSG, QUIT, then it
closes), has them executed even when they wait behind something: a change's turn in the log (--redis), or a login.
Found by hand: with --redis, the bot's JOIN was made and nothing after it, its PRIVMSG never reached the channel and
its QUIT was told as "connection lost", where one process showed all three."""

from __future__ import annotations

from typing import Any

from chatroom.frontends.irc.frontend import IRCFrontEnd
from chatroom.server.connection import LOST_LINES_WAIT
from tests.helpers import MemoryClient
from tests.test_account_removal import plain
from tests.test_shared_refusals import TwoDevices


class HungUpTests(TwoDevices):
    """Bob watches #5 from process b; the bot speaks to process a (the log in memory)."""

    def bot(self, nick: str = "bot9") -> MemoryClient:
        bot = self.irc(self.a, nick)
        bot.read()
        return bot

    def hang_up_after(self, client: MemoryClient, *lines: str) -> None:
        client.send(b"".join(line.encode() + b"\r\n" for line in lines))
        client.lose()

    def test_lines_sent_behind_a_join_before_hanging_up_are_executed(self) -> None:
        bot = self.bot()
        connection = bot.connection
        self.hang_up_after(bot, "JOIN #5", "PRIVMSG #5 :build 42 passed", "QUIT :bye")
        self.settle()
        self.assertEqual(
            self.bob.read(),
            [
                ":bot9!bot9@chatroom JOIN #5",
                ":bot9!bot9@chatroom PRIVMSG #5 :build 42 passed",
                ":bot9!bot9@chatroom QUIT :Quit: bye",
            ],
        )
        self.assertNotIn("bot9", self.a.chat.nicks)
        self.assertNotIn("bot9", self.b.chat.nicks)
        self.assertNotIn(connection, self.a.connections, "the connection is let go once its lines are done")

    def test_lines_sent_behind_a_login_before_hanging_up_are_executed(self) -> None:
        laptop = MemoryClient(self.a.speaking(IRCFrontEnd.serving("chatroom", None)))
        connection = laptop.connection
        self.hang_up_after(
            laptop,
            "CAP LS 302",
            "CAP REQ :sasl",
            "AUTHENTICATE PLAIN",
            "AUTHENTICATE " + plain("alice", "right"),
            "NICK alice",
            "USER alice 0 * :x",
            "CAP END",
            "PRIVMSG #5 :from the train",
            "QUIT :tunnel",
        )
        self.settle()
        self.assertEqual(self.bob.read(), [], "the password is still being checked")
        self.checker.answer(len(self.checker.checks) - 1, right=True)
        self.settle()
        self.assertEqual(self.bob.read(), [":alice!alice@chatroom PRIVMSG #5 :from the train"])
        self.assertNotIn(connection, self.a.chat.nicks["alice"].sessions, "alice stays, on her other two devices")
        self.assertNotIn(connection, self.a.connections)

    def test_a_turn_that_never_comes_ends_the_session_after_a_while(self) -> None:
        bot = self.bot()
        append = self.log.append

        def losing_joins(entry: dict[str, Any]) -> None:
            if entry.get("f") != "join":
                append(entry)  # the join's entry never reaches the log, as when Redis stops answering

        self.patch(self.log, "append", losing_joins)
        self.hang_up_after(bot, "JOIN #5", "PRIVMSG #5 :build 42 passed", "QUIT :bye")
        self.settle()
        self.assertIn("bot9", self.b.chat.nicks, "its lines still wait")
        self.clock.advance(LOST_LINES_WAIT)
        self.settle()
        self.assertNotIn("bot9", self.a.chat.nicks)
        self.assertNotIn("bot9", self.b.chat.nicks)
        self.assertEqual(self.bob.read(), [], "bob never shared a room with it")

    def test_lines_waiting_when_the_server_shuts_down_go_with_it(self) -> None:
        bot = self.bot()
        connection = bot.connection
        self.patch(self.log, "append", lambda entry: None)  # nothing more has its turn
        self.hang_up_after(bot, "JOIN #5", "QUIT :bye")
        self.a.close("shutting down")
        self.assertNotIn(connection, self.a.connections)
        self.clock.advance(LOST_LINES_WAIT)  # its wait was cancelled: nothing fires for it

"""Replies, reactions and typing through the real service (TLS over loopback): IRC clients to each other, and an
IRC client with the terminal client, run as a person runs it, on a pseudo-terminal."""

from __future__ import annotations

import sys
from pathlib import Path

from twisted.internet import reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.ssl import Certificate, optionsForClientTLS
from twisted.internet.task import Clock

from chatroom.core.gestures import TYPING_EVERY
from chatroom.frontends.irc.wire import parse
from tests.helpers import ServerTestCase
from tests.test_irc import tags_of
from tests.test_shared_joins import IRCLines


async def next_command(client: IRCLines, command: str) -> str:
    """The next line `client` is sent with this command, those before it skipped."""
    while True:
        line = await client.next_line()
        if parse(line).command == command:
            return line


class GesturesServiceTests(ServerTestCase):
    async def irc(self, nick: str, caps: str = "message-tags echo-message") -> IRCLines:
        """An IRC client with `caps`, registered as `nick` and in #5, everything before read."""
        trust = Certificate.loadPEM((self.certs / "ca.pem").read_bytes())
        endpoint = wrapClientTLS(
            optionsForClientTLS("localhost", trustRoot=trust), TCP4ClientEndpoint(reactor, "127.0.0.1", self.irc_port)
        )
        client = IRCLines(stamps=True)
        await connectProtocol(endpoint, client)
        self.addCleanup(lambda: client.transport.loseConnection() if client.transport else None)
        client.send(f"CAP REQ :{caps}", f"NICK {nick}", f"USER {nick} 0 * :{nick}", "CAP END", "JOIN #5", "PING :in")
        await next_command(client, "PONG")
        return client

    async def test_irc_to_irc_a_reaction_a_reply_and_typing_rate_limited(self) -> None:
        service = self.start_server()
        clock = Clock()
        service.factory.chat.now = clock.seconds  # the chat's time stands still unless the test moves it
        wee, halloy = await self.irc("wee"), await self.irc("halloy")
        await next_command(wee, "JOIN")
        wee.send("PRIVMSG #5 :lunch?")
        msgid = tags_of(await next_command(halloy, "PRIVMSG"))["msgid"]
        halloy.send(f"@+draft/reply={msgid};+draft/react=👍 TAGMSG #5", f"@+draft/reply={msgid} PRIVMSG #5 :yes")
        reaction, reply = await next_command(wee, "TAGMSG"), await next_command(wee, "PRIVMSG")
        self.assertEqual((tags_of(reaction)["+draft/react"], tags_of(reaction)["+draft/reply"]), ("👍", msgid))
        self.assertEqual(tags_of(reply)["+draft/reply"], msgid)
        for _ in range(20):  # a client that floods typing notices
            halloy.send("@+typing=active TAGMSG #5")
        halloy.send("@+typing=done TAGMSG #5", "PING :flooded")
        await next_command(halloy, "PONG")
        wee.send("PING :read")
        await next_command(wee, "PONG")
        typing = [tags.get("+typing") for tags in map(tags_of, wee.lines) if "+typing" in tags]
        self.assertEqual(typing, ["active", "done"], "20 notices within 3 s: the first, then the end")
        clock.advance(TYPING_EVERY)
        halloy.send("@+typing=active TAGMSG #5")
        self.assertEqual(tags_of(await next_command(wee, "TAGMSG"))["+typing"], "active", "3 s later, another")

    async def test_irc_and_the_terminal_client(self) -> None:
        self.start_server()
        wee = await self.irc("wee")
        person = self.spawn(
            [sys.executable, "-m", "chatroom.client", "127.0.0.1", "--port", str(self.port), "--ca",
             str(self.certs / "ca.pem"), "--nick", "dora", "--room", "5"],
            terminal=True, XDG_CONFIG_HOME=str(Path(self.mktemp()).resolve()), NO_COLOR="1",
        )  # fmt: skip
        await person.until(r"\[#5\] -- here:")
        await next_command(wee, "JOIN")
        person.type("lunch at noon?\r")
        msgid = tags_of(await next_command(wee, "PRIVMSG"))["msgid"]
        wee.send(f"@+draft/reply={msgid};+draft/react=👍 TAGMSG #5", "@+typing=active TAGMSG #5")
        await person.until(r"\[#5\] <dora> lunch at noon\? \[👍 1\] \(wee 👍\)")
        await person.until(r"\(wee is typing\)")
        wee.send("PRIVMSG #5 :who else?")
        echo = await next_command(wee, "PRIVMSG")
        await person.until(r"<wee> who else\?")
        person.type("/reply ^ me!\r")
        reply = await next_command(wee, "PRIVMSG")
        self.assertEqual(parse(reply).params, ["#5", "me!"])
        self.assertEqual(tags_of(reply)["+draft/reply"], tags_of(echo)["msgid"], "the line it answers")
        await person.until(r"↳ wee: who else\?")
        person.type("typing")
        typing = await next_command(wee, "TAGMSG")
        self.assertEqual(tags_of(typing)["+typing"], "active")
        person.type("\x03")
        self.assertEqual(await person.exit_code(), 0)
        self.assertNotIn("Traceback", person.output)

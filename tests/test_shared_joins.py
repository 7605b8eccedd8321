"""A join looks and behaves the same with --redis as on one process: the same scenarios on both, every line compared.

The servers are the real service (TLS over loopback); the two processes share a real redis-server.
"""

from __future__ import annotations

import re
from pathlib import Path

from twisted.application.service import IService, MultiService
from twisted.internet import reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.ssl import Certificate, optionsForClientTLS

from chatroom.app import tap
from chatroom.app.service import ChatService
from tests.helpers import LOOPBACK, LineClient, ServerTestCase, port_of
from tests.redisserver import RedisServer

TIME = re.compile(r"\b\d{10}\b")  # a Unix time (the topic's, the room's): the runs happen at different seconds


class IRCLines(LineClient):
    """An IRC client reduced to its lines: what a client sends in one write, and every line it is sent."""

    delimiter = b"\r\n"


class SharedServers(ServerTestCase):
    """Real services, alone or sharing a fresh redis-server, and clients of them over TLS."""

    async def servers(self, count: int, *arguments: str) -> list[ChatService]:
        """`count` servers (with these options too): one alone, or several sharing a fresh redis-server."""
        directory = Path(self.mktemp()).absolute()
        directory.mkdir()
        self.certs = directory / "certs"
        shared: list[str] = []
        if count > 1:
            redis = RedisServer(directory)
            await redis.start()
            self.addCleanup(redis.stop)
            shared = ["--redis", redis.url]
        services = []
        for number in range(count):
            options = tap.Options()
            options.parseOptions(
                ["--certs", str(self.certs), "--listen", LOOPBACK, "--irc", LOOPBACK, "--no-web",
                 "--hostname", "irc.test", "--rooms", str(directory / f"rooms{number}.json"),
                 "--accounts", str(directory / "accounts.db"), *shared, *arguments]
            )  # fmt: skip
            service = tap.makeService(options, reactor)
            service.startService()
            self.addCleanup(service.stopService)
            found = service if isinstance(service, ChatService) else _chat_service(service)
            if found.ready is not None:
                await found.ready
            services.append(found)
        return services

    async def client(self, service: ChatService, irc: bool = False) -> LineClient:
        trust = Certificate.loadPEM((self.certs / "ca.pem").read_bytes())
        port = port_of(service.ports[1 if irc else 0])
        endpoint = wrapClientTLS(
            optionsForClientTLS("localhost", trustRoot=trust), TCP4ClientEndpoint(reactor, "127.0.0.1", port)
        )
        client: LineClient = await connectProtocol(endpoint, IRCLines() if irc else LineClient())
        self.addCleanup(self._disconnect, client)
        return client


class JoinsAsOnOneProcessTests(SharedServers):
    maxDiff = None

    async def scenario(self, count: int) -> dict[str, list[str]]:
        """alice opens #5 and sets its topic on the first server; bob (our line protocol) and carol (IRC) join it
        on the last one and speak at once: bob on the answer to his join, carol in the same write as her JOIN.

        Returns every line each was sent from the join on, the times taken out. A message's own copy comes
        back to its sender through the log, after a PING sent with it: each waits for it before pinging.
        """
        services = await self.servers(count)
        alice = await self.client(services[0])
        await alice.until("HELLO ")
        alice.send("/nick alice", "/join 5", "/topic all about five", "/ping ready")
        await alice.until("PONG :ready")

        bob = await self.client(services[-1])
        await bob.until("HELLO ")
        bob.send("/nick bob")
        await bob.until("WELCOME ")
        bob.send("/join 5")
        current, bob_joining = await bob.until("CURRENT")
        bob.send("hello from bob")  # on the answer, as our client sends what was typed meanwhile
        bob_lines = [*bob_joining, current, *await either(bob, "MSG #5 bob ", "ERR ")]  # his echo, or a refusal
        bob.send("/ping done")
        bob_lines += (await bob.until("PONG :done"))[1]

        carol = await self.client(services[-1], irc=True)
        carol.send("CAP REQ :echo-message", "NICK carol", "USER carol 0 * :Carol", "CAP END")
        await carol.until(":carol!carol@chatroom MODE carol ")  # the end of the welcome
        carol.send("JOIN #5", "PRIVMSG #5 :hello from carol")  # in one write, as IRC clients send them
        carol_lines = await either(carol, ":carol!carol@chatroom PRIVMSG ", ":irc.test 4")  # her echo, or an error
        carol.send("PING :done")
        carol_lines += (await carol.until(":irc.test PONG "))[1]

        alice.send("/ping done")
        _, alice_lines = await alice.until("PONG :done")
        lines = {"bob": bob_lines, "carol": carol_lines, "alice": alice_lines}
        return {who: [TIME.sub("TIME", line) for line in said] for who, said in lines.items()}

    async def test_a_join_with_redis_is_answered_and_obeyed_as_on_one_process(self) -> None:
        alone = await self.scenario(1)
        self.assertIn("MSG #5 bob :hello from bob", alone["alice"])
        self.assertIn("MSG #5 carol :hello from carol", alone["alice"])
        shared = await self.scenario(2)
        self.assertEqual(shared, alone)


async def either(client: LineClient, *prefixes: str) -> list[str]:
    """The lines read up to the first that starts with one of `prefixes`, that one included."""
    lines = [await client.next_line()]
    while not lines[-1].startswith(prefixes):
        lines.append(await client.next_line())
    return lines


def _chat_service(service: IService) -> ChatService:
    assert isinstance(service, MultiService)
    (found,) = (child for child in service if isinstance(child, ChatService))
    return found


class OnePersonOnTwoProcessesTests(SharedServers):
    async def test_what_she_says_on_one_process_reaches_her_irc_client_on_another_without_echo_message(self) -> None:
        # irssi and WeeChat ask for no echo-message: what alice said from her phone, on one process, never reached
        # her laptop's irssi on another, which took it for its own line.
        first, second = await self.servers(2, "--registration", "open")
        phone = await self.client(first)
        await phone.until("HELLO ")
        phone.send("/register alice correct horse battery staple", "/join 5")
        await phone.until("JOIN #5 alice")
        laptop = await self.client(second, irc=True)
        laptop.send("PASS :correct horse battery staple", "NICK alice", "USER a 0 * :A")
        await laptop.until(":alice!alice@chatroom JOIN #5")
        phone.send("from my phone")
        await laptop.until(":alice!alice@chatroom PRIVMSG #5 :from my phone")
        laptop.send("PRIVMSG #5 :from my laptop")
        await phone.until("MSG #5 alice")
        phone.send("seen it")  # after the laptop's line in the log: the laptop's process has applied that one
        await laptop.until(":alice!alice@chatroom PRIVMSG #5 :seen it")
        self.assertNotIn("from my laptop", "\n".join(laptop.lines), "its own line is not sent back to it")

    async def test_her_line_on_one_irc_connection_reaches_her_other_on_the_same_process_not_itself(self) -> None:
        # Without echo-message, two connections of one person on one process: her line came back to the connection
        # that said it too, through the log, where the two could not be told apart; it showed it twice.
        first, _ = await self.servers(2, "--registration", "open")
        owner = await self.client(first)
        await owner.until("HELLO ")
        owner.send("/register alice correct horse battery staple", "/join 5")
        await owner.until("JOIN #5 alice")
        laptop, phone = await self.client(first, irc=True), await self.client(first, irc=True)
        for device in (laptop, phone):
            device.send("PASS :correct horse battery staple", "NICK alice", "USER a 0 * :A")
            await device.until(":alice!alice@chatroom JOIN #5")
        laptop.send("PRIVMSG #5 :from my laptop")
        await phone.until(":alice!alice@chatroom PRIVMSG #5 :from my laptop")
        phone.send("PRIVMSG #5 :seen it")  # after the laptop's line in the log
        await laptop.until(":alice!alice@chatroom PRIVMSG #5 :seen it")
        self.assertNotIn("from my laptop", "\n".join(laptop.lines), "its own line is not sent back to it")

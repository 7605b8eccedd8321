"""Garbage thrown at a live server over TLS: it keeps serving, logs no error and buffers nothing without bound."""

from __future__ import annotations

import random
from pathlib import Path

from twisted.internet import reactor
from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.task import deferLater
from twisted.logger import ILogObserver, LogEvent, LogLevel, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import provider

from chatroom.server.limits import ConnectionLimits
from chatroom.server.lines import LineFraming
from chatroom.stores.accounts import AccountStore
from tests.helpers import MemoryServer, ServerTestCase, assert_consistent

COMMANDS = ["/nick", "/join", "/part", "/leave", "/rooms", "/who", "/msg", "/me", "/topic", "/ping", "/pong", "/help"]
ODDITIES = ["/", "//", "/NICK", "/Join", "/bogus", "/quit\x00", " /join"]
# Commands that change who is here; the last is two lines, a login attempt (random words end its password).
LIFE = ["/quit", "/nick", "/pass", "/nick alice", "/nick alice\n/pass wrong guess"]
MODERATION = ["/op", "/deop", "/voice", "/devoice", "/kick", "/ban", "/unban", "/bans", "/invite", "/room",
              "/room set", "/room set key", "/room set limit", "/room set invite", "/room set moderated",
              "/room register", "/server", "/server kill", "/server ban", "/server lockdown", "/join #6"]  # fmt: skip
WORDS = ["5", "#5", "lobby", "#", "##", "alice", "bob", "x" * 40, "ñandú", "名前", "🙂", ":", " ", "\t", "-", "_x",
         "f0", "f1", "f2", "on", "off", "10m", "0d", "*", "*!*@*", "f*", "127.0.0.1", "::/0", "account:alice",
         "$a:"]  # fmt: skip


def fuzz_line(rng: random.Random, commands: list[str]) -> bytes:
    """One random line: a command with a random number of arguments, text, or garbage."""
    kind = rng.randrange(8)
    if kind <= 1:  # a command with missing, extra or odd arguments
        words = rng.choices(WORDS, k=rng.randrange(5))
        return " ".join([rng.choice(commands + ODDITIES), *words]).encode()
    if kind == 2:  # text with multi-byte characters, likely to be split mid-character
        return "".join(
            chr(rng.choice([rng.randrange(32, 127), rng.randrange(160, 0x3000), 0x1F642]))
            for _ in range(rng.randrange(1, 80))
        ).encode()
    if kind == 3:  # bytes that are rarely UTF-8
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 60))).replace(b"\n", b"")
    if kind == 4:  # control characters amid text
        return rng.choice([b"\x00", b"\x1b[2J", b"\r", b"\x7f", "\x85".encode(), b"\x07"]).join([b"hi", b"there"])
    if kind == 5:  # too long
        return b"y" * rng.randrange(4000, 20_000)
    if kind == 6:
        return rng.choice([b"", b"   ", b"\r"])
    return b"plain words " + str(rng.random()).encode()


def fuzz_stream(seed: int, lines: int, commands: list[str] = COMMANDS) -> list[bytes]:
    """Lines joined with LF or CRLF, cut into chunks at random places, mid-character included."""
    rng = random.Random(seed)
    stream = b"".join(fuzz_line(rng, commands) + rng.choice([b"\n", b"\r\n"]) for _ in range(lines))
    chunks = []
    while stream:
        size = rng.choice([1, 2, 3, rng.randrange(1, 200), rng.randrange(200, 5000)])
        chunks.append(stream[:size])
        stream = stream[size:]
    return chunks


class FuzzOverTLSTests(ServerTestCase):
    def watch_for_problems(self) -> list[LogEvent]:
        """Every failure or error the server logs from now on."""
        problems: list[LogEvent] = []

        @provider(ILogObserver)
        def watch(event: LogEvent) -> None:
            if "log_failure" in event or event.get("log_level") in (LogLevel.error, LogLevel.critical):
                problems.append(event)

        globalLogPublisher.addObserver(watch)
        self.addCleanup(globalLogPublisher.removeObserver, watch)
        return problems

    async def test_random_lines_from_several_clients(self) -> None:
        problems = self.watch_for_problems()
        self.start_server("--flood-burst", "100000", "--flood-rate", "100000")  # flood control has its own tests
        observer = await self.connect("observer", "5")
        fuzzers = [await self.connect() for _ in range(3)]
        for seed, fuzzer in enumerate(fuzzers):
            for chunk in fuzz_stream(seed, lines=1500):
                fuzzer.transport.write(chunk)
                await deferLater(reactor, 0, lambda: None)  # one TLS record per chunk, reads split likewise
            fuzzer.transport.write(b"\n/ping done\n")
        for fuzzer in fuzzers:
            await fuzzer.until("PONG :done")
            self.assertFalse(fuzzer.lost.called, "garbage is refused line by line, never with a disconnection")

        codes = {line.split()[1] for fuzzer in fuzzers for line in fuzzer.lines if line.startswith("ERR ")}
        expected = {"BAD_UTF8", "BAD_TEXT", "TOO_LONG", "EMPTY", "USAGE", "UNKNOWN_COMMAND", "BAD_ROOM", "NO_NICK"}
        self.assertLessEqual(expected, codes, "the fuzzer reached every kind of bad input")

        observer.send("/join 7", "still works")
        await observer.until("MSG #7 observer :still works")
        self.assertEqual(problems, [])
        factory = self.service.factory
        for connection in factory.connections:
            assert isinstance(connection.transport, LineFraming)
            self.assertLessEqual(len(connection.transport._buffer), factory.limits.max_line)  # a partial line
            self.assertEqual(len(connection.queue), 0)
        self.assertLessEqual(len(factory.chat.rooms), 4 * 20)
        assert_consistent(self, factory)

    async def test_quits_nicknames_and_logins_amid_garbage_leave_no_ghost(self) -> None:
        """Clients that quit, rename and log in at random, and keep talking after their goodbye."""
        accounts = Path(self.mktemp()).resolve()
        AccountStore(accounts).add("alice", "correct horse")
        self.start_server("--accounts", str(accounts), "--flood-burst", "100000", "--flood-rate", "100000")
        observer = await self.connect("observer", "5")
        clients = [await self.connect() for _ in range(6)]
        for seed, client in enumerate(clients, start=100):
            for chunk in fuzz_stream(seed, lines=400, commands=COMMANDS + LIFE):
                client.transport.write(chunk)
                await deferLater(reactor, 0, lambda: None)
            client.transport.write(b"\n/ping done\n")
        for client in clients:  # each either answers (it never quit) or is closed by the server
            answered = Deferred.fromCoroutine(client.until("PONG :done")).addCallback(lambda _: None)
            await DeferredList([answered, client.lost], fireOnOneCallback=True)
        self.assertTrue(any(client.lost.called for client in clients), "some quit")
        self.assertTrue(any("BAD_LOGIN" in line or "SLOW_DOWN" in line for c in clients for line in c.lines))
        observer.send("/ping observer")
        await observer.until("PONG :observer")
        assert_consistent(self, self.service.factory)
        for client in clients:
            if client.lost.called:
                self.assertEqual(client.lines[-1].split(" :")[0], "BYE", "nothing answered after the goodbye")

    async def test_moderation_amid_garbage(self) -> None:
        """Operators of their own rooms kick, ban and configure each other at random: no error, no ghost."""
        problems = self.watch_for_problems()
        self.start_server("--flood-burst", "100000", "--flood-rate", "100000")
        observer = await self.connect("observer", "5")
        clients = [await self.connect(f"f{index}", str(index)) for index in range(3)]
        for seed, client in enumerate(clients, start=200):
            client.send("/join 5")
            for chunk in fuzz_stream(seed, lines=600, commands=MODERATION):
                client.transport.write(chunk)
                await deferLater(reactor, 0, lambda: None)
            client.transport.write(b"\n/ping done\n")
        for client in clients:
            await client.until("PONG :done")
        codes = {line.split()[1] for client in clients for line in client.lines if line.startswith("ERR ")}
        self.assertLessEqual({"NOT_OPERATOR", "BAD_MASK", "USAGE", "NOT_THERE", "SELF"}, codes)
        self.assertTrue(any(line.startswith(("KICK ", "BAN ")) for client in clients for line in client.lines))
        observer.send("/ping observer")
        await observer.until("PONG :observer")
        self.assertEqual(problems, [])
        assert_consistent(self, self.service.factory)


class UnboundedLineTests(SynchronousTestCase):
    def test_an_endless_line_is_never_buffered(self) -> None:
        server = MemoryServer(ConnectionLimits(max_line=4096))
        client = server.connect("endless", "5")
        assert isinstance(client.protocol, LineFraming)
        chunk = "ü".encode() * 32 * 1024  # 64 KiB
        for _ in range(256):  # 16 MiB with no end of line
            client.send(chunk)
            self.assertLessEqual(len(client.protocol._buffer), 4096 + len(chunk))
        self.assertEqual(client.read(), ["ERR TOO_LONG :line longer than 4096 bytes; it was ignored"])
        client.send(b"\nback to normal\n")
        self.assertEqual(client.read(), ["MSG #5 endless :back to normal"])

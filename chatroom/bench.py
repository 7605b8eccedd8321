"""`python -m chatroom.bench`: how much a chatroom server costs per delivery, per connection and per handshake.

It starts `twistd chatroom` on loopback (or targets --host/--port), opens N TLS
clients over R rooms from load-generator processes (asyncio and the standard
library's ssl: cheaper per message than the server, so the server is what is
measured), has S of them send X messages a second each, spread evenly in time,
and reads the server's own CPU time and memory from /proc.

With --askers N (over --protocol irc), N more clients join every room and ask
`WHO *` as fast as the server reads them, dropping the answers, while the
others' latency is measured: the server's own flood control and fakelag stay on
(issue 31). With --protocol irc it speaks IRC to chatroom's IRC front end, with --protocol websocket
the same IRC over WebSocket (autobahn's asyncio client, binary.ircv3.net) to its web listener; with --compare
it runs the same IRC workload against chatroom and against ngircd (a C IRC
server, Debian's `ngircd`), alternately, and prints the ratios: absolute
figures move from run to run on a shared machine, ratios measured together hold.
With --compare floor, against chatroom.floor instead: chatroom's own TLS transport
relaying each line and doing nothing else, the cost chatroom's work adds to.

The history workload needs no server: it says messages through the core's
`Chat.say` in this process, and reports what each line kept (--history) costs.
"""

from __future__ import annotations

import argparse
import asyncio
import asyncio.sslproto
import base64
import contextlib
import ctypes
import functools
import gc
import ipaddress
import itertools
import json
import multiprocessing
import os
import platform
import random
import re
import resource
import shutil
import signal
import socket
import sqlite3
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from array import array
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

# Senders are spread over every room (`layout` "spread"), except in hot-room, where they all talk in room #0: 100
# members each get 1,000 lines a second and the other 900 clients nothing (the burst's layout before issue 30).
# Clients arrive ARRIVING at a time per load generator, as people do, except in connect: all at once, a storm.
WORKLOADS: dict[str, dict[str, Any]] = {
    "steady": {"clients": 1000, "rooms": 50, "senders": 1000, "rate": 1.0},
    "burst": {"clients": 1000, "rooms": 10, "senders": 100, "rate": 10.0},
    "hot-room": {"clients": 1000, "rooms": 10, "senders": 100, "rate": 10.0, "layout": "hot-room"},
    "idle": {"clients": 10_000, "rooms": 100, "senders": 0, "rate": 0.0},
    "connect": {"clients": 2000, "rooms": 100, "senders": 0, "rate": 0.0, "arriving": 0},
}
LAYOUTS = ("spread", "hot-room")
# The benchmark's own server lifts the limits that would pace or refuse its load (flood control, idle pings, the
# registration timeout; its --max-clients is the plan's connections); the per-address cap does not apply to loopback
# by default.
LIFT_FLOOD_CONTROL = ["--flood-burst", "100000", "--flood-rate", "100000"]  # not with --askers: it is what they meet
SERVER_OPTIONS = [
    "--idle-timeout",
    "3600",
    # Thousands of clients connecting at once from a loaded machine may take longer than the default 30 s to
    # finish TLS and register (seen over WebSocket, whose handshake costs the load generator more).
    "--registration-timeout",
    "600",
]
LOOPBACK = "127.0.0.1"
SETTLE_WINDOW = 0.5  # seconds over which the server's CPU is read, waiting for it to be idle before reading its memory
SETTLE_IDLE = 0.05  # the share of a core below which it is idle (a 0.5 s window counts in 10 ms ticks)
SETTLE_LONGEST = 30.0  # seconds waited for that at most
ASKING_WARMUP = 10.0  # seconds the askers of --askers ask before the load begins
LINE_SIZE = 100  # bytes in each message line the server sends, roughly what people type
# Connections being made at once, per generator process: as people arrive, not a storm. The server's peak while
# thousands of handshakes are in flight at once stays in its RSS: the connect workload (arriving 0: all at once)
# measures that, the others what connections hold once made.
ARRIVING = 100
# Clients connecting from one source address. One address reaches the server's one port from at most the 28,232
# ephemeral ports of net.ipv4.ip_local_port_range (32768-60999), some taken by other programs: more clients come
# from 127.0.0.2, 127.0.0.3, ... (Linux routes all of 127.0.0.0/8 to the loopback interface).
PER_ADDRESS = 20_000
# Bytes a load generator's TLS connection reads at once. asyncio's own (256 KiB, a buffer it fills with zeros for
# each connection) made 292 KB of a generator's memory per idle client, 52 KB with this: one TLS record's worth.
READ_SIZE = 16 * 1024


@dataclass(frozen=True)
class Speech:
    """How the load generator speaks one protocol: what it sends, and the replies that end each step."""

    register: str  # format with nick
    registered: bytes  # a reply that ends registration
    join: str  # format with room
    joined: bytes  # a reply that ends a join
    say: str  # format with room and text
    delivery: bytes  # what every delivered message line contains near its start
    echoes: bool  # whether the sender receives its own message


SPEECH = {
    "line": Speech("/nick {nick}\n", b"\nWELCOME ", "/join {room}\n", b"\nCURRENT ", "{text}\n", b"MSG ", True),
    # Without the echo-message capability an IRC server does not send a message back to its sender.
    "irc": Speech(
        register="NICK {nick}\r\nUSER {nick} 0 * :bench\r\n",
        registered=b" 001 ",
        join="JOIN {room}\r\n",
        joined=b" 366 ",
        say="PRIVMSG {room} :{text}\r\n",
        delivery=b" PRIVMSG ",
        echoes=False,
    ),
}
SPEECH["websocket"] = SPEECH["irc"]  # IRC over WebSocket is IRC: one line a message, each way
LISTENER = {
    "line": "line",
    "irc": "irc",
    "websocket": "web: the web client, and IRC over WebSocket",
}  # what the server's log calls it


@dataclass
class Plan:
    host: str
    port: int
    ca: str
    clients: int
    rooms: int
    senders: int
    rate: float
    duration: float
    processes: int
    protocol: str = "line"
    askers: int = 0  # IRC clients flooding `WHO *` meanwhile (--askers)
    ask: str = "who"  # what they ask: `WHO *`, or "history": `CHATHISTORY BEFORE #ROOM timestamp=NOW 100` (--ask)
    layout: str = "spread"  # where the senders are: LAYOUTS
    arriving: int = ARRIVING  # connections made at once per load generator; 0: all of them (a storm)
    per_address: int = PER_ADDRESS  # clients from one source address (--clients-per-address)

    @property
    def connections(self) -> int:
        """What the server holds at once: every client and asker."""
        return self.clients + self.askers

    def room(self, number: int) -> str:
        return f"#{number % self.rooms}"

    def source(self, number: int) -> str | None:
        """The address client `number` connects from: the system's choice while one address has ports enough for
        every client, else 127.0.0.1 for the first `per_address`, 127.0.0.2 for the next, and so on."""
        if self.clients <= self.per_address:
            return None
        return str(ipaddress.IPv4Address(LOOPBACK) + number // self.per_address)

    def senders_in_order(self) -> list[int]:
        """The clients that send, in the order their sending is spread over each second.

        "spread": round-robin over the rooms, each room's senders spread over its members, so that every room hears
        senders/rooms of them. "hot-room": the first `senders` members of room #0.
        """
        if self.layout == "hot-room":
            members = range(0, self.clients, self.rooms)
            if self.senders > len(members):
                raise ValueError(f"hot-room: room #0 has {len(members)} members, fewer than {self.senders} senders")
            return list(members[: self.senders])
        if self.senders > self.clients:
            raise ValueError(f"{self.senders} senders among {self.clients} clients")
        chosen = []
        for k in range(self.senders):
            room, turn = k % self.rooms, k // self.rooms
            members = range(room, self.clients, self.rooms)
            in_room = len(range(room, self.senders, self.rooms))  # this room's senders
            chosen.append(members[turn * len(members) // in_room])
        return chosen


@dataclass
class Figures:
    workload: str
    server: str
    protocol: str
    clients: int
    rooms: int
    senders: int
    rate: float
    duration: float
    layout: str = "spread"
    arriving: int = ARRIVING  # 0: all at once
    deliveries_per_second: float | None = None  # over load_seconds
    load_seconds: float | None = None  # wall time from the first message due to the last delivery (or giving up)
    expected: int = 0
    delivered: int = 0
    latency_ms: dict[str, float | None] = field(default_factory=dict)
    server_cpu_us_per_delivery: float | None = None
    server_rss_kb_per_connection: float | None = None
    server_cpu_us_per_connection: float | None = None
    server_cpu_us_per_join: float | None = None
    registered: int = 0  # clients that connected and registered
    joined: int = 0  # of those, clients that joined their room
    sources: dict[str, int] = field(default_factory=dict)  # registered clients per source address, as their sockets say
    connect_seconds: float | None = None  # from the first connection begun to the last registered, over all generators
    connections_per_second: float | None = None  # registered over connect_seconds
    server_cpu_share: float | None = None  # of one core, while the load ran: 1.0 is saturated
    generator_cpu_share: float | None = None
    generator_bottleneck: bool = False
    workers: int = 1
    askers: int = 0
    who_answers: int = 0  # `WHO *` answered to the askers while the load ran
    ask: str = "who"
    answer_ms: dict[str, float | None] = field(default_factory=dict)  # with --ask history: p50, p99, max per answer
    redis_cpu_us_per_delivery: float | None = None  # Redis's own CPU, with --redis
    date: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M:%S %z"))
    machine: str = field(default_factory=lambda: f"{platform.node()} {os.cpu_count()} cores, {platform.platform()}")


# The load generator: one process among `processes`, holding every processes-th client.


class BenchClient(asyncio.Protocol):
    """One client: registers, later joins its room, then counts the MSG lines it receives."""

    def __init__(self, worker: Worker, nick: str, room: str) -> None:
        self.worker = worker
        self.speech = worker.speech
        self.nick = nick
        self.room = room
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.awaiting = self.speech.registered  # the reply that ends the current step
        self.partial = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.speech.register.format(nick=self.nick).encode())

    def join(self) -> asyncio.Future[None]:
        assert self.transport is not None
        self.ready = asyncio.get_running_loop().create_future()
        self.awaiting = self.speech.joined
        self.transport.write(self.speech.join.format(room=self.room).encode())
        return self.ready

    def say(self, text: str) -> None:
        assert self.transport is not None
        self.transport.write(self.speech.say.format(room=self.room, text=text).encode())

    def data_received(self, data: bytes) -> None:
        data = self.partial + data
        end = data.rfind(b"\n") + 1
        self.partial = data[end:]
        if not self.ready.done():
            if self.awaiting in b"\n" + data[:end]:
                self.ready.set_result(None)
            return
        self.worker.receive(data[:end])

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"connection lost while registering: {exc}"))


class WebSocketLink(asyncio.Protocol, asyncio.Transport):
    """A BenchClient over a WebSocket (binary.ircv3.net, one line a message), framed here rather than by a library:
    the TLS connection's protocol, and the client's transport.

    The generator must stay cheaper than the server it measures: autobahn's client, which parses each frame in
    several Python calls and checks it, read a fifth of the burst workload's deliveries in time. A load generator
    needs little of WebSocket: an opening request; frames from the server are unmasked, so their payloads are
    sliced out; its own frames are masked with a key of zeros (RFC 6455 asks for an unpredictable key, which only
    matters to proxies reading a browser's frames), so their payloads go as they are.
    """

    REQUEST = (
        "GET /irc HTTP/1.1\r\nHost: localhost:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: binary.ircv3.net\r\n\r\n"
    )

    def __init__(self, client: BenchClient, port: int) -> None:
        asyncio.Transport.__init__(self)
        self.client = client
        self.port = port
        self.transport: asyncio.Transport | None = None
        self.opened = False
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(self.REQUEST.format(port=self.port, key=key).encode())

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """BenchClient's lines, each a masked binary frame."""
        assert self.transport is not None
        frames = []
        for line in bytes(data).split(b"\r\n")[:-1]:
            size = len(line)
            head = bytes((0x82, 0x80 | size)) if size < 126 else b"\x82\xfe" + size.to_bytes(2, "big")
            frames.append(head + b"\0\0\0\0" + line)
        self.transport.write(b"".join(frames))

    def close(self) -> None:
        assert self.transport is not None
        self.transport.abort()

    def data_received(self, data: bytes) -> None:
        data = self.buffer + data
        if not self.opened:
            head, found, data = data.partition(b"\r\n\r\n")
            if not found:
                self.buffer = head
                return
            if not head.startswith(b"HTTP/1.1 101"):
                raise ConnectionError(f"upgrade refused: {head[:100]!r}")
            self.opened = True
            self.client.connection_made(self)
        lines, place, end = [], 0, len(data)
        while end - place >= 2:
            size, at = data[place + 1] & 0x7F, place + 2
            if size == 126:
                size, at = int.from_bytes(data[at : at + 2], "big"), at + 2
            elif size == 127:
                size, at = int.from_bytes(data[at : at + 8], "big"), at + 8
            if at + size > end:
                break
            if data[place] & 0x0F == 0x8:  # a close
                self.close()
                return
            lines.append(data[at : at + size])
            place = at + size
        self.buffer = data[place:]
        if lines:
            lines.append(b"")
            self.client.data_received(b"\n".join(lines))

    def connection_lost(self, exc: Exception | None) -> None:
        self.client.connection_lost(exc)


class Worker:
    def __init__(self, plan: Plan, index: int, pipe: Connection) -> None:
        self.plan = plan
        self.index = index
        self.pipe = pipe
        self.speech = SPEECH[plan.protocol]
        self.delivered = 0
        self.latencies = array("d")

    def receive(self, lines: bytes) -> None:
        """Count deliveries and take each line's latency from the send time it carries."""
        now = time.monotonic()
        delivery = self.speech.delivery
        for line in lines.split(b"\n")[:-1]:
            if delivery in line[:80]:
                self.delivered += 1
                sent = line[line.index(b" :") + 2 :].split(b" ", 1)[0]
                self.latencies.append(now - float(sent))

    async def run(self) -> None:
        plan = self.plan
        context = ssl.create_default_context(cafile=plan.ca)
        mine = range(self.index, plan.clients, plan.processes)
        loop = asyncio.get_running_loop()
        clients: dict[int, BenchClient] = {}
        link: Callable[[BenchClient], asyncio.Protocol] = (
            (lambda client: WebSocketLink(client, plan.port))
            if plan.protocol == "websocket"
            else (lambda client: client)
        )

        arriving = asyncio.Semaphore(plan.arriving or plan.clients)
        server = (await loop.getaddrinfo(plan.host, plan.port, type=socket.SOCK_STREAM))[0]
        sources: dict[str, int] = {}

        async def connect(number: int) -> None:
            client = BenchClient(self, f"b{number}", plan.room(number))
            async with arriving:
                made = await tcp_connection(server, plan.source(number))
                transport, _ = await loop.create_connection(
                    lambda: link(client), sock=made, ssl=context, server_hostname="localhost"
                )
                await client.ready
            clients[number] = client
            address = transport.get_extra_info("sockname")[0]
            sources[address] = sources.get(address, 0) + 1
            if len(clients) % 100 == 0:
                self.pipe.send(("progress", 100))

        first = time.monotonic()
        await asyncio.gather(*(connect(number) for number in mine))
        self.pipe.send(("progress", len(clients) % 100))
        self.pipe.send(("connected", (first, time.monotonic(), sources)))
        self.pipe.recv()  # "join": after the connection cost is read, so that it excludes room notices
        await asyncio.gather(*(client.join() for client in clients.values()))
        self.pipe.send(("joined", len(clients)))
        command, start = self.pipe.recv()
        if command == "load":
            await self.load(clients, start)
        self.pipe.recv()  # "stop"
        for client in clients.values():
            assert client.transport is not None
            client.transport.close()

    async def load(self, clients: dict[int, BenchClient], start: float) -> None:
        plan = self.plan
        # Sender k of S sends at start + (k/S + j)/X: the whole load is spread evenly in time.
        schedule = sorted(
            (start + (k / plan.senders + j) / plan.rate, number)
            for k, number in enumerate(plan.senders_in_order())
            if number in clients
            for j in range(int(plan.duration * plan.rate))
        )
        sent_per_room: dict[str, int] = {}
        # The generator's own collector pauses would show up as the server's latency: objects made per message
        # are freed by reference counting, so the collector can rest while the load runs.
        gc.freeze()
        gc.disable()
        cpu = time.process_time()
        padding = "x" * (LINE_SIZE - 40)
        for due, number in schedule:
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            client = clients[number]
            client.say(f"{time.monotonic():.6f} {padding}")
            sent_per_room[client.room] = sent_per_room.get(client.room, 0) + 1
        self.pipe.send(("sent", (sent_per_room, len(schedule))))
        expected = self.pipe.recv()
        deadline = time.monotonic() + 30
        while self.delivered < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        gc.enable()
        self.pipe.send(("done", (self.delivered, self.latencies.tobytes(), time.process_time() - cpu)))


async def tcp_connection(server: tuple[Any, ...], source: str | None) -> socket.socket:
    """A TCP connection to `server` (an entry of getaddrinfo), from the address `source` when given.

    The source is bound without a port (IP_BIND_ADDRESS_NO_PORT), which is then chosen as the connection is made,
    as it is without a source: a port chosen by bind() would be the address's own until closed, TIME_WAIT included,
    where connect() may take one in TIME_WAIT again (net.ipv4.tcp_tw_reuse allows it on loopback).
    """
    family, kind, protocol, _, address = server
    made = socket.socket(family, kind, protocol)
    try:
        if source is not None:
            made.setsockopt(socket.IPPROTO_IP, socket.IP_BIND_ADDRESS_NO_PORT, 1)
            made.bind((source, 0))
        made.setblocking(False)
        await asyncio.get_running_loop().sock_connect(made, address)
    except BaseException:
        made.close()
        raise
    return made


class Asker(asyncio.Protocol):
    """An IRC client in every room that keeps WHO_WAITING `WHO *` waiting at the server, and drops the answers.

    With `history`, it asks instead for the 100 lines before now of each of the first rooms in turn (CHATHISTORY),
    one at a time, HISTORY_PAUSE seconds after the last answer, and times each answer (`answer_seconds`).
    """

    WHO_WAITING = 20
    HISTORY_PAUSE = 0.05
    HISTORY_ROOMS = 10  # asked in turn: the first ten, which a client may be in whatever --max-rooms allows

    def __init__(self, nick: str, rooms: int, answered: list[int], history: bool = False) -> None:
        self.nick = nick
        self.rooms = rooms
        self.answered = answered  # shared by the askers: [answers since the load began]
        self.partial = b""
        self.waiting = 0
        self.history = history
        self.asked = 0  # CHATHISTORY asked so far: the next room is the next in turn
        self.sent = 0.0  # when the CHATHISTORY waiting for its answer was sent
        self.answer_seconds = array("d")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        joins = ",".join(f"#{number}" for number in range(self.rooms))
        caps = "CAP REQ :batch draft/chathistory\r\n" if self.history else ""
        ended = "CAP END\r\n" if self.history else ""
        transport.write(f"{caps}NICK {self.nick}\r\nUSER {self.nick} 0 * :bench\r\n{ended}JOIN {joins}\r\n".encode())

    def ask(self) -> None:
        if self.history:
            now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() + 1))
            room = self.asked % min(self.rooms, self.HISTORY_ROOMS)
            self.transport.write(f"CHATHISTORY BEFORE #{room} timestamp={now} 100\r\n".encode())
            self.asked += 1
            self.sent = time.monotonic()
            self.waiting = 1
            return
        self.transport.write(b"WHO *\r\n" * (self.WHO_WAITING - self.waiting))
        self.waiting = self.WHO_WAITING

    def data_received(self, data: bytes) -> None:
        data = self.partial + data
        end = data.rfind(b"\n") + 1
        self.partial = data[end:]
        ended = data[:end].count(b" BATCH -" if self.history else b" 315 ")  # a batch's end, or RPL_ENDOFWHO
        if ended and self.history and self.waiting:
            self.answered[0] += 1
            self.answer_seconds.append(time.monotonic() - self.sent)
            self.waiting = 0
            asyncio.get_running_loop().call_later(self.HISTORY_PAUSE, self.ask)
        elif ended and not self.history:
            self.answered[0] += ended
            self.waiting -= ended
            self.ask()


async def connect_askers(plan: Plan, answered: list[int]) -> list[tuple[Asker, asyncio.Transport]]:
    """Connect the askers of `plan`, each in every room."""
    context = ssl.create_default_context(cafile=plan.ca)
    loop = asyncio.get_running_loop()
    askers = []
    for number in range(plan.askers):
        asker = Asker(f"asker{number}", plan.rooms, answered, plan.ask == "history")
        transport, _ = await loop.create_connection(
            functools.partial(_same, asker), plan.host, plan.port, ssl=context, server_hostname="localhost"
        )
        askers.append((asker, transport))
    return askers


def _same(asker: Asker) -> Asker:
    return asker


def ask(plan: Plan, pipe: Connection) -> None:
    """The askers' process: connects them, has them ask from "ask" to "stop", and counts the answers from "load"."""

    async def run() -> None:
        answered = [0]
        askers = await connect_askers(plan, answered)
        pipe.send(("connected", None))
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, pipe.recv)  # "ask"
        for asker, _ in askers:
            asker.ask()
        await loop.run_in_executor(None, pipe.recv)  # "load"
        answered[0] = 0
        for asker, _ in askers:
            del asker.answer_seconds[:]
        await loop.run_in_executor(None, pipe.recv)  # "stop"
        timed = array("d", (seconds for asker, _ in askers for seconds in asker.answer_seconds))
        pipe.send(("answered", (answered[0], timed.tobytes())))
        for _, transport in askers:
            transport.close()

    try:
        asyncio.run(run())
    except Exception as error:
        pipe.send(("error", f"{type(error).__name__}: {error}"))


def work(plan: Plan, index: int, pipe: Connection) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.sslproto.SSLProtocol.max_size = READ_SIZE  # this process's own asyncio: every client is one
    try:
        asyncio.run(Worker(plan, index, pipe).run())
    except Exception as error:
        pipe.send(("error", f"{type(error).__name__}: {error}"))


# The server under test, seen from outside: its CPU time and memory.


class Server:
    """The server's process and, with --workers, its workers: their CPU and memory added up."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def processes(self) -> list[int]:
        found, unseen = [], [self.pid]
        while unseen:
            pid = unseen.pop()
            found.append(pid)
            for task in Path(f"/proc/{pid}/task").iterdir():
                unseen += [int(child) for child in (task / "children").read_text().split()]
        return found

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.processes():
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        return total / os.sysconf("SC_CLK_TCK")

    def settle(self) -> None:
        """Wait until the server is idle: a join's notices to a room's members are still being written after every
        joiner has its own answer, and what they hold until then is not what an idle connection keeps."""
        deadline, last = time.monotonic() + SETTLE_LONGEST, self.cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(SETTLE_WINDOW)
            now = self.cpu_seconds()
            if now - last < SETTLE_WINDOW * SETTLE_IDLE:
                return
            last = now

    def rss_kb(self) -> int:
        total = 0
        for pid in self.processes():
            found = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
            assert found is not None
            total += int(found.group(1))
        return total


class Redis:
    """The Redis of --redis, seen through its own account of its CPU time (INFO cpu)."""

    def __init__(self, url: str) -> None:
        from chatroom.bus.redis import RedisAddress  # here: the load generator's processes need none of it

        self.address = RedisAddress.parse(url)

    def cpu_seconds(self) -> float:
        info = self.address.ask("INFO", "cpu").decode()
        return sum(float(value) for value in re.findall(r"used_cpu_(?:sys|user):([\d.]+)", info))


def start_server(
    directory: Path, protocol: str, connections: int, options: list[str], workers: int, shared: bool
) -> tuple[subprocess.Popen[bytes], int]:
    """`twistd chatroom` with these `options` on a free loopback port, holding up to `connections`; the port of the
    listener speaking `protocol`.

    If `shared` (--redis among the options), once each of its `workers` (or the one process) has joined the others.
    """
    twistd = shutil.which("twistd", path=str(Path(sys.executable).parent)) or shutil.which("twistd")
    if twistd is None:
        raise SystemExit("chatroom.bench: twistd not found: install chatroom first (see README)")
    listen = f"tcp:0:interface={LOOPBACK}:backlog=4096"
    irc = ["--irc", listen] if protocol == "irc" else ["--no-irc"]
    web = ["--web", listen] if protocol == "websocket" else ["--no-web"]
    process = _start(
        [twistd, "-n", "--pidfile=", "chatroom", "--certs", str(directory / "certs"),
         "--listen", listen, *irc, *web, "--max-clients", str(connections), *SERVER_OPTIONS, *options],
        directory,
    )  # fmt: skip
    label = re.escape(LISTENER[protocol].encode())
    listening = rb"chatroom listening on 127\.0\.0\.1:(\d+) with TLS \(" + label + rb"\)"
    joined = [rb"chatroom joined the others through Redis"] * workers if shared else []
    return process, _port_from_log(process, listening, *joined)


NGIRCD_CONFIG = """\
[Global]
    Name = bench.ngircd
    Info = chatroom.bench
    AdminInfo1 = chatroom.bench
    AdminEMail = nobody@localhost
    Listen = {host}
    Ports = {plain_port}
[Limits]
    MaxConnections = 0
    MaxConnectionsIP = 0
    MaxJoins = 0
    MaxNickLength = 16
    MaxPenaltyTime = 0
    PingTimeout = 3600
    PongTimeout = 3600
[Options]
    DNS = no
    Ident = no
    PAM = no
[SSL]
    CertFile = {certs}/server.crt
    KeyFile = {certs}/server.key
    Ports = {port}
"""


def start_ngircd(directory: Path) -> tuple[subprocess.Popen[bytes], int]:
    """ngircd with chatroom's kind of certificate and the same limits lifted (flood penalties, caps, pings)."""
    ngircd = shutil.which("ngircd") or shutil.which("ngircd", path="/usr/sbin")
    if ngircd is None:
        raise SystemExit("chatroom.bench: --compare needs ngircd: apt-get install ngircd")
    certs = _peer_certificates(directory / "ngircd-certs")
    for path in certs.iterdir():
        path.chmod(0o644)  # ngircd reads them after dropping root for "nobody"
    port, plain_port = _free_port(), _free_port()
    config = directory / "ngircd.conf"
    config.write_text(NGIRCD_CONFIG.format(host=LOOPBACK, plain_port=plain_port, port=port, certs=certs))
    process = _start([ngircd, "--nodaemon", "--config", str(config)], directory)
    _port_from_log(process, rb"Server .* ready")
    return process, port


def start_floor(directory: Path) -> tuple[subprocess.Popen[bytes], int]:
    """chatroom.floor, with a certificate of chatroom's kind."""
    certs = _peer_certificates(directory / "floor-certs")
    process = _start([sys.executable, "-m", "chatroom.floor", str(certs)], directory)
    return process, _port_from_log(process, rb"floor listening on 127\.0\.0\.1:(\d+)")


PEERS = {"ngircd": start_ngircd, "floor": start_floor}  # what --compare can set beside chatroom over IRC


def _peer_certificates(certs: Path) -> Path:
    from chatroom.server import tls  # here, not at the top: the load generator's processes need none of it

    tls.create(certs, "localhost")
    return certs


def _start(command: list[str], directory: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=directory, preexec_fn=_prepare_server
    )


def _prepare_server() -> None:
    """In the server's process: as many open files as allowed, and SIGTERM if the benchmark dies."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: no server outlives the benchmark


def _port_from_log(process: subprocess.Popen[bytes], *patterns: bytes) -> int:
    """Read the server's log until it has printed `patterns`, in that order; the port the first captured, if any."""
    assert process.stdout is not None
    line, port, waiting = b"", 0, list(patterns)
    for line in process.stdout:
        found = re.search(waiting[0], line)
        if found:
            port = port or (int(found.group(1)) if found.groups() else 0)
            waiting.pop(0)
            if not waiting:
                # Keep reading its log, or a full pipe would block the server on its next log line.
                threading.Thread(target=process.stdout.read, daemon=True).start()
                return port
    raise SystemExit("chatroom.bench: the server did not start: " + line.decode(errors="replace"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


class Progress:
    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done, self.shown = label, total, 0, -1

    def add(self, count: int) -> None:
        self.done += count
        tenth = self.done * 10 // max(1, self.total)
        if tenth != self.shown:
            self.shown = tenth
            bar = "#" * tenth + "." * (10 - tenth)
            end = "\n" if self.done >= self.total else ""
            print(f"\r{self.label} [{bar}] {self.done}/{self.total}", end=end, file=sys.stderr, flush=True)


def run(plan: Plan, workload: str, server: Server, name: str, redis: Redis | None = None) -> Figures:
    figures = Figures(workload, name, plan.protocol, plan.clients, plan.rooms, plan.senders, plan.rate, plan.duration,
                      plan.layout, plan.arriving)  # fmt: skip
    context = multiprocessing.get_context("spawn")
    pipes, workers = [], []
    for index in range(plan.processes):
        mine, theirs = context.Pipe()
        worker = context.Process(target=work, args=(plan, index, theirs), daemon=True)
        worker.start()
        pipes.append(mine)
        workers.append(worker)

    asking = None
    if plan.askers:
        asking, theirs = context.Pipe()
        context.Process(target=ask, args=(plan, theirs), daemon=True).start()
        kind, value = asking.recv()
        if kind == "error":
            raise SystemExit(f"chatroom.bench: the askers failed: {value}")

    def gather(expected: str) -> list[Any]:
        """What each load generator answered: the kind of value each message of `expected` carries."""
        answers = []
        for pipe in pipes:
            while True:
                kind, value = pipe.recv()
                if kind == "error":
                    raise SystemExit(f"chatroom.bench: a load generator failed: {value}")
                if kind == expected:
                    answers.append(value)
                    break
                progress.add(value)
        return answers

    rss_before, cpu_before = server.rss_kb(), server.cpu_seconds()
    progress = Progress("connecting", plan.clients)
    arrivals = gather("connected")
    figures.server_cpu_us_per_connection = (server.cpu_seconds() - cpu_before) * 1e6 / plan.clients
    for _, _, sources in arrivals:
        for address, count in sources.items():
            figures.sources[address] = figures.sources.get(address, 0) + count
    figures.registered = sum(figures.sources.values())
    figures.connect_seconds = max(last for _, last, _ in arrivals) - min(first for first, _, _ in arrivals)
    figures.connections_per_second = figures.registered / figures.connect_seconds
    cpu_before = server.cpu_seconds()
    for pipe in pipes:
        pipe.send(("join", None))
    figures.joined = sum(gather("joined"))
    figures.server_cpu_us_per_join = (server.cpu_seconds() - cpu_before) * 1e6 / plan.clients
    server.settle()
    figures.server_rss_kb_per_connection = (server.rss_kb() - rss_before) / plan.clients
    if asking is not None:
        asking.send("ask")
        time.sleep(ASKING_WARMUP)  # the load is measured once the askers ask at the pace the server lets them

    if plan.senders:
        start = time.monotonic() + 0.5
        for pipe in pipes:
            pipe.send(("load", start))
        if asking is not None:
            asking.send("load")
        cpu_start = server.cpu_seconds()
        redis_start = redis.cpu_seconds() if redis is not None else 0.0
        progress = Progress("sending", 0)
        sent: dict[str, int] = {}
        own = []  # messages each load generator sent: without echoes, its senders do not receive them
        for counts, total in gather("sent"):
            own.append(0 if SPEECH[plan.protocol].echoes else total)
            for room, count in counts.items():
                sent[room] = sent.get(room, 0) + count
        # Each message reaches every member of its room: count, per process, the members it holds.
        held = [dict.fromkeys(sent, 0) for _ in pipes]
        for number in range(plan.clients):
            room = plan.room(number)
            if room in sent:
                held[number % plan.processes][room] += 1
        expected = 0
        for pipe, members, echoes in zip(pipes, held, own, strict=True):
            share = sum(sent[room] * count for room, count in members.items()) - echoes
            pipe.send(share)
            expected += share
        results = gather("done")
        if asking is not None:
            asking.send("stop")
            count, timed = asking.recv()[1]
            figures.askers, figures.who_answers, figures.ask = plan.askers, count, plan.ask
            answers = array("d")
            answers.frombytes(timed)
            ordered_answers = sorted(answers)
            if ordered_answers:
                figures.answer_ms = {
                    "p50": statistics.median(ordered_answers) * 1e3,
                    "p99": ordered_answers[int(len(ordered_answers) * 0.99)] * 1e3,
                    "max": ordered_answers[-1] * 1e3,
                }
        wall = time.monotonic() - start
        cpu_load = server.cpu_seconds() - cpu_start
        redis_load = redis.cpu_seconds() - redis_start if redis is not None else None
        delivered = sum(result[0] for result in results)
        if redis_load is not None:
            figures.redis_cpu_us_per_delivery = redis_load * 1e6 / max(1, delivered)
        latencies = array("d")
        for result in results:
            latencies.frombytes(result[1])
        figures.expected, figures.delivered = expected, delivered
        figures.load_seconds = wall
        figures.deliveries_per_second = delivered / wall  # past saturation, the load takes longer than planned
        figures.server_cpu_us_per_delivery = cpu_load * 1e6 / max(1, delivered)
        figures.server_cpu_share = cpu_load / wall
        ordered = sorted(latencies)
        figures.latency_ms = {
            "p50": statistics.median(ordered) * 1e3 if ordered else None,
            "p99": ordered[int(len(ordered) * 0.99)] * 1e3 if ordered else None,
            "max": ordered[-1] * 1e3 if ordered else None,
        }
        shares = [result[2] / wall for result in results]
        figures.generator_cpu_share = max(shares)
        figures.generator_bottleneck = max(shares) > 0.9
    else:
        for pipe in pipes:
            pipe.send(("idle", None))
    for pipe in pipes:
        pipe.send(("stop", None))
    for worker in workers:
        worker.join(30)
    return figures


def arrival(figures: Figures) -> str:
    if figures.arriving:
        return f"made {figures.arriving} at a time per load generator"
    return f"all {figures.clients:,} connecting at once"


def sources(figures: Figures) -> str:
    """The source addresses the clients came from, and how many from each."""
    ordered = sorted(figures.sources.items(), key=lambda item: ipaddress.ip_address(item[0]))
    return ", ".join(f"{address} ({count:,})" for address, count in ordered)


def report(figures: Figures) -> str:
    where = " all in room #0" if figures.layout == "hot-room" else ""
    lines = [
        f"{figures.server}, workload {figures.workload} over {figures.protocol}: {figures.clients} clients in"
        f" {figures.rooms} rooms, {figures.senders} senders{where} at {figures.rate:g}/s for {figures.duration:g} s",
        "  server CPU per TLS connection (TCP, TLS handshake, nickname): "
        + _number(figures.server_cpu_us_per_connection, "µs"),
        f"  server CPU per join: {_number(figures.server_cpu_us_per_join, 'µs')}",
        f"  clients registered: {figures.registered:,} of {figures.clients:,}, from {sources(figures)}, in"
        f" {_number(figures.connect_seconds, 's', 1)}: {_number(figures.connections_per_second, 'a second', 0)};"
        f" joined: {figures.joined:,}",
        f"  server RSS per idle connection, {arrival(figures)}: {_number(figures.server_rss_kb_per_connection, 'KB')}",
    ]
    if figures.senders:
        latency = figures.latency_ms
        lines += [
            f"  deliveries: {figures.delivered:,} of {figures.expected:,} expected"
            + ("" if figures.delivered == figures.expected else "  <-- LOST DELIVERIES"),
            f"  deliveries per second: {_number(figures.deliveries_per_second, '/s', 0)}"
            f" (over {_number(figures.load_seconds, 's', 2)}, {figures.duration:g} s planned)",
            f"  server CPU per delivery: {_number(figures.server_cpu_us_per_delivery, 'µs', 2)}"
            f" ({_number((figures.server_cpu_share or 0) * 100, '% of a core', 0)} during the load,"
            f" {figures.workers} process{'es' if figures.workers > 1 else ''})",
            f"  latency: p50 {_number(latency['p50'], 'ms', 2)}, p99 {_number(latency['p99'], 'ms', 2)},"
            f" max {_number(latency['max'], 'ms', 2)}",
            f"  load generator: {_number((figures.generator_cpu_share or 0) * 100, '% of a core', 0)} per process",
        ]
        if figures.askers and figures.ask == "history":
            answer = figures.answer_ms
            lines.append(
                f"  meanwhile {figures.askers} askers had {figures.who_answers:,} `CHATHISTORY BEFORE #ROOM NOW 100`"
                f" answered: p50 {_number(answer.get('p50'), 'ms', 2)}, p99 {_number(answer.get('p99'), 'ms', 2)},"
                f" max {_number(answer.get('max'), 'ms', 2)}"
            )
        elif figures.askers:
            lines.append(f"  meanwhile {figures.askers} askers had {figures.who_answers:,} `WHO *` answered")
        if figures.redis_cpu_us_per_delivery is not None:
            lines.append(f"  Redis CPU per delivery: {_number(figures.redis_cpu_us_per_delivery, 'µs', 2)}")
        if figures.generator_bottleneck:
            lines.append("  WARNING: the load generator was the bottleneck: use more --processes")
    return "\n".join(lines)


# What --compare sets side by side: each a figure of one run, lower is better.
COMPARED: dict[str, Callable[[Figures], float | None]] = {
    "server CPU per delivery": lambda f: f.server_cpu_us_per_delivery,
    "server CPU to connect, register and join": lambda f: _sum(
        f.server_cpu_us_per_connection, f.server_cpu_us_per_join
    ),
    "server RSS per connection": lambda f: f.server_rss_kb_per_connection,
    "latency p99": lambda f: f.latency_ms.get("p99"),
}


def ratios(
    ours: list[Figures], peer: list[Figures], names: tuple[str, str] = ("chatroom", "ngircd")
) -> dict[str, dict[str, float | None]]:
    """Each compared figure's median over the runs of both, and ours as a multiple of the peer's."""
    table: dict[str, dict[str, float | None]] = {}
    for name, figure in COMPARED.items():
        mine, theirs = _median([figure(f) for f in ours]), _median([figure(f) for f in peer])
        ratio = mine / theirs if mine is not None and theirs else None
        table[name] = {names[0]: mine, names[1]: theirs, "ratio": ratio}
    return table


def comparison(
    table: dict[str, dict[str, float | None]], runs: int, names: tuple[str, str] = ("chatroom", "ngircd")
) -> str:
    lines = [f"{names[0]} against {names[1]}, medians of {runs} run(s) each, alternated:"]
    for name, row in table.items():
        lines.append(
            f"  {name}: {names[0]} {_number(row[names[0]], '')}, {names[1]} {_number(row[names[1]], '')}:"
            f" {_number(row['ratio'], 'x', 2)}"
        )
    return "\n".join(lines)


def _number(value: float | None, unit: str, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f} {unit}".rstrip()


def _sum(*values: float | None) -> float | None:
    return None if None in values else sum(value for value in values if value is not None)


def _median(values: list[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return statistics.median(known) if known else None


# What kept lines cost (--history): measured in this process, through the core's own Chat.say, with no network.

SPEAKERS = ("alice", "bob", "carol", "dave", "erin")  # a handful of people, each in every room
WORDS = (  # what they say is made of these
    "the a to and of it is that you for on in we this be with have not just but so can do what was are my if like"
    " think about time all one there will now get out then know good at yeah no up how me would when people make"
    " sure thing see work could right new use need really way also change test branch server room release fixed"
)
HISTORY_START = 1_795_000_000_000  # milliseconds since the epoch (November 2026) when the first message is said


@dataclass
class HistoryFigures:
    rooms: int
    lines: int  # --history: kept per room
    age: float  # --history-age in seconds; 0 for none
    per_room: int  # messages said in each room
    said: int = 0
    kept: int = 0
    traced_bytes_per_line: float | None = None  # Python's allocations (tracemalloc): exact and repeatable
    rss_bytes_per_line: float | None = None  # the process's RSS: what the machine gives, allocator rounding included
    text_bytes_per_line: float | None = None  # of those, the text's own str object
    cpu_us_per_say: float | None = None  # Chat.say to members who drop what they hear, measured untraced
    full_collections: int = 0  # the collector's own passes over every object while the messages were said (untraced)
    full_collections_ms: float = 0.0  # how long they took, while the messages were said
    full_collection_ms: float | None = None  # one such pass with everything kept: a pause the server would take
    date: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M:%S %z"))
    machine: str = field(default_factory=lambda: f"{platform.node()} {os.cpu_count()} cores, {platform.platform()}")


def typed(count: int, seed: int = 15) -> list[bytes]:
    """Lines as people type them: 60 to 100 characters of words, as the bytes the server reads."""
    chance, words = random.Random(seed), WORDS.split()
    lines = []
    for _ in range(count):
        length = chance.randint(60, 100)
        text = ""
        while len(text) < length:
            text += chance.choice(words) + " "
        lines.append(text[:length].strip().encode())
    return lines


class FullCollections:
    """Counts and times the collector's passes over the oldest generation (every tracked object) while active."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self.started = 0.0

    def __enter__(self) -> FullCollections:
        gc.callbacks.append(self.seen)
        return self

    def __exit__(self, *exception: object) -> None:
        gc.callbacks.remove(self.seen)

    def seen(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self.count += 1
            self.started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self.started


def fill(figures: HistoryFigures, usage: Callable[[], int]) -> tuple[Any, int, float, FullCollections]:
    """A chat whose rooms have each heard `figures.per_room` messages, taking turns as live rooms do.

    Returns the chat, how much `usage` (bytes) grew while they were said, the CPU seconds that took, and the
    collector's full passes meanwhile. Each message is decoded from bytes as the server decodes a line: its text is
    its own string.
    """
    from chatroom.bus.shared import ELSEWHERE
    from chatroom.core.chat import Chat  # here: the load generator's processes need none of it
    from chatroom.core.history import HistoryLimits
    from chatroom.core.members import RoomLimits

    clock = itertools.count(HISTORY_START)  # each reading of the time a millisecond after the last
    limits = HistoryLimits(figures.lines, figures.age)
    chat = Chat(RoomLimits(rooms_per_member=figures.rooms), now=lambda: next(clock) / 1000, history=limits)
    # Sessions that deliver nothing, as a member on another process has: only the core's cost is measured.
    people = [chat.register(ELSEWHERE, nick, None, LOOPBACK) for nick in SPEAKERS]
    names = [f"#room{number}" for number in range(figures.rooms)]
    for person in people:
        for name in names:
            chat.join(person, name)
    said = typed(4096)
    gc.collect()
    before, cpu = usage(), time.process_time()
    count = 0
    with FullCollections() as collections:
        for turn in range(figures.per_room):
            for number, name in enumerate(names):
                chat.say(people[(turn + number) % len(people)], name, said[count % len(said)].decode())
                count += 1
    cpu = time.process_time() - cpu
    gc.collect()
    figures.said = count
    return chat, usage() - before, cpu, collections


def measure_history(figures: HistoryFigures) -> HistoryFigures:
    """Fill the rooms to read the RSS and the CPU, then, if anything was kept, again under tracemalloc (which slows
    every allocation). The RSS pass comes first, in a fresh process: memory freed by an earlier pass would be reused,
    and hide the growth.
    """
    chat, grown, cpu, collections = fill(figures, lambda: Server(os.getpid()).rss_kb() * 1024)
    figures.full_collections, figures.full_collections_ms = collections.count, collections.seconds * 1e3
    kept = [message for room in chat.rooms.values() for message in room.history.kept]
    figures.kept = len(kept)
    figures.cpu_us_per_say = cpu * 1e6 / figures.said if figures.said else None
    start = time.perf_counter()
    gc.collect()
    figures.full_collection_ms = (time.perf_counter() - start) * 1e3
    if not kept:
        return figures
    figures.rss_bytes_per_line = grown / len(kept)
    figures.text_bytes_per_line = sum(sys.getsizeof(message.text) for message in kept) / len(kept)
    del chat, kept
    tracemalloc.start()
    try:
        _, grown, _, _ = fill(figures, lambda: tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    figures.traced_bytes_per_line = grown / figures.kept
    return figures


def history_report(figures: HistoryFigures) -> str:
    age = f", none older than {figures.age:g} s" if figures.age else ""
    return "\n".join(
        [
            f"history: {figures.rooms:,} rooms keeping {figures.lines:,} lines each{age}, {len(SPEAKERS)} people in"
            f" each; {figures.per_room:,} messages of 60-100 characters said in each, {figures.said:,} in all",
            f"  lines kept: {figures.kept:,}",
            f"  bytes per kept line: {_number(figures.traced_bytes_per_line, 'traced (tracemalloc)')},"
            f" {_number(figures.rss_bytes_per_line, 'of RSS')}; its text's own string:"
            f" {_number(figures.text_bytes_per_line, '')}",
            f"  CPU per message said: {_number(figures.cpu_us_per_say, 'µs', 2)} (its {len(SPEAKERS)} hearers drop it)",
            f"  full garbage collections while it was said: {figures.full_collections}, taking"
            f" {_number(figures.full_collections_ms, 'ms', 0)} in all; one with all of it kept:"
            f" {_number(figures.full_collection_ms, 'ms')}",
        ]
    )


# Searching kept lines (issue 28): the history file's FTS5 index, in this process, with no network.

SEARCHED = ("the", "server", "release fixed", "branch test", "yeah", "q4242", "q4242 the", "nothing")  # typical asks
RARE_WORDS = 100_000  # a line in three also names one of these (q0 ... q99999): a ticket, a name, a place
SEARCH_ROOMS = 10  # the searcher is in all of them: each search asks every room


@dataclass
class SearchFigures:
    lines: int  # kept in the file, over SEARCH_ROOMS rooms
    asks: int  # times each of SEARCHED is asked
    build_seconds: float | None = None  # writing the file through the writer's own transaction, if it was built
    file_bytes: int = 0
    ms: dict[str, dict[str, float]] = field(default_factory=dict)  # by query: p50, p99, max
    all_ms: dict[str, float] = field(default_factory=dict)  # every search: p50, p99, max
    all_cpu_ms: dict[str, float] = field(default_factory=dict)  # every search's CPU time: p50, p99, max
    merge_seconds: float | None = None  # the index merged whole, as after a redaction (on a copy of the file)
    merged_ms: dict[str, float] = field(default_factory=dict)  # every search on that copy: p50, p99, max
    merged_cpu_ms: dict[str, float] = field(default_factory=dict)
    date: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M:%S %z"))
    machine: str = field(default_factory=lambda: f"{platform.node()} {os.cpu_count()} cores, {platform.platform()}")


def search_file(path: Path, lines: int) -> float | None:
    """`path` holding `lines` kept lines, made as the server's writer makes them (its `_commit`, in batches of
    10,000, each room keeping all it is given); None if it held them already (the file is built once)."""
    from chatroom.core.events import Message  # here: the load generator's processes need none of it
    from chatroom.core.history import HistoryLimits, timestamp
    from chatroom.stores.history import SqliteHistory

    store = SqliteHistory(path, HistoryLimits(lines), None, None)  # type: ignore[arg-type]  # no thread, no clock
    db = store._connect()
    if db.execute("SELECT count(*) FROM lines").fetchone()[0] == lines:
        db.close()
        return None
    db.close()
    for part in path.parent.glob(path.name + "*"):  # another size: made again
        part.unlink()
    db = store._connect()
    try:
        chance, texts = random.Random(28), [line.decode() for line in typed(4096)]
        start = time.perf_counter()
        for first in range(0, lines, 10_000):
            batch = []
            for number in range(first, min(lines, first + 10_000)):
                room, said = number % SEARCH_ROOMS, number // SEARCH_ROOMS + 1
                text = texts[number % len(texts)]
                text += f" q{chance.randrange(RARE_WORDS)}" if chance.random() < 1 / 3 else ""
                when = timestamp(HISTORY_START / 1000 + number / 100)
                message = Message(f"#{room}", SPEAKERS[number % len(SPEAKERS)], text, id=f"e{room}-{said}", time=when)
                batch.append(("said", str(room), message))
            store._commit(db, batch, None)
        return time.perf_counter() - start
    finally:
        db.close()


def measure_search(figures: SearchFigures, path: Path) -> SearchFigures:
    """Ask each of SEARCHED `figures.asks` times, in turns, as a member of every room, through the store's own
    search (what its reader thread runs), the newest 50 lines each; timed from the ask to the Messages made, in
    wall-clock and in the thread's CPU time (which a loaded machine does not inflate). Then the same on a copy of the
    file whose index was merged whole, as a redaction leaves it, and how long that merge took."""
    figures.build_seconds = search_file(path, figures.lines)
    figures.file_bytes = sum(part.stat().st_size for part in path.parent.glob(path.name + "*"))
    figures.ms, figures.all_ms, figures.all_cpu_ms = _searches(path, figures)
    copy = path.with_name(path.name + ".merged")
    shutil.copyfile(path, copy)
    try:
        with contextlib.closing(sqlite3.connect(copy, isolation_level=None)) as db:
            start = time.perf_counter()
            db.execute("INSERT INTO words (words) VALUES ('optimize')")
            figures.merge_seconds = time.perf_counter() - start
        _, figures.merged_ms, figures.merged_cpu_ms = _searches(copy, figures)
    finally:
        for part in copy.parent.glob(copy.name + "*"):
            part.unlink()
    return figures


def _searches(
    path: Path, figures: SearchFigures
) -> tuple[dict[str, dict[str, float]], dict[str, float], dict[str, float]]:
    """Each query's wall-clock spread, and every search's wall-clock and CPU spreads, in ms."""
    from chatroom.core.history import HistoryLimits
    from chatroom.core.search import SearchQuery, SearchRoom, words
    from chatroom.stores.history import SqliteHistory

    store = SqliteHistory(path, HistoryLimits(figures.lines), None, None)  # type: ignore[arg-type]
    rooms = tuple(SearchRoom(str(number), f"#{number}", "") for number in range(SEARCH_ROOMS))
    wall: dict[str, list[float]] = {text: [] for text in SEARCHED}
    cpu: list[float] = []
    for _ in range(figures.asks):
        for text in SEARCHED:
            start, used = time.perf_counter(), time.thread_time()
            store._reading_with(store._search, SearchQuery(words(text), rooms))
            wall[text].append((time.perf_counter() - start) * 1e3)
            cpu.append((time.thread_time() - used) * 1e3)
    store._close_reader()
    every = [each for taken in wall.values() for each in taken]
    return {text: _spread(taken) for text, taken in wall.items()}, _spread(every), _spread(cpu)


def _spread(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"p50": statistics.median(ordered), "p99": ordered[int(len(ordered) * 0.99)], "max": ordered[-1]}


def search_report(figures: SearchFigures) -> str:
    built = "" if figures.build_seconds is None else f", built in {figures.build_seconds:.1f} s"

    def spread(ms: dict[str, float]) -> str:
        return (
            f"p50 {_number(ms['p50'], 'ms', 2)}, p99 {_number(ms['p99'], 'ms', 2)}, max {_number(ms['max'], 'ms', 2)}"
        )

    lines = [
        f"search: {figures.lines:,} kept lines in {SEARCH_ROOMS} rooms, {figures.file_bytes / 1e6:.0f} MB{built};"
        f" each query asked {figures.asks} times over all {SEARCH_ROOMS} rooms, the newest 50 lines",
        f"  every search: {spread(figures.all_ms)}; its CPU: {spread(figures.all_cpu_ms)}",
    ]
    for text, ms in figures.ms.items():
        lines.append(f"  {text!r}: {spread(ms)}")
    lines += [
        f"  the index merged whole, as a redaction has it: {_number(figures.merge_seconds, 's', 2)}",
        f"  then every search: {spread(figures.merged_ms)}; its CPU: {spread(figures.merged_cpu_ms)}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m chatroom.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("workload", nargs="?", choices=sorted([*WORKLOADS, "history", "search"]), default="steady")
    parser.add_argument("--clients", type=int, help="override the workload's number of clients")
    parser.add_argument("--rooms", type=int, help="override the workload's number of rooms")
    parser.add_argument("--senders", type=int, help="override the workload's number of senders")
    parser.add_argument("--rate", type=float, help="override the messages per second of each sender")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of sending (default 10)")
    parser.add_argument("--processes", type=int, default=1, help="load generator processes (default 1)")
    parser.add_argument("--protocol", choices=sorted(SPEECH), default="line", help="what to speak (default line)")
    parser.add_argument(
        "--askers", type=int, default=0, help="with --protocol irc: clients flooding `WHO *` in every room meanwhile"
    )
    parser.add_argument(
        "--ask",
        choices=("who", "history"),
        default="who",
        help="what the --askers ask: `WHO *` as fast as answered (default), or, one at a time, the 100 lines before"
        " now of each room in turn (CHATHISTORY BEFORE), each answer timed",
    )
    parser.add_argument(
        "--compare",
        nargs="?",
        const="ngircd",
        choices=("ngircd", "floor", "irc"),
        help="run the workload twice, alternately, and compare: over IRC against chatroom and ngircd (the default),"
        " or against the floor (chatroom.floor: chatroom's TLS transport relaying each line, and nothing else), or"
        " `irc`: over --protocol (websocket, line) and over IRC, both against chatroom",
    )
    parser.add_argument("--repeat", type=int, default=1, help="with --compare: runs of each (default 1)")
    parser.add_argument(
        "--arriving", type=int, help=f"connections made at once per load generator (default {ARRIVING}; 0: all)"
    )
    parser.add_argument(
        "--clients-per-address",
        type=int,
        default=PER_ADDRESS,
        help=f"clients from one source address, beyond which they come from 127.0.0.2, 127.0.0.3, ... (default"
        f" {PER_ADDRESS:,}; one address has about 28,000 ports to reach the server from; loopback servers only)",
    )
    parser.add_argument("--host", default=LOOPBACK, help="with --port: a running server to measure")
    parser.add_argument("--port", type=int, help="a running server's port; needs --server-pid and --ca")
    parser.add_argument("--server-pid", type=int, help="the running server's process id, to read its CPU and RSS")
    parser.add_argument("--ca", help="the running server's ca.pem")
    parser.add_argument("--json", type=Path, help="also write the figures to this file, for comparing runs")
    parser.add_argument("--redis", help="run chatroom with --redis URL (a Redis you started), under a fresh prefix")
    parser.add_argument("--workers", type=int, default=1, help="run chatroom with --workers N (needs --redis)")
    parser.add_argument(
        "--history", type=int, help="run chatroom with --history N; the history workload: lines kept (default 1000)"
    )
    parser.add_argument("--history-age", default="0", help="run chatroom with --history-age DURATION, such as 24h")
    parser.add_argument(
        "--history-store", help="run chatroom with --history-store sqlite:PATH or memory (default: chatroom's own)"
    )
    parser.add_argument(
        "--said", type=int, help="the history workload: messages said in each room (default: as many as are kept)"
    )
    parser.add_argument("--lines", type=int, default=1_000_000, help="the search workload: lines kept (default 1e6)")
    parser.add_argument("--asks", type=int, default=20, help="the search workload: times each query is asked")
    parser.add_argument(
        "--file", type=Path, help="the search workload: its history file, built once (default: temporary)"
    )
    arguments = parser.parse_args(argv)
    if arguments.workload == "search":
        with tempfile.TemporaryDirectory(prefix="chatroom-bench-") as scratch:
            searched = measure_search(SearchFigures(arguments.lines, arguments.asks),
                                      arguments.file or Path(scratch) / "history.sqlite")  # fmt: skip
        print(search_report(searched))
        if arguments.json:
            arguments.json.write_text(json.dumps(asdict(searched), indent=2) + "\n")
        return
    if arguments.workload == "history":
        lines = 1000 if arguments.history is None else arguments.history
        history = HistoryFigures(arguments.rooms or 1000, lines, _duration(arguments.history_age),
                                 arguments.said or lines or 1000)  # fmt: skip
        measure_history(history)
        print(history_report(history))
        if arguments.json:
            arguments.json.write_text(json.dumps(asdict(history), indent=2) + "\n")
        return
    keeping = [] if arguments.history is None else ["--history", str(arguments.history)]
    keeping += ["--history-age", arguments.history_age] if arguments.history_age != "0" else []
    keeping += ["--history-store", arguments.history_store] if arguments.history_store else []
    if arguments.workers > 1 and not arguments.redis:
        raise SystemExit("chatroom.bench: --workers needs --redis: the workers share the chat through it")
    if arguments.askers and (arguments.protocol != "irc" or arguments.compare):
        raise SystemExit("chatroom.bench: --askers needs --protocol irc, and no --compare")
    if arguments.compare == "irc" and arguments.protocol == "irc":
        raise SystemExit("chatroom.bench: --compare irc compares another --protocol (websocket, line) with IRC")
    settings = WORKLOADS[arguments.workload] | {
        name: getattr(arguments, name)
        for name in ("clients", "rooms", "senders", "rate", "arriving")
        if getattr(arguments, name) is not None
    }

    def plan(port: int, ca: str, protocol: str) -> Plan:
        return Plan(arguments.host, port, ca, duration=arguments.duration, processes=arguments.processes,
                    protocol=protocol, askers=arguments.askers, ask=arguments.ask,
                    per_address=arguments.clients_per_address, **settings)  # fmt: skip

    try:
        plan(0, "", arguments.protocol).senders_in_order()
    except ValueError as error:
        raise SystemExit(f"chatroom.bench: {error}") from None
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    short = open_files_short(plan(0, "", arguments.protocol), hard, arguments.workers if arguments.port is None else 0)
    if short is not None:
        raise SystemExit(f"chatroom.bench: {short}")
    if arguments.port is not None:
        if arguments.server_pid is None or arguments.ca is None:
            raise SystemExit("chatroom.bench: --port needs --server-pid and --ca")
        figures = run(plan(arguments.port, arguments.ca, arguments.protocol), arguments.workload,
                      Server(arguments.server_pid), "the server at --port")  # fmt: skip
        _write(figures, arguments.json)
        return
    if not arguments.compare:
        keeping += [] if arguments.askers and arguments.ask == "who" else LIFT_FLOOD_CONTROL  # history: its latency
        figures = measure(
            "chatroom", arguments.protocol, arguments.workload, plan, arguments.redis, arguments.workers, keeping
        )
        _write(figures, arguments.json)
        return
    ours: list[Figures] = []
    peer: list[Figures] = []
    keeping += LIFT_FLOOD_CONTROL
    against_peer = arguments.compare != "irc"  # another server, over IRC
    protocol = "irc" if against_peer else arguments.protocol
    names = ("chatroom", arguments.compare) if against_peer else (f"chatroom over {protocol}", "chatroom over irc")
    for _ in range(arguments.repeat):
        ours.append(
            measure("chatroom", protocol, arguments.workload, plan, arguments.redis, arguments.workers, keeping)
        )
        if against_peer:
            peer.append(measure(arguments.compare, "irc", arguments.workload, plan))
        else:
            peer.append(measure("chatroom", "irc", arguments.workload, plan, arguments.redis, arguments.workers,
                                keeping))  # fmt: skip
    table = ratios(ours, peer, names)
    print(comparison(table, arguments.repeat, names))
    if arguments.json:
        everything = {names[0]: [asdict(f) for f in ours], names[1]: [asdict(f) for f in peer], "ratios": table}
        arguments.json.write_text(json.dumps(everything, indent=2) + "\n")


def open_files_short(plan: Plan, hard: int, workers: int) -> str | None:
    """Why `plan` does not fit the hard limit on open files, or None: each load generator needs a file per client it
    holds, and each of the server's `workers` (0: not ours to start) one per connection it holds.

    The benchmark and everything it starts can raise their soft limit up to the hard limit, and do; only root may
    raise the hard limit, before the benchmark starts, as a deployment's operator does (docs/running.md).
    """
    from chatroom.server.limits import open_files_for  # here: the load generator's processes need none of it

    generators = open_files_for(-(-plan.clients // plan.processes))
    server = open_files_for(-(-plan.connections // workers)) if workers else 0
    wanted = max(generators, server)
    if wanted <= hard:
        return None
    where, otherwise = ("the server", "") if server >= generators else ("each load generator", ", or more --processes")
    return (
        f"{plan.connections:,} connections need {wanted:,} open files in {where}, more than the hard limit of"
        f" {hard:,}: raise it as root before starting (ulimit -Hn {wanted}){otherwise}"
    )


def measure(
    name: str,
    protocol: str,
    workload: str,
    plan: Callable[[int, str, str], Plan],
    redis: str | None = None,
    workers: int = 1,
    keeping: list[str] | None = None,
) -> Figures:
    """Start a fresh server (`chatroom`, or one of PEERS), run the workload against it, stop it, and print its figures.

    `keeping`: more of chatroom's options (--history, and the lifting of flood control unless there are askers).
    """
    with tempfile.TemporaryDirectory(prefix="chatroom-bench-") as scratch:
        directory = Path(scratch)
        shared = Redis(redis) if redis and name == "chatroom" else None
        if name in PEERS:
            process, port = PEERS[name](directory)
            ca = directory / f"{name}-certs" / "ca.pem"
        else:
            # A fresh prefix: nothing another run left in that Redis is shared with this one.
            sharing = ["--redis", redis, "--redis-prefix", f"bench-{os.getpid()}-{time.time_ns()}"] if redis else []
            sharing += ["--workers", str(workers)] if workers > 1 else []
            connections = plan(0, "", protocol).connections
            process, port = start_server(directory, protocol, connections, sharing + (keeping or []), workers,
                                         bool(redis))  # fmt: skip
            ca = directory / "certs" / "ca.pem"
        try:
            figures = run(plan(port, str(ca), protocol), workload, Server(process.pid), name, shared)
            figures.workers = workers if name == "chatroom" else 1
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    print(report(figures), flush=True)
    return figures


def _duration(text: str) -> float:
    """--history-age in seconds, as twistd chatroom reads it: a duration such as 24h, or 0 for none."""
    from chatroom.core.errors import ChatError
    from chatroom.core.moderation import parse_duration

    try:
        seconds = parse_duration(text) if text != "0" else 0.0
    except ChatError:
        seconds = None
    if seconds is None:
        raise SystemExit(f"chatroom.bench: --history-age must be a duration such as 24h, or 0; not {text}")
    return seconds


def _write(figures: Figures, path: Path | None) -> None:
    print(report(figures))
    if path is not None:
        path.write_text(json.dumps(asdict(figures), indent=2) + "\n")


if __name__ == "__main__":
    main()

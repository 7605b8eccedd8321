"""`python -m chatroom.floor CERTS`: the least a server on Twisted and chatroom's TLS transport does per delivery.

It speaks just enough IRC for chatroom.bench (NICK, USER, JOIN, PRIVMSG) through chatroom's own TLS connections and
write path (chatroom.server.tls_transport, chatroom.server.transport): a message read is made into one bytes object
and written to every other member of its room. No core, no dialect, no flood control, no send queue, no log line.
`python -m chatroom.bench WORKLOAD --compare floor` sets chatroom beside it: the gap is what chatroom's own work costs
per delivery, per connection and per join; the floor beside ngircd is what Twisted, the interpreter and OpenSSL cost
before chatroom does anything (docs/performance.md).

Not a chat server: it checks nothing, listens on loopback only, and is for the benchmark alone.
"""

from __future__ import annotations

import sys
from pathlib import Path

from twisted.internet import reactor
from twisted.internet.interfaces import IAddress, IListeningPort
from twisted.internet.protocol import Factory, connectionDone
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from chatroom.server import tls
from chatroom.server.tls_transport import Flushes, TLSFactory
from chatroom.server.transport import SendingReactor

LOOPBACK = "127.0.0.1"


class FloorClient(LineReceiver):
    """One client: registered by its NICK, a member of the rooms it joins, and each PRIVMSG relayed as it came."""

    delimiter = b"\n"
    MAX_LENGTH = 16384

    def __init__(self, rooms: dict[bytes, list[FloorClient]]) -> None:
        self.rooms = rooms
        self.nick = b"*"
        self.joined: list[bytes] = []

    def connectionMade(self) -> None:
        self.transport.setTcpNoDelay(True)  # type: ignore[union-attr]  # as chatroom's connections are

    def lineReceived(self, line: bytes) -> None:
        command, _, rest = line.rstrip(b"\r").partition(b" ")
        if command == b"PRIVMSG":
            target, _, text = rest.partition(b" :")
            data = b":" + self.nick + b"!floor@localhost PRIVMSG " + target + b" :" + text + b"\r\n"
            for member in self.rooms.get(target, ()):
                if member is not self:
                    member.transport.write(data)  # type: ignore[union-attr]
        elif command == b"NICK":
            self.nick = rest
        elif command == b"USER":
            self.transport.write(b":floor 001 " + self.nick + b" :Welcome\r\n")  # type: ignore[union-attr]
        elif command == b"JOIN":
            for room in rest.split(b","):
                self.rooms.setdefault(room, []).append(self)
                self.joined.append(room)
                self.transport.write(b":floor 366 " + self.nick + b" " + room + b" :End\r\n")  # type: ignore[union-attr]

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        for room in self.joined:
            self.rooms[room].remove(self)


class Floor(Factory):
    noisy = False

    def __init__(self) -> None:
        self.rooms: dict[bytes, list[FloorClient]] = {}

    def buildProtocol(self, addr: IAddress | None) -> FloorClient:
        return FloorClient(self.rooms)


def main(certs: Path) -> None:
    context = tls.load(certs).context()  # chatroom's TLS settings
    front = TLSFactory(lambda protocols: context, Floor(), Flushes(reactor))
    port: IListeningPort = SendingReactor(reactor).listenTCP(0, front, backlog=4096, interface=LOOPBACK)
    print(f"floor listening on {LOOPBACK}:{port.getHost().port}", flush=True)  # type: ignore[attr-defined]
    reactor.run()


if __name__ == "__main__":
    main(Path(sys.argv[1]))

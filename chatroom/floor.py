"""`python -m chatroom.floor CERTS`: the least a server on Twisted and chatroom's TLS transport does per delivery.

It speaks just enough IRC for chatroom.bench (NICK, USER, JOIN, PRIVMSG) through chatroom's own TLS connections and
write path (chatroom.server.tls_transport, chatroom.server.transport), saying what a server must: a newcomer is sent
the welcome chatroom sends (made once), a join is told to the room and answered with the room's names, and a message
read is made into one bytes object and written to every other member of its room. No core, no dialect, no checks, no
flood control, no send queue, no log line.
`python -m chatroom.bench WORKLOAD --compare floor` sets chatroom beside it: the gap is what chatroom's own work costs
per delivery, per connection and per join; the floor beside ngircd is what Twisted, the interpreter and OpenSSL cost
before chatroom does anything (docs/performance.md).

Not a chat server: it checks nothing, listens on loopback only, and is for the benchmark alone.
"""

from __future__ import annotations

import argparse
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
# What chatroom's IRC front end says to a newcomer, as many lines and bytes, made once but for the nickname.
WELCOME = (
    "".join(
        f":floor {line}\r\n"
        for line in (
            "001 {nick} :Welcome to the floor IRC network, {nick}!floor@localhost",
            "002 {nick} :Your host is floor, running chatroom.floor",
            "003 {nick} :This server relays lines and does nothing else",
            "004 {nick} floor chatroom.floor Biow bCeIiklmnostv Ibeklov",
            "005 {nick} ACCOUNTEXTBAN=R AWAYLEN=390 BOT=B CASEMAPPING=ascii CHANLIMIT=#:20 CHANMODES=Ibe,k,l,Cimnst"
            " CHANNELLEN=33 CHANTYPES=# ELIST=CMNTU EXCEPTS=e EXTBAN=,Rm INVEX=I :are supported by this server",
            "005 {nick} KICKLEN=390 MAXLIST=b:100,e:100,I:100 MODES=6 MONITOR=100 NETWORK=floor NICKLEN=20"
            " PREFIX=(ov)@+ STATUSMSG=@+ TARGMAX=JOIN:,KICK:4,NAMES:4,NOTICE:4,PART:,PRIVMSG:4,WHOIS:4 TOPICLEN=390"
            " USERLEN=16 UTF8ONLY :are supported by this server",
            "005 {nick} WHOX :are supported by this server",
            "251 {nick} :There are 0 users and 1 invisible on 1 servers",
            "252 {nick} 0 :operator(s) online",
            "254 {nick} 1 :channels formed",
            "255 {nick} :I have 1 clients and 0 servers",
            "265 {nick} 1 1 :Current local users 1, max 1",
            "266 {nick} 1 1 :Current global users 1, max 1",
            "422 {nick} :MOTD File is missing",
        )
    )
    .encode()
    .split(b"{nick}")
)  # the pieces between the newcomer's nicknames


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
            self.transport.write(self.nick.join(WELCOME))  # type: ignore[union-attr]
        elif command == b"JOIN":
            for room in rest.split(b","):
                self._join(room)

    def _join(self, room: bytes) -> None:
        """What any IRC server does for a join: the room told, the joiner given its names."""
        members = self.rooms.setdefault(room, [])
        members.append(self)
        self.joined.append(room)
        joined = b":" + self.nick + b"!floor@localhost JOIN " + room + b"\r\n"
        for member in members:
            member.transport.write(joined)  # type: ignore[union-attr]
        names = b" ".join(member.nick for member in members)
        self.transport.write(  # type: ignore[union-attr]
            b":floor 353 " + self.nick + b" = " + room + b" :" + names + b"\r\n"
            b":floor 366 " + self.nick + b" " + room + b" :End of /NAMES list\r\n"
        )

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        for room in self.joined:
            self.rooms[room].remove(self)


class Floor(Factory):
    noisy = False

    def __init__(self) -> None:
        self.rooms: dict[bytes, list[FloorClient]] = {}

    def buildProtocol(self, addr: IAddress | None) -> FloorClient:
        return FloorClient(self.rooms)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m chatroom.floor", description="A bare relay on chatroom's TLS transport, for chatroom.bench."
    )
    parser.add_argument("certs", type=Path, help="a directory holding server.crt and server.key")
    certs = parser.parse_args(argv).certs
    try:
        context = tls.load(certs).context()  # chatroom's TLS settings
    except tls.CertificateError as error:
        raise SystemExit(f"chatroom.floor: {error}") from None
    front = TLSFactory(lambda protocols: context, Floor(), Flushes(reactor))
    port: IListeningPort = SendingReactor(reactor).listenTCP(0, front, backlog=4096, interface=LOOPBACK)
    print(f"floor listening on {LOOPBACK}:{port.getHost().port}", flush=True)  # type: ignore[attr-defined]
    reactor.run()


if __name__ == "__main__":
    main()

"""The line protocol's front end: one connection's bytes in, lines out.

The path of a line: TLS (chatroom.tap wraps this factory) -> `ChatProtocol`
splits, decodes and checks it -> `chatroom.commands` runs it against
`chatroom.core.Chat` -> the chat delivers events back through `deliver`, which
writes them with `chatroom.wire`.
"""

from __future__ import annotations

import re

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IAddress, IReactorTime
from twisted.internet.protocol import ServerFactory, connectionDone
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from chatroom import commands
from chatroom.core import Chat, ChatError, Event, Member, registered
from chatroom.wire import PROTOCOL_VERSION, Encoder, line

# C0 and C1 control characters (tab allowed): they would let one member drive
# another's terminal (escape sequences) or garble lines.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")

log = Logger(namespace="chatroom")


class ChatProtocol(LineReceiver):
    """One member's connection, speaking the line protocol of docs/protocol.md."""

    delimiter = b"\n"
    factory: ChatFactory

    def connectionMade(self) -> None:
        self.MAX_LENGTH = self.factory.max_line
        self.chat = self.factory.chat
        self.member: Member = self.chat.connect(self)
        self.current: str | None = None
        self._discarding = False  # inside a line that was too long
        self._overflow = b""  # what followed a too-long line in the same read
        self.peer = describe(self.transport.getPeer())
        self.factory.connections.add(self)
        log.info("connection from {peer}", peer=self.peer)
        self.write(
            line("HELLO", "chatroom", PROTOCOL_VERSION, text="Welcome to chatroom. Choose a nickname: /nick NAME")
        )

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.chat.quit(self.member, "connection lost")
        log.info("{peer} ({nick}) disconnected", peer=self.peer, nick=self.member.nick or "no nickname")
        self.factory.forget(self)

    # Reading

    def dataReceived(self, data: bytes) -> None:
        """Split lines as LineReceiver does, but survive a line that is too long.

        LineReceiver hands a too-long line and everything after it to
        `lineLengthExceeded`; we refuse that one line, skip to its end, and go
        on with the lines that follow it.
        """
        while True:
            if self._discarding:
                _, newline, data = data.partition(self.delimiter)
                if not newline:
                    return
                self._discarding = False
            super().dataReceived(data)
            data, self._overflow = self._overflow, b""
            if not data:
                return

    def lineLengthExceeded(self, line_: bytes) -> None:
        self.error("TOO_LONG", f"line longer than {self.MAX_LENGTH} bytes; it was ignored")
        _, newline, self._overflow = line_.partition(self.delimiter)
        self._discarding = not newline

    def lineReceived(self, raw: bytes) -> None:
        try:
            text = raw.removesuffix(b"\r").decode("utf-8")
            if _CONTROL.search(text):
                raise ChatError("BAD_TEXT", "control characters are not allowed; the line was ignored")
            if not text.strip():
                raise ChatError("EMPTY", "empty line ignored")
            commands.run(self, text)
        except UnicodeDecodeError:
            self.error("BAD_UTF8", "the line is not valid UTF-8; it was ignored")
        except ChatError as refusal:
            self.error(refusal.code, refusal.message)

    # What commands use

    def write(self, data: bytes) -> None:
        self.transport.write(data)

    def error(self, code: str, message: str) -> None:
        log.info("{peer} ({nick}): error {code}", peer=self.peer, nick=self.member.nick or "-", code=code)
        self.write(line("ERR", code, text=message))

    def welcome(self) -> None:
        """The member has just chosen its first nickname."""
        nick = registered(self.member)
        log.info("{peer} is now {nick}", peer=self.peer, nick=nick)
        self.write(line("WELCOME", nick, text=f"Hello {nick}. Join a room with /join ROOM; /help lists the commands."))
        for motd in self.factory.motd:
            self.write(line("MOTD", text=motd))

    def current_room(self) -> str:
        registered(self.member)
        if self.current is None:
            raise ChatError("NO_ROOM", "you are not in a room: /join ROOM first")
        return self.current

    def set_current(self, room: str | None) -> None:
        """Where plain text goes; the line protocol's notion, not the core's."""
        if room != self.current and room is not None:
            log.info("{nick} joined {room}", nick=self.member.nick, room=room)
        self.current = room
        self.write(line("CURRENT", *([room] if room else [])))

    def quit(self, reason: str) -> None:
        self.chat.quit(self.member, reason)
        self.close(reason)

    # chatroom.core.Session

    def deliver(self, event: Event) -> None:
        self.transport.write(self.factory.encode(event))

    def close(self, reason: str) -> None:
        self.write(line("BYE", text=reason))
        self.transport.loseConnection()


class ChatFactory(ServerFactory):
    """Builds a ChatProtocol per connection, all sharing one Chat; says goodbye to all at shutdown."""

    protocol = ChatProtocol
    noisy = False  # connections are logged by ChatProtocol, without the factory's repr

    def __init__(self, chat: Chat, clock: IReactorTime, motd: str = "", max_line: int = 4096) -> None:
        self.chat = chat
        self.clock = clock
        self.motd = motd.splitlines()
        self.max_line = max_line
        self.encode = Encoder()
        self.connections: set[ChatProtocol] = set()
        self._emptied: list[Deferred[None]] = []

    def forget(self, connection: ChatProtocol) -> None:
        self.connections.discard(connection)
        if not self.connections:
            emptied, self._emptied = self._emptied, []
            for waiting in emptied:
                waiting.callback(None)

    def close(self, reason: str, grace: float = 5.0) -> Deferred[None]:
        """Tell everyone `reason`, close every connection, and fire once all are gone.

        A TLS close waits for the peer's close_notify; a peer that never sends
        it is cut off after `grace` seconds so that shutdown cannot hang.
        """
        self.chat.close(reason)
        if not self.connections:
            return succeed(None)
        emptied: Deferred[None] = Deferred()
        self._emptied.append(emptied)
        deadline = self.clock.callLater(grace, self._abort_all)
        emptied.addBoth(lambda result: deadline.cancel() if deadline.active() else None)
        return emptied

    def _abort_all(self) -> None:
        for connection in list(self.connections):
            connection.transport.abortConnection()


def describe(address: IAddress) -> str:
    if isinstance(address, IPv6Address):
        return f"[{address.host}]:{address.port}"
    if isinstance(address, IPv4Address):
        return f"{address.host}:{address.port}"
    return str(address)

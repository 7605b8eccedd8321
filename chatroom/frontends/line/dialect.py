"""The line protocol as a dialect: lines typed by a person become calls on the core, events become lines.

Everything about sockets (flood control, timeouts, closing) is chatroom.server.connection's; what each command does
is chatroom.frontends.line.commands', whose table the class is given by chatroom.frontends.line.frontend. This module
holds what a line-protocol client has beyond the core: its current room, and the registered nickname it was asked a
password for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from chatroom.core.errors import ChatError
from chatroom.core.events import AwayChanged, Event, History, Kicked, Parted, Renamed, ResumeToken
from chatroom.core.history import timestamp
from chatroom.core.members import Member
from chatroom.frontends.commands import Command, CommandTable
from chatroom.frontends.line.refusals import word
from chatroom.frontends.line.wire import CONTROL_CHARACTERS, PROTOCOL_VERSION, Encoder, history_pages, line, render
from chatroom.server.connection import Connection
from chatroom.server.limits import ConnectionLimits


@dataclass(frozen=True)
class LineCommand(Command["LineDialect", str]):
    usage: str  # its arguments, as /help and a usage error show them
    verbatim: bool  # the argument is taken as typed, spaces included (a password)

    def usage_error(self) -> ChatError:
        return ChatError("USAGE", usage=f"/{self.name} {self.usage}".rstrip())


@dataclass
class Block:
    """/lines: the next `count` lines are one message to `target` (chatroom.core.multiline)."""

    target: str
    count: int
    lines: list[str] = field(default_factory=list)


class LineDialect:
    name = "line"
    commands: ClassVar[CommandTable[LineCommand]]  # chatroom.frontends.line.frontend gives it the commands' table
    # One for the process: a broadcast is written to its members in a row, so each event is encoded once.
    encode = Encoder()

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.chat = connection.factory.chat
        self.registrar = connection.factory.registrar
        self.current: str | None = None  # where plain text goes
        self.pending_login: str | None = None  # a nickname that answered AUTH, awaiting /pass
        self.block: Block | None = None  # a message of several lines being received (/lines)

    # chatroom.server.connection.Dialect

    @staticmethod
    def longest_line(limits: ConnectionLimits) -> int:
        return limits.max_line

    def greet(self) -> None:
        greeting = "Welcome to chatroom. Choose a nickname: /nick NAME"
        self.write(line("HELLO", "chatroom", PROTOCOL_VERSION, text=greeting))

    def line_received(self, text: str) -> None:
        if CONTROL_CHARACTERS.search(text):
            self.block = None
            raise ChatError("BAD_TEXT")
        if self.block is not None:  # each line of it as it is, "/" or blank
            self.block.lines.append(text)
            if len(self.block.lines) == self.block.count:
                block, self.block = self.block, None
                self.say_to(block.target, "\n".join(block.lines))
            return
        if not text.strip():
            raise ChatError("EMPTY")
        self._run(text)

    def _run(self, text: str) -> None:
        """Handle one line a person typed: a command, or text for the current room."""
        if not text.startswith("/") or text.startswith("//"):
            self.chat.say(self.member, self.current_room(), text.removeprefix("/"))
            return
        name, _, arg = text[1:].partition(" ")
        entry = self.commands.get(name.lower())
        if entry is None:
            raise ChatError("UNKNOWN_COMMAND", name=name)
        entry.handler(self, arg if entry.verbatim else arg.strip())

    def render(self, event: Event) -> bytes:
        rendered = self.encode(event)
        if (type(event) is Kicked or type(event) is Parted) and event.room == self.current and self._is_me(event.nick):
            # Plain text must not go on to a room we were put out of, or left from another of our sessions.
            self.current = self._fallback(event.room)
            rendered += _current(self.current)
        elif type(event) is Renamed and event.old == self.current:  # plain text goes on to the room, by its new name
            self.current = event.new
            rendered += _current(self.current)
        elif type(event) is AwayChanged and self._is_me(event.nick):  # set here or on another of our sessions
            rendered = line("AWAY", text=event.away or None)
        return rendered

    @staticmethod
    def pages(history: History) -> Iterable[bytes]:
        return history_pages(history)

    def departed(self, member: Member) -> None:
        """Nothing is remembered of who was here."""

    @staticmethod
    def refusal(error: ChatError) -> bytes:
        return line("ERR", error.code, text=word(error))

    word = staticmethod(word)

    @staticmethod
    def ping(token: str) -> bytes:
        return line("PING", text=token)

    @staticmethod
    def goodbye(reason: str) -> bytes:
        return line("BYE", text=reason)

    # What commands use

    def say_to(self, target: str, text: str, tags: dict[str, str] | None = None) -> None:
        """Say `text` to a room (`#...`) or to a person."""
        if target.startswith("#"):
            self.chat.say(self.member, target, text, tags=tags)
        else:
            self.chat.private(self.member, target, text, tags=tags)

    @property
    def member(self) -> Member:
        """This client as a member of the chat; everything but registering needs one."""
        member = self.connection.member
        if member is None:
            raise _no_nick()
        return member

    def write(self, data: bytes) -> None:
        self.connection.write(data)

    def deliver(self, event: Event) -> None:
        """A reply for this client only (NAMES, ROOMS, TOPIC)."""
        self.connection.deliver(event)

    def choose_nick(self, nick: str) -> None:
        """/nick: take a free nickname at once, or ask for the password of a registered one."""
        self.pending_login = None  # a new /nick replaces any login not completed
        if self.registrar.needs_password(nick, self.connection.member):
            self.pending_login = nick
            prompt = f"{nick} needs a password: log in with /pass PASSWORD, or choose another nickname"
            self.write(line("AUTH", nick, text=prompt))
            return
        self.connection.wait_for(self._take(nick, None))

    def log_in(self, password: str) -> None:
        """/pass: check the password of the nickname AUTH asked about; lines after it wait for the verdict."""
        nick, self.pending_login = self.pending_login, None
        if nick is None:
            raise ChatError("NO_LOGIN", "pending")
        self.connection.wait_for(self._take(nick, password))

    async def _take(self, nick: str, password: str | None) -> None:
        member = self.connection.member
        if member is not None:
            await self.registrar.rename(self.connection, member, nick, password)
            return
        self.entered(await self.registrar.enter(self.connection, nick, password))

    def resume(self, nick: str, token: str, seen: dict[str, str]) -> None:
        """/resume: come back as the person `token` reclaims (after a lost connection), or join them; `seen`, the
        last line the client saw in some rooms (room key -> id), is where their catch-up begins."""
        if self.connection.member is not None:
            raise ChatError("USAGE", "resume")
        self.pending_login = None
        self.connection.wait_for(self._resume(nick, token, seen))

    async def _resume(self, nick: str, token: str, seen: dict[str, str]) -> None:
        self.entered(await self.registrar.resume(self.connection, nick, token), seen)

    def sessions(self, ended: Connection | None = None) -> None:
        """/sessions: one SESSION line for each of this person's connections (but one `ended`), this one's ID
        marked with *."""
        listed = [
            session for session in self.member.sessions if isinstance(session, Connection) and session is not ended
        ]
        for session in listed:
            mark = "*" if session is self.connection else ""
            since = timestamp(session.since)
            self.write(line("SESSION", f"{session.serial}{mark}", session.dialect.name, since, text=session.peer))
        self.write(line("SESSIONS", str(len(listed))))

    def end_session(self, serial: str) -> None:
        """/sessions kick ID: end another connection of this person's; the person stays, on this one."""
        for session in self.member.sessions:
            if isinstance(session, Connection) and str(session.serial) == serial:
                if session is self.connection:
                    raise ChatError("NO_SUCH_SESSION", "this")
                session.quit("ended from another of your sessions", "ended from another session")
                self.chat.renew_token(self.member)  # the token it was told no longer reclaims the person
                self.sessions(ended=session)  # the answer: those left
                return
        raise ChatError("NO_SUCH_SESSION", serial=serial)

    def entered(self, member: Member, seen: dict[str, str] | None = None) -> None:
        """WELCOME, the token that reclaims this person, the MOTD; then their rooms, if they were here already."""
        hello = f"Hello {member.nick}. Join a room with /join ROOM; /help lists the commands."
        self.write(line("WELCOME", member.nick, text=hello))
        self.write(render(ResumeToken(member.nick, self.chat.resume_token(member))))
        for motd in self.connection.factory.motd:
            self.write(line("MOTD", text=motd))
        self.chat.catch_up(member, self.connection, seen)
        if member.rooms:
            self.set_current(list(member.rooms.values())[-1].name)

    def current_room(self) -> str:
        if self.current is None:
            if self.connection.member is None:
                raise _no_nick()
            raise ChatError("NO_ROOM")
        return self.current

    def set_current(self, room: str | None) -> None:
        """Where plain text goes; the line protocol's notion, not the core's."""
        self.current = room
        self.write(_current(room))

    def left(self, room: str) -> None:
        """After /part: if it was the current room, the last one joined of those left becomes current."""
        if self.current == room:
            self.set_current(self._fallback(room))

    def _fallback(self, leaving: str) -> str | None:
        remaining = [room.name for room in self.member.rooms.values() if room.name != leaving]
        return remaining[-1] if remaining else None

    def _is_me(self, nick: str) -> bool:
        return self.connection.member is not None and self.connection.member.nick == nick

    def quit(self, reason: str) -> None:
        self.connection.quit(reason)


def _current(room: str | None) -> bytes:
    return line("CURRENT", *([room] if room else []))


def _no_nick() -> ChatError:
    return ChatError("NO_NICK")

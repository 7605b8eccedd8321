"""The line protocol as a dialect: lines typed by a person become calls on the core, events become lines.

Everything about sockets (flood control, timeouts, closing) is chatroom.connection's; what each command does
is chatroom.line.commands'. This module holds what a line-protocol client has beyond the core: its current
room, and the registered nickname it was asked a password for.
"""

from __future__ import annotations

from collections.abc import Iterable

from chatroom.connection import Connection
from chatroom.core.chat import Member
from chatroom.core.errors import ChatError
from chatroom.core.events import Event, History, Kicked, Parted
from chatroom.core.history import timestamp
from chatroom.limits import ConnectionLimits
from chatroom.line import commands
from chatroom.line.wire import CONTROL_CHARACTERS, PROTOCOL_VERSION, Encoder, history_pages, line


class LineDialect:
    name = "line"
    # One for the process: a broadcast is written to its members in a row, so each event is encoded once.
    encode = Encoder()

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.chat = connection.factory.chat
        self.registrar = connection.factory.registrar
        self.current: str | None = None  # where plain text goes
        self.pending_login: str | None = None  # a nickname that answered AUTH, awaiting /pass

    # chatroom.connection.Dialect

    @staticmethod
    def longest_line(limits: ConnectionLimits) -> int:
        return limits.max_line

    def greet(self) -> None:
        greeting = "Welcome to chatroom. Choose a nickname: /nick NAME"
        self.write(line("HELLO", "chatroom", PROTOCOL_VERSION, text=greeting))

    def line_received(self, text: str) -> None:
        if CONTROL_CHARACTERS.search(text):
            raise ChatError("BAD_TEXT", "control characters are not allowed; the line was ignored")
        if not text.strip():
            raise ChatError("EMPTY", "empty line ignored")
        commands.run(self, text)

    def render(self, event: Event) -> bytes:
        rendered = self.encode(event)
        if (type(event) is Kicked or type(event) is Parted) and event.room == self.current and self._is_me(event.nick):
            # Plain text must not go on to a room we were put out of, or left from another of our sessions.
            self.current = self._fallback(event.room)
            rendered += _current(self.current)
        return rendered

    @staticmethod
    def pages(history: History) -> Iterable[bytes]:
        return history_pages(history)

    def departed(self, member: Member) -> None:
        """Nothing is remembered of who was here."""

    @staticmethod
    def refusal(code: str, message: str) -> bytes:
        return line("ERR", code, text=message)

    @staticmethod
    def ping(token: str) -> bytes:
        return line("PING", text=token)

    @staticmethod
    def goodbye(reason: str) -> bytes:
        return line("BYE", text=reason)

    # What commands use

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
            raise ChatError("NO_LOGIN", "no login to complete: /nick NAME first")
        self.connection.wait_for(self._take(nick, password))

    async def _take(self, nick: str, password: str | None) -> None:
        member = self.connection.member
        if member is not None:
            await self.registrar.rename(self.connection, member, nick, password)
            return
        self._entered(await self.registrar.enter(self.connection, nick, password))

    def resume(self, nick: str, token: str) -> None:
        """/resume: come back as the person `token` reclaims (after a lost connection), or join them."""
        if self.connection.member is not None:
            raise ChatError("USAGE", "you have a nickname already: /resume is a first command only")
        self.pending_login = None
        self.connection.wait_for(self._resume(nick, token))

    async def _resume(self, nick: str, token: str) -> None:
        self._entered(await self.registrar.resume(self.connection, nick, token))

    def sessions(self) -> None:
        """/sessions: one SESSION line for each of this person's connections, this one's ID marked with *."""
        listed = [session for session in self.member.sessions if isinstance(session, Connection)]
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
                    raise ChatError("NO_SUCH_SESSION", "that is this session: /quit ends it")
                session.quit("ended from another of your sessions", "ended from another session")
                return
        raise ChatError("NO_SUCH_SESSION", f"you have no session {serial}: /sessions lists them")

    def _entered(self, member: Member) -> None:
        """WELCOME, the token that reclaims this person, the MOTD; then their rooms, if they were here already."""
        hello = f"Hello {member.nick}. Join a room with /join ROOM; /help lists the commands."
        self.write(line("WELCOME", member.nick, text=hello))
        token = self.chat.resume_token(member)
        self.write(line("RESUME", token, text=f"if your connection is lost: /resume {member.nick} TOKEN"))
        for motd in self.connection.factory.motd:
            self.write(line("MOTD", text=motd))
        if member.rooms:
            self.chat.catch_up(member, self.connection)
            self.set_current(list(member.rooms.values())[-1].name)

    def current_room(self) -> str:
        if self.current is None:
            if self.connection.member is None:
                raise _no_nick()
            raise ChatError("NO_ROOM", "you are not in a room: /join ROOM first")
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
    return ChatError("NO_NICK", "choose a nickname first: /nick NAME")

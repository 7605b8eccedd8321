"""The line protocol's commands: "/join 5" becomes a call on the chat core.

One table serves both dispatch and /help, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chatroom.core.errors import ChatError
from chatroom.line.wire import line

if TYPE_CHECKING:
    from chatroom.line.dialect import LineDialect

Handler = Callable[["LineDialect", str], None]


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    summary: str
    handler: Handler
    aliases: tuple[str, ...]
    verbatim: bool  # the argument is taken as typed, spaces included (a password)

    def usage_error(self) -> ChatError:
        return ChatError("USAGE", f"usage: /{self.name} {self.usage}".rstrip())


COMMANDS: dict[str, Command] = {}  # every name and alias -> its command


def command(
    name: str, usage: str, summary: str, aliases: tuple[str, ...] = (), verbatim: bool = False
) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        entry = Command(name, usage, summary, handler, aliases, verbatim)
        for key in (name, *aliases):
            COMMANDS[key] = entry
        return handler

    return register


def run(session: LineDialect, text: str) -> None:
    """Handle one line a person typed: a command, or text for the current room."""
    if not text.startswith("/") or text.startswith("//"):
        session.chat.say(session.member, session.current_room(), text.removeprefix("/"))
        return
    name, _, arg = text[1:].partition(" ")
    entry = COMMANDS.get(name.lower())
    if entry is None:
        raise ChatError("UNKNOWN_COMMAND", f"unknown command /{name}; /help lists the commands")
    entry.handler(session, arg if entry.verbatim else arg.strip())


def _one_word(arg: str, name: str) -> str:
    if not arg or " " in arg:
        raise COMMANDS[name].usage_error()
    return arg


@command("nick", "NAME", "choose or change your nickname")
def _nick(session: LineDialect, arg: str) -> None:
    session.choose_nick(_one_word(arg, "nick"))


@command("pass", "PASSWORD", "log in to the registered nickname you asked for with /nick", verbatim=True)
def _pass(session: LineDialect, arg: str) -> None:
    if not arg:
        raise COMMANDS["pass"].usage_error()
    session.log_in(arg)


@command("join", "ROOM", "join a room by name or number (5 and #5 are the same room), or switch to one you are in")
def _join(session: LineDialect, arg: str) -> None:
    room = session.chat.join(session.member, _one_word(arg, "join"))
    session.set_current(room.name)


@command("part", "[ROOM [REASON]]", "leave a room, the current one unless named", aliases=("leave",))
def _part(session: LineDialect, arg: str) -> None:
    name, _, reason = arg.partition(" ")
    room = session.chat.part(session.member, name or session.current_room(), reason.strip())
    if session.current == room.name:
        remaining = list(session.member.rooms.values())
        session.set_current(remaining[-1].name if remaining else None)


@command("rooms", "", "list the rooms and how many people are in each")
def _rooms(session: LineDialect, arg: str) -> None:
    session.deliver(session.chat.room_list(session.member))


@command("who", "[ROOM]", "list who is in a room, the current one unless named")
def _who(session: LineDialect, arg: str) -> None:
    session.deliver(session.chat.who(session.member, arg or session.current_room()))


@command("msg", "NICK TEXT", "send a private message")
def _msg(session: LineDialect, arg: str) -> None:
    nick, _, text = arg.partition(" ")
    if not text.strip():
        raise COMMANDS["msg"].usage_error()
    session.chat.private(session.member, nick, text)


@command("me", "ACTION", "describe what you are doing, in the current room")
def _me(session: LineDialect, arg: str) -> None:
    if not arg:
        raise COMMANDS["me"].usage_error()
    session.chat.say(session.member, session.current_room(), arg, action=True)


@command("topic", "[TEXT]", "show the current room's topic, or set it")
def _topic(session: LineDialect, arg: str) -> None:
    if arg:
        session.chat.set_topic(session.member, session.current_room(), arg)
    else:
        session.deliver(session.chat.topic(session.member, session.current_room()))


@command("quit", "[REASON]", "leave the chat")
def _quit(session: LineDialect, arg: str) -> None:
    session.quit(arg or "quit")


@command("ping", "[TOKEN]", "check that the server answers; it replies PONG with the token")
def _ping(session: LineDialect, arg: str) -> None:
    session.write(line("PONG", text=arg))


@command("pong", "[TOKEN]", "answer the server's PING (clients do it for you); any line shows you are there")
def _pong(session: LineDialect, arg: str) -> None:
    """Nothing to do: receiving the line already reset the idle timer."""


@command("help", "", "list the commands")
def _help(session: LineDialect, arg: str) -> None:
    session.write(line("HELP", text="Plain text goes to your current room; start it with // to send a leading /."))
    for entry in dict.fromkeys(COMMANDS.values()):
        names = " or ".join(f"/{name}" for name in (entry.name, *entry.aliases))
        session.write(line("HELP", text=f"{names} {entry.usage}".rstrip() + f" - {entry.summary}"))

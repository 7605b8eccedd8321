"""The line protocol's commands: "/join 5" becomes a call on the chat core.

One table serves both dispatch and /help, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred

from chatroom.core.errors import ChatError
from chatroom.core.gestures import REPLY_TAG, TYPING_STATES, reaction_tags, typing_tags
from chatroom.core.history import JOIN_LINES, PAGE_MAX, check_point
from chatroom.core.moderation import Lockdown, Role, Setting, bad_limit, parse_duration
from chatroom.core.multiline import MULTILINE_LINES
from chatroom.core.names import VALID_NICK, room_key
from chatroom.core.search import SEARCH_LINES
from chatroom.frontends.commands import CommandTable
from chatroom.frontends.line.dialect import Block, LineCommand, LineDialect
from chatroom.frontends.line.wire import line

Handler = Callable[[LineDialect, str], None]

COMMANDS: CommandTable[LineCommand] = CommandTable()  # bound to the dialect by chatroom.frontends.line.frontend


def command(
    name: str, usage: str, summary: str, aliases: tuple[str, ...] = (), verbatim: bool = False
) -> Callable[[Handler], Handler]:
    return COMMANDS.command(lambda handler: LineCommand(name, summary, handler, aliases, usage, verbatim))


def _one_word(arg: str, name: str) -> str:
    if not arg or " " in arg:
        raise COMMANDS[name].usage_error()
    return arg


@command("nick", "NAME", "choose or change your nickname")
def _nick(session: LineDialect, arg: str) -> None:
    session.choose_nick(_one_word(arg, "nick"))


@command(
    "resume",
    "NICK TOKEN [ROOM:ID...]",
    "as a first command: come back as NICK after a lost connection, with the token RESUME gave you; ROOM:ID: the"
    " last message you saw in ROOM, to be shown what came after it",
)
def _resume(session: LineDialect, arg: str) -> None:
    words = arg.split()
    if len(words) < 2:
        raise COMMANDS["resume"].usage_error()
    nick, token, *points = words
    seen: dict[str, str] = {}
    for point in points:
        room, colon, msgid = point.rpartition(":")
        if not (room and colon):
            raise COMMANDS["resume"].usage_error()
        check_point(msgid)
        seen[room_key(room)] = msgid
    session.resume(nick, token, seen)


@command("pass", "PASSWORD", "log in to the registered nickname you asked for with /nick", verbatim=True)
def _pass(session: LineDialect, arg: str) -> None:
    if not arg:
        raise COMMANDS["pass"].usage_error()
    session.log_in(arg)


@command(
    "join",
    "ROOM [KEY]",
    "join a room by name or number (5 and #5 are the same room), or switch to one you are in; KEY for a keyed room",
)  # a client back after a disconnection adds `after ID`, the last message it saw: docs/protocol.md
def _join(session: LineDialect, arg: str) -> None:
    words = arg.split()
    since = ""
    if len(words) in (3, 4) and words[-2].lower() == "after":
        since, words = words[-1], words[:-2]
    if not 1 <= len(words) <= 2:
        raise COMMANDS["join"].usage_error()
    name, key = words[0], words[1] if len(words) == 2 else ""
    member = session.member
    room = session.chat.join(member, name, key, since)
    # CURRENT follows the join's JOIN and NAMES; with several processes, the join can still be refused in its turn.
    session.connection.when_made(lambda: session.set_current(room) if room_key(room) in member.rooms else None)


@command("part", "[ROOM [REASON]]", "leave a room, the current one unless named", aliases=("leave",))
def _part(session: LineDialect, arg: str) -> None:
    name, _, reason = arg.partition(" ")
    room = session.chat.part(session.member, name or session.current_room(), reason.strip())
    session.connection.when_made(lambda: session.left(room))


@command(
    "read",
    "#ROOM|NICK [TIME]",
    "where you have read a room or a private conversation up to, on every device of yours: TIME (as MSG lines give"
    " it) moves it there, unless it is past it already; without TIME, where it stands",
)
def _read(session: LineDialect, arg: str) -> None:
    words = arg.split()
    if not 1 <= len(words) <= 2:
        raise COMMANDS["read"].usage_error()
    chat, member = session.chat, session.member
    if len(words) == 2 and chat.mark_read(member, *words):
        return  # it moved: each session of the person is told
    session.deliver(chat.read_marker(member, words[0]))  # where it stands, to the session that asked only


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


@command("reply", "[#ROOM] ID TEXT", "say TEXT in answer to the line whose id is ID (MSG lines give it)")
def _reply(session: LineDialect, arg: str) -> None:
    room, rest = _room_and_rest(session, arg)
    line, _, text = rest.partition(" ")
    if not text.strip():
        raise COMMANDS["reply"].usage_error()
    session.chat.say(session.member, room, text, tags={REPLY_TAG: line})


@command("react", "[#ROOM] ID EMOJI", "react to the line whose id is ID, with an emoji (or a short word)")
def _react(session: LineDialect, arg: str) -> None:
    room, rest = _room_and_rest(session, arg)
    line, _, emoji = rest.partition(" ")
    if not emoji.strip():
        raise COMMANDS["react"].usage_error()
    session.chat.say(session.member, room, "", tags=reaction_tags(line, emoji.strip()))


@command(
    "typing",
    "[#ROOM|NICK] active|paused|done",
    "tell a room (the current one unless named) or a person that you are typing, have paused, or are done;"
    " relayed at most once every 3 seconds",
)
def _typing(session: LineDialect, arg: str) -> None:
    words = arg.split()
    if not 1 <= len(words) <= 2 or words[-1] not in TYPING_STATES:
        raise COMMANDS["typing"].usage_error()
    session.say_to(words[0] if len(words) == 2 else session.current_room(), "", typing_tags(words[-1]))


@command(
    "lines",
    "[#ROOM|NICK] N",
    f"the next N lines (2 to {MULTILINE_LINES}), whatever they hold, are one message to a room (the current one"
    " unless named) or a person: a pasted block",
)
def _lines(session: LineDialect, arg: str) -> None:
    words = arg.split()
    count = words[-1] if words and len(words) <= 2 else ""
    if not (count.isascii() and count.isdigit() and 2 <= int(count) <= MULTILINE_LINES):
        raise COMMANDS["lines"].usage_error()
    session.member  # noqa: B018  (a guest with no nickname is told so now, not after the block)
    session.block = Block(words[0] if len(words) == 2 else session.current_room(), int(count))


@command("topic", "[TEXT]", "show the current room's topic, or set it")
def _topic(session: LineDialect, arg: str) -> None:
    if arg:
        session.chat.set_topic(session.member, session.current_room(), arg)
    else:
        session.deliver(session.chat.topic(session.member, session.current_room()))


_HOW = ("before", "after", "around")


@command(
    "history",
    "[#ROOM|NICK] [N] [before|after|around ID|TIME]",
    "show the last N lines the room kept (50 unless given), or those before, after or around a message id or a"
    " time such as 2026-11-23T09:30:00Z; with NICK, your private conversation with them, if the server keeps them",
)
def _history(session: LineDialect, arg: str) -> None:
    first, _, after = arg.partition(" ")
    nick = VALID_NICK.fullmatch(first) is not None and first.lower() not in _HOW
    room, rest = (first, after.strip()) if nick else _room_and_rest(session, arg)
    words = rest.split()
    lines = JOIN_LINES
    if words and words[0].isascii() and words[0].isdigit():
        lines = int(words.pop(0)) if len(words[0]) < 5 else PAGE_MAX + 1
    match [word.lower() for word in words[:1]] + words[1:]:
        case []:
            how, point = "latest", ""
        case [how, point] if how in _HOW:
            pass
        case _:
            raise COMMANDS["history"].usage_error()
    ask = session.chat.private_history if nick else session.chat.history
    _answer(session, ask(session.member, room, how, point, lines))


def _answer(session: LineDialect, answer: Deferred[Any]) -> None:
    """Deliver `answer` once it fires (a history the store reads, a search): the client's next lines wait for it."""

    async def delivered() -> None:
        session.deliver(await answer)

    session.connection.wait_for(delivered())


_FILTERS = ("in", "from")


@command(
    "search",
    "TEXT [in ROOM] [from NICK]",
    f"find the newest {SEARCH_LINES} lines kept in your rooms that hold every word of TEXT (whole words, any case),"
    " in ROOM or said by NICK only if given",
)
def _search(session: LineDialect, arg: str) -> None:
    """Answered with FOUND lines and a SEARCH line once the index answers; the client's next lines wait for it."""
    words = arg.split()
    filters: dict[str, str] = {}
    while len(words) > 2 and words[-2].lower() in _FILTERS and words[-2].lower() not in filters:
        filters[words[-2].lower()] = words[-1]
        words = words[:-2]
    found = session.chat.search(session.member, " ".join(words), filters.get("in", ""), filters.get("from", ""))
    _answer(session, found)


# Keeping order. A room may be named first, with its '#': "/kick #5 bob"; otherwise it is the current room.


def _room_and_rest(session: LineDialect, arg: str) -> tuple[str, str]:
    if arg.startswith("#"):
        room, _, rest = arg.partition(" ")
        return room, rest.strip()
    return session.current_room(), arg


def _role_command(name: str, role: Role, granted: bool, summary: str) -> None:
    @command(name, "[#ROOM] NICK", summary)
    def handler(session: LineDialect, arg: str) -> None:
        room, nick = _room_and_rest(session, arg)
        session.chat.set_role(session.member, room, _one_word(nick, name), role, granted)


_role_command("op", Role.OPERATOR, True, "make someone an operator of the room (operators)")
_role_command("deop", Role.OPERATOR, False, "take operator away (operators)")
_role_command("voice", Role.VOICE, True, "let someone speak in a moderated room (operators)")
_role_command("devoice", Role.VOICE, False, "take voice away (operators)")


@command("kick", "[#ROOM] NICK [REASON]", "put someone out of the room; everyone sees who and why (operators)")
def _kick(session: LineDialect, arg: str) -> None:
    room, rest = _room_and_rest(session, arg)
    nick, _, reason = rest.partition(" ")
    if not nick:
        raise COMMANDS["kick"].usage_error()
    session.chat.kick(session.member, room, nick, reason.strip())


FOREVER = "forever"  # a ban's duration, said: room for a reason that begins with a number ("forever 3 strikes")


def _ban_arguments(rest: str, name: str) -> tuple[str, float | None, str]:
    """NICK|MASK [DURATION|forever] [REASON], as /ban and /server ban take them."""
    target, _, more = rest.partition(" ")
    if not target:
        raise COMMANDS[name].usage_error()
    first, _, reason = more.strip().partition(" ")
    if first.lower() == FOREVER:
        return target, None, reason.strip()
    duration = parse_duration(first) if first else None
    if duration is None:
        return target, None, more.strip()
    return target, duration, reason.strip()


@command(
    "ban",
    "[#ROOM] NICK|MASK [DURATION] [REASON]",
    "keep someone out: by account if logged in, else by nickname and address; DURATION like 10m, 2h, 7d, or forever"
    " (operators)",
)
def _ban(session: LineDialect, arg: str) -> None:
    room, rest = _room_and_rest(session, arg)
    session.chat.ban(session.member, room, *_ban_arguments(rest, "ban"))


@command("unban", "[#ROOM] MASK", "lift a ban, by its mask as /bans shows it (operators)")
def _unban(session: LineDialect, arg: str) -> None:
    room, mask = _room_and_rest(session, arg)
    session.chat.unban(session.member, room, _one_word(mask, "unban"))


@command(
    "redact",
    "[#ROOM] ID|NICK|mine",
    "remove a message from the room's history, or every line kept of NICK (operators); your own message by its ID,"
    " or mine: every line of yours the room keeps (where the room allows it)",
)
def _redact(session: LineDialect, arg: str) -> None:
    room, target = _room_and_rest(session, arg)
    if target.lower() == "mine":
        session.chat.redact_mine(session.member, room)
    else:
        session.chat.redact(session.member, room, _one_word(target, "redact"))


@command("bans", "[#ROOM]", "list the room's bans")
def _bans(session: LineDialect, arg: str) -> None:
    room, rest = _room_and_rest(session, arg)
    if rest:
        raise COMMANDS["bans"].usage_error()
    session.deliver(session.chat.bans(session.member, room))


@command("invite", "[#ROOM] NICK", "invite someone; they may then join once, past invite-only, the key and the limit")
def _invite(session: LineDialect, arg: str) -> None:
    room, nick = _room_and_rest(session, arg)
    session.chat.invite(session.member, room, _one_word(nick, "invite"))


_SETTINGS = {setting.value: setting for setting in Setting}
_SWITCH = {"on": True, "off": False}


def _setting_value(setting: Setting, value: str) -> bool | str | int:
    """ "on"/"off" for a switch, the key or "off", a number of people or "off"."""
    if setting is Setting.KEY:
        return "" if value.lower() == "off" else value
    if setting is Setting.LIMIT:
        if value.lower() == "off":
            return 0
        if not (value.isascii() and value.isdigit()) or len(value) > 9:
            raise bad_limit()
        return int(value)  # 0 is off too
    if value.lower() not in _SWITCH:
        raise ChatError("USAGE", "switch", setting=setting.value)
    return _SWITCH[value.lower()]


@command(
    "room",
    "[#ROOM] info | set SETTING VALUE | allow MASK | disallow MASK | allowed | except MASK | unexcept MASK"
    " | exceptions | rename NEW [REASON] | register | drop | transfer ACCOUNT"
    " | op ACCOUNT | deop ACCOUNT | history off|since-join|all | keep 30d|5000|default | redact-mine on|off"
    " | export | forget",
    "show the room's settings; operators set invite on|off, key KEY|off, moderated on|off, topiclock on|off,"
    " limit N|off, secret on|off, external on|off, noctcp on|off, allow masks past invite-only, and except masks"
    " from bans and mutes (m:MASK), and rename it; a logged-in operator"
    " registers it; its owner drops it, gives it away, or names operators; operators set what its history keeps"
    " and export it; its owner makes it forget its history",
)
def _room(session: LineDialect, arg: str) -> None:
    room, rest = _room_and_rest(session, arg)
    action, _, more = rest.partition(" ")
    words = more.split()
    chat, member = session.chat, session.member
    match action.lower(), words:
        case (("" | "info"), []):
            session.deliver(chat.room_info(member, room))
        case "set", [name, value]:
            setting = _SETTINGS.get(name.lower())
            if setting is None:
                known = ", ".join(_SETTINGS)
                raise ChatError("USAGE", "setting", name=name, known=known)
            chat.configure(member, room, setting, _setting_value(setting, value))
        case ("allow" | "disallow") as change, [mask]:
            chat.allow(member, room, mask, change == "allow")
        case "allowed", []:
            session.deliver(chat.allowed(member, room))
        case ("except" | "unexcept") as change, [mask]:
            chat.except_bans(member, room, mask, change == "except")
        case "exceptions", []:
            session.deliver(chat.exceptions(member, room))
        case "rename", [new, *reason]:
            chat.rename_room(member, room, new, " ".join(reason))
        case "register", []:
            chat.register_room(member, room)
        case "drop", []:
            chat.drop_room(member, room)
        case "transfer", [account]:
            chat.transfer_room(member, room, account)
        case ("op" | "deop") as change, [account]:
            chat.name_operator(member, room, account, change == "op")
        case ("history" | "keep" | "redact-mine") as what, [_, *_] if len(words) <= 2:
            chat.set_history_rule(member, room, what.lower(), " ".join(words))
        case "export", []:
            _answer(session, chat.export(member, room))
        case "forget", []:
            chat.forget(member, room)
        case _:
            raise COMMANDS["room"].usage_error()


_LOCKDOWN = {level.name.lower(): level for level in Lockdown}


@command(
    "server",
    "kill NICK [REASON] | ban NICK|MASK [DURATION] [REASON] | unban MASK | bans | lockdown off|speak|join|connect"
    " | forget ROOM",
    "server administrators: disconnect someone, ban from the whole server, lock guests out during a raid, or make"
    " a room forget its history",
)
def _server(session: LineDialect, arg: str) -> None:
    action, _, rest = arg.partition(" ")
    rest = rest.strip()
    chat, member = session.chat, session.member
    match action.lower():
        case "kill" if rest:
            nick, _, reason = rest.partition(" ")
            chat.kill(member, nick, reason.strip())
        case "ban" if rest:
            chat.server_ban(member, *_ban_arguments(rest, "server"))
        case "unban" if rest and " " not in rest:
            chat.server_unban(member, rest)
        case "bans" if not rest:
            session.deliver(chat.server_ban_list(member))
        case "lockdown" if rest.lower() in _LOCKDOWN:
            chat.set_lockdown(member, _LOCKDOWN[rest.lower()])
        case "forget" if rest and " " not in rest:
            chat.clear_history(member, rest)
        case _:
            raise COMMANDS["server"].usage_error()


@command(
    "sessions",
    "[kick ID]",
    "list your connections under this nickname (your other devices), or end one of the others",
)
def _sessions(session: LineDialect, arg: str) -> None:
    match arg.split():
        case []:
            session.sessions()
        case [kick, serial] if kick.lower() == "kick":
            session.end_session(serial)
        case _:
            raise COMMANDS["sessions"].usage_error()


@command("away", "[TEXT]", "mark yourself away with TEXT, which others see when they look you up; alone: back")
def _away(session: LineDialect, arg: str) -> None:
    session.chat.set_away(session.member, arg)  # each of our sessions is answered with AWAY


@command("quit", "[REASON]", "leave the chat; with other sessions (/sessions), end this one only")
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
    for entry in COMMANDS.listed():
        names = " or ".join(f"/{name}" for name in (entry.name, *entry.aliases))
        session.write(line("HELP", text=f"{names} {entry.usage}".rstrip() + f" - {entry.summary}"))

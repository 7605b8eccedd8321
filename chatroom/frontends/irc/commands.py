"""IRC's commands: each parses its parameters into calls on the core and answers with IRC's numerics.

Every rule (who may kick, what a ban matches, which nicknames are free) is the core's; a handler only says
which numeric a refusal is, about which channel or nickname. docs/irc.md lists the commands and differences.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterable, Iterator

from twisted.internet.defer import Deferred

from chatroom.core.errors import ChatError
from chatroom.core.events import Event, History, Message
from chatroom.core.history import PAGE_MAX, parse_id, seconds
from chatroom.core.members import Member
from chatroom.core.moderation import MUTE_PREFIX, Role, Setting, bad_limit, glob
from chatroom.core.multiline import pieces
from chatroom.core.names import NICK_MAX, nick_key, room_key
from chatroom.core.queries import RoomView
from chatroom.core.search import SEARCH_LINES
from chatroom.frontends.commands import CommandTable
from chatroom.frontends.irc import numerics as n
from chatroom.frontends.irc.dialect import SASL_MECHANISMS, IRCCommand, IRCDialect
from chatroom.frontends.irc.multiline import ANNOUNCED, Gathering
from chatroom.frontends.irc.refusals import word
from chatroom.frontends.irc.render import HOST, MULTILINE, SETTING_MODES
from chatroom.frontends.irc.support import (
    BOT_MODE,
    CHANNEL_FLAGS,
    KICK_MAX,
    METADATA_CAP,
    METADATA_VALUES,
    MODES_MAX,
    TARGETS_MAX,
    TOPIC_MAX,
    USER_MAX,
    keeps_history,
)
from chatroom.frontends.irc.wire import BODY_MAX, message
from chatroom.server.limits import PAGE_LINES

Handler = Callable[[IRCDialect, list[str]], None]

CAPABILITIES = (
    "account-notify",
    "account-tag",
    "away-notify",
    "batch",
    "cap-notify",  # the capabilities offered never change while a client is connected: no CAP NEW or DEL to send
    "draft/account-registration",
    "draft/channel-rename",
    "draft/chathistory",
    "draft/event-playback",
    "draft/message-redaction",
    "draft/metadata-3",
    "draft/multiline",
    "draft/read-marker",
    "echo-message",
    "extended-join",
    "extended-monitor",
    "labeled-response",
    "message-tags",
    "multi-prefix",
    "sasl",
    "server-time",
    "setname",
    "soju.im/search",
    "userhost-in-names",
)
# offered when the server keeps history
HISTORY_CAPABILITIES = ("draft/chathistory", "draft/event-playback", "draft/message-redaction", "soju.im/search")
REALNAME_MAX = 100

MASK_MAX = 64  # characters of a WHO or LIST mask: matching one is linear in it, for every member or room
LIST_TERMS_MAX = 8  # names, masks and filters in one LIST


COMMANDS: CommandTable[IRCCommand] = CommandTable()  # bound to the dialect by chatroom.frontends.irc.frontend


def command(
    name: str, *aliases: str, summary: str, params: int = 0, before_registration: bool = False
) -> Callable[[Handler], Handler]:
    return COMMANDS.command(lambda handler: IRCCommand(name, summary, handler, aliases, params, before_registration))


# Registration


@command(
    "CAP",
    params=1,
    before_registration=True,
    summary="CAP LS|LIST|REQ|END: negotiate capabilities (docs/irc.md lists them)",
)
def _cap(session: IRCDialect, params: list[str]) -> None:
    sub = params[0].upper()
    offered = offered_caps(session)
    registering = session.connection.member is None
    if sub == "LS":
        session.negotiating = registering
        modern = len(params) > 1 and (_number(params[1]) or 0) >= 302
        listed = [f"{cap}={value}" if modern and (value := cap_value(session, cap)) else cap for cap in offered]
        session.write(session.line("CAP", session.me, "LS", text=" ".join(listed)))
    elif sub == "LIST":
        session.write(session.line("CAP", session.me, "LIST", text=" ".join(sorted(session.caps))))
    elif sub == "REQ":
        session.negotiating = registering
        asked = params[1] if len(params) > 1 else ""
        wanted = asked.split()
        if all(cap.removeprefix("-") in offered for cap in wanted):
            caps = set(session.caps)
            for cap in wanted:
                if cap.startswith("-"):
                    caps.discard(cap[1:])
                else:
                    caps.add(cap)
            session.set_caps(caps)
            session.write(session.line("CAP", session.me, "ACK", text=asked))
        else:
            session.write(session.line("CAP", session.me, "NAK", text=asked))
    elif sub == "END":
        session.negotiating = False
        session.try_registering()
    else:
        session.reply(n.ERR_INVALIDCAPCMD, params[0], text="Invalid CAP command")


def cap_value(session: IRCDialect, cap: str) -> str:
    """What CAP LS 302 says of a capability after `=`: SASL's mechanisms; registering before connecting; the
    metadata kept; how long a multiline message may be."""
    if cap == "draft/account-registration":
        return "before-connect" if session.registrar.signup.before_entering else ""
    if cap == METADATA_CAP:
        return METADATA_VALUES
    if cap == MULTILINE:
        return ANNOUNCED
    return ",".join(SASL_MECHANISMS) if cap == "sasl" else ""


def offered_caps(session: IRCDialect) -> list[str]:
    """SASL with accounts; chathistory and redaction when the server keeps history (--history); registration
    while clients may register (--registration open)."""
    keeps = keeps_history(session.chat)
    return [
        cap
        for cap in CAPABILITIES
        if (cap != "sasl" or session.registrar.auth is not None)
        and (keeps or cap not in HISTORY_CAPABILITIES)
        and (cap != "draft/account-registration" or session.registrar.signup.open)
    ]


@command(
    "PASS",
    params=1,
    before_registration=True,
    summary="PASS PASSWORD: the server password, or without one the password of the nickname you register",
)
def _pass(session: IRCDialect, params: list[str]) -> None:
    if session.connection.member is not None:
        session.reply(n.ERR_ALREADYREGISTERED, text="You may not reregister")
        return
    session.given_password = params[0]


@command(
    "NICK",
    before_registration=True,
    summary="NICK NAME: choose or change your nickname; a registered one needs its password (SASL or PASS)",
)
def _nick(session: IRCDialect, params: list[str]) -> None:
    if not params or not params[0]:
        session.reply(n.ERR_NONICKNAMEGIVEN, text="No nickname given")
        return
    nick = params[0]
    member = session.connection.member
    if member is None:
        session.asked = nick  # REGISTER * means it, even refused (draft/account-registration)
        with session.about(nick, numerics=_BANNED_HERE):
            try:
                session.registrar.needs_password(nick)  # invalid or taken: say so now
            except ChatError as error:
                if error.code != "TOO_MANY_SESSIONS":
                    raise
                # Its person's own nickname, at their limit: whether this is them is known at registration, once
                # SASL (which clients begin after NICK) or PASS says; a 433 now would have them try another.
            session.nick = nick
            session.try_registering()
        return
    if nick == member.nick:
        return
    session.connection.wait_for(_rename(session, member, nick))


_BANNED_HERE = {"BANNED": n.ERR_YOUREBANNEDCREEP}  # a nickname the server bans, not a room


async def _rename(session: IRCDialect, member: Member, nick: str) -> None:
    old = member.nick
    with session.about(nick, numerics=_BANNED_HERE):
        await session.registrar.rename(session.connection, member, nick)
        session.whowas.record(old, session.user, session.realname, session.connection.clock.seconds())


@command(
    "USER",
    params=4,
    before_registration=True,
    summary="USER NAME 0 * :REAL NAME: your user name and real name, shown by WHO and WHOIS",
)
def _user(session: IRCDialect, params: list[str]) -> None:
    if session.connection.member is not None or session.user:
        session.reply(n.ERR_ALREADYREGISTERED, text="You may not reregister")
        return
    if not params[0] or not params[3]:
        session.reply(n.ERR_NEEDMOREPARAMS, "USER", text="Not enough parameters")
        return
    user = "".join(char for char in params[0] if char.isascii() and (char.isalnum() or char in "-_."))
    session.user, session.realname = user[:USER_MAX] or "user", params[3][:REALNAME_MAX]
    session.try_registering()


@command(
    "AUTHENTICATE",
    params=1,
    before_registration=True,
    summary="AUTHENTICATE PLAIN|SCRAM-SHA-256: log in to an account with SASL, before registering or after",
)
def _authenticate(session: IRCDialect, params: list[str]) -> None:
    if "sasl" not in session.caps:
        session.reply(n.ERR_SASLFAIL, text="SASL authentication failed: request the sasl capability first")
    elif params[0] == "*":  # an abort, whether an exchange runs or not (IRCv3 SASL): never a mechanism's name
        session.sasl_abort()
    elif session.account is not None or (session.connection.member or session).account is not None:
        session.reply(n.ERR_SASLALREADY, text="You have already authenticated using SASL")
    else:
        session.sasl_step(params[0])


@command("PING", before_registration=True, summary="PING TOKEN: the server answers PONG TOKEN")
def _ping(session: IRCDialect, params: list[str]) -> None:
    if not params:
        session.reply(n.ERR_NOORIGIN, text="No origin specified")
        return
    session.write(session.line("PONG", session.server, text=params[0]))


@command("PONG", before_registration=True, summary="PONG TOKEN: the answer to the server's PING")
def _pong(session: IRCDialect, params: list[str]) -> None:
    """Any line shows the client is there: the connection has already noted it."""


@command("QUIT", before_registration=True, summary="QUIT [:REASON]: leave; the rooms you are in see the reason")
def _quit(session: IRCDialect, params: list[str]) -> None:
    reason = params[0] if params else ""
    session.connection.quit(reason, "quit")


@command("BATCH", params=1, summary="BATCH +REF draft/multiline TARGET ... BATCH -REF: one message of several lines")
def _batch(session: IRCDialect, params: list[str]) -> None:
    """draft/multiline: the lines between a batch's opening and its end are one message (chatroom.core.multiline)."""
    ref, gathering = params[0], session.gathering
    if ref.startswith("+") and len(params) > 2 and params[1] == MULTILINE and MULTILINE in session.caps:
        if gathering is None:
            session.gathering = Gathering(ref[1:], params[2], session.client_tags, session.opening_label)
            return
    elif gathering is not None and ref == "-" + gathering.ref:
        session.gathering = None
        if not gathering.failed and gathering.lines:
            session.client_tags = gathering.tags
            breaks = tuple(gathering.breaks)
            _send(session, [gathering.target, gathering.text], gathering.command == "NOTICE", breaks=breaks)
        return
    session.gathering = None
    session.fail_batch("MULTILINE_INVALID")


@command("TAGMSG", params=1, summary="TAGMSG TARGET[,TARGET]: client tags only (a reaction, typing), never kept")
def _tagmsg(session: IRCDialect, params: list[str]) -> None:
    """IRCv3 message-tags: the line's client tags alone, relayed to those who asked for message-tags; a TAGMSG
    without any is nothing to relay."""
    if session.client_tags:
        _send(session, params, notice=False, tags_only=True)


# Rooms


def _number(text: str) -> int | None:
    """A count or a limit as a client writes it: ASCII digits, at most nine of them (no '²', no 10**400)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


def _channels(param: str) -> list[str]:
    return [name for name in param.split(",") if name]


def _at_most(session: IRCDialect, targets: list[str], answer: bool = True) -> list[str]:
    """The first TARGETS_MAX targets (ISUPPORT TARGMAX); `407` names the first one left out (not to a NOTICE)."""
    if len(targets) > TARGETS_MAX and answer:
        text = f"Too many targets: only the first {TARGETS_MAX} were served"
        session.reply(n.ERR_TOOMANYTARGETS, targets[TARGETS_MAX], text=text)
    return targets[:TARGETS_MAX]


@command(
    "JOIN",
    params=1,
    summary="JOIN #ROOM[,#ROOM] [KEY[,KEY]]: enter rooms, opening them if needed; JOIN 0 leaves them all",
)
def _join(session: IRCDialect, params: list[str]) -> None:
    if not _channels(params[0]):
        session.reply(n.ERR_NEEDMOREPARAMS, "JOIN", text="Not enough parameters")
        return
    if params[0] == "0":
        for room in list(session.member.rooms.values()):
            session.chat.part(session.member, room.name)
        return
    keys = params[1].split(",") if len(params) > 1 else []
    for index, name in enumerate(_channels(params[0])):
        if not name.startswith("#"):
            session.reply(n.ERR_NOSUCHCHANNEL, name, text="No such channel: channel names start with #")
            continue
        joining = room_key(name)
        session.begin_joining(joining)
        try:
            with session.about(name):
                session.chat.join(session.member, name, keys[index] if index < len(keys) else "")
        finally:
            session.connection.when_made(functools.partial(session.end_joining, joining))


@command("PART", params=1, summary="PART #ROOM[,#ROOM] [:REASON]: leave rooms")
def _part(session: IRCDialect, params: list[str]) -> None:
    reason = params[1] if len(params) > 1 else ""
    for name in _channels(params[0]):
        with session.about(name):
            session.chat.part(session.member, name, reason)


@command("PRIVMSG", summary="PRIVMSG TARGET[,TARGET] :TEXT: say something in a room, or to a person")
def _privmsg(session: IRCDialect, params: list[str]) -> None:
    _send(session, params, notice=False)


@command("NOTICE", summary="NOTICE TARGET[,TARGET] :TEXT: like PRIVMSG, but never answered automatically")
def _notice(session: IRCDialect, params: list[str]) -> None:
    _send(session, params, notice=True)


def _send(
    session: IRCDialect, params: list[str], notice: bool, tags_only: bool = False, breaks: tuple[int, ...] = ()
) -> None:
    """PRIVMSG, NOTICE and TAGMSG (`tags_only`: the line's client tags, without text); a multiline batch's message
    (`breaks`: chatroom.core.multiline)."""
    if not params or not params[0]:
        session.reply(n.ERR_NORECIPIENT, text="No recipient given")
        return
    if not tags_only and (len(params) < 2 or not params[1]):
        session.reply(n.ERR_NOTEXTTOSEND, text="No text to send")
        return
    tags = session.client_tags or None
    targets, text = params[0].split(","), "" if tags_only else params[1]
    action = text.startswith("\x01ACTION ") and text.endswith("\x01") and len(text) > 9
    if action:
        text = text[8:-1]
    chat, member = session.chat, session.member
    # What each target's relay must fit: the longest line of a multiline message
    longest = max((piece for piece, _ in pieces(text, breaks)), key=len) if breaks or "\n" in text else text
    for target in _at_most(session, [target for target in targets if target], answer=not notice):
        if not tags_only and _relayed_too_long(session, target, longest, notice):
            continue
        to, room = (target[0], target[1:]) if target[:1] in ("@", "+") else ("", target)
        try:
            if room.startswith("#"):
                outside = room_key(room) not in member.rooms
                chat.say(member, room, text, action, notice, to, tags, breaks)
                # The room does not tell a sender outside it.
                if outside and "echo-message" in session.caps and (shown := chat.room(room)) is not None:
                    carried = tuple((tags or {}).items())
                    session.connection.deliver(Message(shown.name, member.nick, text, action, notice, to, tags=carried))
                continue
            chat.private(member, target, text, action, notice, tags, breaks)
            recipient = chat.person(target)
            if recipient is not None and (away := session.away_of(recipient)) and not (notice or tags_only):
                session.reply(n.RPL_AWAY, recipient.nick, text=away)
        except ChatError as error:
            if not notice:  # a NOTICE is never answered, not even with an error (RFC 1459)
                session.fail(error, room if room.startswith("#") else target, numeric=_CANNOT_SEND.get(error.code))


def _relayed_too_long(session: IRCDialect, target: str, text: str, notice: bool) -> bool:
    """Whether the message as relayed, with its sender's `nick!user@host` before it, would pass IRC's 512 bytes: it
    is refused with 417 (not to a NOTICE) rather than cut, as IRC servers cut it, or sent longer than clients read."""
    command = "NOTICE" if notice else "PRIVMSG"
    if len(text.encode()) + len(target.encode()) + _SOURCE_MAX + len(f":  {command}  :") <= BODY_MAX:
        return False  # most lines: fits whoever sends it, so the sender's `nick!user@host` need not be made
    if len(f":{session.source()} {command} {target} :{text}".encode()) <= BODY_MAX:
        return False
    if not notice:
        session.reply(n.ERR_INPUTTOOLONG, text="Input line was too long: relayed, it would pass 512 bytes")
    return True


# The longest `nick!user@host` a sender is shown as, in bytes (UTF-8 takes at most 4 a character).
_SOURCE_MAX = 4 * (NICK_MAX + USER_MAX) + len(f"!@{HOST}")

_CANNOT_SEND = {"NOT_IN_ROOM": n.ERR_CANNOTSENDTOCHAN, "LOCKDOWN": n.ERR_CANNOTSENDTOCHAN}


@command("TOPIC", params=1, summary="TOPIC #ROOM [:TEXT]: show or set a room's topic")
def _topic(session: IRCDialect, params: list[str]) -> None:
    name = params[0]
    with session.about(name):
        if len(params) > 1:
            session.chat.set_topic(session.member, name, params[1][:TOPIC_MAX])
        else:
            session.write(session.topic_reply(session.chat.topic(session.member, name)))


@command("NAMES", summary="NAMES #ROOM[,#ROOM]: who is in a room, operators with @ and voiced members with +")
def _names(session: IRCDialect, params: list[str]) -> None:
    if not params:
        session.reply(n.RPL_ENDOFNAMES, "*", text="End of /NAMES list")
        return
    for name in _at_most(session, _channels(params[0])):
        if name.startswith("#"):
            with contextlib.suppress(ChatError):  # no such room, or a secret one: only the end is said
                session.write(session.names(session.chat.who(session.member, name), end=False))
    session.reply(n.RPL_ENDOFNAMES, params[0], text="End of /NAMES list")


@command("LIST", summary="LIST [#ROOM,...|MASK|!MASK|>N|<N|C>M|C<M|T>M|T<M]: the rooms, their sizes and topics")
def _list(session: IRCDialect, params: list[str]) -> None:
    """Names and masks (any of them), then ISUPPORT ELIST=CMNTU's filters (all of them)."""
    terms = [term[:MASK_MAX] for term in (params[0] if params else "").split(",") if term][:LIST_TERMS_MAX]
    now = session.chat.now()
    names = [term for term in terms if term[:1] not in ("<", ">", "!") and term[1:2] not in ("<", ">")]
    filters = [_term(now, term) for term in terms if term not in names]
    session.reply(n.RPL_LISTSTART, "Channel", text="Users  Name")
    for room in session.chat.visible_rooms(session.member):
        named = not names or any(glob(name, room.name) for name in names)
        if named and all(match(room) for match in filters):
            session.reply(n.RPL_LIST, room.name, str(room.size), text=room.topic.text)
    session.reply(n.RPL_LISTEND, text="End of /LIST")


def _term(now: float, term: str) -> Callable[[RoomView], bool]:
    """One of LIST's filters, which a room must all pass: `!mask`, `<N`/`>N` people, `C`/`T` minutes ago."""
    kind, rest = term[:1].upper(), term[1:]
    if kind in ("C", "T") and rest[:1] in ("<", ">") and (minutes := _number(rest[1:])) is not None:
        limit = minutes * 60.0

        def aged(room: RoomView) -> bool:
            stamp = room.created if kind == "C" else room.topic_time
            age = now - stamp
            return bool(stamp) and (age < limit if rest[0] == "<" else age > limit)

        return aged
    if kind in ("<", ">") and (count := _number(rest)) is not None:
        return lambda room: room.size < count if kind == "<" else room.size > count
    return lambda room: not glob(term[1:], room.name)


@command(
    "INVITE",
    summary="INVITE NICK #ROOM: invite someone (an operator lets them past +i, +k and +l once); INVITE lists yours",
)
def _invite(session: IRCDialect, params: list[str]) -> None:
    if not params:  # the rooms you were invited to and have not joined
        for room in session.member.invited:
            session.reply(n.RPL_INVITELIST, room.name)
        session.reply(n.RPL_ENDOFINVITELIST, text="End of /INVITE list")
        return
    if len(params) < 2:
        session.reply(n.ERR_NEEDMOREPARAMS, "INVITE", text="Not enough parameters")
        return
    nick, name = params[0], params[1]
    subjects = {"NO_SUCH_NICK": (nick,), "ALREADY_THERE": (nick, name)}
    with session.about(name, subjects=subjects):
        session.chat.invite(session.member, name, nick)


@command("KICK", params=2, summary="KICK #ROOM NICK[,NICK] [:REASON]: put people out of a room (operators)")
def _kick(session: IRCDialect, params: list[str]) -> None:
    """KICK #a nick1,nick2 puts both out of #a; KICK #a,#b nick1,nick2 pairs them (RFC 2812)."""
    rooms, nicks = _channels(params[0]), params[1].split(",")
    reason = params[2][:KICK_MAX] if len(params) > 2 else ""
    if len(rooms) != 1 and len(rooms) != len(nicks):
        session.reply(n.ERR_NEEDMOREPARAMS, "KICK", text="Give one channel, or one channel per nickname")
        return
    nicks = _at_most(session, nicks)
    for name, nick in zip(rooms * len(nicks) if len(rooms) == 1 else rooms[: len(nicks)], nicks, strict=True):
        subjects = {"NO_SUCH_NICK": (nick,), "NOT_THERE": (nick, name)}
        with session.about(name, subjects=subjects):
            session.chat.kick(session.member, name, nick, reason)


# History (draft/chathistory, draft/message-redaction)

_QUERIES = {
    "LATEST": "latest",
    "BEFORE": "before",
    "AFTER": "after",
    "AROUND": "around",
    "BETWEEN": "between",
    "TARGETS": "targets",
}
_BAD_QUERY = frozenset({"BAD_MSGID", "BAD_TIME", "BAD_COUNT", "USAGE"})
_NO_TARGET = frozenset({"NOT_IN_ROOM", "NO_SUCH_ROOM", "BAD_ROOM", "BAD_NICK"})


@command(
    "CHATHISTORY",
    params=1,
    summary="CHATHISTORY LATEST|BEFORE|AFTER|AROUND|BETWEEN #ROOM|NICK msgid=ID|timestamp=TIME|* "
    "[msgid=|timestamp=] LIMIT: lines a room kept, or your private conversation with NICK (if the server keeps them); "
    "TARGETS timestamp=TIME timestamp=TIME LIMIT: your channels and conversations with lines between the two "
    "(draft/chathistory)",
)
def _chathistory(session: IRCDialect, params: list[str]) -> None:
    """Answered in a `chathistory` batch; refused with the FAILs of IRCv3's chathistory."""
    subcommand = params[0].upper()
    how = _QUERIES.get(subcommand)
    if how is None:
        session.write(session.line("FAIL", "CHATHISTORY", "UNKNOWN_COMMAND", params[0], text="Unknown subcommand"))
        return
    count = 5 if how == "between" else 4
    if how == "targets":
        _targets(session, params)
        return
    if len(params) < count:
        session.write(session.line("FAIL", "CHATHISTORY", "NEED_MORE_PARAMS", subcommand, text="Missing parameters"))
        return
    target = params[1]
    points = [_reference(reference, star=how == "latest") for reference in params[2 : count - 1]]
    limit = _number(params[count - 1])
    if None in points or not limit:
        invalid = "Invalid parameters: give msgid=ID or timestamp=YYYY-MM-DDThh:mm:ss.sssZ, then a limit from 1"
        session.write(session.line("FAIL", "CHATHISTORY", "INVALID_PARAMS", subcommand, text=invalid))
        return
    chat, member, lines = session.chat, session.member, min(limit, PAGE_MAX)
    # A nickname asks for one's private conversation with them (--history-private), kept or not
    ask = functools.partial(chat.history if target.startswith("#") else chat.private_history, member)

    async def answer() -> None:  # at once from memory, later when the store reads lines: the next lines wait
        try:
            if how == "between":
                history = await _between(ask, target, points[0] or "", points[1] or "", lines)
            else:
                history = await ask(target, how, points[0] or "", lines)
        except ChatError as error:
            if error.code in _BAD_QUERY:
                session.write(session.line("FAIL", "CHATHISTORY", "INVALID_PARAMS", subcommand, text=word(error)))
            else:
                code = "INVALID_TARGET" if error.code in _NO_TARGET else "MESSAGE_ERROR"
                session.write(session.line("FAIL", "CHATHISTORY", code, subcommand, target, text=word(error)))
            return
        session.write_pages(session.kept(history.room, session.replayed(history.messages)))

    session.connection.wait_for(answer())


_SEARCH_ATTRIBUTES = frozenset({"text", "in", "from", "after", "before", "limit"})


@command(
    "SEARCH",
    params=1,
    summary="SEARCH text=WORDS[;in=#ROOM][;from=NICK][;after=TIME][;before=TIME][;limit=N]: the newest lines kept in"
    " your channels holding every word (soju.im/search)",
)
def _search(session: IRCDialect, params: list[str]) -> None:
    """Answered in a `soju.im/search` batch once the index answers (the client's next lines wait for it); refused
    with the spec's FAILs: INVALID_PARAMS for what the search cannot take, INTERNAL_ERROR when it could not run."""
    attributes: dict[str, str] = {}
    for attribute in " ".join(params).split(";"):
        name, _, value = attribute.partition("=")
        attributes[name.strip().lower()] = value
    unknown = set(attributes) - _SEARCH_ATTRIBUTES
    limit = _number(attributes.get("limit", str(SEARCH_LINES)))
    if unknown or not limit:
        invalid = f"Invalid parameters: {' '.join(sorted(unknown)) or 'limit'}"
        session.write(session.line("FAIL", "SEARCH", "INVALID_PARAMS", text=invalid))
        return
    target = attributes.get("in", "")
    if target and not target.startswith("#"):  # private messages are never kept
        session.write_pages(session.kept("", (), "soju.im/search"))
        return
    text, nick = attributes.get("text", ""), attributes.get("from", "")
    after, before = attributes.get("after", ""), attributes.get("before", "")

    async def answer() -> None:
        try:
            found = await session.chat.search(session.member, text, target, nick, before, after, min(limit, PAGE_MAX))
        except ChatError as error:
            code = "INTERNAL_ERROR" if error.code == "SEARCH_FAILED" else "INVALID_PARAMS"
            session.write(session.line("FAIL", "SEARCH", code, text=word(error)))
            return
        session.write_pages(session.kept("", found.messages, "soju.im/search"))

    session.connection.wait_for(answer())


@command(
    "MARKREAD",
    summary="MARKREAD TARGET [timestamp=TIME]: where you have read a channel or a conversation up to, on every "
    "device of yours (draft/read-marker)",
)
def _markread(session: IRCDialect, params: list[str]) -> None:
    """Ask where the marker stands, or move it: it only moves forward, and each session of the person is told."""
    if not params:
        session.write(session.line("FAIL", "MARKREAD", "NEED_MORE_PARAMS", text="Missing parameters"))
        return
    target, chat, member = params[0], session.chat, session.member
    try:
        if len(params) > 1:
            time = params[1].removeprefix("timestamp=")
            if time == params[1]:  # `*`, and anything else that is not a time
                raise ChatError("BAD_TIME", time=params[1])
            if chat.mark_read(member, target, time):
                return  # it moved: each session of the person is told
        session.write(session.markread(chat.read_marker(member, target)))  # where it stands, to this session
    except ChatError as error:
        session.write(session.line("FAIL", "MARKREAD", "INVALID_PARAMS", target, text=word(error)))


def _targets(session: IRCDialect, params: list[str]) -> None:
    """CHATHISTORY TARGETS timestamp=A timestamp=B LIMIT: the channels whose latest kept line is between two times.

    What clients ask on coming back (gamja: then BETWEEN for each), so that what they missed is shown. The
    nicknames of one's private conversations are listed too, where the server keeps them (--history-private).
    """
    if len(params) < 4:
        session.write(session.line("FAIL", "CHATHISTORY", "NEED_MORE_PARAMS", "TARGETS", text="Missing parameters"))
        return
    times = [_reference(reference, star=False) for reference in params[1:3]]
    limit = _number(params[3])
    if not limit or not all(time and ":" in time for time in times):
        invalid = "Invalid parameters: give timestamp=YYYY-MM-DDThh:mm:ss.sssZ twice, then a limit from 1"
        session.write(session.line("FAIL", "CHATHISTORY", "INVALID_PARAMS", "TARGETS", text=invalid))
        return
    try:
        found = session.chat.history_targets(session.member, times[0] or "", times[1] or "", min(limit, PAGE_MAX))
    except ChatError as error:
        session.write(session.line("FAIL", "CHATHISTORY", "INVALID_PARAMS", "TARGETS", text=word(error)))
        return
    session.write(session.targets(found))


def _reference(reference: str, star: bool) -> str | None:
    """A message id or a time, as the core takes them ("" for LATEST's `*`); None if it is neither."""
    kind, _, value = reference.partition("=")
    if reference == "*" and star:
        return ""
    if kind.lower() == "msgid" and value and ":" not in value:  # a point with a colon is a time to the core
        return value
    if kind.lower() == "timestamp" and ":" in value:
        return value
    return None


Ask = Callable[[str, str, str, int], Deferred[History]]  # the core's history of a room or a conversation, for one


async def _between(ask: Ask, room: str, start: str, end: str, lines: int) -> History:
    """BETWEEN, from the core's queries: what is after `start` but not at or after `end`, or, when `end` comes
    first, what is before `start` but not at or before `end` (both ends excluded, as IRCv3 has it)."""
    how = "after" if await _place(ask, room, start) <= await _place(ask, room, end) else "before"
    found = await ask(room, how, start, lines)
    beyond = {said.id for said in (await ask(room, how, end, lines)).messages}
    inside = tuple(said for said in found.messages if said.id not in beyond and not _at(said, end))
    return History(found.room, inside)


async def _place(ask: Ask, room: str, point: str) -> tuple[float, float]:
    """Where a point falls, to tell which end of BETWEEN comes first: its time, then an id's number; an id the
    room no longer keeps comes before everything it keeps."""
    if ":" in point:
        return seconds(point), -1
    number = parse_id(point)[1]
    nearest = (await ask(room, "around", point, 1)).messages
    if nearest and nearest[0].id == point:
        return seconds(nearest[0].time), number
    return float("-inf"), number


def _at(said: Message, point: str) -> bool:
    return seconds(said.time) == seconds(point) if ":" in point else said.id == point


@command(
    "REDACT",
    params=2,
    summary="REDACT #ROOM MSGID|NICK [:REASON]: remove a line of yours from a room's history, or anyone's lines "
    "(operators); REDACT NICK MSGID: a line of yours from your private conversation with NICK (if the server keeps "
    "them)",
)
def _redact(session: IRCDialect, params: list[str]) -> None:
    """IRCv3's message-redaction: one's own line (where the room's rule allows it), or an operator's act; a nickname
    removes every line of theirs the room keeps (chatroom's own)."""
    room, target = params[0], params[1]
    reason = params[2] if len(params) > 2 else ""
    try:
        if room.startswith("#"):
            session.chat.redact(session.member, room, target, reason)
        else:
            session.chat.redact_private(session.member, room, target, reason)
    except ChatError as error:
        if error.code in _NO_TARGET:
            session.write(session.line("FAIL", "REDACT", "INVALID_TARGET", room, text=word(error)))
        elif error.code == "NO_SUCH_MESSAGE":
            session.write(session.line("FAIL", "REDACT", "UNKNOWN_MSGID", room, target, text=word(error)))
        elif error.code in ("NOT_OPERATOR", "NOT_OWNER", "NOT_ADMIN", "NOT_YOURS"):
            session.write(session.line("FAIL", "REDACT", "REDACT_FORBIDDEN", room, target, text=word(error)))
        else:
            session.fail(error, room)


@command(
    "ROOM",
    params=2,
    summary="ROOM #ROOM history off|since-join|all | keep 30d|5000|default | redact-mine on|off | forget: what the "
    "channel's history keeps (operators), or make it forget all of it (its owner)",
)
def _room_rule(session: IRCDialect, params: list[str]) -> None:
    """chatroom's history rule, as our client's `/room` sets it: `/room #5 keep 30d` typed in an IRC client."""
    room, what, value = params[0], params[1].lower(), " ".join(params[2:])
    with session.about(room):
        if what == "forget" and not value:
            session.chat.forget(session.member, room)
        else:
            session.chat.set_history_rule(session.member, room, what, value)


@command(
    "RENAME",
    params=2,
    summary="RENAME #ROOM #NEW [:REASON]: give a channel a new name (operators; not a registered or numbered one)",
)
def _rename_channel(session: IRCDialect, params: list[str]) -> None:
    """IRCv3 channel-rename: refusals of the rename itself are FAIL RENAME, as the specification names them."""
    room, new = params[0], params[1]
    reason = params[2] if len(params) > 2 else ""
    try:
        session.chat.rename_room(session.member, room, new, reason)
    except ChatError as error:
        if error.code == "RENAME" or error.code == "BAD_ROOM":
            failure = "CHANNEL_NAME_IN_USE" if error.case == "taken" else "CANNOT_RENAME"
            session.write(session.line("FAIL", "RENAME", failure, room, new, text=word(error)))
        else:
            session.fail(error, room)


# MODE


@command(
    "MODE",
    params=1,
    summary="MODE #ROOM [+-MODES [ARGS]]: show or change a room's modes: o v b e I i k m t l C (docs/irc.md)",
)
def _mode(session: IRCDialect, params: list[str]) -> None:
    target = params[0]
    if not target.startswith("#"):
        _user_mode(session, target, params[1:])
        return
    room = session.visible_room(target)
    if room is None:
        session.reply(n.ERR_NOSUCHCHANNEL, target, text="No such channel")
        return
    if len(params) == 1:
        modes, arguments = "+" + ("" if room.external else "n"), []
        for setting in room.on:  # those that are on: "invite", "key=K", "limit=N", ...
            name, _, value = setting.partition("=")
            if name in SETTING_MODES:
                modes += SETTING_MODES[name]
                if value:  # the key only to those in the room, as on IRC
                    arguments.append(value if name == "limit" or room.joined else "*")
        session.reply(n.RPL_CHANNELMODEIS, room.name, modes, *arguments)
        session.reply(n.RPL_CREATIONTIME, room.name, str(int(room.created)))
        return
    with session.about(room.name), session.chat.changes(session.member, room.name):
        _change_modes(session, room.name, params[1], params[2:])


def _change_modes(session: IRCDialect, room: str, modes: str, arguments: list[str]) -> None:
    sign = "+"
    listed = ""  # the lists already shown: a list once per MODE
    chat, member = session.chat, session.member
    with_parameter = 0
    for mode in modes:
        if mode in "+-":
            sign = mode
            continue
        adding = sign == "+"
        takes = mode in "ovbIek" or (mode == "l" and adding)
        argument = arguments.pop(0) if takes and arguments else None
        if takes and argument is not None:
            with_parameter += 1
            if with_parameter > MODES_MAX:
                break
        # A refused mask as the mode's own error (696), naming the channel, the mode and the mask
        subjects = {
            "NO_SUCH_NICK": (argument or "",),
            "NOT_THERE": (argument or "", room),
            "BAD_MASK": (room, mode, argument or "*"),
        }
        with session.about(room, numerics={"BAD_MASK": n.ERR_INVALIDMODEPARAM}, subjects=subjects):
            if mode in "ov":
                if argument is None:
                    continue
                role = Role.OPERATOR if mode == "o" else Role.VOICE
                chat.set_role(member, room, argument, role, adding)
            elif mode in "bIe":
                if argument is None:
                    if mode not in listed:
                        listed += mode
                        lists: dict[str, Callable[[Member, str], Event]] = {
                            "b": chat.bans,
                            "I": chat.allowed,
                            "e": chat.exceptions,
                        }
                        session.connection.deliver(lists[mode](member, room))
                    continue
                if mode == "b":
                    _ban(session, room, argument, adding)
                elif mode == "e":
                    chat.except_bans(member, room, _as_mask(argument), adding)
                else:
                    chat.allow(member, room, _as_mask(argument), adding)
            elif mode in CHANNEL_FLAGS:
                chat.configure(member, room, CHANNEL_FLAGS[mode], adding)
            elif mode == "k":
                if adding and argument is None:
                    session.reply(n.ERR_NEEDMOREPARAMS, "MODE", text="Not enough parameters")
                    continue
                if adding and not (argument or "").strip():
                    session.reply(n.ERR_INVALIDKEY, room, text="a key cannot be empty")
                    continue
                try:
                    chat.configure(member, room, Setting.KEY, argument if adding and argument else "")
                except ChatError as error:
                    if error.code != "BAD_KEY":
                        raise
                    session.reply(n.ERR_INVALIDKEY, room, text=word(error))
            elif mode == "l":
                if adding:
                    if argument is None:
                        session.reply(n.ERR_NEEDMOREPARAMS, "MODE", text="Not enough parameters")
                        continue
                    if not _number(argument):
                        session.reply(n.ERR_INVALIDMODEPARAM, room, "l", argument or "*", text=word(bad_limit()))
                        continue
                chat.configure(member, room, Setting.LIMIT, (_number(argument or "") or 0) if adding else 0)
            elif mode == "n":
                chat.configure(member, room, Setting.EXTERNAL, not adding)
            else:
                session.reply(n.ERR_UNKNOWNMODE, mode, text="is an unknown mode char to me")


def _ban(session: IRCDialect, room: str, mask: str, adding: bool) -> None:
    chat, member = session.chat, session.member
    try:
        if adding:
            chat.ban(member, room, _shown_person(session, room, mask) or _as_mask(mask), everyone=True)
        else:
            chat.unban(member, room, mask)
    except ChatError as error:
        if error.code not in ("ALREADY_BANNED", "NO_SUCH_BAN"):  # as on IRC: nothing changes, nothing said
            raise


def _shown_person(session: IRCDialect, room: str, mask: str) -> str | None:
    """The nickname of whoever in `room` a mask of the host every client is shown names (`*!*carol@chatroom`: what
    irssi and WeeChat make of `/ban carol`), banned as a nickname is; None for any other mask. The shown host
    says nothing of an address, so such a mask matching nobody here but the one banning, or several, is refused
    (irssi's user name is often the machine's login, the same for the operator and the one banned)."""
    nick_user, at, host = mask.rpartition("@")
    if not at or "!" not in nick_user or host.lower() != HOST.lower():
        return None
    members = (member for member, _ in session.chat.members_seen_by(session.member, room))
    others = [member for member in members if member is not session.member]
    found = [member.nick for member in others if glob(nick_user, f"{member.nick}!{session.ident(member)[0]}")]
    if len(found) != 1:
        raise ChatError("BAD_MASK", "shown", text=mask, count=len(found), room=room)
    return found[0]


def _as_mask(text: str) -> str:
    """IRC reads a bare nickname in +b, +e or +I as `nick!*@*` (after a mute's `m:` too); a mask with `!`, `@`, `.`
    or `:` is left to the core: an account (`R:NAME`, `$a:NAME`, `~a:NAME`), or a bare address, `*!*@ADDRESS` (as
    Solanum reads it)."""
    mute = MUTE_PREFIX if text.lower().startswith(MUTE_PREFIX) else ""
    text = text[len(mute) :]
    if any(sign in text for sign in "!@.:"):
        return mute + text
    return f"{mute}{text}!*@*"


def _user_mode(session: IRCDialect, nick: str, params: list[str]) -> None:
    if nick_key(nick) != nick_key(session.me):
        if session.chat.person(nick) is not None:
            session.reply(n.ERR_USERSDONTMATCH, text="Can't change mode for other users")
        else:
            session.reply(n.ERR_NOSUCHNICK, nick, text="No such nick")
        return
    if not params:
        session.reply(n.RPL_UMODEIS, "+" + "".join(sorted(session.user_modes())))
        return
    if any(mode not in "+-iwo" + BOT_MODE for mode in params[0]):
        session.reply(n.ERR_UMODEUNKNOWNFLAG, text="Unknown MODE flag")
        return
    sign, changed = "+", ""
    for mode in params[0]:
        if mode in "+-":
            sign = mode
        elif mode == BOT_MODE and session.member.details.bot != (sign == "+"):  # the person's, on every session
            session.chat.set_bot(session.member, sign == "+")
            changed += sign + mode
        elif mode in "iw" and (mode in session.modes) != (sign == "+"):  # +o comes with OPER, not MODE
            if mode == "i":
                session.chat.set_invisible(session.member, sign == "+")  # what the others read
            else:
                session.chat.set_wallops(session.member, sign == "+")  # WALLOPS reach it on every process
            session.set_mode(mode, sign == "+")
            changed += sign + mode
    if changed:
        session.write(message(session.source(), "MODE", session.me, text=changed))


@command("WALLOPS", params=1, summary="WALLOPS :TEXT: a message to everyone with user mode +w (administrators)")
def _wallops(session: IRCDialect, params: list[str]) -> None:
    with session.about():
        session.chat.wallops(session.member, params[0])


# People


@command("WHO", summary="WHO #ROOM|MASK: who is in a room, or whose nickname, user name or real name matches")
def _who(session: IRCDialect, params: list[str]) -> None:
    """Answered in pages (SendQueue.write_pages): `WHO *` over thousands of members is made as the asker reads it,
    a page at a time, while the others are served, and charged to the asker page by page."""
    mask = params[0][:MASK_MAX] if params and params[0] else "*"
    chat = session.chat
    if mask.startswith("#"):
        room = session.visible_room(mask)
        found: Iterable[tuple[str, Member, Role | None]] = (
            [(room.name, member, role) for member, role in chat.members_seen_by(session.member, mask)] if room else []
        )
    elif (exact := chat.person(mask)) is not None:
        found = [_in_first_room(session, exact)]  # a nickname is found even if invisible
    else:
        found = (  # each matched as its page is made
            _in_first_room(session, member)
            for member in chat.people_seen_by(session.member)
            if mask in ("*", "0") or _matches(session, mask, member)
        )
    whox = params[1][1:] if len(params) > 1 and params[1].startswith("%") else None
    session.write_pages(_who_pages(session, mask, found, whox))


def _who_pages(
    session: IRCDialect, mask: str, found: Iterable[tuple[str, Member, Role | None]], whox: str | None
) -> Iterator[bytes]:
    page: list[bytes] = []
    for room_name, member, role in found:
        page.append(_who_line(session, room_name, member, role, whox))
        if len(page) == PAGE_LINES:
            yield b"".join(page)
            page = []
    yield b"".join(page) + session.numeric(n.RPL_ENDOFWHO, mask, text="End of WHO list")


def _who_line(session: IRCDialect, room_name: str, member: Member, role: Role | None, whox: str | None) -> bytes:
    user, realname = session.ident(member)
    flags = ("G" if session.away_of(member) else "H") + ("*" if session.chat.is_admin(member) else "")
    flags += BOT_MODE if member.details.bot else ""
    if role is not None:
        flags += role.prefix if "multi-prefix" in session.caps else role.prefix[:1]
    if whox is None:
        return session.numeric(
            n.RPL_WHOREPLY, room_name, user, HOST, session.server, member.nick, flags, text=f"0 {realname}"
        )
    # WHOX: the fields asked for, always in this order, the real name last (IRCv3 whox)
    fields, _, token = whox.partition(",")
    values = {
        "t": token or "0",
        "c": room_name,
        "u": user,
        "i": "255.255.255.255",  # addresses are never shown
        "h": HOST,
        "s": session.server,
        "n": member.nick,
        "f": flags,
        "d": "0",
        "l": "0",
        "a": member.account or "0",
        "o": "n/a",
    }
    shown = [values[field] for field in "tcuihsnfdlao" if field in fields]
    return session.numeric(n.RPL_WHOSPCRPL, *shown, text=realname if "r" in fields else None)


def _in_first_room(session: IRCDialect, member: Member) -> tuple[str, Member, Role | None]:
    """Where WHO shows a member found by name: the first room they joined that the asker may see, and their role."""
    for room, role in session.chat.memberships(member, session.member):
        return room, member, role
    return "*", member, None


def _matches(session: IRCDialect, mask: str, member: Member) -> bool:
    user, realname = session.ident(member)
    return any(glob(mask, field) for field in (member.nick, user, HOST, realname, f"{member.nick}!{user}@{HOST}"))


@command("WHOIS", params=1, summary="WHOIS NICK: about someone: user name, real name, rooms, account, away")
def _whois(session: IRCDialect, params: list[str]) -> None:
    nicks = params[-1]
    for nick in _at_most(session, [nick for nick in nicks.split(",") if nick]):
        member = session.chat.person(nick)
        if member is None:
            session.reply(n.ERR_NOSUCHNICK, nick, text="No such nick")
            session.reply(n.RPL_ENDOFWHOIS, nick, text="End of /WHOIS list")
            continue
        user, realname = session.ident(member)
        session.reply(n.RPL_WHOISUSER, member.nick, user, HOST, "*", text=realname)
        rooms = [role.prefix[:1] + room for room, role in session.chat.memberships(member, session.member)]
        if rooms:
            session.reply(n.RPL_WHOISCHANNELS, member.nick, text=" ".join(rooms))
        session.reply(n.RPL_WHOISSERVER, member.nick, session.server, text=session.description)
        if away := session.away_of(member):
            session.reply(n.RPL_AWAY, member.nick, text=away)
        if member.details.bot:
            session.reply(n.RPL_WHOISBOT, member.nick, text="is a bot")
        if member.account is not None:
            if session.chat.is_admin(member):
                session.reply(n.RPL_WHOISOPERATOR, member.nick, text="is a server administrator")
            session.reply(n.RPL_WHOISACCOUNT, member.nick, member.account, text="is logged in as")
        if METADATA_CAP in session.caps:
            for key, value in sorted(member.metadata.items()):
                session.reply(n.RPL_WHOISKEYVALUE, member.nick, key, "*", text=value)
        session.reply(n.RPL_ENDOFWHOIS, member.nick, text="End of /WHOIS list")


@command("WHOWAS", params=1, summary="WHOWAS NICK [COUNT]: who recently had a nickname (kept an hour at most)")
def _whowas(session: IRCDialect, params: list[str]) -> None:
    nick = params[0]
    count = (_number(params[1]) or 0) if len(params) > 1 else 0
    found = session.whowas.find(nick, session.connection.clock.seconds(), count)
    if not found:
        session.reply(n.ERR_WASNOSUCHNICK, nick, text="There was no such nickname")
    for entry in found:
        session.reply(n.RPL_WHOWASUSER, entry.nick, entry.user, HOST, "*", text=entry.realname)
        session.reply(n.RPL_WHOISSERVER, entry.nick, session.server, text=session.description)
    session.reply(n.RPL_ENDOFWHOWAS, nick, text="End of WHOWAS")


@command("AWAY", summary="AWAY [:MESSAGE]: mark yourself away, or back without a message")
def _away_command(session: IRCDialect, params: list[str]) -> None:
    session.chat.set_away(session.member, params[0] if params else "")  # each of their sessions: 306 or 305


@command("ISON", params=1, summary="ISON NICK...: which of these nicknames are here")
def _ison(session: IRCDialect, params: list[str]) -> None:
    found = (session.chat.person(nick) for word in params for nick in word.split())
    present = [member.nick for member in found if member is not None]
    session.reply(n.RPL_ISON, text=" ".join(present))


@command("USERHOST", params=1, summary="USERHOST NICK...: the user@host of up to five people")
def _userhost(session: IRCDialect, params: list[str]) -> None:
    replies = []
    for nick in params[:5]:
        member = session.chat.person(nick)
        if member is not None:
            admin = "*" if session.chat.is_admin(member) else ""
            replies.append(
                f"{member.nick}{admin}={'-' if session.away_of(member) else '+'}{session.ident(member)[0]}@{HOST}"
            )
    session.reply(n.RPL_USERHOST, text=" ".join(replies))


@command("KILL", params=2, summary="KILL NICK :REASON: disconnect someone (server administrators)")
def _kill(session: IRCDialect, params: list[str]) -> None:
    with session.about(params[0], numerics={"SELF": n.ERR_NOPRIVILEGES}):
        session.chat.kill(session.member, params[0], params[1])


@command("OPER", params=2, summary="OPER ACCOUNT PASSWORD: log in to a server administrator's account")
def _oper(session: IRCDialect, params: list[str]) -> None:
    """Log in to an administrator's account (`chatroom-accounts grant NAME admin`): there are
    no O-lines."""
    session.connection.wait_for(session.oper(params[0], params[1]))


# About the server


@command("MOTD", summary="MOTD: the message of the day")
def _motd(session: IRCDialect, params: list[str]) -> None:
    session.write(session.motd())


@command("LUSERS", summary="LUSERS: how many people and rooms there are")
def _lusers(session: IRCDialect, params: list[str]) -> None:
    session.write(session.lusers())


@command("VERSION", summary="VERSION: the server's software and its ISUPPORT")
def _version(session: IRCDialect, params: list[str]) -> None:
    session.reply(n.RPL_VERSION, "chatroom", session.server, text="chatroom's IRC front end")
    session.write(session.isupport())


@command("TIME", summary="TIME: the server's time")
def _time(session: IRCDialect, params: list[str]) -> None:
    now = session.connection.clock.seconds()
    session.reply(n.RPL_TIME, session.server, text=time.strftime("%A %B %d %Y -- %H:%M:%S UTC", time.gmtime(now)))


@command("INFO", summary="INFO: about this server")
def _info(session: IRCDialect, params: list[str]) -> None:
    limits = session.chat.history_limits
    kept = (
        f"Each room keeps up to its last {limits.lines} messages, in memory; private messages are never kept."
        if limits.lines
        else "Nothing anyone says is logged or kept."
    )
    for line in (
        "chatroom: self-hosted group chat, built on Twisted.",
        "IRC clients and chatroom's own client share the same rooms.",
        kept,
    ):
        session.reply(n.RPL_INFO, text=line)
    session.reply(n.RPL_ENDOFINFO, text="End of INFO list")


@command("ADMIN", summary="ADMIN: who runs this server")
def _admin(session: IRCDialect, params: list[str]) -> None:
    session.reply(n.RPL_ADMINME, session.server, text="Administrative info")
    session.reply(n.RPL_ADMINLOC1, text="This chatroom server's administrators are its accounts granted admin")
    session.reply(n.RPL_ADMINLOC2, text="Ask them in any room")
    session.reply(n.RPL_ADMINEMAIL, text="-")


@command("LINKS", summary="LINKS: the servers of this network (one)")
def _links(session: IRCDialect, params: list[str]) -> None:
    session.reply(n.RPL_LINKS, session.server, session.server, text=f"0 {session.description}")
    session.reply(n.RPL_ENDOFLINKS, "*", text="End of /LINKS list")


@command("HELP", "HELPOP", summary="HELP [COMMAND]: these explanations")
def _help(session: IRCDialect, params: list[str]) -> None:
    if params:
        subject = params[0].upper()
        entry = COMMANDS.get(subject)
        if entry is None:
            session.reply(n.ERR_HELPNOTFOUND, params[0], text="No help available on this topic")
            return
        lines = [entry.summary]
    else:
        subject = "*"
        lines = [
            "chatroom's rooms, for IRC clients: #5 here is room 5 of chatroom's own client. Commands:",
            " ".join(sorted(COMMANDS)),
            "HELP COMMAND says more of one; docs/irc.md says the rest.",
        ]
    session.reply(n.RPL_HELPSTART, subject, text=lines[0])
    for line in lines[1:]:
        session.reply(n.RPL_HELPTXT, subject, text=line)
    session.reply(n.RPL_ENDOFHELP, subject, text="End of /HELP")

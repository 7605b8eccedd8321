"""IRC as a dialect of chatroom.server.connection: registration, capabilities and SASL, then its commands.

Its commands (chatroom.frontends.irc.commands) import it; it is given their table by chatroom.frontends.irc.frontend.

What an IRC client has beyond the core lives here: the capabilities it asked for, its user modes, and the steps
of registering (PASS, NICK, USER, CAP, AUTHENTICATE). What others read of it (user name, real name, away, +i) is
the member's Details, kept by the core, so that every process sharing the chat shows the same. Becoming a
member goes through chatroom.server.registration, as for the line protocol, so logins are checked and slowed the
same way. Flood control, timeouts and the send queue are the connection's.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import ClassVar, cast

from scramp import ScramException

from chatroom.core.errors import ChatError
from chatroom.core.events import (
    CLIENT_TAGS_MAX,
    AccountChanged,
    AllowList,
    AwayChanged,
    BanList,
    Event,
    ExceptList,
    History,
    Invited,
    Message,
    MetadataChanged,
    MetadataSync,
    Names,
    PrivateMessage,
    Reaction,
    ReadMarker,
    RealnameChanged,
    Renamed,
    RoomInfo,
    RoomList,
    Topic,
    Typing,
    Watched,
)
from chatroom.core.history import an_event
from chatroom.core.members import Details, Member
from chatroom.core.names import UNSAFE_TEXT, nick_key, room_key
from chatroom.core.queries import RoomView
from chatroom.frontends.commands import Command, CommandTable
from chatroom.frontends.irc import numerics as n
from chatroom.frontends.irc.multiline import Gathering, limit_of
from chatroom.frontends.irc.refusals import word
from chatroom.frontends.irc.render import CONCAT, HOST, MULTILINE, OWN_REALNAME, Renderer, Tags, counted
from chatroom.frontends.irc.support import BOT_MODE, METADATA_CAP, MYINFO_MODES, isupport
from chatroom.frontends.irc.whowas import Whowas
from chatroom.frontends.irc.wire import BODY_MAX, TAGS_MAX, client_tags, message, parse
from chatroom.frontends.irc.wire import Message as IRCMessage
from chatroom.server.auth import Login, ScramExchange
from chatroom.server.connection import Connection
from chatroom.server.limits import PAGE_LINES, ConnectionLimits

SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256")
SASL_CHUNK = 400  # bytes of base64 in one AUTHENTICATE line (IRCv3 SASL)
SASL_MAX = 4096  # bytes of base64 a whole SASL exchange may take


# The events `IRCDialect.render` answers itself, or for which it looks at who receives them.
LOOKED_AT = frozenset(
    {Message, PrivateMessage, Names, Topic, Invited, BanList, AllowList, RoomInfo, RoomList, History, ReadMarker}
    | {MetadataChanged, MetadataSync, ExceptList, Renamed, Reaction, Typing}
    | {Watched, AwayChanged, RealnameChanged, AccountChanged}  # to watchers too: chatroom.frontends.irc.monitor
)
# What a person says of themselves, each shown by the capability a client asked for it with
TOLD_BY = {AwayChanged: "away-notify", RealnameChanged: "setname", AccountChanged: "account-notify"}
END_NAMES = "End of /NAMES list"
MESSAGES = frozenset({"PRIVMSG", "NOTICE", "TAGMSG"})  # what a client may tag as part of a batch it opened
# A session's capabilities, user modes, room keys being joined and metadata keys subscribed to, while it has none
# (most, most of the time): one frozen empty set for all, where a set of its own would cost each connection 216 bytes.
EMPTY: frozenset[str] = frozenset()


@functools.lru_cache(maxsize=256)  # bounded: a client may ask for any combination of capabilities
def shared(values: frozenset[str]) -> frozenset[str]:
    """One frozen set for every session holding the same capabilities, or user modes (most hold the same few):
    216 bytes a connection less than a set of its own."""
    return values


@dataclass(frozen=True)
class IRCCommand(Command["IRCDialect", list[str]]):
    params: int  # fewer parameters are refused with ERR_NEEDMOREPARAMS
    before_registration: bool


class IRCDialect:
    name = "irc"
    commands: ClassVar[CommandTable[IRCCommand]]  # chatroom.frontends.irc.frontend gives it the commands' table
    server: ClassVar[str] = "chatroom"  # the server's name, in every message it sends
    description: ClassVar[str] = "chatroom"  # what LINKS and WHOIS say of the server
    password: ClassVar[str | None] = None  # the server password PASS must give (--irc-password)
    whowas: ClassVar[Whowas] = Whowas()  # of the server: `serving` gives each its own
    # One for the process, as a broadcast is written to its members in a row: each event is rendered once.
    renderer = Renderer()

    @classmethod
    def serving(cls, server: str, password: str | None, description: str = "chatroom") -> type[IRCDialect]:
        """The dialect of a server with this name, password and description."""
        settings: dict[str, object] = {
            "server": server,
            "password": password,
            "description": description,
            "whowas": Whowas(),
        }
        return cast(type[IRCDialect], type(cls.__name__, (cls,), settings))

    @classmethod
    def over_websocket(cls) -> type[IRCDialect]:
        """The same dialect for the web listeners' WebSockets, named "web" where connections and sessions are counted
        and listed (metrics, /sessions): to whoever reads them, a browser's tab is not an IRC client."""
        return cast(type[IRCDialect], type(cls.__name__, (cls,), {"name": "web"}))

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.chat = connection.factory.chat
        self.registrar = connection.factory.registrar
        self.nick: str | None = None  # asked for with NICK, until registered
        self.user = ""  # from USER: the member's Details once registered
        self.realname = ""
        self.given_password: str | None = None  # from PASS; forgotten once used
        self.admitted = False  # the server password (--irc-password) was given, and right
        self.negotiating = False  # CAP LS or REQ before registering: registration waits for CAP END
        self.caps = EMPTY
        self.tags = Tags.of(self.server)  # what the capabilities change in what this client is sent
        self.batches = 0  # BATCH ids given to this client so far
        self.held: list[bytes] | None = None  # the answer to a labeled line, while it runs (labeled-response)
        self.client_tags: dict[str, str] = {}  # the client-only tags of the line being run (PRIVMSG, TAGMSG...)
        self.gathering: Gathering | None = None  # a draft/multiline batch being received
        self.opening_label: str | None = None  # the label of the BATCH line being run, if it opens one
        self.account: Login | None = None  # logged in to with SASL before registering
        self.asked: str | None = None  # the last nickname NICK asked for before registering, taken or not
        self.sasl: str | None = None  # the base64 received so far, while an AUTHENTICATE exchange runs
        self.mechanism = ""  # the SASL mechanism of the exchange that runs
        self.scram: ScramExchange | None = None  # a SCRAM-SHA-256 exchange past the client's first message
        self.proven: Login | None = None  # the account SCRAM proved, logged in once the client takes our proof
        self.entering = False  # registration is being checked (a login)
        # User modes as this client was told them: +i, WHO with a mask finds them only in a shared room (the
        # member's Details.invisible, which the others read); +w WALLOPS.
        self.modes = EMPTY
        # The room keys a JOIN is entering, until the join is made: their topic is a reply (332), not a change.
        self.joining = EMPTY
        self.subscriptions = EMPTY  # the metadata keys this client hears of (METADATA SUB)
        self.metadata_before: dict[str, str] = {}  # its own metadata set before registering, until it registers

    # chatroom.server.connection.Dialect

    @staticmethod
    def longest_line(limits: ConnectionLimits) -> int:
        return TAGS_MAX + BODY_MAX

    def greet(self) -> None:
        """IRC clients speak first."""

    def line_received(self, text: str) -> None:
        tags_end = text.find(" ") + 1 if text.startswith("@") else 0
        tags = text[1 : tags_end - 1] if tags_end else ""  # without the '@' and the space, as IRCv3 counts them
        if len(text[tags_end:].encode()) > BODY_MAX or len(tags.encode()) > CLIENT_TAGS_MAX:
            self.reply(n.ERR_INPUTTOOLONG, text="Input line was too long")
            return
        if UNSAFE_TEXT.search(text):
            raise ChatError("BAD_TEXT")
        parsed = parse(text)
        if not parsed.command:
            return
        self.client_tags = client_tags(parsed.tags) if parsed.tags else {}
        batch = _batch_of(parsed.tags) if parsed.tags else None
        if batch is not None and self._gathered(parsed, batch):
            return
        label = self._label(parsed.tags)
        if parsed.command == "BATCH" and parsed.params:  # a multiline batch is answered at its end, under its label
            label = self._batch_label(parsed.params[0], label)
        if label is None:
            self._run(parsed.command, parsed.params, batch)
            return
        # Everything the line makes the server send this client now is held, and then sent under its label.
        # Held through an attribute of this instance only, so that the deliveries of others cost nothing more.
        self.held = []
        self.render = self._held  # type: ignore[method-assign]
        try:
            self._run(parsed.command, parsed.params, batch)
        except ChatError as error:
            self.held.append(self.refusal(error))
        finally:
            del self.render
            held, self.held = b"".join(self.held), None
            if not self.connection.closing:  # after QUIT, ERROR was the answer
                self.connection.write(self.labeled(label, held))

    def _gathered(self, parsed: IRCMessage, batch: str) -> bool:
        """Whether a line tagged with `batch` belongs to the multiline batch being received: then it is taken into
        it, not run."""
        if self.gathering is None or batch != self.gathering.ref:
            return False
        concat = any(tag.partition("=")[0] == CONCAT for tag in parsed.tags.split(";"))
        failed = self.gathering.take(parsed.command, parsed.params, concat)
        if failed:
            self.fail_batch(failed)
        return True

    def _batch_label(self, ref: str, label: str | None) -> str | None:
        """The label a BATCH line is answered under: none for a multiline batch's opening (its label is kept for its
        end, whose answer is the message's echo)."""
        if ref.startswith("+"):
            self.opening_label = label
            return None
        if self.gathering is not None and ref == "-" + self.gathering.ref:
            return self.gathering.label
        return label

    def fail_batch(self, code: str, text: str = "Invalid multiline batch") -> None:
        self.write(self.line("FAIL", "BATCH", code, *filter(None, [limit_of(code)]), text=text))

    def _run(self, name: str, params: list[str], batch: str | None = None) -> None:
        """Run a line's command; `batch`: the batch its `batch` tag names, which is not the one being received."""
        entry = self.commands.get(name)
        registered = self.connection.member is not None
        if entry is None:
            if registered:
                self.reply(n.ERR_UNKNOWNCOMMAND, name, text="Unknown command")
            else:
                self.reply(n.ERR_NOTREGISTERED, text="You have not registered")
            return
        if not registered and not entry.before_registration:
            self.reply(n.ERR_NOTREGISTERED, text="You have not registered")
            return
        if len(params) < entry.params:
            self.reply(n.ERR_NEEDMOREPARAMS, name, text="Not enough parameters")
            return
        if batch is not None and name in MESSAGES:
            self._unopened(name, batch)
            return
        entry.handler(self, params)

    def _unopened(self, name: str, batch: str) -> None:
        """A message tagged as part of a batch the client has not opened is not said, where it was said as if
        untagged: refused as Ergo refuses it, with `FAIL BATCH MULTILINE_INVALID` (nothing to a NOTICE, as Ergo).
        A batch being received fails with it, as a client may send nothing else while one is open (IRCv3's
        client-initiated batches; draft/multiline is the only one chatroom takes)."""
        if self.gathering is not None and not self.gathering.failed:
            self.gathering.failed = "MULTILINE_INVALID"  # the rest of it is dropped, and its end says nothing
        if name != "NOTICE":
            named = f"no batch {batch} is open" if batch else "its batch tag names no batch"
            self.fail_batch("MULTILINE_INVALID", f"Message not sent: {named}")

    def render(self, event: Event) -> bytes:
        if type(event) is Message and event.text:  # most of what a server writes: a line in a room...
            member = self.connection.member
            if member is not None:
                if event.nick != member.nick:  # ...someone else's
                    made = self.renderer.made(event, self.tags)
                    return made if made is not None else self._by_renderer(event)
                if "echo-message" not in self.caps and self._said_here():
                    return b""  # ...or the sender's own, which an IRC client shows itself
        elif type(event) not in LOOKED_AT:  # a room's JOIN, PART, QUIT...: the same bytes for everyone
            return self._by_renderer(event)
        me = self.me
        match event:
            case Message(text="") | PrivateMessage(text="") | Reaction() | Typing() if "message-tags" not in self.caps:
                return b""  # a message of tags only (TAGMSG) goes to clients that asked for tags only
            case Typing(_, nick) if nick == me and not self._said_here():
                return b""  # this person typing on another of their devices: nothing for this one to show
            case Message(_, nick) | PrivateMessage(nick) | Reaction(_, nick) | Typing(_, nick) if (
                nick == me and "echo-message" not in self.caps
            ):
                if not _to_oneself(event, me) and self._said_here():
                    return b""  # the core's copy to the sender: an IRC client shows its own message itself
            case (
                PrivateMessage(nick, recipient)
                | Reaction(recipient, nick, private=True)
                | Typing(recipient, nick, private=True)
            ) if nick == recipient == me and self._said_here():
                # To oneself, with echo-message: the echo, and the message received (two lines, as Ergo sends). The
                # echo alone answers a labeled line; the message received goes out at once, unlabeled.
                rendered = self._by_renderer(event)
                if self.held is not None:
                    self.connection.write(rendered)
                    return rendered
                return rendered + rendered
            case Names(room) if room_key(room) in self.joining and "draft/read-marker" in self.caps:
                # Joining: where the person has read it up to, before the end of the names (draft/read-marker)
                marker = self.markread(self.chat.read_marker(self.member, room))
                return self.names(event, end=False) + marker + self.numeric(n.RPL_ENDOFNAMES, room, text=END_NAMES)
            case Names():
                return self.names(event)
            case Renamed(old, new, _, reason) if "draft/channel-rename" not in self.caps:
                return self._rejoined(old, new, reason)
            case ReadMarker():
                return self.markread(event) if "draft/read-marker" in self.caps else b""
            case MetadataChanged(target, key, value):
                # Those subscribed to the key; the client that set it has its answer (METADATA SET) already
                if key not in self.subscriptions or self.connection.executing:
                    return b""
                return self.key_value(target, key, value)
            case MetadataSync(_, entries):
                return self.metadata_batch("", [entry for entry in entries if entry[1] in self.subscriptions])
            case Topic(room, setter, text) if room_key(room) in self.joining:
                return self.topic_reply(event) if text or setter else b""
            case Invited(room, _, nick) if nick != me:
                return self.numeric(n.RPL_INVITING, nick, room)
            case BanList(room, bans, since):
                # Who set each and when; a ban kept from before its time was kept shows its mask alone (a time of 0
                # reads as 1970 in clients).
                lines = [
                    self.numeric(n.RPL_BANLIST, room, mask, *((setter, str(int(set_at))) if set_at else ()))
                    for (mask, setter, _, _), set_at in zip(bans, since or (0.0,) * len(bans), strict=True)
                ]
                return b"".join(lines) + self.numeric(n.RPL_ENDOFBANLIST, room, text="End of channel ban list")
            case AllowList(room, allowed):
                lines = [self.numeric(n.RPL_INVEXLIST, room, mask) for mask, _ in allowed]
                end = self.numeric(n.RPL_ENDOFINVEXLIST, room, text="End of Channel Invite Exception List")
                return b"".join(lines) + end
            case ExceptList(room, excepted):
                lines = [self.numeric(n.RPL_EXCEPTLIST, room, mask) for mask, _ in excepted]
                end = self.numeric(n.RPL_ENDOFEXCEPTLIST, room, text="End of channel exception list")
                return b"".join(lines) + end
            case RoomInfo() | RoomList():
                return b""  # MODE and LIST ask the core themselves
            case Watched(nick, True):
                return self.numeric(n.RPL_MONONLINE, text=f"{nick}!{self.identify(nick)}")
            case Watched(nick):
                return self.numeric(n.RPL_MONOFFLINE, text=nick)
            case AwayChanged(nick, away) if nick == self.me:  # this person's, set here or on another session
                if away:
                    return self.numeric(n.RPL_NOWAWAY, text="You have been marked as being away")
                return self.numeric(n.RPL_UNAWAY, text="You are no longer marked as being away")
            case AwayChanged(nick) | RealnameChanged(nick) | AccountChanged(nick) if not self._told(event, nick):
                return b""
            case History(room, messages, lost):
                # Lines kept, shown on joining: a client with draft/chathistory asks for them itself (CHATHISTORY)
                return b"" if "draft/chathistory" in self.caps else b"".join(self.playback(room, messages, lost))
        return self._by_renderer(event)

    def _by_renderer(self, event: Event) -> bytes:
        """`event` by the renderer every client of the same capabilities shares: made for the first of them."""
        made = self.renderer.made(event, self.tags)
        if made is not None:
            return made
        return self.renderer(event, self.identify, self.tags, self.connection.clock, self.is_bot, self.account_of)

    def _rejoined(self, old: str, new: str, reason: str) -> bytes:
        """A rename as a client without draft/channel-rename is told it: it left the old channel and joined the new
        one, whose topic and names follow, as on joining."""
        me = self.source()
        rejoined = message(me, "PART", old, text=f"channel renamed to {new}" + (f": {reason}" if reason else ""))
        rejoined += message(me, "JOIN", new)
        room = self.chat.room(new)
        if room is not None and room.topic.text:
            rejoined += self.topic_reply(room.topic)
        return rejoined + self.names(self.chat.who(self.member, new))

    def _told(self, event: AwayChanged | RealnameChanged | AccountChanged, nick: str) -> bool:
        """Whether this client shows what `nick` says of themselves: it asked for the capability that shows it, and
        shares a room with them, or watches them and asked for extended-monitor (the core tells both)."""
        if TOLD_BY[type(event)] not in self.caps:
            return False
        return "extended-monitor" in self.caps or self.chat.share_room(self.member, nick)

    def _said_here(self) -> bool:
        """Whether one's own message was said through this connection, not another of the person's (Ergo's way:
        those see it as from anyone else). With --redis it arrives after the line ran, in its turn in the log,
        whose entry says which session asked for it (none here, if it was asked for on another process)."""
        return self.connection.member is None or self.connection.executing or self.chat.asker() is self.connection

    def _held(self, event: Event) -> bytes:
        """`render` while a labeled line runs: what the core delivers joins the labeled answer."""
        assert self.held is not None
        self.held.append(IRCDialect.render(self, event))
        return b""

    def _label(self, tags: str) -> str | None:
        """The label of a line, if the client asked for labeled-response (and batch, which it needs).

        Of any length: labeled-response asks clients for at most 64 bytes, but a longer one is still answered
        under it, as Ergo does, rather than left unlabeled, which leaves the client unable to tell what the answer
        is to (the line's 4094 bytes of tags bound it)."""
        if not tags or "labeled-response" not in self.caps or "batch" not in self.caps:
            return None
        for tag in tags.split(";"):
            name, _, value = tag.partition("=")
            if name == "label" and value:
                return value
        return None

    def labeled(self, label: str, held: bytes) -> bytes:
        """The answer to a labeled line: `ACK`, one labeled line, or a labeled `labeled-response` batch."""
        lines = held.split(b"\r\n")[:-1]
        tag = f"label={label}"
        if not lines:
            return _tag(self.line("ACK"), tag)
        if len(lines) == 1 or _one_batch(lines):  # one line, or a multiline message's echo
            return _tag(held, tag)
        self.batches += 1
        batch = str(self.batches)
        inner = b"".join(line + b"\r\n" if _batched(line) else _tag(line + b"\r\n", f"batch={batch}") for line in lines)
        start = _tag(self.line("BATCH", "+" + batch, "labeled-response"), tag)
        return start + inner + self.line("BATCH", "-" + batch)

    def departed(self, member: Member) -> None:
        self.whowas.record(member.nick, self.user, member.details.realname, self.connection.clock.seconds())

    def refusal(self, error: ChatError) -> bytes:
        if error.code == "BAD_UTF8":  # IRCv3's UTF8ONLY: the FAIL names the command of the line refused
            return self.line("FAIL", _command_of(self.connection.received), "INVALID_UTF8", text=word(error))
        numeric = n.FOR_CODE.get(error.code)
        if numeric is not None:
            subject = (str(error.arguments.get(name, "")) for name in n.SUBJECTS.get(numeric, ()))
            return self.numeric(numeric, *subject, text=word(error))
        return self.notice(word(error))

    word = staticmethod(word)

    @staticmethod
    def ping(token: str) -> bytes:
        return f"PING :{token}\r\n".encode()

    @staticmethod
    def goodbye(reason: str) -> bytes:
        return f"ERROR :Closing link{': ' + reason if reason else ''}\r\n".encode()

    # What commands use

    @property
    def me(self) -> str:
        """This client's nickname as numerics address it: "*" before it has one."""
        member = self.connection.member
        return member.nick if member is not None else (self.nick or "*")

    @property
    def member(self) -> Member:
        member = self.connection.member
        assert member is not None, "commands after registration only"
        return member

    def write(self, data: bytes) -> None:
        if self.held is not None:
            self.held.append(data)
        else:
            self.connection.write(data)

    def line(self, command: str, *params: str, text: str | None = None) -> bytes:
        return message(self.server, command, *params, text=text)

    def numeric(self, numeric: str, *params: str, text: str | None = None) -> bytes:
        return message(self.server, numeric, self.me, *params, text=text)

    def reply(self, numeric: str, *params: str, text: str | None = None) -> None:
        self.write(self.numeric(numeric, *params, text=text))

    def notice(self, text: str) -> bytes:
        return self.line("NOTICE", self.me, text=text)

    def source(self) -> str:
        """This client as `nick!user@host`: once registered, its person's, as its own lines are shown to it (a
        connection that joined a person already here is them); before, with `*` for what it has not said yet."""
        if self.connection.member is not None:
            return f"{self.me}!{self.identify(self.me)}"
        return f"{self.me}!{self.user or '*'}@{HOST}"

    def identify(self, nick: str) -> str:
        """The `user@host` of a present member: the user name its IRC client gave, or its nickname."""
        member = self.chat.person(nick)
        if member is None:
            return f"{nick}@{HOST}"
        return f"{self.ident(member)[0]}@{HOST}"

    def is_bot(self, nick: str) -> bool:
        member = self.chat.person(nick)
        return member is not None and member.details.bot

    def ident(self, member: Member) -> tuple[str, str]:
        """A member's user name and real name as IRC shows them: an IRC client's own, wherever it is connected,
        or for a member of our own protocol its account (a guest's nickname, as history shows them once gone)
        and "chatroom user"."""
        details = member.details
        if details.user:
            try:
                self.chat.may_speak(member)
            except ChatError:
                return details.user, ""  # a guest's real name is speech too: not heard during a lockdown
            return details.user, details.realname
        return member.account or member.nick, OWN_REALNAME  # our own protocol has no user name

    def account_of(self, nick: str) -> str:
        """The account of a present member, "" for a guest or someone gone: what an `account` tag says."""
        member = self.chat.person(nick)
        return member.account or "" if member is not None else ""

    @staticmethod
    def away_of(member: Member) -> str:
        return member.details.away

    def user_modes(self) -> frozenset[str]:
        member = self.connection.member
        admin = member is not None and self.chat.is_admin(member)
        bot = member is not None and member.details.bot
        return self.modes | ({"o"} if admin else set()) | ({BOT_MODE} if bot else set())

    def set_mode(self, mode: str, on: bool) -> None:
        """A user mode as this client is told it (+i, +w)."""
        self.modes = shared(self.modes | {mode} if on else self.modes - {mode})

    @contextlib.contextmanager
    def about(
        self, *subject: str, numerics: dict[str, str] | None = None, subjects: dict[str, tuple[str, ...]] | None = None
    ) -> Iterator[None]:
        """Answer a refusal of the core inside this block with its numeric, about `subject` (a channel, a nick)."""
        try:
            yield
        except ChatError as error:
            self.fail(error, *(subjects or {}).get(error.code, subject), numeric=(numerics or {}).get(error.code))

    def fail(self, error: ChatError, *subject: str, numeric: str | None = None) -> None:
        code = error.code
        if code == "NOT_IN_ROOM" and subject and self.visible_room(subject[0]) is None:
            code = "NO_SUCH_ROOM"  # IRC tells a channel that does not exist (or is secret) from one you are not in
            numeric = None
        numeric = numeric or n.FOR_CODE.get(code)
        if numeric is None:
            self.write(self.notice(word(error)))
        elif numeric in n.WITHOUT_SUBJECT:
            self.reply(numeric, text=word(error))
        else:
            self.reply(numeric, *subject, text=word(error))

    def visible_room(self, name: str) -> RoomView | None:
        """The channel called `name`, unless there is none or it is secret and this client is not in it."""
        member = self.connection.member
        return self.chat.room_seen_by(member, name) if member is not None and name.startswith("#") else None

    def names(self, names: Names, end: bool = True) -> bytes:
        """353 lines of at most 512 bytes, then 366 unless `end` is False."""
        room = names.room
        symbol = "@" if names.secret else "="
        nicks = names.nicks
        if "multi-prefix" not in self.caps and nicks and nicks[0].startswith("@+"):  # Names lists roles highest first
            nicks = tuple(_highest(nick) for nick in nicks)
        if "userhost-in-names" in self.caps:
            nicks = tuple(f"{nick}!{self.identify(nick.lstrip('@+'))}" for nick in nicks)
        # As many whole nicknames on each 353 as fit: cut at the last space that does (in C: this runs per joiner)
        fits = BODY_MAX - len(self.numeric(n.RPL_NAMREPLY, symbol, room, text=""))
        text = " ".join(nicks)
        lines = []
        while len(text) > fits and (cut := text.rfind(" ", 0, fits + 1)) > 0:
            lines.append(self.numeric(n.RPL_NAMREPLY, symbol, room, text=text[:cut]))
            text = text[cut + 1 :]
        if text:
            lines.append(self.numeric(n.RPL_NAMREPLY, symbol, room, text=text))
        if end:
            lines.append(self.numeric(n.RPL_ENDOFNAMES, room, text=END_NAMES))
        return b"".join(lines)

    def key_value(self, target: str, key: str, value: str) -> bytes:
        """RPL_KEYVALUE, or RPL_KEYNOTSET for a key removed (draft/metadata-3)."""
        if value:
            return self.numeric(n.RPL_KEYVALUE, target, key, "*", text=value)
        return self.numeric(n.RPL_KEYNOTSET, target, key, text="key not set")

    def metadata_batch(self, target: str, entries: Sequence[tuple[str, str, str]]) -> bytes:
        """Metadata as (target, key, value), in a `metadata` batch (of `target`, if one) if the client takes
        batches; nothing when there is none and no target."""
        if METADATA_CAP not in self.caps or not (entries or target):
            return b""
        return self.in_metadata_batch(target, [self.key_value(*entry) for entry in entries])

    def in_metadata_batch(self, target: str, lines: Sequence[bytes]) -> bytes:
        """Lines already rendered, in a `metadata` batch (of `target`, if one) if the client takes batches."""
        if "batch" not in self.caps:
            return b"".join(lines)
        self.batches += 1
        batch = str(self.batches)
        tagged = b"".join(b"@batch=%s %s" % (batch.encode(), line) for line in lines)
        start = self.line("BATCH", "+" + batch, "metadata", *([target] if target else []))
        return start + tagged + self.line("BATCH", "-" + batch)

    def markread(self, marker: ReadMarker) -> bytes:
        return self.line("MARKREAD", marker.target, f"timestamp={marker.time}" if marker.time else "*")

    def topic_reply(self, topic: Topic) -> bytes:
        if not topic.text:
            return self.numeric(n.RPL_NOTOPIC, topic.room, text="No topic is set")
        room = self.chat.room(topic.room)
        when = str(int(room.topic_time)) if room is not None else "0"
        setter = f"{topic.setter}!{self.identify(topic.setter)}" if topic.setter else self.server  # as a source
        return self.numeric(n.RPL_TOPIC, topic.room, text=topic.text) + self.numeric(
            n.RPL_TOPICWHOTIME, topic.room, setter, when
        )

    def set_caps(self, caps: Iterable[str]) -> None:
        """The capabilities acknowledged; what they change in rendering is worked out once, here."""
        self.caps = shared(frozenset(caps))
        self.tags = Tags.of(self.server, self.caps)

    def pages(self, history: History) -> Iterable[bytes]:
        if self.held is not None or "draft/chathistory" in self.caps:
            return (self.render(history),)  # joins a labeled answer, or is nothing
        return self.playback(history.room, history.messages, history.lost)

    def write_pages(self, pages: Iterable[bytes]) -> None:
        """A long answer: made as the client reads it, unless it is held for a label."""
        if self.held is not None:
            self.held.append(b"".join(pages))
        else:
            self.connection.write_pages(pages)

    def kept(self, target: str, messages: Sequence[Message], kind: str = "chathistory") -> Iterator[bytes]:
        """Lines a room kept, each with its own time and id (as the capabilities allow), in a `chathistory` batch
        if the client takes batches (or a `kind` batch: a search's names no target); in pages of PAGE_LINES, each
        made when it is asked for."""
        if "batch" not in self.caps:
            yield from self._kept_pages(messages, "")
            return
        self.batches += 1
        batch = str(self.batches)
        yield self.line("BATCH", "+" + batch, kind, *([target] if target else []))
        try:
            yield from self._kept_pages(messages, batch)
        except Exception:
            # A bug in a page: the batch still ends, as a client holds back what is inside an open batch; the
            # answer stops there (Connection._unmade tells the log).
            yield self.line("BATCH", "-" + batch)
            raise
        yield self.line("BATCH", "-" + batch)

    def _kept_pages(self, messages: Sequence[Message], batch: str) -> Iterator[bytes]:
        for start in range(0, len(messages), PAGE_LINES):
            page = messages[start : start + PAGE_LINES]
            yield b"".join(self.renderer.kept(said, self.identify, self.tags, batch) for said in page)

    def targets(self, found: Sequence[tuple[str, str]]) -> bytes:
        """CHATHISTORY TARGETS' answer: each target and the time of its latest line, in a batch if the client takes
        batches (draft/chathistory-targets)."""
        lines = [self.line("CHATHISTORY", "TARGETS", target, time) for target, time in found]
        if "batch" not in self.caps:
            return b"".join(lines)
        self.batches += 1
        batch = str(self.batches)
        tagged = b"".join(b"@batch=%s %s" % (batch.encode(), line) for line in lines)
        return self.line("BATCH", "+" + batch, "draft/chathistory-targets") + tagged + self.line("BATCH", "-" + batch)

    def replayed(self, messages: Sequence[Message]) -> Sequence[Message]:
        """The kept lines this client is shown: events among them (topic changes, kept TAGMSGs) only with
        draft/event-playback."""
        if "draft/event-playback" in self.caps:
            return messages
        return [said for said in messages if not an_event(said)]

    def playback(self, room: str, messages: Sequence[Message], lost: int) -> Iterator[bytes]:
        """What a room kept, shown on joining it; between two notices unless a batch marks it as history.

        A `time` tag alone is not enough: irssi asks for server-time but shows when a line arrived by default.
        """
        if lost:
            missed = "some lines" if lost < 0 else counted(lost)
            yield self.line("NOTICE", room, text=f"{missed} said in {room} before these are no longer kept")
        messages = self.replayed(messages)
        if not messages:
            return
        marked = "batch" in self.caps
        if not marked:
            since = messages[0].time.replace("T", " ")[:16]
            yield self.line(
                "NOTICE", room, text=f"The last {counted(len(messages))} said in {room}, since {since} UTC:"
            )
        yield from self.kept(room, messages)
        if not marked:
            yield self.line("NOTICE", room, text="End of the lines kept")

    # Registration

    def try_registering(self) -> None:
        """Once NICK and USER are in (and CAP negotiation, if any, has ended), become a member."""
        if self.connection.member is not None or self.entering or self.negotiating:
            return
        if self.nick is None or not self.user:
            return
        self.entering = True
        self.connection.wait_for(self._enter(self.nick))

    async def _enter(self, nick: str) -> None:
        try:
            if not await self._admitted():
                return
            details = Details(self.user, self.realname)
            member = await self.registrar.enter(
                self.connection, nick, self.given_password, proven=self.account, details=details
            )
        except ChatError as error:
            if self.connection.closing:
                return
            if error.code == "TOO_MANY_SESSIONS" and (self.account is not None or self.given_password is not None):
                self._no_more_sessions(error)
                return
            self.nick = None  # a new NICK tries again
            login = self.account
            if (
                error.code == "BAD_LOGIN"
                and login is not None
                and not self.chat.still_proved(login.account, login.identity)
            ):
                self.account = None  # its account went: the client goes on as a guest, or authenticates again
            self.fail(error, nick, numeric=n.ERR_YOUREBANNEDCREEP if error.code == "BANNED" else None)
            return
        finally:
            self.entering = False
        self.given_password = None
        self.welcome()
        if nick_key(member.nick) != nick_key(nick):  # logged in to an account whose person is here (Registrar.enter)
            self.write(self.notice(f"{member.nick} is here already: this connection is one more of their sessions"))
        self.catch_up()
        self.set_metadata_before()

    def _no_more_sessions(self, error: ChatError) -> None:
        """A login to an account whose person has as many sessions as allowed: `FAIL * TOO_MANY_SESSIONS`, then
        `ERROR`, and the connection is closed.

        Not `433`, which says the nickname is someone else's: irssi and WeeChat answer it with another nickname,
        which would come in as a second person of the same account, when what must change is a session ended.
        Ergo has no such limit; where a registration cannot go on whatever the nickname (SASL required), it answers
        `FAIL * ACCOUNT_REQUIRED` and `ERROR` as here, and it keeps `433` for a nickname that is literally someone
        else's (#1594). A client shows `ERROR`'s text and reconnects later, by when a session may have ended.
        """
        text = word(error)
        self.write(self.line("FAIL", "*", "TOO_MANY_SESSIONS", text=text))
        self.connection.close(text, "too many sessions")

    async def _admitted(self) -> bool:
        """Whether the server password (--irc-password), if any, is right; if not, the connection is closed.

        Asynchronous since with --redis its slow-down is counted in Redis: lines that arrive meanwhile wait.
        """
        if self.password is None or self.admitted:
            return True
        try:
            await self.registrar.check_server_password(self.given_password, self.password, self.connection.address)
        except ChatError as error:
            self.reply(n.ERR_PASSWDMISMATCH, text=word(error))
            self.connection.quit(word(error), "wrong server password")
            return False
        self.admitted, self.given_password = True, None  # PASS was the server's: accounts log in with SASL
        return True

    def welcome(self) -> None:
        """001 to the MOTD, and the user modes: one write, as the transport would make one record of them anyway."""
        # +i as on most networks (and as Details starts): WHO masks find you only in rooms you share
        self.set_mode("i", True)
        self.write(
            b"".join((
                self.numeric(n.RPL_WELCOME, text=f"Welcome to the chatroom IRC network, {self.source()}"),
                self.me.encode().join(_greeting_around(self.server)),
                self.isupport(),
                self.lusers(),
                self.motd(),
                message(self.source(), "MODE", self.me, text="+" + "".join(sorted(self.user_modes()))),
            ))
        )  # fmt: skip

    def set_metadata_before(self) -> None:
        """The metadata this client set before registering (draft/metadata-3's before-connect) is its person's now,
        told to it in one batch; a value the core refuses now (a limit) is left out."""
        values, self.metadata_before = self.metadata_before, {}
        kept = []
        for key, value in values.items():
            with contextlib.suppress(ChatError):
                self.chat.set_metadata(self.member, "*", key, value)
                kept.append((self.me, key, value))
        self.write(self.metadata_batch(self.me, kept) if kept else b"")

    def catch_up(self) -> None:
        """A session joining a person already here: JOIN, topic (332/333) and names (353/366) of each room."""
        member = self.member
        self.begin_joining(*member.rooms)
        try:
            self.chat.catch_up(member, self.connection)
        finally:
            self.end_joining(*member.rooms)

    def begin_joining(self, *keys: str) -> None:
        """These rooms' topic and names, from now until `end_joining`, answer this session's joining them."""
        self.joining = self.joining.union(keys)

    def end_joining(self, *keys: str) -> None:
        self.joining = self.joining.difference(keys) or EMPTY

    def sasl_abort(self) -> None:
        self.sasl = None
        self.reply(n.ERR_SASLABORTED, text="SASL authentication aborted")

    def sasl_step(self, data: str) -> None:
        """One AUTHENTICATE line: the mechanism first, then base64 messages, each whole one to `_sasl_message`."""
        if self.sasl is None:
            if data.upper() not in SASL_MECHANISMS:
                self.reply(n.RPL_SASLMECHS, ",".join(SASL_MECHANISMS), text="are the available SASL mechanisms")
                self.reply(n.ERR_SASLFAIL, text="SASL authentication failed: unknown mechanism")
                return
            self.sasl, self.mechanism, self.scram, self.proven = "", data.upper(), None, None
            self.write(b"AUTHENTICATE +\r\n")
            return
        if len(data) > SASL_CHUNK:
            self.sasl = None
            self.reply(n.ERR_SASLTOOLONG, text="SASL message too long")
            return
        if len(self.sasl) + len(data) > SASL_MAX:
            self._sasl_failed(f"the exchange is longer than {SASL_MAX} bytes")
            return
        if data != "+":
            self.sasl += data
        if len(data) == SASL_CHUNK:
            return  # more follows
        try:
            text = base64.b64decode(self.sasl, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            self.sasl = None
            self.reply(n.ERR_SASLFAIL, text=f"SASL authentication failed: malformed {self.mechanism} message")
            return
        self.sasl = ""  # the exchange goes on, unless the message ends it
        if self.mechanism == "PLAIN":
            self._plain(text)
        else:
            self._scram_step(text)

    def _sasl_failed(self, why: str) -> None:
        self.sasl = self.scram = self.proven = None
        self.reply(n.ERR_SASLFAIL, text=f"SASL authentication failed: {why}")

    def _plain(self, text: str) -> None:
        self.sasl = None
        try:
            authzid, authcid, password = text.split("\0")
        except ValueError:
            self._sasl_failed("malformed PLAIN credentials")
            return
        if authzid and nick_key(authzid) != nick_key(authcid):
            self._sasl_failed("cannot act for another account")
            return
        self.connection.wait_for(self._log_in(authcid, password))

    def _scram_step(self, text: str) -> None:
        """SCRAM-SHA-256: the client's first message, then its proof, then its word that it took ours (`+`)."""
        if self.proven is not None:
            self.sasl = None
            self.connection.wait_for(self._sasl_succeeded(self.proven))
        elif self.scram is None:
            if self.registrar.auth is None:
                self._sasl_failed(word(ChatError("BAD_LOGIN", "no_accounts")))
                return
            exchange = self.registrar.auth.scram.exchange()
            try:
                first = exchange.first(text)
            except ScramException:
                self._sasl_failed("malformed SCRAM-SHA-256 message")
                return
            self.scram = exchange
            self._challenge(first)
        else:
            self.connection.wait_for(self._prove(self.scram, text))

    async def _prove(self, exchange: ScramExchange, final: str) -> None:
        assert self.registrar.auth is not None  # an exchange starts only with accounts
        try:
            self.proven = await self.registrar.auth.login_scram(exchange, final, self.connection.address)
        except ChatError as error:
            self._sasl_failed(word(error))
            return
        self._challenge(exchange.signature())

    def _challenge(self, text: str) -> None:
        """A message of ours in the exchange: base64 in lines of SASL_CHUNK, `+` after a full last one."""
        encoded = base64.b64encode(text.encode()).decode()
        chunks = [encoded[start : start + SASL_CHUNK] for start in range(0, len(encoded), SASL_CHUNK)]
        if not chunks or len(chunks[-1]) == SASL_CHUNK:
            chunks.append("+")
        self.write(b"".join(f"AUTHENTICATE {chunk}\r\n".encode() for chunk in chunks))

    async def _log_in(self, name: str, password: str) -> None:
        try:
            login = await self._check(name, password)
        except ChatError as error:
            self._sasl_failed(word(error))
            return
        await self._sasl_succeeded(login)

    async def _sasl_succeeded(self, login: Login) -> None:
        """The client proved `login` (PLAIN, or SCRAM once it took our proof). A member, after registering as IRCv3
        SASL 3.2 allows, logs in as they are: those who show accounts are told (account-notify)."""
        member = self.connection.member
        if member is not None:
            try:
                await self.registrar.log_in(member, login)
            except ChatError as error:
                self._sasl_failed(word(error))
                return
        self.account, self.scram, self.proven = login, None, None
        account = login.account
        self.reply(n.RPL_LOGGEDIN, self.source(), account, text=f"You are now logged in as {account}")
        self.reply(n.RPL_SASLSUCCESS, text="SASL authentication successful")

    async def oper(self, name: str, password: str) -> None:
        """OPER: log in to a server administrator's account; the nickname stays as it is."""
        member = self.member
        try:
            login = await self._check(name, password)
        except ChatError as error:
            self.reply(n.ERR_PASSWDMISMATCH, text=word(error))
            return
        if not self.chat.accounts.is_admin(login.account):
            self.reply(n.ERR_NOOPERHOST, text=f"{login.account} is not a server administrator")
            return
        with self.about(member.nick):
            await self.registrar.log_in(member, login)  # told once made: with --redis, its turn may refuse it
            self.reply(n.RPL_YOUREOPER, text="You are now a server administrator")
            self.write(message(self.source(), "MODE", member.nick, text="+o"))

    async def _check(self, name: str, password: str) -> Login:
        """The account `name` as registered, if `password` is its own: the slow-downs of every login apply."""
        if self.registrar.auth is None:
            raise ChatError("BAD_LOGIN", "no_accounts")
        return await self.registrar.auth.login(name, password, self.connection.address)

    # What the server says of itself at the welcome; VERSION, LUSERS and MOTD say it again

    def isupport(self) -> bytes:
        return self.me.encode().join(_isupport_around(self.server, tuple(isupport(self.chat))))

    def lusers(self) -> bytes:
        people, hidden, rooms, admins, peak = self.chat.census()
        seen = people - hidden
        return b"".join((
            self.numeric(n.RPL_LUSERCLIENT, text=f"There are {seen} users and {hidden} invisible on 1 servers"),
            self.numeric(n.RPL_LUSEROP, str(admins), text="operator(s) online"),
            self.numeric(n.RPL_LUSERCHANNELS, str(rooms), text="channels formed"),
            self.numeric(n.RPL_LUSERME, text=f"I have {people} clients and 0 servers"),
            self.numeric(n.RPL_LOCALUSERS, str(people), str(peak), text=f"Current local users {people}, max {peak}"),
            self.numeric(n.RPL_GLOBALUSERS, str(people), str(peak), text=f"Current global users {people}, max {peak}"),
        ))  # fmt: skip

    def motd(self) -> bytes:
        return self.me.encode().join(_motd_around(self.server, tuple(self.connection.factory.motd)))


# What every welcome says, the same for every client but for the nickname it is addressed to, and changed only
# with the settings (SIGHUP): made once, and cut where the nickname goes.


def _cut_at_nickname(server: str, lines: Iterable[tuple[str, tuple[str, ...], str | None]]) -> list[bytes]:
    """Numerics (numeric, parameters, text) to `server`'s clients, as pieces to join with a client's nickname."""
    return b"".join(message(server, numeric, "\0", *params, text=text) for numeric, params, text in lines).split(b"\0")


@functools.lru_cache(maxsize=4)
def _greeting_around(server: str) -> list[bytes]:
    """002 to 004."""
    return _cut_at_nickname(server, (
        (n.RPL_YOURHOST, (), f"Your host is {server}, running chatroom"),
        (n.RPL_CREATED, (), "This server speaks IRC beside chatroom's own protocol"),
        (n.RPL_MYINFO, (server, "chatroom", "Biow", MYINFO_MODES, "Ibeklov"), None),
    ))  # fmt: skip


@functools.lru_cache(maxsize=4)
def _isupport_around(server: str, tokens: tuple[str, ...]) -> list[bytes]:
    """RPL_ISUPPORT's lines (005), twelve tokens to a line."""
    return _cut_at_nickname(
        server,
        (
            (n.RPL_ISUPPORT, tokens[start : start + 12], "are supported by this server")
            for start in range(0, len(tokens), 12)
        ),
    )


@functools.lru_cache(maxsize=4)
def _motd_around(server: str, lines: tuple[str, ...]) -> list[bytes]:
    """The message of the day (375, 372..., 376), or 422 if there is none."""
    if not lines:
        return _cut_at_nickname(server, ((n.ERR_NOMOTD, (), "MOTD File is missing"),))
    return _cut_at_nickname(server, (
        (n.RPL_MOTDSTART, (), f"- {server} Message of the day -"),
        *((n.RPL_MOTD, (), f"- {line}") for line in lines),
        (n.RPL_ENDOFMOTD, (), "End of /MOTD command"),
    ))  # fmt: skip


def _command_of(line: bytes) -> str:
    """The command of a line that is not UTF-8, if its tags and command are ASCII letters and digits; else "*"."""
    words = line.split(b" ", 2)
    command = words[1] if line.startswith(b"@") and len(words) > 1 else words[0]
    return command.decode().upper() if command.isalnum() and command.isascii() else "*"


def _batch_of(tags: str) -> str | None:
    """The batch a client's line says it is part of (its `batch` tag; "" if the tag has no value), if any."""
    for tag in tags.split(";"):
        name, _, value = tag.partition("=")
        if name == "batch":
            return value
    return None


def _tag(line: bytes, tag: str) -> bytes:
    """One line with one more tag."""
    if line.startswith(b"@"):
        return b"@" + tag.encode() + b";" + line[1:]
    return b"@" + tag.encode() + b" " + line


def _to_oneself(event: Event, me: str) -> bool:
    """Whether `event` is something said privately to `me` by `me`: the one copy is also what they received."""
    match event:
        case PrivateMessage(recipient=recipient) | Reaction(recipient, private=True) | Typing(recipient, private=True):
            return recipient == me
    return False


def _one_batch(lines: list[bytes]) -> bool:
    """Whether an answer is one multiline batch: its opening, lines in it, and its end (as Ergo labels it)."""
    opening, closing = parse(lines[0].decode()), parse(lines[-1].decode())
    if not (opening.command == closing.command == "BATCH" and opening.params[1:2] == [MULTILINE] and closing.params):
        return False
    ref = opening.params[0]
    return ref.startswith("+") and closing.params[0] == "-" + ref[1:] and all(map(_batched, lines[1:-1]))


def _batched(line: bytes) -> bool:
    """Whether a line already belongs to a batch (a chathistory batch inside a labeled response)."""
    return line.startswith(b"@") and any(tag.startswith(b"batch=") for tag in line[1 : line.find(b" ")].split(b";"))


def _highest(prefixed: str) -> str:
    """Without multi-prefix, NAMES shows only the highest prefix: "@+bob" is "@bob"."""
    stripped = prefixed.lstrip("@+")
    return prefixed[:1] + stripped if stripped != prefixed else prefixed

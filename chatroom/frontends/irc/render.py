"""The core's events as IRC messages, and the numerics chatroom answers with.

Each room event is rendered once, whoever receives it: every member of a room whose client asked for the same
capabilities gets the same bytes object (`Renderer` keeps the last event's renderings, as chatroom.frontends.line.wire's
Encoder does). What differs from one recipient to the next (an echo of one's own message, an invitation to
oneself) is decided by chatroom.frontends.irc.dialect before asking for the bytes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import replace

from twisted.internet.interfaces import IReactorTime

from chatroom.core.events import (
    AccountChanged,
    AllowChanged,
    AwayChanged,
    BanChanged,
    Changes,
    ClientTags,
    Event,
    ExceptChanged,
    Invited,
    Joined,
    KeptNotice,
    Kicked,
    LockdownChanged,
    Message,
    NickChanged,
    OwnerChanged,
    Parted,
    PrivateMessage,
    Quit,
    Reaction,
    RealnameChanged,
    Redacted,
    Renamed,
    ResumeToken,
    RoleChanged,
    RoomChange,
    ServerNotice,
    SettingChanged,
    Topic,
    Typing,
    Wallops,
)
from chatroom.core.gestures import REACT_TAG, REPLY_TAG, REPLY_TAGS, TYPING_TAG
from chatroom.core.history import timestamp
from chatroom.core.multiline import pieces
from chatroom.frontends.irc.wire import message, tag

MULTILINE = "draft/multiline"  # the capability and its batch's type
CONCAT = "draft/multiline-concat"  # the tag of a piece that continues the line before it
HOST = "chatroom"  # the host every member is shown at: nobody's address is shown to anyone
SETTING_MODES = {"invite": "i", "key": "k", "moderated": "m", "topiclock": "t", "limit": "l", "secret": "s"}
SETTING_MODES["noctcp"] = "C"
# "external" is IRC's n, the other way round: +n is external off
ROLE_MODES = {"operator": "o", "voice": "v"}

# Events that may carry the id and time their room or conversation gave them
STAMPED = (Message, PrivateMessage, Topic, Reaction, Typing)
Identify = Callable[[str], str]  # a present member's nickname -> the "user@host" after it in a source
IsBot = Callable[[str], bool]  # whether the member present under a nickname is a bot (IRCv3 bot mode)


def _nobody(nick: str) -> bool:
    return False


Accounts = Callable[[str], str]  # a present member's nickname -> the account they are logged in to, "" if none
OWN_REALNAME = "chatroom user"  # the real name IRC shows for a member of our own protocol, which has none


class Tags:
    """What a client's capabilities change in the bytes it is sent, worked out once when it changes them.

    `key` names its renderings: clients with the same server and the same of these capabilities share them.
    """

    __slots__ = ("account", "extended_join", "key", "msgid", "multiline", "redact", "server", "time")

    def __init__(self, server: str, caps: Iterable[str] = ()) -> None:
        wanted = set(caps)
        self.server = server
        self.time = "server-time" in wanted  # a `time` tag on everything the chat sends
        self.msgid = "message-tags" in wanted  # a `msgid` tag on room messages
        self.redact = "draft/message-redaction" in wanted  # REDACT rather than a notice
        self.account = "account-tag" in wanted  # an `account` tag on what a logged-in person does
        self.extended_join = "extended-join" in wanted  # JOIN with the account and the real name
        self.multiline = MULTILINE in wanted  # a message of several lines as a batch, rather than line by line
        flags = (
            ("t", self.time),
            ("m", self.msgid),
            ("r", self.redact),
            ("a", self.account),
            ("j", self.extended_join),
            ("l", self.multiline),
        )
        self.key = server + " " + "".join(flag for flag, on in flags if on)

    @staticmethod
    @functools.lru_cache(maxsize=256)  # bounded: a client may ask for any combination of capabilities
    def of(server: str, caps: frozenset[str] = frozenset()) -> Tags:
        """The Tags of every client of `server` with these capabilities: one object for all, which they only
        read (96 bytes and its key a connection less)."""
        return Tags(server, caps)


class Renderer:
    """Renders events, remembering the last one's bytes for each set of capabilities that changes them."""

    __slots__ = ("_event", "_rendered", "_time", "accounts", "identify", "is_bot", "server", "tags")

    def __init__(self) -> None:
        self._event: Event | None = None
        self._rendered: dict[str, bytes] = {}  # by Tags.key
        self._time = ""
        self.server = ""
        self.identify: Identify = str
        self.is_bot: IsBot = _nobody
        self.accounts: Accounts = _no_account
        self.tags = Tags("")

    def __call__(
        self,
        event: Event,
        identify: Identify,
        tags: Tags,
        clock: IReactorTime,
        is_bot: IsBot = _nobody,
        accounts: Accounts | None = None,
    ) -> bytes:
        """The bytes of `event` for a client with these `tags`; `identify` finds the `user@host` of a nickname,
        `is_bot` whether a message's sender is a bot (its `bot` tag), and `accounts` its account, for clients that
        asked for account tags.

        A room message carries the time and id the room gave it; anything else the time it is first rendered
        at (`clock`), the same for everyone who receives it.
        """
        if event is not self._event:
            self._event = event
            self._rendered = {}
            self._time = ""
        rendered = self._rendered.get(tags.key)
        if rendered is not None:
            return rendered
        self.server, self.identify, self.tags, self.is_bot = tags.server, identify, tags, is_bot
        self.accounts = accounts or _no_account
        try:
            if isinstance(event, Message | PrivateMessage) and ("\n" in event.text or event.breaks):
                rendered = self._lines(event, tags, batch=tags.multiline)
            else:
                rendered = self._render(event)
                if tags.time or tags.msgid or tags.account:
                    if tags.time and not (isinstance(event, STAMPED) and event.time):
                        self._time = self._time or timestamp(clock.seconds())  # once per event: the same for all
                    rendered = _tagged(rendered, self._tags(event, tags))
        finally:
            self._let_go()
        self._rendered[tags.key] = rendered
        return rendered

    def made(self, event: Event, tags: Tags) -> bytes | None:
        """The bytes of `event` for clients with these `tags`, if made already: as a broadcast goes out."""
        return self._rendered.get(tags.key) if event is self._event else None

    def kept(self, said: Message, identify: Identify, tags: Tags, batch: str) -> bytes:
        """A line a room kept, as it was said (a topic change as TOPIC, tags as TAGMSG, several lines line by line),
        with its own time and id, inside `batch` if not "": without `bot` or `account` tags, as who holds its nickname
        now may not be who said it."""
        self.server, self.identify, self.tags, self.is_bot = tags.server, identify, tags, _nobody
        self.accounts = _no_account
        try:
            if "\n" in said.text or said.breaks:  # line by line inside the history's batch
                return self._lines(said, tags, batch=False, head=f"batch={batch}" if batch else "")
            if said.topic:
                line = message(self.source(said.nick), "TOPIC", said.room, text=said.text)
            elif not said.text:  # tags kept as their sender asked
                line = message(self.source(said.nick), "TAGMSG", said.room)
            else:
                line = self._text(said.nick, said.room, said.text, said.action, said.notice)
            return _tagged(line, self._tags(said, tags, f"batch={batch}" if batch else ""))
        finally:
            self._let_go()

    def _let_go(self) -> None:
        """Forget the lookups of the connection that rendered last: its dialect's methods, which would keep it and
        its connection alive in this one renderer of the process after it ended."""
        self.identify, self.is_bot, self.accounts = str, _nobody, _no_account

    def _lines(self, said: Message | PrivateMessage, tags: Tags, batch: bool, head: str = "") -> bytes:
        """A message of several lines (chatroom.core.multiline): as a draft/multiline `batch` whose opening carries
        the message's tags, id and time; else line by line, blank lines left out, the first with the id, each with
        the time and client tags (`head` before them)."""
        nick, target = (said.nick, said.to + said.room) if isinstance(said, Message) else (said.sender, said.recipient)
        parts = pieces(said.text, said.breaks)
        text = functools.partial(self._text, nick, target, action=False, notice=said.notice)
        if batch:
            opening = _tagged(
                message(self.source(nick), "BATCH", "+" + said.id, MULTILINE, target), self._tags(said, tags)
            )
            inner = [
                _tagged(text(piece), f"batch={said.id}" + (f";{CONCAT}" if concat else "")) for piece, concat in parts
            ]
            return opening + b"".join(inner) + message(self.source(nick), "BATCH", "-" + said.id)
        first, *rest = [piece for piece, _ in parts if piece] or [""]
        later = self._tags(replace(said, id=""), tags, head)
        return _tagged(text(first), self._tags(said, tags, head)) + b"".join(
            _tagged(text(piece), later) for piece in rest
        )

    def _tags(self, event: Event, tags: Tags, head: str = "") -> str:
        """A message's client tags, `msgid` and `time`, as far as `tags` wants them, after `head`."""
        found = [head] if head else []
        said = event if isinstance(event, STAMPED) else None
        if tags.msgid:  # client tags, as message-tags has them relayed, and the id
            found += [tag(name, value) for name, value in relayed(event)]
            if said is not None and said.id:
                found.append(f"msgid={said.id}")
            if said is not None and self.is_bot(_source_of(said)):
                found.append("bot")
        if tags.time:
            found.append(f"time={said.time if said is not None and said.time else self._time}")
        if tags.account and (account := self.accounts(_source_of(event))):
            found.append(f"account={account}")
        return ";".join(found)

    def _render(self, event: Event) -> bytes:
        match event:
            case Message(room, nick, "", _, _, to):  # tags only (TAGMSG): for clients that asked for tags
                return message(self.source(nick), "TAGMSG", to + room)
            case PrivateMessage(sender, recipient, ""):
                return message(self.source(sender), "TAGMSG", recipient)
            case Reaction(room, nick) | Typing(room, nick):
                return message(self.source(nick), "TAGMSG", room)
            case Message(room, nick, text, action, notice, to):
                return self._text(nick, to + room, text, action, notice)
            case PrivateMessage(sender, recipient, text, action, notice):
                return self._text(sender, recipient, text, action, notice)
            case Joined(room, nick, account, realname) if self.tags.extended_join:
                return message(self.source(nick), "JOIN", room, account or "*", text=realname or OWN_REALNAME)
            case Joined(room, nick):
                return message(self.source(nick), "JOIN", room)
            case AwayChanged(nick, away):
                return message(self.source(nick), "AWAY", text=away or None)
            case RealnameChanged(nick, realname):
                return message(self.source(nick), "SETNAME", text=realname)
            case AccountChanged(nick, account):
                return message(self.source(nick), "ACCOUNT", account)
            case Parted(room, nick, reason):
                return message(self.source(nick), "PART", room, text=reason or None)
            case Renamed(old, new, actor, reason):  # to clients with draft/channel-rename (IRCDialect.render)
                return message(self.source(actor), "RENAME", old, new, text=reason)
            case Quit(nick, reason):
                return message(self.source(nick), "QUIT", text=f"Quit: {reason}" if reason else "Quit")
            case NickChanged(old, new):
                return message(self.source(old, found_as=new), "NICK", text=new)
            case Topic(room, setter, text):
                return message(self.source(setter) if setter else self.server, "TOPIC", room, text=text)
            case Kicked(room, actor, nick, reason):
                return message(self.source(actor), "KICK", room, nick, text=reason or actor)
            case (
                RoleChanged(room, actor)
                | SettingChanged(room, actor)
                | BanChanged(room, actor)
                | AllowChanged(room, actor)
                | ExceptChanged(room, actor)
            ) if room:
                return self._modes(room, actor, [event])
            case Changes(room, changes) if len({change.actor for change in changes}) == 1:
                return self._modes(room, changes[0].actor, list(changes))
            case Changes(_, changes):
                return b"".join(self._render(change) for change in changes)
            case BanChanged(_, actor, mask, added, until, reason):
                done = f"banned {mask} from the server" if added else f"lifted the server ban on {mask}"
                ends = f" until {until}" if added and until else ""
                return self.notice("*", f"{actor} {done}{ends}" + (f": {reason}" if reason else ""))
            case OwnerChanged(room, actor, owner):
                told = f"{actor} registered {room} to the account {owner}" if owner else f"{actor} dropped {room}"
                return message(self.server, "NOTICE", room, text=told)
            case Invited(room, actor, nick):
                return message(self.source(actor), "INVITE", nick, room)
            case LockdownChanged(actor, level):
                return self.notice("*", f"{actor} set the server's lockdown to {level} (docs/irc.md)")
            case ServerNotice(text):
                return self.notice("*", text)
            case KeptNotice(room, actor, text):
                return message(self.server, "NOTICE", room, text=f"{actor} changed the history rule: {text}" if actor
                               else text)  # fmt: skip
            case ResumeToken():
                return b""  # IRC has no /resume: an IRC session of the person has no use for it
            case Wallops(nick, text):
                return message(self.source(nick), "WALLOPS", text=text)
            case Redacted(room, actor, ids, reason) if ids and self.tags.redact:
                source = self.source(actor)
                return b"".join(message(source, "REDACT", room, msgid, text=reason or None) for msgid in ids)
            case Redacted(private=True):
                return b""  # a private line's removal goes to clients that show removals only
            case Redacted(room, actor, ids, reason):
                done = f"removed {counted(len(ids))} from" if ids else "cleared"
                told = f"{actor} {done} the history of {room}" + (f": {reason}" if reason else "")
                return message(self.server, "NOTICE", room, text=told)
        raise TypeError(f"not a room event: {event!r}")

    def source(self, nick: str, found_as: str = "") -> str:
        """`nick!user@host`; `found_as` is the nickname the member has now, after a change."""
        return f"{nick}!{self.identify(found_as or nick)}"

    def notice(self, target: str, text: str) -> bytes:
        return message(self.server, "NOTICE", target, text=text)

    def _modes(self, room: str, actor: str, changes: list[RoomChange]) -> bytes:
        """One MODE line for changes made together: `MODE #5 +ov-b alice alice bob!*@*`."""
        modes, arguments, sign = "", [], ""
        for change in changes:
            argument: str | None
            match change:
                case RoleChanged(_, _, nick, role, granted):
                    wanted, mode, argument = "+" if granted else "-", ROLE_MODES[role], nick
                case SettingChanged(_, _, "external", value):
                    wanted, mode, argument = "-" if value else "+", "n", None  # IRC's +n is external off
                case SettingChanged(_, _, setting, value):
                    mode = SETTING_MODES[setting]
                    wanted = "+" if value else "-"
                    argument = (value if value else "*") if mode == "k" else (value if value and mode == "l" else None)
                case BanChanged(_, _, mask, added):
                    wanted, mode, argument = "+" if added else "-", "b", mask
                case AllowChanged(_, _, mask, added):
                    wanted, mode, argument = "+" if added else "-", "I", mask
                case ExceptChanged(_, _, mask, added):
                    wanted, mode, argument = "+" if added else "-", "e", mask
            if wanted != sign:
                modes, sign = modes + wanted, wanted
            modes += mode
            if argument is not None:
                arguments.append(argument)
        return message(self._actor(actor), "MODE", room, modes, *arguments)

    def _actor(self, nick: str) -> str:
        """Who changed a mode: a person, or the server itself (an operator given by a room's registration)."""
        return self.source(nick) if nick else self.server

    def _text(self, sender: str, target: str, text: str, action: bool, notice: bool) -> bytes:
        """PRIVMSG or NOTICE. Its source makes it longer than the sender's 512 bytes: like Ergo, chatroom sends it
        whole rather than cut what was said (IRC clients read longer lines)."""
        shown = f"\x01ACTION {text}\x01" if action else text
        return message(self.source(sender), "NOTICE" if notice else "PRIVMSG", target, text=shown)


def _no_account(nick: str) -> str:
    return ""


def _source_of(event: Event) -> str:
    """The nickname of whoever did what `event` tells, "" for the server or nobody: whose account an `account` tag
    names (IRCv3 account-tag)."""
    match event:
        case Message(nick=nick) | Joined(nick=nick) | Parted(nick=nick) | Wallops(nick=nick):
            return nick
        case PrivateMessage(sender=nick) | NickChanged(new=nick):
            return nick
        case AwayChanged(nick=nick) | RealnameChanged(nick=nick) | AccountChanged(nick=nick):
            return nick
        case Reaction(nick=nick) | Typing(nick=nick):
            return nick
        case Topic(setter=nick) | Kicked(actor=nick) | Invited(actor=nick) | RoleChanged(actor=nick):
            return nick
        case Renamed(actor=nick):
            return nick
        case SettingChanged(actor=nick) | BanChanged(actor=nick) | AllowChanged(actor=nick):
            return nick
    return ""


def relayed(event: Event) -> ClientTags:
    """The client tags an event is sent to IRC with: those its sender gave, and what the chat read from them when
    it came from a client that gives none (ours), in the tags IRC clients read (chatroom.core.gestures)."""
    match event:
        case Message(tags=tags, reply=reply) | PrivateMessage(tags=tags, reply=reply) if reply:
            return tags if any(name in REPLY_TAGS for name, _ in tags) else (*tags, (REPLY_TAG, reply))
        case Message(tags=tags) | PrivateMessage(tags=tags):
            return tags
        case Reaction(line=line, emoji=emoji, tags=tags):
            return tags or ((REACT_TAG, emoji), (REPLY_TAG, line))
        case Typing(state=state, tags=tags):
            return tags or ((TYPING_TAG, state),)
    return ()


def _tagged(rendered: bytes, tags: str) -> bytes:
    """Each line of `rendered` after `@tags`."""
    if not tags:
        return rendered
    head = f"@{tags} ".encode()
    return b"".join(head + line + b"\n" for line in rendered.split(b"\n") if line)


def counted(count: int) -> str:
    """`1 line`, `3 lines`."""
    return f"{count} line" + ("" if count == 1 else "s")

"""The core's events as IRC messages, and the numerics chatroom answers with.

Each room event is rendered once, whoever receives it: every member of a room whose client asked for the same
capabilities gets the same bytes object (`Renderer` keeps the last event's renderings, as chatroom.line.wire's
Encoder does). What differs from one recipient to the next (an echo of one's own message, an invitation to
oneself) is decided by chatroom.irc.dialect before asking for the bytes.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

from chatroom.core.events import (
    AllowChanged,
    BanChanged,
    Changes,
    Event,
    Invited,
    Joined,
    Kicked,
    LockdownChanged,
    Message,
    NickChanged,
    OwnerChanged,
    Parted,
    PrivateMessage,
    Quit,
    RoleChanged,
    ServerNotice,
    SettingChanged,
    Topic,
)
from chatroom.irc.wire import message

HOST = "chatroom"  # the host every member is shown at: nobody's address is shown to anyone
SETTING_MODES = {"invite": "i", "key": "k", "moderated": "m", "topiclock": "t", "limit": "l", "secret": "s"}
# "external" is IRC's n, the other way round: +n is external off
ROLE_MODES = {"operator": "o", "voice": "v"}

Identify = Callable[[str], str]  # a present member's nickname -> the "user@host" after it in a source


class Renderer:
    """Renders events, remembering the last one's bytes for each set of capabilities that changes them."""

    __slots__ = ("_event", "_rendered", "_time", "identify", "server")

    def __init__(self) -> None:
        self._event: Event | None = None
        self._rendered: dict[str, bytes] = {}  # by server name and the capabilities that change them (server-time)
        self._time = ""
        self.server = ""
        self.identify: Identify = str

    def __call__(self, event: Event, server: str, identify: Identify, stamp: Callable[[], str] | None) -> bytes:
        """The bytes of `event` from `server`, with a `time` tag if `stamp` is given (the server-time capability).

        `identify` finds the `user@host` of a present nickname.
        """
        if event is not self._event:
            self._event = event
            self._rendered = {}
            self._time = ""
        key = server + (" t" if stamp is not None else "")
        rendered = self._rendered.get(key)
        if rendered is None:
            self.server, self.identify = server, identify
            rendered = self._render(event)
            if stamp is not None:
                self._time = self._time or stamp()  # once per event: everyone sees the same time
                tag = f"@time={self._time} ".encode()
                rendered = b"".join(tag + line + b"\n" for line in rendered.split(b"\n") if line)
            self._rendered[key] = rendered
        return rendered

    def _render(self, event: Event) -> bytes:
        match event:
            case Message(room, nick, text, action, notice, to):
                return self._text(nick, to + room, text, action, notice)
            case PrivateMessage(sender, recipient, text, action, notice):
                return self._text(sender, recipient, text, action, notice)
            case Joined(room, nick):
                return message(self.source(nick), "JOIN", room)
            case Parted(room, nick, reason):
                return message(self.source(nick), "PART", room, text=reason or None)
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
        raise TypeError(f"not a room event: {event!r}")

    def source(self, nick: str, found_as: str = "") -> str:
        """`nick!user@host`; `found_as` is the nickname the member has now, after a change."""
        return f"{nick}!{self.identify(found_as or nick)}"

    def notice(self, target: str, text: str) -> bytes:
        return message(self.server, "NOTICE", target, text=text)

    def _modes(
        self, room: str, actor: str, changes: list[RoleChanged | SettingChanged | BanChanged | AllowChanged]
    ) -> bytes:
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


def timestamp(seconds: float) -> str:
    """IRCv3 server-time: 2026-11-22T20:14:03.250Z."""
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

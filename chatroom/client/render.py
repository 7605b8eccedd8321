"""How the server's lines look on screen: a timestamp, the room, who said what; colour only for terminals."""

from __future__ import annotations

import datetime
import re
import time
import zlib
from collections.abc import Callable

from chatroom.client.gestures import Said
from chatroom.frontends.line.wire import CONTROL_CHARACTERS, Line

_NICK_COLOURS = ("31", "32", "33", "34", "35", "36", "91", "92", "93", "94", "95", "96")


# IRC's formatting codes (bold, colours, italics, underline, reverse, monospace, reset), as IRC clients send them
_FORMATTING = re.compile(
    r"\x03(?:[0-9]{1,2}(?:,[0-9]{1,2})?)?|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?|[\x02\x0f\x11\x16\x1d\x1e\x1f]"
)


TAB_STOP = 4  # a Tab in a line (pasted code) is spaces to the next multiple of 4, as the line is measured by them


def clean(text: str) -> str:
    """Whatever a server sends, it cannot drive this terminal: IRC's formatting codes are left out (the text
    without them is what was meant), other control characters become U+FFFD, and Tabs spaces (the terminal would
    move to its own tab stops, past the width the line was wrapped to)."""
    return CONTROL_CHARACTERS.sub("\ufffd", _FORMATTING.sub("", text)).expandtabs(TAB_STOP)


class Renderer:
    """Lines as they look now; history lines (SAID, DID) and what a search found (FOUND) dimmed, at their own time,
    dated when not today.

    `zone` is for tests: None is the local time zone.
    """

    def __init__(self, colour: bool, now: Callable[[], float] = time.time, zone: datetime.tzinfo | None = None) -> None:
        self.colour = colour
        self.now = now
        self.zone = zone

    def __call__(self, line: Line) -> str:
        if line.word in ("SAID", "DID", "FOUND") and len(line.args) >= 4:
            return self._said(line)
        if line.word in ("MSG", "ACTION") and len(line.args) >= 4:  # at the server's time, as the others see it,
            return f"{self._paint('2', self._when(line.args[3]))} {self._body(line)}"  # even read late (a laptop woken)
        return f"{self._paint('2', self._stamp())} {self._body(line)}"

    def missed(self, line: Line) -> str:
        """HISTORY that answers a catch-up (/join ROOM after ID): what was said while the connection was away."""
        room = clean(line.args[0])
        return f"{self._paint('2', self._stamp())} {self._room(room)} {self._notice(_history(line, away=True))}"

    def replied(self, line: Line, said: Said | None) -> str:
        """REPLY, shown just before the line it announces: `↳ alice: the line replied to`."""
        shown = f"{said.nick}: {said.text}" if said is not None else "a line not seen here"
        stamp, room = self._paint("2", self._stamp()), self._room(clean(line.args[0]))
        return f"{stamp} {room} {self._paint('2', '↳ ' + clean(shown))}"

    def reaction(self, line: Line, said: Said | None) -> str:
        """REACT: the line reacted to again, with its reactions counted, and who just reacted with what:
        `[#5] <dora> lunch? [👍 3] (wee 👍)`. A terminal cannot change a line it showed: it shows it anew."""
        room, nick = (clean(arg) for arg in line.args[:2])
        stamp, emoji = self._paint("2", self._stamp()), clean(line.text or "")
        if said is None:
            return f"{stamp} {self._room(room)} {self._notice(f'{nick} reacted {emoji} to a line not seen here')}"
        shown = _message(False, self._room(room), self._nick(clean(said.nick)), clean(said.text))
        who = self._paint("2", f"({nick} {emoji})")
        return f"{stamp} {shown} {self._paint('1', clean(said.tally()))} {who}"

    def watched(self, line: Line) -> str:
        """WATCH answering /watch: whether someone is here now (the same line later says they came or left)."""
        nick, here = clean(line.args[0]), line.args[1] == "here"
        return self.note(f"{nick} is here" if here else f"{nick} is not here")

    def highlight(self, line: Line) -> str:
        """A line that mentions you: all bold and yellow when colour is on (no other colour, whose reset would end
        the highlight)."""
        return self._paint("1;33", Renderer(False, self.now, self.zone)(line))

    def note(self, message: str) -> str:
        """A line of the client's own news, such as a reconnection."""
        return f"{self._paint('2', self._stamp())} {self._notice(clean(message))}"

    def error(self, message: str) -> str:
        """A line for something that went wrong, the client's own or the server's."""
        return f"{self._paint('2', self._stamp())} {self._paint('1;31', '!! ' + clean(message))}"

    def _stamp(self) -> str:
        return datetime.datetime.fromtimestamp(self.now(), self.zone).strftime("%H:%M")

    def _said(self, line: Line) -> str:
        """A line from history, all dimmed (no other colour, whose reset would end the dimming)."""
        room, nick, _, said = (clean(arg) for arg in line.args[:4])
        action = line.word == "DID" or line.args[4:5] == ["did"]  # FOUND ROOM NICK ID TIME said|did
        message = _message(action, f"[{room}]", nick, clean(line.text or ""))
        return self._paint("2", f"{self._when(said)} {message}")

    def _when(self, time: str) -> str:
        """A server's time (ISO 8601, UTC) in our zone: the hour today, the date too otherwise."""
        try:
            when = datetime.datetime.fromisoformat(time).astimezone(self.zone)
        except (ValueError, OverflowError):  # not a time: shown as the server sent it
            return time
        today = datetime.datetime.fromtimestamp(self.now(), self.zone).date()
        return when.strftime("%H:%M" if when.date() == today else "%Y-%m-%d %H:%M")

    def _body(self, line: Line) -> str:
        args = [clean(arg) for arg in line.args]
        text = clean(line.text or "")
        notice = self._notice
        match line.word, args:
            case (("MSG" | "ACTION") as word, [room, nick, *_]):  # version 2 adds ID TIME; version 1 had none
                return _message(word == "ACTION", self._room(room), self._nick(nick), text)
            case "HISTORY", [room, _, _]:
                return f"{self._room(room)} {notice(_history(line, away=False))}"
            case "SEARCH", [count]:
                return notice(
                    f"above: {_lines(count)} found for {text}" if count != "0" else f"nothing found for {text}"
                )
            case "KEEPS", [room, actor, *_]:
                told = text if actor == "*" else f"{actor} changed the history rule: {text}"
                return f"{self._room(room)} {notice(told)}"
            case "REDACT", [room, actor, *ids]:  # a terminal cannot take back lines it showed: it says so
                removed = "cleared" if ids == ["*"] else f"removed {_lines(len(ids))} from"
                change = f"{actor} {removed} {room}'s history"
                return f"{self._room(room)} {notice(change)}"
            case "PRIV", [sender, recipient]:
                return f"{self._paint('1;35', '[private]')} <{self._nick(sender)} -> {self._nick(recipient)}> {text}"
            case "JOIN", [room, nick]:
                return f"{self._room(room)} {self._paint('32', '-->')} {self._nick(nick)} joined"
            case "PART", [room, nick]:
                return f"{self._room(room)} {self._paint('33', '<--')} {self._nick(nick)} left{_reason(text)}"
            case "QUIT", [nick]:
                return f"{self._paint('33', '<--')} {self._nick(nick)} quit{_reason(text)}"
            case "NICK", [old, new]:
                return notice(f"{old} is now known as {new}")
            case "AWAY", []:
                return notice(f"you are marked away: {text} (/away alone once back)" if text else "you are back")
            case "TOPIC", [room, setter]:
                topic = f"topic: {text} (set by {setter})" if text else "no topic"
                return f"{self._room(room)} {notice(topic)}"
            case "NAMES", [room, *nicks]:
                return f"{self._room(room)} {notice('here: ' + ', '.join(nicks))}"
            case "ROOMS", rooms:
                listed = ", ".join(f"{name} ({count})" for name, _, count in (room.rpartition(":") for room in rooms))
                return notice("rooms: " + (listed or "none yet: /join one to create it"))
            case "KICK", [room, actor, nick]:
                kicked = f"{self._nick(nick)} was kicked by {actor}{_reason(text)}"
                return f"{self._room(room)} {self._paint('1;33', '<--')} {kicked}"
            case (("OP" | "DEOP" | "VOICE" | "DEVOICE") as word, [room, actor, nick]):
                return f"{self._room(room)} {notice(_role_change(word, actor, nick))}"
            case "SET", [room, actor, setting]:
                return f"{self._room(room)} {notice(f'{actor} set {_SETTING_NAMES.get(setting, setting)} {text}')}"
            case (("BAN" | "UNBAN") as word, [room, actor, mask, until]):
                return f"{self._where(room)}{notice(_ban_change(word, actor, mask, until, text))}"
            case (("ALLOW" | "DISALLOW") as word, [room, actor, mask]):
                change = "lets in" if word == "ALLOW" else "no longer lets in"
                return f"{self._room(room)} {notice(f'{actor} {change} {mask} past invite-only')}"
            case "ALLOWED", [room, mask, setter]:
                return f"{self._room(room)} {notice(f'allowed past invite-only: {mask}, by {setter}')}"
            case "ALLOWS", [room, count]:
                counted = {"0": "nobody", "1": "1 mask"}.get(count, f"{count} masks")
                return f"{self._room(room)} {notice(f'allowed past invite-only: {counted}')}"
            case "RENAME", [old, new, actor]:
                because = f": {text}" if text else ""
                return f"{self._room(new)} {notice(f'{actor} renamed {old} to {new}{because}')}"
            case (("EXCEPT" | "UNEXCEPT") as word, [room, actor, mask]):
                change = "lets" if word == "EXCEPT" else "no longer lets"
                return f"{self._room(room)} {notice(f'{actor} {change} {mask} past bans and mutes')}"
            case "EXCEPTED", [room, mask, setter]:
                return f"{self._room(room)} {notice(f'let past bans and mutes: {mask}, by {setter}')}"
            case "EXCEPTS", [room, count]:
                counted = {"0": "nobody", "1": "1 mask"}.get(count, f"{count} masks")
                return f"{self._room(room)} {notice(f'let past bans and mutes: {counted}')}"
            case "OWNER", [room, actor, owner]:
                if owner == "*":
                    change = f"{actor} dropped the room's registration"
                elif owner == actor:
                    change = f"{actor} registered the room"
                else:
                    change = f"{actor} gave the room to {owner}"
                return f"{self._room(room)} {notice(change)}"
            case "SESSION", [ident, frontend, since]:
                this = " (this one)" if ident.endswith("*") else ""
                session = f"session {ident.rstrip('*')}{this}: {frontend}, from {text}, since {self._when(since)}"
                return notice(session)
            case "WATCH", [nick, state]:
                return notice(f"{nick} is here" if state == "here" else f"{nick} left")
            case "WATCHING", nicks:
                return notice("watching: " + (", ".join(nicks) or "nobody: /watch NICK to be told when they come"))
            case "READ", [target, time]:
                return notice(f"{target}: read up to {self._when(time)}" if time != "*" else f"{target}: not read yet")
            case "META", [target, key]:
                return notice(f"{target} {key}: {text}")
            case "METADATA", [target, count]:
                return notice(f"{target}: {count} metadata key{'' if count == '1' else 's'}")
            case "SESSIONS", [count]:
                return notice(f"{count} session{'' if count == '1' else 's'}: /sessions kick ID ends another")
            case "INVITE", [room, actor, nick]:
                return notice(f"{actor} invited {nick} to {room} (/join {room})")
            case "LOCKDOWN", [actor, level]:
                return self._paint("1;33", f"-- {actor}: {_LOCKDOWNS.get(level, level)}")
            case "ROOM", [room, owner, *settings]:
                described = [_describe_setting(setting) for setting in settings] or ["none"]
                if owner != "*":
                    described.append(f"owned by {owner}")
                if text:
                    described.append(f"operators by account: {', '.join(text.split())}")
                return f"{self._room(room)} {notice('settings: ' + '; '.join(described))}"
            case "BANNED", [room, mask, setter, until]:
                return f"{self._where(room)}{notice(f'ban {mask} by {setter}{_until(until)}{_reason(text)}')}"
            case "BANS", [room, count]:
                counted = {"0": "no bans", "1": "1 ban"}.get(count, f"{count} bans")
                return f"{self._where(room)}{notice(counted)}"
            case "ERR", [code]:
                return self._paint("1;31", f"!! {text}") + self._paint("2", f" ({code})")
            case "BYE", []:
                return notice(f"disconnected: {text}")
            case "PONG", []:
                return notice(f"pong {text}".rstrip())
            case (("HELLO" | "WELCOME" | "MOTD" | "HELP" | "AUTH" | "NOTICE" | "REGISTERED"), _):
                return notice(text)
        return notice(" ".join([line.word, *args]) + (f" :{text}" if line.text is not None else ""))

    def _paint(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.colour else text

    def _room(self, room: str) -> str:
        return self._paint("1", f"[{room}]")

    def _where(self, room: str) -> str:
        """A room's tag, or the server's ("*") as nothing."""
        return "" if room == "*" else self._room(room) + " "

    def _nick(self, nick: str) -> str:
        return self._paint(_NICK_COLOURS[zlib.crc32(nick.lower().encode()) % len(_NICK_COLOURS)], nick)

    def _notice(self, text: str) -> str:
        return self._paint("36", f"-- {text}")


def _message(action: bool, room: str, nick: str, text: str) -> str:
    return f"{room} * {nick} {text}" if action else f"{room} <{nick}> {text}"


def _lines(count: int | str) -> str:
    return f"{count} line{'' if str(count) == '1' else 's'}"


def _history(line: Line, away: bool) -> str:
    """What `HISTORY ROOM COUNT LOST` says, after the lines it ends: LOST is a number, or "?" when not known.

    `away`: it answers a catch-up after a reconnection, whose lines were said while the connection was away.
    The numbers are shown as they came, never converted: a server cannot make the client choke on one.
    """
    count, lost = (clean(arg) for arg in line.args[1:3])
    some = count != "0"
    if not line.args[0].startswith("#") and lost == "?" and not some:  # `/history NICK`
        return "no private conversation is kept here (the server keeps them only if told to)"
    if away:
        said = f"above: {_lines(count)} said while you were away" if some else ""
    else:
        said = f"above: {_lines(count)} from history (/history shows earlier ones)" if some else "no more history"
    if lost == "?" and (some or not away):  # a room that began again, or an answer a fault of the server's cut short
        more = "some lines may be missing (the room began again, or the server could not show them all)"
    elif lost == "?":
        more = "what was said while you were away may be lost (the server keeps no history, or the room began again)"
    elif lost != "0":
        more = f"{lost} earlier {'line is' if lost == '1' else 'lines are'} not shown (/history shows what is kept)"
    else:
        more = ""
    return "; ".join(part for part in (said, more) if part) or "nothing was said while you were away"


def _reason(text: str) -> str:
    return f" ({text})" if text else ""


def _until(until: str) -> str:
    return "" if until == "-" else f" until {until.replace('T', ' ').removesuffix('Z')} UTC"


_SETTING_NAMES = {"invite": "invite-only", "topiclock": "topic lock", "limit": "member limit"}
_LOCKDOWNS = {
    "off": "the lockdown is over; everyone may come in and talk",
    "speak": "lockdown: only registered accounts may talk for now",
    "join": "lockdown: only registered accounts may join rooms or talk for now",
    "connect": "lockdown: only registered accounts may come in, join rooms or talk for now",
}


def _role_change(word: str, actor: str, nick: str) -> str:
    role = "an operator" if word.endswith("OP") else "voice"
    if actor == "*":
        return f"{nick} is {role} here" if word in ("OP", "VOICE") else f"{nick} lost {role}"
    if word == "OP":
        return f"{actor} made {nick} an operator"
    if word == "VOICE":
        return f"{actor} gave {nick} voice"
    return f"{actor} took {role.removeprefix('an ')} from {nick}"


def _ban_change(word: str, actor: str, mask: str, until: str, reason: str) -> str:
    muted = mask.removeprefix("m:") if mask.startswith("m:") else None  # a mute: in the room, but silent
    if word == "UNBAN" and actor == "*":  # its time ran out
        return f"the mute on {muted} ended" if muted else f"the ban on {mask} ended"
    if word == "UNBAN":
        return f"{actor} lifted the mute on {muted}" if muted else f"{actor} lifted the ban on {mask}"
    return f"{actor} {f'muted {muted}' if muted else f'banned {mask}'}{_until(until)}{_reason(reason)}"


def _describe_setting(setting: str) -> str:
    name, _, value = setting.partition("=")
    return f"{_SETTING_NAMES.get(name, name)} {value}".rstrip()

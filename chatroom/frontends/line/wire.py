"""The line format of docs/protocol.md, in both directions.

A line is a word, space-separated arguments, and optionally free text after
" :". The word tells a program what the line is; the rest stays readable to a
person typing through `openssl s_client`. The server and the client both use
this module, so the format is written down once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

from chatroom.core.events import (
    AccountChanged,
    AllowChanged,
    AllowList,
    AwayChanged,
    BanChanged,
    BanList,
    Changes,
    Event,
    ExceptChanged,
    ExceptList,
    Exported,
    Found,
    History,
    Invited,
    Joined,
    KeptNotice,
    Kicked,
    LockdownChanged,
    Message,
    MetadataChanged,
    MetadataSync,
    Names,
    NickChanged,
    OwnerChanged,
    Parted,
    PrivateMessage,
    Quit,
    Reaction,
    ReadMarker,
    RealnameChanged,
    Redacted,
    Renamed,
    ResumeToken,
    RoleChanged,
    RoomInfo,
    RoomList,
    ServerNotice,
    SettingChanged,
    Topic,
    Typing,
    Watched,
)
from chatroom.core.history import an_event
from chatroom.server.limits import PAGE_LINES

# 2: message ids and times, history; 3: watching, metadata, replies, reactions, typing, lines; 4: away
PROTOCOL_VERSION = "4"
# of several, registering, renaming and exceptions (docs/protocol.md)
LIST_LINE_MAX = 4096  # bytes of a NAMES or ROOMS line: a longer list goes in several lines

# C0 and C1 control characters, tab excepted, could drive a terminal (escape sequences) or garble the
# screen; Unicode's line and paragraph separators (U+2028, U+2029) are a line break to some terminals; the
# bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069) could make a line read differently from
# what was sent. Servers refuse them and clients scrub them. Right-to-left text needs none.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069]")


def line(word: str, *args: str, text: str | None = None) -> bytes:
    """One encoded line; `text`, when given, is the free text after " :" (it may be empty)."""
    parts = [word, *args]
    if text is not None:
        parts.append(":" + text)
    return (" ".join(parts) + "\n").encode("utf-8")


def lines(word: str, *args: str, text: str) -> bytes:
    """A message of several lines (chatroom.core.multiline) as one line each, all with the same word and
    arguments (its id among them): a client shows them as they come, or as one message by their id."""
    return b"".join(line(word, *args, text=each) for each in text.split("\n"))


def listed(word: str, head: list[str], items: list[str]) -> bytes:
    """A list in as many lines as LIST_LINE_MAX needs, each `WORD HEAD... ITEM...`; one line when it is empty."""
    lines: list[bytes] = []
    batch: list[str] = []
    size = len(line(word, *head))
    for item in items:
        if batch and size + len(item.encode()) + 1 > LIST_LINE_MAX:
            lines.append(line(word, *head, *batch))
            batch, size = [], len(line(word, *head))
        batch.append(item)
        size += len(item.encode()) + 1
    return b"".join(lines) + line(word, *head, *batch)


def render(event: Event) -> bytes:
    """The line for one chat event."""
    match event:
        case Message(text="") | PrivateMessage(text=""):
            return b""  # client tags alone (IRC's TAGMSG): the line protocol and the web client show no tags
        case Message(room, nick, text, action, _, to, msgid, time, reply=reply):
            said = lines("ACTION" if action else "MSG", to + room, nick, msgid, time, text=text)
            return line("REPLY", room, msgid, reply) + said if reply else said  # what it answers, first
        case Reaction(room, nick, replied, emoji):
            return line("REACT", room, nick, replied, text=emoji)
        case Typing(room, nick, state):
            return line("TYPING", room, nick, state)
        case PrivateMessage(sender, recipient, text):
            return lines("PRIV", sender, recipient, text=text)
        case Joined(room, nick):
            return line("JOIN", room, nick)
        case Parted(room, nick, reason):
            return line("PART", room, nick, text=reason)
        case Quit(nick, reason):
            return line("QUIT", nick, text=reason)
        case NickChanged(old, new):
            return line("NICK", old, new)
        case Topic(room, setter, text):
            return line("TOPIC", room, setter or "*", text=text)
        case Names(room, nicks):
            return listed("NAMES", [room], list(nicks))
        case RoomList(rooms):
            return listed("ROOMS", [], [f"{name}:{count}" for name, count in rooms])
        case Kicked(room, actor, nick, reason):
            return line("KICK", room, actor, nick, text=reason)
        case RoleChanged(room, actor, nick, role, granted):
            return line(_ROLE_WORDS[role, granted], room, actor or "*", nick)
        case SettingChanged(room, actor, setting, value):
            return line("SET", room, actor, setting, text=value or "off")
        case BanChanged(room, actor, mask, added, until, reason):
            return line("BAN" if added else "UNBAN", room or "*", actor or "*", mask, until or "-", text=reason)
        case AllowChanged(room, actor, mask, added):
            return line("ALLOW" if added else "DISALLOW", room, actor, mask)
        case Renamed(old, new, actor, reason):
            return line("RENAME", old, new, actor, text=reason or None)
        case ExceptChanged(room, actor, mask, added):
            return line("EXCEPT" if added else "UNEXCEPT", room, actor, mask)
        case OwnerChanged(room, actor, owner):
            return line("OWNER", room, actor, owner or "*")
        case Invited(room, actor, nick):
            return line("INVITE", room, actor, nick)
        case Changes(_, changes):
            return b"".join(render(change) for change in changes)
        case LockdownChanged(actor, level):
            return line("LOCKDOWN", actor, level)
        case History():
            return b"".join(history_pages(event))
        case Found(_, text, messages):
            found = [lines("FOUND", said.room, said.nick, said.id, said.time, "did" if said.action else "said",
                          text=said.text) for said in messages]  # fmt: skip
            return b"".join(found) + line("SEARCH", str(len(messages)), text=text)
        case Redacted(private=True):
            return b""  # the line protocol shows private lines without ids: nothing for it to hide
        case Redacted(room, actor, ids):
            return listed("REDACT", [room, actor], list(ids) or ["*"])
        case ServerNotice(text):
            return line("NOTICE", text=text)
        case Exported(room, messages):
            exported = [  # tags kept as their sender asked are no line of text
                lines("EXPORT", room, said.nick, said.id, said.time, _kind(said), text=said.text)
                for said in messages
                if said.text
            ]
            return b"".join(exported) + line("EXPORTED", room, str(len(exported)))
        case KeptNotice(room, actor, text, rule):
            return line("KEEPS", room, actor or "*", *rule, text=text)
        case ReadMarker(target, time):
            return line("READ", target, time or "*")
        case MetadataChanged(target, key, value):
            return line("META", target, key, text=value)
        case MetadataSync(_, synced):
            return b"".join(line("META", target, key, text=value) for target, key, value in synced)
        case Watched(nick, online):
            return line("WATCH", nick, "here" if online else "gone")
        case AwayChanged() | RealnameChanged() | AccountChanged():
            return b""  # IRC shows them; our protocol only one's own away (LineDialect.render)
        case ResumeToken(nick, token):
            return line("RESUME", token, text=f"if your connection is lost: /resume {nick} TOKEN")
        case RoomInfo(room, settings, owner, operators):
            return line("ROOM", room, owner or "*", *settings, text=" ".join(operators) or None)
        case AllowList(room, allowed):
            entries = [line("ALLOWED", room, mask, setter) for mask, setter in allowed]
            return b"".join(entries) + line("ALLOWS", room, str(len(allowed)))
        case ExceptList(room, excepted):
            entries = [line("EXCEPTED", room, mask, setter) for mask, setter in excepted]
            return b"".join(entries) + line("EXCEPTS", room, str(len(excepted)))
        case BanList(room, bans):
            entries = [
                line("BANNED", room or "*", mask, setter, until or "-", text=reason)
                for mask, setter, until, reason in bans
            ]
            return b"".join(entries) + line("BANS", room or "*", str(len(bans)))
    raise TypeError(f"not a chat event: {event!r}")


def _kind(said: Message) -> str:
    return "topic" if said.topic else "action" if said.action else "-"


def history_pages(history: History) -> Iterator[bytes]:
    """A room's history in pages of PAGE_LINES lines, then its HISTORY line: each made when it is asked for.

    Messages only: the events kept among them (chatroom.core.history's `an_event`) are IRC's event-playback's; an
    export (EXPORT) has the topic changes too."""
    room, messages = history.room, [said for said in history.messages if not an_event(said)]
    sent = 0
    try:
        for start in range(0, len(messages), PAGE_LINES):
            page = messages[start : start + PAGE_LINES]
            yield b"".join(
                (line("REPLY", room, said.id, said.reply) if said.reply else b"")
                + lines("DID" if said.action else "SAID", room, said.nick, said.id, said.time, text=said.text)
                for said in page
            )
            sent += len(page)
    except Exception:
        # A bug in a page: the answer still ends, with what was sent and "?" for what was not (a client ends a
        # catch-up on this line); the answer stops there (Connection._unmade tells the log).
        yield line("HISTORY", room, str(sent), "?")
        raise
    yield line("HISTORY", room, str(len(messages)), str(history.lost) if history.lost >= 0 else "?")


_ROLE_WORDS = {
    ("operator", True): "OP",
    ("operator", False): "DEOP",
    ("voice", True): "VOICE",
    ("voice", False): "DEVOICE",
}


class Encoder:
    """`render` that remembers its last event.

    A broadcast hands the same event object to every member in a row, so this
    formats it once and gives each member the same bytes. Holding a reference to
    the last event keeps `is` safe: its id cannot be reused while cached.
    """

    __slots__ = ("_event", "_line")

    def __init__(self) -> None:
        self._event: Event | None = None
        self._line = b""

    def __call__(self, event: Event) -> bytes:
        if event is not self._event:
            self._line = render(event)
            self._event = event
        return self._line


class Line(NamedTuple):
    word: str
    args: list[str]
    text: str | None


def parse(raw: str) -> Line:
    """Split a server line into its word, arguments and free text."""
    head, sep, text = raw.partition(" :")
    word, *args = head.split() or [""]
    return Line(word, args, text if sep else None)

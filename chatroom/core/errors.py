"""The two ways the core says no: to a person (ChatError), and to a programming mistake (Departed).

The core never words a refusal: it names it (a code, and a case where one code has several) and gives its
arguments. Each front end words it from one table (chatroom.frontends.line.refusals,
chatroom.frontends.irc.refusals, both built on chatroom.core.wording's plain English), so that an IRC user is never
told to type a line-protocol command.
REFUSALS declares every refusal the core raises, with the names of its arguments: the tables are checked
against it (tests/test_refusals.py).
"""

from __future__ import annotations

import os
import traceback
from pathlib import Path

Argument = str | int  # JSON as it is, so that a refusal can cross to another process


def mistake(error: BaseException) -> str:
    """A programming mistake as the log may tell it: its type and the line that raised it (and chatroom's last line
    on the way, if the error came from a library), never its message, which may quote what someone typed."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return type(error).__name__
    told = f"{type(error).__name__} at {_place(frames[-1])}"
    ours = [frame for frame in frames if frame.filename.startswith(_PACKAGE)]
    if ours and ours[-1] is not frames[-1]:
        told += f", from {_place(ours[-1])}"
    return told


def _place(frame: traceback.FrameSummary) -> str:
    return f"{frame.filename}:{frame.lineno} in {frame.name}"


_PACKAGE = str(Path(__file__).resolve().parent.parent) + os.sep  # chatroom's own files


class ChatError(Exception):
    """A request the chat refuses: `code` is stable for programs (line ERR codes, IRC numerics), `case` tells
    apart refusals of one code that people are told differently, `arguments` are what the wording names.
    """

    def __init__(self, code: str, case: str = "", /, **arguments: Argument) -> None:
        super().__init__(code, case, arguments)
        self.code = code
        self.case = case
        self.arguments = arguments

    @property
    def key(self) -> str:
        """What a front end's wordings are keyed by: the code, or `CODE:case`."""
        return f"{self.code}:{self.case}" if self.case else self.code


# Every refusal of the core (chatroom.core, registration, auth, the connection layer and the bus): its key and the
# names of its arguments. A front end's own refusals (a line command's usage) are in that front end's table only.
REFUSALS: dict[str, tuple[str, ...]] = {
    # Names and text
    "BAD_NICK": ("nick", "most"),
    "BAD_NICK:reserved": ("nick",),
    "BAD_ROOM": ("name", "most"),
    "NICK_TAKEN": ("nick",),
    # Sessions: one person on several connections (chatroom.core.members' Sessions)
    "RESUME_FAILED:gone": ("nick",),
    "RESUME_FAILED:token": ("nick",),
    "TOO_MANY_SESSIONS": ("nick", "count"),
    "TOO_MANY_SESSIONS:one": ("nick",),
    "WATCH_FULL": ("most",),
    "NO_TEXT": (),
    "TOO_LONG": ("most",),
    "TOO_LONG:reaction": ("most",),
    "TOO_MANY_LINES": ("most",),
    "BAD_UTF8": (),
    "BAD_TEXT": (),
    # Entering, logging in
    "REGISTRATION_OFF": (),  # registering an account from a client (chatroom.server.signup)
    "REGISTRATION_OFF:entered": (),
    "EXISTS": ("name",),
    "EXISTS:changed": ("name",),  # a registration's account removed, or its name registered again, before its login
    "NOT_YOUR_NICK": ("nick",),
    "WEAK_PASSWORD": ("most",),
    "SLOW_DOWN:registrations": ("most",),
    "NO_LOGIN": ("nick",),
    "BAD_LOGIN": (),
    "BAD_LOGIN:server_password": (),
    "BAD_LOGIN:server_password_missing": (),
    "SLOW_DOWN:server_password": ("wait",),
    "SLOW_DOWN:checking": (),
    "SLOW_DOWN:failures": ("wait",),
    "SLOW_DOWN:busy": (),
    "SLOW_DOWN:unshared": (),
    "SLOW_DOWN:unguessed": (),
    "LOCKDOWN:enter": (),
    "LOCKDOWN:join": (),
    "LOCKDOWN:open": (),
    "LOCKDOWN:talk": (),
    "BANNED:server": ("why",),
    # Rooms
    "TOO_MANY_ROOMS": ("count",),
    "ROOM_FULL": ("room", "count"),
    "ROOM_FULL:limit": ("room", "limit"),
    "BANNED": ("room", "why"),
    "INVITE_ONLY": ("room",),
    "BAD_KEY:wrong": ("room",),
    "BAD_KEY:needed": ("room",),
    "BAD_KEY:invalid": ("most",),
    "BAD_LIMIT": ("most",),
    "NO_SUCH_ROOM": ("room",),
    "NOT_IN_ROOM": ("room",),
    "NO_SUCH_NICK": ("nick",),
    "NO_SUCH_NICK:ban": ("nick",),
    "NOT_THERE": ("nick", "room"),
    "ALREADY_THERE": ("nick", "room"),
    # History
    "NO_HISTORY": (),
    "USAGE:history": (),
    "BAD_COUNT": ("most",),
    "BAD_TIME": ("time",),
    "BAD_MSGID": ("msgid",),
    "NO_SUCH_MESSAGE": ("room", "target"),
    "NO_SUCH_MESSAGE:private": ("nick", "target"),
    "NO_SUCH_MESSAGE:mine": ("room",),
    "NOT_YOURS": ("target",),
    "NO_SEARCH_WORDS": (),
    "TOO_MANY_WORDS": ("most",),
    "SEARCH_FAILED": (),
    "BAD_RULE:rule": ("text",),
    "BAD_RULE:keep": ("text",),
    "NOT_ALLOWED:redact_mine": ("room",),
    # Metadata (chatroom.core.metadata)
    "BAD_METADATA_KEY": ("key", "most"),
    "BAD_METADATA_VALUE": ("most",),
    "BAD_METADATA_VALUE:avatar": (),
    "METADATA_FULL": ("target", "count"),
    "NOT_ALLOWED:metadata": ("target",),
    "NOT_ALLOWED:metadata_read": ("target",),
    # Moderation
    "MODERATED": ("room",),
    "MUTED": ("room",),
    "RENAME:registered": ("room",),
    "RENAME:numbered": ("room",),
    "RENAME:taken": ("room",),
    "NO_CTCP": ("room",),
    "NOT_OPERATOR": ("room", "action"),
    "NOT_OWNER": ("room", "action"),
    "NOT_ADMIN": ("action",),
    "PROTECTED:account_operator": ("nick", "room"),
    "PROTECTED:admin": ("nick",),
    "PROTECTED:admin_ban": ("nick",),
    "PROTECTED:admin_kick_ban": ("nick",),
    "PROTECTED:outranked_by_admin": ("nick", "doing"),
    "PROTECTED:outranked_by_owner": ("nick", "room", "doing"),
    "SELF:kick": (),
    "SELF:ban": (),
    "SELF:kill": (),
    "BAD_MASK:everyone": ("text",),
    "BAD_MASK:account": ("text",),
    "BAD_MASK:nick": ("text",),
    "BAD_MASK:network": ("text",),
    "BAD_MASK:host": ("text",),
    "BAD_MASK:user": ("text",),
    "BAD_MASK:address": ("nick",),
    "BAD_DURATION": ("text",),
    "BAD_DURATION:form": ("text",),
    "ALREADY_BANNED": ("target",),
    "NO_SUCH_BAN": ("mask",),
    "LIST_FULL": ("most",),
    "REGISTERED": ("room", "owner"),
    "NOT_REGISTERED": ("room",),
    "NOT_LOGGED_IN": (),
    "OWNER": ("room", "owner"),
    "NOT_NAMED": ("account", "room"),
    "NO_ACCOUNT": ("name",),
    # The server
    "NOT_SAVED": (),
    "SERVER_ERROR": (),
    "DEGRADED": (),
    "DEGRADED:starting": (),
}


class Departed(RuntimeError):
    """An operation on a member who has left the chat.

    No front end should ever ask this: a connection stops acting for its member the moment it decides to
    close. The core refuses anyway, loudly, so that a forgotten callback cannot bring back a ghost.
    """

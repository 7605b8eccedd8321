"""The line protocol's wording of every refusal: the core's (chatroom.core.errors.REFUSALS) and its own.

Written `ERR CODE :wording`. Here a refusal may name the line commands that get past it (`/part one first`);
clients and tests read these texts, so a change of wording is a change of the protocol's text.
"""

from __future__ import annotations

from chatroom.core.wording import PLAIN, Wordings

WORDINGS = Wordings(
    {
        **PLAIN,
        # The core's, with the command that gets past them
        "TOO_MANY_ROOMS": "you are in {count} rooms, the most allowed: /part one first",
        "INVITE_ONLY": "{room} is invite-only: an operator must /invite you first",
        "BAD_KEY:needed": "you cannot join {room}: it needs a key: /join ROOM KEY",
        "PROTECTED:account_operator": "{nick} is an operator of {room} by account: /room deop them first",
        "SELF:kick": "you cannot kick yourself: /part leaves the room",
        "SELF:kill": "you cannot disconnect yourself: /quit does",
        "ALREADY_BANNED": "{target} is banned already; /unban first to change the ban",
        "NOT_REGISTERED": "{room} is not registered: /room register first",
        "OWNER": "{owner} owns {room}: /room transfer it first",
        # The line protocol's own
        "EMPTY": "empty line ignored",
        "NO_LOGIN:pending": "no login to complete: /nick NAME first",
        "NO_ROOM": "you are not in a room: /join ROOM first",
        "NO_NICK": "choose a nickname first: /nick NAME",
        "UNKNOWN_COMMAND": "unknown command /{name}; /help lists the commands",
        "USAGE": "usage: {usage}",
        "USAGE:switch": "usage: /room set {setting} on|off",
        "USAGE:setting": "there is no setting {name}; the settings are {known}",
        "USAGE:resume": "you have a nickname already: /resume is a first command only",
        "NO_SUCH_SESSION": "you have no session {serial}: /sessions lists them",
        "NO_SUCH_SESSION:this": "that is this session: /quit ends it",
    }
)

word = WORDINGS.word

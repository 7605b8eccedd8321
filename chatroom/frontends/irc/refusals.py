"""IRC's wording of every refusal: the core's (chatroom.core.errors.REFUSALS) and its own.

Which numeric carries a refusal is chatroom.frontends.irc.numerics.FOR_CODE's; this says the text after it. Where the
line protocol names the command that gets past a refusal, IRC names its own (PART, INVITE, JOIN) or none.
"""

from __future__ import annotations

from chatroom.core.wording import PLAIN, Wordings

WORDINGS = Wordings(
    {
        **PLAIN,
        # The core's, with the command that gets past them
        "TOO_MANY_ROOMS": "you are in {count} channels, the most allowed: PART one first",
        "INVITE_ONLY": "{room} is invite-only: an operator must INVITE you first",
        "BAD_KEY:needed": "you cannot join {room}: it needs a key: JOIN {room} KEY",
        "PROTECTED:account_operator": "{nick} is an operator of {room} by account: its owner must take that back first",
        "SELF:kick": "you cannot kick yourself: PART leaves the channel",
        "SELF:kill": "you cannot disconnect yourself: QUIT does",
        "ALREADY_BANNED": "{target} is banned already; lift the ban first to change it",
        "NOT_REGISTERED": "{room} is not registered: an operator must register it first",
        "OWNER": "{owner} owns {room}: it must be given to another account first",
        # IRC's own
        "BAD_LOGIN:no_accounts": "this server has no accounts",
        "BAD_MASK:shown": (
            "{text} matches {count} people in {room}: every client is shown the host chatroom, so a ban by it names"
            " one person here; MODE {room} +b NICK bans a nickname, +b R:ACCOUNT an account"
        ),
    }
)

word = WORDINGS.word

"""IRC as listeners serve it: its dialect given its commands, which import the dialect for their type."""

from chatroom.frontends.irc import register  # noqa: F401  (REGISTER and VERIFY join the table)
from chatroom.frontends.irc.commands import COMMANDS
from chatroom.frontends.irc.dialect import IRCDialect


class IRCFrontEnd(IRCDialect):
    commands = COMMANDS

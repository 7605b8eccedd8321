"""IRC as listeners serve it: its dialect given its commands, which import the dialect for their type."""

from chatroom.frontends.irc import (
    metadata,  # noqa: F401  (its METADATA command joins the table)
    monitor,  # noqa: F401  (its commands join the table as it is imported)
    register,  # noqa: F401  (REGISTER and VERIFY join the table)
)
from chatroom.frontends.irc.commands import COMMANDS
from chatroom.frontends.irc.dialect import IRCDialect


class IRCFrontEnd(IRCDialect):
    commands = COMMANDS

"""The line protocol as listeners serve it: its dialect given its commands, which import the dialect for their type."""

from chatroom.frontends.line import (
    metadata,  # noqa: F401  (its /meta joins the table)
    register,  # noqa: F401  (/register joins the table)
    watch,  # noqa: F401  (its commands join the table as it is imported)
)
from chatroom.frontends.line.commands import COMMANDS
from chatroom.frontends.line.dialect import LineDialect


class LineFrontEnd(LineDialect):
    commands = COMMANDS

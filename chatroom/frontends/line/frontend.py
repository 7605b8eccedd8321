"""The line protocol as listeners serve it: its dialect given its commands, which import the dialect for their type."""

from chatroom.frontends.line import register  # noqa: F401  (/register joins the table)
from chatroom.frontends.line.commands import COMMANDS
from chatroom.frontends.line.dialect import LineDialect


class LineFrontEnd(LineDialect):
    commands = COMMANDS

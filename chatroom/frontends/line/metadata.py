"""The line protocol's `/meta`: a person's or a room's metadata (display name, avatar...: chatroom.core.metadata).

Every change of metadata among those one shares a room with arrives as `META` lines (wire.render); `/meta` reads a
person's or a room's, and sets one's own or, for a room's operators, the room's.
"""

from __future__ import annotations

from chatroom.frontends.line.commands import COMMANDS, command
from chatroom.frontends.line.dialect import LineDialect
from chatroom.frontends.line.wire import line


@command(
    "meta",
    "[#ROOM|NICK] | set [#ROOM] KEY [VALUE]",
    "metadata: a person's or a room's (yours without a name), as META lines then METADATA; set yours (a room's, as"
    " its operator): display-name, avatar (an https address), pronouns, status...; no VALUE removes the key",
)
def _meta(session: LineDialect, arg: str) -> None:
    words = arg.split(" ")
    if words[0] == "set":
        target = words[1] if len(words) > 2 and words[1].startswith("#") else "*"
        rest = words[2:] if target != "*" else words[1:]
        if not rest or not rest[0]:
            raise COMMANDS["meta"].usage_error()
        key, value = rest[0], " ".join(rest[1:]).strip()
        session.chat.set_metadata(session.member, target, key, value)
        return  # the change is told to each of the person's sessions, and to those sharing a room
    if len(words) > 1:
        raise COMMANDS["meta"].usage_error()
    shown, values = session.chat.metadata(session.member, words[0] or "*")
    lines = [line("META", shown, key, text=value) for key, value in sorted(values.items())]
    session.write(b"".join(lines) + line("METADATA", shown, str(len(values))))

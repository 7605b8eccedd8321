"""IRC's message format (RFC 1459 framing, IRCv3 message tags), in both directions.

A message is `[@tags] [:source] COMMAND param... [:trailing]`, at most 512 bytes with its CRLF, tags aside.
"""

from __future__ import annotations

import re
from typing import NamedTuple

BODY_MAX = 510  # bytes of a message without its tags and CRLF (RFC 1459: 512 with the CRLF)
TAGS_MAX = 8191  # bytes of the tags a line may hold, '@' and the space after them included (IRCv3)
CLIENT_TAG_NAME = re.compile(r"\+(?:[A-Za-z0-9.-]+/)?[A-Za-z0-9-]+")  # `+typing`, `+draft/react`, `+example.com/x`
_UNESCAPED = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
_ESCAPED = {value: "\\" + key for key, value in _UNESCAPED.items()}


class Message(NamedTuple):
    tags: str  # as sent, without the '@'; "" for none
    command: str  # upper case
    params: list[str]


def parse(line: str) -> Message:
    """Split a client's line; the source a client may send is ignored, as servers do."""
    tags = ""
    if line.startswith("@"):
        tags, _, line = line[1:].partition(" ")
    line = line.lstrip(" ")
    if line.startswith(":"):
        _, _, line = line.partition(" ")
    head, colon, trailing = line.partition(" :")
    command, *params = head.split() or [""]
    if colon:
        params.append(trailing)
    return Message(tags, command.upper(), params)


def client_tags(tags: str) -> dict[str, str]:
    """The client-only tags (`+name`) among a line's, their values unescaped; the others are the server's to give."""
    found = {}
    for tag in tags.split(";"):
        name, _, value = tag.partition("=")
        if CLIENT_TAG_NAME.fullmatch(name):
            found[name] = _unescape(value)
    return found


def _unescape(value: str) -> str:
    """IRCv3's escapes undone: `\\:` is ';', `\\s` a space...; a backslash before anything else is dropped."""
    out, chars = [], iter(value)
    for char in chars:
        if char == "\\":
            char = next(chars, "")
            char = _UNESCAPED.get(char, char)
        out.append(char)
    return "".join(out)


def tag(name: str, value: str) -> str:
    """`name=value`, the value escaped; `name` alone when it has none."""
    return name + "=" + "".join(_ESCAPED.get(char, char) for char in value) if value else name


def message(source: str, command: str, *params: str, text: str | None = None) -> bytes:
    """One encoded message; `text` is the trailing parameter, written after ':' whatever it holds.

    A middle parameter cannot be empty, hold a space or start with ':' (a client's bad input, echoed in an
    error): it is written as `*`.
    """
    parts = [
        f":{source}",
        command,
        *(param if param and " " not in param and param[0] != ":" else "*" for param in params),
    ]
    if text is not None:
        parts.append(":" + text)
    return (" ".join(parts) + "\r\n").encode("utf-8")

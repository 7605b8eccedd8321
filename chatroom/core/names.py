"""Which nicknames and room names are valid, and the forms they are compared in.

Nicknames follow IRC's rule (RFC 2812, with up to 20 characters): ASCII letters, digits, '-' and the specials
`[]\\`^{}|_`, not starting with a digit or '-'. So an IRC user keeps the nickname their client proposes, and
none holds a space, a comma, a '#' or a ':' that would confuse a command line in either front end. Case is
ignored in plain ASCII (IRC's CASEMAPPING=ascii): `[` and `{` are different nicknames.
"""

from __future__ import annotations

import re

from chatroom.core.errors import ChatError

NICK_MAX = 20
ROOM_MAX = 32

NICK_SPECIALS = r"\[\]\\`^{}|_"
VALID_NICK = re.compile(rf"[A-Za-z{NICK_SPECIALS}][A-Za-z0-9{NICK_SPECIALS}-]{{0,{NICK_MAX - 1}}}")
# Text IRC carries besides printable characters: CTCP's \x01 and the formatting codes of mIRC and others
# (bold, colour, hex colour, reset, monospace, reverse, italics, strikethrough, underline). Anything else that
# could drive a terminal, break a line (Unicode's line and paragraph separators) or reorder one (the bidirectional
# overrides) is refused, as the line protocol does; the widest rule any command applies to text, so what a file
# holds is checked by it too (topics, the MOTD).
UNSAFE_TEXT = re.compile("[\x00\x05-\x08\x0a-\x0e\x10\x12-\x15\x17-\x1c\x7f-\x9f\u2028-\u202e\u2066-\u2069]")
_ROOM = re.compile(rf"#?([A-Za-z0-9][A-Za-z0-9_.-]{{0,{ROOM_MAX - 1}}})")


def validate_nick(nick: str) -> None:
    if VALID_NICK.fullmatch(nick) is None:
        raise ChatError("BAD_NICK", nick=nick, most=NICK_MAX)


# The services IRC clients send passwords and commands to by name (NickServ IDENTIFY on connecting, as many are
# set up for other networks): chatroom has none, so nobody may take their names and be sent those passwords.
SERVICES = frozenset({"nickserv", "chanserv", "operserv", "memoserv", "hostserv", "botserv", "saslserv"})


def not_reserved(nick: str, reserved: frozenset[str] = SERVICES) -> None:
    """Raise ChatError if `nick` is a service's name or another of `reserved` (keys: the server's own name)."""
    if nick_key(nick) in reserved:
        raise ChatError("BAD_NICK", "reserved", nick=nick)


def nick_key(nick: str) -> str:
    """Nicknames are unique without regard to case: this is the form compared."""
    return nick.lower()


def room_name(name: str) -> str:
    """The canonical display form of a room name: "5", "#5" both give "#5".

    Raises ChatError for a name that cannot be a room.
    """
    match = _ROOM.fullmatch(name)
    if match is None:
        raise ChatError("BAD_ROOM", name=name, most=ROOM_MAX)
    return "#" + match.group(1)


def room_key(name: str) -> str:
    """Room names match without regard to case or the leading '#'."""
    return name.removeprefix("#").lower()


def room_order(name: str) -> tuple[int, int, str]:
    """Numbered rooms first, in numeric order ("#5" before "#10"), then the rest by name."""
    bare = name[1:]
    return (0, int(bare), "") if bare.isdigit() else (1, 0, bare.lower())

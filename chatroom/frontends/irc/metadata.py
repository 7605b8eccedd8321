"""IRC's METADATA (IRCv3's draft/metadata-3): a person's and a channel's metadata, read, set and subscribed to.

The rules (who may set what, the limits, who may read a channel's) are the core's (chatroom.core.metadata); what is
IRC's is here: the subcommands, their numerics and FAILs, and which keys a client subscribed to (METADATA SUB), which
is the session's alone. What a subscribed client is told of changes, and on joining a channel, is rendered by the
dialect (IRCDialect.key_value, metadata_batch).
"""

from __future__ import annotations

from chatroom.core.errors import ChatError
from chatroom.core.metadata import KEYS_MAX, VALID_KEY, check_key, check_value
from chatroom.frontends.irc import numerics as n
from chatroom.frontends.irc.commands import command
from chatroom.frontends.irc.dialect import EMPTY, IRCDialect
from chatroom.frontends.irc.refusals import word
from chatroom.frontends.irc.support import SUBS_MAX

# The core's refusals as draft/metadata-3's FAIL codes
_FAILS = {
    "BAD_METADATA_KEY": "INVALID_KEY",
    "BAD_METADATA_VALUE": "INVALID_VALUE",
    "METADATA_FULL": "LIMIT_REACHED",
    "NOT_ALLOWED": "KEY_NO_PERMISSION",
}


@command(
    "METADATA",
    params=2,
    before_registration=True,
    summary="METADATA TARGET GET KEY...|LIST|SET KEY [:VALUE]|CLEAR|SYNC, METADATA * SUB|UNSUB KEY...|SUBS: a "
    "person's (* is you) or a channel's metadata: display-name, avatar... (draft/metadata-3)",
)
def _metadata(session: IRCDialect, params: list[str]) -> None:
    target, sub, rest = params[0], params[1].upper(), params[2:]
    if sub in ("SUB", "UNSUB", "SUBS"):
        _subscriptions(session, sub, rest)
        return
    if sub not in ("GET", "LIST", "SET", "CLEAR", "SYNC"):
        session.write(session.line("FAIL", "METADATA", "SUBCOMMAND_INVALID", params[1], text="Invalid subcommand"))
        return
    if sub in ("GET", "SET") and not rest:
        session.reply(n.ERR_NEEDMOREPARAMS, "METADATA", text="Not enough parameters")
        return
    if session.connection.member is None:
        _before_registering(session, target, sub, rest)
        return
    try:
        if sub == "SET":
            _set(session, target, rest[0], rest[1] if len(rest) > 1 else "")
        elif sub == "CLEAR":
            shown, cleared = session.chat.clear_metadata(session.member, target)
            session.write(session.metadata_batch(shown, [(shown, key, "") for key in cleared]))
        else:
            _read(session, target, sub, rest)
    except ChatError as error:
        _fail(session, error, target, rest[0] if sub == "SET" else "*")


def _set(session: IRCDialect, target: str, key: str, value: str) -> None:
    shown = session.chat.set_metadata(session.member, target, key, value)
    session.write(session.key_value(shown, key, value))


def _read(session: IRCDialect, target: str, sub: str, keys: list[str]) -> None:
    """GET, LIST and SYNC: a `metadata` batch of what `target` holds (SYNC: of the keys subscribed to; for a
    channel, its members' too)."""
    chat, member = session.chat, session.member
    shown, values = chat.metadata(member, target)
    if sub == "LIST":
        entries = [(shown, key, value) for key, value in sorted(values.items())]
    elif sub == "SYNC":
        entries = [(shown, key, value) for key, value in sorted(values.items()) if key in session.subscriptions]
        if shown.startswith("#"):
            entries += [
                (other.nick, key, value)
                for other, _ in chat.members_seen_by(member, shown)
                for key, value in sorted(other.metadata.items())
                if key in session.subscriptions
            ]
    else:
        lines = []
        for key in keys:
            if not VALID_KEY.fullmatch(key):
                lines.append(session.line("FAIL", "METADATA", "INVALID_KEY", key[:64], text="Invalid key name"))
            else:
                lines.append(session.key_value(shown, key, values.get(key, "")))
        session.write(session.in_metadata_batch(shown, lines))
        return
    session.write(session.metadata_batch(shown, entries))


def _fail(session: IRCDialect, error: ChatError, target: str, key: str) -> None:
    code = _FAILS.get(error.code)
    text = word(error)
    if code == "INVALID_KEY":
        session.write(session.line("FAIL", "METADATA", code, str(error.arguments["key"]), text=text))
    elif code == "INVALID_VALUE":
        session.write(session.line("FAIL", "METADATA", code, key, text=text))
    elif code == "LIMIT_REACHED":
        full = str(error.arguments["target"])
        session.write(session.line("FAIL", "METADATA", code, full, str(KEYS_MAX), text=text))
    elif code == "KEY_NO_PERMISSION":
        session.write(session.line("FAIL", "METADATA", code, target, key, text=text))
    else:  # no such person or channel
        session.write(session.line("FAIL", "METADATA", "INVALID_TARGET", target, text=text))


def _before_registering(session: IRCDialect, target: str, sub: str, rest: list[str]) -> None:
    """Before registering, a client sets its own metadata: kept by the session, its person's once registered."""
    if target != "*":
        session.write(session.line("FAIL", "METADATA", "KEY_NO_PERMISSION", target, "*", text="Register first"))
        return
    values = session.metadata_before
    try:
        if sub == "SET":
            key, value = rest[0], rest[1] if len(rest) > 1 else ""
            check_key(key)
            if value:
                check_value(key, value)
                if key not in values and len(values) >= KEYS_MAX:
                    raise ChatError("METADATA_FULL", target="*", count=KEYS_MAX)
                values[key] = value
            else:
                values.pop(key, None)
            session.write(session.key_value("*", key, value))
        elif sub == "CLEAR":
            cleared = list(values)
            values.clear()
            session.write(session.metadata_batch("*", [("*", key, "") for key in cleared]))
        elif sub == "LIST":
            session.write(session.metadata_batch("*", [("*", key, value) for key, value in values.items()]))
        elif sub == "GET":
            lines = [session.key_value("*", key, values.get(key, "")) for key in rest]
            session.write(session.in_metadata_batch("*", lines))
        else:
            session.write(session.metadata_batch("*", []))
    except ChatError as error:
        _fail(session, error, "*", rest[0] if rest else "*")


def _subscriptions(session: IRCDialect, sub: str, keys: list[str]) -> None:
    """SUB, UNSUB, SUBS: which keys this client hears of; the session's alone, before registering too."""
    subscribed = set(session.subscriptions)
    if sub == "SUBS":
        session.write(b"".join(session.numeric(n.RPL_METADATASUBS, key) for key in sorted(subscribed)))
        return
    for key in keys:
        if not VALID_KEY.fullmatch(key):
            session.write(session.line("FAIL", "METADATA", "INVALID_KEY", key[:64], text="Invalid key name"))
            return
    if sub == "UNSUB":
        removed = [key for key in dict.fromkeys(keys) if key in subscribed]
        subscribed.difference_update(removed)
        session.subscriptions = frozenset(subscribed) or EMPTY
        session.reply(n.RPL_METADATAUNSUBOK, *removed)
        return
    added = []
    for key in dict.fromkeys(keys):
        if key not in subscribed and len(subscribed) >= SUBS_MAX:
            session.write(session.line("FAIL", "METADATA", "TOO_MANY_SUBS", key, str(SUBS_MAX), text="Too many"))
            break
        subscribed.add(key)
        added.append(key)
    session.subscriptions = frozenset(subscribed) or EMPTY
    session.reply(n.RPL_METADATASUBOK, *added)

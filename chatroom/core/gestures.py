"""Replies, reactions and typing notices: what three of IRCv3's client tags mean, read by the chat so that every
front end shows them, not only the IRC clients that sent them.

A message carries client tags the chat otherwise never reads (chatroom.core.events). These three it reads: a
message that answers another names its id (`+draft/reply`, or the ratified `+reply`), and is kept with it; a
message of tags only with `+draft/react` and a reply is a reaction to that line, told as a `Reaction`; one with
`+typing` is a typing notice, told as `Typing`. Neither a reaction nor a typing notice is ever kept: a client counts
the reactions it was told of (docs/protocol.md).

Typing notices are rate-limited per sender and target (`typing_due`), whatever the client does: the same state
is relayed at most once every TYPING_EVERY seconds, a change of state at once, and no more than TYPING_BURST
notices in TYPING_EVERY seconds. A message said to the target starts the count again: someone who sends a line and
goes on typing is shown typing the next one at once.
"""

from __future__ import annotations

from chatroom.core.errors import ChatError
from chatroom.core.members import Member

REPLY_TAG = "+draft/reply"  # the tag chatroom sends; `+reply` (the ratified name) is read too
REPLY_TAGS = (REPLY_TAG, "+reply")
REACT_TAG = "+draft/react"
TYPING_TAG = "+typing"
TYPING_STATES = ("active", "paused", "done")
TYPING_EVERY = 3.0  # seconds between two typing notices of the same state from one person to one target
TYPING_BURST = 3  # notices from one person to one target in TYPING_EVERY seconds, at most
LINE_ID_MAX = 100  # characters of an id a reply names: ids of other servers are taken, not only chatroom's
EMOJI_MAX = 64  # bytes of a reaction: an emoji, or a short word


def answered(tags: dict[str, str] | None) -> str:
    """The id of the line a message answers, "" if none; ChatError if it cannot be an id."""
    if not tags:
        return ""
    for name in REPLY_TAGS:
        line = tags.get(name, "")
        if line:
            if len(line) > LINE_ID_MAX or not line.isprintable() or " " in line:
                raise ChatError("BAD_MSGID", msgid=line[:LINE_ID_MAX])
            return line
    return ""


def reaction(tags: dict[str, str] | None) -> str:
    """The reaction a message of tags only carries, "" if it is none."""
    emoji = (tags or {}).get(REACT_TAG, "")
    if len(emoji.encode()) > EMOJI_MAX:
        raise ChatError("TOO_LONG", "reaction", most=EMOJI_MAX)
    return emoji


def typing_state(tags: dict[str, str] | None) -> str:
    """The typing notice a message of tags only carries ("active", "paused", "done"), "" if it is none: a value
    the spec does not name is no notice (its tags are relayed as any others)."""
    state = (tags or {}).get(TYPING_TAG, "")
    return state if state in TYPING_STATES else ""


def reaction_tags(line: str, emoji: str) -> dict[str, str]:
    """The client tags of a reaction, as our own front ends make one: IRC clients read the same."""
    return {REACT_TAG: emoji, REPLY_TAG: line}


def typing_tags(state: str) -> dict[str, str]:
    """The client tag of a typing notice (`state` one of TYPING_STATES)."""
    return {TYPING_TAG: state}


def typing_due(member: Member, target: str, state: str, now: float) -> bool:
    """Whether `member`'s typing notice to `target` (a key) is relayed now: the same state as the last one relayed
    there once TYPING_EVERY seconds have passed, another at once (the others stop or start showing them typing),
    within TYPING_BURST notices in TYPING_EVERY seconds."""
    last = member.typing.get(target)
    if last is None:
        return True
    when, relayed, began, count = last
    if state == relayed:
        return now - when >= TYPING_EVERY
    return now - began >= TYPING_EVERY or count < TYPING_BURST


def typing_relayed(member: Member, target: str, state: str, now: float) -> None:
    """Note a notice relayed; forget those old enough to be due again, so that the notes stay a handful."""
    for key, (when, *_) in list(member.typing.items()):
        if now - when >= TYPING_EVERY:
            del member.typing[key]
    last = member.typing.get(target)
    if last is None or now - last[2] >= TYPING_EVERY:
        member.typing[target] = (now, state, now, 1)
    else:
        member.typing[target] = (now, state, last[2], last[3] + 1)


def typing_ended(member: Member, target: str) -> None:
    """`member` said a message to `target`: whatever they type next is shown at once."""
    member.typing.pop(target, None)

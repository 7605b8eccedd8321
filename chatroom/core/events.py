"""What a member is told, and the one interface a front end implements to be told it.

Events are frozen and hold only strings, so one instance can go to every member of a room, be encoded
once per front end, and later cross a bus between processes as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from chatroom.core.errors import ChatError

# A message's client tags (IRCv3's client-only tags: `+typing`, `+draft/react`, `+draft/reply`...), as the sender's
# client gave them, name then value: the chat carries them and never reads them, so that clients may agree on new
# ones without the server. At most CLIENT_TAGS_MAX bytes (chatroom.core.base.client_tags).
ClientTags = tuple[tuple[str, str], ...]
CLIENT_TAGS_MAX = 4094  # bytes: IRCv3 message-tags' bound on the tags of one client message


@dataclass(frozen=True, slots=True)
class Message:
    """Said in a room. A notice is text no program should answer automatically (IRC's NOTICE, for bots).

    `to` narrows who hears it: "@" the room's operators, "+" those with voice and the operators (IRC's
    STATUSMSG); the sender hears it too. `id` and `time` are given by the room as the message is said
    (chatroom.core.history), so that a client can ask for what came after it.

    A message with `tags` and no `text` is made of tags only (IRC's TAGMSG, when it is neither a reaction nor a
    typing notice: chatroom.core.gestures): it is relayed to those whose front end shows tags, and kept, with its
    tags, only when its sender asks (chatroom.core.history's `persisted`). `reply` is the id of the line it
    answers, read from its tags and kept with it.

    A kept line with `topic` set is not a message but `nick` setting the room's topic to `text` (told live as a
    Topic with the same id and time): kept among the lines so that IRC's draft/event-playback can replay it in
    its place; front ends that show only messages leave it out.
    """

    room: str
    nick: str
    text: str
    action: bool = False
    notice: bool = False
    to: str = ""
    # Stamps, not what was said: left out of comparisons, so that a test can say what a member heard.
    id: str = field(default="", compare=False)
    time: str = field(default="", compare=False)  # ISO 8601 in UTC, to the millisecond: 2026-11-23T09:30:00.000Z
    tags: ClientTags = ()
    reply: str = ""
    breaks: tuple[int, ...] = ()  # where a line of several was cut without a new line (chatroom.core.multiline)
    topic: bool = False


@dataclass(frozen=True, slots=True)
class PrivateMessage:
    """Said to one person. `id` and `time` are given by the conversation where the server keeps private
    conversations (--history-private, chatroom.core.private), as a room gives them to its messages, and otherwise
    an id of no conversation (Conversations.stamp); `tags` as a room message's (a message of tags only is never
    kept)."""

    sender: str
    recipient: str
    text: str
    action: bool = False
    notice: bool = False
    id: str = field(default="", compare=False)
    time: str = field(default="", compare=False)
    tags: ClientTags = ()
    reply: str = ""
    breaks: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Reaction:
    """`nick` reacted to the line whose id is `line` with `emoji` (chatroom.core.gestures): told to the room, or,
    `private`, to the two people of a conversation, `room` being the nickname it was sent to. Never kept; `id` and
    `time` are its own, as a message of tags only has them; `tags`, all its client tags as its sender gave them."""

    room: str
    nick: str
    line: str
    emoji: str
    private: bool = False
    id: str = field(default="", compare=False)
    time: str = field(default="", compare=False)
    tags: ClientTags = ()


@dataclass(frozen=True, slots=True)
class Typing:
    """`nick` is typing to a room (or, `private`, to the person `room` names): `state` is "active", "paused" or
    "done". Never kept, and relayed at most once every few seconds (chatroom.core.gestures); stamped as a
    Reaction."""

    room: str
    nick: str
    state: str
    private: bool = False
    id: str = field(default="", compare=False)
    time: str = field(default="", compare=False)
    tags: ClientTags = ()


@dataclass(frozen=True, slots=True)
class Joined:
    """`nick` joined `room`; with the account they are logged in to ("" for a guest) and the real name they give,
    for front ends that show them on joining (IRC's extended-join)."""

    room: str
    nick: str
    # Facts about the person, not the join: left out of comparisons, as a message's stamps are.
    account: str = field(default="", compare=False)
    realname: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class Parted:
    room: str
    nick: str
    reason: str


@dataclass(frozen=True, slots=True)
class Quit:
    nick: str
    reason: str


@dataclass(frozen=True, slots=True)
class NickChanged:
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class Topic:
    """A room's topic; `setter` and `text` are empty when it has none. A change of it is stamped as a room message
    is, and kept among the room's lines as one with `topic` set (Message)."""

    room: str
    setter: str
    text: str
    id: str = field(default="", compare=False)
    time: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class Kicked:
    """`nick` was put out of `room` by `actor`; a ban that removes someone is told as a kick too."""

    room: str
    actor: str
    nick: str
    reason: str


@dataclass(frozen=True, slots=True)
class RoleChanged:
    room: str
    actor: str
    nick: str
    role: str  # "operator" or "voice"
    granted: bool


@dataclass(frozen=True, slots=True)
class SettingChanged:
    room: str
    actor: str
    setting: str  # a chatroom.core.moderation.Setting value: "invite", "key", "moderated", "topiclock", "limit"
    value: str  # "on", a key or a limit; "" for off


@dataclass(frozen=True, slots=True)
class BanChanged:
    """A ban set or lifted; `room` is "" for a server ban."""

    room: str
    actor: str
    mask: str
    added: bool
    until: str  # ISO 8601 UTC, "" until lifted
    reason: str


@dataclass(frozen=True, slots=True)
class AllowChanged:
    """A mask let into the room past invite-only, or no longer (IRC's +I and -I)."""

    room: str
    actor: str
    mask: str
    added: bool


@dataclass(frozen=True, slots=True)
class ExceptChanged:
    """A mask let past the room's bans and mutes, or no longer (IRC's +e and -e)."""

    room: str
    actor: str
    mask: str
    added: bool


RoomChange = RoleChanged | SettingChanged | BanChanged | AllowChanged | ExceptChanged  # what a batch holds


@dataclass(frozen=True, slots=True)
class Renamed:
    """A room is called `new` from now on (IRCv3 channel-rename): its members are told once."""

    old: str
    new: str
    actor: str
    reason: str


@dataclass(frozen=True, slots=True)
class OwnerChanged:
    """A room was registered (or given) to `owner`'s account, or dropped (`owner` is "")."""

    room: str
    actor: str
    owner: str


@dataclass(frozen=True, slots=True)
class Invited:
    room: str
    actor: str
    nick: str


@dataclass(frozen=True, slots=True)
class Changes:
    """Several changes to a room's roles, settings and bans made at once (IRC's `MODE #5 +ov-b ...`), in order.

    Told as one event so that a front end can show them as one line; each is also an event of its own.
    """

    room: str
    changes: tuple[RoomChange, ...]


@dataclass(frozen=True, slots=True)
class ReadMarker:
    """Where a person has read `target` (a room, or a nickname for a private conversation) up to, told to each of
    their sessions when it moves, and to the one that asks; `time` is "" where nothing was marked
    (chatroom.core.markers)."""

    target: str
    time: str


@dataclass(frozen=True, slots=True)
class MetadataChanged:
    """A person's or a room's metadata (chatroom.core.metadata): `key` of `target` (a nickname or a room) is `value`
    now, or is removed when `value` is ""."""

    target: str
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class MetadataSync:
    """The metadata of a room and of the people in it, as (target, key, value), told on joining it: to the one
    joining, the room's and the others'; to the others, the joiner's."""

    room: str
    entries: tuple[tuple[str, str, str], ...]


@dataclass(frozen=True, slots=True)
class Redacted:
    """`actor` removed lines from a room's history: those with these ids, or all of it when `ids` is empty.

    Told to the room, so that clients showing those lines may hide them too; `reason` is the actor's, if given.
    A line of a private conversation (--history-private) is told to its two people, `room` being the nickname it
    was said to, and `private` set.
    """

    room: str
    actor: str
    ids: tuple[str, ...]
    reason: str = ""
    private: bool = False


@dataclass(frozen=True, slots=True)
class KeptNotice:
    """What a room keeps of what is said in it (chatroom.core.rules), in one sentence: told to each one joining a
    room that keeps history (`actor` ""), and to the whole room when someone changes its rule (`actor` theirs)."""

    room: str
    actor: str
    text: str  # "this room keeps 30 days of history"
    rule: tuple[str, ...]  # the rule's words, as RoomInfo lists them: "history=since-join", "keep=5000"


@dataclass(frozen=True, slots=True)
class Exported:
    """A room's kept history as its owner or an operator takes it away (`/room export`): for a file, not a screen."""

    room: str
    messages: tuple[Message, ...]


@dataclass(frozen=True, slots=True)
class LockdownChanged:
    actor: str
    level: str  # a chatroom.core.moderation.Lockdown name, lower case: "off", "speak", "join", "connect"


# Replies to one person: they never go to a room.


@dataclass(frozen=True, slots=True)
class ServerNotice:
    """The server tells one member something about itself: with several processes, that the chat is degraded."""

    text: str


@dataclass(frozen=True, slots=True)
class ResumeToken:
    """The secret that reclaims `nick` after a lost connection, told to each session of theirs: once a front end
    first tells it, and anew when it changes (a session ended from another, which must not come back with it)."""

    nick: str
    token: str


@dataclass(frozen=True, slots=True)
class History:
    """Lines a room kept, the oldest first, for one member: on joining it, or because they asked.

    `lost` counts the lines said after the point asked for that are no longer kept; -1 when that is not known
    (the point was in an earlier life of the room, or the server keeps no history at all).
    """

    room: str
    messages: tuple[Message, ...]
    lost: int = 0


@dataclass(frozen=True, slots=True)
class Found:
    """What a search found (chatroom.core.search): lines of any of the searcher's rooms, each naming its room, the
    oldest first. `room` is the room searched, "" for all the searcher's; `text`, what was searched for."""

    room: str
    text: str
    messages: tuple[Message, ...]


@dataclass(frozen=True, slots=True)
class Names:
    """Who is in a room, each nickname after its role's prefix: "@" operator, "+" voice; and whether the room is
    secret, which IRC's NAMES shows."""

    room: str
    nicks: tuple[str, ...]
    secret: bool = False


@dataclass(frozen=True, slots=True)
class RoomList:
    rooms: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class RoomInfo:
    """A room's settings, shown on joining and on asking; `owner` and `operators` are accounts."""

    room: str
    settings: tuple[str, ...]  # "invite", "key=K", "moderated", "topiclock", "limit=N": those that are on
    owner: str  # "" if the room is not registered
    operators: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AllowList:
    """The masks a room lets in past invite-only: (mask, setter) each."""

    room: str
    allowed: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class ExceptList:
    """The masks a room lets past its bans and mutes: (mask, setter) each."""

    room: str
    excepted: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class BanList:
    """A room's bans ("" for the server's): (mask, setter, until, reason) each, `until` as in BanChanged."""

    room: str
    bans: tuple[tuple[str, str, str, str], ...]
    since: tuple[float, ...] = ()  # when each was set, in seconds since the epoch (0.0: not known)


@dataclass(frozen=True, slots=True)
class Wallops:
    """A server administrator's word to those who asked to hear such words (IRC's +w), on every process."""

    nick: str
    text: str


@dataclass(frozen=True, slots=True)
class Watched:
    """A nickname a person watches (chatroom.core.monitor) is now here (`online`) or no longer: a person arrived
    or left under it, or took or dropped it by a change of nickname. `nick` is as its holder writes it."""

    nick: str
    online: bool


@dataclass(frozen=True, slots=True)
class AwayChanged:
    """`nick` went away with this message, or is back (`away` ""); told to those sharing a room with them, those
    watching them, and to a room they join while away."""

    nick: str
    away: str


@dataclass(frozen=True, slots=True)
class RealnameChanged:
    """`nick` changed the real name they give (IRC's SETNAME); told to them, those sharing a room, and watchers."""

    nick: str
    realname: str


@dataclass(frozen=True, slots=True)
class AccountChanged:
    """`nick` logged in to `account` while present; told to those sharing a room with them, and watchers."""

    nick: str
    account: str


Event = (
    Message
    | Reaction
    | Typing
    | KeptNotice
    | Exported
    | PrivateMessage
    | Joined
    | Parted
    | Quit
    | NickChanged
    | Topic
    | Kicked
    | RoleChanged
    | SettingChanged
    | BanChanged
    | AllowChanged
    | ExceptChanged
    | Renamed
    | OwnerChanged
    | Invited
    | Changes
    | Redacted
    | ReadMarker
    | MetadataChanged
    | MetadataSync
    | LockdownChanged
    | ServerNotice
    | ResumeToken
    | Wallops
    | Watched
    | AwayChanged
    | RealnameChanged
    | AccountChanged
    | History
    | Found
    | Names
    | RoomList
    | RoomInfo
    | BanList
    | AllowList
    | ExceptList
)

# Who is in which room, under which name, with which role: a member who missed one of these changes would see the
# rooms wrongly from then on (a front end that fails to render one ends the connection, which comes back to see them
# right). Anything else missed leaves a line or a detail out, and the rest holds; some of it (a topic, the names, the
# history) is told again at every join, so that ending the connection for it would end every join after it.
ROSTER_CHANGES = (Joined, Parted, Quit, Kicked, NickChanged, Renamed, RoleChanged, Changes)


class Session(Protocol):
    """What the core needs from a front end's connection."""

    def deliver(self, event: Event) -> None:
        """Send one event to this member; must not call back into the chat, nor raise: a broadcast goes on to the
        next member (a front end that fails to tell one leaves the event out, or ends the connection)."""

    def close(self, reason: str, logged: str | None = None) -> None:
        """The chat has let this member go (the server is shutting down): say why and end the connection.

        `logged` is what the server's log may say of it, when `reason` holds words someone typed (a kill's reason).
        """

    def refused(self, error: ChatError) -> None:
        """A change this session asked for (chatroom.core.sequencing's `asked_by`) was refused when its turn came,
        after the line that asked was answered: the person's other sessions are not told.

        Only with several processes (chatroom.bus): a change is checked at once, then made in the order all
        processes share, where it may meet a change that came first (someone took the nickname meanwhile).
        """

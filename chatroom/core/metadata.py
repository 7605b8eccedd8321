"""What a person says of themselves, and a room of itself, beyond a name: a display name, an avatar, pronouns, a
status, a room's description (IRCv3's draft/metadata-3; our clients' display names and avatars).

A small map of keys to values on each person and each room, bounded (KEYS_MAX keys of at most KEY_MAX bytes, values
of at most VALUE_MAX bytes), so that one person cannot make the server hold much, and any value fits on one IRC line
beside its key. A person sets their own; a room's operators set the room's (and administrators, as they do
anything an operator does). All values are public to those who may see their target: a person's to anyone, a
room's to its members, and to anyone while it is neither secret nor invite-only.

A person's metadata is theirs while they are present (a lingering person keeps it) and goes when they quit; a
room's goes when the room ends (a registered room's too, at a restart): nothing is written to disk, so a client
sets its person's values again at each connection (our web client does, from what the browser keeps). With
--redis, each change goes through the shared log like any other, and snapshots carry the values.

Who is told a change: every session of the person, and those sharing a room with them, for a person's; the room's
members, for a room's. Which keys each session hears is its front end's business (IRC's METADATA SUB).
"""

from __future__ import annotations

import re

from chatroom.core.base import ChatBase
from chatroom.core.errors import ChatError
from chatroom.core.events import MetadataChanged
from chatroom.core.members import Member, Room
from chatroom.core.moderation import Rank
from chatroom.core.names import UNSAFE_TEXT, nick_key, room_key, room_name
from chatroom.core.sequencing import change

KEYS_MAX = 20  # keys per person or room
KEY_MAX = 40  # bytes of a key's name
VALUE_MAX = 300  # bytes of a value: with its key, room to spare on an IRC line of 512 bytes
VALID_KEY = re.compile(rf"[a-z0-9_./-]{{1,{KEY_MAX}}}")  # IRCv3's key names, lower case
AVATAR = re.compile(r"https://[^\s/]+/\S*")


def check_key(key: str) -> None:
    if not VALID_KEY.fullmatch(key):
        raise ChatError("BAD_METADATA_KEY", key=key[:KEY_MAX], most=KEY_MAX)


def check_value(key: str, value: str) -> None:
    """A value fits (VALUE_MAX bytes, no control character nor any character text may not hold, whatever checked
    the line it came in); an avatar is an https address, which clients that show pictures load (never a script's
    `javascript:`, nor a plain http address others' networks may see and change)."""
    if len(value.encode()) > VALUE_MAX or any(ord(char) < 32 for char in value) or UNSAFE_TEXT.search(value):
        raise ChatError("BAD_METADATA_VALUE", most=VALUE_MAX)
    if key == "avatar" and not AVATAR.fullmatch(value):
        raise ChatError("BAD_METADATA_VALUE", "avatar")


class Metadata(ChatBase):
    """Setting and clearing a person's or a room's metadata, and reading it."""

    def _metadata_target(self, member: Member, target: str) -> Member | Room:
        """The person (`*` is oneself) or room `target` names; ChatError if there is none."""
        self._present(member)
        if target == "*" or nick_key(target) == nick_key(member.nick):
            return member
        if target.startswith("#"):
            room = self.rooms.get(room_key(room_name(target)))
            if room is None:
                raise ChatError("NO_SUCH_ROOM", room=target)
            return room
        return self._find(target)

    def _may_change(self, member: Member, target: Member | Room) -> None:
        if target is member:
            return
        if isinstance(target, Room) and self.rank(member, target) >= Rank.OPERATOR:
            return
        raise ChatError("NOT_ALLOWED", "metadata", target=_name(target))

    def metadata(self, member: Member, target: str) -> tuple[str, dict[str, str]]:
        """The name `target` is shown by, and its metadata, if `member` may read it; ChatError if not."""
        found = self._metadata_target(member, target)
        if isinstance(found, Room):
            settings = found.settings
            hidden = settings.secret or settings.invite_only
            if hidden and member not in found.members and not self.is_admin(member):
                raise ChatError("NOT_ALLOWED", "metadata_read", target=found.name)
        return _name(found), dict(found.metadata)

    @change
    def set_metadata(self, member: Member, target: str, key: str, value: str) -> str:
        """Set `key` of `target` (`*`: oneself) to `value`, or remove it when `value` is "": those concerned are
        told if it changed. Returns the name `target` is shown by."""
        found = self._metadata_target(member, target)
        check_key(key)
        if value:
            check_value(key, value)
        self._may_change(member, found)
        values = found.metadata
        if value and key not in values and len(values) >= KEYS_MAX:
            raise ChatError("METADATA_FULL", target=_name(found), count=KEYS_MAX)
        shown = _name(found)
        self._commit(shown)
        if values.get(key, "") == value:
            return shown
        if value:
            values[key] = value
        else:
            del values[key]
        self._tell_metadata(found, MetadataChanged(shown, key, value))
        return shown

    @change
    def clear_metadata(self, member: Member, target: str) -> tuple[str, list[str]]:
        """Remove every key of `target`; returns the name it is shown by and the keys removed, and those concerned
        are told of each."""
        found = self._metadata_target(member, target)
        self._may_change(member, found)
        shown, keys = _name(found), sorted(found.metadata)
        self._commit((shown, keys))
        for key in keys:
            del found.metadata[key]
            self._tell_metadata(found, MetadataChanged(shown, key, ""))
        return shown, keys

    def _tell_metadata(self, target: Member | Room, event: MetadataChanged) -> None:
        if isinstance(target, Room):
            target.broadcast(event)
        else:
            self._tell_peers(target, event, including=True)


def _name(target: Member | Room) -> str:
    return target.nick if isinstance(target, Member) else target.name

"""A room's new name (IRCv3 channel-rename): the room, its members, settings, bans and the history it holds in
memory go on under it, and every front end is told once, as one event.

What a rename does not do, for now: rename a registered room (its record and the history a store keeps are
filed under its name: its owner drops the registration first), or a numbered room, to or from a number (`/join
5` finds rooms by number: a number renamed away would open a new, empty room #5 for the next who types it).
"""

from __future__ import annotations

from dataclasses import replace

from chatroom.core.base import ChatBase
from chatroom.core.errors import ChatError
from chatroom.core.events import Renamed
from chatroom.core.members import Member
from chatroom.core.moderation import Action, authorize
from chatroom.core.names import room_key, room_name
from chatroom.core.sequencing import change


class Renaming(ChatBase):
    """Renaming a room, by its operators."""

    @change
    def rename_room(self, actor: Member, room: str, new: str, reason: str = "") -> str:
        """Give the room `new` for a name; another spelling of the same name changes only how it is shown.

        Returns the new name.
        """
        target = self._room_of(actor, room)
        authorize(self.rank(actor, target), Action.CONFIGURE, target.name)
        name = room_name(new)
        old_key, new_key = room_key(target.name), room_key(name)
        if target.owner:
            raise ChatError("RENAME", "registered", room=target.name)
        if old_key.isdigit() or new_key.isdigit():
            raise ChatError("RENAME", "numbered", room=target.name)
        if new_key != old_key and new_key in self.rooms:
            raise ChatError("RENAME", "taken", room=name)
        if name == target.name:
            return name
        self._commit(name)
        old = target.name
        target.name = name
        target.topic = replace(target.topic, room=name)
        del self.rooms[old_key]
        self.rooms[new_key] = target
        for member in target.members:
            member.rooms = {new_key if key == old_key else key: joined for key, joined in member.rooms.items()}
        target.history.renamed(new_key, name)
        if new_key != old_key:
            self.history_store.renamed(old_key, new_key, name)
        target.broadcast(Renamed(old, name, actor.nick, self._heard(actor, reason)))
        return name

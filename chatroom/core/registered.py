"""Registered rooms: a room an account owns keeps its settings, bans and topic when empty, and names the accounts
that get operator on joining. Each change is written down (chatroom.core.state's RoomStore).
"""

from __future__ import annotations

from chatroom.core.base import ChatBase
from chatroom.core.errors import ChatError
from chatroom.core.events import OwnerChanged, RoleChanged
from chatroom.core.members import Member, Room
from chatroom.core.moderation import Action, Role, authorize
from chatroom.core.names import nick_key
from chatroom.core.sequencing import change


class RegisteredRooms(ChatBase):
    """Registering a room, giving it away, dropping it, and naming its operators."""

    @change
    def register_room(self, actor: Member, room: str) -> None:
        """An operator who is logged in makes the room theirs: it keeps its settings, bans and topic when empty."""
        target_room = self._room_of(actor, room)
        if target_room.owner:
            raise ChatError("REGISTERED", room=target_room.name, owner=target_room.owner)
        if actor.account is None:
            raise ChatError("NOT_LOGGED_IN")
        authorize(self.rank(actor, target_room), Action.REGISTER, target_room.name)
        self._commit()
        self._stays_kept(target_room, True)  # first: if the room cannot be saved, the next start deletes them
        self._set_owner(actor, target_room, actor.account)

    @change
    def drop_room(self, actor: Member, room: str) -> None:
        """Unregister: the room goes back to lasting while someone is in it."""
        target_room = self._registered(actor, room)
        self._commit()
        self._unregister(target_room, actor.nick)

    @change
    def transfer_room(self, actor: Member, room: str, account: str) -> None:
        target_room = self._registered(actor, room)
        owner = self._account(account)
        self._commit()
        self._identify(owner, given=target_room)
        self._set_owner(actor, target_room, owner)

    @change
    def name_operator(self, actor: Member, room: str, account: str, named: bool) -> None:
        """The owner names (or unnames) an account that gets operator whenever it joins."""
        target_room = self._registered(actor, room)
        if nick_key(account) == nick_key(target_room.owner):
            raise ChatError("OWNER", room=target_room.name, owner=target_room.owner)
        if named:
            name = self._account(account)
        elif nick_key(account) not in target_room.operators:
            raise ChatError("NOT_NAMED", account=account, room=target_room.name)
        self._commit()
        if named:
            self._identify(name)
            target_room.operators[nick_key(name)] = name
        else:
            del target_room.operators[nick_key(account)]
        actor.session.deliver(target_room.info())
        self._op_named(target_room)
        self._save(target_room)

    def _registered(self, actor: Member, room: str) -> Room:
        """A registered room the actor is in and owns (or administers)."""
        target_room = self._room_of(actor, room)
        if not target_room.owner:
            raise ChatError("NOT_REGISTERED", room=target_room.name)
        authorize(self.rank(actor, target_room), Action.OWN, target_room.name)
        return target_room

    def _account(self, name: str) -> str:
        account = self.accounts.account(name)
        if account is None:
            raise ChatError("NO_ACCOUNT", name=name)
        return account

    def _set_owner(self, actor: Member, room: Room, account: str) -> None:
        room.owner = account
        room.operators.pop(nick_key(account), None)
        room.broadcast(OwnerChanged(room.name, actor.nick, account))
        self._op_named(room)
        self._save(room)

    def _op_named(self, room: Room) -> None:
        """Those present whom the room's registration makes operators become operators now, not at their next join."""
        for member, role in list(room.members.items()):
            if Role.OPERATOR not in role and self._named(member, room):
                room.members[member] = role | Role.OPERATOR
                room.broadcast(RoleChanged(room.name, "", member.nick, "operator", True))

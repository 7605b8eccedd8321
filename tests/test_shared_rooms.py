"""Mutes, ban exceptions, +C, a room's new name and the bot flag across processes sharing one log (chatroom.bus)."""

from __future__ import annotations

from chatroom.core.errors import ChatError
from chatroom.core.events import Message, Renamed
from chatroom.core.moderation import Setting
from chatroom.core.names import room_key
from tests.test_shared import Replicas


class SharedRoomRulesTests(Replicas):
    def test_a_mute_and_an_exception_set_on_one_process_hold_on_another_and_on_a_late_one(self) -> None:
        alice, _ = self.member(self.a, "alice", "5")
        bar, _ = self.member(self.b, "bar", "5")
        self.a.ban(alice, "5", "m:bar")
        self.a.configure(alice, "5", Setting.NO_CTCP, True)
        self.settle()
        self.assertEqual(self.assertRaises(ChatError, self.b.say, bar, "5", "hi").code, "MUTED")
        c = self.process("c")  # a process that starts now gets the mute and the exceptions with the room
        self.a.except_bans(alice, "5", "m:bar", True)
        self.settle()
        for chat in (self.a, self.b, c):
            room = chat.rooms[room_key("5")]
            self.assertEqual([str(entry.mask) for entry in room.excepted], ["m:bar!*@*"])
            self.assertTrue(room.settings.no_ctcp)
        _, heard_by_carol = self.member(c, "carol", "5")
        self.b.say(bar, "5", "excepted now")
        self.settle()
        self.assertEqual(heard_by_carol.take(), [Message("#5", "bar", "excepted now")])

    def test_a_rename_and_a_bot_flag_are_seen_alike_everywhere(self) -> None:
        alice, heard_by_alice = self.member(self.a, "alice", "chess")
        bob, heard_by_bob = self.member(self.b, "bob", "chess")
        self.a.rename_room(alice, "chess", "checkers", "a better game")
        self.a.set_bot(alice, True)
        self.settle()
        told = Renamed("#chess", "#checkers", "alice", "a better game")
        self.assertEqual((heard_by_alice.take(), heard_by_bob.take()), ([told], [told]))
        for chat in (self.a, self.b):
            self.assertEqual(sorted(chat.rooms), ["checkers"])
            self.assertTrue(chat.nicks["alice"].details.bot)
        self.b.say(bob, "checkers", "hi")
        self.settle()
        self.assertEqual(heard_by_alice.take(), [Message("#checkers", "bob", "hi")])

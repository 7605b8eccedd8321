"""The chat core on its own: no bytes, no network."""

from __future__ import annotations

from collections.abc import Callable

from twisted.trial.unittest import SynchronousTestCase

from chatroom.core.chat import Chat
from chatroom.core.errors import ChatError, Departed
from chatroom.core.events import (
    Joined,
    Message,
    Names,
    NickChanged,
    Parted,
    PrivateMessage,
    Quit,
    RoomInfo,
    RoomList,
    Topic,
)
from chatroom.core.members import Member
from chatroom.core.moderation import Role
from chatroom.core.names import room_name
from chatroom.frontends.line.refusals import word
from tests.helpers import RecordingSession


class ChatTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.chat = Chat()
        self.sessions: list[RecordingSession] = []

    def member(self, nick: str, *rooms: str) -> tuple[Member, RecordingSession]:
        """A member in these rooms; every session's record starts afresh after it arrives."""
        session = RecordingSession()
        self.sessions.append(session)
        member = self.chat.register(session, nick, None, "192.0.2.1")
        for room in rooms:
            self.chat.join(member, room)
        for recorded in self.sessions:
            recorded.take()
        return member, session

    def refused(self, code: str, call: Callable[..., object], *args: object) -> ChatError:
        error: ChatError = self.assertRaises(ChatError, call, *args)
        self.assertEqual(error.code, code)
        return error

    def test_names_follow_every_change_of_who_is_in_a_room(self) -> None:
        """The list is made once per change and kept: each kind of change must make it again."""
        alice, _ = self.member("alice", "5")
        bob, _ = self.member("bob", "5")
        carol, _ = self.member("carol", "5")
        self.assertEqual(self.chat.who(alice, "5"), Names("#5", ("@alice", "bob", "carol")))
        self.chat.rename(bob, "zed")
        self.assertEqual(self.chat.who(alice, "5"), Names("#5", ("@alice", "carol", "zed")))
        self.chat.set_role(alice, "5", "zed", Role.VOICE, True)
        self.assertEqual(self.chat.who(alice, "5"), Names("#5", ("@alice", "+zed", "carol")))
        self.chat.part(carol, "5")
        self.assertEqual(self.chat.who(alice, "5"), Names("#5", ("@alice", "+zed")))
        dave, _ = self.member("dave", "5")
        self.chat.quit(bob, "bye")
        self.assertEqual(self.chat.who(alice, "5"), Names("#5", ("@alice", "dave")))
        self.chat.set_role(alice, "5", "dave", Role.OPERATOR, True)
        self.assertEqual(self.chat.who(dave, "5"), Names("#5", ("@alice", "@dave")))

    def test_room_numbers_and_names(self) -> None:
        """ "5" and "#5" are one room; names keep their case but match without it."""
        self.assertEqual(room_name("5"), "#5")
        self.assertEqual(room_name("#5"), "#5")
        self.member("alice", "5")
        bob, bob_session = self.member("bob")
        self.chat.join(bob, "#5")
        self.assertIn(Joined("#5", "bob"), bob_session.events)
        self.member("carol", "General")
        dave, dave_session = self.member("dave")
        self.chat.join(dave, "general")
        self.assertIn(Names("#General", ("@carol", "dave")), dave_session.events)
        for bad in ["", "#", "a b", "#" + "x" * 33, "-x", "ünï"]:
            self.refused("BAD_ROOM", self.chat.join, dave, bad)

    def test_nicknames_unique_without_case(self) -> None:
        self.member("Alice")
        session = RecordingSession()
        error = self.refused("NICK_TAKEN", self.chat.register, session, "alice", None, "192.0.2.2")
        self.assertIn("taken", word(error))
        for bad in ["", "1abc", "a b", "x" * 21, "a:b", "#room"]:
            self.refused("BAD_NICK", self.chat.register, session, bad, None, "192.0.2.2")
        bob = self.chat.register(session, "bob", "bob", "192.0.2.2")
        self.assertEqual((bob.nick, bob.account, bob.address), ("bob", "bob", "192.0.2.2"))
        self.refused("NICK_TAKEN", self.chat.rename, bob, "ALICE")

    def test_join_tells_the_room_and_shows_topic_and_names(self) -> None:
        alice, alice_session = self.member("alice", "5")
        self.chat.set_topic(alice, "5", "homework")
        alice_session.take()
        bob, bob_session = self.member("bob")
        self.chat.join(bob, "5")
        self.assertEqual(alice_session.take(), [Joined("#5", "bob")])
        self.assertEqual(
            bob_session.take(),
            [
                Joined("#5", "bob"),
                Topic("#5", "alice", "homework"),
                RoomInfo("#5", ("topiclock",), "", ()),
                Names("#5", ("@alice", "bob")),
            ],
        )
        self.chat.join(bob, "5")
        self.assertEqual(bob_session.take(), [], "joining a room one is in changes nothing")

    def test_messages_reach_the_room_only(self) -> None:
        alice, alice_session = self.member("alice", "5")
        _, bob_session = self.member("bob", "5")
        _, carol_session = self.member("carol", "6")
        self.chat.say(alice, "5", "hello")
        self.chat.say(alice, "#5", "waves", action=True)
        expected = [Message("#5", "alice", "hello"), Message("#5", "alice", "waves", True)]
        self.assertEqual(alice_session.take(), expected)
        self.assertEqual(bob_session.take(), expected)
        self.assertEqual(carol_session.take(), [])
        self.refused("NOT_IN_ROOM", self.chat.say, alice, "6", "hi")
        self.refused("NO_TEXT", self.chat.say, alice, "5", "   ")

    def test_one_event_object_for_every_member(self) -> None:
        """Broadcasting hands out one object, which front ends encode once."""
        alice, alice_session = self.member("alice", "5")
        _, bob_session = self.member("bob", "5")
        self.chat.say(alice, "5", "hello")
        self.assertIs(alice_session.events[0], bob_session.events[0])

    def test_part(self) -> None:
        alice, alice_session = self.member("alice", "5")
        _, bob_session = self.member("bob", "5")
        self.chat.part(alice, "5", "homework time")
        self.assertEqual(bob_session.take(), [Parted("#5", "alice", "homework time")])
        self.assertEqual(alice_session.take(), [Parted("#5", "alice", "homework time")])
        self.refused("NOT_IN_ROOM", self.chat.part, alice, "5")

    def test_empty_rooms_disappear(self) -> None:
        alice, _ = self.member("alice", "5", "10", "lobby")
        self.assertEqual(self.chat.room_list(alice), RoomList((("#5", 1), ("#10", 1), ("#lobby", 1))))
        self.chat.part(alice, "10")
        self.assertEqual(self.chat.room_list(alice), RoomList((("#5", 1), ("#lobby", 1))))

    def test_quit_heard_once_by_each_peer(self) -> None:
        alice, _ = self.member("alice", "5", "6")
        _, bob_session = self.member("bob", "5", "6")
        _, carol_session = self.member("carol", "7")
        self.chat.quit(alice, "connection lost")
        self.assertEqual(bob_session.take(), [Quit("alice", "connection lost")])
        self.assertEqual(carol_session.take(), [])
        self.member("alice")  # the nickname is free again

    def test_nick_change_heard_once_by_each_peer(self) -> None:
        alice, alice_session = self.member("alice", "5", "6")
        _, bob_session = self.member("bob", "5", "6")
        self.chat.rename(alice, "Alicia")
        self.assertEqual(bob_session.take(), [NickChanged("alice", "Alicia")])
        self.assertEqual(alice_session.take(), [NickChanged("alice", "Alicia")])
        self.chat.rename(alice, "ALICIA")  # a change of case only is allowed
        self.assertEqual(alice.nick, "ALICIA")

    def test_private_messages(self) -> None:
        alice, alice_session = self.member("alice")
        _, bob_session = self.member("Bob")
        _, carol_session = self.member("carol")
        self.chat.private(alice, "bob", "psst")
        expected = [PrivateMessage("alice", "Bob", "psst")]
        self.assertEqual(bob_session.take(), expected)
        self.assertEqual(alice_session.take(), expected)
        self.assertEqual(carol_session.take(), [])
        self.refused("NO_SUCH_NICK", self.chat.private, alice, "nobody", "hi")

    def test_topic(self) -> None:
        alice, alice_session = self.member("alice", "5")
        self.assertEqual(self.chat.topic(alice, "5"), Topic("#5", "", ""))
        self.chat.set_topic(alice, "5", "exams")
        self.assertEqual(alice_session.take(), [Topic("#5", "alice", "exams")])
        bob, _ = self.member("bob", "6")
        self.refused("NOT_IN_ROOM", self.chat.set_topic, bob, "5", "mine now")

    def test_who(self) -> None:
        alice, _ = self.member("alice", "5")
        self.member("bob", "5")
        self.assertEqual(self.chat.who(alice, "#5"), Names("#5", ("@alice", "bob")))
        self.refused("NO_SUCH_ROOM", self.chat.who, alice, "99")

    def test_close_ends_every_session_quietly(self) -> None:
        alice, alice_session = self.member("alice", "5")
        _, bob_session = self.member("bob", "5")
        self.chat.close("server shutting down")
        self.assertEqual((alice_session.closed, bob_session.closed), ("server shutting down",) * 2)
        self.assertEqual(bob_session.take(), [], "nobody hears the others go at shutdown")
        self.assertEqual((self.chat.rooms, self.chat.nicks), ({}, {}))
        self.assertRaises(Departed, self.chat.quit, alice, "connection lost")

    def test_nothing_is_done_for_a_member_who_left(self) -> None:
        """A late callback (a login verdict, a timer) must not bring a ghost back: the core refuses, loudly."""
        alice, _ = self.member("alice", "5")
        _, bob_session = self.member("bob", "5")
        self.chat.quit(alice, "bye")
        bob_session.take()
        for call, *args in [
            (self.chat.rename, alice, "w"),
            (self.chat.join, alice, "lobby"),
            (self.chat.say, alice, "5", "boo"),
            (self.chat.private, alice, "bob", "boo"),
            (self.chat.set_topic, alice, "5", "boo"),
            (self.chat.part, alice, "5"),
            (self.chat.who, alice, "5"),
            (self.chat.room_list, alice),
            (self.chat.quit, alice, "again"),
        ]:
            self.assertRaises(Departed, call, *args)
        self.assertEqual(bob_session.take(), [], "nobody heard anything from the ghost")
        self.assertEqual(list(self.chat.nicks), ["bob"])
        self.assertEqual(self.chat.who(self.chat.nicks["bob"], "5"), Names("#5", ("bob",)))

    def test_a_nickname_freed_and_retaken_belongs_to_its_new_owner(self) -> None:
        """The attack: quit, someone takes the nickname, the departed member renames: the new owner keeps it."""
        old, _ = self.member("w")
        self.chat.quit(old, "bye")
        new, _ = self.member("w", "5")
        self.assertRaises(Departed, self.chat.rename, old, "x")
        self.assertIs(self.chat.nicks["w"], new)
        self.chat.rename(new, "w2")
        self.assertEqual(list(self.chat.nicks), ["w2"])

"""Replies, reactions, typing and messages of several lines across processes sharing a chat (chatroom.bus): they
are changes in the log like any message, and the typing rate limit is judged alike by every replica."""

from __future__ import annotations

from chatroom.core.events import Message, Reaction, Typing
from chatroom.core.gestures import TYPING_EVERY, reaction_tags, typing_tags
from tests.test_shared import Replicas


class SharedGestureTests(Replicas):
    def test_a_reaction_a_reply_typing_and_several_lines_reach_another_process(self) -> None:
        alice, heard_by_alice = self.member(self.a, "alice", "5")
        bob, heard_by_bob = self.member(self.b, "bob", "5")
        self.a.say(alice, "5", "lunch?")
        self.settle()
        [said] = heard_by_bob.take()
        heard_by_alice.take()
        assert isinstance(said, Message)
        self.b.say(bob, "5", "", tags=reaction_tags(said.id, "👍"))
        self.b.say(bob, "5", "yes\nat noon", tags={"+draft/reply": said.id})
        for _ in range(5):
            self.b.say(bob, "5", "", tags=typing_tags("active"))
        self.settle()
        heard = heard_by_alice.take()
        self.assertEqual(
            heard[1:],
            [
                Message("#5", "bob", "yes\nat noon", reply=said.id, tags=(("+draft/reply", said.id),)),
                Typing("#5", "bob", "active", tags=(("+typing", "active"),)),
            ],
        )
        self.assertEqual(
            heard[0], Reaction("#5", "bob", said.id, "👍", tags=tuple(reaction_tags(said.id, "👍").items()))
        )
        self.assertEqual(heard_by_bob.take(), heard, "the same, in the same order, on both")
        self.clock.advance(TYPING_EVERY)
        self.b.say(bob, "5", "", tags=typing_tags("active"))
        self.settle()
        self.assertEqual([type(event) for event in heard_by_alice.take()], [Typing])

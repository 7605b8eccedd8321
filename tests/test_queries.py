"""The core's read queries: who and what a front end may show to whom (secret rooms, invisible people)."""

from __future__ import annotations

from chatroom.core.moderation import Role, Setting
from chatroom.core.queries import Census
from tests.test_moderation import ModerationTestCase


class QueryTests(ModerationTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.alice = self.member("alice", "5", "hidden")
        self.chat.configure(self.alice, "hidden", Setting.SECRET, True)
        self.bob = self.member("bob", "5")
        self.ada = self.member("ada", account="ada")  # a server administrator
        self.eve = self.member("eve")
        self.chat.set_invisible(self.bob, False)

    def test_a_secret_room_shows_to_its_members_and_administrators_only(self) -> None:
        self.assertEqual([room.name for room in self.chat.visible_rooms(self.eve)], ["#5"])
        self.assertEqual([room.name for room in self.chat.visible_rooms(self.ada)], ["#5", "#hidden"])
        self.assertIsNone(self.chat.room_seen_by(self.eve, "hidden"))
        seen = self.chat.room_seen_by(self.alice, "#HIDDEN")
        assert seen is not None
        self.assertEqual((seen.name, seen.size, seen.secret, seen.joined), ("#hidden", 1, True, True))
        self.assertEqual(self.chat.members_seen_by(self.eve, "hidden"), [])
        self.assertEqual(self.chat.members_seen_by(self.ada, "hidden"), [(self.alice, Role.OPERATOR)])
        self.assertEqual(self.chat.memberships(self.alice, self.eve), [("#5", Role.OPERATOR)])
        self.assertEqual(
            self.chat.memberships(self.alice, self.alice), [("#5", Role.OPERATOR), ("#hidden", Role.OPERATOR)]
        )

    def test_a_pattern_finds_the_visible_those_sharing_a_room_and_oneself(self) -> None:
        self.assertEqual(list(self.chat.people_seen_by(self.eve)), [self.bob, self.eve])
        self.assertEqual(list(self.chat.people_seen_by(self.alice)), [self.alice, self.bob])
        self.assertIs(self.chat.person("ALICE"), self.alice, "a nickname finds anyone, in any case")
        self.assertIsNone(self.chat.person("nobody"))

    def test_the_census_counts_people_the_invisible_rooms_and_administrators(self) -> None:
        self.assertEqual(self.chat.census(), Census(people=4, invisible=3, rooms=2, admins=1, peak=4))

"""The core's newer room rules: ban exceptions, mutes and rooms that take no CTCP requests (IRC's +e, m: and +C)."""

from __future__ import annotations

from chatroom.core.events import BanList, ExceptChanged, ExceptList, Kicked, Message, SettingChanged
from chatroom.core.members import Details, Member
from chatroom.core.moderation import Role, Setting
from chatroom.frontends.line.refusals import word
from tests.helpers import RecordingSession
from tests.test_moderation import ModerationTestCase


class ExceptionTests(ModerationTestCase):
    def test_an_exception_lets_a_banned_person_join_and_is_kept(self) -> None:
        alice = self.member("alice", "5", account="owen")
        self.chat.register_room(alice, "5")
        self.chat.ban(alice, "5", "ba*!*@*")
        bart = self.member("bart")
        self.refused("BANNED", self.chat.join, bart, "5")
        self.refused("NOT_IN_ROOM", self.chat.except_bans, bart, "5", "bart!*@*", True)
        self.clear()
        self.chat.except_bans(alice, "5", "*art", True)
        self.chat.except_bans(alice, "5", "*art", True)  # again: nothing changes, nothing is said
        self.assertEqual(self.told("alice"), [ExceptChanged("#5", "alice", "*art!*@*", True)])
        self.chat.join(bart, "5")
        barry = self.member("barry")
        self.refused("BANNED", self.chat.join, barry, "5")  # the others the ban names stay out
        self.assertEqual(self.chat.exceptions(bart, "5"), ExceptList("#5", (("*art!*@*", "alice"),)))

        restarted = self.new_chat()  # kept with the registered room
        self.assertEqual(restarted.rooms["5"].record().excepted, self.chat.rooms["5"].record().excepted)

        self.chat.part(bart, "5")
        self.chat.except_bans(alice, "5", "*ART!*@*", False)  # lifted however it is spelt
        self.refused("BANNED", self.chat.join, bart, "5")

    def test_a_new_ban_does_not_put_out_someone_it_excepts(self) -> None:
        alice = self.member("alice", "5")
        self.member("bart", "5")
        self.member("barry", "5")
        self.chat.except_bans(alice, "5", "bart", True)
        self.clear()
        self.chat.ban(alice, "5", "ba*!*@*")
        kicked = [event.nick for event in self.told("alice") if isinstance(event, Kicked)]
        self.assertEqual(kicked, ["barry"])

    def test_only_operators_change_exceptions_and_the_list_is_bounded(self) -> None:
        alice = self.member("alice", "5")
        bob = self.member("bob", "5")
        self.refused("NOT_OPERATOR", self.chat.except_bans, bob, "5", "bob!*@*", True)
        self.refused("BAD_MASK", self.chat.except_bans, alice, "5", "*!*@*", True)
        for number in range(100):
            self.chat.except_bans(alice, "5", f"friend{number}!*@*", True)
        self.refused("LIST_FULL", self.chat.except_bans, alice, "5", "one-more!*@*", True)


class MuteTests(ModerationTestCase):
    def named(self, nick: str, user: str, *rooms: str) -> Member:
        """A guest whose front end gave a user name (IRC's USER)."""
        session = self.sessions[nick] = RecordingSession()
        member = self.chat.register(session, nick, None, "192.0.2.1", Details(user=user))
        for room in rooms:
            self.chat.join(member, room)
        self.clear()
        return member

    def test_a_muted_person_stays_but_is_not_heard_until_the_mute_is_lifted(self) -> None:
        alice = self.member("alice", "5")
        self.chat.ban(alice, "5", "m:BAR!*@*")
        bar = self.member("bar", "5")  # a mute does not keep anyone out
        self.assertEqual(self.chat.bans(alice, "5"), BanList("#5", (("m:BAR!*@*", "alice", "", ""),), (self.time,)))
        error = self.refused("MUTED", self.chat.say, bar, "5", "hi")
        self.assertIn("muted in #5", word(error))
        self.assertEqual(self.told("alice"), [])
        self.chat.private(bar, "alice", "a mute is the room's: private messages go")
        self.chat.unban(alice, "5", "m:bar!*@*")
        self.clear()
        self.chat.say(bar, "5", "hi again")
        heard = [(event.nick, event.text) for event in self.told("alice") if isinstance(event, Message)]
        self.assertEqual(heard, [("bar", "hi again")])

    def test_a_mute_does_not_put_anyone_out(self) -> None:
        alice = self.member("alice", "5")
        self.member("bar", "5")
        self.chat.ban(alice, "5", "m:bar")
        self.assertFalse([event for event in self.told("alice") if isinstance(event, Kicked)])
        self.assertIn("bar", [member.nick for member in self.chat.rooms["5"].members])

    def test_voice_or_an_exception_lets_a_muted_person_speak(self) -> None:
        alice = self.member("alice", "5")
        self.chat.ban(alice, "5", "m:*!*@192.0.2.1")
        qux = self.named("qux", "evan", "5")
        other = self.named("other", "x", "5")
        self.refused("MUTED", self.chat.say, qux, "5", "hi")
        self.chat.except_bans(alice, "5", "m:*!evan@*", True)  # past the mute only
        self.chat.say(qux, "5", "thanks")
        self.refused("MUTED", self.chat.say, other, "5", "and me?")
        self.chat.set_role(alice, "5", "other", Role.VOICE, True)
        self.chat.say(other, "5", "thanks too")

    def test_an_exception_for_mutes_only_does_not_let_past_a_ban(self) -> None:
        alice = self.member("alice", "5")
        self.chat.ban(alice, "5", "bar")
        self.chat.except_bans(alice, "5", "m:bar", True)
        self.refused("BANNED", self.chat.join, self.member("bar"), "5")

    def test_a_muted_outsider_cannot_send_to_an_open_room(self) -> None:
        alice = self.member("alice", "5")
        self.chat.configure(alice, "5", Setting.EXTERNAL, True)
        self.chat.ban(alice, "5", "m:bar")
        self.refused("MUTED", self.chat.say, self.member("bar"), "5", "from outside")


class NoCTCPTests(ModerationTestCase):
    def test_a_room_refuses_ctcp_requests_but_not_actions(self) -> None:
        alice = self.member("alice", "5")
        bob = self.member("bob", "5")
        self.chat.say(bob, "5", "\x01PING 1\x01")  # off by default
        self.chat.configure(alice, "5", Setting.NO_CTCP, True)
        self.assertEqual(self.told("bob")[-1], SettingChanged("#5", "alice", "noctcp", "on"))
        error = self.refused("NO_CTCP", self.chat.say, bob, "5", "\x01PING 2\x01")
        self.assertIn("#5 takes no CTCP requests", word(error))
        self.chat.say(bob, "5", "waves", action=True)
        self.chat.say(bob, "5", "plain text")
        self.refused("NO_CTCP", self.chat.say, alice, "5", "\x01VERSION\x01")  # operators too: it is the room's rule
        self.assertIn("noctcp", self.chat.room_info(bob, "5").settings)

"""Moderation in the core: every rule of chatroom.core.moderation, through the operations people use."""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from chatroom.core.chat import Chat
from chatroom.core.errors import ChatError
from chatroom.core.events import (
    AllowChanged,
    AllowList,
    BanChanged,
    BanList,
    Changes,
    Invited,
    Joined,
    Kicked,
    LockdownChanged,
    Message,
    Names,
    OwnerChanged,
    Quit,
    RoleChanged,
    RoomInfo,
    RoomList,
    SettingChanged,
    Topic,
)
from chatroom.core.members import Member
from chatroom.core.moderation import LIST_MAX, Lockdown, Mask, Role, Setting, glob, parse_duration
from chatroom.core.state import MemoryRoomStore, RoomRecord, StoreError
from chatroom.frontends.line.refusals import word
from tests.helpers import RecordingSession


class Directory:
    """Accounts as the core sees them: name -> whether it is a server administrator."""

    def __init__(self, **accounts: bool) -> None:
        self.accounts = accounts

    def account(self, name: str) -> str | None:
        return next((account for account in self.accounts if account.lower() == name.lower()), None)

    def identity(self, name: str) -> str | None:
        return "" if self.account(name) else None

    def is_admin(self, name: str) -> bool:
        return self.accounts.get(self.account(name) or "", False)


class RefusingStore(MemoryRoomStore):
    """A disk that is full."""

    def save_room(self, record: RoomRecord) -> None:
        raise StoreError("cannot write rooms.json: No space left on device")

    def drop_room(self, name: str) -> None:
        raise StoreError("cannot write rooms.json: No space left on device")

    def save_identities(self, identities: dict[str, str]) -> None:
        raise StoreError("cannot write rooms.json: No space left on device")


class ModerationTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.time = 1_000_000.0
        self.timers = Clock()  # when a ban ends, told; never the reactor's, which a test in memory leaves as it is
        self.directory = Directory(owen=False, olga=False, ada=True)
        self.store = MemoryRoomStore()
        self.chat = self.new_chat()
        self.sessions: dict[str, RecordingSession] = {}

    def new_chat(self) -> Chat:
        """A chat on the same accounts and store, as after a restart."""
        return Chat(accounts=self.directory, store=self.store, now=lambda: self.time, clock=self.timers)

    def member(
        self, nick: str, *rooms: str, account: str | None = None, address: str = "192.0.2.1", chat: Chat | None = None
    ) -> Member:
        session = RecordingSession()
        self.sessions[nick] = session
        member = (chat or self.chat).register(session, nick, account, address)
        for room in rooms:
            (chat or self.chat).join(member, room)
        self.clear()
        return member

    def clear(self) -> None:
        for session in self.sessions.values():
            session.take()

    def told(self, nick: str) -> list[object]:
        return list(self.sessions[nick].take())

    def refused(self, code: str, call: Callable[..., object], *args: object) -> ChatError:
        error: ChatError = self.assertRaises(ChatError, call, *args)
        self.assertEqual(error.code, code, word(error))
        return error


class RoleTests(ModerationTestCase):
    def test_the_first_in_a_new_room_is_its_operator_and_who_shows_roles(self) -> None:
        alice = self.member("alice", "5")
        bob = self.member("bob", "5")
        self.assertEqual(self.chat.who(bob, "5"), Names("#5", ("@alice", "bob")))
        self.chat.set_role(alice, "5", "bob", Role.VOICE, True)
        self.assertEqual(self.told("bob"), [RoleChanged("#5", "alice", "bob", "voice", True)])
        self.assertEqual(self.told("alice"), [RoleChanged("#5", "alice", "bob", "voice", True)])
        carol = self.member("carol", "5")
        self.assertEqual(self.chat.who(carol, "5"), Names("#5", ("@alice", "+bob", "carol")))
        self.chat.set_role(alice, "5", "bob", Role.OPERATOR, True)
        self.assertEqual(self.chat.who(carol, "5").nicks[0], "@+bob")

    def test_only_operators_give_and_take_roles(self) -> None:
        alice = self.member("alice", "5")
        bob = self.member("bob", "5")
        error = self.refused("NOT_OPERATOR", self.chat.set_role, bob, "5", "bob", Role.OPERATOR, True)
        self.assertIn("only an operator of #5", word(error))
        self.chat.set_role(alice, "5", "bob", Role.OPERATOR, True)
        self.chat.set_role(bob, "5", "alice", Role.OPERATOR, False)  # an operator may deop another, as on IRC
        self.assertEqual(self.chat.who(bob, "5"), Names("#5", ("@bob", "alice")))
        self.clear()
        self.chat.set_role(bob, "5", "alice", Role.OPERATOR, False)
        self.assertEqual(self.told("alice"), [], "taking what someone does not have changes nothing")
        self.refused("NOT_THERE", self.chat.set_role, bob, "5", self.member("carol").nick, Role.VOICE, True)
        self.refused("NO_SUCH_NICK", self.chat.set_role, bob, "5", "nobody", Role.VOICE, True)

    def test_kick_everyone_sees_who_whom_and_why(self) -> None:
        alice = self.member("alice", "5", "6")
        self.member("bob", "5", "6")
        self.member("carol", "5")
        self.chat.kick(alice, "5", "bob", "spamming")
        event = Kicked("#5", "alice", "bob", "spamming")
        for nick in ("alice", "bob", "carol"):
            self.assertEqual(self.told(nick), [event])
        self.assertEqual(self.chat.who(alice, "5"), Names("#5", ("@alice", "carol")))
        self.assertIn("#6", [room.name for room in self.chat.nicks["bob"].rooms.values()], "only the one room")

    def test_kick_refusals(self) -> None:
        alice = self.member("alice", "5")
        bob = self.member("bob", "5")
        self.member("dave")
        self.refused("NOT_OPERATOR", self.chat.kick, bob, "5", "alice")
        self.refused("SELF", self.chat.kick, alice, "5", "alice")
        self.refused("NOT_THERE", self.chat.kick, alice, "5", "dave")
        self.refused("NO_SUCH_NICK", self.chat.kick, alice, "5", "nobody")
        self.refused("NOT_IN_ROOM", self.chat.kick, alice, "6", "bob")
        self.member("ada", "5", account="ada")
        error = self.refused("PROTECTED", self.chat.kick, alice, "5", "ada")
        self.assertIn("server administrator", word(error))
        self.assertEqual(self.chat.who(alice, "5"), Names("#5", ("@alice", "ada", "bob")), "nobody was touched")

    def test_two_operators_kick_the_same_person(self) -> None:
        alice = self.member("alice", "5")
        bob = self.member("bob", "5")
        self.member("carol", "5")
        self.chat.set_role(alice, "5", "bob", Role.OPERATOR, True)
        self.chat.kick(alice, "5", "carol")
        self.refused("NOT_THERE", self.chat.kick, bob, "5", "carol")


class BanTests(ModerationTestCase):
    def test_a_guest_is_banned_by_nickname_and_address_and_removed_at_once(self) -> None:
        alice = self.member("alice", "5", address="192.0.2.1")
        self.member("mallory", "5", address="203.0.113.9")
        self.chat.ban(alice, "5", "mallory", parse_duration("2h"), "flooding")
        told = self.told("mallory")
        self.assertEqual(
            [type(event) for event in told], [BanChanged, BanChanged, Kicked], "both bans, then the removal"
        )
        self.assertEqual(told[2], Kicked("#5", "alice", "mallory", "banned: flooding"))
        masks = [entry[0] for entry in self.chat.bans(alice, "5").bans]
        self.assertEqual(masks, ["mallory!*@*", "*!*@address-of-mallory"], "the room never learns the address")
        self.assertNotIn("203.0.113.9", repr(told))
        self.assertEqual(self.chat.bans(alice, "5").bans[0][2], "1970-01-12T15:46:40Z")
        mallory = self.chat.nicks["mallory"]
        error = self.refused("BANNED", self.chat.join, mallory, "5")
        self.assertIn("flooding", word(error))
        self.chat.rename(mallory, "innocent")  # a new nickname, the same address
        self.refused("BANNED", self.chat.join, mallory, "5")
        self.chat.quit(mallory, "bye")
        back = self.member("mallory2", address="203.0.113.9")  # reconnected from the same address
        self.refused("BANNED", self.chat.join, back, "5")
        elsewhere = self.member("mallory", address="198.51.100.7")  # the same nickname from elsewhere
        self.refused("BANNED", self.chat.join, elsewhere, "5")
        self.time += 2 * 3600
        self.chat.join(back, "5")  # the ban has ended
        self.assertEqual(self.chat.bans(alice, "5"), BanList("#5", ()))

    def test_a_logged_in_member_is_banned_by_account_wherever_they_come_from(self) -> None:
        """Banning a logged-in member banned their address too: every guest behind a school's NAT was shut out."""
        alice = self.member("alice", "5")
        self.member("olga", "5", account="olga", address="198.51.100.1")
        classmate = self.member("carla", address="198.51.100.1")  # a guest behind the same address
        self.chat.ban(alice, "5", "olga")
        self.assertEqual([entry[0] for entry in self.chat.bans(alice, "5").bans], ["account:olga"])
        self.chat.join(classmate, "5")
        self.chat.quit(self.chat.nicks["olga"], "bye")
        olga = self.member("olga", account="olga", address="203.0.113.50")
        self.refused("BANNED", self.chat.join, olga, "5")
        self.chat.unban(alice, "5", "$a:OLGA")
        self.chat.join(olga, "5")

    def test_a_persons_address_is_banned_for_guests_when_asked(self) -> None:
        alice = self.member("alice", "5")
        self.member("olga", "5", account="olga", address="198.51.100.1")
        classmate = self.member("carla", "5", address="198.51.100.1")
        self.chat.ban(alice, "5", "*!*@address-of-OLGA")
        self.assertEqual([entry[0] for entry in self.chat.bans(alice, "5").bans], ["*!*@address-of-olga"])
        self.assertEqual(self.told("olga")[-1], BanChanged("#5", "alice", "*!*@address-of-olga", True, "", ""))
        self.assertIn(classmate, self.chat.rooms["5"].members, "those present stay: the room learns nothing")
        self.chat.part(classmate, "5")
        self.refused("BANNED", self.chat.join, classmate, "5")
        self.assertIn(self.chat.nicks["olga"], self.chat.rooms["5"].members, "logged in: not a guest")
        neighbour = self.member("owen", account="owen", address="198.51.100.1")
        self.chat.join(neighbour, "5")
        self.refused("NO_SUCH_NICK", self.chat.ban, alice, "5", "*!*@address-of-nobody")

    def test_a_ipv6_guest_is_banned_by_their_64(self) -> None:
        alice = self.member("alice", "5")
        self.member("eve", "5", address="2001:db8:1:2::5")
        self.chat.ban(alice, "5", "eve")
        other = self.member("other", address="2001:db8:1:2:ffff::1")
        self.refused("BANNED", self.chat.join, other, "5")
        neighbour = self.member("neighbour", address="2001:db8:1:3::1")
        self.chat.join(neighbour, "5")

    def test_masks_and_who_a_ban_does_not_remove(self) -> None:
        alice = self.member("alice", "5", address="192.0.2.1")
        bob = self.member("bob", "5", address="192.0.2.1")
        self.member("spam1", "5", address="192.0.2.1")
        self.chat.set_role(alice, "5", "bob", Role.OPERATOR, True)
        self.chat.ban(alice, "5", "192.0.2.*")  # alice and bob match too: operators are not removed
        self.assertEqual(self.chat.who(alice, "5"), Names("#5", ("@alice", "@bob")))
        self.refused("ALREADY_BANNED", self.chat.ban, bob, "5", "*!*@192.0.2.*", None, "again")
        self.chat.unban(bob, "5", "192.0.2.*")
        self.refused("NO_SUCH_BAN", self.chat.unban, bob, "5", "192.0.2.*")

    def test_ban_refusals(self) -> None:
        alice = self.member("alice", "5")
        bob = self.member("bob", "5")
        self.member("ada", account="ada")
        for everyone in ["*", "*!*@*", "*@*", "?*", "*@0.0.0.0/0", "*!*@::/0"]:
            self.refused("BAD_MASK", self.chat.ban, alice, "5", everyone)
        for malformed in ["a b", "x@y@z!", "account:", "account:a*", "*@1.2.3.4/99", "n@host.example"]:
            self.refused("BAD_MASK", self.chat.ban, alice, "5", malformed)
        self.refused("SELF", self.chat.ban, alice, "5", "alice")
        self.refused("PROTECTED", self.chat.ban, alice, "5", "ada")
        self.refused("NOT_OPERATOR", self.chat.ban, bob, "5", "alice")
        self.refused("NOT_OPERATOR", self.chat.unban, bob, "5", "x")
        self.assertEqual(self.chat.bans(bob, "5"), BanList("#5", ()), "nothing was banned")

    def test_durations(self) -> None:
        self.assertEqual(parse_duration("10m"), 600)
        self.assertEqual(parse_duration("2h"), 7200)
        self.assertEqual(parse_duration("7d"), 7 * 86400)
        self.assertEqual(parse_duration("1h30m"), 5400)
        for text, seconds in (("10min", 600), ("1hr", 3600), ("2Days", 172800), ("1h30mins", 5400)):
            self.assertEqual(parse_duration(text), seconds)
        self.assertIsNone(parse_duration("spamming"))
        for bad in ["0m", "99999d"]:
            self.refused("BAD_DURATION", parse_duration, bad)
        for mistyped in ["10", "10x", "-5m", "10 m", "5mn"]:  # a duration, mistyped: never the start of a reason
            with self.assertRaises(ChatError) as refused:
                parse_duration(mistyped)
            self.assertEqual(refused.exception.key, "BAD_DURATION:form")

    def test_wildcards_without_regular_expressions(self) -> None:
        for pattern, text, matches in [
            ("a*b", "aXXb", True),
            ("a*b", "aXXc", False),
            ("?b", "AB", True),
            ("a?c", "ac", False),
            ("*", "", True),
            ("a*", "", False),
            ("*a" * 32 + "b", "a" * 100, False),  # a regular expression would backtrack for ages here
        ]:
            self.assertEqual(glob(pattern, text), matches, (pattern, text))

    def test_masks_match(self) -> None:
        self.assertTrue(Mask.parse("spam*").matches("Spammer", None, "192.0.2.1"))
        self.assertFalse(Mask.parse("spam*").matches("eggs", None, "192.0.2.1"))
        self.assertTrue(Mask.parse("*!*@192.0.2.0/24").matches("x", None, "192.0.2.77"))
        self.assertFalse(Mask.parse("192.0.2.0/24").matches("x", None, "192.0.3.1"))
        self.assertFalse(Mask.parse("192.0.2.0/24").matches("x", None, "unix:/tmp/socket"))
        self.assertTrue(Mask.parse("bob!~b@192.0.2.1").matches("BOB", None, "192.0.2.1", "~b"))
        self.assertFalse(Mask.parse("bob!~b@192.0.2.1").matches("bob", None, "192.0.2.1", "other"), "the user name")
        self.assertTrue(Mask.parse("*!evan@*").matches("qux", None, "192.0.2.1", "evan"), "a user name alone")
        self.assertEqual(str(Mask.parse("m:bar")), "m:bar!*@*", "a mute")
        self.assertTrue(Mask.parse("m:bar").mute)
        self.assertFalse(Mask.parse("account:olga").matches("olga", None, "192.0.2.1"), "a guest is no account")
        self.assertEqual(str(Mask.parse("n@2001:db8::1/64")), "n!*@2001:db8::/64")


class SettingsTests(ModerationTestCase):
    def test_invite_only_and_invitations(self) -> None:
        alice = self.member("alice", "5")
        bob = self.member("bob", "5")
        carol = self.member("carol")
        self.chat.configure(alice, "5", Setting.INVITE_ONLY, True)
        self.assertEqual(self.told("bob"), [SettingChanged("#5", "alice", "invite", "on")])
        error = self.refused("INVITE_ONLY", self.chat.join, carol, "5")
        self.assertIn("/invite", word(error))
        self.refused("NOT_OPERATOR", self.chat.invite, bob, "5", "carol")
        self.refused("ALREADY_THERE", self.chat.invite, alice, "5", "bob")
        self.chat.invite(alice, "5", "carol")
        self.assertEqual(self.told("carol"), [Invited("#5", "alice", "carol")])
        self.chat.join(carol, "5")
        self.chat.part(carol, "5")
        self.refused("INVITE_ONLY", self.chat.join, carol, "5")  # an invitation is good for one join

    def test_an_operators_invitation_lets_one_past_a_full_room_once(self) -> None:
        alice = self.member("alice", "5")
        bob = self.member("bob")
        self.chat.configure(alice, "5", Setting.LIMIT, 1)
        self.refused("ROOM_FULL", self.chat.join, bob, "5")
        self.chat.invite(alice, "5", "bob")
        self.chat.join(bob, "5")
        self.chat.part(bob, "5")
        self.refused("ROOM_FULL", self.chat.join, bob, "5")  # an invitation is good for one join

    def test_changes_made_together_are_told_together_in_order(self) -> None:
        alice = self.member("alice", "5")
        self.member("bob", "5")
        with self.chat.changes(alice, "5"):
            self.chat.configure(alice, "5", Setting.MODERATED, True)
            self.chat.set_role(alice, "5", "bob", Role.VOICE, True)
            self.assertEqual(self.told("bob"), [], "held until the block ends")
        moderated = SettingChanged("#5", "alice", "moderated", "on")
        voiced = RoleChanged("#5", "alice", "bob", "voice", True)
        self.assertEqual(self.told("bob"), [Changes("#5", (moderated, voiced))])
        with self.chat.changes(alice, "5"):
            self.chat.configure(alice, "5", Setting.MODERATED, False)
            self.chat.kick(alice, "5", "bob", "out")
        told = self.told("bob")
        self.assertEqual(told[0], SettingChanged("#5", "alice", "moderated", ""), "told before the kick, to bob too")
        self.assertEqual(told[1], Kicked("#5", "alice", "bob", "out"))

    def test_secret_and_external_rooms(self) -> None:
        alice = self.member("alice", "5")
        bob = self.member("bob", "6")
        self.chat.configure(alice, "5", Setting.SECRET, True)
        self.assertEqual(self.chat.room_list(bob), RoomList((("#6", 1),)), "a secret room is not listed to outsiders")
        self.refused("NO_SUCH_ROOM", self.chat.who, bob, "5")
        self.assertEqual(self.chat.room_list(alice), RoomList((("#5", 1), ("#6", 1))))
        self.refused("NOT_IN_ROOM", self.chat.say, bob, "5", "hello from outside")
        self.chat.configure(alice, "5", Setting.EXTERNAL, True)
        self.clear()
        self.chat.say(bob, "5", "hello from outside")
        self.assertEqual(self.told("alice"), [Message("#5", "bob", "hello from outside")])
        self.chat.ban(alice, "5", "bob")
        self.refused("BANNED", self.chat.say, bob, "5", "again")

    def test_an_allowed_mask_passes_invite_only_and_is_kept(self) -> None:
        alice = self.member("alice", "5", account="owen")
        self.chat.register_room(alice, "5")
        self.chat.configure(alice, "5", Setting.INVITE_ONLY, True)
        bob = self.member("bob")
        self.refused("INVITE_ONLY", self.chat.join, bob, "5")
        self.refused("NOT_IN_ROOM", self.chat.allow, bob, "5", "bob!*@*", True)
        self.chat.allow(alice, "5", "bob!*@*", True)
        self.chat.allow(alice, "5", "bob!*@*", True)  # again: nothing changes, nothing is said
        self.assertEqual(self.told("alice"), [AllowChanged("#5", "alice", "bob!*@*", True)])
        self.chat.join(bob, "5")
        self.chat.part(bob, "5")
        self.chat.configure(alice, "5", Setting.KEY, "k")
        self.refused("BAD_KEY", self.chat.join, bob, "5")  # allowed past invite-only, not past the key
        self.chat.join(bob, "5", "k")  # not once, as an invitation: for as long as the mask is allowed
        restarted = self.new_chat()
        self.assertEqual(restarted.rooms["5"].record().allowed, self.chat.rooms["5"].record().allowed)
        self.assertEqual(self.chat.allowed(alice, "5"), AllowList("#5", (("bob!*@*", "alice"),)))
        self.chat.allow(alice, "5", "bob!*@*", False)
        self.chat.part(bob, "5")
        self.refused("INVITE_ONLY", self.chat.join, bob, "5")

    def test_a_rooms_lists_are_bounded(self) -> None:
        alice = self.member("alice", "5")
        for number in range(LIST_MAX):
            self.chat.ban(alice, "5", f"spammer{number}!*@*")
            self.chat.allow(alice, "5", f"friend{number}!*@*", True)
        self.refused("LIST_FULL", self.chat.ban, alice, "5", "one-more!*@*")
        self.refused("LIST_FULL", self.chat.allow, alice, "5", "one-more!*@*", True)

    def test_a_keyed_room(self) -> None:
        alice = self.member("alice", "5")
        bob = self.member("bob")
        self.chat.configure(alice, "5", Setting.KEY, "s3cret")
        self.refused("BAD_KEY", self.chat.join, bob, "5")
        self.refused("BAD_KEY", self.chat.join, bob, "5", "wrong")
        self.chat.join(bob, "5", "s3cret")
        for bad in ["has space", "x" * 33, "a,b"]:
            self.refused("BAD_KEY", self.chat.configure, alice, "5", Setting.KEY, bad)
        self.refused("NOT_OPERATOR", self.chat.configure, bob, "5", Setting.KEY, "")
        self.assertEqual(self.chat.room_info(bob, "5"), RoomInfo("#5", ("key=s3cret", "topiclock"), "", ()))

    def test_a_moderated_room_says_why_not_silence(self) -> None:
        alice = self.member("alice", "5")
        bob = self.member("bob", "5")
        self.chat.configure(alice, "5", Setting.MODERATED, True)
        self.clear()
        error = self.refused("MODERATED", self.chat.say, bob, "5", "hello?")
        self.assertIn("only voiced members and operators speak", word(error))
        self.assertEqual(self.told("alice"), [])
        self.chat.say(alice, "5", "you may ask now")
        self.chat.set_role(alice, "5", "bob", Role.VOICE, True)
        self.chat.say(bob, "5", "thanks")
        self.assertEqual(self.told("alice")[-1], Message("#5", "bob", "thanks"))
        self.chat.private(self.chat.nicks["bob"], "alice", "private messages are not the room's")

    def test_the_topic_is_locked_by_default(self) -> None:
        alice = self.member("alice", "5")
        bob = self.member("bob", "5")
        self.refused("NOT_OPERATOR", self.chat.set_topic, bob, "5", "mine")
        self.chat.configure(alice, "5", Setting.TOPIC_LOCK, False)
        self.chat.set_topic(bob, "5", "ours")
        self.assertEqual(self.chat.topic(alice, "5"), Topic("#5", "bob", "ours"))

    def test_a_member_limit(self) -> None:
        alice = self.member("alice", "5")
        self.member("bob", "5")
        self.chat.configure(alice, "5", Setting.LIMIT, 2)
        self.refused("ROOM_FULL", self.chat.join, self.member("carol"), "5")
        self.refused("BAD_LIMIT", self.chat.configure, alice, "5", Setting.LIMIT, -1)
        self.chat.configure(alice, "5", Setting.LIMIT, 0)
        self.chat.join(self.chat.nicks["carol"], "5")

    def test_settings_of_an_unregistered_room_end_with_it(self) -> None:
        alice = self.member("alice", "5")
        self.chat.configure(alice, "5", Setting.INVITE_ONLY, True)
        self.chat.ban(alice, "5", "spam*")
        self.chat.part(alice, "5")
        bob = self.member("bob", "5")
        self.assertEqual(self.chat.room_info(bob, "5"), RoomInfo("#5", ("topiclock",), "", ()))
        self.assertEqual(self.chat.bans(bob, "5"), BanList("#5", ()))


class RegisteredRoomTests(ModerationTestCase):
    def test_registering_keeps_the_room_its_operators_bans_and_topic_across_a_restart(self) -> None:
        owen = self.member("owen", "club", account="owen")
        self.member("olga", "club", account="olga")
        self.chat.register_room(owen, "club")
        self.assertEqual(self.told("olga"), [OwnerChanged("#club", "owen", "owen")])
        self.chat.name_operator(owen, "club", "OLGA", True)
        self.chat.set_topic(owen, "club", "chess on tuesdays")
        self.chat.configure(owen, "club", Setting.KEY, "knight")
        self.chat.ban(owen, "club", "troll*", parse_duration("7d"), "trolling")
        self.chat.quit(owen, "bye")
        self.chat.quit(self.chat.nicks["olga"], "bye")
        self.assertIn("club", self.chat.rooms, "a registered room outlives its members")

        self.sessions.clear()
        chat = self.new_chat()  # a restart: only the store remains
        guest = self.member("guest", chat=chat)
        chat.join(guest, "club", "knight")
        self.assertEqual(chat.topic(guest, "club"), Topic("#club", "owen", "chess on tuesdays"))
        self.assertEqual(chat.who(guest, "club"), Names("#club", ("guest",)), "nobody else gets operator")
        olga = self.member("olga", account="olga", chat=chat)
        chat.join(olga, "club", "knight")
        self.assertEqual(
            self.told("guest"), [Joined("#club", "olga"), RoleChanged("#club", "", "olga", "operator", True)]
        )
        troll = self.member("trollface", chat=chat)
        self.refused("BANNED", chat.join, troll, "club", "knight")
        self.assertEqual(
            chat.room_info(olga, "club"), RoomInfo("#club", ("key=knight", "topiclock"), "owen", ("olga",))
        )

    def test_who_may_register_drop_and_transfer(self) -> None:
        guest = self.member("guest", "5")
        self.refused("NOT_LOGGED_IN", self.chat.register_room, guest, "5")
        owen = self.member("owen", "5", account="owen")
        self.refused("NOT_OPERATOR", self.chat.register_room, owen, "5")
        self.chat.set_role(guest, "5", "owen", Role.OPERATOR, True)
        self.chat.register_room(owen, "5")
        self.refused("REGISTERED", self.chat.register_room, owen, "5")
        self.refused("NOT_OWNER", self.chat.drop_room, guest, "5")
        self.refused("NOT_OWNER", self.chat.name_operator, guest, "5", "guest", True)
        self.refused("NO_ACCOUNT", self.chat.transfer_room, owen, "5", "nobody")
        self.refused("OWNER", self.chat.name_operator, owen, "5", "owen", False)  # the last owner cannot leave
        self.refused("NOT_NAMED", self.chat.name_operator, owen, "5", "olga", False)
        self.refused("PROTECTED", self.chat.set_role, guest, "5", "owen", Role.OPERATOR, False)
        self.refused("PROTECTED", self.chat.kick, guest, "5", "owen")
        # IRC's +b R:owen, the web client's Ban of someone logged in: the owner's account was banned, by a mask
        self.refused("PROTECTED", self.chat.ban, guest, "5", "account:owen")
        self.refused("PROTECTED", self.chat.ban, guest, "5", "m:account:OWEN")
        self.refused("SELF", self.chat.ban, owen, "5", "account:Owen")
        self.clear()
        self.chat.transfer_room(owen, "5", "OLGA")
        self.assertEqual(self.told("guest"), [OwnerChanged("#5", "owen", "olga")])
        self.refused("NOT_OWNER", self.chat.drop_room, owen, "5")
        olga = self.member("olga", "5", account="olga")
        self.chat.drop_room(olga, "5")
        self.assertEqual(self.store.saved.rooms, [])
        for member in (guest, owen, olga):
            self.chat.part(member, "5")
        self.assertNotIn("5", self.chat.rooms, "dropped, it ends with its last member")

    def test_a_room_whose_owner_account_was_removed(self) -> None:
        owen = self.member("owen", "5", account="owen")
        self.chat.register_room(owen, "5")
        self.chat.quit(owen, "bye")
        del self.directory.accounts["owen"]
        self.refused("NO_ACCOUNT", self.chat.transfer_room, self.member("ada", "5", account="ada"), "5", "owen")
        self.chat.transfer_room(self.chat.nicks["ada"], "5", "olga")  # an administrator gives it a new owner
        self.assertEqual(self.chat.room_info(self.chat.nicks["ada"], "5").owner, "olga")


class AdministratorTests(ModerationTestCase):
    def test_an_administrator_may_do_what_an_owner_may_in_every_room(self) -> None:
        self.member("alice", "5")
        bob = self.member("bob", "5")
        ada = self.member("ada", "5", account="ada")
        self.chat.kick(ada, "5", "alice", "misbehaving operator")
        self.chat.configure(ada, "5", Setting.MODERATED, True)
        self.chat.say(ada, "5", "administrators always speak")
        self.chat.set_role(ada, "5", "ada", Role.OPERATOR, True)
        self.chat.set_role(ada, "5", "bob", Role.OPERATOR, True)
        self.refused("PROTECTED", self.chat.set_role, bob, "5", "ada", Role.OPERATOR, False)
        self.directory.accounts["grace"] = True
        grace = self.member("grace", "5", account="grace")
        for action in (self.chat.kick, self.chat.ban):  # not even by another administrator
            error = self.refused("PROTECTED", action, grace, "5", "ada")
            self.assertIn("server administrator and cannot be kicked or banned", word(error))

    def test_disconnect_server_bans_and_their_list(self) -> None:
        ada = self.member("ada", "5", account="ada")
        self.member("mallory", "5", address="203.0.113.9")
        self.member("olga", "5", account="olga")
        self.refused("NOT_ADMIN", self.chat.kill, self.chat.nicks["olga"], "mallory")
        self.refused("SELF", self.chat.kill, ada, "ada")
        self.chat.kill(ada, "mallory", "raid")
        self.assertEqual(self.sessions["mallory"].closed, "disconnected by ada: raid")
        self.assertEqual(self.told("olga"), [Quit("mallory", "disconnected by ada: raid")])
        self.clear()

        self.chat.server_ban(ada, "olga", parse_duration("1d"), "spam")
        self.assertEqual(self.sessions["olga"].closed, "banned from the server: spam (until 1970-01-13 13:46 UTC)")
        self.assertEqual(
            self.told("ada")[0], BanChanged("", "ada", "account:olga", True, "1970-01-13T13:46:40Z", "spam")
        )
        error = self.refused("BANNED", self.chat.register, RecordingSession(), "olga", "olga", "192.0.2.9")
        self.assertIn("spam", word(error))
        self.chat.server_ban(ada, "203.0.113.0/24")
        self.refused("BANNED", self.chat.register, RecordingSession(), "anyone", None, "203.0.113.200")
        self.assertEqual(
            [entry[0] for entry in self.chat.server_ban_list(ada).bans],
            ["account:olga", "*!*@203.0.113.0/24"],
        )
        self.chat.server_unban(ada, "account:olga")
        self.chat.register(RecordingSession(), "olga", "olga", "192.0.2.9")
        self.refused("PROTECTED", self.chat.server_ban, ada, "ada")
        self.refused("NOT_ADMIN", self.chat.server_ban_list, self.chat.nicks["olga"])
        self.assertEqual(self.store.load().server_bans[-1].mask, Mask(host="203.0.113.0/24"), "kept for restarts")

    def test_lockdown_levels(self) -> None:
        ada = self.member("ada", "5", account="ada")
        guest = self.member("guest", "5")
        olga = self.member("olga", "5", account="olga")
        self.chat.set_lockdown(ada, Lockdown.SPEAK)
        self.assertEqual(self.told("guest"), [LockdownChanged("ada", "speak")])
        self.refused("LOCKDOWN", self.chat.say, guest, "5", "hi")
        self.refused("LOCKDOWN", self.chat.private, guest, "ada", "hi")
        self.chat.say(olga, "5", "accounts still talk")
        self.chat.join(olga, "6")
        self.chat.join(guest, "6")  # an existing room, but no new one (its name would be heard)
        self.refused("LOCKDOWN", self.chat.join, guest, "buy-pills-here")
        self.chat.set_lockdown(ada, Lockdown.JOIN)
        self.refused("LOCKDOWN", self.chat.join, guest, "7")
        self.chat.set_lockdown(ada, Lockdown.CONNECT)
        self.refused("LOCKDOWN", self.chat.register, RecordingSession(), "raider", None, "192.0.2.66")
        self.chat.register(RecordingSession(), "owen", "owen", "192.0.2.66")
        self.refused("NOT_ADMIN", self.chat.set_lockdown, olga, Lockdown.OFF)
        self.chat.set_lockdown(ada, Lockdown.OFF)
        self.chat.say(guest, "5", "back to normal")


class ReviewRegressionTests(ModerationTestCase):
    """Defects found by review of the first version, each shown failing before its fix."""

    def test_a_server_ban_cannot_be_dodged_by_a_new_nickname_or_a_login(self) -> None:
        ada = self.member("ada", account="ada")
        self.chat.server_ban(ada, "spam*")
        self.chat.server_ban(ada, "account:olga")
        guest = self.member("innocent", address="192.0.2.50")
        self.refused("BANNED", self.chat.rename, guest, "spammer")
        self.refused("BANNED", self.chat.rename, guest, "olga", "olga")  # the password was right; the ban stands
        self.assertEqual((guest.nick, guest.account), ("innocent", None))

    def test_a_guest_ban_holds_on_a_dual_stack_listener(self) -> None:
        """IPv4 clients of a tcp6: listener arrive as ::ffff:a.b.c.d; the ban must hold in both spellings."""
        alice = self.member("alice", "5")
        self.member("mallory", "5", address="::ffff:203.0.113.9")
        self.chat.ban(alice, "5", "mallory")
        for address in ["::ffff:203.0.113.9", "203.0.113.9"]:
            self.refused("BANNED", self.chat.join, self.member(f"m{len(address)}", address=address), "5")
        self.chat.ban(alice, "5", "2001:DB8:0::1")
        self.refused("BANNED", self.chat.join, self.member("v6", address="2001:db8::1"), "5")

    def test_a_disk_that_refuses_is_told_to_the_actor_and_memory_stays_whole(self) -> None:
        owen = self.member("owen", "5", account="owen")
        self.chat.register_room(owen, "5")
        self.clear()

        self.chat.store = RefusingStore()
        error = self.refused("NOT_SAVED", self.chat.set_topic, owen, "5", "kept in memory")
        self.assertIn("lost at a restart", word(error))
        self.assertEqual(self.chat.topic(owen, "5").text, "kept in memory")
        self.refused("NOT_SAVED", self.chat.drop_room, owen, "5")
        self.assertEqual(self.told("owen"), [Topic("#5", "owen", "kept in memory"), OwnerChanged("#5", "owen", "")])

    def test_a_lockdown_also_stops_guests_renaming_and_setting_topics(self) -> None:
        ada = self.member("ada", account="ada")
        guest = self.member("guest", "5")
        self.chat.configure(guest, "5", Setting.TOPIC_LOCK, False)
        self.chat.set_lockdown(ada, Lockdown.SPEAK)
        self.refused("LOCKDOWN", self.chat.set_topic, guest, "5", "raid!")
        self.refused("LOCKDOWN", self.chat.rename, guest, "raider")

    def test_banning_a_person_puts_them_out_even_as_operator_but_not_a_named_operator(self) -> None:
        owen = self.member("owen", "5", account="owen")
        self.chat.register_room(owen, "5")
        self.chat.name_operator(owen, "5", "olga", True)
        self.member("olga", "5", account="olga")
        self.member("bob", "5")
        self.chat.set_role(owen, "5", "bob", Role.OPERATOR, True)
        error = self.refused("PROTECTED", self.chat.ban, owen, "5", "olga")
        self.assertIn("/room deop", word(error))
        self.chat.ban(owen, "5", "bob")
        self.assertEqual(self.chat.who(owen, "5"), Names("#5", ("@olga", "@owen")))

    def test_a_mask_of_every_address_is_refused(self) -> None:
        alice = self.member("alice", "5")
        ada = self.member("ada", account="ada")
        for everyone in ["*.*", "*!*@*:*", "*@*.*.*.*", "?*.*"]:
            self.refused("BAD_MASK", self.chat.ban, alice, "5", everyone)
            self.refused("BAD_MASK", self.chat.server_ban, ada, everyone)
            self.refused("BAD_MASK", self.chat.except_bans, alice, "5", everyone, True)
        self.assertEqual(self.chat.server_ban_list(ada).bans, ())

    def test_a_room_may_ban_everyone_but_its_exceptions_when_asked_to(self) -> None:
        """IRC's `+b *!*@*` with `+e` (the `everyone` IRC passes): was refused as a mask that would ban everyone
        (irctest's account_extban.py)."""
        alice = self.member("alice", "5")
        bob = self.member("bob", "5")
        self.member("olga", "5", account="olga")
        self.chat.except_bans(alice, "5", "account:olga", True)
        self.chat.ban(alice, "5", "*!*@*", everyone=True)
        self.assertEqual(self.chat.who(alice, "5"), Names("#5", ("@alice", "olga")), "operators and exceptions stay")
        self.refused("BANNED", self.chat.join, bob, "5")
        self.chat.unban(alice, "5", "*")
        self.chat.join(bob, "5")

    def test_logging_in_to_a_banned_account_in_the_room_puts_you_out(self) -> None:
        alice = self.member("alice", "5")
        self.chat.ban(alice, "5", "account:olga", None, "troll")
        guest = self.member("guest", "5", address="198.51.100.9")
        self.chat.rename(guest, "olga", "olga")
        self.assertEqual(self.told("alice")[-1], Kicked("#5", "alice", "olga", "banned: troll"))
        self.assertEqual(guest.rooms, {})

    def test_only_an_operators_invitation_opens_the_door_and_only_to_that_room(self) -> None:
        alice = self.member("alice", "5")
        bob = self.member("bob", "5")
        friend = self.member("friend")
        self.chat.invite(bob, "5", "friend")  # bob is no operator: a notification only
        self.chat.configure(alice, "5", Setting.INVITE_ONLY, True)
        self.refused("INVITE_ONLY", self.chat.join, friend, "5")
        self.chat.invite(alice, "5", "friend")
        for member in (alice, bob):
            self.chat.part(member, "5")  # the room ends; someone else makes a new one of the same name
        carol = self.member("carol", "5")
        self.chat.configure(carol, "5", Setting.INVITE_ONLY, True)
        self.refused("INVITE_ONLY", self.chat.join, friend, "5")

    def test_a_removed_owner_account_owns_nothing_even_to_its_open_session(self) -> None:
        owen = self.member("owen", "5", account="owen")
        self.chat.register_room(owen, "5")
        self.chat.set_role(owen, "5", "owen", Role.OPERATOR, False)
        del self.directory.accounts["owen"]
        self.refused("NOT_OWNER", self.chat.drop_room, owen, "5")

    def test_a_new_owner_or_a_named_operator_present_is_opped_at_once(self) -> None:
        owen = self.member("owen", "5", account="owen")
        self.member("olga", "5", account="olga")
        self.chat.register_room(owen, "5")
        self.clear()
        self.chat.transfer_room(owen, "5", "olga")
        self.assertEqual(
            self.told("owen"), [OwnerChanged("#5", "owen", "olga"), RoleChanged("#5", "", "olga", "operator", True)]
        )
        olga = self.chat.nicks["olga"]
        self.chat.set_role(olga, "5", "owen", Role.OPERATOR, False)
        self.chat.name_operator(olga, "5", "owen", True)
        self.assertEqual(self.chat.who(olga, "5"), Names("#5", ("@olga", "@owen")))


class SecondReviewRegressionTests(ModerationTestCase):
    """Defects found by the second review, each shown failing before its fix."""

    def test_a_typed_address_never_meets_a_hidden_one(self) -> None:
        """Otherwise ALREADY_BANNED or UNBAN would tell a guessed address right."""
        self.member("victim", "lobby", address="203.0.113.50")
        spy = self.member("spy", "spyroom")
        self.chat.ban(spy, "spyroom", "victim")
        self.chat.ban(spy, "spyroom", "203.0.113.50")  # no ALREADY_BANNED
        self.refused("NO_SUCH_BAN", self.chat.unban, spy, "spyroom", "*!*@203.0.113.5?")
        self.chat.unban(spy, "spyroom", "203.0.113.50")
        masks = [entry[0] for entry in self.chat.bans(spy, "spyroom").bans]
        self.assertEqual(masks, ["victim!*@*", "*!*@address-of-victim"], "the typed one went, the hidden one stays")

    def test_a_removed_named_account_is_nobody(self) -> None:
        owen = self.member("owen", "5", account="owen")
        self.chat.register_room(owen, "5")
        self.chat.name_operator(owen, "5", "olga", True)
        self.chat.configure(owen, "5", Setting.INVITE_ONLY, True)
        olga = self.member("olga", "5", account="olga")
        del self.directory.accounts["olga"]
        self.chat.ban(owen, "5", "olga")  # no longer PROTECTED
        self.refused("BANNED", self.chat.join, olga, "5")
        self.chat.unban(owen, "5", "account:olga")
        self.refused("INVITE_ONLY", self.chat.join, olga, "5")

    def test_a_lockdown_silences_every_way_a_guest_could_talk(self) -> None:
        ada = self.member("ada", "5", account="ada")
        raider = self.member("raider", "5", "6")
        self.member("bystander")
        self.chat.set_role(ada, "5", "raider", Role.OPERATOR, True)
        self.chat.set_lockdown(ada, Lockdown.SPEAK)
        self.chat.part(raider, "6", "BUY PILLS")
        self.member("olga", "5", account="olga")
        self.chat.kick(raider, "5", "olga", "BUY PILLS")
        self.refused("LOCKDOWN", self.chat.invite, raider, "5", "bystander")
        self.chat.quit(raider, "BUY PILLS")
        self.assertNotIn("PILLS", repr(self.told("ada")))
        self.assertEqual(self.told("bystander"), [], "no invitation reached them")

    def test_an_administrator_logging_in_is_not_put_out_by_a_room_ban(self) -> None:
        op = self.member("op", "5")
        self.chat.ban(op, "5", "account:ada")
        guest = self.member("guest", "5")
        self.chat.rename(guest, "ada", "ada")
        self.assertIn("5", guest.rooms)

    def test_banning_a_present_operator_by_nickname_puts_them_out_even_if_banned_already(self) -> None:
        op = self.member("op", "5")
        self.member("alice", "5", account="alice")
        self.chat.set_role(op, "5", "alice", Role.OPERATOR, True)
        self.chat.ban(op, "5", "account:alice")  # a mask: the operator stays
        self.assertEqual(self.chat.who(op, "5"), Names("#5", ("@alice", "@op")))
        self.chat.ban(op, "5", "alice")
        self.assertEqual(self.chat.who(op, "5"), Names("#5", ("@op",)))
        self.refused("ALREADY_BANNED", self.chat.ban, op, "5", "alice")


class ByHandRegressionTests(ModerationTestCase):
    """Found trying it by hand in a terminal."""

    def test_banning_a_guest_leaves_the_others_at_their_address_in_the_room(self) -> None:
        teacher = self.member("teacher", "5", address="198.51.100.1")
        self.member("troll", "5", address="198.51.100.1")
        student = self.member("student", "5", address="198.51.100.1")  # the same school network
        self.chat.ban(teacher, "5", "troll")
        self.assertEqual(self.chat.who(teacher, "5"), Names("#5", ("@teacher", "student")))
        self.chat.part(student, "5")
        error = self.refused("BANNED", self.chat.join, student, "5")  # as documented: the address is banned
        self.assertNotIn("198.51.100.1", word(error))

"""A person's and a room's metadata (draft/metadata-3): display names and avatars for every client.

In memory through both front ends (IRC's METADATA, the line protocol's /meta and META), shared by two processes
through a log in memory, and by two real servers sharing a real redis-server.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from chatroom.core.errors import ChatError
from chatroom.core.events import MetadataChanged, MetadataSync
from chatroom.core.metadata import KEYS_MAX, VALUE_MAX
from tests import test_client_units, test_shared, test_shared_joins
from tests.helpers import MemoryClient
from tests.test_irc import IRCServer
from tests.test_lifecycle import GENEROUS

CAPS = "draft/metadata-3 batch"


class IRCMetadataTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = IRCServer(GENEROUS)
        self.alice = self.server.irc("alice", "#5", caps=CAPS)
        self.bob = self.server.irc("bob", "#5", caps=CAPS)

    def batch(self, client: MemoryClient, line: str) -> list[str]:
        """The lines of the one `metadata` batch `line` is answered with, without their batch tag."""
        start, *inside, end = client.type(line)
        self.assertRegex(start, r"^:chatroom BATCH \+\d+ metadata")
        self.assertRegex(end, r"^:chatroom BATCH -\d+$")
        return [each.split(" ", 1)[1] for each in inside]

    def test_the_capability_says_the_limits(self) -> None:
        [listed] = self.server.irc().type("CAP LS 302")
        self.assertIn(
            f"draft/metadata-3=before-connect,max-subs=50,max-keys={KEYS_MAX},max-value-bytes={VALUE_MAX}", listed
        )

    def test_a_display_name_is_set_read_by_others_and_told_to_subscribers_sharing_a_room(self) -> None:
        carol = self.server.irc("carol", caps=CAPS)  # shares no room with alice
        self.assertEqual(self.bob.type("METADATA * SUB display-name avatar"), [":chatroom 770 bob display-name avatar"])
        carol.type("METADATA * SUB display-name")
        self.assertEqual(
            self.alice.type("METADATA * SET display-name :Alice Liddell"),
            [":chatroom 761 alice alice display-name * :Alice Liddell"],
        )
        self.assertEqual(self.bob.read(), [":chatroom 761 bob alice display-name * :Alice Liddell"])
        self.assertEqual(carol.read(), [], "told only to those who share a room")
        self.assertEqual(
            self.batch(carol, "METADATA alice GET display-name pronouns"),
            [
                ":chatroom 761 carol alice display-name * :Alice Liddell",
                ":chatroom 766 carol alice pronouns :key not set",
            ],
        )
        self.alice.type("METADATA * SET display-name")
        self.assertEqual(self.bob.read(), [":chatroom 766 bob alice display-name :key not set"])
        self.bob.type("METADATA * UNSUB display-name")
        self.alice.type("METADATA * SET display-name :Alice")
        self.assertEqual(self.bob.read(), [], "unsubscribed")

    def test_only_the_person_sets_their_own_and_only_operators_the_rooms(self) -> None:
        self.assertEqual(
            self.bob.type("METADATA alice SET display-name :Not Alice"),
            [":chatroom FAIL METADATA KEY_NO_PERMISSION alice display-name :you may not change alice's metadata:"
             " a person sets their own, a room's operators the room's"],
        )  # fmt: skip
        self.assertEqual(self.bob.type("METADATA #5 SET avatar :https://example.com/5.png")[0].split()[1:4],
                         ["FAIL", "METADATA", "KEY_NO_PERMISSION"])  # fmt: skip
        self.alice.type("METADATA #5 SET avatar :https://example.com/5.png")  # she opened it: its operator
        self.assertEqual(
            self.batch(self.bob, "METADATA #5 LIST"), [":chatroom 761 bob #5 avatar * :https://example.com/5.png"]
        )
        self.assertEqual(self.batch(self.alice, "METADATA #5 CLEAR"), [":chatroom 766 alice #5 avatar :key not set"])

    def test_bad_keys_values_and_too_many_keys_are_refused_in_one_line(self) -> None:
        [bad_key] = self.alice.type("METADATA * SET Display-Name :x")
        self.assertTrue(bad_key.startswith(":chatroom FAIL METADATA INVALID_KEY Display-Name :"))
        [long] = self.alice.type("METADATA * SET status :" + "é" * (VALUE_MAX // 2 + 1))
        self.assertTrue(long.startswith(":chatroom FAIL METADATA INVALID_VALUE status :"))
        for number in range(KEYS_MAX):
            self.alice.type(f"METADATA * SET key{number} :{number}")
        for unsafe in ("\x85", "\u2028", "\u202e"):  # past the line's own check, as IRC's escaped tags came
            member = self.server.chat.nicks["alice"]
            refused = self.assertRaises(ChatError, self.server.chat.set_metadata, member, "*", "status", f"a{unsafe}b")
            self.assertEqual(refused.code, "BAD_METADATA_VALUE")
        [full] = self.alice.type("METADATA * SET one-more :x")
        self.assertTrue(full.startswith(f":chatroom FAIL METADATA LIMIT_REACHED alice {KEYS_MAX} :"))
        self.assertEqual(self.alice.type("METADATA nobody LIST")[0].split()[1:5],
                         ["FAIL", "METADATA", "INVALID_TARGET", "nobody"])  # fmt: skip

    def test_joining_tells_the_room_and_its_people_and_the_others_the_joiner(self) -> None:
        self.alice.type("METADATA * SET display-name :Alice", "METADATA #5 SET display-name :Room Five")
        self.bob.read()
        carol = self.server.irc("carol", caps=CAPS)
        carol.type("METADATA * SUB display-name", "METADATA * SET display-name :Carol")
        self.bob.type("METADATA * SUB display-name")
        joined = [line.split(" ", 1)[1] for line in carol.type("JOIN #5") if " 761 " in line]
        self.assertEqual(
            joined,
            [":chatroom 761 carol #5 display-name * :Room Five", ":chatroom 761 carol alice display-name * :Alice"],
        )
        self.assertIn(
            ":chatroom 761 bob carol display-name * :Carol", [line.split(" ", 1)[-1] for line in self.bob.read()]
        )

    def test_whois_shows_the_metadata_to_a_client_that_asked_for_it(self) -> None:
        self.alice.type("METADATA * SET pronouns :she/her")
        self.assertIn(":chatroom 760 bob alice pronouns * :she/her", self.bob.type("WHOIS alice"))
        plain = self.server.irc("plain")
        self.assertNotIn(" 760 ", " ".join(plain.type("WHOIS alice")))

    def test_what_is_set_before_registering_is_the_persons_and_told_in_the_welcome(self) -> None:
        client = self.server.irc()
        client.type("CAP LS 302", "CAP REQ :draft/metadata-3 batch")
        self.assertEqual(client.type("METADATA * SET display-name :Dee"), [":chatroom 761 * * display-name * :Dee"])
        welcome = client.type("NICK dee", "USER dee 0 * :Dee", "CAP END")
        self.assertIn(":chatroom 761 dee dee display-name * :Dee", [line.split(" ", 1)[-1] for line in welcome])
        dee = self.server.chat.person("dee")
        self.assertEqual(dee.metadata if dee is not None else None, {"display-name": "Dee"})

    def test_an_invite_only_rooms_metadata_is_for_its_members(self) -> None:
        self.alice.type("METADATA #5 SET display-name :Secret Five", "MODE #5 +i")
        carol = self.server.irc("carol", caps=CAPS)
        for asked in ("GET display-name", "LIST", "SYNC"):
            answer = carol.type(f"METADATA #5 {asked}")
            self.assertEqual(answer[0].split()[1:4], ["FAIL", "METADATA", "KEY_NO_PERMISSION"])
            self.assertNotIn("Secret Five", " ".join(answer))


class LineMetadataTests(SynchronousTestCase):
    def test_an_irc_display_name_reaches_our_protocol_and_back(self) -> None:
        server = IRCServer()
        alice = server.irc("alice", "#5", caps=CAPS)
        alice.type("METADATA * SUB display-name")
        bob = server.connect("bob", "5")
        alice.type("METADATA * SET display-name :Alice")
        self.assertEqual(bob.read(), ["META alice display-name :Alice"])
        self.assertEqual(bob.type("/meta set display-name Bob the Builder"), ["META bob display-name :Bob the Builder"])
        self.assertEqual(alice.read(), [":chatroom 761 alice bob display-name * :Bob the Builder"])
        self.assertEqual(bob.type("/meta alice"), ["META alice display-name :Alice", "METADATA alice 1"])
        self.assertEqual(
            bob.type("/meta set #5 avatar https://example.com/5.png")[0].split()[:2], ["ERR", "NOT_ALLOWED"]
        )


class SharedMetadataTests(test_shared.Replicas):
    def test_a_change_reaches_those_sharing_a_room_on_every_process_and_a_newcomer_knows_it(self) -> None:
        ada, heard_by_ada = self.member(self.a, "ada", "5")
        bob, heard_by_bob = self.member(self.b, "bob", "5")
        self.a.set_metadata(ada, "*", "display-name", "Ada L.")
        self.a.set_metadata(ada, "#5", "avatar", "https://example.com/5.png")
        self.assertEqual(heard_by_bob.take(), [], "made in its turn in the log")
        self.settle()
        told = [
            MetadataChanged("ada", "display-name", "Ada L."),
            MetadataChanged("#5", "avatar", "https://example.com/5.png"),
        ]
        self.assertEqual((heard_by_ada.take(), heard_by_bob.take()), (told, told))
        self.assertEqual(self.b.metadata(bob, "ada"), ("ada", {"display-name": "Ada L."}))
        c = self.process("c")
        self.assertEqual(c.metadata(c.nicks["bob"], "ada"), ("ada", {"display-name": "Ada L."}), "in the snapshot")
        self.assertEqual(c.metadata(c.nicks["bob"], "#5"), ("#5", {"avatar": "https://example.com/5.png"}))
        carol, heard_by_carol = self.member(c, "carol")
        c.join(carol, "5")
        self.settle()
        synced = [event for event in heard_by_carol.take() if isinstance(event, MetadataSync)]
        self.assertEqual(
            synced,
            [MetadataSync("#5", (("#5", "avatar", "https://example.com/5.png"), ("ada", "display-name", "Ada L.")))],
        )


class RedisMetadataTests(test_shared_joins.SharedServers):
    """Two real servers sharing a real redis-server: a display name set on one reaches a client of the other."""

    async def test_a_display_name_set_on_one_process_is_told_on_the_other(self) -> None:
        first, second = await self.servers(2)
        ada = await self.client(first, irc=True)
        ada.send("CAP REQ :draft/metadata-3 batch", "NICK ada", "USER ada 0 * :Ada", "CAP END")
        await ada.until(":ada!ada@chatroom MODE ada ")
        ada.send("METADATA * SUB display-name", "JOIN #5")
        await ada.until(":irc.test 366 ")
        bob = await self.client(second, irc=True)
        bob.send("CAP REQ :draft/metadata-3 batch", "NICK bob", "USER bob 0 * :Bob", "CAP END")
        await bob.until(":bob!bob@chatroom MODE bob ")
        bob.send("JOIN #5")
        await bob.until(":irc.test 366 ")
        bob.send("METADATA * SET display-name :Bob the Builder")
        await bob.until(":irc.test 761 bob bob display-name * :Bob the Builder")
        await ada.until(":irc.test 761 ada bob display-name * :Bob the Builder")
        ada.send("METADATA bob GET display-name")
        _, answer = await ada.until(":irc.test BATCH -")
        self.assertEqual(answer[-1].split(" ", 1)[1], ":irc.test 761 ada bob display-name * :Bob the Builder")


class AvatarTests(SynchronousTestCase):
    def test_an_avatar_is_an_https_address(self) -> None:
        alice = IRCServer(GENEROUS).irc("alice", caps=CAPS)
        for refused in ("javascript:alert(1)", "http://example.com/a.png", "https://", "https://example.com/a b.png"):
            [answer] = alice.type(f"METADATA * SET avatar :{refused}")
            self.assertEqual(
                answer, ":chatroom FAIL METADATA INVALID_VALUE avatar :an avatar is the https:// address of a picture"
            )
        self.assertEqual(
            alice.type("METADATA * SET avatar :https://example.com/a.png"),
            [":chatroom 761 alice alice avatar * :https://example.com/a.png"],
        )


class TerminalClientTests(test_client_units.ClientCase):
    def test_metadata_is_shown_only_as_the_answer_to_meta(self) -> None:
        self.start()
        self.chatting("bob", ("#5",))
        self.console.shown.clear()
        self.hear("META alice display-name :Alice Liddell", "META #5 avatar :https://example.com/5.png")
        self.assertEqual(self.console.shown, [], "others' changes and joins: not shown unasked")
        self.client.typed("/meta set display-name Bob")
        self.hear("META bob display-name :Bob")
        self.assertEqual(self.console.shown, [])
        self.client.typed("/meta alice")
        self.assertEqual(self.sent()[-1], "/meta alice")
        self.hear("META alice display-name :Alice Liddell", "METADATA alice 1")
        self.assertEqual(
            self.console.shown, ["12:34 -- alice display-name: Alice Liddell", "12:34 -- alice: 1 metadata key"]
        )
        self.console.shown.clear()
        self.hear("META alice pronouns :she/her")
        self.assertEqual(self.console.shown, [], "answered: the next change is not shown")

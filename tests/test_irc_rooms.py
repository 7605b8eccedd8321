"""IRC's room features over the core's rules, through the connection layer in memory: ban exceptions (+e), the
extbans (m: mutes, R: accounts), +C, bot mode, channel-rename and userhost-in-names, IRC to IRC and IRC to our line
protocol."""

from __future__ import annotations

import json
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from chatroom.core.history import HistoryLimits
from chatroom.frontends.irc.wire import parse
from chatroom.stores.rooms import FileRoomStore
from tests import test_irc  # IRCOverTLSTests through the module, so that trial does not run its tests here too
from tests.helpers import MemoryClient, ServerTestCase
from tests.test_irc import IRCClient, IRCServer, commands, said, tags_of
from tests.test_lifecycle import with_accounts


def isupport(lines: list[str]) -> dict[str, str]:
    tokens = [token for line in lines if parse(line).command == "005" for token in parse(line).params[1:-1]]
    return dict(token.partition("=")[::2] for token in tokens)


def extban(server: IRCServer, kind: str, what: str) -> str:
    """An extended ban as a client builds it from ISUPPORT (as irctest does): EXTBAN's prefix, then `kind`'s letter
    (the mute's, `m`, which irctest is told, or ACCOUNTEXTBAN's), a colon and `what`."""
    told = isupport(server.irc().type("NICK chk", "USER chk 0 * :chk", "QUIT"))
    letter = told["ACCOUNTEXTBAN"] if kind == "account" else "m"
    assert letter in told["EXTBAN"].partition(",")[2], "announced in EXTBAN"
    return f"{told['EXTBAN'].partition(',')[0]}{letter}:{what}"


def bob_logged_in(test: SynchronousTestCase, server: IRCServer) -> MemoryClient:
    """Accounts turned on, and an IRC client logged in to bob's."""
    checker = with_accounts(test, server)
    bob = server.irc()
    bob.type("PASS bobs-password", "NICK bob", "USER bob 0 * :Bob")
    checker.answer(0, right=True)
    bob.read()
    return bob


def kept_room(test: SynchronousTestCase, *masks: str) -> IRCServer:
    """A server started from a rooms file written before ACCOUNTEXTBAN: #kept, registered, banning `masks`."""
    path = Path(test.mktemp())
    settings = {"invite_only": False, "key": "", "moderated": False, "topic_lock": True, "limit": 0}
    bans = [dict(mask=mask, alias="", guests=False, setter="owen", reason="", until=None) for mask in masks]
    room = {"owner": "owen", "operators": [], "settings": settings, "topic": {"setter": "", "text": ""}, "bans": bans}
    path.write_text(json.dumps({"version": 1, "rooms": {"#kept": room}, "server_bans": []}))
    server = IRCServer()
    server.chat.store = FileRoomStore(path)
    server.chat.start_from_store()
    return server


class ExceptionAndMuteTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = IRCServer()
        self.server.clock.advance(1_800_000_000)  # a ban's list shows when it was set: a time, not the epoch
        self.op = self.server.irc("chanop", "#chan")

    def test_the_modes_are_announced(self) -> None:
        told = isupport(self.server.irc().type("NICK chk", "USER chk 0 * :chk"))
        self.assertEqual((told["EXCEPTS"], told["BOT"]), ("e", "B"))
        self.assertEqual((told["EXTBAN"], told["ACCOUNTEXTBAN"]), (",Rm", "R"), "R:ACCOUNT and m:MASK, no prefix")
        self.assertEqual(told["CHANMODES"].split(",")[0], "Ibe")
        self.assertIn("C", told["CHANMODES"].split(",")[3])

    def test_an_exception_lets_a_banned_client_join_and_is_listed(self) -> None:
        self.op.type("MODE #chan +b ba*!*@*")
        bar = self.server.irc("Bar")
        self.assertEqual(commands(bar.type("JOIN #chan")), ["474"])
        self.assertEqual(self.op.type("MODE #chan +e *ar!*@*"), [":chanop!chanop@chatroom MODE #chan +e *ar!*@*"])
        self.assertEqual(commands(bar.type("JOIN #chan"))[0], "JOIN")
        self.op.read()
        listed = self.op.type("MODE #chan e")
        self.assertEqual(commands(listed), ["348", "349"])
        self.assertEqual(parse(listed[0]).params[1:], ["#chan", "*ar!*@*"])

    def test_a_muted_client_stays_and_is_refused_with_404_until_lifted(self) -> None:
        self.op.type(f"MODE #chan +b {extban(self.server, 'mute', 'bar')}")
        bar = self.server.irc("bar", "#chan", caps="echo-message")
        self.op.read()
        banned = bar.type("MODE #chan +b")
        self.assertEqual(parse(banned[0]).params, ["bar", "#chan", "m:bar!*@*", "chanop", "1800000000"])
        self.assertEqual(commands(bar.type("PRIVMSG #chan :hi from bar")), ["404"])
        self.assertEqual(self.op.read(), [])
        self.op.type("MODE #chan -b m:bar!*@*")
        bar.read()
        self.assertEqual(commands(bar.type("PRIVMSG #chan :hi again")), ["PRIVMSG"])
        self.assertEqual(commands(self.op.read()), ["PRIVMSG"])

    def test_a_mute_set_over_irc_silences_a_line_client_and_an_exception_by_user_name_lets_one_speak(self) -> None:
        carol = self.server.connect("carol", "chan")
        qux = self.server.irc("qux", "#chan")  # USER qux: its user name is "qux"
        self.op.type("MODE #chan +b m:*!*@127.0.0.1")
        carol.read()
        self.assertIn("ERR MUTED", carol.type("hello?")[0])
        qux.read()
        self.assertEqual(commands(qux.type("PRIVMSG #chan :me?")), ["404"])
        self.op.type("MODE #chan +e m:*!qux@*")
        qux.type("PRIVMSG #chan :thanks")
        self.assertIn("MSG #chan qux :thanks", carol.read())
        self.assertIn("ERR MUTED", carol.type("and me?")[0])
        self.op.type("MODE #chan +v carol")
        self.assertEqual(carol.type("voiced")[-1:], ["MSG #chan carol :voiced"])

    def test_a_mute_and_an_account_ban_kept_before_still_hold(self) -> None:
        """The forms rooms files (and Redis) hold did not change: `m:MASK` and `account:NAME`."""
        server = kept_room(self, "m:qux!*@*", "account:bob")
        qux = server.irc("qux", "#kept")
        self.assertEqual(commands(qux.type("PRIVMSG #kept :hello?")), ["404"])
        listed = qux.type("MODE #kept +b")
        self.assertEqual([parse(line).params[2] for line in listed[:2]], ["m:qux!*@*", "account:bob"])
        self.assertEqual(commands(bob_logged_in(self, server).type("JOIN #kept")), ["474"])

    def test_no_ctcp_refuses_requests_but_not_actions(self) -> None:
        user = self.server.irc("user", "#chan")
        self.op.type("MODE #chan +C")
        user.read()
        self.assertEqual(user.type("PRIVMSG #chan :\x01ACTION is testing\x01"), [])
        refused = user.type("PRIVMSG #chan :\x01PING 12345\x01")
        self.assertEqual([parse(line).params[:2] for line in refused], [["user", "#chan"]])
        self.assertEqual(commands(refused), ["404"])
        self.assertEqual(self.op.read(), [":user!user@chatroom PRIVMSG #chan :\x01ACTION is testing\x01"])
        self.assertEqual(parse(self.op.type("MODE #chan")[0]).params[2], "+ntC")


class AccountExtbanTests(SynchronousTestCase):
    """The account extban ACCOUNTEXTBAN announces (`R:NAME`, as InspIRCd's), beside IPv6 host masks."""

    def setUp(self) -> None:
        self.server = IRCServer()
        self.op = self.server.irc("chanop", "#chan")

    def test_an_account_ban_in_the_announced_form_keeps_the_account_out_not_its_nickname(self) -> None:
        mask = extban(self.server, "account", "bob")
        self.assertEqual(self.op.type(f"MODE #chan +b {mask}"), [":chanop!chanop@chatroom MODE #chan +b account:bob"])
        guest = self.server.irc("bob")  # no accounts yet: a guest who has the nickname only
        self.assertEqual(commands(guest.type("JOIN #chan"))[0], "JOIN")
        guest.type("QUIT")
        bob = bob_logged_in(self, self.server)
        self.assertEqual(commands(bob.type("JOIN #chan")), ["474"])
        self.op.type(f"MODE #chan -b {mask}")
        self.assertEqual(commands(bob.type("JOIN #chan"))[0], "JOIN")

    def test_an_account_exception_lets_it_past_a_ban_of_everyone(self) -> None:
        """irctest's testAccountExtbanException: `+b *!*@*` was refused as a mask that would ban everyone."""
        self.op.type("MODE #chan +b *!*@*", f"MODE #chan +e {extban(self.server, 'account', 'bob')}")
        self.assertEqual(commands(bob_logged_in(self, self.server).type("JOIN #chan"))[0], "JOIN")
        self.assertEqual(commands(self.server.irc("guest").type("JOIN #chan")), ["474"])

    def test_the_letter_is_a_capital_and_an_ipv6_mask_stays_a_host_ban(self) -> None:
        """`a:` (Solanum's letter with no prefix) would have read a:b::1 as an account; `r:` is InspIRCd's real name."""
        self.assertEqual(self.op.type("MODE #chan +b a:b::1"), [":chanop!chanop@chatroom MODE #chan +b *!*@a:b::1"])
        self.assertEqual(commands(self.server.irc("far", host="a:b::1").type("JOIN #chan")), ["474"])
        self.assertEqual(commands(self.server.irc("near").type("JOIN #chan"))[0], "JOIN")
        self.op.read()
        [refused] = self.op.type("MODE #chan +b r:bob")
        self.assertIn("696 chanop #chan b r:bob :invalid ban mask 'r:bob'", refused)

    def test_a_refused_mask_is_told_about_its_channel(self) -> None:
        """The refusal was a NOTICE that named neither the channel nor the mode: now the mode's own error, 696, as
        Modern IRC has it."""
        [refused] = self.op.type("MODE #chan +b *!*@example.org")
        self.assertEqual(
            refused,
            ":chatroom 696 chanop #chan b *!*@example.org :invalid ban mask '*!*@example.org': an address pattern"
            " has digits, '.', ':', '*' and '?'",
        )

    def test_irssis_and_weechats_default_ban_bans_the_one_person_it_names(self) -> None:
        """`/ban carol` in irssi sends `*!*carol@chatroom`, WeeChat `*!carol@chatroom`: the host every client is
        shown says nothing of an address (it was refused as one), so the mask names whoever here it matches."""
        carol = self.server.irc("carol", "#chan")
        dora = self.server.connect("dora", "chan")  # our own protocol: IRC shows her as dora!dora@chatroom
        self.op.read()
        banned = self.op.type("MODE #chan +b *!*carol@chatroom")
        self.assertEqual(banned[0], ":chanop!chanop@chatroom MODE #chan +bb carol!*@* *!*@address-of-carol", "as /ban")
        self.assertIn(":chanop!chanop@chatroom KICK #chan carol :banned", carol.read())
        self.assertIn("MODE #chan +bb dora!*@* *!*@address-of-dora", self.op.type("MODE #chan +b *!dora@chatroom")[0])
        self.assertIn("KICK #chan chanop dora :banned", dora.read())
        self.server.irc("carl", "#chan", host="192.0.2.7")  # not behind carol's banned address
        self.server.irc("cara", "#chan", host="192.0.2.8")
        sam = self.server.irc(host="192.0.2.9")
        sam.type("NICK sam", "USER chanop 0 * :Sam", "JOIN #chan")  # the operator's user name: irssi's is the login
        self.op.read()
        self.assertIn("MODE #chan +bb sam!*@* *!*@address-of-sam", self.op.type("MODE #chan +b *!*chanop@chatroom")[0])
        [refused] = self.op.type("MODE #chan +b *!*ca*@chatroom")
        self.assertEqual(
            refused,
            ":chatroom 696 chanop #chan b *!*ca*@chatroom :*!*ca*@chatroom matches 2 people in #chan: every client is"
            " shown the host chatroom, so a ban by it names one person here; MODE #chan +b NICK bans a nickname,"
            " +b R:ACCOUNT an account",
        )


class BotModeTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = IRCServer()
        self.bot = self.server.irc("botnick", caps="echo-message message-tags")
        self.assertEqual(self.bot.type("MODE botnick +B"), [":botnick!botnick@chatroom MODE botnick :+B"])

    def test_a_bots_messages_whois_and_who(self) -> None:
        user = self.server.irc("usernick", "#chan", caps="message-tags")
        self.bot.type("JOIN #chan")
        user.read()
        echo = self.bot.type("PRIVMSG #chan :beep boop")[0]
        self.assertIn("bot", tags_of(echo))
        self.assertIn("bot", tags_of(user.read()[0]))
        self.bot.type("MODE botnick -B")
        self.bot.type("PRIVMSG usernick :human now")
        self.assertNotIn("bot", tags_of(user.read()[0]))
        self.bot.type("MODE botnick +B")
        whois = user.type("WHOIS botnick")
        self.assertEqual([parse(line).params for line in whois if parse(line).command == "335"],
                         [["usernick", "botnick", "is a bot"]])  # fmt: skip
        who = {parse(line).params[5]: parse(line).params[6] for line in user.type("WHO #chan")[:-1]}
        self.assertEqual(who, {"botnick": "HB", "usernick": "H@"})
        self.server.clock.advance(10)  # the bot has typed a lot: flood control holds its next line meanwhile
        self.assertEqual(parse(self.bot.type("MODE botnick")[-1]).params[1], "+Bi")

    def test_a_client_without_message_tags_gets_no_tag(self) -> None:
        user = self.server.irc("usernick")
        self.bot.type("PRIVMSG usernick :beep")
        self.assertEqual(user.read(), [":botnick!botnick@chatroom PRIVMSG usernick :beep"])


class RenameTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = IRCServer()
        self.server.chat.history_limits = HistoryLimits(100)
        self.bar = self.server.irc("bar", "#bar", caps="draft/channel-rename")
        self.baz = self.server.irc("baz", "#bar")
        self.carol = self.server.connect("carol", "bar")

    def test_members_with_the_capability_see_rename_others_part_and_join(self) -> None:
        self.bar.type("TOPIC #bar :old topic")
        self.bar.type("PRIVMSG #bar :said before")
        for client in (self.bar, self.baz, self.carol):
            client.read()
        self.assertEqual(
            self.bar.type("RENAME #bar #qux :no reason"), [":bar!bar@chatroom RENAME #bar #qux :no reason"]
        )
        legacy = self.baz.read()
        self.assertEqual(commands(legacy), ["PART", "JOIN", "332", "333", "353", "366"])
        self.assertEqual(parse(legacy[1]).params, ["#qux"])
        self.assertEqual(parse(legacy[4]).params[-1], "@bar baz carol")
        self.assertEqual(self.carol.read(), ["RENAME #bar #qux bar :no reason", "CURRENT #qux"])
        self.assertEqual(self.carol.type("plain text goes on")[-1], "MSG #qux carol :plain text goes on")
        kept = self.server.chat.rooms["qux"].history.kept  # the topic change, what was said, what is said now
        self.assertEqual([line.room for line in kept], ["#qux", "#qux", "#qux"])
        self.assertNotIn("bar", self.server.chat.rooms)
        self.baz.read()
        rejoined = commands(self.baz.type("JOIN #bar", "MODE #bar +k beer"))  # the old name is free: a new room
        self.assertEqual((rejoined[0], rejoined[-1]), ("JOIN", "MODE"))

    def test_a_rename_carries_the_time_tag_that_everything_else_does(self) -> None:
        alice = self.server.irc("alice", "#bar", caps="draft/channel-rename server-time account-tag")
        self.bar.type("RENAME #bar #qux :new name")
        [renamed] = alice.read()[-1:]
        self.assertEqual(parse(renamed)[1:], ("RENAME", ["#bar", "#qux", "new name"]))
        self.assertIn("time", tags_of(renamed))

    def test_refusals(self) -> None:
        self.assertEqual(commands(self.baz.type("RENAME #bar #qux")), ["482"])
        self.server.irc("other", "#other")
        refused = self.bar.type("RENAME #bar #OTHER")
        self.assertEqual(parse(refused[0]).params[:4], ["RENAME", "CHANNEL_NAME_IN_USE", "#bar", "#OTHER"])
        refused = self.bar.type("RENAME #bar #5")
        self.assertEqual(parse(refused[0]).params[:2], ["RENAME", "CANNOT_RENAME"])
        self.assertIn("ERR NOT_OPERATOR", self.carol.type("/room rename 7")[0])
        self.bar.type("RENAME #bar #Bar")  # another spelling: the same room, shown anew
        self.assertEqual(self.carol.read(), ["RENAME #bar #Bar bar", "CURRENT #Bar"])


class TopicSetterTests(SynchronousTestCase):
    def test_the_setter_is_shown_as_a_source_present_or_gone(self) -> None:
        """RPL_TOPICWHOTIME's setter as `nick!user@host`: given a bare nickname, irssi showed `Topic set by teacher
        []`, an empty host; once the setter has left, the host is still the one everyone is shown at."""
        server = IRCServer()
        teacher, pupil = server.irc("teacher", "#5"), server.irc("pupil", "#5")
        server.clock.advance(1000)
        teacher.type("TOPIC #5 :fractions today")
        for asker in (pupil, server.irc("late", "#5")):
            [whotime] = [parse(line) for line in asker.type("TOPIC #5") if " 333 " in line]
            self.assertEqual(whotime.params[1:], ["#5", "teacher!teacher@chatroom", "1000"])
        teacher.type("QUIT :bye")
        [whotime] = [parse(line) for line in pupil.type("TOPIC #5") if " 333 " in line]
        self.assertEqual(whotime.params[2], "teacher!teacher@chatroom")


class UserhostInNamesTests(SynchronousTestCase):
    def test_names_with_user_and_host(self) -> None:
        server = IRCServer()
        server.irc("alice", "#chan")
        bob = server.irc("bob", "#chan", caps="multi-prefix userhost-in-names")
        names = [line for line in bob.type("NAMES #chan") if parse(line).command == "353"]
        self.assertEqual(parse(names[0]).params[-1], "@alice!alice@chatroom bob!bob@chatroom")

    def test_an_unknown_capability_naks_the_whole_request(self) -> None:
        client = IRCServer().irc()
        self.assertEqual(client.type("CAP REQ :multi-prefix foo.example/bar")[0].split()[2:4], ["*", "NAK"])
        self.assertEqual(client.type("CAP LIST")[0].split()[-1], ":")


class RoomsOverTLSTests(ServerTestCase):
    """The real service: an IRC operator mutes, excepts and renames, a bot talks; our own client and another IRC
    client see it."""

    async def irc_client(self, nick: str, caps: tuple[str, ...] = ()) -> IRCClient:
        """Twisted Words' client over TLS."""
        return await test_irc.irc_over_tls(self, nick, caps)

    async def test_a_mute_an_exception_and_a_rename_from_irc_reach_our_client(self) -> None:
        self.start_server()
        op = await self.irc_client("op")
        op.join("#club")
        await op.until("RPL_ENDOFNAMES")
        carol = await self.connect("carol", "club")
        op.sendLine("MODE #club +b m:carol")
        await carol.until("BAN #club op m:carol!*@*")
        carol.send("hello?")
        await carol.until("ERR MUTED")
        op.sendLine("MODE #club +e m:carol")
        await carol.until("EXCEPT #club op m:carol!*@*")
        carol.send("hello")
        await carol.until("MSG #club carol :hello")
        self.assertEqual(said(await op.until("PRIVMSG")), ["hello"])
        op.sendLine("RENAME #club #chess :a better game")
        await carol.expect("RENAME #club #chess op :a better game", "CURRENT #chess")
        parted = await op.until("JOIN")  # Twisted Words' client has no channel-rename: it is told PART and JOIN
        self.assertEqual([(line.command, line.params[0]) for line in parted], [("PART", "#club"), ("JOIN", "#chess")])
        carol.send("still here")
        self.assertEqual(said(await op.until("PRIVMSG")), ["still here"])

    async def test_a_bots_messages_carry_the_bot_tag(self) -> None:
        self.start_server()
        bot = await self.irc_client("beeper", ("message-tags",))
        user = await self.irc_client("user", ("message-tags",))
        bot.sendLine("MODE beeper +B")
        await bot.until("MODE")
        bot.sendLine("PRIVMSG user :beep boop")
        heard = (await user.until("PRIVMSG"))[-1]
        self.assertEqual((heard.params, "bot" in heard.tags), (["user", "beep boop"], True))

"""Watching people come and go (IRC's MONITOR, our /watch), and what a person says of themselves told to those who
show it: away-notify, setname, account-notify, extended-join, account-tag, extended-monitor.

Through the real connection layer in memory, IRC and line clients in the same chat; MonitorAcrossProcessesTests
runs two real services sharing a real redis-server.
"""

from __future__ import annotations

import base64

from twisted.trial.unittest import SynchronousTestCase

from chatroom.client.render import Renderer
from chatroom.core.events import Watched
from chatroom.core.monitor import WATCH_MAX
from chatroom.frontends.line.wire import parse as parse_line
from tests.helpers import MemoryClient
from tests.test_irc import IRCServer, commands, tags_of
from tests.test_lifecycle import GENEROUS, with_accounts
from tests.test_shared import Replicas
from tests.test_shared_joins import SharedServers


def arrive(server: IRCServer, nick: str, *lines: str) -> MemoryClient:
    """An IRC client registered as `nick` that then sends `lines`; unlike IRCServer.irc, nobody's output is read."""
    client = MemoryClient(server.factory.speaking(server.dialect))
    server.connections.append(client)
    client.type(f"NICK {nick}", f"USER {nick.lower()} 0 * :{nick} Real", *lines)
    return client


class MonitorTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = IRCServer(GENEROUS)
        self.foo = self.server.irc("foo")

    def test_isupport_announces_the_limit(self) -> None:
        lines = self.server.irc().type("NICK zed", "USER zed 0 * :Z")
        self.assertIn(f"MONITOR={WATCH_MAX}", " ".join(line for line in lines if " 005 " in line))

    def test_a_watcher_is_told_who_is_here_and_then_who_comes_and_goes(self) -> None:
        self.server.irc("bar")
        self.assertEqual(
            self.foo.type("MONITOR + bar,baz"), [":chatroom 730 foo :bar!bar@chatroom", ":chatroom 731 foo :baz"]
        )
        baz = arrive(self.server, "baz")
        self.assertEqual(self.foo.read(), [":chatroom 730 foo :baz!baz@chatroom"])
        baz.type("QUIT :bye")
        self.assertEqual(self.foo.read(), [":chatroom 731 foo :baz"])

    def test_a_change_of_nickname_is_a_departure_and_an_arrival_but_a_change_of_case_is_nothing(self) -> None:
        self.foo.type("MONITOR + qux")
        baz = self.server.irc("baz")
        self.assertEqual(self.foo.read(), [])
        baz.type("NICK qux")
        self.assertEqual(self.foo.read(), [":chatroom 730 foo :qux!baz@chatroom"])
        baz.type("NICK QUX")
        self.assertEqual(self.foo.read(), [])
        baz.type("NICK bazbat")
        self.assertEqual(self.foo.read(), [":chatroom 731 foo :QUX"], "as its holder wrote it")

    def test_someone_invisible_is_still_here(self) -> None:
        bar = self.server.irc("bar")
        bar.type("MODE bar +i")
        self.assertEqual(self.foo.type("MONITOR + bar"), [":chatroom 730 foo :bar!bar@chatroom"])

    def test_list_status_removal_and_clearing(self) -> None:
        self.server.irc("bar")
        self.foo.type("MONITOR + bar,Baz", "MONITOR + bar")
        self.assertEqual(
            self.foo.type("MONITOR L"), [":chatroom 732 foo :bar,Baz", ":chatroom 733 foo :End of MONITOR list"]
        )
        self.assertEqual(self.foo.type("MONITOR S"), [":chatroom 730 foo :bar!bar@chatroom", ":chatroom 731 foo :Baz"])
        self.assertEqual(self.foo.type("MONITOR - BAR"), [], "no answer, whatever the case")
        self.assertEqual(self.foo.type("MONITOR L")[0], ":chatroom 732 foo :Baz")
        self.assertEqual(self.foo.type("MONITOR C", "MONITOR L"), [":chatroom 733 foo :End of MONITOR list"])
        self.server.irc("baz")
        self.assertEqual(self.foo.read(), [], "no longer watched")

    def test_masks_are_refused_and_never_match(self) -> None:
        [refused] = self.foo.type("MONITOR + *!user@localhost")
        self.assertEqual(commands([refused]), ["432"])
        self.server.irc("user")
        self.assertEqual(self.foo.read(), [])

    def test_a_full_list_takes_what_fits_and_says_what_did_not(self) -> None:
        names = [f"n{number}" for number in range(WATCH_MAX + 2)]
        lines = self.foo.type("MONITOR + " + ",".join(names))
        self.assertEqual(lines[0], f":chatroom 734 foo {WATCH_MAX} n{WATCH_MAX},n{WATCH_MAX + 1} :Monitor list is full")
        offline = ",".join(line.partition(" :")[2] for line in lines if " 731 " in line).split(",")
        self.assertEqual(offline, names[:WATCH_MAX])
        self.assertTrue(all(len(line.encode()) <= 510 for line in lines), "split into IRC-sized lines")
        self.assertEqual(commands(self.foo.type("MONITOR + n0"))[0], "731", "one already watched still fits")

    def test_a_watch_list_leaves_with_its_person(self) -> None:
        self.foo.type("MONITOR + bar", "QUIT")
        again = self.server.irc("foo")
        self.assertEqual(again.type("MONITOR L"), [":chatroom 733 foo :End of MONITOR list"])
        self.server.irc("bar")
        self.assertEqual(again.read(), [])

    def test_a_watch_list_ends_with_its_connection_however_the_connection_ends(self) -> None:
        # Closed from the chat's side (a replica that resynchronises lets go of those it no longer holds), a
        # connection never passed through the chat's leave: its list stayed, held for every later arrival.
        self.foo.type("MONITOR + zed")
        connection = self.foo.connection
        connection.close("this server lost its place among the others: reconnect")
        self.foo.lose()
        self.assertEqual(self.server.chat.watched(connection), [])
        self.assertEqual(list(self.server.chat.watchers.watching("zed")), [])

    def test_the_line_protocol_watches_the_same_list(self) -> None:
        carol = self.server.connect("carol")
        self.assertEqual(carol.type("/watch foo bar"), ["WATCH foo here", "WATCH bar gone"])
        arrive(self.server, "BAR")
        self.assertEqual(carol.read(), ["WATCH BAR here"])
        self.assertEqual(carol.type("/watch"), ["WATCHING foo bar"])
        carol.type("/unwatch foo")
        self.foo.type("QUIT")
        self.assertEqual(carol.read(), [])
        self.assertEqual(carol.type("/unwatch", "/watch"), ["WATCHING"])
        self.assertEqual(carol.type("/watch no*body")[0].split()[:2], ["ERR", "BAD_NICK"])

    def test_the_terminal_client_says_who_is_here_and_who_left(self) -> None:
        render = Renderer(colour=False)
        self.assertIn("alice is here", render(parse_line("WATCH alice here")))
        self.assertIn("alice left", render(parse_line("WATCH alice gone")))


class SaidOfThemselvesTests(SynchronousTestCase):
    """Away, real name and account, told to those sharing a room who asked to be (and to watchers who asked)."""

    def setUp(self) -> None:
        self.server = IRCServer(GENEROUS)
        self.shown = self.server.irc("foo", "#c", caps="away-notify setname account-notify")
        self.plain = self.server.irc("plain", "#c")
        self.bar = self.server.irc("bar", "#c")

    def test_away_is_told_to_those_who_asked_and_not_to_oneself(self) -> None:
        self.assertEqual(commands(self.bar.type("AWAY :lunch")), ["306"])
        self.assertEqual(self.shown.read(), [":bar!bar@chatroom AWAY :lunch"])
        self.assertEqual(self.plain.read(), [])
        self.bar.type("AWAY :lunch")
        self.assertEqual(self.shown.read(), [], "nothing changed")
        self.bar.type("AWAY")
        self.assertEqual(self.shown.read(), [":bar!bar@chatroom AWAY"])

    def test_joining_while_away_is_told_after_the_join(self) -> None:
        late = self.server.irc("late")
        late.type("AWAY :afk")
        self.assertNotIn("AWAY", commands(late.type("JOIN #c")), "not one's own")
        self.assertEqual(self.shown.read(), [":late!late@chatroom JOIN #c", ":late!late@chatroom AWAY :afk"])

    def test_setname_changes_the_real_name_for_everyone(self) -> None:
        self.assertEqual(self.shown.type("SETNAME :Foo Bar"), [":foo!foo@chatroom SETNAME :Foo Bar"])
        whois = self.plain.type("WHOIS foo")
        self.assertIn(":chatroom 311 plain foo foo chatroom * :Foo Bar", whois)
        self.assertEqual(self.plain.read(), [])
        self.bar.type("SETNAME :B")
        self.assertEqual(self.shown.read(), [":bar!bar@chatroom SETNAME :B"])
        self.assertEqual(self.shown.type("SETNAME :"), [":chatroom FAIL SETNAME INVALID_REALNAME :Real name is empty"
                                                        " or too long"])  # fmt: skip

    def test_extended_monitor_tells_watchers_outside_the_room_only_if_they_asked(self) -> None:
        watcher = self.server.irc("watcher", caps="extended-monitor away-notify setname")
        blind = self.server.irc("blind", caps="away-notify setname")
        watcher.type("MONITOR + bar")
        blind.type("MONITOR + bar")
        self.bar.type("AWAY :gone fishing", "SETNAME :Bar")
        self.assertEqual(watcher.read(), [":bar!bar@chatroom AWAY :gone fishing", ":bar!bar@chatroom SETNAME :Bar"])
        self.assertEqual(blind.read(), [])

    def test_extended_join_gives_the_account_and_the_real_name(self) -> None:
        joins = self.server.irc("joins", "#c", caps="extended-join")
        arrive(self.server, "newcomer", "JOIN #c")
        self.assertEqual(joins.read(), [":newcomer!newcomer@chatroom JOIN #c * :newcomer Real"])
        self.server.connect().type("/nick carol", "/join c")
        self.assertEqual(joins.read(), [":carol!carol@chatroom JOIN #c * :chatroom user"])


class AccountTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = IRCServer(GENEROUS)
        self.checker = with_accounts(self, self.server)
        self.foo = self.server.irc("foo", "#c", caps="account-tag account-notify extended-join")

    def test_what_a_logged_in_person_does_carries_their_account(self) -> None:
        alice = self.server.irc()
        alice.type("PASS :pw", "NICK alice", "USER a 0 * :Alice A")
        self.checker.answer(0, right=True)
        alice.type("JOIN #c")
        [join] = self.foo.read()
        self.assertEqual(join, "@account=alice :alice!a@chatroom JOIN #c alice :Alice A")
        alice.type("PRIVMSG foo :hi", "JOIN #d", "INVITE foo #d")
        said, invited = self.foo.read()
        self.assertEqual(tags_of(said), {"account": "alice"})
        self.assertEqual(tags_of(invited), {"account": "alice"})
        arrive(self.server, "guest", "JOIN #c", "PRIVMSG #c :hello")
        self.assertFalse(any(line.startswith("@") for line in self.foo.read()), "a guest has no account")

    def test_logging_in_while_present_is_told_to_the_room(self) -> None:
        bob = self.server.connect("zed", "c")
        bob.type("/nick bob", "/pass pw")
        self.checker.answer(0, right=True)
        self.assertIn("@account=bob :bob!bob@chatroom ACCOUNT bob", self.foo.read())

    def test_a_watch_list_is_its_connections_not_the_persons_other_devices(self) -> None:
        # WeeChat watched zed; the same person's irssi, which never sends MONITOR, was sent 730/731 for him, and
        # the terminal client printed "zed left" for a watch it never set.
        weechat = self.server.irc()
        weechat.type("PASS :pw", "NICK alice", "USER a 0 * :Alice")
        irssi = self.server.irc()
        irssi.type("PASS :pw", "NICK alice", "USER a 0 * :Alice")
        terminal = self.server.connect()
        terminal.type("/nick alice", "/pass pw")
        for check in range(3):
            self.checker.answer(check, right=True)
        self.assertEqual(len(self.server.chat.nicks["alice"].sessions), 3)
        for client in (weechat, irssi, terminal):
            client.read()
        weechat.type("MONITOR + zed")
        zed = arrive(self.server, "zed")
        self.assertEqual(weechat.read(), [":chatroom 730 alice :zed!zed@chatroom"])
        zed.type("QUIT :bye")
        self.assertEqual(weechat.read(), [":chatroom 731 alice :zed"])
        self.assertEqual(irssi.read(), [])
        self.assertEqual(terminal.read(), [])
        self.assertEqual(irssi.type("MONITOR L"), [":chatroom 733 alice :End of MONITOR list"])
        self.assertEqual(terminal.type("/watch"), ["WATCHING"])
        weechat.type("QUIT :laptop closed")
        arrive(self.server, "zed")
        self.assertEqual(irssi.read() + terminal.read(), [], "the list ended with its connection, she stays")

    def test_sasl_after_registering_logs_the_person_in_and_is_told_to_watchers(self) -> None:
        watcher = self.server.irc("watcher", caps="extended-monitor account-notify")
        watcher.type("MONITOR + zed")
        zed = arrive(self.server, "zed", "CAP REQ :sasl", "JOIN #c", "AUTHENTICATE PLAIN")
        self.assertEqual(watcher.read(), [":chatroom 730 watcher :zed!zed@chatroom"])
        self.foo.read()
        zed.type("AUTHENTICATE " + base64.b64encode(b"\0alice\0pw").decode())
        self.checker.answer(0, right=True)
        self.assertEqual(commands(zed.read()), ["900", "903"])
        self.assertEqual(self.server.chat.nicks["zed"].account, "alice")
        self.assertEqual(self.foo.read(), ["@account=alice :zed!zed@chatroom ACCOUNT alice"])
        self.assertEqual(watcher.read(), [":zed!zed@chatroom ACCOUNT alice"])
        self.assertEqual(commands(zed.type("AUTHENTICATE PLAIN")), ["907"], "once logged in")


class MonitorAcrossProcessesTests(SharedServers):
    """Two real services sharing a real redis-server: a watcher on one is told of people on the other."""

    async def test_a_watcher_on_one_process_is_told_of_arrivals_and_departures_on_the_other(self) -> None:
        first, second = await self.servers(2)
        foo = await self.client(first, irc=True)
        foo.send("CAP REQ :extended-monitor away-notify", "NICK foo", "USER foo 0 * :Foo", "CAP END")
        await foo.until(":foo!foo@chatroom MODE foo ")
        foo.send("MONITOR + bar")
        await foo.until(":irc.test 731 foo :bar")
        carol = await self.client(first)
        await carol.until("HELLO ")
        carol.send("/nick carol", "/watch bar")
        await carol.until("WATCH bar gone")

        bar = await self.client(second, irc=True)
        bar.send("NICK bar", "USER bar 0 * :Bar")
        await bar.until(":bar!bar@chatroom MODE bar ")
        await foo.until(":irc.test 730 foo :bar!bar@chatroom")
        await carol.until("WATCH bar here")
        bar.send("AWAY :afk")
        await foo.until(":bar!bar@chatroom AWAY :afk")
        bar.send("QUIT :bye")
        await foo.until(":irc.test 731 foo :bar")
        await carol.until("WATCH bar gone")


class WatchersReplicatedTests(Replicas):
    """A watch list is its session's, kept by its process alone: the others have nothing to hold or to tell."""

    def test_each_replica_tells_its_own_watchers_of_people_on_another(self) -> None:
        alice, heard_by_alice = self.member(self.a, "alice")
        self.assertEqual(self.a.watch(alice, heard_by_alice, ["bob"]), ())
        self.settle()
        self.member(self.b, "bob")  # takes everyone's record afresh: look at what came in the snapshot's wake
        c = self.process("c")
        carl = self.member(c, "carl")[0]
        c.quit(c.nicks["bob"], "bye")
        self.settle()
        self.assertEqual(heard_by_alice.take(), [Watched("bob", False)])
        c.rename(carl, "Bob")
        self.settle()
        self.assertEqual(heard_by_alice.take(), [Watched("Bob", True)])

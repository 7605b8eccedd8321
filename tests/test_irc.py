"""The IRC front end: IRC clients and our own clients in the same rooms, under the same rules.

Most tests drive the real connection layer in memory with a fake clock; IRCOverTLSTests runs the real service
with Twisted Words' IRC client (twisted.words.protocols.irc.IRCClient) and our own line client over TLS.
"""

from __future__ import annotations

import base64
from typing import Any, NamedTuple

from twisted.internet import reactor
from twisted.internet.defer import Deferred, succeed
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.protocol import connectionDone
from twisted.internet.ssl import Certificate, optionsForClientTLS
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.words.protocols import irc

from chatroom.bus.shared import ELSEWHERE  # a member whose session hears nothing
from chatroom.core.errors import ChatError
from chatroom.core.events import CLIENT_TAGS_MAX, Event, History, Message, Redacted
from chatroom.core.history import HistoryLimits
from chatroom.core.members import Details
from chatroom.core.moderation import Ban, Lockdown, Mask
from chatroom.frontends.irc.commands import CAPABILITIES
from chatroom.frontends.irc.frontend import IRCFrontEnd
from chatroom.frontends.irc.render import Renderer
from chatroom.frontends.irc.wire import parse
from chatroom.server.auth import AuthMode
from chatroom.server.limits import ConnectionLimits
from tests.helpers import MemoryClient, MemoryServer, ServerTestCase, assert_consistent, observe_log
from tests.test_lifecycle import GENEROUS, with_accounts


def renderings(test: SynchronousTestCase) -> list[Event]:
    """The events the IRC renderer formats from now on: each once per set of capabilities, however many hear it."""
    rendered: list[Event] = []
    render = Renderer._render

    def counted(renderer: Renderer, event: Event) -> bytes:
        rendered.append(event)
        return render(renderer, event)

    test.patch(Renderer, "_render", counted)
    return rendered


class IRCServer(MemoryServer):
    """A chat server in memory with both front ends."""

    def __init__(self, *args: Any, history: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dialect = IRCFrontEnd.serving("chatroom", None)  # its own WHOWAS and LUSERS counts, as each server's
        self.chat.history_limits = HistoryLimits(history)  # --history, before any room opens

    def irc(
        self, nick: str | None = None, room: str | None = None, caps: str = "", host: str = "127.0.0.1"
    ) -> MemoryClient:
        """An IRC client from `host`, registered as `nick` (with `caps` requested) and in `room` when asked."""
        client = MemoryClient(self.factory.speaking(self.dialect), host, 41000 + len(self.connections))
        self.connections.append(client)
        if caps:
            client.type(f"CAP REQ :{caps}")
        if nick:
            client.type(f"NICK {nick}", f"USER {nick.lower()} 0 * :{nick} Real", *(["CAP END"] if caps else []))
        if room:
            client.type(f"JOIN {room}")
        for each in self.connections:
            each.read()
        return client


METADATA_LS = "draft/metadata-3=before-connect,max-subs=50,max-keys=20,max-value-bytes=300"  # CAP LS 302's
MULTILINE_LS = "draft/multiline=max-bytes=4096,max-lines=24"
CAPS_WITHOUT_HISTORY = (
    "account-notify account-tag away-notify batch cap-notify draft/channel-rename "
    f"{METADATA_LS} {MULTILINE_LS} draft/read-marker echo-message extended-join extended-monitor labeled-response "
    "message-tags multi-prefix server-time setname userhost-in-names"
)


def commands(lines: list[str]) -> list[str]:
    return [parse(line).command for line in lines]


def tags_of(line: str) -> dict[str, str]:
    """The IRCv3 tags of a line the server sent."""
    raw = parse(line).tags
    return dict(tag.partition("=")[::2] for tag in raw.split(";")) if raw else {}


class RegistrationTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = IRCServer(GENEROUS)

    def test_nick_and_user_give_the_welcome_burst(self) -> None:
        client = self.server.irc()
        lines = client.type("NICK alice", "USER alice 0 * :Alice Liddell")
        self.assertEqual(commands(lines)[:4], ["001", "002", "003", "004"])
        self.assertIn("005", commands(lines))
        self.assertEqual(lines[0], ":chatroom 001 alice :Welcome to the chatroom IRC network, alice!alice@chatroom")
        isupport = " ".join(line for line in lines if parse(line).command == "005")
        for token in ("CASEMAPPING=ascii", "CHANTYPES=#", "PREFIX=(ov)@+", "CHANMODES=Ibe,k,l,Cimnst", "NICKLEN=20"):
            self.assertIn(token, isupport)
        self.assertIn("422", commands(lines), "no message of the day")
        self.assertIn("There are 0 users and 1 invisible", " ".join(lines), "+i from the start, counted so")

    def test_nobody_takes_a_services_name_which_irc_clients_send_passwords_to(self) -> None:
        """A client set up to `/msg NickServ IDENTIFY PASSWORD` on connecting would send it to whoever held it."""
        self.assertEqual(
            self.server.irc().type("NICK NickServ"),
            [
                ":chatroom 432 * NickServ :NickServ is the server's own name, or a service's that IRC clients send"
                " passwords to: choose another"
            ],
        )
        self.assertEqual(self.server.connect().type("/nick chanserv")[0].split()[:2], ["ERR", "BAD_NICK"])
        alice = self.server.irc("alice")
        self.assertEqual(alice.type("NICK OperServ")[0].split()[1], "432")
        self.assertEqual(commands(alice.type("PRIVMSG NickServ :IDENTIFY secret")), ["401"], "to nobody")

    def test_lusers_counts_follow_modes_departures_and_logins(self) -> None:
        """Counted as they change rather than member by member at each registration, and still right."""
        server = IRCServer(GENEROUS)
        checker = with_accounts(self, server)
        server.irc("dave").type("MODE dave -i")
        erin = server.irc("erin")
        erin.type("MODE erin -i")
        server.connect("carol")  # our own protocol: invisible to IRC
        lusers = erin.type("LUSERS")
        self.assertIn(":chatroom 251 erin :There are 2 users and 1 invisible on 1 servers", lusers)
        self.assertIn(":chatroom 252 erin 0 :operator(s) online", lusers)
        erin.type("MODE erin +i", "MODE erin -i", "MODE erin +i")
        server.connections[0].type("QUIT")
        lusers = erin.type("LUSERS")
        self.assertIn(":chatroom 251 erin :There are 0 users and 2 invisible on 1 servers", lusers)
        admin = server.irc()
        admin.type("PASS secret", "NICK ada", "USER ada 0 * :Ada")
        checker.answer(0, right=True)
        self.assertIn(":chatroom 252 erin 1 :operator(s) online", erin.type("LUSERS"))
        admin.type("QUIT")
        self.assertIn(":chatroom 252 erin 0 :operator(s) online", erin.type("LUSERS"))

    def test_commands_before_registering_are_refused(self) -> None:
        client = self.server.irc()
        self.assertEqual(client.type("JOIN #5"), [":chatroom 451 * :You have not registered"])

    def test_capability_negotiation_holds_registration_until_cap_end(self) -> None:
        client = self.server.irc()
        self.assertEqual(
            client.type("CAP LS 302"),
            [f":chatroom CAP * LS :{CAPS_WITHOUT_HISTORY}"],
        )
        self.assertEqual(client.type("NICK alice", "USER alice 0 * :A"), [])
        self.assertEqual(client.type("CAP REQ :multi-prefix nope"), [":chatroom CAP alice NAK :multi-prefix nope"])
        self.assertEqual(client.type("CAP REQ :multi-prefix"), [":chatroom CAP alice ACK :multi-prefix"])
        self.assertEqual(commands(client.type("CAP END"))[0], "001")

    def test_a_taken_or_invalid_nickname_is_refused_with_its_numeric(self) -> None:
        self.server.irc("alice")
        client = self.server.irc()
        self.assertEqual(client.type("NICK ALICE"), [":chatroom 433 * ALICE :nickname ALICE is taken"])
        self.assertEqual(parse(client.type("NICK 9lives")[0]).command, "432")
        self.assertEqual(commands(client.type("NICK [bob]", "USER bob 0 * :Bob"))[0], "001", "IRC's specials")

    def test_a_server_password_is_required_when_set(self) -> None:
        self.server.factory.dialect = IRCFrontEnd.serving("irc.test", "letmein")
        # None given is no guess: it was counted as one, and the right password that followed was refused.
        newcomer = MemoryClient(self.server.factory)
        self.assertEqual(
            newcomer.type("NICK alice", "USER a 0 * :A")[0],
            ":irc.test 464 alice :this server asks for its password (PASS) first",
        )
        then = MemoryClient(self.server.factory)
        self.assertEqual(commands(then.type("PASS letmein", "NICK alice", "USER a 0 * :A"))[0], "001")
        then.type("QUIT")
        wrong = MemoryClient(self.server.factory)
        self.assertEqual(
            wrong.type("PASS guess", "NICK alice", "USER a 0 * :A"),
            [":irc.test 464 alice :wrong server password", "ERROR :Closing link: wrong server password"],
        )
        self.assertTrue(wrong.transport.disconnecting)
        again = MemoryClient(self.server.factory)
        [slowed, _] = again.type("PASS letmein", "NICK alice", "USER a 0 * :A")
        self.assertIn("too many wrong server passwords: try again in 1 s", slowed, "even the right one, for now")
        self.server.clock.advance(1)
        right = MemoryClient(self.server.factory)
        self.assertEqual(commands(right.type("PASS letmein", "NICK alice", "USER a 0 * :A"))[0], "001")


class LoginTests(SynchronousTestCase):
    """Registered nicknames take their password through the same portal and slow-downs as the line protocol."""

    def setUp(self) -> None:
        self.server = IRCServer(GENEROUS)
        self.checker = with_accounts(self, self.server, AuthMode.OPTIONAL)

    def test_a_registered_nickname_needs_its_password(self) -> None:
        client = self.server.irc()
        lines = client.type("NICK alice", "USER a 0 * :A")
        self.assertEqual(lines, [":chatroom 433 * alice :alice needs a password"])
        self.assertEqual(self.server.chat.nicks, {})

    def test_pass_gives_the_password_of_the_nickname_registered(self) -> None:
        client = self.server.irc()
        self.assertEqual(client.type("PASS :correct horse", "NICK alice", "USER a 0 * :A"), [])
        self.assertEqual(self.checker.checks[0][:2], ("alice", "correct horse"))
        self.checker.answer(0, right=True)
        self.assertEqual(commands(client.read())[0], "001")
        self.assertEqual(self.server.chat.nicks["alice"].account, "alice")

    def test_sasl_plain_logs_in_before_registering(self) -> None:
        client = self.server.irc()
        client.type("CAP LS 302", "CAP REQ :sasl")
        self.assertEqual(client.type("AUTHENTICATE PLAIN"), ["AUTHENTICATE +"])
        credentials = base64.b64encode(b"\0alice\0correct horse").decode()
        self.assertEqual(client.type(f"AUTHENTICATE {credentials}"), [])
        self.checker.answer(0, right=True)
        self.assertEqual(
            commands(client.read()), ["900", "903"], "RPL_LOGGEDIN then RPL_SASLSUCCESS, before registering"
        )
        lines = client.type("NICK alice", "USER a 0 * :A", "CAP END")
        self.assertEqual(commands(lines)[0], "001")
        self.assertEqual(self.server.chat.nicks["alice"].account, "alice")

    def test_after_sasl_another_nickname_still_acts_as_the_account_and_may_go_back(self) -> None:
        client = self.server.irc()
        client.type("CAP REQ :sasl", "AUTHENTICATE PLAIN")
        client.type("AUTHENTICATE " + base64.b64encode(b"alice\0alice\0correct horse").decode())
        self.checker.answer(0, right=True)
        client.read()
        client.type("NICK zed", "USER z 0 * :Z", "CAP END")
        self.assertEqual(self.server.chat.nicks["zed"].account, "alice")
        self.assertEqual(client.type("NICK bob"), [":chatroom 433 zed bob :bob needs a password"], "not another's")
        self.assertEqual(client.type("NICK alice"), [":zed!z@chatroom NICK :alice"], "her own, without a password")
        self.assertEqual(len(self.checker.checks), 1)

    def test_an_abort_is_906_whether_an_exchange_runs_or_not(self) -> None:
        """IRCv3 SASL: `AUTHENTICATE *` aborts, answered 906 (irssi sends it when its own timer ends, after a 904
        or a login by other means); it is never read as a mechanism."""
        aborted = [":chatroom 906 * :SASL authentication aborted"]
        client = self.server.irc(caps="sasl")
        client.type("AUTHENTICATE PLAIN")
        self.assertEqual(client.type("AUTHENTICATE *"), aborted, "during an exchange")
        self.assertEqual(client.type("AUTHENTICATE *"), aborted, "with none")
        self.assertEqual(commands(self.sasl(client, "correct horse", right=True)), ["900", "903"])
        self.assertEqual(client.type("AUTHENTICATE *"), aborted, "once logged in")

    def sasl(self, client: MemoryClient, password: str, right: bool) -> list[str]:
        """A SASL PLAIN login as alice; if its password is checked, the check's verdict; the client's answer."""
        checks = len(self.checker.checks)
        client.type("AUTHENTICATE PLAIN")
        answer = client.type("AUTHENTICATE " + base64.b64encode(f"\0alice\0{password}".encode()).decode())
        if len(self.checker.checks) > checks:
            self.checker.answer(checks, right)
        return answer + client.read()

    def test_a_wrong_sasl_password_is_free_once_then_slows_the_next_guess(self) -> None:
        """irctest's testRetryAfterFail: the right password right after a wrong one waited a second, refused."""
        wrong = [":chatroom 904 * :SASL authentication failed: wrong nickname or password"]
        typo = self.server.irc(caps="sasl", host="192.0.2.1")
        self.assertEqual(self.sasl(typo, "corect horse", right=False), wrong)
        self.assertEqual(commands(self.sasl(typo, "correct horse", right=True)), ["900", "903"], "at once")
        guesser = self.server.irc(caps="sasl", host="198.51.100.1")
        self.assertEqual(self.sasl(guesser, "guess", right=False) + self.sasl(guesser, "again", right=False), wrong * 2)
        [slowed] = self.sasl(guesser, "correct horse", right=True)
        self.assertIn("904 * :SASL authentication failed: too many failed logins: try again in 1 s", slowed)
        self.assertEqual(len(self.checker.checks), 4, "the third guess was never checked")
        self.server.clock.advance(1)
        self.assertEqual(commands(self.sasl(guesser, "correct horse", right=True)), ["900", "903"])


class ConversationTests(SynchronousTestCase):
    """IRC clients and line clients share rooms, nicknames and order."""

    def setUp(self) -> None:
        self.server = IRCServer(GENEROUS)
        self.line = self.server.connect("carol", "5")
        self.alice = self.server.irc("alice", "#5")
        self.bob = self.server.irc("bob", "#5", caps="echo-message")

    def test_room_5_is_channel_5_and_everyone_hears_the_same_order(self) -> None:
        self.line.send(b"one\n")
        self.alice.send(b"PRIVMSG #5 :two\r\n")
        self.line.send(b"three\n")
        said = [":carol!carol@chatroom PRIVMSG #5 :one", ":alice!alice@chatroom PRIVMSG #5 :two"]
        said.append(":carol!carol@chatroom PRIVMSG #5 :three")
        self.assertEqual(self.bob.read(), said, "bob asked for echo-message, but these are not his anyway")
        self.assertEqual(self.alice.read(), [said[0], said[2]], "without echo-message, no copy of one's own")
        self.assertEqual(self.line.read(), ["MSG #5 carol :one", "MSG #5 alice :two", "MSG #5 carol :three"])
        self.bob.send(b"PRIVMSG #5 :four\r\n")
        self.assertEqual(self.bob.read(), [":bob!bob@chatroom PRIVMSG #5 :four"], "echo-message: his own, once")

    def test_joins_parts_nick_changes_and_quits_cross_front_ends(self) -> None:
        self.alice.type("NICK [alice]")
        self.assertEqual(self.line.read(), ["NICK alice [alice]"])
        self.assertEqual(self.bob.read(), [":alice!alice@chatroom NICK :[alice]"])
        self.line.type("/part 5 bye")
        self.assertEqual(self.bob.read(), [":carol!carol@chatroom PART #5 :bye"])
        self.alice.type("QUIT :gone")
        self.assertEqual(self.bob.read(), [":[alice]!alice@chatroom QUIT :Quit: gone"])
        assert_consistent(self, self.server.factory)

    def test_private_messages_cross_front_ends(self) -> None:
        self.alice.type("PRIVMSG carol :hi carol")
        self.assertEqual(self.line.read(), ["PRIV alice carol :hi carol"])
        self.line.type("/msg alice hi alice")
        self.assertEqual(self.alice.read(), [":carol!carol@chatroom PRIVMSG alice :hi alice"])
        self.assertEqual(
            self.alice.type("PRIVMSG nobody :hello"), [":chatroom 401 alice nobody :nobody is called nobody"]
        )
        self.assertEqual(self.alice.type("NOTICE nobody :hello"), [], "a NOTICE is never answered")

    def test_targets_past_the_fourth_are_refused_with_407_not_dropped_unseen(self) -> None:
        for nick in ("t1", "t2", "t3", "t4", "t5", "t6"):
            self.server.irc(nick)
        self.assertEqual(
            self.alice.type("PRIVMSG t1,t2,t3,t4,t5,t6 :hello all"),
            [":chatroom 407 alice t5 :Too many targets: only the first 4 were served"],
        )
        heard = [bool(client.read()) for client in self.server.connections[-6:]]
        self.assertEqual(heard, [True, True, True, True, False, False], "the first 4, as TARGMAX=PRIVMSG:4 says")
        self.assertEqual(self.alice.type("NOTICE t1,t2,t3,t4,t5 :hello"), [], "a NOTICE is never answered")
        whois = self.alice.type("WHOIS t1,t2,t3,t4,t5")
        self.assertEqual(parse(whois[0]).params[:2], ["alice", "t5"])
        self.assertEqual(commands(whois).count("318"), 4, "WHOIS and NAMES keep TARGMAX too")
        self.assertEqual(commands(self.alice.type("NAMES #1,#2,#3,#4,#5")), ["407", "366"])

    def test_an_action_and_a_notice_keep_their_kind(self) -> None:
        self.alice.type("PRIVMSG #5 :\x01ACTION waves\x01", "NOTICE #5 :bot output")
        self.assertEqual(self.line.read(), ["ACTION #5 alice :waves", "MSG #5 alice :bot output"])
        self.assertEqual(
            self.bob.read(),
            [":alice!alice@chatroom PRIVMSG #5 :\x01ACTION waves\x01", ":alice!alice@chatroom NOTICE #5 :bot output"],
        )

    def test_a_long_line_of_our_protocol_reaches_irc_whole(self) -> None:
        text = "word " * 700
        self.line.type(text.strip())
        [got] = self.bob.read()
        self.assertEqual(parse(got).params, ["#5", text.strip()])

    def test_an_event_is_rendered_once_for_every_irc_member(self) -> None:
        dave = self.server.irc("dave", "#5")
        rendered = renderings(self)
        self.line.type("hello")
        self.assertEqual(len(rendered), 1, "alice, bob and dave share one rendering")
        self.assertEqual(self.alice.read(), dave.read())

    def test_names_and_who_show_both_front_ends(self) -> None:
        self.assertEqual(
            self.alice.type("NAMES #5"),
            [":chatroom 353 alice = #5 :@carol alice bob", ":chatroom 366 alice #5 :End of /NAMES list"],
        )
        who = self.alice.type("WHO #5")
        self.assertEqual([parse(line).params[5] for line in who[:-1]], ["carol", "alice", "bob"])


class ModerationTests(SynchronousTestCase):
    """MODE, KICK and INVITE are the core's moderation: the same rules, seen from both front ends."""

    def setUp(self) -> None:
        self.server = IRCServer(GENEROUS)
        self.op = self.server.irc("op", "#5")
        self.line = self.server.connect("carol", "5")
        self.guest = self.server.irc("guest", "#5")

    def test_operator_modes_and_their_refusals(self) -> None:
        self.assertEqual(
            self.guest.type("MODE #5 +o guest"),
            [":chatroom 482 guest #5 :only an operator of #5 may give or take operator and voice"],
        )
        self.op.type("MODE #5 +v guest")
        self.assertEqual(self.line.read(), ["VOICE #5 op guest"])
        self.assertEqual(self.guest.read(), [":op!op@chatroom MODE #5 +v guest"])
        self.assertEqual(parse(self.op.type("MODE #5 +o nobody")[0]).command, "401")
        self.assertEqual(parse(self.op.type("MODE #nowhere +o guest")[0]).command, "403")

    def test_settings_and_the_channel_mode_reply(self) -> None:
        self.op.type("MODE #5 +ik secret")
        self.assertEqual(self.line.read(), ["SET #5 op invite :on", "SET #5 op key :secret"])
        reply = self.op.type("MODE #5")
        self.assertEqual(parse(reply[0]).params, ["op", "#5", "+nikt", "secret"])
        self.assertEqual(parse(reply[1]).command, "329")
        outsider = self.server.irc("outsider")
        self.assertEqual(parse(outsider.type("JOIN #5")[0]).command, "473")

    def test_modes_changed_together_are_one_line_and_n_lets_outsiders_speak(self) -> None:
        self.op.type("MODE #5 +mv-t guest")
        self.assertEqual(self.guest.read(), [":op!op@chatroom MODE #5 +mv-t guest"])
        self.assertEqual(self.line.read(), ["SET #5 op moderated :on", "VOICE #5 op guest", "SET #5 op topiclock :off"])
        outsider = self.server.irc("outsider")
        self.assertEqual(parse(outsider.type("PRIVMSG #5 :hi")[0]).command, "404")
        self.op.type("MODE #5 -nm")
        self.assertEqual(self.guest.read(), [":op!op@chatroom MODE #5 -nm"])
        self.assertEqual(outsider.type("PRIVMSG #5 :hi"), [])
        self.assertEqual(self.guest.read(), [":outsider!outsider@chatroom PRIVMSG #5 :hi"])

    def test_a_message_to_the_operators_only(self) -> None:
        self.op.type("MODE #5 +o carol")
        self.line.read()
        self.guest.type("PRIVMSG @#5 :psst, operators")
        self.assertEqual(self.op.read(), [":guest!guest@chatroom PRIVMSG @#5 :psst, operators"])
        self.assertEqual(self.line.read(), ["MSG @#5 guest :psst, operators"])
        bystander = self.server.irc("bystander", "#5")
        self.guest.type("PRIVMSG @#5 :again")
        self.assertEqual(bystander.read(), [], "not an operator: not told")

    def test_an_invite_exception_lets_a_mask_in(self) -> None:
        self.op.type("MODE #5 +i")
        outsider = self.server.irc("outsider")
        self.op.type("MODE #5 +I outsider")
        self.assertEqual(self.line.read()[-1], "ALLOW #5 op outsider!*@*")
        self.assertEqual(self.op.type("MODE #5 I")[0], ":chatroom 346 op #5 outsider!*@*")
        self.assertEqual(commands(outsider.type("JOIN #5"))[0], "JOIN")

    def test_a_secret_room_is_unlisted_to_outsiders(self) -> None:
        self.op.type("MODE #5 +s")
        outsider = self.server.irc("outsider")
        self.assertEqual(commands(outsider.type("LIST")), ["321", "323"])
        self.assertEqual(commands(outsider.type("NAMES #5")), ["366"])
        self.assertEqual(parse(self.op.type("NAMES #5")[0]).params[:3], ["op", "@", "#5"], "@ marks a secret room")

    def test_kick_and_ban(self) -> None:
        self.op.type("KICK #5 carol :enough")
        self.assertEqual(self.line.read(), ["KICK #5 op carol :enough", "CURRENT"])
        self.assertEqual(self.guest.read(), [":op!op@chatroom KICK #5 carol :enough"])
        self.op.type("MODE #5 +b guest")
        self.assertEqual(
            self.guest.read(), [":op!op@chatroom MODE #5 +b guest!*@*", ":op!op@chatroom KICK #5 guest :banned"]
        )
        self.assertEqual(parse(self.guest.type("JOIN #5")[0]).command, "474")
        self.assertEqual(parse(self.op.type("MODE #5 +b")[0]).params[:3], ["op", "#5", "guest!*@*"])

    def test_a_timed_ban_that_runs_out_is_taken_off_irc_clients_lists_by_the_server(self) -> None:
        self.op.type("MODE #5 +o carol")
        self.line.type("/ban m:guest 10m")  # IRC's MODE has no duration: our protocol gives it
        self.assertEqual(self.guest.read()[-1], ":carol!carol@chatroom MODE #5 +b m:guest!*@*")
        self.server.clock.advance(600)
        self.assertEqual(self.guest.read()[-1], ":chatroom MODE #5 -b m:guest!*@*")

    def test_an_account_is_banned_by_an_extended_ban(self) -> None:
        """`MODE +b $a:NAME`, which docs/irc.md offers, was refused as an invalid mask."""
        self.op.type("MODE #5 +b $a:mallory", "MODE #5 +b ~a:Olga")
        self.assertEqual(self.line.read(), ["BAN #5 op account:mallory - :", "BAN #5 op account:Olga - :"])
        self.op.type("MODE #5 -b $a:MALLORY")
        self.assertEqual(self.line.read(), ["UNBAN #5 op account:mallory - :"])

    def test_kick_past_the_fourth_nickname_is_refused_with_407(self) -> None:
        said = self.op.type("KICK #5 n1,n2,n3,n4,guest :all of you")
        self.assertEqual(parse(said[0]).params[:2], ["op", "guest"])
        self.assertEqual(commands(said), ["407", "401", "401", "401", "401"])
        self.assertEqual(self.guest.read(), [], "guest, the fifth, stays")

    def test_invite(self) -> None:
        self.op.type("MODE #5 +i")
        newcomer = self.server.irc("newcomer")
        self.assertEqual(self.op.type("INVITE newcomer #5"), [":chatroom 341 op newcomer #5"])
        self.assertEqual(newcomer.read(), [":op!op@chatroom INVITE newcomer #5"])
        self.assertEqual(commands(newcomer.type("JOIN #5"))[0], "JOIN")


class WallopsTests(SynchronousTestCase):
    """WALLOPS is the core's: an administrator's word to those with +w, the sender too."""

    def test_wallops_reach_plus_w_and_are_refused_to_others(self) -> None:
        server = IRCServer(GENEROUS)
        checker = with_accounts(self, server)
        listener, other = server.irc("erin"), server.irc("dave")
        listener.type("MODE erin +w")
        ada = server.irc()
        ada.type("PASS secret", "NICK ada", "USER ada 0 * :Ada")
        checker.answer(0, right=True)
        ada.read()
        said = [":ada!ada@chatroom WALLOPS :restarting at noon"]
        self.assertEqual(ada.type("WALLOPS :restarting at noon"), said)
        self.assertEqual((listener.read(), other.read()), (said, []))
        refused = [":chatroom 481 dave :only a server administrator may send wallops"]
        self.assertEqual(other.type("WALLOPS :me too"), refused)
        listener.type("MODE erin -w")
        ada.type("WALLOPS :again")
        self.assertEqual(listener.read(), [], "-w: no more")


class ClientTagsTests(SynchronousTestCase):
    """IRCv3 client-only tags (`+draft/react`, `+typing`...), on TAGMSG, PRIVMSG and NOTICE: relayed to clients that
    asked for message-tags, with a msgid, never kept, and bounded."""

    def setUp(self) -> None:
        self.server = IRCServer(GENEROUS, history=100)
        self.alice = self.server.irc("alice", "#5", caps="message-tags echo-message draft/chathistory batch")
        self.bob = self.server.irc("bob", "#5", caps="message-tags")
        self.carol = self.server.irc("carol", "#5")  # no message-tags
        self.line = self.server.connect("dora", "5")

    def test_a_reaction_reaches_those_who_asked_for_tags_with_an_id_and_is_never_kept(self) -> None:
        [echo] = self.alice.type(r"@+draft/react=\:-)\s;+draft/reply=x1;label=no;fizz=buzz TAGMSG #5")
        [relayed] = self.bob.read()
        self.assertEqual(echo, relayed, "one rendering: the echo is what bob is sent")
        self.assertEqual(parse(relayed)[1:], ("TAGMSG", ["#5"]))
        tags = tags_of(relayed)
        self.assertTrue(tags.pop("msgid"))
        self.assertEqual(tags, {"+draft/react": r"\:-)\s", "+draft/reply": "x1"}, "escaped as sent; no server tags")
        self.assertEqual(self.carol.read(), [], "a client without message-tags is sent no TAGMSG")
        self.assertEqual(self.line.read(), ["REACT #5 alice x1 :;-) "], "the line protocol shows the reaction")
        history = self.alice.type("CHATHISTORY LATEST #5 * 10")
        self.assertEqual(commands(history), ["BATCH", "BATCH"], "nothing kept")

    def test_client_tags_on_privmsg_and_notice_are_relayed_and_the_line_kept_without_them(self) -> None:
        self.alice.type("@+draft/reply=abc;+typing=done PRIVMSG #5 :yes", "@+draft/reply=abc NOTICE #5 :fyi")
        privmsg, notice = self.bob.read()
        self.assertEqual((tags_of(privmsg)["+draft/reply"], tags_of(privmsg)["+typing"]), ("abc", "done"))
        self.assertEqual(tags_of(notice)["+draft/reply"], "abc")
        self.assertEqual(
            self.carol.read(), [":alice!alice@chatroom PRIVMSG #5 :yes", ":alice!alice@chatroom NOTICE #5 :fyi"]
        )
        history = self.alice.type("CHATHISTORY LATEST #5 * 10")
        kept = [tag for line in history for tag in tags_of(line) if tag.startswith("+")]
        self.assertEqual(kept, ["+draft/reply", "+draft/reply"], "what a line answers is kept with it; no other tag")

    def test_privately_too_with_an_id(self) -> None:
        [echo] = self.alice.type("@+typing=active TAGMSG bob")
        [received] = self.bob.read()
        self.assertEqual(echo, received)
        self.assertEqual(parse(received)[1:], ("TAGMSG", ["bob"]))
        self.assertEqual(set(tags_of(received)), {"+typing", "msgid"})
        self.alice.type("TAGMSG carol", "@+typing=active TAGMSG carol")
        self.assertEqual(self.carol.read(), [], "without tags, nothing; to carol (no message-tags), nothing")
        self.bob.type("PRIVMSG alice :hi")
        [said] = self.alice.read()
        self.assertTrue(tags_of(said)["msgid"], "a private message has an id to reply to, kept or not")

    def test_a_tagmsg_without_client_tags_is_nothing_to_relay_as_in_ergo(self) -> None:
        """Ergo drops it without a word ("nothing to do"), before looking at its target: so does chatroom. A client
        that wants an answer labels it, and is answered ACK."""
        dave = self.server.irc("dave", "#5", caps="message-tags batch labeled-response")
        self.assertEqual(dave.type("TAGMSG #5", "@fizz=buzz TAGMSG #nowhere"), [])
        self.assertEqual(dave.type("@label=t1 TAGMSG #5"), ["@label=t1 :chatroom ACK"])
        self.assertEqual((self.alice.read(), self.bob.read(), self.line.read()), ([], [], []))

    def test_tags_past_4094_bytes_are_refused_and_not_relayed(self) -> None:
        most = "@+baz=" + "a" * (4094 - len("+baz=")) + " TAGMSG #5"
        [echo] = self.alice.type(most)
        self.assertEqual(len(tags_of(echo)["+baz"]), 4089)
        self.bob.read()
        self.assertEqual(
            self.alice.type(most.replace("@+baz=", "@+baz=a")),
            [":chatroom 417 alice :Input line was too long"],
        )
        self.assertEqual(self.bob.read(), [])

    def test_the_core_bounds_the_tags_it_carries_and_wants_text_or_tags(self) -> None:
        chat = self.server.chat
        alice = chat.person("alice")
        assert alice is not None
        error = self.assertRaises(ChatError, chat.private, alice, "bob", "", tags={"+x": "a" * CLIENT_TAGS_MAX})
        self.assertEqual(error.code, "TOO_LONG")
        self.assertEqual(self.assertRaises(ChatError, chat.say, alice, "#5", "", tags={}).code, "NO_TEXT")
        self.assertEqual(self.bob.read(), [])

    def test_isupport_denies_no_client_tag(self) -> None:
        client = self.server.irc()
        answer = client.type("NICK eve", "USER eve 0 * :Eve")
        self.assertNotIn("CLIENTTAGDENY", " ".join(answer))
        self.assertIn("UTF8ONLY", " ".join(answer))


class BadInputTests(SynchronousTestCase):
    """Bad input gets the right numeric, never a traceback, and nobody else notices."""

    def setUp(self) -> None:
        self.log = observe_log(self)
        self.server = IRCServer(GENEROUS)
        self.alice = self.server.irc("alice", "#5")
        self.bob = self.server.irc("bob", "#5")

    def test_each_bad_line_has_its_answer(self) -> None:
        self.assertEqual(self.alice.type("FROB"), [":chatroom 421 alice FROB :Unknown command"])
        self.assertEqual(self.alice.type("JOIN"), [":chatroom 461 alice JOIN :Not enough parameters"])
        self.assertEqual(self.alice.type("PRIVMSG #5 :" + "x" * 600), [":chatroom 417 alice :Input line was too long"])
        # A line within 510 bytes whose relayed form, with alice's nick!user@host before it, would not be
        # (irctest's websocket.py truncation tests): refused, not relayed longer than IRC's 512 bytes.
        overhead = len(":alice!alice@chatroom PRIVMSG #5 :")
        self.assertEqual(
            self.alice.type("PRIVMSG #5 :" + "x" * (510 - overhead + 1)),
            [":chatroom 417 alice :Input line was too long: relayed, it would pass 512 bytes"],
        )
        self.assertEqual(self.alice.type("NOTICE #5 :" + "x" * 490), [], "a NOTICE is never answered")
        self.assertEqual(self.bob.read(), [])
        self.alice.type("PRIVMSG #5 :" + "x" * (510 - overhead))
        self.assertEqual(self.bob.read(), [":alice!alice@chatroom PRIVMSG #5 :" + "x" * (510 - overhead)])
        self.alice.send(b"PRIVMSG #5 :caf\xe9\r\n")
        self.assertEqual(
            self.alice.read(), [":chatroom FAIL PRIVMSG INVALID_UTF8 :the line is not valid UTF-8; it was ignored"]
        )
        self.alice.send(b"@+x=\xe9 caf\xe9 #5\r\n")  # no command to name
        self.assertEqual(
            self.alice.read(), [":chatroom FAIL * INVALID_UTF8 :the line is not valid UTF-8; it was ignored"]
        )
        [refused] = self.alice.type("PRIVMSG #5 :\x1b[2Jcleared")
        self.assertIn("control characters are not allowed", refused)
        self.assertEqual(self.bob.read(), [], "nothing reached anyone")
        self.assertFalse([event for event in self.log if event.get("log_failure")], "no traceback")

    def test_a_flood_is_slowed_not_dropped(self) -> None:
        server = IRCServer(ConnectionLimits(flood_burst=5, flood_rate=1.0))
        flooder, bob = server.irc("flooder", "#5"), server.irc("bob", "#5")
        server.clock.advance(10)  # registering spent tokens: a full bucket again
        flooder.type(*(f"PRIVMSG #5 :{number}" for number in range(10)))
        heard = [parse(line).params[1] for line in bob.read()]
        self.assertLess(len(heard), 10, "past the burst, lines wait")
        for _ in range(10):
            server.clock.advance(1)
        heard += [parse(line).params[1] for line in bob.read()]
        self.assertEqual(heard, [str(number) for number in range(10)], "all of them, in order")

    def test_whowas_remembers_who_left_for_a_while(self) -> None:
        self.bob.type("QUIT")
        self.alice.read()
        reply = self.alice.type("WHOWAS bob")
        self.assertEqual(parse(reply[0]).params, ["alice", "bob", "bob", "chatroom", "*", "bob Real"])
        self.server.clock.advance(3601)
        self.assertEqual(commands(self.alice.read()), ["PING"], "she was idle meanwhile")
        self.assertEqual(commands(self.alice.type("WHOWAS bob")), ["406", "369"])


class HistoryTests(SynchronousTestCase):
    """Message ids and times as IRCv3 tags, draft/chathistory, playback on joining, and redaction (--history)."""

    def setUp(self) -> None:
        self.server = IRCServer(GENEROUS, history=100)
        self.line = self.server.connect("carol", "5")
        self.alice = self.server.irc("alice", "#5", caps="batch server-time message-tags draft/chathistory")
        self.ids: list[str] = []
        self.times: list[str] = []

    def say(self, count: int) -> None:
        """carol says `line 0`, `line 1`... a second apart; their ids and times as the line protocol shows them."""
        for number in range(count):
            self.server.clock.advance(1)
            self.line.send(f"line {number}\n".encode())
            [said] = self.line.read(stamps=True)
            _, _, _, msgid, time = said.partition(" :")[0].split()
            self.ids.append(msgid)
            self.times.append(time)
        self.alice.read()

    def batch(self, number: int, target: str, *said: int) -> list[str]:
        """A chathistory batch of carol's lines, as alice (batch, server-time, message-tags) is sent it."""
        lines = [
            f"@batch={number};msgid={self.ids[index]};time={self.times[index]} "
            f":carol!carol@chatroom PRIVMSG #5 :line {index}"
            for index in said
        ]
        return [f":chatroom BATCH +{number} chathistory {target}", *lines, f":chatroom BATCH -{number}"]

    def test_room_messages_carry_the_rooms_id_and_time_with_the_capabilities(self) -> None:
        plain = self.server.irc("plain", "#5")
        timed = self.server.irc("timed", "#5", caps="server-time")
        tagged = self.server.irc("tagged", "#5", caps="server-time message-tags")
        self.say(1)
        said = ":carol!carol@chatroom PRIVMSG #5 :line 0"
        self.assertEqual(plain.read(), [said])
        self.assertEqual(timed.read(), [f"@time={self.times[0]} {said}"], "the line protocol's time: the room's")
        self.assertEqual(tagged.read(), [f"@msgid={self.ids[0]};time={self.times[0]} {said}"])
        self.server.irc("dave").type("JOIN #5")
        joined = ":dave!dave@chatroom JOIN #5"
        self.assertEqual(tagged.read(), [f"@time=1970-01-01T00:00:01.000Z {joined}"], "no msgid but on messages")
        self.assertEqual(plain.read(), [joined])

    def test_a_messages_time_is_the_one_the_room_gave_it_not_the_clock(self) -> None:
        """With several processes, a message is rendered on each at its own moment: its time is the log's."""
        tagged = self.server.irc("tagged", caps="server-time message-tags")
        said = Message("#5", "carol", "hi", id="lq3k9d2a-7", time="2026-11-23T09:30:00.250Z")
        tagged.connection.deliver(said)
        self.assertEqual(
            tagged.read(), ["@msgid=lq3k9d2a-7;time=2026-11-23T09:30:00.250Z :carol!carol@chatroom PRIVMSG #5 :hi"]
        )

    def test_a_message_is_rendered_once_for_each_set_of_capabilities(self) -> None:
        clients = [self.server.irc(f"plain{n}", "#5") for n in range(2)]
        clients += [self.server.irc(f"timed{n}", "#5", caps="server-time") for n in range(2)]
        rendered = renderings(self)
        self.say(1)
        self.assertEqual(len(rendered), 3, "plain, timed, and alice's (server-time and message-tags)")
        self.assertEqual(clients[0].read(), clients[1].read())
        self.assertEqual(clients[2].read(), clients[3].read())

    def test_chathistory_latest_before_after_around_and_between(self) -> None:
        self.say(6)
        self.assertEqual(self.alice.type("CHATHISTORY LATEST #5 * 10"), self.batch(1, "#5", 0, 1, 2, 3, 4, 5))
        self.assertEqual(self.alice.type("CHATHISTORY LATEST #5 * 2"), self.batch(2, "#5", 4, 5))
        self.assertEqual(self.alice.type(f"CHATHISTORY LATEST #5 msgid={self.ids[3]} 10"), self.batch(3, "#5", 4, 5))
        self.assertEqual(self.alice.type(f"CHATHISTORY LATEST #5 timestamp={self.times[3]} 1"), self.batch(4, "#5", 5))
        self.assertEqual(self.alice.type(f"CHATHISTORY BEFORE #5 msgid={self.ids[3]} 2"), self.batch(5, "#5", 1, 2))
        self.assertEqual(
            self.alice.type(f"CHATHISTORY BEFORE #5 timestamp={self.times[3]} 10"), self.batch(6, "#5", 0, 1, 2)
        )
        self.assertEqual(self.alice.type(f"CHATHISTORY AFTER #5 msgid={self.ids[1]} 2"), self.batch(7, "#5", 2, 3))
        self.assertEqual(
            self.alice.type(f"CHATHISTORY AFTER #5 timestamp={self.times[1]} 500"), self.batch(8, "#5", 2, 3, 4, 5)
        )
        self.assertEqual(self.alice.type(f"CHATHISTORY AROUND #5 msgid={self.ids[3]} 3"), self.batch(9, "#5", 2, 3, 4))
        self.assertEqual(
            self.alice.type(f"CHATHISTORY BETWEEN #5 msgid={self.ids[1]} timestamp={self.times[4]} 10"),
            self.batch(10, "#5", 2, 3),
        )
        self.assertEqual(
            self.alice.type(f"CHATHISTORY BETWEEN #5 msgid={self.ids[4]} msgid={self.ids[0]} 2"),
            self.batch(11, "#5", 2, 3),
            "backwards: the nearest to the start",
        )
        self.assertEqual(
            self.alice.type("CHATHISTORY latest #5 * 9999"), self.batch(12, "#5", 0, 1, 2, 3, 4, 5), "500 at most"
        )

    def test_a_chathistory_answer_is_made_only_as_its_client_reads(self) -> None:
        """The 500 lines of one answer could be 2 MB: a client that is not reading is not made them yet."""
        self.say(100)  # all it keeps
        queue = self.alice.connection.queue
        queue.pauseProducing()  # the transport is full: the client is not reading
        self.alice.send(b"CHATHISTORY LATEST #5 * 500\r\n")
        self.assertEqual(len(queue), 0, "nothing made, nothing held")
        self.assertEqual(self.alice.read(), [])
        queue.resumeProducing()
        self.assertEqual(self.alice.read(), self.batch(1, "#5", *range(100)))

    def test_topic_changes_are_replayed_in_their_place_only_with_event_playback(self) -> None:
        """draft/event-playback: a topic change is kept among the lines, with the id and time its TOPIC carried, and
        so is a TAGMSG whose sender asks it kept (+draft/persist, as Ergo's tagmsg-storage)."""
        playing = self.server.irc("bob", "#5", caps="batch server-time message-tags draft/chathistory "
                                  "draft/event-playback")  # fmt: skip
        self.say(1)
        self.server.clock.advance(1)
        self.line.type("/topic exams on friday")  # carol, the room's operator
        [said, told] = playing.read()
        self.assertRegex(told, r"^@msgid=\S+;time=1970-01-01T00:00:02.000Z :carol!carol@chatroom TOPIC #5 :exams on fr")
        self.alice.read()
        playing.type("@+typing=active TAGMSG #5")  # relayed, not kept
        playing.type("@+draft/persist;+example=yes TAGMSG #5")  # kept, as its sender asked
        [_, tagged] = self.alice.read()
        self.assertRegex(tagged, r"^@\+draft/persist;\+example=yes;msgid=\S+;time=\S+ :bob!bob@chatroom TAGMSG #5$")
        self.assertEqual(
            playing.type("CHATHISTORY LATEST #5 * 10"),
            [":chatroom BATCH +1 chathistory #5", "@batch=1;" + said[1:], "@batch=1;" + told[1:],
             "@batch=1;" + tagged[1:], ":chatroom BATCH -1"],
        )  # fmt: skip
        self.assertEqual(self.alice.type("CHATHISTORY LATEST #5 * 10"), self.batch(1, "#5", 0), "messages only")
        self.line.read()  # bob's typing notice: a line-protocol client is told of it (TYPING) too
        self.assertEqual(self.line.type("/history 5")[0], f"SAID #5 carol {self.ids[0]} {self.times[0]} :line 0")

    def test_chathistory_targets_lists_the_channels_with_lines_between_two_times(self) -> None:
        """What gamja asks on coming back (then BETWEEN for each): `Unknown subcommand` left the lines it missed
        unshown, and a red error on every reconnection."""
        self.say(1)  # #5's last line: line 0, at 1 s
        self.line.type("/join 6")
        self.alice.type("JOIN #6", "JOIN #7")
        self.server.clock.advance(1)
        self.line.type("in six")  # #6's last line, at 2 s
        six = self.alice.read()[-1].split(";time=")[1].split(" ")[0]
        start, end = "timestamp=1970-01-01T00:00:00.000Z", "timestamp=2262-01-01T00:00:00.000Z"  # the clock: 1970
        self.assertEqual(
            self.alice.type(f"CHATHISTORY TARGETS {start} {end} 10"),
            [
                ":chatroom BATCH +1 draft/chathistory-targets",
                f"@batch=1 :chatroom CHATHISTORY TARGETS #5 {self.times[0]}",
                f"@batch=1 :chatroom CHATHISTORY TARGETS #6 {six}",
                ":chatroom BATCH -1",
            ],
            "the earliest first; #7, with nothing said, is not listed",
        )
        self.assertEqual(
            self.alice.type(f"CHATHISTORY TARGETS {end} {start} 1")[1:-1],
            [f"@batch=2 :chatroom CHATHISTORY TARGETS #5 {self.times[0]}"],
            "either order; at most the limit",
        )
        after_five = f"timestamp={self.times[0]}"
        self.assertEqual(
            self.alice.type(f"CHATHISTORY TARGETS {after_five} timestamp={six} 10"),
            [":chatroom BATCH +3 draft/chathistory-targets", ":chatroom BATCH -3"],
            "both times excluded",
        )
        bare = self.server.irc("bare", "#5", caps="draft/chathistory")
        self.assertEqual(
            bare.type(f"CHATHISTORY TARGETS {start} {end} 10"),
            [f":chatroom CHATHISTORY TARGETS #5 {self.times[0]}"],
            "without batch: the lines alone",
        )
        fail = ":chatroom FAIL CHATHISTORY"
        self.assertEqual(
            self.alice.type(f"CHATHISTORY TARGETS msgid={self.ids[0]} {end} 10"),
            [
                f"{fail} INVALID_PARAMS TARGETS :Invalid parameters: "
                "give timestamp=YYYY-MM-DDThh:mm:ss.sssZ twice, then a limit from 1"
            ],
        )
        self.assertEqual(
            self.alice.type(f"CHATHISTORY TARGETS {start} {end}"),
            [f"{fail} NEED_MORE_PARAMS TARGETS :Missing parameters"],
        )

    def test_chathistory_without_batch_or_tags(self) -> None:
        self.say(2)
        bare = self.server.irc("bare", "#5", caps="draft/chathistory")
        self.assertEqual(bare.read(), [], "no playback for a client that asks")
        self.assertEqual(
            bare.type("CHATHISTORY LATEST #5 * 10"),
            [":carol!carol@chatroom PRIVMSG #5 :line 0", ":carol!carol@chatroom PRIVMSG #5 :line 1"],
        )

    def test_chathistory_refusals(self) -> None:
        self.say(1)
        fail = ":chatroom FAIL CHATHISTORY"
        for asked, answer in (
            ("CHATHISTORY SEARCH #5 hello 10", f"{fail} UNKNOWN_COMMAND SEARCH :Unknown subcommand"),
            ("CHATHISTORY LATEST #5 *", f"{fail} NEED_MORE_PARAMS LATEST :Missing parameters"),
            ("CHATHISTORY BETWEEN #5 * 10", f"{fail} NEED_MORE_PARAMS BETWEEN :Missing parameters"),
            ("CHATHISTORY LATEST #nowhere * 10", f"{fail} INVALID_TARGET LATEST #nowhere :you are not in #nowhere"),
            ("CHATHISTORY LATEST ## * 10", f"{fail} INVALID_TARGET LATEST ## :"),
        ):
            [got] = self.alice.type(asked)
            self.assertTrue(got.startswith(answer), (asked, got))
        for asked in (
            "CHATHISTORY BEFORE #5 * 10",
            "CHATHISTORY LATEST #5 * 0",
            "CHATHISTORY LATEST #5 * ten",
            "CHATHISTORY BEFORE #5 msgid=nonsense 10",
            "CHATHISTORY BEFORE #5 msgid=12:30 10",
            "CHATHISTORY AFTER #5 timestamp=yesterday 10",
            "CHATHISTORY AFTER #5 timestamp=2026-13-45T99:00:00Z 10",
            "CHATHISTORY AROUND #5 id=lq3k9d2a-1 10",
        ):
            [got] = self.alice.type(asked)
            self.assertEqual(parse(got).params[:3], ["CHATHISTORY", "INVALID_PARAMS", asked.split()[1].upper()], asked)
        self.assertEqual(
            self.alice.type("CHATHISTORY LATEST carol * 10"),
            [":chatroom BATCH +1 chathistory carol", ":chatroom BATCH -1"],
            "private messages are never kept",
        )
        self.assertEqual(self.alice.type("CHATHISTORY"), [":chatroom 461 alice CHATHISTORY :Not enough parameters"])

    def test_without_history_chathistory_is_not_offered_and_fails_clearly(self) -> None:
        server = IRCServer(GENEROUS)
        client = server.irc()
        self.assertEqual(
            client.type("CAP LS 302"),
            [f":chatroom CAP * LS :{CAPS_WITHOUT_HISTORY}"],
        )
        self.assertEqual(client.type("CAP REQ draft/chathistory"), [":chatroom CAP * NAK :draft/chathistory"])
        welcome = client.type("NICK alice", "USER alice 0 * :A", "CAP END", "JOIN #5")
        isupport = " ".join(line for line in welcome if parse(line).command == "005")
        self.assertNotIn("CHATHISTORY", isupport)
        self.assertEqual(
            client.type("CHATHISTORY LATEST #5 * 10"),
            [
                ":chatroom FAIL CHATHISTORY MESSAGE_ERROR LATEST #5 :this server keeps no history: "
                "its administrator has not turned it on"
            ],
        )
        self.assertEqual(client.type("REDACT #5 lq3k9d2a-1")[0][:37], ":chatroom FAIL REDACT UNKNOWN_MSGID #")

    def test_with_history_the_capabilities_and_isupport_say_so(self) -> None:
        client = self.server.irc()
        caps = "account-notify account-tag away-notify batch cap-notify draft/channel-rename draft/chathistory "
        caps += f"draft/event-playback draft/message-redaction {METADATA_LS} {MULTILINE_LS} draft/read-marker "
        caps += "echo-message extended-join extended-monitor labeled-response message-tags multi-prefix server-time "
        caps += "setname soju.im/search userhost-in-names"
        self.assertEqual(client.type("CAP LS 302"), [f":chatroom CAP * LS :{caps}"])
        welcome = client.type("NICK bob", "USER bob 0 * :B", "CAP END")
        isupport = " ".join(line for line in welcome if parse(line).command == "005")
        self.assertIn(" CHATHISTORY=500 ", isupport)
        self.assertIn(" MSGREFTYPES=msgid,timestamp ", isupport)
        [_, _, kept, _] = client.type("INFO")
        self.assertIn(":Each room keeps up to its last 100 messages, in memory; private messages are never kept", kept)

    def test_joining_plays_back_what_the_room_kept_unless_the_client_asks_itself(self) -> None:
        self.say(2)
        said = [":carol!carol@chatroom PRIVMSG #5 :line 0", ":carol!carol@chatroom PRIVMSG #5 :line 1"]
        plain = self.server.irc("plain")
        self.assertEqual(
            plain.type("JOIN #5"),
            [
                ":plain!plain@chatroom JOIN #5",
                ":chatroom 353 plain = #5 :@carol alice plain",
                ":chatroom 366 plain #5 :End of /NAMES list",
                ":chatroom NOTICE #5 :this room keeps the last 100 lines of history",  # what it keeps, then the lines
                ":chatroom NOTICE #5 :The last 2 lines said in #5, since 1970-01-01 00:00 UTC:",
                *said,
                ":chatroom NOTICE #5 :End of the lines kept",
            ],
        )
        timed = self.server.irc("timed", caps="server-time batch")
        self.assertEqual(
            timed.type("JOIN #5")[4:],
            [
                ":chatroom BATCH +1 chathistory #5",
                f"@batch=1;time={self.times[0]} {said[0]}",
                f"@batch=1;time={self.times[1]} {said[1]}",
                ":chatroom BATCH -1",
            ],
        )
        weechat = self.server.irc("weechat", caps="server-time message-tags multi-prefix")  # as WeeChat 3.8 asks
        self.assertEqual(
            weechat.type("JOIN #5")[4:],
            [
                ":chatroom NOTICE #5 :The last 2 lines said in #5, since 1970-01-01 00:00 UTC:",
                f"@msgid={self.ids[0]};time={self.times[0]} {said[0]}",
                f"@msgid={self.ids[1]};time={self.times[1]} {said[1]}",
                ":chatroom NOTICE #5 :End of the lines kept",
            ],
        )
        asking = self.server.irc("asking", caps="draft/chathistory batch")
        self.assertEqual(commands(asking.type("JOIN #5")), ["JOIN", "353", "366", "NOTICE"], "it asks with CHATHISTORY")
        self.line.type("live")
        self.assertEqual(plain.read()[-1], ":carol!carol@chatroom PRIVMSG #5 :live", "after the playback")

    def test_a_history_event_tells_what_was_lost(self) -> None:
        plain = self.server.irc("plain", "#5")
        said = Message("#5", "carol", "hi", id="lq3k9d2a-7", time="2026-11-23T09:30:00.250Z")
        plain.connection.deliver(History("#5", (said,), lost=3))
        self.assertEqual(
            plain.read(),
            [
                ":chatroom NOTICE #5 :3 lines said in #5 before these are no longer kept",
                ":chatroom NOTICE #5 :The last 1 line said in #5, since 2026-11-23 09:30 UTC:",
                ":carol!carol@chatroom PRIVMSG #5 :hi",
                ":chatroom NOTICE #5 :End of the lines kept",
            ],
        )
        plain.connection.deliver(History("#5", (), lost=-1))
        self.assertEqual(plain.read(), [":chatroom NOTICE #5 :some lines said in #5 before these are no longer kept"])

    def test_render_never_refuses_history_or_redaction_whatever_the_capabilities(self) -> None:
        dialect = self.alice.connection.dialect
        assert isinstance(dialect, IRCFrontEnd)
        said = Message("#5", "carol", "hi", id="lq3k9d2a-7", time="2026-11-23T09:30:00.250Z")
        events = (History("#5", (said,), lost=-1), History("#5", ()), Redacted("#5", "op", ("lq3k9d2a-7",)))
        # Every mix of those that change how lines are rendered, with the others all off or all on: every mix of
        # all of them would be 2 ** 19 and doubles with each capability added.
        rendering = ["batch", "draft/chathistory", "draft/message-redaction", "message-tags", "server-time"]
        rendering += ["account-tag", "extended-join"]
        others = set(CAPABILITIES) - set(rendering)
        for mask in range(2 ** len(rendering)):
            for rest in (set(), others):
                dialect.set_caps(rest | {cap for bit, cap in enumerate(rendering) if mask >> bit & 1})
                for event in (*events, Redacted("#5", "op", ())):
                    self.assertIsInstance(dialect.render(event), bytes)

    def test_redaction(self) -> None:
        server = IRCServer(GENEROUS, history=100)
        op = server.irc("op", "#5", caps="draft/message-redaction message-tags echo-message")
        bob = server.irc("bob", "#5")
        line = server.connect("carol", "5")
        [echo] = op.type("PRIVMSG #5 :oops")
        msgid = tags_of(echo)["msgid"]
        bob.read()
        line.read()
        self.assertEqual(op.type(f"REDACT #5 {msgid} :typo"), [f":op!op@chatroom REDACT #5 {msgid} :typo"])
        self.assertEqual(bob.read(), [":chatroom NOTICE #5 :op removed 1 line from the history of #5: typo"])
        self.assertEqual(line.read(), [f"REDACT #5 op {msgid}"])
        bob.type("PRIVMSG #5 :spam", "PRIVMSG #5 :more spam")
        spam = [tags_of(said)["msgid"] for said in op.read()]
        [own] = op.type("PRIVMSG #5 :the op's own")
        theirs = tags_of(own)["msgid"]
        bob.read()
        self.assertEqual(
            bob.type(f"REDACT #5 {theirs}"),
            [
                f":chatroom FAIL REDACT REDACT_FORBIDDEN #5 {theirs} "
                ":only an operator of #5 may remove lines from the room's history"
            ],
            "another's line: his own he may (tests/test_history_policy.py)",
        )
        self.assertEqual(op.type("REDACT #5 bob"), [f":op!op@chatroom REDACT #5 {msgid}" for msgid in spam])
        self.assertEqual(bob.read(), [":chatroom NOTICE #5 :op removed 2 lines from the history of #5"])
        kept = self.successResultOf(server.chat.history(server.chat.nicks["op"], "#5")).messages
        self.assertEqual([said.text for said in kept], ["the op's own"])
        [unknown] = op.type(f"REDACT #5 {msgid}")
        self.assertTrue(unknown.startswith(f":chatroom FAIL REDACT UNKNOWN_MSGID #5 {msgid} :"), unknown)
        [elsewhere] = op.type(f"REDACT #elsewhere {msgid}")
        self.assertTrue(elsewhere.startswith(":chatroom FAIL REDACT INVALID_TARGET #elsewhere :"), elsewhere)
        self.assertEqual(op.type("REDACT #5"), [":chatroom 461 op REDACT :Not enough parameters"])

    def test_labeled_responses(self) -> None:
        labeled = self.server.irc("labeled", "#5", caps="labeled-response batch echo-message")
        self.assertEqual(labeled.type("@label=a1 PING :x"), ["@label=a1 :chatroom PONG chatroom :x"])
        self.assertEqual(
            labeled.type("@label=a2 AWAY"), ["@label=a2 :chatroom 305 labeled :You are no longer marked as being away"]
        )
        self.assertEqual(
            labeled.type("@label=a3 PRIVMSG #5 :hi"), ["@label=a3 :labeled!labeled@chatroom PRIVMSG #5 :hi"], "echo"
        )
        self.assertEqual(labeled.type("@label=a4 PONG :x"), ["@label=a4 :chatroom ACK"])
        self.assertEqual(
            labeled.type("@label=a5 NAMES #5"),
            [
                "@label=a5 :chatroom BATCH +1 labeled-response",
                "@batch=1 :chatroom 353 labeled = #5 :@carol alice labeled",
                "@batch=1 :chatroom 366 labeled #5 :End of /NAMES list",
                ":chatroom BATCH -1",
            ],
        )
        self.assertEqual(labeled.type("@label=a6 QUIT"), ["ERROR :Closing link"], "nothing after ERROR")
        alone = self.server.irc("alone", caps="labeled-response")
        self.assertEqual(alone.type("@label=b1 PONG :x"), [], "labels need batch")

    def test_a_label_past_64_bytes_is_still_the_answers_label(self) -> None:
        """labeled-response asks clients for labels of at most 64 bytes; a longer one is repeated as sent (Ergo's
        way), not dropped: an answer without it is one the client cannot tie to its line."""
        labeled = self.server.irc("labeled", "#5", caps="labeled-response batch echo-message")
        long = "x" * 500
        self.assertEqual(labeled.type(f"@label={long} PONG :x"), [f"@label={long} :chatroom ACK"])
        self.assertEqual(
            labeled.type(f"@label={long} PRIVMSG #5 :hi"), [f"@label={long} :labeled!labeled@chatroom PRIVMSG #5 :hi"]
        )

    def test_a_labeled_chathistory_nests_its_batch(self) -> None:
        self.say(1)
        self.alice.type("CAP REQ labeled-response")
        self.assertEqual(
            self.alice.type("@label=h CHATHISTORY LATEST #5 * 1"),
            [
                "@label=h :chatroom BATCH +2 labeled-response",
                "@batch=2 :chatroom BATCH +1 chathistory #5",
                *self.batch(1, "#5", 0)[1:-1],
                "@batch=2 :chatroom BATCH -1",
                ":chatroom BATCH -2",
            ],
        )

    def test_a_cleared_history_is_told_as_a_notice(self) -> None:
        op = self.server.irc("op", "#5", caps="draft/message-redaction")
        op.connection.deliver(Redacted("#5", "ada", ()))
        self.assertEqual(op.read(), [":chatroom NOTICE #5 :ada cleared the history of #5"])


class Received(NamedTuple):
    tags: dict[str, str]
    source: str
    command: str  # as Twisted Words names it: "PRIVMSG", "RPL_ENDOFNAMES"
    params: list[str]


class IRCClient(irc.IRCClient):
    """Twisted Words' IRC client, collecting what it is told.

    Taught what it lacks for IRCv3: it asks for `caps` (CAP REQ, then CAP END once acknowledged) and reads the
    tags before a line, which it would otherwise take for the command.
    """

    def __init__(self, nickname: str, caps: tuple[str, ...] = ()) -> None:
        self.nickname = nickname
        self.caps = caps
        self.heard: list[tuple[str, str, str]] = []
        self.signed_on: Deferred[None] = Deferred()
        self.joins: dict[str, Deferred[None]] = {}
        self.waiting: Deferred[None] | None = None
        self.lost: Deferred[None] = Deferred()
        self.received: list[Received] = []
        self._tags: dict[str, str] = {}
        self._read = 0  # of `received`, by `until`
        self._until: tuple[str, str, Deferred[list[Received]]] | None = None

    def connectionMade(self) -> None:
        if self.caps:
            self.sendLine("CAP REQ :" + " ".join(self.caps))
        irc.IRCClient.connectionMade(self)

    def irc_CAP(self, prefix: str, params: list[str]) -> None:
        if params[1] == "ACK":
            self.sendLine("CAP END")

    def lineReceived(self, line: bytes) -> None:
        self._tags = {}
        if line.startswith(b"@"):
            tags, _, line = line.partition(b" ")
            self._tags = dict(tag.partition("=")[::2] for tag in tags[1:].decode().split(";"))
        irc.IRCClient.lineReceived(self, line)

    def handleCommand(self, command: str, prefix: str, params: list[str]) -> None:
        self.received.append(Received(self._tags, prefix, command, params))
        irc.IRCClient.handleCommand(self, command, prefix, params)
        if self._until is not None:
            wanted, first, waiting = self._until
            if command == wanted and (params or [""])[0].startswith(first):
                self._until = None
                waiting.callback(self._take(len(self.received)))

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        irc.IRCClient.connectionLost(self, reason)
        self.lost.callback(None)

    def signedOn(self) -> None:
        self.signed_on.callback(None)

    def joined(self, channel: str) -> None:
        self.joins.setdefault(channel, Deferred()).callback(None)

    def privmsg(self, user: str, channel: str, message: str) -> None:
        self.heard.append((user.split("!")[0], channel, message))
        if self.waiting is not None:
            waiting, self.waiting = self.waiting, None
            waiting.callback(None)

    def heard_some(self) -> Deferred[None]:
        self.waiting = Deferred()
        return self.waiting

    def until(self, command: str, first: str = "") -> Deferred[list[Received]]:
        """What was received since the last `until`, up to the first `command` whose first parameter starts with
        `first`."""
        for index in range(self._read, len(self.received)):
            line = self.received[index]
            if line.command == command and (line.params or [""])[0].startswith(first):
                return succeed(self._take(index + 1))
        waiting: Deferred[list[Received]] = Deferred()
        self._until = (command, first, waiting)
        return waiting

    def _take(self, end: int) -> list[Received]:
        taken, self._read = self.received[self._read : end], end
        return taken


def said(batch: list[Received]) -> list[str]:
    """The text of the PRIVMSGs in what was received."""
    return [line.params[1] for line in batch if line.command == "PRIVMSG"]


async def irc_over_tls(case: ServerTestCase, nick: str, caps: tuple[str, ...] = ()) -> IRCClient:
    """An IRC client signed on to the test's server over TLS, trusting its CA; it quits as the test ends."""
    trust = Certificate.loadPEM((case.certs / "ca.pem").read_bytes())
    endpoint = wrapClientTLS(
        optionsForClientTLS("localhost", trustRoot=trust), TCP4ClientEndpoint(reactor, "127.0.0.1", case.irc_port)
    )
    client = IRCClient(nick, caps)
    await connectProtocol(endpoint, client)

    async def bye() -> None:
        if not client.lost.called:
            client.quit("bye")
        await client.lost

    case.addCleanup(bye)
    await client.signed_on
    return client


class IRCOverTLSTests(ServerTestCase):
    """The real service: an IRC client over TLS, beside our own line client, in one room."""

    async def irc_client(self, nick: str, caps: tuple[str, ...] = ()) -> IRCClient:
        return await irc_over_tls(self, nick, caps)

    async def joined(self, nick: str, caps: tuple[str, ...] = ()) -> IRCClient:
        """An IRC client in #5, past its NAMES."""
        client = await self.irc_client(nick, caps)
        client.join("#5")
        await client.until("RPL_ENDOFNAMES")
        return client

    @staticmethod
    async def nothing_more(client: IRCClient) -> list[Received]:
        """What the client was sent before the answer to a PING it sends now."""
        client.sendLine("PING :done")
        return (await client.until("PONG"))[:-1]

    async def test_who_star_flooded_by_a_client_that_never_reads_costs_it_and_nobody_else(self) -> None:
        self.start_server()  # flood control as it ships
        chat = self.service.factory.chat
        for number in range(5000):  # 360 KB of WHO * answer: 88 flood tokens, 17 s before the next is read
            chat.register(ELSEWHERE, f"crowd-member-{number:07d}", None, "192.0.2.1", Details(invisible=False))
        asker = await self.irc_client("asker")
        asker.transport.pauseProducing()  # it never reads again
        self.addCleanup(asker.transport.abortConnection)  # its QUIT would wait behind its WHOs
        counts = self.service.factory.counts
        before = counts.bytes_out  # the chatroom_sent_bytes metric
        for _ in range(30):
            asker.sendLine("WHO *")
        other = await self.connect("other")  # meanwhile, someone else is served at once
        other.send("/ping still here")
        await other.until("PONG :still here")
        made = counts.bytes_out - before
        self.assertLess(made, 1_000_000, "one answer, charged: its asker's next WHO waits 17 s (ten at once before)")

    async def test_an_irc_client_and_a_line_client_talk_in_the_same_order(self) -> None:
        self.start_server()
        alice = await self.irc_client("alice")
        alice.join("#5")
        await alice.joins.setdefault("#5", Deferred())
        carol = await self.connect("carol", "5")
        alice.say("#5", "hello carol")
        await carol.until("MSG #5 alice :hello carol")
        carol.send("hello alice", "/msg alice psst")
        await alice.heard_some()
        if len(alice.heard) < 2:
            await alice.heard_some()
        self.assertEqual(alice.heard, [("carol", "#5", "hello alice"), ("carol", "alice", "psst")])

    async def test_chathistory_answers_in_a_batch_with_each_lines_id_and_time(self) -> None:
        self.start_server("--history", "100")
        alice = await self.joined(
            "alice", ("batch", "draft/chathistory", "echo-message", "message-tags", "server-time")
        )
        echoes = []
        for number in range(5):
            alice.say("#5", f"line {number}")
            echoes.append((await alice.until("PRIVMSG"))[-1])
        ids = [echo.tags["msgid"] for echo in echoes]
        self.assertEqual(len(set(ids)), 5)
        lines = [f"line {number}" for number in range(5)]

        async def ask(query: str) -> list[Received]:
            alice.sendLine(f"CHATHISTORY {query}")
            return await alice.until("BATCH", "-")

        latest = await ask("LATEST #5 * 10")
        start, *kept, end = latest
        self.assertEqual((start.command, start.params[1:]), ("BATCH", ["chathistory", "#5"]))
        self.assertEqual(end.params, ["-" + start.params[0][1:]])
        self.assertEqual(said(latest), lines)
        self.assertEqual([line.tags for line in kept], [{"batch": end.params[0][1:], **echo.tags} for echo in echoes])
        self.assertEqual(said(await ask(f"BEFORE #5 msgid={ids[3]} 2")), lines[1:3])
        self.assertEqual(said(await ask(f"AFTER #5 msgid={ids[1]} 2")), lines[2:4])
        self.assertEqual(said(await ask(f"AROUND #5 msgid={ids[2]} 3")), lines[1:4])
        self.assertEqual(said(await ask("BEFORE #5 timestamp=2999-01-01T00:00:00.000Z 10")), lines)
        self.assertEqual(said(await ask(f"LATEST #5 msgid={ids[3]} 10")), lines[4:])

    async def test_joining_plays_back_the_kept_lines_to_clients_without_chathistory(self) -> None:
        self.start_server("--history", "100")
        carol = await self.connect("carol", "5")
        carol.send("one", "two")
        await carol.until("MSG #5 carol :two")
        bob = await self.irc_client("bob")
        bob.join("#5")
        joining = [*await bob.until("NOTICE", "#5"), *await bob.until("NOTICE", "#5"), *await bob.until("NOTICE", "#5")]
        notices = [line.params[1] for line in joining if line.command == "NOTICE"]
        self.assertEqual(bob.heard, [("carol", "#5", "one"), ("carol", "#5", "two")])
        self.assertEqual(notices[0], "this room keeps the last 100 lines of history")
        self.assertTrue(notices[1].startswith("The last 2 lines said in #5, since "), notices)
        self.assertEqual(notices[2], "End of the lines kept")
        dave = await self.irc_client("dave", ("batch", "server-time"))
        dave.join("#5")
        playback = await dave.until("BATCH", "-")
        self.assertEqual(said(playback), ["one", "two"])
        self.assertEqual([sorted(line.tags) for line in playback if line.command == "PRIVMSG"], [["batch", "time"]] * 2)
        erin = await self.joined("erin", ("batch", "draft/chathistory", "server-time"))
        heard = [line.command for line in await self.nothing_more(erin)]
        self.assertEqual(heard, ["NOTICE"], "what the room keeps; a client with draft/chathistory asks for the lines")

    async def test_without_history_nothing_is_kept_and_chathistory_fails_clearly(self) -> None:
        self.start_server()
        alice = await self.joined("alice", ("batch", "echo-message"))
        alice.say("#5", "not kept")
        await alice.until("PRIVMSG")
        alice.sendLine("CHATHISTORY LATEST #5 * 10")
        [fail] = await alice.until("FAIL")
        self.assertEqual(
            fail.params,
            [
                "CHATHISTORY",
                "MESSAGE_ERROR",
                "LATEST",
                "#5",
                "this server keeps no history: its administrator has not turned it on",
            ],
        )
        self.assertEqual(list(self.service.factory.chat.rooms["5"].history.kept), [])

    async def test_an_operator_redacts_a_line(self) -> None:
        self.start_server("--history", "100")
        op = await self.joined("op", ("draft/message-redaction", "echo-message", "message-tags"))
        bob = await self.joined("bob")
        op.say("#5", "oops")
        msgid = (await op.until("PRIVMSG"))[-1].tags["msgid"]
        await bob.until("PRIVMSG")
        op.sendLine(f"REDACT #5 {msgid} :typo")
        redact = (await op.until("REDACT"))[-1]
        self.assertEqual((redact.source.split("!")[0], redact.params), ("op", ["#5", msgid, "typo"]))
        notice = (await bob.until("NOTICE", "#5"))[-1]
        self.assertEqual(notice.params[1], "op removed 1 line from the history of #5: typo")
        bob.sendLine(f"REDACT #5 {msgid}")
        self.assertEqual((await bob.until("FAIL"))[-1].params[:2], ["REDACT", "REDACT_FORBIDDEN"])
        op.sendLine(f"REDACT #5 {msgid}")
        self.assertEqual((await op.until("FAIL"))[-1].params[:2], ["REDACT", "UNKNOWN_MSGID"])
        late = await self.joined("late")
        heard = [(line.command, line.params[1]) for line in await self.nothing_more(late)]
        self.assertEqual(heard, [("NOTICE", "this room keeps the last 100 lines of history")], "nothing played back")


class HostileInputTests(SynchronousTestCase):
    """What an adversarial review of the IRC front end found; each of these once got through."""

    def setUp(self) -> None:
        self.log = observe_log(self)
        self.server = IRCServer(GENEROUS)
        self.alice = self.server.irc("alice", "#5")
        self.carol = self.server.connect("carol", "5")
        self.bob = self.server.irc("bob", "#5")

    def tearDown(self) -> None:
        self.assertFalse([event for event in self.log if event.get("log_failure")], "no traceback")

    def test_control_characters_are_refused_in_every_command(self) -> None:
        for line in (
            "TOPIC #5 :\x1b]0;pwned\x07",
            "PART #5 :\u202eevil",
            "AWAY :\x1b[2J",
            "QUIT :x\r:ada PRIVMSG #5 :x",
        ):
            [refused] = self.alice.type(line)
            self.assertIn("control characters are not allowed", refused)
        self.assertEqual((self.carol.read(), self.bob.read()), ([], []))

    def test_numbers_that_are_not_ascii_digits(self) -> None:
        for line in ("CAP LS \u00b2", "WHOWAS x \u00b2", "LIST >\u00b2", "LIST C>" + "9" * 400, "MODE #5 +l \u00b2"):
            self.assertTrue(self.alice.type(line), line)

    def test_a_secret_room_is_not_named_to_outsiders(self) -> None:
        self.alice.type("MODE #5 +s")
        outsider = self.server.irc("outsider")
        told = outsider.type("WHOIS alice", "WHO alice", "MODE #5", "TOPIC #5", "PRIVMSG #5 :hi")
        self.assertNotIn("#5", " ".join(parse(line).params[1] for line in told if parse(line).command != "403"))
        self.assertEqual(commands(told).count("403"), 3, "MODE, TOPIC and PRIVMSG: as if there were no such room")

    def test_away_is_speech_during_a_lockdown(self) -> None:
        self.server.chat.lockdown = Lockdown.SPEAK
        self.assertIn("locked down", self.bob.type("AWAY :buy my stuff")[0])
        self.assertNotIn("buy", " ".join(self.alice.type("WHOIS bob")))

    def test_echo_message_from_outside_a_room_open_to_outsiders(self) -> None:
        self.alice.type("MODE #5 -n")
        outsider = self.server.irc("outsider", caps="echo-message")
        self.assertEqual(outsider.type("PRIVMSG #5 :hi"), [":outsider!outsider@chatroom PRIVMSG #5 :hi"])

    def test_empty_or_spaced_parameters_are_not_echoed_into_a_broken_line(self) -> None:
        for line in self.alice.type("PRIVMSG ,nobody :hi", "CAP :", "WHOIS a,,b", "JOIN :"):
            self.assertNotIn("  ", line)
        self.assertEqual(self.alice.type("JOIN :"), [":chatroom 461 alice JOIN :Not enough parameters"])

    def test_numerics_that_are_about_the_server_not_a_room(self) -> None:
        self.server.chat.server_bans.append(Ban(Mask(nick="evil*"), "ada", "", None))
        self.assertEqual(parse(self.alice.type("NICK evil1")[0]).command, "465")
        self.assertEqual(parse(self.alice.type("KILL bob :x")[0]).params[:1], ["alice"])
        self.assertEqual(len(parse(self.alice.type("KILL bob :x")[0]).params), 2, "481 <client> :<text>")

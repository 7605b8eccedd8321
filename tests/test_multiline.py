"""Messages of several lines (chatroom.core.multiline): draft/multiline batches from IRC clients, line by line to
those without it, and within the flood rules and bounds; the line protocol's word for them."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from chatroom.core.multiline import MULTILINE_LINES
from chatroom.frontends.irc.wire import parse
from tests.test_irc import IRCServer, tags_of
from tests.test_lifecycle import GENEROUS

CAPS = "message-tags batch echo-message server-time labeled-response"


class MultilineTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = IRCServer(GENEROUS, history=100)
        self.alice = self.server.irc("alice", "#5", caps=CAPS + " draft/multiline")
        self.bob = self.server.irc("bob", "#5", caps=CAPS + " draft/multiline")
        self.carol = self.server.irc("carol", "#5", caps=CAPS)
        self.dora = self.server.connect("dora", "5")

    def batch(self, *lines: str, label: str = "xyz") -> list[str]:
        return self.alice.type(
            f"@label={label} BATCH +b1 draft/multiline #5", *[f"@batch=b1{line}" for line in lines], "BATCH -b1"
        )

    def test_a_batch_is_one_message_for_those_with_multiline_and_lines_for_the_others(self) -> None:
        echo = self.batch(" PRIVMSG #5 hello", " PRIVMSG #5 :#how is ", ";draft/multiline-concat PRIVMSG #5 :everyone?")
        opening, *inner, closing = echo
        self.assertEqual((parse(opening).command, parse(opening).params[1:]), ("BATCH", ["draft/multiline", "#5"]))
        self.assertEqual(tags_of(opening)["label"], "xyz", "the echo answers the opening's label")
        msgid = tags_of(opening)["msgid"]
        self.assertEqual([parse(line).params[1] for line in inner], ["hello", "#how is ", "everyone?"])
        self.assertIn("draft/multiline-concat", tags_of(inner[2]))
        self.assertEqual(parse(closing).params, ["-" + parse(opening).params[0][1:]])
        self.assertEqual([line.split(" ", 1)[1] for line in self.bob.read()], [line.split(" ", 1)[1] for line in echo])
        fallback = self.carol.read()
        self.assertEqual([parse(line).params[1] for line in fallback], ["hello", "#how is ", "everyone?"])
        self.assertEqual([tags_of(line).get("msgid") for line in fallback], [msgid, None, None])
        self.assertEqual(
            self.dora.read(), ["MSG #5 alice :hello", "MSG #5 alice :#how is everyone?"], "one MSG a line, one id"
        )

    def test_past_the_announced_lines_the_batch_fails_and_nothing_is_said(self) -> None:
        ls = self.server.irc().type("CAP LS 302")
        self.assertIn("draft/multiline=max-bytes=4096,max-lines=24", " ".join(ls))
        answer = self.batch(*[" PRIVMSG #5 :line"] * (MULTILINE_LINES + 1))
        self.assertEqual(parse(answer[0]).params[:3], ["BATCH", "MULTILINE_MAX_LINES", "24"])
        self.assertEqual(self.carol.read(), [])
        fail = self.alice.type("BATCH -zz")[-1]
        self.assertEqual(parse(fail).params[:2], ["BATCH", "MULTILINE_INVALID"])

    def test_a_blank_piece_marked_to_continue_the_line_before_is_invalid(self) -> None:
        answer = self.batch(" PRIVMSG #5 :hi", ";draft/multiline-concat PRIVMSG #5 :")
        self.assertEqual(parse(answer[0]).params[:2], ["BATCH", "MULTILINE_INVALID"])
        self.assertEqual(self.carol.read(), [])

    def test_each_line_of_a_batch_is_charged_by_the_flood_rules(self) -> None:
        server = IRCServer()  # the default flood rules
        alice = server.irc("alice", "#5", caps=CAPS + " draft/multiline")
        carol = server.irc("carol", "#5", caps=CAPS)
        lines = [f"@batch=b1 PRIVMSG #5 :line {number}" for number in range(20)]
        alice.type("BATCH +b1 draft/multiline #5", *lines, "BATCH -b1")
        self.assertEqual(carol.read(), [], "the batch's end waits its turn, as every line does")
        for _ in range(10):
            server.clock.advance(1)
        self.assertEqual(len(carol.read()), 20, "once all its lines were read")

    def test_the_line_protocol_sends_a_block_of_lines_as_one_message(self) -> None:
        self.dora.type("/lines 3", "first", "/not a command", "")
        opening, *inner, _ = self.bob.read()
        self.assertEqual(parse(opening).params[1:], ["draft/multiline", "#5"])
        self.assertEqual([parse(line).params[1] for line in inner], ["first", "/not a command", ""])
        self.assertEqual([parse(line).params[1] for line in self.carol.read()], ["first", "/not a command"])
        self.assertEqual(self.dora.type("/lines 25"), ["ERR USAGE :usage: /lines [#ROOM|NICK] N"])
        self.assertEqual(self.dora.type("/lines bob 2", "one", "two"), ["PRIV dora bob :one", "PRIV dora bob :two"])

    def test_a_message_tagged_with_a_batch_never_opened_is_refused_not_said(self) -> None:
        """IRCv3's client batches: a line of a batch comes between its opening and its end. Tagged with one the
        client never opened, the message is refused as Ergo refuses it (FAIL BATCH, under the line's label), where
        it was said as if untagged; a NOTICE is refused without a word, as Ergo does."""
        self.assertEqual(
            self.alice.type("@label=l1;batch=zzz PRIVMSG #5 :hi"),
            ["@label=l1 :chatroom FAIL BATCH MULTILINE_INVALID :Message not sent: no batch zzz is open"],
        )
        [fail] = self.alice.type("@batch;+typing=active TAGMSG #5")
        self.assertEqual(parse(fail).params[:2], ["BATCH", "MULTILINE_INVALID"])
        self.assertEqual(self.alice.type("@batch=zzz NOTICE #5 :hi"), [])
        self.assertEqual((self.bob.read(), self.carol.read(), self.dora.read()), ([], [], []), "nothing said")

    def test_a_message_of_another_batch_while_one_is_open_fails_both(self) -> None:
        """As Ergo: the stray message is refused, and the batch open is not said (a client sends nothing else
        while its batch is open); one FAIL tells it."""
        fail, end = self.batch(" PRIVMSG #5 :one", "x PRIVMSG #5 :stray", " PRIVMSG #5 :two")
        self.assertEqual(parse(fail).params[:2], ["BATCH", "MULTILINE_INVALID"])
        self.assertEqual(end, "@label=xyz :chatroom ACK", "the batch's end, under its opening's label")
        self.assertEqual((self.bob.read(), self.carol.read(), self.dora.read()), ([], [], []), "nothing said")

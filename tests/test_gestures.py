"""Replies, reactions and typing notices (chatroom.core.gestures) between IRC clients and the line protocol, in
memory: what each person is shown, and the server's rate limit on typing, driven by a fake clock."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from chatroom.core.gestures import TYPING_EVERY
from chatroom.frontends.irc.wire import parse
from tests.test_irc import IRCServer, tags_of
from tests.test_lifecycle import GENEROUS


class GestureTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = IRCServer(GENEROUS, history=100)
        self.weechat = self.server.irc("wee", "#5", caps="message-tags echo-message server-time")
        self.plain = self.server.irc("plain", "#5")  # no message-tags: sees replies as plain lines, no TAGMSG
        self.dora = self.server.connect("dora", "5")

    def said_by_dora(self, text: str) -> str:
        """Dora says `text`: the id of her line, as her MSG line shows it."""
        self.dora.send(text.encode() + b"\r\n")
        [said] = [line for line in self.dora.read(stamps=True) if line.startswith("MSG ")]
        return said.split()[3]

    def test_a_reaction_from_an_irc_client_shows_on_the_line_protocol_line(self) -> None:
        msgid = self.said_by_dora("lunch at noon?")
        [relayed] = self.weechat.read()
        self.assertEqual(tags_of(relayed)["msgid"], msgid, "IRC clients see the same id")
        self.plain.read()
        self.weechat.type(f"@+draft/reply={msgid};+draft/react=👍 TAGMSG #5")
        self.assertEqual(self.dora.read(), [f"REACT #5 wee {msgid} :👍"])
        self.assertEqual(self.plain.read(), [], "a client without message-tags is sent no reaction")

    def test_a_line_break_escaped_in_a_tag_forges_no_line_for_anyone(self) -> None:
        """IRC escapes a line break in a tag's value (`\\n`), past the check of the line as sent: unescaped, a
        reaction's or a reply's value went into the line protocol's REACT and REPLY lines, which then carried a
        second line of the sender's making, shown as someone else's message or as the server's error."""
        msgid = self.said_by_dora("lunch at noon?")
        self.weechat.read()
        self.plain.read()
        forged = "\\nMSG\\s#5\\snara\\sz-9\\s2026-12-06T19:32:00.000Z\\s:ann\\sis\\skicked"
        answers = [
            *self.weechat.type(f"@+draft/reply={msgid};+draft/react=x{forged} TAGMSG #5"),
            *self.weechat.type(f"@+draft/reply=bogus{forged} PRIVMSG #5 :hi"),
            *self.weechat.type("@+example-client-tag=x\u2028y;+draft/react=a\\rb TAGMSG #5"),
        ]
        self.assertEqual(self.dora.read(), [], "no line reached the line protocol")
        self.assertEqual(self.plain.read(), [])
        self.assertEqual(len(answers), 3, answers)
        self.assertTrue(all(" :" in answer and "nara" not in answer for answer in answers), answers)
        self.weechat.type(f"@+draft/reply={msgid};+draft/react=😀 TAGMSG #5")
        self.assertEqual(self.dora.read(), [f"REACT #5 wee {msgid} :😀"], "a sound reaction still goes")

    def test_a_reaction_too_long_is_told_as_one(self) -> None:
        """It was answered `417 :line longer than 64 bytes`, of a line well under IRC's 512."""
        msgid = self.said_by_dora("lunch at noon?")
        self.weechat.read()
        [refused] = self.weechat.type(f"@+draft/reply={msgid};+draft/react={'x' * 65} TAGMSG #5")
        self.assertEqual(
            parse(refused)[1:3],
            ("417", ["wee", "a reaction is at most 64 bytes (an emoji, or a short word); it was ignored"]),
        )
        self.assertEqual(
            self.dora.type(f"/react {msgid} {'y' * 65}"),
            ["ERR TOO_LONG :a reaction is at most 64 bytes (an emoji, or a short word); it was ignored"],
        )

    def test_a_reaction_from_the_line_protocol_reaches_irc_as_the_specs_tags(self) -> None:
        self.weechat.type("PRIVMSG #5 :who is in?")
        msgid = self.dora.read(stamps=True)[0].split()[3]
        self.assertEqual(self.dora.type(f"/react {msgid} 🎉"), [f"REACT #5 dora {msgid} :🎉"], "the sender sees it too")
        [relayed] = self.weechat.read()
        self.assertEqual(parse(relayed)[1:], ("TAGMSG", ["#5"]))
        tags = tags_of(relayed)
        self.assertEqual((tags["+draft/react"], tags["+draft/reply"]), ("🎉", msgid))
        self.assertTrue(tags["msgid"])
        self.assertEqual(self.dora.type("/react"), ["ERR USAGE :usage: /react [#ROOM] ID EMOJI"])

    def test_a_reply_from_the_line_protocol_reaches_irc_as_draft_reply_and_is_kept(self) -> None:
        self.weechat.type("PRIVMSG #5 :pizza?")
        self.plain.read()
        msgid = self.dora.read(stamps=True)[0].split()[3]
        lines = self.dora.type(f"/reply {msgid} yes please")
        self.assertEqual(lines[1], "MSG #5 dora :yes please")
        self.assertEqual(lines[0].split()[:2] + lines[0].split()[3:], ["REPLY", "#5", msgid], "REPLY comes first")
        [relayed] = self.weechat.read()
        self.assertEqual(tags_of(relayed)["+draft/reply"], msgid)
        self.assertEqual(parse(relayed).params, ["#5", "yes please"])
        self.assertEqual(self.plain.read(), [":dora!dora@chatroom PRIVMSG #5 :yes please"])
        history = self.dora.type("/history 5")
        self.assertEqual([line.split()[0] for line in history], ["SAID", "REPLY", "SAID", "HISTORY"])
        self.assertEqual(history[1].split()[3], msgid, "what a line answered is kept with it")

    def test_a_reply_from_irc_shows_as_a_reply_on_the_line_protocol(self) -> None:
        msgid = self.said_by_dora("anyone?")
        self.weechat.read()
        self.weechat.type(f"@+reply={msgid} PRIVMSG #5 :me")  # the ratified tag name is read as well
        reply, said = self.dora.read(stamps=True)
        self.assertTrue(said.startswith("MSG #5 wee "))
        self.assertEqual(reply.split()[::3], ["REPLY", msgid])

    def test_typing_is_relayed_at_most_once_every_3_seconds_per_target_and_done_at_once(self) -> None:
        said = self.server.chat.messages
        for _ in range(10):
            self.weechat.type("@+typing=active TAGMSG #5")
        self.assertEqual(self.dora.read(), ["TYPING #5 wee active"], "a flood of typing notices: one relayed")
        self.weechat.type("@+typing=done TAGMSG #5", "@+typing=done TAGMSG #5", "@+typing=active TAGMSG #5")
        self.assertEqual(
            self.dora.read(), ["TYPING #5 wee done", "TYPING #5 wee active"], "a change is told at once, once"
        )
        self.weechat.type("@+typing=done TAGMSG #5", "@+typing=active TAGMSG #5")
        self.assertEqual(self.dora.read(), [], "but no more than three notices in 3 seconds")
        self.server.clock.advance(TYPING_EVERY)
        self.weechat.type("@+typing=active TAGMSG #5")
        self.assertEqual(self.dora.read(), ["TYPING #5 wee active"], "3 seconds later, another")
        self.assertEqual(self.server.chat.messages, said, "typing notices are not counted as messages said")

    def test_typing_the_next_line_is_told_at_once_after_a_message(self) -> None:
        """Someone who sends a line and goes on typing shows as typing again at once, not 3 seconds later."""
        self.weechat.type("@+typing=active TAGMSG #5", "PRIVMSG #5 :first", "@+typing=active TAGMSG #5")
        self.assertEqual(self.dora.read()[1:], ["MSG #5 wee :first", "TYPING #5 wee active"])
        self.dora.type("/typing wee active", "/msg wee hello", "/typing wee active")
        typed = [parse(line).command for line in self.weechat.read() if parse(line).params[0] == "wee"]
        self.assertEqual(typed, ["TAGMSG", "PRIVMSG", "TAGMSG"], "in private too")

    def test_typing_from_the_line_protocol_reaches_irc_and_is_limited_per_target(self) -> None:
        self.dora.type("/typing active", "/typing active", "/typing wee active", "/typing wee active")
        room, private = self.weechat.read()
        self.assertEqual((parse(room).params, tags_of(room)["+typing"]), (["#5"], "active"))
        self.assertEqual((parse(private).params, tags_of(private)["+typing"]), (["wee"], "active"))
        self.assertEqual(self.plain.read(), [])
        self.assertEqual(self.dora.type("/typing soon"), ["ERR USAGE :usage: /typing [#ROOM|NICK] active|paused|done"])

    def test_a_reaction_to_oneself_comes_back_twice_to_a_labeled_sender_with_echo_message(self) -> None:
        """The echo answers the label, and the reaction received comes unlabeled, as for a private message
        (irctest's testLabeledTagMsgResponsesToSelf)."""
        alice = self.server.irc("alice", caps="echo-message batch labeled-response message-tags")
        received, echo = alice.type("@label=l1;+draft/reply=x1;+draft/react=👍 TAGMSG alice")
        self.assertEqual(("label" in tags_of(received), tags_of(echo)["label"]), (False, "l1"))
        self.assertEqual(parse(received).command, "TAGMSG")

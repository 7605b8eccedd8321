"""The terminal client's replies, reactions and typing (chatroom.client.gestures): what it shows of REPLY, REACT and
TYPING lines, and what it sends for /reply ^N, /react and while a line is being typed, on a fake clock."""

from __future__ import annotations

from twisted.internet.testing import StringTransport

from chatroom.client.console import LineEditor
from tests.test_client_units import ClientCase

LUNCH = "MSG #5 dora lq3k9d2a-7 2026-11-23T12:30:00.000Z :lunch at noon?"


class ClientGestureTests(ClientCase):
    def setUp(self) -> None:
        super().setUp()
        self.start()
        self.chatting("bob")
        self.hear(LUNCH, "MSG #5 wee lq3k9d2a-8 2026-11-23T12:31:00.000Z :who is in?")

    def test_a_reply_shows_the_line_it_answers_above_it(self) -> None:
        self.hear("REPLY #5 lq3k9d2a-9 lq3k9d2a-7", "MSG #5 carol lq3k9d2a-9 2026-11-23T12:34:00.000Z :yes!")
        self.assertEqual(self.console.shown[-2:], ["12:34 [#5] ↳ dora: lunch at noon?", "12:34 [#5] <carol> yes!"])
        self.hear("REPLY #5 lq3k9d2a-10 elsewhere-1", "MSG #5 carol lq3k9d2a-10 2026-11-23T12:33:00.000Z :?")
        self.assertEqual(self.console.shown[-2], "12:34 [#5] ↳ a line not seen here")

    def test_reactions_are_counted_on_their_line_and_shown_again_as_they_come(self) -> None:
        self.hear("REACT #5 wee lq3k9d2a-7 :👍")
        self.assertEqual(self.console.shown[-1], "12:34 [#5] <dora> lunch at noon? [👍 1] (wee 👍)")
        self.hear("REACT #5 carol lq3k9d2a-7 :👍", "REACT #5 eve lq3k9d2a-7 :🎉", "REACT #5 wee lq3k9d2a-7 :👍")
        self.assertEqual(self.console.shown[-1], "12:34 [#5] <dora> lunch at noon? [👍 2 🎉 1] (wee 👍)", "one each")

    def test_reply_and_react_name_recent_lines_of_the_current_room(self) -> None:
        self.client.typed("/reply ^2 count me in")
        self.client.typed("/react 🎉")
        self.client.typed("/react ^2 👍")
        self.assertEqual(
            self.sent(),
            ["/reply #5 lq3k9d2a-7 count me in", "/react #5 lq3k9d2a-8 🎉", "/react #5 lq3k9d2a-7 👍"],
        )
        self.client.typed("/reply ^9 what?")
        self.assertEqual(self.sent(), [])
        self.assertIn("no line ^9 here", self.console.shown[-1])
        self.client.typed("/reply #5 lq3k9d2a-7 as the server has it")
        self.assertEqual(self.sent(), ["/reply #5 lq3k9d2a-7 as the server has it"], "the server's form, as typed")
        self.client.typed("/reply thanks")  # no line named: the last private conversation, as before
        self.assertIn("nobody to reply to yet", self.console.shown[-1])

    def test_who_is_typing_is_one_status_in_the_prompt_until_they_stop_or_it_grows_old(self) -> None:
        self.hear("TYPING #5 dora active", "TYPING #5 wee active")
        self.assertEqual(self.console.prompt, "[#5] (dora, wee are typing) ")
        self.hear("MSG #5 dora lq3k9d2a-9 2026-11-23T12:32:00.000Z :ok")
        self.assertEqual(self.console.prompt, "[#5] (wee is typing) ", "a line said ends its typing")
        self.clock.advance(6)
        self.assertEqual(self.console.prompt, "[#5] ", "an active notice stands 6 seconds")
        self.hear("TYPING #6 carol active")
        self.assertEqual(self.console.prompt, "[#5] ", "another room's typists are not this room's status")
        self.hear("TYPING #5 bob active")
        self.assertEqual(self.console.prompt, "[#5] ", "our own typing, as the server tells it back, is not shown")

    def test_typing_is_sent_while_the_line_holds_a_message_at_most_every_3_seconds(self) -> None:
        editor = LineEditor(self.client)
        editor.makeConnection(StringTransport())
        for key in "hello":
            editor.dataReceived(key.encode())
        self.assertEqual(self.sent(), ["/typing #5 active"])
        self.clock.advance(3)
        editor.dataReceived(b"!")
        self.assertEqual(self.sent(), ["/typing #5 active"])
        editor.dataReceived(b"\x15")  # Ctrl+U: the line emptied
        self.assertEqual(self.sent(), ["/typing #5 done"])
        editor.dataReceived(b"/who")
        self.assertEqual(self.sent(), [], "a command is not typing a message")
        editor.dataReceived(b"\x15hi")
        editor.dataReceived(b"\r")
        self.assertEqual(self.sent(), ["/typing #5 active", "hi"], "the message itself says we are done")

    def test_a_pasted_block_is_one_message_and_shows_as_one_line_being_typed(self) -> None:
        screen = StringTransport()
        editor = LineEditor(self.client)
        editor.makeConnection(screen)
        self.assertIn(b"\x1b[?2004h", screen.value(), "the terminal is asked to mark pastes")
        editor.dataReceived(b"\x1b[200~first\r/not a command\rthird\x1b[201~")
        self.assertTrue(screen.value().endswith("first↵/not a command↵third".encode()))
        self.sent()
        editor.dataReceived(b"\r")
        self.assertEqual(self.sent(), ["/lines #5 3", "first", "/not a command", "third"])
        editor.dataReceived(b"/who\rx\r")
        self.assertEqual(self.sent(), ["/who", "x"], "typed, not pasted: a line each")

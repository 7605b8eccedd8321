"""What the person at the keyboard lives through: trust, a nickname, a room, the chat, and leaving.

`ServerProtocol` is the network side (docs/protocol.md over TLS); `Client`
decides what each server line and each typed line means at the moment, and
ends with the exit status: 0 when the user left, 1 when something failed.
"""

from __future__ import annotations

import datetime
import enum
import random
import re
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from OpenSSL.SSL import Connection
from OpenSSL.SSL import Error as TLSError
from service_identity import VerificationError
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IHandshakeListener, IReactorTime, ISystemHandle
from twisted.internet.protocol import connectionDone
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from zope.interface import implementer

from chatroom.client.company import CLIENT_COMMANDS, Company
from chatroom.client.console import Console
from chatroom.client.export import Exports
from chatroom.client.gestures import Gestures
from chatroom.client.render import Renderer, clean
from chatroom.client.trust import TrustOnFirstUse, Verdict
from chatroom.core.multiline import MULTILINE_LINES
from chatroom.core.names import NICK_SPECIALS, room_key
from chatroom.frontends.line.wire import Line, parse
from chatroom.server.limits import transport_of
from chatroom.server.tls import fingerprint

QUIT_GRACE = 3.0  # seconds to wait for the server's goodbye after /quit
RETRY_FIRST, RETRY_MOST = 1.0, 60.0  # seconds before reconnecting: 1, 2, 4 ... 60, each with some jitter
SLOW_DOWN_WAIT = 2.0  # seconds before a login the server slowed without naming a wait is tried again
# The server's words (chatroom.core.chat's, and /sessions kick's): not to be undone by coming back
FINAL_GOODBYES = (
    "you are banned",
    "banned from the server",
    "disconnected by ",
    "ended from another of your sessions",
    "your account was removed",  # coming back would be as a guest, or try its password on a name given to another
)
FINISH_GRACE = 2.0  # seconds the screen has to take the last line before the client exits anyway
HANDSHAKE_TIMEOUT = 30.0  # seconds a server has to complete TLS once it accepted the connection
LONGEST_LINE = 1024 * 1024  # bytes of one server line: any the server sends (docs/protocol.md says what it sends)
HELP_END = "chatroom-client-help"  # the token of the /ping after /help: its PONG ends the server's list
NICK_END = "chatroom-client-nick"  # the token of the /ping after a /nick while chatting: its PONG ends the answer
PASS_END = "chatroom-client-pass"  # the token of the /ping before a /pass once entered: what came before is answered
ASIDE_END = "chatroom-client-aside"  # the token of the /ping after a command at a question: its PONG ends its answer
PROTOCOL_VERSIONS = ("1", "2", "3", "4")  # the line protocol's versions this client knows: 2 added message ids and
# history, 3 watching, metadata, replies, reactions, typing, several lines, registering, 4 away (docs/protocol.md)


class Phase(enum.Enum):
    CONNECTING = enum.auto()  # until the certificate is trusted, nothing is sent
    TRUST = enum.auto()  # asking the user about an unknown certificate
    NICK = enum.auto()  # typed lines are nicknames
    PASSWORD = enum.auto()  # the next typed line is the password of a registered nickname
    ROOM = enum.auto()  # typed lines are rooms to join
    CHAT = enum.auto()  # typed lines are messages and commands
    RECONNECTING = enum.auto()  # the connection dropped: waiting to try again; typed lines wait too
    LEAVING = enum.auto()


@implementer(IHandshakeListener)
class ServerProtocol(LineReceiver):
    delimiter = b"\n"
    MAX_LENGTH = LONGEST_LINE

    def __init__(self, client: Client) -> None:
        self.client = client

    def connectionMade(self) -> None:
        self.client.connected(self)

    def handshakeCompleted(self) -> None:
        """Hand the client the certificates the server sent, its own first (with the CA that issued it, if sent)."""
        transport = self.transport
        assert ISystemHandle.providedBy(transport)
        tls = transport.getHandle()
        assert isinstance(tls, Connection)
        self.client.handshake(tls.get_peer_cert_chain(as_cryptography=True) or [])

    def abort(self) -> None:
        """Drop the connection now, without waiting for the server."""
        transport_of(self).abortConnection()

    def lineReceived(self, line: bytes) -> None:
        self.client.received(parse(line.removesuffix(b"\r").decode("utf-8", "replace")))

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.client.lost(reason)

    def send(self, text: str) -> None:
        LineReceiver.sendLine(self, text.encode("utf-8"))


class Client:
    """Implements console.Keyboard: typed lines come here, and so do the server's."""

    def __init__(
        self,
        clock: IReactorTime,
        renderer: Renderer,
        server: str,
        trust: TrustOnFirstUse | None,
        interactive: bool,
        nick: str | None = None,
        rooms: list[str] | None = None,
        password: str | None = None,
        timeout: float = HANDSHAKE_TIMEOUT,
        highlight: list[str] | None = None,
        export_dir: Path = Path("."),
    ) -> None:
        self.clock = clock
        self.exports = Exports(export_dir)  # /room export's lines, until written to files
        self.timeout = timeout  # seconds the server has to complete TLS
        self.highlight = list(highlight or [])  # words that highlight a line, besides our nickname
        self.render = renderer
        self.server = server
        self.trust = trust  # None: --ca was given, and OpenSSL already checked everything
        self.interactive = interactive
        self.nick = nick
        self.rooms = list(rooms or [])  # to join once welcomed, the last current; asked for if none
        # Passwords by nickname (lower case), in memory only: the --password-file's is for --nick (or the first
        # nickname that asks), one typed is for the nickname it was asked for; none is sent to another.
        self._passwords: dict[str, str] = {}
        self._file_password = password
        self.console: Console
        self.link: ServerProtocol | None = None
        self.phase = Phase.CONNECTING
        self.done: Deferred[None] = Deferred()  # fires when the client should exit 0; fails with SystemExit(1)
        self._held: list[Line] = []  # what the server said before we trusted it
        self._input: list[str | None] = []  # typed lines not yet acted on; None is the end of input
        self._listening = False  # whether typed lines are acted on now, or wait for the server's answer
        self._unknown: list[x509.Certificate] = []  # the certificates the person is asked about
        self._failure: str | None = None
        self._goodbye: str | None = None
        self._deadline: IDelayedCall | None = None
        self._resume: Phase | None = None  # where a login begun once entered returns to, whatever its verdict
        self._refused: str | None = None  # the server's last refusal while registering, for a script's exit status
        self._prompt = "> "  # the chat's prompt: the current room
        # What reconnecting takes back, kept in memory only: who we are, the password typed, where we were.
        self.reconnect: Callable[[], Deferred[object]] | None = None  # None: never (tests that do not need it)
        self.reconnecting = True  # False: --no-reconnect: a dropped connection ends the client
        self._me: str | None = None
        self._token: str | None = None  # the server's RESUME token: takes our nickname back without a login
        self._resumed_as: str | None = None  # /resume is on its way, for this nickname: RESUME_FAILED means /nick
        self._account: str | None = None  # the registered nickname we last logged in to: ours, whatever we go by
        self._was: str | None = None  # the nickname to take back once logged in again under the account's
        self._password_sent = False  # /pass sent, all before it answered: the next ERR or our NICK is its verdict
        self._file_for: str | None = None  # the nickname (lower case) whose password is the --password-file's
        self._later: list[str | None] = []  # typed while the connection was away: acted on once chatting again
        self._attempt: Deferred[object] | None = None  # a reconnection under way
        self._joined: list[str] = []  # in the order joined
        self._current: str | None = None
        self._back_in: list[str] = []  # the rooms being joined at once (given, or taken back), the current one last
        self._awaited: list[str] = []  # those of them whose JOIN has not come yet
        # The nicknames the server watches for us, by lower case (its answers say which), and those whose first
        # answer is still to come: a watch list is the connection's, so a reconnection asks for it again.
        self._watching: dict[str, str] = {}
        self._asked_watch: set[str] = set()
        self._delay = RETRY_FIRST
        self._retry: IDelayedCall | None = None  # the next try: a reconnection, or a login the server slowed
        self._waiting_out: float | None = None  # seconds a login slowed while registering waits, disconnected
        self._dropped = False  # the connection dropped while the person answered a question
        self._question: str | None = None  # the last question put to the person (or by them: /nick) since they chatted
        self._aside: Phase | None = None  # the question at which a command was typed that is still being answered
        self._unanswered: Phase | None = None  # the question still waiting for its answer when the connection dropped
        self._room_asked = False  # the connection dropped at the Room: question: asked again once back
        self._coming_back = False  # a reconnection of someone who had entered the chat
        self._asked_for: str | None = None  # the registered nickname AUTH asked a password for
        self._nick_asked = False  # a nickname sent at Nickname: or Room: is not answered yet: what is typed is hidden
        self.company = Company()  # who is in our rooms, what is unread, whom we ignore
        self.gestures = Gestures(clock, self._typists_changed)  # recent lines, reactions, who is typing
        self._correspondent: str | None = None  # the other side of the last private message, for /reply
        self._version = PROTOCOL_VERSIONS[-1]  # the server's, from its HELLO
        self._catching_up: dict[str, int] = {}  # room_keys joined again "after" the last message seen: lines shown
        self._marked: dict[str, str] = {}  # room_key -> the time we last told the server we had read it up to
        self._reads_asked = 0  # /read typed and not yet answered: a READ line is shown only then
        # /meta typed and not yet answered: META lines are shown only then. Others' display names are not put beside
        # their nicknames: the nickname is who someone is here, and a display name is free text anyone can choose.
        self._metas_asked = 0

    # From the network

    def connected(self, link: ServerProtocol) -> None:
        """TCP is up; TLS must follow soon, or a listener that never speaks would keep us waiting in silence."""
        self.link = link
        self._deadline = self.clock.callLater(self.timeout, self._no_handshake)

    def _no_handshake(self) -> None:
        if self._coming_back and self.link is not None:
            self.link.abort()  # `lost` tries again later
            return
        self.fail(f"{self.server} accepted the connection but did not complete TLS within {self.timeout:g} s")

    def handshake(self, chain: list[x509.Certificate]) -> None:
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._attempt = None
        if self.phase is Phase.LEAVING:  # the person left while this connection was being made
            self._abort()
            return
        verdict = Verdict.TRUSTED if self.trust is None else self.trust.verdict(chain)
        if verdict is Verdict.TRUSTED:
            self._trusted()
        elif verdict is Verdict.CHANGED:
            assert self.trust is not None
            self.fail(
                f"WARNING: {self.server} presented a different certificate than the one you trusted before"
                f" (now SHA-256 {fingerprint(chain[0])}). Someone may be intercepting the connection, or the"
                " server got a new certificate: ask its administrator, and if it is genuine remove the line for"
                f" {self.server} from {self.trust.known_hosts.path}."
            )
        elif not self.interactive:
            self.fail(
                f"nothing vouches for {self.server}'s certificate (SHA-256 {fingerprint(chain[0])}) and there is"
                " no terminal to ask you: refusing. Give --ca with the server's ca.pem, or run in a terminal."
            )
        else:
            self._unknown = chain
            self.phase = Phase.TRUST
            self.console.show(self.render.error(f"nothing vouches for {self.server}'s certificate."))
            self.console.show(f"Its SHA-256 fingerprint is {fingerprint(chain[0])}")
            self.console.show("Compare it with the one the server logged at start (ask its administrator).")
            self._ask(f"Trust it, and remember it for {self.server}? [y/N]")

    def received(self, line: Line) -> None:
        if self.phase is Phase.LEAVING:  # what was already on its way changes nothing now, the goodbye aside
            if line.word == "BYE":
                self.console.show(self.render(line))
            return
        if self.phase in (Phase.CONNECTING, Phase.TRUST):
            self._held.append(line)
        else:
            self._handle(line)

    def lost(self, reason: Failure) -> None:
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        if self._may_reconnect(reason):
            self._connection_dropped(reason)
            return
        if self._failure is None and self.phase is not Phase.LEAVING:
            self._failure = self._explain(reason)
        self._end()

    def _end(self) -> None:
        """Exit: 0 if the person left, else 1 after one line saying why; once the screen has all that was shown,
        the prompt's erasing too (the shell's next words were written after `[#5] `)."""
        self.phase = Phase.LEAVING
        self.console.set_prompt("")
        failure = self._failure
        if not self.interactive:  # a script: no prompt to erase, and a failure read apart from the conversation
            if failure is None:
                self.done.callback(None)
            else:
                sys.stderr.write(f"chatroom: {failure}\n")
                self.done.errback(SystemExit(1))
            return
        if failure is not None:
            self.console.show(self.render.error(f"chatroom: {failure}"))  # after everything shown before it
        finishing = self.console.finish()
        give_up = self.clock.callLater(FINISH_GRACE, finishing.cancel)  # a terminal that stopped reading
        finishing.addBoth(lambda _: give_up.cancel() if give_up.active() else None)
        finishing.addBoth(lambda _: self.done.callback(None) if failure is None else self.done.errback(SystemExit(1)))

    # From the keyboard (console.Keyboard)

    def typed(self, text: str) -> None:
        if self._away():
            if text.lower().split(None, 1)[:1] == ["/quit"]:
                self.quit("leaving")  # nobody to say goodbye to: leave at once
            elif self._question is None:
                self._later.append(text)  # for the chat once back, never an answer to a question meanwhile
            elif self._unanswered is not None:
                self._answer_late(text)
            else:  # typed at a question that no longer stands: never a message (it may be a password)
                self.console.show(
                    self.render.error(f"not sent: typed at {self._question} before you were back in the chat")
                )
            return
        if not text.startswith("/"):
            self.gestures.sent_to = None  # the message says we are done typing (IRCv3 typing)
        if "\n" in text and (self.phase is not Phase.CHAT or (text.startswith("/") and not text.startswith("//"))):
            self._input += text.split("\n")  # pasted commands, or answers: each line on its own
        else:
            self._input.append(text)
        self._act()

    def end_of_input(self) -> None:
        """Ctrl+D, or the end of piped input once every line before it has been acted on."""
        if self._away():
            self.quit("leaving")
            return
        self._input.append(None)
        self._act()

    def _away(self) -> bool:
        """The connection dropped and we are not back in the chat yet (waiting, or taking back our place).

        A question asked meanwhile (the nickname was taken by our old session, say) is answered by what is typed
        after it appears, never by what was typed before.
        """
        if self.phase is Phase.RECONNECTING:
            return True
        return self._coming_back and self.phase is not Phase.LEAVING and not self._listening

    def interrupted(self) -> None:
        self.quit("leaving")

    def complete(self, word: str, at_start: bool) -> list[str]:
        return self.company.complete(word, at_start, self._current)

    def switch(self, step: int) -> None:
        if self._current in self._joined:
            self.switch_to((self._joined.index(self._current) + step) % len(self._joined))

    def switch_to(self, index: int) -> None:
        if self.phase is Phase.CHAT and 0 <= index < len(self._joined):
            self._send(f"/join {self._joined[index]}")  # joining a room we are in makes it current

    def editing(self, text: str) -> None:
        """Tell the current room we are typing while the line holds a message, once every few seconds; that we
        are done if it is emptied (a message sent says so itself)."""
        if self.phase is not Phase.CHAT or self.link is None:
            return
        room = self.gestures.sent_to if not text else self._current
        state = self.gestures.typing_now(self._current, text)
        if state is not None and room is not None:
            self.link.send(f"/typing {room} {state}")

    def _act(self) -> None:
        """Act on typed lines in order, but only while not waiting for the server's answer to the last one."""
        while self._listening and self._input:
            text = self._input.pop(0)
            if text == "" and self.phase is Phase.PASSWORD and self._resume is not None and self.interactive:
                self._cancel_login()  # a script's next line may be the password: never a message
            elif text == "" and self.phase is Phase.PASSWORD:
                self.console.show(self.render.error("the password cannot be empty: type it, or Ctrl+D to leave"))
                self._ask("Password:", secret=True)
            elif text is not None and self.phase is Phase.PASSWORD:  # whatever it looks like
                self._passwords[(self._asked_for or "").lower()] = text
                self._send_password(text)
            elif text is None and self._refused is not None and self.phase is not Phase.CHAT:
                self.fail(f"the server refused: {self._refused}")  # a script must see that it did not get in
            elif text is None or text.lower().split(None, 1)[:1] == ["/quit"]:
                self.quit((text or "")[len("/quit") :].strip() or "leaving")
            elif self.phase is Phase.TRUST:
                self._answer(text)
            elif not text.strip() or (self.phase is Phase.CHAT and self._client_command(text)):
                continue
            elif text.startswith("/") and not text.startswith("//"):
                # A nickname or room given as a command at its prompt is an answer too: wait for the verdict.
                command = text.split(None, 1)[0].lower()
                self._reads_asked += command == "/read"
                self._metas_asked += command == "/meta" and text.split()[1:2] != ["set"]
                self._watch(command, text.split()[1:])
                if command == "/nick":
                    self._change_nick(text)
                elif (self.phase, command) == (Phase.ROOM, "/join"):
                    self._send(text, wait=True)
                elif self.phase is Phase.CHAT:
                    self._send(text)
                else:
                    self._ask_aside(text)
            elif self.phase is Phase.NICK and len(text.split()) > 1:  # the server would answer /nick's usage
                self.console.show(self.render.error("a nickname is one word: no spaces"))
                self._ask("Nickname:")
            elif self.phase is Phase.NICK:
                self._change_nick(f"/nick {text.strip()}")
            elif self.phase is Phase.ROOM:
                self._send(f"/join {text.strip()}", wait=True)
            elif (account := self._password_of(text)) is not None:
                self.console.show(self.render.error(f"not sent: it is the password of {account}"))
            elif "\n" in text and self._current:
                self._send_block(text)
            else:
                self._send(text)

    def _password_of(self, text: str) -> str | None:
        """The account whose password a line typed in the chat is, if it is one we logged in with: never said in a
        room, where a person who expected a Password: question that did not come (their own registered nickname,
        the account they are logged in to) would type it."""
        return next((name for name, password in self._passwords.items() if text.strip() == password.strip()), None)

    def _change_nick(self, text: str) -> None:
        """A nickname, answered to Nickname: or sent with /nick at Room: or while chatting, is a question to the server:
        a registered one answers with Password:. From the moment it is sent what is typed is hidden, until the answer
        is known: the password, typed ahead of its question, never shows.

        While chatting, typed lines wait for its answer, and at a terminal those typed meanwhile are never messages:
        one may be the password, typed ahead of a question that then never comes (the nickname is taken, invalid or
        free). The /ping after it marks the end of the answer, whatever it is (nothing, for the nickname we have):
        `_nick_answered`. At a question, `_answered_at_question` says when it is known."""
        self.console.hide_typing()
        if self.phase is not Phase.CHAT:
            self._nick_asked = True
            if self.phase is Phase.ROOM:
                self._ask_aside(text)  # its /ping ends the answer
            else:
                self._send(text, wait=True)
            return
        self._question = text
        self._send(text, wait=True)
        self._send(f"/ping {NICK_END}")

    def _nick_answered(self) -> None:
        """The server has answered a /nick typed while chatting: back to the chat, unless it asked for a password.
        What is being typed shows again: no password was asked for."""
        if self.phase is Phase.CHAT and not self._listening:
            self.console.show_typing(keep=True)
            self._typed_ahead(f"before the server answered {self._question}")
            self._question = None
            self._chatting()

    def _answered_at_question(self, line: Line) -> None:
        """What is typed after a nickname sent at Nickname: or Room: stays hidden until `line` answers it: AUTH asks
        Password:, whose answer begins with it (or sends the password we have, and it goes at the next question, as
        after a mid-chat /nick); WELCOME, a refusal, or the end of the answer to /nick at Room: (the /ping after it,
        which follows its NICK, or nothing) show it again as the line being edited."""
        answer = line.word in ("AUTH", "WELCOME", "ERR") or (line.word, line.text) == ("PONG", ASIDE_END)
        if not (self._nick_asked and answer):
            return
        self._nick_asked = False
        if line.word != "AUTH":
            self.console.show_typing(keep=True)

    def _ask_aside(self, text: str) -> None:
        """A command typed at a question that does not answer it (/help at Nickname:, /who at Room:): its answer,
        up to the /ping after it, comes before the next line is read, so that its refusal is never taken for the
        refusal of that line (a script's password sent as a nickname); then the question stands again."""
        if self.link is None:  # the connection dropped while the question stood: it connects again, once
            self._answered_offline(text)
            return
        self._aside = self.phase
        self._send(text)
        self._send(f"/ping {ASIDE_END}", wait=True)

    def _aside_answered(self) -> None:
        """The command typed at the question is answered: the question is asked again, unless the command answered
        a question itself (/nick at Room: asks Password:)."""
        typed_at, self._aside = self._aside, None
        if typed_at is self.phase and not self._listening and self._question is not None:
            self._ask(self._question)

    def _watch(self, command: str, nicks: list[str]) -> None:
        """Note what /watch asks and /unwatch changes: the answers to /watch say whether each is here now, and
        which the server took (`_handle`); a WATCH line for one unwatched meanwhile brings nothing back."""
        if command == "/watch":
            self._asked_watch.update(nick.lower() for nick in nicks)
        elif command == "/unwatch" and nicks:
            for nick in nicks:
                self._watching.pop(nick.lower(), None)
                self._asked_watch.discard(nick.lower())
        elif command == "/unwatch":
            self._watching.clear()
            self._asked_watch.clear()

    def _send_block(self, text: str) -> None:
        """A pasted block: one message (the line protocol's /lines), or several of MULTILINE_LINES lines at most."""
        lines = text.split("\n")
        for start in range(0, len(lines), MULTILINE_LINES):
            block = lines[start : start + MULTILINE_LINES]
            if len(block) > 1:
                self._send(f"/lines {self._current} {len(block)}")
                for line in block:
                    self._send(line)
            elif block[0].strip():  # the last line of a long paste, alone: text, even if it starts with "/"
                self._send("/" + block[0] if block[0].startswith("/") else block[0])

    def _client_command(self, text: str) -> bool:
        """/switch, /ignore, /unignore and /reply are the client's own, it pages /history back from what it showed,
        and adds its own commands to /help's list; whether `text` was one of them."""
        name, _, rest = text.partition(" ")
        name, rest = name.lower(), rest.strip()
        if name == "/switch" and rest:
            room = next((joined for joined in self._joined if _same_room(joined, rest)), None)
            if room is None:
                self.console.show(self.render.error(f"you are not in {rest}: /join it first"))
            else:
                self._send(f"/join {room}")
        elif name == "/ignore" and not rest:
            ignored = ", ".join(sorted(self.company.ignored.values())) or "nobody"
            self.console.show(self.render.note(f"ignoring {ignored}"))
        elif name in ("/ignore", "/unignore") and " " not in rest:
            if name == "/ignore":
                self.company.ignored[rest.lower()] = rest
            else:
                self.company.ignored.pop(rest.lower(), None)
            done = "ignoring" if name == "/ignore" else "no longer ignoring"
            self.console.show(self.render.note(f"{done} {rest} (on this client only, until it exits)"))
        elif (name == "/reply" and rest.startswith("^")) or (name == "/react" and not rest.startswith("#")):
            self._gesture(name, rest)
        elif name in ("/reply", "/r") and rest and not (name == "/reply" and rest.startswith("#")):  # else the server's
            if self._correspondent is None:
                self.console.show(self.render.error("nobody to reply to yet: /msg NICK TEXT"))
            else:
                self._send(f"/msg {self._correspondent} {rest}")
        elif name == "/history" and (paging := self._page_back(rest)):
            self._send(paging)
        elif name == "/register" and " " in rest:  # the server's: the password logs in again after a reconnection
            nick, _, password = text.split(" ", 1)[1].partition(" ")
            self._passwords[nick.lower()] = password
            self._send(text)
        elif name == "/help" and not rest:  # the server's commands, then (once they are all in) the client's
            self._send(text)
            self._send(f"/ping {HELP_END}")
        else:
            return False
        return True

    def _gesture(self, name: str, rest: str) -> None:
        """`/reply ^N TEXT` and `/react [^N] EMOJI`: answer or react to a recent line of the current room, `^` (or
        none, for /react) the latest, `^2` the one before it..."""
        pick, _, what = rest.partition(" ") if rest.startswith("^") else ("^", "", rest)
        msgid = self.gestures.pick(self._current, pick) if self._current else None
        if not what.strip():
            self.console.show(self.render.error(CLIENT_COMMANDS["react"]))
        elif msgid is None:
            self.console.show(self.render.error(f"no line {pick} here: ^ is the latest, ^2 the one before it..."))
        else:
            self._send(f"/{name[1:]} {self._current} {msgid} {what.strip()}")

    def _typists_changed(self) -> None:
        if self.phase is Phase.CHAT:
            self._show_prompt()

    def _page_back(self, count: str) -> str:
        """`/history [N]` as "/history ROOM [N] before ID": the lines before the current room's earliest seen.

        "" when that is not it, or no message was seen there: the server then has it as typed.
        """
        room = self._current
        earliest = self.company.first(room) if room else None
        if room is None or earliest is None or re.fullmatch("[0-9]*", count) is None:
            return ""
        return " ".join(["/history", room, *([count] if count else []), "before", earliest])

    def _ask(self, question: str, secret: bool = False) -> None:
        # Not its answer: the person had not seen it. A secret one's begins with what is hidden (typed after /nick)
        self._typed_ahead(f"before {question} was asked", keep_hidden=secret)
        self._question = question
        self.console.ask(question, secret)
        self._listening = True
        self._act()

    def _typed_ahead(self, when: str, keep_hidden: bool = False) -> None:
        """At a terminal, lines typed while the server was answering a question are neither an answer to the next
        question nor messages (one may be a password): dropped, and the person told. So is the line being typed if
        it is hidden (after /nick, or at a secret question), unless it stays hidden: the beginning of a secret
        question's answer. A script's piped lines are its answers and messages, in order, and stay."""
        if not self.interactive:
            return
        kept = [text for text in self._input if text is None or text.lower().split(None, 1)[:1] == ["/quit"]]
        hidden_gone = not keep_hidden and self.console.show_typing(keep=False)
        if len(kept) < len(self._input) or hidden_gone:
            self.console.show(self.render.error(f"not sent: typed {when}"))
        self._input = kept

    def _send(self, text: str, wait: bool = False) -> None:
        """Send a line; with `wait`, read no more typed lines until the server has answered it."""
        if self.link is None:  # the connection dropped while the person answered a question: the answer reconnects
            self._answered_offline(text)
            return
        self.link.send(text)
        if wait:
            self._listening = False
            self.console.set_prompt("")  # the question is answered

    # Leaving

    def quit(self, reason: str) -> None:
        """Say goodbye and wait (briefly) for the server to close: the user asked to leave, so exit 0."""
        if self.phase is Phase.LEAVING:
            return
        trusted = self.phase not in (Phase.CONNECTING, Phase.TRUST)
        self.phase = Phase.LEAVING  # first: cancelling an attempt below must not schedule another
        self._stop_retrying()
        if self._attempt is not None:
            self._attempt.cancel()  # a connection being made again is not wanted any more
        self._listening = False
        if self.link is None:
            self.done.callback(None)
            return
        if trusted:
            self.link.send(f"/quit {reason}")
            self._deadline = self.clock.callLater(QUIT_GRACE, self.link.abort)
        else:
            self.link.abort()

    def fail(self, message: str) -> None:
        """End with a one-line explanation and exit status 1."""
        self._failure = message
        self.phase = Phase.LEAVING
        self._listening = False
        if self.link is not None:
            self.link.abort()  # `lost` ends it
        else:
            self._end()

    # Inside

    def _answer(self, text: str) -> None:
        if text.strip().lower() not in ("y", "yes"):
            self.fail(f"you did not trust {self.server}'s certificate")
            return
        assert self.trust is not None and self._unknown
        self.trust.pin(self._unknown)
        self.console.show(f"-- remembered in {self.trust.known_hosts.path}")
        if self._dropped:  # the server gave up waiting for the answer: now it is trusted, connect again
            self._dropped = False
            self._connect_again()
            return
        self._trusted()

    def _trusted(self) -> None:
        self.phase = Phase.NICK
        self._listening = False
        self.console.set_prompt("")
        held, self._held = self._held, []
        for line in held:
            self._handle(line)

    def _handle(self, line: Line) -> None:
        assert self.link is not None
        if line.word == "PING":
            self.link.send(f"/pong {line.text or ''}".rstrip())
            return
        if self._repeated(line):
            return
        self._follow(line)
        self._answered_at_question(line)
        if line.word in ("EXPORT", "EXPORTED") and len(line.args) >= 2:
            self._export(line)
            return
        if line.word == "READ" and self.phase is Phase.CHAT:
            self._show_prompt()  # read on another device of ours: maybe no longer news here
        if line.word == "CURRENT":
            self._back_if_joined()
            self._show_prompt()
            if self.phase is Phase.ROOM and not self._back_in:
                self._chatting()
            return
        slowed = self._password_sent and line.word == "ERR" and line.args[:1] == ["SLOW_DOWN"]  # not checked
        # A wrong password is never sent again. Only BAD_LOGIN says it is wrong: TOO_MANY_SESSIONS (the person has
        # as many as allowed) or a nickname taken meanwhile leave it right, for when the nickname is tried again.
        wrong = self._password_sent and line.word == "ERR" and line.args[:1] == ["BAD_LOGIN"]
        if wrong:
            self._passwords.pop((self._asked_for or "").lower(), None)
        if line.word == "PONG" and line.text == HELP_END:
            self.console.show(self.render.note("this client's own commands:"))
            for usage in CLIENT_COMMANDS.values():
                self.console.show(self.render.note(usage))
        elif line.word == "PONG" and line.text == NICK_END:
            self._nick_answered()
        elif line.word == "PONG" and line.text == PASS_END:
            self._password_sent = True  # the next ERR is the verdict
        elif line.word == "PONG" and line.text == ASIDE_END:
            self._aside_answered()
        elif line.word == "REPLY" and len(line.args) == 3:
            self.console.show(self.render.replied(line, self.gestures.said(line.args[0], line.args[2])))
        elif line.word == "REACT" and len(line.args) == 3 and not self.company.is_ignored(line.args[1]):
            said = self.gestures.reacted(line.args[0], line.args[1], line.args[2], line.text or "")
            self.console.show(self.render.reaction(line, said))
        elif line.word == "HISTORY" and len(line.args) == 3 and room_key(line.args[0]) in self._catching_up:
            room, _, lost = line.args
            new = self._catching_up.pop(room_key(room))  # of the lines it ends, those not shown before
            self.console.show(self.render.missed(line._replace(args=[room, str(new), lost])))
        elif line.word == "WATCH" and len(line.args) == 2 and line.args[0].lower() in self._asked_watch:
            self._asked_watch.discard(line.args[0].lower())  # an answer: the server took it
            self._watching.setdefault(line.args[0].lower(), line.args[0])
            self.console.show(self.render.watched(line))  # whether they are here, not that they came
        elif self._shown(line):
            shown = self.render(line)
            if self._mentions(line):  # highlighted, and the terminal's bell rung
                shown = self.render.highlight(line) + ("\a" if self.interactive else "")
                room = line.args[0].lstrip("@+")  # a message to the operators only is in the room too
                if line.word != "PRIV" and room != self._current:
                    self.company.mentioned.add(room)
            self.console.show(shown)
            if line.word in ("MSG", "ACTION") and self.phase is Phase.CHAT:
                self._show_prompt()  # another room's news
        if line.word == "JOIN":
            self._back_if_joined()
        if line.word == "HELLO" and not self._resume_nick():
            self._choose_nick()
        elif line.word == "AUTH":
            self._asked_for = line.args[0] if line.args else self.nick
            self._log_in()
        elif self._resume is not None and self._verdict(line):
            self._login_over()
        elif line.word == "WELCOME" and self._coming_back and not self.rooms and not self._room_asked:
            self._chatting()  # in no room before: none to join again
            self._say_back()
        elif line.word == "WELCOME":
            self._enter_rooms()
        elif slowed:
            self._password_sent = False  # nothing is asked: the login begins again by itself (below)
        elif line.word == "ERR" and self._resumed_as is not None and line.args[:1] == ["RESUME_FAILED"]:
            nick, self._resumed_as, self._token = self._resumed_as, None, None  # the server restarted, or we lingered
            self._send(f"/nick {self._logging_in_again(nick)}", wait=True)
        elif wrong and self._file_for == (self._asked_for or "").lower():
            self.fail(f"the password from --password-file was refused: {line.text}")  # it would be refused again
        elif self._refuses_answer(line) and self.phase in (Phase.NICK, Phase.PASSWORD):
            self._refused, self._password_sent, self._asked_for = line.text, False, None  # not one to come back as
            self._resumed_as = self._was = None
            self.phase = Phase.NICK
            self._ask("Nickname:")
        elif self._refuses_answer(line) and self.phase is Phase.ROOM:
            self._refused, self._back_in, self._catching_up = line.text, [], {}
            self._ask("Room:")
        elif line.word == "BYE":
            self._goodbye = line.text
        if slowed:
            self._log_in_later(line.text or "")

    def _export(self, line: Line) -> None:
        """Gather a room's EXPORT lines; at its EXPORTED line, write them to files and say where."""
        if line.word == "EXPORT" and len(line.args) >= 5:
            self.exports.take(line)
            return
        if line.word != "EXPORTED":
            return
        room, count = line.args[:2]
        today = datetime.datetime.fromtimestamp(self.render.now(), self.render.zone).date()
        try:
            text, data = self.exports.write(room, today)
        except OSError as error:
            self.console.show(self.render.note(f"cannot export {room}: {error.strerror}: {error.filename}"))
            return
        self.console.show(self.render.note(f"exported {count} lines of {room} to {text} and its {data.suffix}"))

    def _repeated(self, line: Line) -> bool:
        """A line of a catch-up that we showed before the connection dropped: when another device of ours is in the
        room, the server gives this one the room's latest lines too (docs/protocol.md, Sessions). Each line is
        shown once, and the catch-up's HISTORY counts only those that are new."""
        match line.word, line.args:
            case (("SAID" | "DID"), [room, _, msgid, *_]) | ("REPLY", [room, msgid, _]):
                key = room_key(room)
            case _:
                return False
        if key not in self._catching_up:
            return False
        if self.company.shown_before(room, msgid):
            return True
        if line.word != "REPLY":
            self._catching_up[key] += 1
        return False

    def _follow(self, line: Line) -> None:
        """Keep track of our nickname, rooms and current room (what a reconnection takes back), and of the company."""
        self._follow_self(line)
        self.company.follow(line, self._me, self._current)
        self.gestures.follow(line, self._me)

    def _follow_self(self, line: Line) -> None:
        match line.word, line.args:
            case "HELLO", [_, version, *_]:
                self._version = version
                if version not in PROTOCOL_VERSIONS:
                    known = ", ".join(PROTOCOL_VERSIONS[:-1]) + " and " + PROTOCOL_VERSIONS[-1]
                    self.console.show(
                        self.render.note(
                            f"the server speaks version {version} of the protocol, this client knows {known}:"
                            " lines it does not know are shown as they come"
                        )
                    )
            case "WELCOME", [nick, *_]:
                self._me, self._resumed_as = nick, None
                if self._password_sent:
                    self._account = self._asked_for
            case "RESUME", [token]:
                self._token = token
            case "NICK", [old, new] if old == self._me:
                if self._password_sent:  # our /pass's verdict (`_verdict`): logged in to another account
                    self._account = self._asked_for
                self._me = new
            case "JOIN", [room, nick] if nick == self._me and room not in self._joined:
                self._joined.append(room)
                self._awaited = [given for given in self._awaited if not _same_room(room, given)]
            case ("PART", [room, nick]) | ("KICK", [room, _, nick]) if nick == self._me and room in self._joined:
                self._joined.remove(room)
            case "RENAME", [old, new, _] if old in self._joined:
                self._joined[self._joined.index(old)] = new
            case "PRIV", [sender, recipient]:
                self._correspondent = recipient if sender == self._me else sender
            case "CURRENT", args:
                for shown in (self._current, *args[:1]):  # read: the room looked at until now, and the one now shown
                    self._mark_read(shown)
                self._current = args[0] if args else None
                if args:  # its join is answered: a catch-up that sent no HISTORY (nothing kept) is over too
                    self._catching_up.pop(room_key(args[0]), None)
                if self._back_in and _same_room(self._current or "", self._back_in[-1]):
                    self._back_in = []
                    self._chatting()

    def _mark_read(self, room: str | None) -> None:
        """Tell the server we have read `room` up to its latest line: the person's other devices stop counting it
        unread (docs/protocol.md, read markers)."""
        time = self.company.last_time(room) if room in self._joined else ""
        if room is None or self.link is None or not time or time <= self._marked.get(room_key(room), ""):
            return
        self._marked[room_key(room)] = time
        self.link.send(f"/read {room} {time}")

    def _verdict(self, line: Line) -> bool:
        """Whether `line` answers our /pass: a refusal, or our own nickname change (already followed)."""
        if not self._password_sent:
            return False
        if line.word == "ERR":
            return True
        return line.word == "NICK" and line.args[1:2] == [self._me] and line.args[0] != self._me

    def _refuses_answer(self, line: Line) -> bool:
        """Whether `line` refuses the answer to the question asked (/nick, /resume, /pass, /join): an ERR once that
        answer is on its way. One that comes while the question waits for the person, or for the answer to a command
        typed at it, refuses something else (a typing notice in a moderated room, that command): it is shown, and the
        question stands."""
        if line.word != "ERR":
            return False
        if self.phase is Phase.PASSWORD:
            return self._password_sent
        return self.phase in (Phase.NICK, Phase.ROOM) and not self._listening and self._aside is None

    def _mentions(self, line: Line) -> bool:
        """A private message to us, or a line in a room that names us or a highlight word, said by someone else."""
        match line.word, line.args:
            case "PRIV", [sender, recipient]:
                return recipient == self._me and sender != self._me
            case (("MSG" | "ACTION"), [_, nick, *_]) if nick != self._me:
                words = [word for word in (self._me, *self.highlight) if word]
                return any(_names(word, line.text or "") for word in words)
        return False

    def _shown(self, line: Line) -> bool:
        """Not the lines something else says better: AUTH is the Password: question, HELLO's hint is for those
        without --nick, and an unasked-for BYE is the one line that ends the client (see `lost`); nor RESUME's
        token, a secret on a screen a class may see; nor what someone /ignore'd says."""
        if line.word in ("MSG", "ACTION", "SAID", "DID", "FOUND", "PRIV") and len(line.args) >= 2:
            sender = line.args[0] if line.word == "PRIV" else line.args[1]
            if self.company.is_ignored(sender):
                return False
        if line.word == "BYE":
            return self.phase is Phase.LEAVING
        if line.word == "META":  # someone's display name, avatar...: shown only as the answer to our /meta
            return self._metas_asked > 0
        if line.word == "METADATA":
            asked, self._metas_asked = self._metas_asked > 0, max(0, self._metas_asked - 1)
            return asked
        if line.word == "READ":  # another device of ours read a room: shown only as the answer to our /read
            asked, self._reads_asked = self._reads_asked > 0, max(0, self._reads_asked - 1)
            return asked
        if line.word == "ERR" and self._resumed_as is not None and line.args[:1] == ["RESUME_FAILED"]:
            return False  # the client logs in again by itself: nothing for the person to do
        return line.word not in ("AUTH", "RESUME", "TYPING", "REACT") and not (line.word == "HELLO" and self.nick)

    def _show_prompt(self) -> None:
        """The current room, and the others with unread lines: `[#5] (#6 3, #7 1!) `."""
        activity = self.company.activity(self._current)
        shown = clean(f"[{self._current}] ") if self._current else "> "
        self._prompt = (
            shown + (clean(f"({activity}) ") if activity else "") + _typing(self.gestures.typists(self._current))
        )
        self.console.set_prompt(self._prompt)

    def _chatting(self) -> None:
        if self._question is not None:
            self._typed_ahead(f"after {self._question} before you were in the chat")
        self.phase, self._resume, self._refused, self._password_sent = Phase.CHAT, None, None, False
        self._question = None
        self._input[:0], self._later = self._later, []  # what was typed while away goes first
        self.console.set_prompt(self._prompt)
        self._listening = True
        self._act()

    def _log_in(self) -> None:
        if self.phase in (Phase.CHAT, Phase.ROOM):
            self._resume = self.phase  # /nick to a registered nickname while chatting, or at the Room: question
        self.phase = Phase.PASSWORD
        key = (self._asked_for or "").lower()
        if self._file_password is not None and key not in self._passwords:  # for the first nickname that asks
            self._passwords[key], self._file_password, self._file_for = self._file_password, None, key
        password = self._passwords.get(key)
        if password is not None:
            self._send_password(password)
        else:
            self._ask("Password:", secret=True)

    def _login_over(self) -> None:
        """A login begun once entered is over, either way: back to the conversation, or to the Room: question it was
        begun at (the WELCOME it would wait for came before it)."""
        if self._resume is Phase.CHAT:
            self._chatting()
            return
        self.phase, self._resume, self._password_sent = Phase.ROOM, None, False
        self._ask("Room:")

    def _cancel_login(self) -> None:
        """An empty password once entered, at a terminal: no login, and back where it was begun, under the nickname we
        have (a script's empty line is asked again, as its first login's: its next line may be the password). Nothing
        is sent: the server's pending login is only ever completed by a /pass, and the next /nick replaces it."""
        nick, self._asked_for = self._asked_for, None
        self._login_over()  # first: the line below is shown above the prompt we are back at, not Password:
        self.console.show(self.render.note(f"not logged in to {nick}: you are still {self._me}"))

    def _send_password(self, password: str) -> None:
        """/pass, whose verdict is the next ERR, or our own NICK or WELCOME. Once entered (chatting, or at Room:),
        lines sent before it may be answered after it is sent (a typing notice or a message refused, a /join): the
        /ping before it marks where their answers end, and only then is an ERR its verdict."""
        if self._resume is None:
            self._password_sent = True
        else:
            self._send(f"/ping {PASS_END}")
        self._send(f"/pass {password}", wait=True)

    def _log_in_later(self, why: str) -> None:
        """The server did not check the password (SLOW_DOWN): ask for the nickname again once the wait it names is
        over (a few seconds if it names none), and its AUTH sends the same password. Never sooner than it said,
        and a little later for some, so that a class behind one address is not all back at the same moment.

        Before a nickname is taken, the wait is spent disconnected: the server names the wait of its login policy
        (up to a minute), not one this connection may spend (its registration timeout, 30 s by default, would end it
        with "choose a nickname sooner"), and a connection kept idle would count against the address's."""
        named = re.search(r"try again in (\d+) s", why)
        wait = (int(named[1]) if named else SLOW_DOWN_WAIT) * random.uniform(1.0, 1.5)
        nick, link = self._asked_for, self.link
        self.console.show(self.render.note(f"logging in as {nick} again in {wait:.0f} s"))
        if self.phase not in (Phase.CHAT, Phase.ROOM) and self.reconnect is not None:
            self._waiting_out = wait
            self._abort()  # `lost` connects again once the wait is over
            return

        def again() -> None:
            if self.link is link and link is not None and self.phase is not Phase.LEAVING:  # else: a drop or /quit
                link.send(f"/nick {nick}")

        self._retry = self.clock.callLater(wait, again)

    def _logging_in_again(self, nick: str) -> str:
        """The nickname to come back under when the token no longer works: the account's we logged in to, whose
        password we keep (the server joins us to our person whatever nickname they go by, or makes them anew, and
        `nick` is taken back once back: `_say_back`), else `nick`, free again or someone else's: the server says."""
        account = self._account
        if account is None or account.lower() not in self._passwords or account.lower() == nick.lower():
            return nick
        self._was = nick
        return account

    def _resume_nick(self) -> bool:
        """Coming back under the nickname we had, with the server's token: the server gives it back, rooms and all,
        without a password to check (a restarted worker's clients would otherwise all log in at once). With the
        last line seen in each room, so that it shows exactly what was missed, each line once, even what it had
        sent to the lost connection before noticing it was lost."""
        if not (self._coming_back and self._token and self.nick and self.nick == self._me):
            return False
        self.phase, self._resumed_as, self.nick = Phase.NICK, self._me, None
        names = [room.partition(" ")[0] for room in self.rooms]
        seen = [f"{name}:{last}" for name in names if (last := self.company.last(name)) is not None]
        self._send(" ".join(["/resume", self._me, self._token, *seen]), wait=True)
        return True

    def _choose_nick(self) -> None:
        """Send the nickname from the command line, once (if the server refuses it, ask); otherwise ask for it.
        Typing is hidden until it is answered unless we have its password: one typed as the client connects never
        shows. Not on a reconnection, where what is typed is a message."""
        self.phase = Phase.NICK
        nick, self.nick = self.nick, None
        if nick and not self._coming_back and nick.lower() not in self._passwords and not self._file_password:
            self._change_nick(f"/nick {nick}")
        elif nick:
            self._send(f"/nick {nick}", wait=True)
        else:
            self._ask("Nickname:")

    def _enter_rooms(self) -> None:
        """Join the rooms given (or taken back after a reconnection), the last becoming current; else ask."""
        self.phase, self._room_asked = Phase.ROOM, False
        self._back_in, self.rooms = self.rooms, []
        self._awaited = list(self._back_in)
        if not self._back_in:
            self._back_if_joined()  # back at the Room: question the connection dropped at: no room to join again
            self._ask("Room:")
            return
        assert self.link is not None
        self._listening = False
        self.console.set_prompt("")
        self._catching_up = {}
        for room in self._back_in:
            self.link.send(self._join_line(room))

    def _join_line(self, room: str) -> str:
        """`/join ROOM [KEY] [after ID]`: with its key (given, or as the room showed it), and after the last message
        seen there, so that a reconnection shows what was said meanwhile, each line once."""
        name, _, given = room.partition(" ")
        key = given.strip() or self.company.keys.get(room_key(name), "")
        last = self.company.last(name) if self._version != "1" else None
        if last is not None:
            self._catching_up[room_key(name)] = 0
        return " ".join(["/join", name, *([key] if key else []), *(["after", last] if last else [])])

    # Reconnecting

    def _may_reconnect(self, reason: Failure) -> bool:
        """A connection that dropped, not one the person ended or a check refused; TLS failures are not retried.

        A first connection that fails before TLS is not retried either: the person sees why at once.
        """
        if self.reconnect is None or self.phase is Phase.LEAVING or self._failure is not None:
            return False
        if self._waiting_out is not None:
            return True  # we hung up, to log in again once the server's wait is over
        if not self.reconnecting or (self.phase is Phase.CONNECTING and not self._coming_back):
            return False
        if self._goodbye is not None and self._goodbye.startswith(FINAL_GOODBYES):
            return False  # banned or put out by an administrator: coming back would not be welcome
        return not reason.check(VerificationError, TLSError)

    def _connection_dropped(self, reason: Failure) -> None:
        self.link = None
        why, self._goodbye = self._explain(reason), None
        # At the Room: question (or a /join, /nick or password typed there), with no room to take back: Room: is asked
        # again once back, through as many drops as come first, never the chat in no room
        self._room_asked = self._room_asked or Phase.ROOM in (self.phase, self._resume)
        registering = self._resume is None and not self._coming_back
        if registering and self._listening and self.phase in (Phase.TRUST, Phase.NICK, Phase.PASSWORD, Phase.ROOM):
            self._dropped = True  # the person is answering a question (the server's registration timeout)
            self.console.show(self.render.note(f"{why}: your answer will connect again"))
            return
        self._resume, self._password_sent = None, False  # a login started mid-chat is abandoned with the connection
        self._nick_asked = False  # what it hides stays hidden: it goes at the next question, or once back in the chat
        if self._back_in or self.rooms:  # still entering the rooms given, or taking them back: all of them again
            self.rooms = self._back_in or self.rooms
        else:
            self.rooms = [room for room in self._joined if room != self._current]
            self.rooms += [self._current] if self._current else []
        if self.phase is Phase.CHAT and self._question is not None:  # behind a /nick whose answer never came
            # At a terminal: dropped, and told. What is being typed stays hidden (the password may be half typed): it
            # goes once back in the chat, or at the next question
            self._typed_ahead(f"before the server answered {self._question}", keep_hidden=True)
            if not self.interactive:
                self._question = None  # a script's lines are its messages, in order
        if self._question is None:  # else they were typed at a question: never messages
            self._later[:0] = [line for line in self._input if line is not None]
        questions = (Phase.NICK, Phase.PASSWORD, Phase.ROOM)
        self._unanswered = self.phase if self._listening and self.phase in questions else None
        self.phase, self._listening, self._input = Phase.RECONNECTING, False, []
        self.console.set_prompt("")
        if self._waiting_out is not None:  # as the person was told (`_log_in_later`)
            self._retry, self._waiting_out = self.clock.callLater(self._waiting_out, self._connect_again), None
            return
        self.console.show(
            self.render.error(f"{why}: reconnecting in {self._schedule():.0f} s (/quit or Ctrl+D leaves)")
        )

    def _schedule(self) -> float:
        """Try again after the next delay of the backoff; return it, as the person is told it."""
        self._stop_retrying()  # a slowed login, given up with its connection
        delay, self._delay = self._delay, min(self._delay * 2, RETRY_MOST)
        jitter = random.uniform(0.8, 1.2)  # a restarted server is not hit by all its clients at once
        self._retry = self.clock.callLater(delay * jitter, self._connect_again)
        return delay

    def _stop_retrying(self) -> None:
        if self._retry is not None and self._retry.active():
            self._retry.cancel()

    def _abort(self) -> None:
        """Drop the connection now; `lost` decides what follows (trying again, or the end)."""
        if self.link is not None:
            self.link.abort()

    def _connect_again(self) -> None:
        assert self.reconnect is not None
        self._coming_back = self._me is not None
        self.phase, self._joined, self._held, self._listening, self._aside = Phase.CONNECTING, [], [], False, None
        self._unanswered = None  # the question is asked again if it must be
        self.console.set_prompt("")
        # The nickname the person answered with, else ours, else the one being logged in to (a first login the
        # server closed, slowed past its registration timeout): with its password kept; its rooms joined again.
        self.nick = self.nick or self._me or self._asked_for
        self._attempt = self.reconnect()
        self._attempt.addErrback(self._not_yet)

    def _not_yet(self, failure: Failure) -> None:
        self._attempt = None
        if self.phase is Phase.LEAVING:
            return
        if not self.reconnecting:  # connecting again after a slowed login (`_log_in_later`), with --no-reconnect
            self.fail(f"cannot connect to {self.server}: {failure.getErrorMessage()}")
            return
        self.phase = Phase.RECONNECTING
        self.console.show(
            self.render.error(f"cannot reach {self.server} yet: trying again in {self._schedule():.0f} s")
        )

    def _answer_late(self, text: str) -> None:
        """A line typed at the question the connection dropped under (the server gave up waiting): its answer,
        which connects again at once, as it does during a first registration."""
        assert self._unanswered is not None
        self._stop_retrying()
        self.phase, self._unanswered, self._listening = self._unanswered, None, True
        self._input.append(text)
        self._act()

    def _answered_offline(self, text: str) -> None:
        """The person answered a question after the server had closed the connection: connect again with it."""
        command, _, value = text.partition(" ")
        if command == "/nick":
            self.nick = value
        elif command == "/pass":
            self.nick = self._asked_for
            self._passwords[(self._asked_for or "").lower()] = value
        elif command == "/join":
            self.rooms = [value]
        self._dropped = False
        self._connect_again()

    def _back_if_joined(self) -> None:
        """Say we are back once the last room is current and every room is joined again: CURRENT may come first
        (a server with --redis sends it at once, and the JOIN once the change comes back from Redis)."""
        if self._coming_back and not self._back_in and not self._awaited:
            self._say_back()

    def _say_back(self) -> None:
        self._delay, self._coming_back = RETRY_FIRST, False
        rooms = ", ".join(self._joined) or "no room"
        self.console.show(self.render.note(f"reconnected to {self.server} as {self._me}: back in {rooms}"))
        was, self._was = self._was, None
        # Back as a person made anew under the account's nickname: ours again. Not when joined to our person under
        # another one: another of our devices renamed us meanwhile.
        if was is not None and was != self._me and (self._me or "").lower() == (self._account or "").lower():
            self._send(f"/nick {was}")
        if self._watching:  # those the server took: one it refused would have the whole line refused
            self._watch("/watch", list(self._watching.values()))
            self._send("/watch " + " ".join(self._watching.values()))

    def _explain(self, reason: Failure) -> str:
        if self._goodbye is not None:
            return f"the server closed the connection: {self._goodbye}"
        if reason.check(VerificationError):
            return f"{self.server}'s certificate is not valid for that name (try the name it was made for)"
        if reason.check(TLSError):
            arguments = reason.value.args if reason.value is not None else ()
            details = "; ".join(str(entry[-1]) for entry in arguments[0] if entry) if arguments else ""
            return f"TLS with {self.server} failed: {details or reason.getErrorMessage()}"
        return f"lost the connection to {self.server}"


def _typing(typists: list[str]) -> str:
    """The status of who is typing in the current room: `(alice is typing) `, `(alice, bob are typing) `."""
    if not typists:
        return ""
    shown = ", ".join(typists[:3]) + (f" and {len(typists) - 3} more" if len(typists) > 3 else "")
    return clean(f"({shown} {'is' if len(typists) == 1 else 'are'} typing) ")


def _same_room(shown: str, given: str) -> bool:
    """Whether a room the server shows ("#5") is the one given ("5", "#5", "#FIVE" for "#five", "club KEY")."""
    name = (given.split() or [""])[0]
    return shown.removeprefix("#").lower() == name.removeprefix("#").lower()


def _names(word: str, text: str) -> bool:
    """Whether `text` has `word` (a nickname, or a highlight word) on its own, case ignored, as a person reads it:
    "alice," and "@alice" do, "malice", "alice2" and "alice_" do not; "Renée" and "Rennes" do not name ren; and
    "你好ann今天", "annさん" and "ann님" name ann, as Chinese, Japanese, Korean and Thai put no space between a name
    and the words around it. The characters beside it may not be ones that make a longer word (`_in_word`).

    The web client's `mentions` (chatroom/frontends/web/client/chat.js) follows the same rule.
    """
    for found in re.finditer(f"(?={re.escape(word)})", text, re.IGNORECASE):  # every place, overlapping ones too
        start, end = found.start(), found.start() + len(word)
        if not _in_word(text[start - 1 : start]) and not _in_word(text[end : end + 1]):
            return True
    return False


_NICK_CHARACTER = re.compile(rf"[A-Za-z0-9{NICK_SPECIALS}-]")
# Scripts written without spaces between words (or, as Korean, with particles and titles joined to a name): Thai,
# Lao, Tibetan, Myanmar, Hangul, Khmer, CJK radicals and symbols, kana, Bopomofo, CJK ideographs, Yi, CJK
# compatibility ideographs, halfwidth kana and Hangul, the kana supplements, CJK ideographs beyond the BMP.
_SPACELESS = re.compile(
    "[\u0e00-\u0fff\u1000-\u109f\u1100-\u11ff\u1780-\u17ff\u2e80-\ua4cf\ua960-\ua97f\uac00-\ud7ff"
    "\uf900-\ufaff\uff66-\uffdc\U0001b000-\U0001b16f\U00020000-\U0003ffff]"
)


def _in_word(char: str) -> bool:
    """Whether `char` (empty at either end of the text) beside a name makes it part of a longer word: a nickname's
    character, or any other letter, mark or digit but those of the scripts in `_SPACELESS`."""
    return bool(char) and (
        _NICK_CHARACTER.match(char) is not None
        or (unicodedata.category(char)[0] in "LMN" and _SPACELESS.match(char) is None)
    )

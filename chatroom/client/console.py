"""The keyboard and the screen, through twisted.internet.stdio.StandardIO.

On a terminal, `LineEditor` reads keys one by one and draws the line being
typed itself, so that it can print incoming lines above it and redraw it
intact. When stdin is a pipe, `PipeConsole` reads plain lines and prints plain
lines: that is what scripts and tests see.
"""

from __future__ import annotations

import codecs
import shutil
import termios
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol as TypingProtocol

from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.protocol import Protocol
from twisted.protocols.basic import LineReceiver
from zope.interface import implementer


class Keyboard(TypingProtocol):
    """What a console reports to the client."""

    def typed(self, text: str) -> None: ...

    def end_of_input(self) -> None: ...

    def interrupted(self) -> None: ...


class Console(TypingProtocol):
    """What the client asks of a console."""

    def show(self, text: str) -> None: ...

    def set_prompt(self, prompt: str) -> None: ...

    def ask(self, question: str, secret: bool = False) -> None:
        """Prompt for the next typed line; a secret one is not shown as typed, nor kept in history."""


@contextmanager
def keys_one_by_one(fd: int) -> Iterator[None]:
    """Terminal mode for the line editor: no echo, no line buffering, Ctrl+C as a key; always restored."""
    saved = termios.tcgetattr(fd)
    changed = termios.tcgetattr(fd)
    changed[3] &= ~(termios.ICANON | termios.ECHO | termios.ISIG)
    changed[6][termios.VMIN] = 1
    changed[6][termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, changed)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)


@implementer(IHalfCloseableProtocol)
class PipeConsole(LineReceiver):
    """Lines in, lines out: for stdin that is not a terminal."""

    delimiter = b"\n"

    def __init__(self, keyboard: Keyboard) -> None:
        self.keyboard = keyboard

    def lineReceived(self, line: bytes) -> None:
        self.keyboard.typed(line.removesuffix(b"\r").decode("utf-8", "replace"))

    def readConnectionLost(self) -> None:
        self.keyboard.end_of_input()

    def writeConnectionLost(self) -> None:
        """stdout is gone (the reader went away): nothing more to show."""

    def show(self, text: str) -> None:
        self.transport.write(text.encode("utf-8", "replace") + b"\n")

    def set_prompt(self, prompt: str) -> None:
        """Scripts need no prompt."""

    def ask(self, question: str, secret: bool = False) -> None:
        self.show(question)


_ENTER, _ERASE, _KILL_LINE, _KILL_WORD = "\r\n", "\x7f\x08", "\x15", "\x17"
_INTERRUPT, _END, _REDRAW, _ESCAPE = "\x03", "\x04", "\x0c", "\x1b"


class LineEditor(Protocol):
    """A one-line editor for a terminal: typing, erasing, history, and output that never garbles the input.

    Keys: Backspace, Ctrl+U (erase the line), Ctrl+W (erase a word), Up and
    Down (history), Ctrl+L (redraw), Enter; Ctrl+D on an empty line and
    Ctrl+C leave. Other escape sequences are ignored.
    """

    def __init__(self, keyboard: Keyboard) -> None:
        self.keyboard = keyboard
        self.prompt = ""
        self.buffer = ""
        self.secret = False  # a password being typed: shown as stars, kept out of history
        self.history: list[str] = []
        self._recalled = 0  # how far back Up has gone
        self._escape = ""  # an escape sequence being read
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def dataReceived(self, data: bytes) -> None:
        for key in self._decoder.decode(data):
            self._key(key)
        self._draw()

    def _key(self, key: str) -> None:
        if self._escape:
            self._escape += key
            if len(self._escape) == 2 and key not in "[O":  # Alt+key: ignored
                self._escape = ""
            elif len(self._escape) > 2 and "@" <= key <= "~":  # the end of ESC [ ... X or ESC O X
                self._sequence(self._escape)
                self._escape = ""
            return
        if key == _ESCAPE:
            self._escape = key
        elif key in _ENTER:
            self._enter()
        elif key in _ERASE:
            self.buffer = self.buffer[:-1]
        elif key == _KILL_LINE:
            self.buffer = ""
        elif key == _KILL_WORD:
            self.buffer = self.buffer.rstrip().rpartition(" ")[0] + (" " if " " in self.buffer.rstrip() else "")
        elif key == _INTERRUPT:
            self.keyboard.interrupted()
        elif key == _END:
            if not self.buffer:
                self.keyboard.end_of_input()
        elif key.isprintable():
            self.buffer += key

    def _sequence(self, sequence: str) -> None:
        if sequence[-1] == "A" and self._recalled < len(self.history):
            self._recalled += 1
            self.buffer = self.history[-self._recalled]
        elif sequence[-1] == "B" and self._recalled > 0:
            self._recalled -= 1
            self.buffer = self.history[-self._recalled] if self._recalled else ""

    def _enter(self) -> None:
        text, self.buffer, self._recalled = self.buffer, "", 0
        if text and not self.secret and (not self.history or self.history[-1] != text):
            self.history.append(text)
        self.secret = False
        self._draw()
        self.keyboard.typed(text)

    def _draw(self) -> None:
        """Rewrite the input line; only its end is shown when it is wider than the terminal, so it never wraps."""
        width = max(10, shutil.get_terminal_size().columns - len(self.prompt) - 1)
        shown = "*" * len(self.buffer) if self.secret else self.buffer
        self.transport.write(f"\r\x1b[K{self.prompt}{shown[-width:]}".encode())

    def show(self, text: str) -> None:
        """Print a line above the one being typed, which is then drawn again."""
        self.transport.write(f"\r\x1b[K{text}\n".encode())
        self._draw()

    def set_prompt(self, prompt: str) -> None:
        self.prompt = prompt
        self._draw()

    def ask(self, question: str, secret: bool = False) -> None:
        self.secret = secret
        self.set_prompt(question + " ")

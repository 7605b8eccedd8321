"""The keyboard and the screen, through twisted.internet.stdio.StandardIO.

On a terminal, `LineEditor` reads keys one by one and draws the line being
typed itself, so that it can print incoming lines above it and redraw it
intact. When stdin is a pipe, `PipeConsole` reads plain lines and prints plain
lines: that is what scripts and tests see.
"""

from __future__ import annotations

import codecs
import re
import shutil
import termios
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol as TypingProtocol

import wcwidth
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.protocol import Protocol, connectionDone
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from zope.interface import implementer

from chatroom.client.render import TAB_STOP
from chatroom.frontends.line.wire import CONTROL_CHARACTERS


class Keyboard(TypingProtocol):
    """What a console reports to the client."""

    def typed(self, text: str) -> None: ...

    def end_of_input(self) -> None: ...

    def interrupted(self) -> None: ...

    def complete(self, word: str, at_start: bool) -> list[str]:
        """What Tab may put in place of `word` (the one before the cursor; `at_start`: the line's first)."""

    def switch(self, step: int) -> None:
        """Make the next (1) or previous (-1) of our rooms current."""

    def switch_to(self, index: int) -> None:
        """Make our room number `index` (0 first, in the order joined) current."""

    def editing(self, text: str) -> None:
        """The line being typed changed to `text` (not a secret one): the others may be told we are typing."""


class Console(TypingProtocol):
    """What the client asks of a console."""

    def show(self, text: str) -> None: ...

    def set_prompt(self, prompt: str) -> None: ...

    def ask(self, question: str, secret: bool = False) -> None:
        """Prompt for the next typed line; a secret one is not shown as typed, nor kept in history."""

    def hide_typing(self) -> None:
        """Show no line typed from now on, as a secret question's answer, until `show_typing` (or a secret question,
        whose answer it becomes): it may be a password, typed ahead of the question that asks for it."""

    def show_typing(self, keep: bool) -> bool:
        """End what `hide_typing` or a secret question hides: the line being typed shows as typed if `keep`, else it
        goes, never shown; whether a line went."""

    def finish(self) -> Deferred[None]:
        """Write out everything shown, then close: fires once it is on the screen."""


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
        self.finished: Deferred[None] = Deferred()

    def lineReceived(self, line: bytes) -> None:
        self.keyboard.typed(line.removesuffix(b"\r").decode("utf-8", "replace"))

    def readConnectionLost(self) -> None:
        self.keyboard.end_of_input()

    def writeConnectionLost(self) -> None:
        """stdout is gone (the reader went away): nothing more to show."""

    def show(self, text: str) -> None:
        _write(self, text.encode("utf-8", "replace") + b"\n")

    def set_prompt(self, prompt: str) -> None:
        """Scripts need no prompt."""

    def ask(self, question: str, secret: bool = False) -> None:
        self.show(question)

    def hide_typing(self) -> None:
        """Nothing typed is shown: stdin is not a terminal."""

    def show_typing(self, keep: bool) -> bool:
        return False

    def finish(self) -> Deferred[None]:
        if self.transport is not None and not self.finished.called:
            _write(self, b"\x1b[?2004l")  # the terminal as it was
        return _finish(self, self.finished)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if not self.finished.called:
            self.finished.callback(None)


_ENTER, _ERASE, _KILL_BACK, _KILL_WORD = "\r\n", "\x7f\x08", "\x15", "\x17"
_INTERRUPT, _END_OR_DELETE, _REDRAW, _ESCAPE = "\x03", "\x04", "\x0c", "\x1b"
_HOME, _END_OF_LINE = "\x01", "\x05"
_TAB, _NEXT_ROOM, _PREVIOUS_ROOM = "\t", "\x0e", "\x10"
_TAB_SHOWN = " " * TAB_STOP


class LineEditor(Protocol):
    """A one-line editor for a terminal: typing, editing, history, and output that never garbles the input.

    Keys: Left, Right, Home or Ctrl+A, End or Ctrl+E, Backspace, Delete,
    Ctrl+U (erase to the start), Ctrl+W (erase a word), Up and Down
    (history), Ctrl+L (redraw), Enter; Tab completes (again: the next
    match); Ctrl+N and Ctrl+P, or Alt+1..9, change the current room;
    Ctrl+D on an empty line and Ctrl+C leave. Other escape sequences are
    ignored.

    Left, Right, Backspace and Delete step over what a person sees as one character, a grapheme cluster
    (Unicode's UAX #29): a flag, an emoji with its skin tone or the ones a joiner joins to it, a letter with its
    accents, a Hangul syllable typed as jamo; taking a piece of one leaves a different character, or a stray
    glyph on the terminal. The cursor is always between two clusters.
    """

    def __init__(self, keyboard: Keyboard) -> None:
        self.keyboard = keyboard
        self.finished: Deferred[None] = Deferred()
        self.prompt = ""
        self.buffer = ""
        self.cursor = 0  # where in the buffer the next character goes: between two grapheme clusters
        self.secret = False  # a password being typed, or what may be one: shown as stars, kept out of history
        self._hiding = False  # `hide_typing`: every line typed is secret until `show_typing` (or a secret question)
        self.history: list[str] = []
        self._recalled = 0  # how far back Up has gone
        self._escape = ""  # an escape sequence being read
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._completing: tuple[int, list[str], int] | None = None  # where the word starts, the matches, which
        self._pasting = False  # between a bracketed paste's start and end: Enter is a line of the block

    def connectionMade(self) -> None:
        """Ask the terminal to mark what is pasted (bracketed paste), so that a pasted block is one message."""
        _write(self, b"\x1b[?2004h")

    def dataReceived(self, data: bytes) -> None:
        before = self.buffer
        for key in self._decoder.decode(data):
            self._key(key)
        self._draw()
        if self.buffer != before and not self.secret:
            self.keyboard.editing(self.buffer)

    def _key(self, key: str) -> None:
        if key != _TAB:
            self._completing = None
        if self._escape:
            self._escape += key
            if len(self._escape) == 2 and key not in "[O":  # Alt+key: Alt+1..9 picks a room, others are ignored
                if "1" <= key <= "9":
                    self.keyboard.switch_to(int(key) - 1)
                self._escape = ""
            elif len(self._escape) > 2 and "@" <= key <= "~":  # the end of ESC [ ... X or ESC O X
                self._sequence(self._escape[2:-1], key)
                self._escape = ""
            return
        before, after = self.buffer[: self.cursor], self.buffer[self.cursor :]
        if key == _ESCAPE:
            self._escape = key
        elif key in _ENTER and self._pasting:
            self._edit(before + "\n", after)  # a line of the block being pasted
        elif key in _ENTER:
            self._enter()
        elif key in _ERASE and before:
            self._edit(before[: wcwidth.grapheme_boundary_before(self.buffer, self.cursor)], after)
        elif key == _KILL_BACK:
            self._edit("", after)
        elif key == _KILL_WORD:
            kept = before.rstrip()
            self._edit(kept[: kept.rfind(" ") + 1], after)
        elif key == _INTERRUPT:
            self.keyboard.interrupted()
        elif key == _END_OR_DELETE:
            if self.buffer:
                self._delete()
            else:
                self.keyboard.end_of_input()
        elif key in (_HOME, _END_OF_LINE):
            self.cursor = 0 if key == _HOME else len(self.buffer)
        elif key == _REDRAW:
            pass  # every key ends with the line drawn again
        elif key == _TAB and self._pasting:
            self._edit(before + key, after)  # pasted code keeps its indentation, and no nickname lands in it
        elif key == _TAB and not self.secret:
            self._complete()
        elif key in (_NEXT_ROOM, _PREVIOUS_ROOM):
            self.keyboard.switch(1 if key == _NEXT_ROOM else -1)
        elif key != _TAB and not CONTROL_CHARACTERS.match(key):  # what the server takes, invisible ones too
            self._edit(before + key, after)

    def _complete(self) -> None:
        """Put the first match in place of the word before the cursor; Tab again puts the next instead."""
        if self._completing is None:
            start = self.buffer.rfind(" ", 0, self.cursor) + 1
            word = self.buffer[start : self.cursor]
            matches = self.keyboard.complete(word, at_start=start == 0) if word else []
            if not matches:
                return
            self._completing = (start, matches, 0)
        else:
            start, matches, index = self._completing
            self._completing = (start, matches, (index + 1) % len(matches))
        start, matches, index = self._completing
        match = matches[index]
        # After a nickname that starts the line, ": " as people address someone; after anything else, a space.
        end = ": " if start == 0 and match[:1] not in "/#" else " "
        self._edit(self.buffer[:start] + match + end, self.buffer[self.cursor :])

    def _edit(self, before: str, after: str) -> None:
        """The buffer becomes `before + after`, the cursor between them, or past the cluster it would fall in (a
        regional indicator typed before another makes a flag with it)."""
        self.buffer = before + after
        self.cursor = _cluster_end(self.buffer, len(before) - 1) if before else 0

    def _delete(self) -> None:
        """Delete or Ctrl+D: the cluster after the cursor goes."""
        if self.cursor < len(self.buffer):
            self._edit(self.buffer[: self.cursor], self.buffer[_cluster_end(self.buffer, self.cursor) :])

    def _sequence(self, parameters: str, final: str) -> None:
        """Arrows, Home, End and Delete, in the forms terminals send them; modifiers are ignored."""
        if final == "A" and self._recalled < len(self.history):
            self._recalled += 1
            self._recall()
        elif final == "B" and self._recalled > 0:
            self._recalled -= 1
            self._recall()
        elif final == "C" and self.cursor < len(self.buffer):
            self.cursor = _cluster_end(self.buffer, self.cursor)
        elif final == "D":
            self.cursor = wcwidth.grapheme_boundary_before(self.buffer, self.cursor)
        elif final == "H" or (final == "~" and parameters in ("1", "7")):
            self.cursor = 0
        elif final == "F" or (final == "~" and parameters in ("4", "8")):
            self.cursor = len(self.buffer)
        elif final == "~" and parameters in ("200", "201"):
            self._pasting = parameters == "200"
        elif final == "~" and parameters == "3":
            self._delete()

    def _recall(self) -> None:
        self.buffer = self.history[-self._recalled] if self._recalled else ""
        self.cursor = len(self.buffer)

    def _enter(self) -> None:
        text, self.buffer, self.cursor, self._recalled = self.buffer, "", 0, 0
        if text and not self.secret and (not self.history or self.history[-1] != text):
            self.history.append(text)
        self.secret = self._hiding
        self._draw()
        self.keyboard.typed(text)

    def _draw(self) -> None:
        """Rewrite the input line and put the cursor back in it.

        Everything is measured in terminal columns, cluster by cluster as `_cells` does for lines shown. A line
        wider than the terminal shows only the stretch around the cursor, and a prompt that would leave less than
        20 columns (or half the terminal) for typing is cut, so that nothing wraps: a wrapped line cannot be
        redrawn in place. A secret shows a star for each cluster.
        """
        columns = shutil.get_terminal_size().columns
        prompt = _fit(self.prompt, max(columns // 2, columns - 20))  # a question shows whole; typing keeps room
        room = max(1, columns - _cells(prompt) - 1)
        # What leads to the cursor first, then what follows it, if it fits.
        leading, used = self._fitting(wcwidth.iter_graphemes_reverse(self.buffer, end=self.cursor), room)
        following, back = self._fitting(wcwidth.iter_graphemes(self.buffer, self.cursor), room - used)
        left = f"\x1b[{back}D" if back else ""  # the terminal's cursor back to the editing point
        _write(self, f"\r\x1b[K{prompt}{''.join(reversed(leading))}{''.join(following)}{left}".encode())

    def _fitting(self, clusters: Iterator[str], room: int) -> tuple[list[str], int]:
        """The first of `clusters` that fit in `room` columns, as shown (a secret as stars, a pasted line's end as
        ↵, a pasted Tab as spaces), and the columns they take."""
        fitting, used = [], 0
        for cluster in clusters:
            shown = "*" if self.secret else cluster.replace("\n", "↵").replace("\t", _TAB_SHOWN)
            if used + _cells(shown) > room:
                break
            fitting.append(shown)
            used += _cells(shown)
        return fitting, used

    def show(self, text: str) -> None:
        """Print a line above the one being typed, which is then drawn again; a long one is wrapped at spaces."""
        _write(self, f"\r\x1b[K{_wrap(text, shutil.get_terminal_size().columns)}\n".encode())
        self._draw()

    def set_prompt(self, prompt: str) -> None:
        self.prompt = prompt
        self._draw()

    def ask(self, question: str, secret: bool = False) -> None:
        """A secret question's answer begins with what `hide_typing` hid; any other leaves it hidden."""
        self.secret = secret or self._hiding
        self._hiding = self._hiding and not secret
        self.set_prompt(question + " ")

    def hide_typing(self) -> None:
        self.secret = self._hiding = True
        self._draw()

    def show_typing(self, keep: bool) -> bool:
        if not self.secret:
            return False
        self.secret = self._hiding = False
        gone = not keep and bool(self.buffer)
        if not keep:
            self.buffer, self.cursor, self._recalled = "", 0, 0
        self._draw()
        return gone

    def finish(self) -> Deferred[None]:
        return _finish(self, self.finished)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if not self.finished.called:
            self.finished.callback(None)


def _cells(text: str) -> int:
    """Terminal columns `text` takes, grapheme cluster by cluster as terminals draw them (wcwidth: a CJK character
    or an emoji takes two, with its skin tone or what a joiner joins to it, a flag two, a combining accent none);
    colours and the bell take none. The line being typed and the lines shown are measured by it alike, or the
    terminal would wrap what the client thought fit."""
    return wcwidth.width(text, control_codes="ignore")


def _cluster_end(text: str, index: int) -> int:
    """Where the grapheme cluster that holds `text[index]` ends."""
    start = wcwidth.grapheme_boundary_before(text, index + 1)
    return start + len(next(wcwidth.iter_graphemes(text, start)))


_NO_WIDTH = re.compile(r"\x1b\[[0-9;]*m|\a")  # the renderer's colours and the bell take no column
_CONTINUED = " " * len("12:34 ")  # a wrapped line goes on past the time stamp


def _wrap(text: str, columns: int) -> str:
    """`text` in lines of at most `columns` terminal columns, broken at spaces as the terminal would not (it breaks
    words), the lines after the first indented. A word too long for any line is broken before its wide characters
    (Chinese, Japanese, emoji), where a line may end without a space; a run of narrow ones (a link, a fingerprint)
    is left whole for the terminal, so that it can be copied whole."""
    parts: list[str] = []  # joined once: a line may be 64 KiB of one word
    width = 0
    for index, word in enumerate(text.split(" ")):
        cells, gap = _cells(word), " " * (index > 0)
        if width + len(gap) + cells <= columns:
            parts += [gap, word]
            width += len(gap) + cells
        elif index and len(_CONTINUED) + cells <= columns:
            parts += ["\n", _CONTINUED, word]
            width = len(_CONTINUED) + cells
        else:
            for unit, unit_cells in _units(word):
                if width + len(gap) + unit_cells > columns and len(_CONTINUED) + unit_cells <= columns:  # the next
                    parts += ["\n", _CONTINUED]
                    width, gap = len(_CONTINUED), ""
                parts += [gap, unit]
                width += len(gap) + unit_cells
                gap = ""
    return "".join(parts)


def _units(word: str) -> list[tuple[str, int]]:
    """`word` in the pieces a line may end between, with their columns: each wide grapheme cluster (a CJK
    character, an emoji with its skin tone or what a joiner joins to it, a flag), and each run of narrow ones; a
    colour, and a cluster of no width, stays with what it follows."""
    units: list[tuple[list[str], int]] = []
    narrow = False  # whether the last piece is a run of narrow clusters, which the next narrow one joins
    for piece in re.split(f"({_NO_WIDTH.pattern})", word):  # a colour or the bell alone, or text without them
        for cluster in [piece] if _NO_WIDTH.fullmatch(piece) else wcwidth.iter_graphemes(piece):
            cells = _cells(cluster)
            if units and (cells == 0 or (cells == 1 and narrow)):
                units[-1][0].append(cluster)
                units[-1] = (units[-1][0], units[-1][1] + cells)
            else:
                units.append(([cluster], cells))
                narrow = cells == 1
    return [("".join(clusters), cells) for clusters, cells in units]


def _fit(text: str, columns: int) -> str:
    """`text` cut to `columns` terminal columns, with an ellipsis if it was cut."""
    if _cells(text) <= columns:
        return text
    kept, used = [], 0
    for cluster in wcwidth.iter_graphemes(text):
        used += _cells(cluster)
        if used > columns - 1:
            break
        kept.append(cluster)
    return "".join(kept) + "…"


def _finish(protocol: Protocol, finished: Deferred[None]) -> Deferred[None]:
    """StandardIO writes what it holds before it reports the connection lost."""
    if protocol.transport is not None and not finished.called:
        protocol.transport.loseConnection()
    return finished


def _write(protocol: Protocol, data: bytes) -> None:
    """To standard output, which StandardIO connected before any line arrives."""
    assert protocol.transport is not None
    protocol.transport.write(data)

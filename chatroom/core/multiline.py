"""Messages of several lines (a pasted block; IRCv3's draft/multiline): one message, said and kept as one, whose
text holds its lines separated by "\n".

Bounded as IRC announces it (draft/multiline's max-bytes and max-lines), whatever front end it comes through; the
flood rules count each line where it arrives, as a line of its own (chatroom.server.connection). `breaks` are the
places where the sender's client cut a long line in two without meaning a new line (draft/multiline-concat): kept
so that IRC clients get the pieces as sent, shown by every other front end as the one line they make.
"""

from __future__ import annotations

from chatroom.core.errors import ChatError

MULTILINE_BYTES = 4096  # bytes of one message of several lines, its line breaks counted
MULTILINE_LINES = 24  # lines of one message, its pieces (breaks) counted


def check_lines(text: str, breaks: tuple[int, ...] = ()) -> None:
    """Raise ChatError if a message of several lines is past the bounds, or its breaks are not places in it."""
    if "\n" not in text and not breaks:
        return
    if text.count("\n") + 1 + len(breaks) > MULTILINE_LINES:
        raise ChatError("TOO_MANY_LINES", most=MULTILINE_LINES)
    if len(text.encode()) > MULTILINE_BYTES:
        raise ChatError("TOO_LONG", most=MULTILINE_BYTES)
    if any(not 0 < cut < len(text) for cut in breaks) or list(breaks) != sorted(set(breaks)):
        raise ChatError("BAD_TEXT")


def pieces(text: str, breaks: tuple[int, ...] = ()) -> list[tuple[str, bool]]:
    """The pieces a message is sent to IRC in: each line, cut at its breaks; True for a piece that continues the one
    before it (draft/multiline-concat)."""
    found: list[tuple[str, bool]] = []
    start = 0
    for line in text.split("\n"):
        end, cut_from = start + len(line), start
        for cut in breaks:
            if start < cut < end:
                found.append((text[cut_from:cut], cut_from != start))
                cut_from = cut
        found.append((text[cut_from:end], cut_from != start))
        start = end + 1
    return found

"""draft/multiline's client side: the PRIVMSGs (or NOTICEs) of a `BATCH +REF draft/multiline TARGET`, gathered
into the one message of several lines the chat says (chatroom.core.multiline).

Each line of the batch is a line received, charged by the flood rules as any other; the batch is bounded as
CAP LS announces it (`max-bytes`, `max-lines`), and refused with `FAIL BATCH MULTILINE_...` past them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chatroom.core.multiline import MULTILINE_BYTES, MULTILINE_LINES

ANNOUNCED = f"max-bytes={MULTILINE_BYTES},max-lines={MULTILINE_LINES}"  # draft/multiline's value in CAP LS


@dataclass
class Gathering:
    """One multiline batch being received: its lines so far, and what went wrong with it, if anything."""

    ref: str
    target: str
    tags: dict[str, str]  # the client tags of its opening: the message's
    label: str | None  # the opening's label (labeled-response): the batch's answer is sent under it at its end
    command: str = ""  # PRIVMSG or NOTICE, as its first line
    text: str = ""
    breaks: list[int] = field(default_factory=list)
    lines: int = 0
    failed: str = ""  # a FAIL code: what is still received of it is dropped, and the batch is not said

    def take(self, command: str, params: list[str], concat: bool) -> str:
        """Add a line of the batch; "" if it is taken, else the FAIL code that ends it."""
        if self.failed:
            return ""
        if command not in ("PRIVMSG", "NOTICE") or command != (self.command or command) or params[:1] != [self.target]:
            return self._fail("MULTILINE_INVALID")
        piece = params[1] if len(params) > 1 else ""
        if concat and not piece:  # nothing to join to the line before (draft/multiline: invalid)
            return self._fail("MULTILINE_INVALID")
        self.command, self.lines = command, self.lines + 1
        if self.lines > MULTILINE_LINES:
            return self._fail("MULTILINE_MAX_LINES")
        if concat and self.lines > 1:
            if piece and self.text and not self.text.endswith("\n"):
                self.breaks.append(len(self.text))
            self.text += piece
        else:
            self.text += ("\n" if self.lines > 1 else "") + piece
        if len(self.text.encode()) > MULTILINE_BYTES:
            return self._fail("MULTILINE_MAX_BYTES")
        return ""

    def _fail(self, code: str) -> str:
        self.failed = code
        return code


def limit_of(code: str) -> str:
    """The limit a FAIL names, as draft/multiline has it."""
    return {"MULTILINE_MAX_BYTES": str(MULTILINE_BYTES), "MULTILINE_MAX_LINES": str(MULTILINE_LINES)}.get(code, "")

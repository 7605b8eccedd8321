"""The two ways the core says no: to a person (ChatError), and to a programming mistake (Departed)."""

from __future__ import annotations


class ChatError(Exception):
    """A request the chat refuses; `code` is stable for programs, `message` is for people.

    Codes are front-end neutral: the line protocol writes them as they are, IRC maps them to numerics.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Departed(RuntimeError):
    """An operation on a member who has left the chat.

    No front end should ever ask this: a connection stops acting for its member the moment it decides to
    close. The core refuses anyway, loudly, so that a forgotten callback cannot bring back a ghost.
    """

"""The message transport: what a connection's policy needs of whatever carries its messages.

A connection enforces the same rules (chatroom.server.connection: admission, flood control, the send queue,
timeouts, the closing state) whatever frames its bytes: lines over TCP or TLS (chatroom.server.lines) today, WebSocket
messages next. The framing cuts what arrives into whole messages and hands them to a `MessageReceiver`; the
policy answers through a `MessageTransport`, and never sees a byte stream.

A message out is what a dialect rendered, written as it is: the line dialects end theirs with their line
ending, so line framing adds nothing, and a broadcast stays one bytes object for every member (adding the
ending per member would copy it once per delivery).
"""

from __future__ import annotations

from typing import Protocol

from twisted.internet.interfaces import IAddress, IPushProducer
from twisted.python.failure import Failure


class MessageTransport(Protocol):
    """One client's connection as its policy uses it: whole messages out, reading held or not, a polite close."""

    handshaking: bool  # TLS is not up yet: nothing written reaches the peer, so a goodbye is pointless

    def write(self, message: bytes) -> None:
        """One message, already rendered by the dialect."""

    def write_messages(self, messages: list[bytes]) -> None:
        """Several messages in order, at once (one system call for lines)."""

    def pause_reading(self) -> None:
        """Deliver no more messages until `resume_reading`; what arrives meanwhile waits, in order."""

    def resume_reading(self) -> None: ...

    def register_producer(self, producer: IPushProducer) -> None:
        """The send queue: paused while the transport's own buffer is full, resumed once it drains."""

    def close(self) -> None:
        """Close once what was written has gone (TLS: with a close_notify); cut off a peer that never answers."""

    def abort(self) -> None:
        """Drop the connection now, with nothing more sent."""

    def peer_address(self) -> IAddress: ...


class MessageReceiver(Protocol):
    """The policy's side: what a framing tells it."""

    closing: bool  # once set, nothing more is executed: the framing may stop cutting messages out at all

    def connection_made(self, transport: MessageTransport) -> None: ...

    def message_received(self, message: bytes) -> None:
        """One whole message, without its framing (for lines: no line ending)."""

    def message_too_long(self) -> None:
        """A message too long to keep was skipped; the ones after it are still delivered."""

    def connection_lost(self, reason: Failure) -> None: ...

"""A TCP transport that sends at once: one system call per write, when nothing is waiting to go out.

Twisted's TCP transport buffers every write and sends it once the reactor next finds the socket writable: per
write, an epoll_ctl to watch the socket, a reactor turn to dispatch doWrite, and an epoll_ctl to stop watching.
A chat server's writes are nearly all one small line to a socket whose kernel buffer is empty, so that
bookkeeping cost more than the send itself (docs/performance.md). `SendingServer.write` sends at once when
nothing is queued and hands Twisted only what the kernel did not take: ordering, backpressure (a streaming
producer paused past 64 KiB queued) and the handling of a broken connection stay Twisted's.

This is the question of twisted#5303 ("write immediately"), answered for server connections only.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from errno import ENOBUFS
from typing import Any

from twisted.internet import main, tcp
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.interfaces import IListeningPort, IProtocolFactory, IReactorSocket, IReactorTCP
from zope.interface import implementer


class SendingServer(tcp.Server):
    """A server connection whose writes go to the kernel at once while nothing is queued before them."""

    _send_failed = False  # a direct send met a broken connection, and took the socket's error with it

    def write(self, data: bytes) -> None:
        if (
            not isinstance(data, bytes)  # Twisted's write raises TypeError, before anything is sent
            or not data
            or self._tempDataLen  # behind what waits
            or len(self.dataBuffer) > self.offset
            or not self.connected  # dropped, as Twisted drops it
            or self._writeDisconnected
            or self._aborting
            or self.TLS  # after startTLS, Twisted's write encrypts
            or (self.producer is not None and not self.streamingProducer)  # doWrite asks a pull producer for more
        ):
            tcp.Server.write(self, data)
            return
        try:
            sent = self.socket.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0  # the kernel's buffer is full: Twisted's doWrite sends it once the socket is writable
        except OSError as error:
            # Broken (ECONNRESET, EPIPE), or ENOBUFS: Twisted's doWrite retries or closes. A reset's error is
            # consumed by this send, so the next read would look like a clean close: doRead reports it instead.
            if error.errno != ENOBUFS:
                self._send_failed = True
            sent = 0
        if sent < len(data):
            tcp.Server.write(self, data[sent:])

    def writeSequence(self, iovec: Iterable[bytes]) -> None:
        self.write(b"".join(iovec))

    # Twisted's _AbortingMixin annotates doRead as the no-op it becomes after an abort, hence the ignore.
    def doRead(self) -> ConnectionLost | ConnectionDone | None:  # type: ignore[override]
        if self._send_failed:
            return main.CONNECTION_LOST
        return tcp.Server.doRead(self)


class SendingPort(tcp.Port):
    transport = SendingServer


@implementer(IReactorTCP, IReactorSocket)
class SendingReactor:
    """The reactor as endpoints see it, except that the TCP ports it opens build SendingServer connections.

    Give it to `serverFromString` or `AdoptedStreamServerEndpoint` instead of the reactor: TCP ports listen or are
    adopted here; everything else (UNIX sockets, timers) is the reactor's own.
    """

    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor

    def listenTCP(self, port: int, factory: IProtocolFactory, backlog: int = 50, interface: str = "") -> SendingPort:
        listening = SendingPort(port, factory, backlog, interface, self._reactor)
        listening.startListening()
        return listening

    def adoptStreamPort(self, fileDescriptor: int, addressFamily: int, factory: IProtocolFactory) -> IListeningPort:
        """A listening socket another process bound (chatroom.app.workers): TCP through SendingPort too."""
        if addressFamily not in (socket.AF_INET, socket.AF_INET6):
            adopted: IListeningPort = self._reactor.adoptStreamPort(fileDescriptor, addressFamily, factory)
            return adopted
        port: SendingPort = SendingPort._fromListeningDescriptor(  # type: ignore[no-untyped-call]
            self._reactor, fileDescriptor, addressFamily, factory
        )
        port.startListening()
        return port

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reactor, name)

"""An ended connection is freed as it ends, by reference counting, not at the interpreter's next full collection.

The layers of a connection (its TLS, its framing, the Connection, its dialect, its send queue) refer to each other.
Left in cycles once it ends, they and the TLS state under them (about 20 KB of OpenSSL's a connection, which Python's
collector does not count) wait for a full collection, which runs when a quarter more objects than the live ones
have piled up: after a wave of departures, a server held thousands of ended connections. Twisted's own transports
drop their protocol as a connection is lost, and a cancelled DelayedCall its function, for this reason; every layer
of ours, and the web listener's silence deadline, do the same.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Awaitable, Callable

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater

from chatroom.server.connection import Connection
from chatroom.server.websocket import Counted
from tests.test_irc import irc_over_tls
from tests.test_websocket import WebTestCase


class EndedConnectionTests(WebTestCase):
    def setUp(self) -> None:
        self.start_web()
        self.addCleanup(gc.enable)

    async def assert_freed_as_it_ends(self, connect: Callable[[], Awaitable[Callable[[], object]]]) -> None:
        """Connect (which returns how to hang up), hang up, and check that the server's side is gone at once."""
        factory = self.service.factory
        before = set(factory.connections)
        hang_up = await connect()
        (connection,) = factory.connections - before
        parts = _layers(connection)
        forgotten: Deferred[None] = Deferred()
        forget = factory.forget

        def forgetting(ended: Connection) -> None:
            forget(ended)
            forgotten.callback(None)

        self.patch(factory, "forget", forgetting)
        del connection
        gc.collect()
        gc.disable()  # from here, only reference counting frees anything
        hang_up()
        await forgotten
        await deferLater(reactor, 0, lambda: None)  # the layers under the Connection return from connectionLost
        alive = [name for name, part in parts.items() if part() is not None]
        self.assertEqual(alive, [], "still held once the connection ended (in a cycle)")

    async def test_a_terminal_clients_connection(self) -> None:
        async def connect() -> Callable[[], object]:
            client = await self.connect("alice", "#room")
            return client.transport.loseConnection

        await self.assert_freed_as_it_ends(connect)

    async def test_an_irc_clients_connection(self) -> None:
        async def connect() -> Callable[[], object]:
            client = await irc_over_tls(self, "alice")
            client.join("#room")
            await client.joins.setdefault("#room", Deferred())
            return lambda: client.quit("bye")

        await self.assert_freed_as_it_ends(connect)

    async def test_a_browsers_connection(self) -> None:
        async def connect() -> Callable[[], object]:
            client = await self.web_client(["binary.ircv3.net"], tls=True)
            await self.register(client, "alice", "#room")
            return client.transport.loseConnection

        await self.assert_freed_as_it_ends(connect)

    async def test_a_connection_the_site_answered(self) -> None:
        counting = self.service.ports[2].factory.wrappedFactory  # type: ignore[attr-defined]  # under TLS
        parts: dict[str, weakref.ref[object]] = {}
        ended: Deferred[None] = Deferred()
        unregister = counting.unregisterProtocol

        def unregistering(wrapper: Counted) -> None:
            parts.update(wrapper=weakref.ref(wrapper), TLS=weakref.ref(wrapper.transport))
            unregister(wrapper)
            ended.callback(None)

        self.patch(counting, "unregisterProtocol", unregistering)
        gc.collect()
        gc.disable()
        # Not a file: twisted.web sends one from a task of its cooperator, which holds the connection until it runs
        client = await self.raw_client("GET /irc HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", tls=True)
        await client.lost
        await ended
        await deferLater(reactor, 0, lambda: None)
        self.assertIn(b" 426 ", client.data)
        self.assertEqual([name for name, part in parts.items() if part() is not None], [], "still held (in a cycle)")


def _layers(connection: Connection) -> dict[str, weakref.ref[object]]:
    """Weak references to a connection's layers, from the Connection down to its TLS."""
    framing = connection.transport
    return {
        "Connection": weakref.ref(connection),
        "dialect": weakref.ref(connection.dialect),
        "framing": weakref.ref(framing),
        "TLS": weakref.ref(framing.stream),  # type: ignore[attr-defined]
    }

"""A bug in one client's copy of an event costs that client its connection, and nobody else anything.

A room's broadcast hands the same event to each member's connection in turn. Before, an exception while making one
member's copy left the broadcast there: the members after that one never got the line, the sender's own connection
was dropped with a traceback in its stead, and with several processes the replica resynchronised from a snapshot.
"""

from __future__ import annotations

from twisted.internet.defer import DeferredList
from twisted.logger import formatEvent
from twisted.trial.unittest import TestCase

from chatroom.core.events import Event, Message
from chatroom.server.connection import Connection
from tests.helpers import ServerTestCase, observe_log
from tests.test_shared_joins import SharedServers, either


def _fail_on_messages(case: TestCase, connection: Connection) -> None:
    """The connection's rendering of room messages has a bug from now on; of everything else, it is the real one."""
    render = connection.dialect.render

    def faulty(event: Event) -> bytes:
        if isinstance(event, Message):
            raise ValueError(f"cannot render {event.text!r}")  # quoting what was said: never to be logged
        return render(event)

    case.patch(connection.dialect, "render", faulty)


class DeliveryFaultTests(ServerTestCase):
    def setUp(self) -> None:
        self.start_server("--linger", "0")  # the dropped client's QUIT at once, as if it had no resumption
        self.logged = observe_log(self)

    def connection_of(self, nick: str) -> Connection:
        [connection] = [each for each in self.service.factory.connections if each.member and each.member.nick == nick]
        return connection

    async def test_the_members_after_a_faulty_copy_still_get_the_line_and_only_its_client_is_dropped(self) -> None:
        alice = await self.connect("alice", "5")
        carol = await self.connect("carol", "5")  # between alice and bob in the room's order
        bob = await self.connect("bob", "5")
        await alice.until("JOIN #5 bob")
        _fail_on_messages(self, self.connection_of("carol"))
        alice.transport.write(b"the secret plan\nanother secret\n")  # in one record: carol fails twice in one turn
        await DeferredList([alice.lost, carol.lost], fireOnOneCallback=True)
        self.assertTrue(carol.lost.called, "the client whose copy failed is disconnected")
        self.assertFalse(alice.lost.called, "not the sender in its stead")
        await alice.until("MSG #5 alice :the secret plan")
        await bob.expect("MSG #5 alice :the secret plan", "MSG #5 alice :another secret", "QUIT carol :server error")
        alice.send("still here")
        await bob.until("MSG #5 alice :still here")
        [error] = [formatEvent(event) for event in self.logged if event.get("log_level").name == "error"]  # once
        self.assertIn("could not deliver a Message to 127.0.0.1:", error)
        self.assertIn("(carol): ValueError at ", error)
        self.assertNotIn("secret", repr(list(self.logged)), "nothing anyone types is ever logged")


class DeliveryFaultsWithRedisTests(SharedServers):
    async def test_a_faulty_copy_leaves_its_process_in_step_with_the_others(self) -> None:
        """The copies are made as the process applies the shared log's entry: the fault stays out of the log."""
        here, there = await self.servers(2)
        logged = observe_log(self)
        alice = await self.client(here)
        await alice.until("HELLO ")
        alice.send("/nick alice", "/join 5", "/ping ready")
        await alice.until("PONG :ready")
        carol, bob = await self.client(there), await self.client(there)
        for client, nick in ((carol, "carol"), (bob, "bob")):
            await client.until("HELLO ")
            client.send(f"/nick {nick}", "/join 5", "/ping ready")
            await client.until("PONG :ready")
        await alice.until("JOIN #5 bob")
        [faulty] = [each for each in there.factory.connections if each.member and each.member.nick == "carol"]
        _fail_on_messages(self, faulty)
        alice.send("the secret plan", "and then")
        heard = await either(bob, "MSG #5 alice :and then", "NOTICE ")  # a notice: the process resynchronised
        self.assertEqual(heard, ["MSG #5 alice :the secret plan", "MSG #5 alice :and then"])
        await carol.lost
        self.assertNotIn("secret", repr(list(logged)), "nothing anyone types is ever logged")

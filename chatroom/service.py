"""The running server: TLS listeners in front of one ChatFactory, and a goodbye at shutdown."""

from __future__ import annotations

from twisted.application.service import Service
from twisted.internet.defer import Deferred, gatherResults, maybeDeferred
from twisted.internet.interfaces import IListeningPort, IOpenSSLServerConnectionCreator, IStreamServerEndpoint
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure

from chatroom.protocol import ChatFactory, describe

log = Logger(namespace="chatroom")


class ListenError(SystemExit):
    """A listener could not start; twistd prints the message and exits 1, without a traceback."""


class ChatService(Service):
    """Listens on every endpoint with one TLS context; at stop, closes them and says goodbye to everyone."""

    def __init__(
        self,
        factory: ChatFactory,
        tls: IOpenSSLServerConnectionCreator,
        endpoints: dict[str, IStreamServerEndpoint],
    ) -> None:
        self.factory = factory
        self.tls = tls
        self.endpoints = endpoints
        self.ports: list[IListeningPort] = []

    def privilegedStartService(self) -> None:
        """Bind before twistd drops privileges or daemonizes, so a port in use is reported on the terminal."""
        wrapped = TLSMemoryBIOFactory(self.tls, False, self.factory)
        for description, endpoint in self.endpoints.items():
            outcome: list[IListeningPort | Failure] = []
            endpoint.listen(wrapped).addBoth(outcome.append)
            # Stream endpoints listen at once; a Deferred still waiting would be a bug to hear about.
            (result,) = outcome
            if isinstance(result, Failure):
                self._stop_ports()
                raise ListenError(f"chatroom: cannot listen on {description}: {result.getErrorMessage()}")
            log.info("chatroom listening on {address} with TLS", address=describe(result.getHost()))
            self.ports.append(result)

    def startService(self) -> None:
        if not self.ports:
            self.privilegedStartService()
        super().startService()

    def stopService(self) -> Deferred[None]:
        super().stopService()
        log.info("chatroom shutting down")
        closing = [*self._stop_ports(), self.factory.close("server shutting down")]
        return gatherResults(closing).addCallback(lambda _: None)

    def _stop_ports(self) -> list[Deferred[None]]:
        ports, self.ports = self.ports, []
        return [maybeDeferred(port.stopListening) for port in ports]

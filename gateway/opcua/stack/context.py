"""What every connection of one server shares: limits, tables, guards and the gateway's hooks."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from asyncua.server.internal_server import InternalServer
from cryptography import x509

from gateway.opcua.guards import ConnectionTable, FaultLog, LoginThrottle, ServerLimits
from gateway.opcua.pki import TrustList
from gateway.opcua.stack.browse import Browser
from gateway.opcua.stack.hooks import Hooks
from gateway.opcua.stack.sessions import SessionRegistry
from gateway.opcua.stack.subscriptions import Subscriptions
from gateway.opcua.users import Users

if TYPE_CHECKING:
    from gateway.opcua.stack.connection import Connection

__all__ = ["Counters", "StackContext"]

log = logging.getLogger("gateway.opcua.security")

Spawn = Callable[[Coroutine[Any, Any, None], str], object]


@dataclass(slots=True)
class Counters:
    """Totals since the server started (for metrics)."""

    connections_refused: int = 0
    logins_refused: int = 0


@dataclass(eq=False)
class StackContext:
    """Shared by the connections of one server (built by stack.server)."""

    iserver: InternalServer
    limits: ServerLimits
    policies: list[Any]
    users: Users
    trust: TrustList | None
    allow_none: bool
    #: No endpoint encrypts, so the endpoints allow passwords in clear (the config's choice).
    plaintext_passwords: bool
    hooks: Hooks
    connections: ConnectionTable[Connection]
    sessions: SessionRegistry
    subscriptions: Subscriptions
    throttle: LoginThrottle
    faults: FaultLog
    browser: Browser
    spawn: Spawn
    counters: Counters = field(default_factory=Counters)

    def trusted(self, certificate: bytes, peer: str) -> bool:
        """A client certificate is in the trust list; an untrusted one is saved to rejected/."""
        if self.trust is None:
            return True
        try:
            parsed = x509.load_der_x509_certificate(certificate)
        except ValueError:
            self.faults.report(
                "certificate",
                time.monotonic(),
                "OPC UA: %s sent an unreadable certificate; refused",
                peer,
            )
            return False
        if self.trust.is_trusted(parsed):
            return True
        path = self.trust.reject(parsed)
        self.faults.report(
            "certificate",
            time.monotonic(),
            "OPC UA: untrusted client certificate from %s refused, saved as %s "
            "(move it to trusted/ to accept it)",
            peer,
            path,
        )
        return False

    async def release(self, connection: Connection) -> None:
        """The connection closed: its session is kept for a reconnect if it has
        subscriptions (and was activated), else closed."""
        session = connection.session
        connection.session = None
        if session is None or session.connection is not connection:
            return
        if session.activated and self.subscriptions.of_session(session):
            self.sessions.detach(session, time.monotonic())
            await self.sessions.bound_detached(session.identity)
        else:
            await self.sessions.close(session, delete_subscriptions=True)

    async def sweep(self, interval: float) -> None:
        """Close idle sessions and strangers past their window, every `interval` seconds."""
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for session in self.sessions.idle(now):
                log.info(
                    "OPC UA: %s closed after %.0f s without a request", session, session.timeout
                )
                connection = session.connection
                await self.sessions.close(session, delete_subscriptions=True)
                if connection is not None and connection.session is session:
                    connection.session = None
                    connection.closed_session()

"""OPC UA clients of the attack suite: legitimate ones, and hostile ones from elsewhere.

Legitimate clients connect from 127.0.0.1 over Basic256Sha256/SignAndEncrypt
with the trusted client certificate. Hostile clients may come from another
loopback address (Linux routes all of 127.0.0.0/8 to the loopback device);
uarequests.py sends their raw requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from asyncua import Client, ua
from asyncua.client.ua_client import UaClientState
from asyncua.crypto import security_policies
from attackkit import NAMESPACE, OPERATOR_PASSWORD, VIEWER_PASSWORD, Gateway, Identity

__all__ = [
    "CONNECT_TIMEOUT",
    "NS",
    "PASSWORDS",
    "DataChanges",
    "SourceBinding",
    "bound_to",
    "configure",
    "legit_client",
    "low_privilege_client",
    "namespace_matches",
    "node",
    "none_channel",
    "plain_client",
    "quietly",
]

PASSWORDS = {"operator": OPERATOR_PASSWORD, "viewer": VIEWER_PASSWORD}
#: The namespace index of the gateway's nodes (asyncua: 0 standard, 1 the server's, 2 ours).
NS = 2
#: Seconds a legitimate connect may take (a busy 2-core machine, RSA handshakes).
CONNECT_TIMEOUT = 10.0


def node(key: str) -> ua.NodeId:
    """The NodeId of `key` in the gateway's namespace (DESIGN.md §6), e.g. "plc.setpoint"."""
    return ua.NodeId(key, NS)


@dataclass
class SourceBinding:
    """The local ends of every connection a client opened (ip, port)."""

    host: str
    socknames: list[tuple[str, int]] = field(default_factory=list)

    @property
    def last(self) -> str:
        ip, port = self.socknames[-1][:2]
        return f"{ip}:{port}"


def bound_to(client: Client, host: str) -> SourceBinding:
    """Make `client` connect from `host` (a hostile peer on another loopback address).

    asyncua's connect_socket has no source address; this replaces it on this one
    client with the same steps plus `local_addr`, and records each local end.
    """
    binding = SourceBinding(host)
    uaclient = client.uaclient

    async def connect_socket(server_host: str, port: int) -> None:
        uaclient._set_state(UaClientState.CONNECTING)
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await asyncio.wait_for(
                loop.create_connection(
                    uaclient._make_protocol, server_host, port, local_addr=(host, 0)
                ),
                uaclient._timeout,
            )
        except BaseException:
            uaclient._set_state(UaClientState.DISCONNECTED)
            raise
        binding.socknames.append(transport.get_extra_info("sockname"))
        uaclient._set_state(UaClientState.SOCKET_OPEN)

    uaclient.connect_socket = connect_socket
    return binding


async def configure(
    client: Client,
    gateway: Gateway,
    identity: Identity,
    user: str | None,
    password: str | None = None,
) -> None:
    """SignAndEncrypt with the trusted certificate, and `user` with its (or a given) password."""
    client.application_uri = identity.uri
    if user is not None:
        client.set_user(user)
        client.set_password(password if password is not None else PASSWORDS[user])
    await client.set_security(
        security_policies.SecurityPolicyBasic256Sha256,
        certificate=str(identity.certificate),
        private_key=str(identity.key),
        server_certificate=str(gateway.server_certificate),
        mode=ua.MessageSecurityMode.SignAndEncrypt,
    )


def plain_client(gateway: Gateway, timeout: float) -> Client:
    """An asyncua Client without its liveness probe.

    The probe reads the server state every second, bounded by one second, and
    disconnects the client when that times out: a busy gateway would then look
    like a dropped connection. The tests bound their own requests instead.
    """
    return Client(gateway.url, timeout=timeout, watchdog_intervall=3600)


@asynccontextmanager
async def legit_client(
    gateway: Gateway,
    identity: Identity,
    user: str = "operator",
    *,
    source: str | None = None,
    timeout: float = 5.0,
) -> AsyncIterator[Client]:
    """A connected client over SignAndEncrypt as `user`, disconnected at exit."""
    client = plain_client(gateway, timeout)
    if source is not None:
        bound_to(client, source)
    await configure(client, gateway, identity, user)
    async with asyncio.timeout(CONNECT_TIMEOUT):
        await client.connect()
    try:
        yield client
    finally:
        await quietly(client.disconnect())


@asynccontextmanager
async def low_privilege_client(
    gateway: Gateway,
    identity: Identity,
    *,
    source: str,
    timeout: float = 30.0,
    session_timeout: int | None = None,
) -> AsyncIterator[Client]:
    """The cheapest session an attacker can get: anonymous on a None channel in the demo
    configuration, the viewer over SignAndEncrypt in the secure one.

    `session_timeout`: the session timeout asked for (ms); asyncua's client asks for 1 h.
    """
    client = plain_client(gateway, timeout)
    if session_timeout is not None:
        client.session_timeout = session_timeout
    bound_to(client, source)
    if gateway.secure:
        await configure(client, gateway, identity, "viewer")
    async with asyncio.timeout(CONNECT_TIMEOUT):
        await client.connect()
    try:
        yield client
    finally:
        await quietly(client.disconnect())


async def quietly(closing: Any, timeout: float = 5.0) -> None:
    """Finish a disconnect within `timeout`, whatever the server did to the connection."""
    try:
        async with asyncio.timeout(timeout):
            await closing
    except (TimeoutError, OSError, ua.UaError, ConnectionError):
        pass


@asynccontextmanager
async def none_channel(
    gateway: Gateway, *, source: str, timeout: float = 5.0
) -> AsyncIterator[tuple[Client, SourceBinding]]:
    """An open None secure channel without a session: no certificate, no password.

    asyncua opens one for discovery in every configuration.
    """
    client = plain_client(gateway, timeout)
    binding = bound_to(client, source)
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            await client.connect_socket()
            await client.send_hello()
            await client.open_secure_channel()
        yield client, binding
    finally:
        client.disconnect_socket()


def namespace_matches(namespaces: Sequence[str]) -> bool:
    """The gateway's namespace is where NS says (checked once per connection in the kit)."""
    return len(namespaces) > NS and namespaces[NS] == NAMESPACE


class DataChanges:
    """A subscription handler that counts data changes; `await fresh()` waits for a new one."""

    def __init__(self) -> None:
        self.count = 0
        self._changed = asyncio.Event()

    def datachange_notification(self, node: Any, value: Any, data: Any) -> None:
        self.count += 1
        self._changed.set()

    async def fresh(self, timeout: float = 5.0) -> bool:
        """True once a data change arrives after this call, False after `timeout` s."""
        self._changed.clear()
        try:
            async with asyncio.timeout(timeout):
                await self._changed.wait()
        except TimeoutError:
            return False
        return True

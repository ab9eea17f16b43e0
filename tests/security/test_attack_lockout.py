"""Issue 14, findings 6, 7 and 9 (c): locking new clients out of `gateway run`.

Part of the attack suite (issue 14); run it with `pytest tests/security` or
`pytest -m security` (test_attack_sessions.py says more).
"""

from __future__ import annotations

import asyncio

import pytest
from asyncua import Client, ua
from attackkit import Gateway, Identity
from healthkit import healthy
from rawframes import Connection, open_raw
from uaclients import DataChanges, legit_client, low_privilege_client, node, none_channel
from uarequests import Outcome, call, read_values

pytestmark = [pytest.mark.security, pytest.mark.asyncio(loop_scope="module")]

IDLE = "127.0.0.13"
ABANDON = "127.0.0.14"
REGISTRAR = "127.0.0.16"
DROPPER = "127.0.0.17"
IDLE_CONNECTIONS = 200
#: Seconds an idle attacker connection waits before it reopens a closed one.
REOPEN_PAUSE = 0.5
LEGIT_CLIENTS = 10
ABANDONED_SESSIONS = 150
REGISTRATIONS = 1000
#: The shortest session timeout asyncua grants (ms), and how long an abandoned
#: session's faults are watched for: its publishing, then its timeout.
SHORT_SESSION_MS = 5000
ABANDONED_WATCH = SHORT_SESSION_MS / 1000 + 2


class IdleHolders:
    """The attacker's idle TCP connections from IDLE: nothing is ever sent on them.

    Each holder reopens its connection (after REOPEN_PAUSE, the attacker's
    pace) whenever the gateway closes or refuses it, until `stop()`.
    """

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.tries = 0
        self.stopping = False
        self.open: set[Connection] = set()

    async def hold(self) -> None:
        while not self.stopping:
            self.tries += 1
            try:
                connection = await open_raw(self.gateway, IDLE)
            except (OSError, TimeoutError):
                connection = None
            if connection is not None:
                self.open.add(connection)
                try:
                    await connection.reader.read()  # until the gateway closes it, or stop()
                except ConnectionError:
                    pass
                finally:
                    self.open.discard(connection)
                    connection.close()
            if not self.stopping:
                await asyncio.sleep(REOPEN_PAUSE)

    async def all_tried(self, count: int) -> None:
        """Until `count` connections were tried (every holder started), at most 5 s."""
        for _ in range(100):
            if self.tries >= count:
                return
            await asyncio.sleep(0.05)  # polling the holders' counter

    def stop(self) -> None:
        self.stopping = True
        for connection in list(self.open):
            connection.close()


async def _connects_and_reads(gateway: Gateway, identity: Identity, user: str) -> str | None:
    """None if `user` connects from 127.0.0.1 and reads Good, else what went wrong."""
    try:
        async with legit_client(gateway, identity, user) as client:
            outcome = await read_values(client, ["plc.wave"])
    except (ua.UaError, TimeoutError, ConnectionError, OSError) as error:
        return f"{user}: {error!r}"
    if outcome.refused():
        return f"{user}: read {outcome.codes()}"
    return None


async def test_idle_connections_lock_no_client_out(gateway: Gateway, identity: Identity) -> None:
    """Finding 6 (a): 200 idle TCP connections from 127.0.0.13, each reopened (after
    0.5 s) whenever the gateway closes it, while 10 legitimate operator clients
    connect one after another from 127.0.0.1.

    Required: all 10 connect (each within 10 s) and read Good, and the
    healthy client and PLC checks hold.
    """
    async with healthy(gateway, identity):
        holders = IdleHolders(gateway)
        failures: list[str] = []
        async with asyncio.TaskGroup() as group:
            for _ in range(IDLE_CONNECTIONS):
                group.create_task(holders.hold())
            try:
                await holders.all_tried(IDLE_CONNECTIONS)
                for _ in range(LEGIT_CLIENTS):
                    failure = await _connects_and_reads(gateway, identity, "operator")
                    if failure is not None:
                        failures.append(failure)
            finally:
                holders.stop()
        assert not failures, f"{len(failures)} of {LEGIT_CLIENTS} refused: " + "; ".join(failures)


async def _abandon(gateway: Gateway, identity: Identity) -> bool:
    """A session with a subscription whose TCP connection is dropped without a goodbye.

    False if the gateway refused the session.
    """
    try:
        async with low_privilege_client(gateway, identity, source=ABANDON) as client:
            await _subscribe_and_drop(client)
    except (ua.UaError, TimeoutError, ConnectionError, OSError):
        return False
    return True


async def _subscribe_and_drop(client: Client) -> None:
    """Subscribe to the fast tag, leave Publish requests pending, drop the connection."""
    subscription = await client.create_subscription(100, DataChanges())
    await subscription.subscribe_data_change(client.get_node(node("plc.wave")))
    protocol = client.uaclient.protocol
    pending = [protocol._send_request(ua.PublishRequest(), timeout=60) for _ in range(3)]
    protocol.transport.abort()
    for answer in pending:
        answer.cancel()
    publishing = client.uaclient.session._publish_task  # it would retry forever
    if publishing is not None:
        publishing.cancel()


async def test_abandoned_sessions_lock_no_client_out(
    fresh_gateway: Gateway, identity: Identity
) -> None:
    """Finding 6 (b): 150 times, from 127.0.0.14, a session (anonymous in the demo, the
    viewer in the secure configuration) with a subscription whose TCP connection
    is dropped without closing anything.

    Required: afterwards new sessions of the operator and of the viewer from
    127.0.0.1 still connect and read Good, and the healthy client and PLC
    checks hold. (The gateway may refuse some of the attacker's sessions.)
    """
    gateway = fresh_gateway
    async with healthy(gateway, identity):
        abandoned = 0
        for _ in range(ABANDONED_SESSIONS // 5):  # five at a time
            async with asyncio.TaskGroup() as group:
                tries = [group.create_task(_abandon(gateway, identity)) for _ in range(5)]
            abandoned += sum(1 for task in tries if task.result())
        failures = [
            failure
            for user in ("operator", "viewer")
            if (failure := await _connects_and_reads(gateway, identity, user)) is not None
        ]
        assert not failures, f"after {abandoned} abandoned sessions: {failures}"


async def test_an_abandoned_subscription_logs_no_error(
    gateway: Gateway, identity: Identity
) -> None:
    """Finding 9 (c): a session with a subscription (100 ms, on the fast tag) and
    pending Publish requests is abandoned: its TCP connection dropped.

    The session asks for a 5 s timeout, so in the 7 s watched both its
    publishing into the dead connection and its expiry happen. Required: no
    ERROR line and no traceback in the gateway's log meanwhile (the watch
    ends early if one shows up).
    """
    mark = gateway.log_mark()
    async with healthy(gateway, identity):
        async with low_privilege_client(
            gateway, identity, source=DROPPER, session_timeout=SHORT_SESSION_MS
        ) as client:
            await _subscribe_and_drop(client)
        text = await gateway.wait_log(
            mark, lambda text: " ERROR " in text or "Traceback" in text, ABANDONED_WATCH
        )
        faults = [line for line in text.splitlines() if " ERROR " in line or "Traceback" in line]
        assert not faults, f"{len(faults)} ERROR or traceback lines:\n{text[:3000]}"


def _registered(index: int, gateway: Gateway) -> ua.RegisteredServer:
    return ua.RegisteredServer(
        ServerUri=f"urn:attacker:server:{index}",
        ProductUri="urn:attacker",
        ServerNames=[ua.LocalizedText(f"rogue {index}")],
        ServerType=ua.ApplicationType.Server,
        DiscoveryUrls=[f"opc.tcp://127.0.0.16:{4840 + index}"],
        IsOnline=True,
    )


async def _register(client: Client, gateway: Gateway, index: int) -> Outcome:
    """RegisterServer (even index) or RegisterServer2 (odd), without a session."""
    server = _registered(index, gateway)
    if index % 2 == 0:
        request = ua.RegisterServerRequest(Server=server)
        return await call(client, request, ua.RegisterServerResponse)
    mdns = ua.MdnsDiscoveryConfiguration(MdnsServerName=f"rogue{index}", ServerCapabilities=[])
    parameters = ua.RegisterServer2Parameters(Server=server, DiscoveryConfiguration=[mdns])
    request2 = ua.RegisterServer2Request(Parameters=parameters)
    return await call(client, request2, ua.RegisterServer2Response)


async def _find_servers(client: Client, gateway: Gateway) -> list[str]:
    request = ua.FindServersRequest(Parameters=ua.FindServersParameters(EndpointUrl=gateway.url))
    outcome = await call(client, request, ua.FindServersResponse)
    assert outcome.status.is_good(), f"FindServers: {outcome.status}"
    return [server.ApplicationUri for server in outcome.response.Servers]


async def test_register_server_is_refused(gateway: Gateway, identity: Identity) -> None:
    """Finding 7: 1,000 RegisterServer and RegisterServer2 requests without a session,
    on a None channel from 127.0.0.16, each registering another server.

    Required: every one is refused (a Bad service result, Bad_ServiceUnsupported
    say: the gateway is no discovery server; a closed connection counts as a
    refusal too), FindServers from 127.0.0.1 still returns just the gateway,
    and the healthy client and PLC checks hold.
    """
    async with healthy(gateway, identity):
        async with none_channel(gateway, source="127.0.0.1") as (client, _):
            servers = await _find_servers(client, gateway)
        assert len(servers) == 1, servers
        accepted = 0
        async with none_channel(gateway, source=REGISTRAR) as (client, _):
            for start in range(0, REGISTRATIONS, 50):
                outcomes = await asyncio.gather(
                    *(_register(client, gateway, index) for index in range(start, start + 50))
                )
                accepted += sum(1 for outcome in outcomes if outcome.status.is_good())
        async with none_channel(gateway, source="127.0.0.1") as (client, _):
            after = await _find_servers(client, gateway)
        problems = []
        if accepted:
            problems.append(f"{accepted} of {REGISTRATIONS} registrations accepted")
        if after != servers:
            problems.append(f"FindServers returns {len(after)} servers: {after[:3]}…")
        assert not problems, "\n".join(problems)

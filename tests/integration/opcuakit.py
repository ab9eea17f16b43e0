"""Test kit for the OPC UA server: a simulated plant, an Acquisition and an OpcUaServer.

Everything runs over real TCP: the Modbus slaves and the OPC UA server listen
on ports chosen by the OS (port 0), and tests talk to the server with a real
asyncua Client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asyncua import Client, ua
from eventually import eventually
from gatewaykit import make_plant

from gateway.alarms import AlarmEngine
from gateway.bus import Bus
from gateway.config import GatewayConfig
from gateway.modbus.acquisition import Acquisition
from gateway.opcua import HistoryProvider, OpcUaServer
from gateway.storage.historian import Historian
from simulators.runtime import RunningPlant, run_plant

#: An OPC UA section with only the None endpoint and anonymous viewers (fast to connect).
OPEN: dict[str, Any] = {
    "endpoint": "opc.tcp://127.0.0.1:0",
    "namespace": "urn:test:gateway",
    "security": {"allow_none": True, "policies": [], "modes": []},
    "anonymous": True,
    "users": [
        {"name": "op", "password": "op-secret", "role": "operator"},
        {"name": "view", "password": "view-secret", "role": "viewer"},
        {"name": "boss", "password": "boss-secret", "role": "admin"},
    ],
}


def gateway_config(
    devices: list[dict[str, Any]],
    opcua: Mapping[str, Any],
    storage: Mapping[str, Any] | None = None,
    alarms: list[dict[str, Any]] | None = None,
) -> GatewayConfig:
    return GatewayConfig.model_validate(
        {
            "gateway": {"name": "test"},
            "opcua": dict(opcua),
            "storage": dict(storage or {}),
            "devices": devices,
            "alarms": alarms or [],
        }
    )


@dataclass
class OpcRig:
    plant: RunningPlant
    acquisition: Acquisition
    server: OpcUaServer

    @property
    def url(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.server.port}"

    @property
    def ns(self) -> int:
        return self.server.namespace_index

    def node_id(self, identifier: str) -> ua.NodeId:
        return ua.NodeId(identifier, self.ns)


@asynccontextmanager
async def opc_rig(
    slaves: Mapping[str, list[dict[str, Any]]],
    devices: Callable[[RunningPlant], list[dict[str, Any]]],
    pki: Path,
    *,
    opcua: Mapping[str, Any] = OPEN,
    history: HistoryProvider | None = None,
    storage: Mapping[str, Any] | None = None,
    prepare: Callable[[RunningPlant], None] | None = None,
    alarms: list[dict[str, Any]] | None = None,
) -> AsyncIterator[OpcRig]:
    """Serve `slaves`, poll them, and serve the tags over OPC UA.

    With `storage` (a storage section) a real Historian records the bus and
    serves history. `prepare` runs once the slaves listen and before polling
    starts (faults from the start).
    """
    async with run_plant(make_plant(slaves), autotick=False) as running, AsyncExitStack() as stack:
        if prepare is not None:
            prepare(running)
        config = gateway_config(
            devices(running),
            {**opcua, "security": {**opcua.get("security", {}), "pki_dir": str(pki)}},
            storage,
            alarms,
        )
        bus = Bus()
        journal: Historian | None = None
        if storage is not None:
            journal = await stack.enter_async_context(Historian(config, bus))
            history = journal
        engine = None
        if alarms:  # served as conditions, journaled when there is storage
            engine = await stack.enter_async_context(AlarmEngine(config, bus, journal=journal))
        acquisition = await stack.enter_async_context(Acquisition(config, bus, seed=1))
        server = await stack.enter_async_context(
            OpcUaServer(
                config, acquisition, bus, history=history, alarms=engine, config_dir=pki.parent
            )
        )
        yield OpcRig(running, acquisition, server)


@asynccontextmanager
async def connect(
    url: str, *, user: str | None = None, password: str | None = None
) -> AsyncIterator[Client]:
    client = Client(url, timeout=5)
    if user is not None:
        client.set_user(user)
    if password is not None:
        client.set_password(password)
    async with client:
        yield client


async def until(
    probe: Callable[[], Any], *, timeout: float = 5.0, message: str = "condition"
) -> Any:
    """Await `probe()` (a coroutine function) until it returns something truthy."""
    return await eventually(probe, timeout=timeout, what=message, interval=0.02)

"""Devices with different unit ids sharing one TCP connection (`connection: <name>`).

Over real TCP against a simulated Modbus TCP gateway (one port, units 1 and
2): both devices read through one TCP connection, and concurrent connects
open one. The config rejects a shared connection to different hosts or with
one unit id twice. How the devices share the link over time (requests never
interleaved, one reconnect for both after an outage, a hung unit's fault
leaving the other readable) is tested on a fake clock, in memory:
unit/test_shared_link.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import textwrap
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from gatewaykit import Latest, make_config, wait_for
from twounits import EXPECTED, FAST, TAGS, UNIT_VALUES

from gateway.bus import Bus
from gateway.config import load_config
from gateway.errors import ConfigError, DeviceUnreachable
from gateway.modbus.acquisition import Acquisition
from gateway.modbus.client import ModbusClient
from gateway.modbus.health import DeviceState
from gateway.modbus.link import Link
from gateway.model import Status, TagValue
from simulators.plant import Plant
from simulators.runtime import RunningPlant, run_plant
from simulators.slave import SimulatedSlave

GOOD = Status.GOOD


def _points(temp: float, status: int, pump: bool) -> list[dict[str, Any]]:
    hr = "holding_register"
    return [
        {"name": "temp", "table": hr, "address": 0, "type": "float32", "value": temp},
        {"name": "status", "table": hr, "address": 4, "type": "uint16", "value": status},
        {"name": "pump", "table": "coil", "address": 0, "value": pump},
    ]


def _plant() -> Plant:
    """One Modbus TCP gateway on one port with two units behind it."""
    units = [{"unit_id": unit, "points": _points(*values)} for unit, values in UNIT_VALUES.items()]
    slave = {"name": "gw", "port": 0, "units": units}
    return Plant.model_validate({"name": "shared", "tick": 0.1, "slaves": [slave]})


@dataclass
class Shared:
    plant: RunningPlant
    acquisition: Acquisition
    latest: Latest

    @property
    def gw(self) -> SimulatedSlave:
        return self.plant.slave("gw")

    @property
    def link(self) -> Link:
        return self.acquisition.link("d1")


@contextlib.asynccontextmanager
async def shared(
    *, extra: list[dict[str, Any]] | None = None, **per_device: dict[str, Any]
) -> AsyncIterator[Shared]:
    """Devices d1 (unit 1) and d2 (unit 2) sharing connection `gw`, plus `extra` devices."""
    async with run_plant(_plant(), autotick=False) as running:
        gw = running.slave("gw")
        devices = [
            {
                "name": f"d{unit}",
                "host": gw.host,
                "port": gw.port,
                "unit_id": unit,
                "connection": "gw",
                "tags": TAGS,
                **FAST,
                **per_device.get(f"d{unit}", {}),
            }
            for unit in (1, 2)
        ]
        devices += [{"host": gw.host, "port": gw.port, **d} for d in extra or []]
        bus = Bus()
        latest = Latest(bus.subscribe("test", maxsize=100_000))
        async with Acquisition(make_config(devices), bus, seed=2) as acquisition:
            yield Shared(running, acquisition, latest)
        await wait_for(lambda: gw.server.connection_count == 0, message="connections closed")


def _all(status: Status, prefix: str = "") -> Callable[[dict[str, TagValue]], bool]:
    keys = [key for key in EXPECTED if key.startswith(prefix)]
    return lambda v: all(key in v and v[key].status is status for key in keys)


async def test_two_units_read_good_values_through_one_connection() -> None:
    own = {"name": "alone", "unit_id": 1, "tags": TAGS[:1], **FAST}
    async with shared(extra=[own]) as t:
        got = await t.latest.until(_all(GOOD), message="every tag Good")
        assert {key: got[key].value for key in EXPECTED} == EXPECTED  # each unit its own values
        assert t.acquisition.link("d1") is t.acquisition.link("d2")
        assert t.acquisition.link("alone") is not t.link  # no `connection`: a link of its own
        d1, d2 = t.acquisition.health("d1"), t.acquisition.health("d2")
        scans = d1.scans, d2.scans
        await wait_for(
            lambda: d1.scans >= scans[0] + 5 and d2.scans >= scans[1] + 5,
            message="five more scans of both",
        )
        assert t.gw.server.connection_count == 2  # the shared one and alone's
        assert t.link.connects == 1
        assert (d1.state, d2.state) == (DeviceState.OK, DeviceState.OK)
        assert d1.errors == d2.errors == 0


# ------------------------------------------------------------- the link itself


async def test_concurrent_connects_share_one_attempt_and_its_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    link = Link(ModbusClient("127.0.0.1", 9, connect_timeout=1.0))
    attempts = 0
    gate = asyncio.Event()

    async def refused() -> None:
        nonlocal attempts
        attempts += 1
        await gate.wait()
        raise DeviceUnreachable("connect to 127.0.0.1:9 failed: connection refused")

    monkeypatch.setattr(link.transport, "connect", refused)
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(_outcome(link.connect())) for _ in range(3)]
        await wait_for(lambda: attempts == 1, message="the first attempt")
        gate.set()
    errors = [task.result() for task in tasks]
    assert attempts == 1  # the two callers that waited took the outcome, did not retry
    assert all(isinstance(error, DeviceUnreachable) for error in errors)
    assert len({id(error) for error in errors}) == 3  # one exception instance per caller


async def _outcome(coroutine: Any) -> BaseException | None:
    try:
        await coroutine
    except Exception as error:  # the test inspects it
        return error
    return None


async def test_concurrent_connects_open_one_connection() -> None:
    async with run_plant(_plant(), autotick=False) as running:
        gw = running.slave("gw")
        link = Link(ModbusClient(gw.host, gw.port, connect_timeout=1.0))
        try:
            await asyncio.gather(link.connect(), link.connect(), link.connect())
            assert link.connects == 1
            await wait_for(lambda: gw.server.connection_count == 1, message="one connection")
        finally:
            await link.close()
        await wait_for(lambda: gw.server.connection_count == 0, message="closed")


# ------------------------------------------------------------------ configuration


def _config_file(tmp_path: Path, second: str) -> Path:
    path = tmp_path / "gateway.yaml"
    tag = "[{name: t, table: holding_register, address: 0, type: uint16}]"
    path.write_text(
        textwrap.dedent(f"""\
            gateway: {{name: g}}
            opcua: {{anonymous: true}}
            devices:
              - name: a
                host: 10.0.0.5
                port: 502
                unit_id: 1
                connection: rtu-bus
                tags: {tag}
              - name: b
            """)
        + textwrap.indent(textwrap.dedent(second), "    ")
        + f"    tags: {tag}\n"
    )
    return path


def test_sharing_devices_must_match_host_and_port_and_differ_in_unit(tmp_path: Path) -> None:
    path = _config_file(
        tmp_path,
        """\
        host: 10.0.0.6
        port: 503
        unit_id: 1
        connection: rtu-bus
        """,
    )
    with pytest.raises(ConfigError) as error:
        load_config(path)
    found = [(i.line, i.path, i.message) for i in error.value.issues if not i.warning]
    assert found == [
        (11, "devices[1].host", "host 10.0.0.6 differs from 10.0.0.5 of device 'a', "
         "which shares connection 'rtu-bus'"),
        (12, "devices[1].port", "port 503 differs from 502 of device 'a', "
         "which shares connection 'rtu-bus'"),
        (13, "devices[1].unit_id", "unit id 1 is already used on connection 'rtu-bus' "
         "by device 'a'"),
    ]  # fmt: skip
    assert str(error.value.issues[0]).startswith(f"{path}:11: devices[1].host: ")


def test_valid_shared_connection_loads_and_shares_one_link(tmp_path: Path) -> None:
    path = _config_file(tmp_path, "host: 10.0.0.5\nunit_id: 2\nconnection: rtu-bus\n")
    config = load_config(path).config
    assert [d.connection for d in config.devices] == ["rtu-bus", "rtu-bus"]
    acquisition = Acquisition(config, Bus())
    assert acquisition.link("a") is acquisition.link("b")


def test_without_the_checks_a_differing_port_never_shares() -> None:
    base = {"host": "10.0.0.5", "connection": "x", "tags": TAGS}
    config = make_config(
        [{"name": "a", "port": 502, **base}, {"name": "b", "port": 503, "unit_id": 2, **base}]
    )
    acquisition = Acquisition(config, Bus())
    assert acquisition.link("a") is not acquisition.link("b")
    transport = acquisition.link("b").transport
    assert isinstance(transport, ModbusClient)
    assert transport.port == 503

"""Devices with different unit ids sharing one TCP connection (`connection: <name>`).

Over real TCP against a simulated Modbus TCP gateway (one port, units 1 and
2): both devices read through one connection, their requests (a bit
read-modify-write included) never interleave, an outage affects both and they
recover with one reconnect; one unit's fault leaves the other readable. The
config rejects a shared connection to different hosts or with one unit id twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import textwrap
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from gatewaykit import Latest, make_config, wait_for

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
UNCERTAIN = Status.UNCERTAIN_NO_COMMUNICATION_LAST_USABLE_VALUE


def _points(temp: float, status: int, pump: bool) -> list[dict[str, Any]]:
    hr = "holding_register"
    return [
        {"name": "temp", "table": hr, "address": 0, "type": "float32", "value": temp},
        {"name": "status", "table": hr, "address": 4, "type": "uint16", "value": status},
        {"name": "pump", "table": "coil", "address": 0, "value": pump},
    ]


TAGS: list[dict[str, Any]] = [
    {"name": "temp", "table": "holding_register", "address": 0, "type": "float32"},
    {"name": "run", "table": "holding_register", "address": 4, "type": "bool", "bit": 0},
    {"name": "fault", "table": "holding_register", "address": 4, "bit": 1, "type": "bool",
     "writable": True},
    {"name": "pump", "table": "coil", "address": 0, "type": "bool", "writable": True},
]  # fmt: skip
EXPECTED = {
    "d1.temp": 21.5,
    "d1.run": True,
    "d1.fault": False,
    "d1.pump": False,
    "d2.temp": 80.0,
    "d2.run": False,
    "d2.fault": True,
    "d2.pump": True,
}
FAST: dict[str, Any] = {
    "scan_interval": "30ms",
    "timeout": "150ms",
    "reconnect_min": "20ms",
    "reconnect_max": "100ms",
    "demote_after": 0,
}


def _plant() -> Plant:
    """One Modbus TCP gateway on one port with two units behind it."""
    units = [
        {"unit_id": 1, "points": _points(21.5, 0b101, False)},
        {"unit_id": 2, "points": _points(80.0, 0b010, True)},
    ]
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

    async def until_seen(
        self, predicate: Callable[[dict[str, TagValue]], bool], *, since: int, message: str
    ) -> dict[str, TagValue]:
        """The first state after a batch from `since` on that satisfies `predicate`
        (replayed batch by batch, so short-lived states are not missed)."""
        deadline = time.monotonic() + 5.0
        while True:
            self.latest.pump()
            values: dict[str, TagValue] = {}
            for index, batch in enumerate(self.latest.batches):
                values.update((value.tag, value) for value in batch)
                if index >= since and predicate(values):
                    return values
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {message}: {values}")
            await asyncio.sleep(0.01)


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


async def test_write_on_one_unit_is_serialized_with_polling_of_the_other(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # d1 polls every 10 s, so its only requests here are the write's; d2 polls non-stop.
    async with shared(d1={"scan_interval": "10s"}, d2={"scan_interval": "10ms"}) as t:
        await t.latest.until(_all(GOOD), message="every tag Good")
        answered: list[tuple[int, bytes]] = []  # (unit, request PDU) in the order answered
        respond = t.gw.server.respond

        def recording(unit_id: int, pdu: bytes) -> bytes:
            answered.append((unit_id, pdu))
            return respond(unit_id, pdu)

        monkeypatch.setattr(t.gw.server, "respond", recording)
        t.gw.slow(0.01)  # every request holds the connection for 10 ms: d2 always waits
        await wait_for(lambda: len(answered) >= 3, message="slowed polling")
        await t.acquisition.write("d1.fault", True)  # read-modify-write of unit 1's register 4

        assert t.gw.unit(1).get("status") == 0b111
        assert t.gw.unit(2).get("status") == 0b010  # the other unit's register is untouched
        rmw_read = (1, struct.pack(">BHH", 3, 4, 1))
        index = answered.index(rmw_read)
        # The write followed its read at once: no request of d2 slipped in between.
        assert answered[index + 1] == (1, struct.pack(">BHH", 6, 4, 0b111))
        # d2 was polling up to the write and queued behind it: it went next.
        assert answered[index - 1][0] == 2
        await wait_for(lambda: len(answered) > index + 2, message="the request after the write")
        assert answered[index + 2][0] == 2
        got = await t.latest.until(
            lambda v: v["d1.fault"].value is True, timeout=2.0, message="re-read of d1.fault"
        )
        assert got["d1.fault"].status is GOOD
        assert t.gw.server.connection_count == 1
        assert t.acquisition.health("d1").errors == t.acquisition.health("d2").errors == 0


async def test_offline_gateway_makes_both_uncertain_and_both_recover_with_one_reconnect() -> None:
    async with shared() as t:
        await t.latest.until(_all(GOOD), message="every tag Good")
        batches = len(t.latest.batches)
        await t.gw.go_offline()
        got = await t.until_seen(_all(UNCERTAIN), since=batches, message="both Uncertain")
        assert {key: got[key].value for key in EXPECTED} == EXPECTED  # last usable values
        healths = [t.acquisition.health(name) for name in ("d1", "d2")]
        await wait_for(
            lambda: all(h.state is not DeviceState.OK and h.errors >= 2 for h in healths),
            message="both failing",
        )
        await t.gw.go_online()
        await t.latest.until(_all(GOOD), message="every tag Good again")
        await wait_for(lambda: all(h.state is DeviceState.OK for h in healths), message="both ok")
        assert t.gw.server.connection_count == 1
        assert t.link.connects == 2  # one reconnect for both: they did not fight


async def test_one_hung_unit_breaks_the_connection_but_not_the_other_unit() -> None:
    hung = {"demote_after": 2, "demote_for": "400ms"}
    async with shared(d2=hung) as t:
        await t.latest.until(_all(GOOD), message="every tag Good")
        d1, d2 = t.acquisition.health("d1"), t.acquisition.health("d2")
        batches = len(t.latest.batches)
        t.gw.hang(unit_id=2)
        await t.until_seen(_all(UNCERTAIN, "d2"), since=batches, message="d2 Uncertain")
        await wait_for(lambda: d2.state is DeviceState.DEMOTED, message="d2 demoted")
        # d2's timeouts reset the shared connection; d1 learnt why and reconnected.
        assert d2.timeouts == 2
        assert d1.timeouts == 0
        assert "on device d2" in d1.last_error
        batches = len(t.latest.batches)
        got = await t.until_seen(_all(GOOD, "d1"), since=batches, message="d1 Good meanwhile")
        assert got["d2.temp"].status is UNCERTAIN
        assert d1.state is DeviceState.OK
        await t.gw.clear_faults()
        await t.latest.until(_all(GOOD), message="every tag Good after d2's demotion")
        assert t.gw.server.connection_count == 1


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

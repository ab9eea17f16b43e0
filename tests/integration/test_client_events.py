"""`gateway watch` prints the gateway's alarm events (conditions of DESIGN.md §6)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from gatewaykit import PLC_POINTS, PLC_TAGS, make_plant, plc_device
from opcuakit import OPEN, until

from gateway.alarms.model import AlarmState
from gateway.app import Gateway
from gateway.cli import main
from gateway.config import GatewayConfig
from simulators.runtime import RunningPlant, run_plant

pytestmark = pytest.mark.asyncio(loop_scope="module")

FAULT_ALARM: dict[str, Any] = {
    "name": "plc_fault",
    "tag": "plc.fault",
    "equals": True,
    "severity": 900,
    "message": "PLC fault",
}
#: The PLC's tags and a scaled one: register 12 holds 1, so 1 × 0.1 + 0.2, which a
#: double holds as 0.30000000000000004.
TAGS = [
    *PLC_TAGS,
    {"name": "scaled", "table": "holding_register", "address": 12, "type": "uint16",
     "scale": 0.1, "offset": 0.2},
]  # fmt: skip
NORMAL_STATUS = 5  # run and ready bits
FAULT_STATUS = 7  # and the fault bit


@dataclass
class Rig:
    plant: RunningPlant
    gateway: Gateway

    @property
    def url(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.gateway.opcua.port}"

    def set_status(self, value: int) -> None:
        self.plant.slave("plc").unit(1).set("status", value)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rig]:
    home: Path = tmp_path_factory.mktemp("client-events")
    async with run_plant(make_plant({"plc": PLC_POINTS}), autotick=False) as running:
        config = GatewayConfig.model_validate(
            {
                "gateway": {"name": "test"},
                "opcua": {**OPEN, "security": {**OPEN["security"], "pki_dir": "pki"}},
                "storage": {"url": f"sqlite:///{home / 'g.db'}", "flush_interval": "50ms"},
                "devices": [plc_device(running, tags=TAGS)],
                "alarms": [FAULT_ALARM],
            }
        )
        async with Gateway(config, config_dir=home) as gateway:
            yield Rig(running, gateway)


def _alarm_line(lines: list[str]) -> str | None:
    return next((line for line in lines if "EVENT" in line and "plc_fault" in line), None)


async def test_watch_prints_an_alarm_event_and_replays_active_alarms(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["watch", rig.url, "plc.label", "--count", "1", "--duration", "20", "--interval", "50"]
    command = asyncio.create_task(asyncio.to_thread(main, argv))
    out: list[str] = []

    async def watching() -> bool:
        out.append(capsys.readouterr().out)
        return "  plc.label  AB12  Good" in "".join(out)

    try:
        await until(watching, timeout=10, message="the initial value")
        rig.set_status(FAULT_STATUS)  # plc.fault true: the alarm trips
        async with asyncio.timeout(20):
            code = await command
        lines = ("".join(out) + capsys.readouterr().out).splitlines()
        assert code == 0
        event = _alarm_line(lines)
        assert event is not None, lines
        assert "severity 900" in event
        assert "PLC fault" in event
        assert event.endswith("active=true  acked=false")
        assert event[:4].isdigit()  # the event's time first

        # A second watch starts with the alarm still active: ConditionRefresh shows it.
        replay = await asyncio.to_thread(
            main, ["watch", rig.url, "plc.label", "--duration", "1.5", "--interval", "50"]
        )
        replayed = capsys.readouterr().out.splitlines()
        assert replay == 0
        again = _alarm_line(replayed)
        assert again is not None, replayed
        assert "active=true  acked=false" in again
    finally:
        rig.set_status(NORMAL_STATUS)
        await asyncio.wait_for(command, 30)


async def test_watch_without_nodes_follows_every_tag_once(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    """plc.fault is an alarm's input: the device references it twice (HasEventSource)."""
    code = await asyncio.to_thread(
        main, ["watch", rig.url, "--no-events", "--duration", "1", "--interval", "50"]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"watching {len(TAGS)} node(s) on {rig.url}" in captured.err
    shown = {line.split()[1] for line in captured.out.splitlines()}
    assert shown == {f"plc.{tag['name']}" for tag in TAGS}


async def test_browse_and_read_show_units_and_the_digits_of_the_values_type(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await asyncio.to_thread(main, ["browse", rig.url])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert "      scaled  Variable  plc.scaled  = 0.3  Good" in lines
    [response] = [line for line in lines if "plc._Status.ResponseTime" in line]
    assert re.fullmatch(
        r" +ResponseTime  Variable  plc._Status.ResponseTime  = \S+ ms  Good", response
    )
    assert "      temp  Variable  plc.temp  = 21.5 °C  Good" in lines

    nodes = ["plc.scaled", "plc._Status.ResponseTime", "plc.temp", "plc.mode"]
    code = await asyncio.to_thread(main, ["read", rig.url, *nodes])
    header, *rows = capsys.readouterr().out.splitlines()
    assert code == 0
    assert header.split() == ["NODE", "VALUE", "UNIT", "STATUS", "SOURCE", "TIME", "TYPE"]
    cells = {row.split()[0]: row.split()[1:4] for row in rows}
    assert cells["plc.scaled"] == ["0.3", "-", "Good"]
    assert cells["plc._Status.ResponseTime"][1:] == ["ms", "Good"]
    assert float(cells["plc._Status.ResponseTime"][0]) >= 0
    assert cells["plc.temp"] == ["21.5", "°C", "Good"]
    assert cells["plc.mode"] == ["1", "-", "Good"]


async def test_watch_says_which_transition_each_alarm_event_reports(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cleared alarm keeps its message: the line must say it cleared, not contradict it."""
    engine = rig.gateway.alarms
    rig.set_status(NORMAL_STATUS)
    await until(_settled(rig), message="the alarm not active")
    if engine.snapshot("plc_fault").state is AlarmState.RTN_UNACK:  # an earlier test's trip
        engine.acknowledge("plc_fault", user="test", comment="before")
    argv = ["watch", rig.url, "plc.label", "--count", "3", "--duration", "30", "--interval", "50"]
    command = asyncio.create_task(asyncio.to_thread(main, argv))
    out: list[str] = []

    async def watching() -> bool:
        out.append(capsys.readouterr().out)
        return "  plc.label  AB12  Good" in "".join(out)

    try:
        await until(watching, timeout=10, message="the initial value")
        rig.set_status(FAULT_STATUS)
        await until(_state(rig, AlarmState.UNACK), message="tripped")
        rig.set_status(NORMAL_STATUS)
        await until(_state(rig, AlarmState.RTN_UNACK), message="cleared")
        engine.acknowledge("plc_fault", user="operator", comment="seen")
        async with asyncio.timeout(30):
            code = await command
    finally:
        rig.set_status(NORMAL_STATUS)
        await asyncio.wait_for(command, 30)
    lines = ("".join(out) + capsys.readouterr().out).splitlines()
    assert code == 0
    events = [line.split("  ")[2:5] for line in lines if "EVENT" in line]
    assert events == [
        ["plc_fault", "activated", "severity 900"],
        ["plc_fault", "cleared", "severity 900"],
        ["plc_fault", "acknowledged", "severity 900"],
    ], lines


def _settled(rig: Rig) -> Callable[[], Awaitable[bool]]:
    async def settled() -> bool:
        return not rig.gateway.alarms.snapshot("plc_fault").active

    return settled


def _state(rig: Rig, state: AlarmState) -> Callable[[], Awaitable[bool]]:
    async def reached() -> bool:
        return rig.gateway.alarms.snapshot("plc_fault").state is state

    return reached

"""`gateway watch` prints the gateway's alarm events (conditions of DESIGN.md §6)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from gatewaykit import PLC_POINTS, make_plant, plc_device
from opcuakit import OPEN, until

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
                "devices": [plc_device(running)],
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

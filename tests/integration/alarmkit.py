"""Alarm test kit: a plant, the gateway's pieces (historian, alarm engine, pollers), a recorder."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from eventually import eventually
from gatewaykit import FAST_DEVICE, PLC_TAGS, Latest
from pkikit import pki_dir

from gateway.alarms import AlarmEngine, AlarmSnapshot, AlarmState, Transition
from gateway.bus import Bus
from gateway.config import GatewayConfig
from gateway.modbus.acquisition import Acquisition
from gateway.storage import AlarmEvent, Historian
from simulators.runtime import RunningPlant

#: temp (float32 at holding 0, 21.5 at start) with every limit; pump (coil) discrete.
TEMP_ALARM: dict[str, Any] = {
    "name": "temp_alarm",
    "tag": "plc.temp",
    "low_low": 0,
    "low": 10,
    "high": 30,
    "high_high": 40,
    "deadband": 1,
    "severity": 700,
    "message": "Temperature {value} {unit} beyond {limit}",
}
PUMP_ALARM: dict[str, Any] = {"name": "pump_on", "tag": "plc.pump", "equals": True}


def alarm_config(
    url: str, running: RunningPlant | None, alarms: list[dict[str, Any]], **device: Any
) -> GatewayConfig:
    """A config with the PLC of gatewaykit (scanned every 50 ms), storage at `url` and `alarms`."""
    plc: dict[str, Any] = {
        "name": "plc",
        "host": "127.0.0.1",
        "port": 1 if running is None else running.slave("plc").port,
        "tags": PLC_TAGS,
        **FAST_DEVICE,
        "scan_interval": "50ms",
        **device,
    }
    return GatewayConfig.model_validate(
        {
            "gateway": {"name": "alarm-test"},
            "opcua": {
                "anonymous": True,
                "endpoint": "opc.tcp://127.0.0.1:0",
                "security": {"pki_dir": pki_dir()},
            },
            "storage": {"url": url, "flush_interval": "50ms"},
            "devices": [plc],
            "alarms": alarms,
        }
    )


@dataclass
class Recorder:
    """An AlarmListener that keeps every change."""

    changes: list[tuple[AlarmSnapshot, Transition]] = field(default_factory=list)

    def alarm_changed(self, snapshot: AlarmSnapshot, transition: Transition) -> None:
        self.changes.append((snapshot, transition))

    def journaled(self, name: str) -> list[tuple[Transition, AlarmState, str | None]]:
        return [(t, s.state, s.limit) for s, t in self.changes if s.name == name and t.journaled]


@dataclass
class Pieces:
    engine: AlarmEngine
    historian: Historian
    acquisition: Acquisition
    latest: Latest


@asynccontextmanager
async def gateway_pieces(
    config: GatewayConfig, *, listener: Recorder | None = None
) -> AsyncIterator[Pieces]:
    """Historian, alarm engine and pollers entered in the gateway's order, on one bus."""
    bus = Bus()
    latest = Latest(bus.subscribe("test", maxsize=100_000))
    historian = Historian(config, bus)
    engine = AlarmEngine(config, bus, journal=historian)
    if listener is not None:
        engine.add_listener(listener)
    async with historian, engine, Acquisition(config, bus) as acquisition:
        yield Pieces(engine, historian, acquisition, latest)


async def poll_until(
    predicate: Callable[[], Awaitable[bool]], *, timeout: float = 5.0, message: str
) -> None:
    """Await `predicate` until it is true; fail after `timeout`."""
    await eventually(predicate, timeout=timeout, what=message, interval=0.02)


async def journal_of(historian: Historian, alarm: str, count: int) -> list[AlarmEvent]:
    """The alarm's journal once it holds `count` events (they are written asynchronously)."""
    events: list[AlarmEvent] = []

    async def written() -> bool:
        nonlocal events
        events = (await historian.alarm_journal(alarm=alarm)).events
        return len(events) >= count

    await poll_until(written, message=f"{count} journal events of {alarm}")
    return events

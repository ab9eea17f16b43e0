"""`bench alerts`: alarm transition → webhook received; 1,000 flapping alarms.

In one process, without Modbus: values are published on the bus as the
pollers would, so what is measured is the alarm engine, the journal and
outbox commit (SQLite in a temporary folder), the deliverer and the webhook
POST to a local receiver (a minimal HTTP/1.1 server on asyncio streams, so
the receiver costs little of the measured CPU).

- latency: one alarm toggled every `gap` seconds; for each transition the
  time from the engine's transition to the receiver reading the request.
- flapping: `alarms` alarms each flipping every second for `seconds`, with
  the routes (rate limit 10/min) and, as the baseline, without any route in
  the same run: the CPU the notifications add, and how many messages the
  receiver got (the rate limit must hold: individual ones, then digests).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.alarms import AlarmEngine
from gateway.alarms.notify import Deliverer, Router
from gateway.bench.measure import CpuWindow
from gateway.bench.report import Report, percentile
from gateway.bus import Bus
from gateway.config import GatewayConfig
from gateway.model import Status, TagValue
from gateway.storage import Historian

__all__ = ["AlertsSpec", "bench_alerts"]


@dataclass(frozen=True, slots=True)
class AlertsSpec:
    transitions: int = 200  # latency samples
    gap: float = 0.05  # seconds between two latency transitions
    alarms: int = 1000  # flapping alarms
    seconds: float = 10.0  # flapping time per variant
    runs: int = 1


@dataclass
class _Receiver:
    """Arrival times of webhook bodies (a keep-alive HTTP/1.1 server, 204 to every POST)."""

    arrivals: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    server: asyncio.Server | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_for(self, count: int, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while len(self.arrivals) < count:
                self.arrived.clear()
                await self.arrived.wait()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                self.arrivals.append((time.time(), json.loads(body)))
                self.arrived.set()
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


def _config(folder: Path, alarms: int, port: int, *, routed: bool, rate: str) -> GatewayConfig:
    tags = [{"name": f"t{i}", "ref": 40001 + 2 * i, "type": "float32"} for i in range(alarms)]
    notifications: dict[str, Any] = {}
    if routed:
        notifications = {
            "channels": [
                {"name": "hook", "type": "webhook", "url": f"http://127.0.0.1:{port}/alarm"}
            ],
            "routes": [{"to": ["hook"]}],
            "rate_limit": rate,
        }
    return GatewayConfig.model_validate(
        {
            "gateway": {"name": "bench"},
            "storage": {"url": f"sqlite:///{folder / 'alerts.db'}", "flush_interval": "50ms"},
            "devices": [{"name": "d", "host": "127.0.0.1", "tags": tags}],
            "alarms": [{"name": f"a{i}", "tag": f"d.t{i}", "high": 50} for i in range(alarms)],
            "notifications": notifications,
        }
    )


async def _running(stack: AsyncExitStack, config: GatewayConfig) -> Bus:
    bus = Bus()
    historian = await stack.enter_async_context(Historian(config, bus))
    routes = config.notifications
    router = Router(routes, gateway="bench") if routes.routes else None
    await stack.enter_async_context(AlarmEngine(config, bus, journal=historian, router=router))
    if router is not None:
        await stack.enter_async_context(Deliverer(config, historian))
    return bus


def _publish(bus: Bus, tags: range, value: float) -> None:
    now = time.time()
    bus.publish([TagValue(f"d.t{i}", value, Status.GOOD, now, now) for i in tags])


async def _latency(spec: AlertsSpec, folder: Path) -> list[float]:
    receiver = _Receiver()
    port = await receiver.start()
    try:
        async with AsyncExitStack() as stack:
            bus = await _running(stack, _config(folder, 1, port, routed=True, rate="1000/s"))
            for n in range(spec.transitions):
                _publish(bus, range(1), 100.0 if n % 2 == 0 else 0.0)
                await asyncio.sleep(spec.gap)
            await receiver.wait_for(spec.transitions, 30)
    finally:
        await receiver.stop()
    return [
        arrived - datetime.fromisoformat(body["time"].replace("Z", "+00:00")).timestamp()
        for arrived, body in receiver.arrivals
    ]


async def _flapping(spec: AlertsSpec, folder: Path, *, routed: bool) -> tuple[float, int, int]:
    """CPU cores while flapping, messages received, digests among them."""
    receiver = _Receiver()
    port = await receiver.start()
    window = CpuWindow()
    try:
        async with AsyncExitStack() as stack:
            config = _config(folder, spec.alarms, port, routed=routed, rate="10/min")
            bus = await _running(stack, config)
            window.start()
            began = time.monotonic()
            flips = 0
            while time.monotonic() - began < spec.seconds:
                _publish(bus, range(spec.alarms), 100.0 if flips % 2 == 0 else 0.0)
                flips += 1
                await asyncio.sleep(max(0.0, began + flips - time.monotonic()))
            cores = window.stop()
    finally:
        await receiver.stop()
    digests = sum(1 for _, body in receiver.arrivals if body.get("digest"))
    return cores, len(receiver.arrivals), digests


async def bench_alerts(spec: AlertsSpec) -> Report:
    report = Report(
        "alerts",
        {
            "transitions": spec.transitions,
            "alarms": spec.alarms,
            "seconds": spec.seconds,
            "runs": spec.runs,
        },
    )
    p50s, p99s, added, received = [], [], [], []
    for run in range(spec.runs):
        with tempfile.TemporaryDirectory(prefix="gateway-bench-alerts-") as name:
            folder = Path(name)
            latencies = await _latency(spec, _fresh(folder, f"latency{run}"))
            p50s.append(percentile(latencies, 0.5) * 1000)
            p99s.append(percentile(latencies, 0.99) * 1000)
            base, _, _ = await _flapping(spec, _fresh(folder, f"base{run}"), routed=False)
            with_routes, count, digests = await _flapping(
                spec, _fresh(folder, f"routed{run}"), routed=True
            )
            added.append(with_routes - base)
            received.append(count)
            report.notes.append(
                f"run {run + 1}: {count} messages received ({digests} digests) from "
                f"{spec.alarms} alarms flipping for {spec.seconds:g} s; CPU {base:.3f} → "
                f"{with_routes:.3f} cores"
            )
    report.add("transition → webhook p50", "ms", p50s)
    report.add("transition → webhook p99", "ms", p99s, "≤ 100")
    report.add("CPU added by notifications, flapping", "cores", added, "≤ 0.05")
    report.add("messages received, flapping", "messages", received)
    return report


def _fresh(folder: Path, name: str) -> Path:
    path = folder / name
    path.mkdir(parents=True)
    return path

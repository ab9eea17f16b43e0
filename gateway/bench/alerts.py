"""`bench alerts`: alarm transition → webhook received; 1,000 flapping alarms.

In one process: the alarm engine, the journal and outbox commit (SQLite in a
temporary folder), the deliverer and the webhook POST to a local receiver (a
minimal HTTP/1.1 server on asyncio streams, so the receiver costs little of
the measured CPU).

- latency: one alarm toggled every `gap` seconds by publishing on the bus as
  a poller would; for each transition the time from the engine's transition
  to the receiver reading the request.
- flapping: `alarms` alarms on float32 tags of `slaves` simulated slaves
  (`python -m simulators scale --toggle`, another process) whose values
  cross the limit every second, polled every second by the gateway's
  Acquisition in this process; with the routes (rate limit 10/min) and, as
  the baseline, without any route, in the same run: the CPU the
  notifications add, the messages the receiver got (the rate limit must
  hold: individual ones, then digests) and the scans the pollers missed.
  Odd runs measure the routed variant first, so a drift in the machine's
  load does not always count against the same one.
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
from gateway.alarms.model import AlarmSnapshot, Transition
from gateway.alarms.notify import Deliverer, Router
from gateway.bench.fleet import ScaleFleet
from gateway.bench.measure import CpuWindow
from gateway.bench.report import Report, percentile
from gateway.bus import Bus
from gateway.config import GatewayConfig
from gateway.modbus.acquisition import Acquisition
from gateway.modbus.health import RESPONSE_TIME_BOUNDS, DeviceHealth
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
    slaves: int = 10  # simulated slaves the flapping alarms' tags are spread over
    warmup: float = 3.0  # seconds of polling before each flapping window

    @property
    def tags_per_slave(self) -> int:
        return -(-self.alarms // self.slaves)

    @property
    def slaves_used(self) -> int:
        return -(-self.alarms // self.tags_per_slave)

    @property
    def keys(self) -> list[str]:
        """The flapping alarms' tags, `s003.t17`, spread evenly over the slaves."""
        per = self.tags_per_slave
        return [f"s{i // per:03d}.t{i % per}" for i in range(self.alarms)]


#: Response-time buckets beyond 100 ms: an event loop held that long is on its way to a missed scan.
_SLOW_BUCKETS = RESPONSE_TIME_BOUNDS.index(0.1) + 1

#: Values the simulated tags alternate between each second, across the alarms' high limit.
_TOGGLE, _HIGH = 100.0, 50.0


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


def _notifications(port: int, *, routed: bool, rate: str) -> dict[str, Any]:
    if not routed:
        return {}
    return {
        "channels": [{"name": "hook", "type": "webhook", "url": f"http://127.0.0.1:{port}/alarm"}],
        "routes": [{"to": ["hook"]}],
        "rate_limit": rate,
    }


def _latency_config(folder: Path, port: int) -> GatewayConfig:
    """One alarm on a tag of a device that is never polled (values come on the bus)."""
    return GatewayConfig.model_validate(
        {
            "gateway": {"name": "bench"},
            "storage": {"url": f"sqlite:///{folder / 'alerts.db'}", "flush_interval": "50ms"},
            "devices": [
                {
                    "name": "d",
                    "host": "127.0.0.1",
                    "tags": [{"name": "t0", "ref": 40001, "type": "float32"}],
                }
            ],
            "alarms": [{"name": "a0", "tag": "d.t0", "high": _HIGH}],
            "notifications": _notifications(port, routed=True, rate="1000/s"),
        }
    )


def _flapping_config(
    spec: AlertsSpec, folder: Path, slaves: list[tuple[str, int]], port: int, *, routed: bool
) -> GatewayConfig:
    """The slaves polled every second, an alarm on each of the first `alarms` tags."""
    tags = [
        {"name": f"t{i}", "table": "holding_register", "address": 2 * i, "type": "float32"}
        for i in range(spec.tags_per_slave)
    ]
    devices = [
        {"name": f"s{index:03d}", "host": host, "port": slave_port, "scan_interval": 1.0,
         "timeout": "2s", "demote_after": 0, "tags": tags}
        for index, (host, slave_port) in enumerate(slaves[: spec.slaves_used])
    ]  # fmt: skip
    alarms = [{"name": f"a{i}", "tag": key, "high": _HIGH} for i, key in enumerate(spec.keys)]
    return GatewayConfig.model_validate(
        {
            "gateway": {"name": "bench"},
            "storage": {"url": f"sqlite:///{folder / 'alerts.db'}", "flush_interval": "50ms"},
            "devices": devices,
            "alarms": alarms,
            "notifications": _notifications(port, routed=routed, rate="10/min"),
        }
    )


async def _running(stack: AsyncExitStack, config: GatewayConfig) -> tuple[Bus, AlarmEngine]:
    """Historian, alarm engine and (with routes) deliverer, entered as `gateway run` does."""
    bus = Bus()
    historian = await stack.enter_async_context(Historian(config, bus))
    routes = config.notifications
    router = Router(routes, gateway="bench") if routes.routes else None
    engine = AlarmEngine(config, bus, journal=historian, router=router)
    await stack.enter_async_context(engine)
    if router is not None:
        await stack.enter_async_context(Deliverer(config, historian))
    return bus, engine


def _publish(bus: Bus, tags: range, value: float) -> None:
    now = time.time()
    bus.publish([TagValue(f"d.t{i}", value, Status.GOOD, now, now) for i in tags])


async def _latency(spec: AlertsSpec, folder: Path) -> list[float]:
    receiver = _Receiver()
    port = await receiver.start()
    try:
        async with AsyncExitStack() as stack:
            bus, _ = await _running(stack, _latency_config(folder, port))
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


@dataclass
class _Transitions:
    """Counts the journaled transitions (an AlarmListener)."""

    count: int = 0

    def alarm_changed(self, snapshot: AlarmSnapshot, transition: Transition) -> None:
        if transition.journaled:
            self.count += 1


@dataclass(frozen=True, slots=True)
class _Flapping:
    cores: float
    received: int  # messages at the receiver, the warm-up's included
    digests: int
    transitions: int  # journaled, in the window
    scans: int  # in the window
    missed_scans: int  # in the window
    slow: int  # responses after more than 100 ms, in the window


def _counters(healths: list[DeviceHealth]) -> tuple[int, int, int]:
    """Scans, missed scans and responses slower than 100 ms, over every device."""
    return (
        sum(h.scans for h in healths),
        sum(h.missed_scans for h in healths),
        sum(sum(h.response_times.counts[_SLOW_BUCKETS:]) for h in healths),
    )


async def _flapping(
    spec: AlertsSpec, folder: Path, slaves: list[tuple[str, int]], *, routed: bool
) -> _Flapping:
    """Poll the toggling slaves with the engine, historian (and deliverer) running."""
    receiver = _Receiver()
    port = await receiver.start()
    transitions = _Transitions()
    window = CpuWindow()
    try:
        async with AsyncExitStack() as stack:
            config = _flapping_config(spec, folder, slaves, port, routed=routed)
            bus, engine = await _running(stack, config)
            engine.add_listener(transitions)
            acquisition = await stack.enter_async_context(Acquisition(config, bus, seed=0))
            await asyncio.sleep(spec.warmup)
            healths = acquisition.healths
            before, transitions_before = _counters(healths), transitions.count
            window.start()
            await asyncio.sleep(spec.seconds)
            cores = window.stop()
            after, transitions_after = _counters(healths), transitions.count
            if routed:  # the first 10 transitions pass the 10/min limit: wait for them
                await receiver.wait_for(min(10, transitions.count), 30)
    finally:
        await receiver.stop()
    return _Flapping(
        cores=cores,
        received=len(receiver.arrivals),
        digests=sum(1 for _, body in receiver.arrivals if body.get("digest")),
        transitions=transitions_after - transitions_before,
        scans=after[0] - before[0],
        missed_scans=after[1] - before[1],
        slow=after[2] - before[2],
    )


async def bench_alerts(spec: AlertsSpec) -> Report:
    report = Report(
        "alerts",
        {
            "transitions": spec.transitions,
            "alarms": spec.alarms,
            "slaves": spec.slaves_used,
            "seconds": spec.seconds,
            "runs": spec.runs,
        },
    )
    latency: list[tuple[float, float]] = []
    flapping: list[tuple[_Flapping, _Flapping]] = []
    async with ScaleFleet(
        slaves=spec.slaves_used, registers=2 * spec.tags_per_slave, change=1.0, tick=1.0,
        toggle=_TOGGLE,
    ) as fleet:  # fmt: skip
        for run in range(spec.runs):
            with tempfile.TemporaryDirectory(prefix="gateway-bench-alerts-") as name:
                folder = Path(name)
                latencies = await _latency(spec, _fresh(folder, f"latency{run}"))
                latency.append((percentile(latencies, 0.5), percentile(latencies, 0.99)))
                variants = {}
                for routed in (False, True) if run % 2 == 0 else (True, False):  # A/B, B/A
                    where = _fresh(folder, f"{'routed' if routed else 'base'}{run}")
                    variants[routed] = await _flapping(spec, where, fleet.addresses, routed=routed)
                base, routed_run = variants[False], variants[True]
                flapping.append((base, routed_run))
                report.notes.append(_note(spec, run, base, routed_run))
    _add_figures(report, spec, latency, flapping)
    return report


def _note(spec: AlertsSpec, run: int, base: _Flapping, routed: _Flapping) -> str:
    return (
        f"run {run + 1}: {routed.received} messages received ({routed.digests} digests) from "
        f"{spec.alarms} alarms on {spec.slaves_used} slaves; in {spec.seconds:g} s, "
        f"{base.transitions} / {routed.transitions} transitions, {base.scans} / {routed.scans} "
        f"scans, {base.missed_scans} / {routed.missed_scans} missed, {base.slow} / "
        f"{routed.slow} responses over 100 ms, CPU {base.cores:.3f} → "
        f"{routed.cores:.3f} cores (no route / routed)"
    )


def _add_figures(
    report: Report,
    spec: AlertsSpec,
    latency: list[tuple[float, float]],
    flapping: list[tuple[_Flapping, _Flapping]],
) -> None:
    report.add("transition → webhook p50", "ms", [p50 * 1000 for p50, _ in latency])
    report.add("transition → webhook p99", "ms", [p99 * 1000 for _, p99 in latency], "≤ 100")
    report.add("CPU, flapping, no route", "cores", [b.cores for b, _ in flapping])
    report.add("CPU, flapping, routed", "cores", [r.cores for _, r in flapping])
    added = [r.cores - b.cores for b, r in flapping]
    report.add("CPU added by notifications, flapping", "cores", added, "≤ 0.05")
    report.add("messages received, flapping", "messages", [r.received for _, r in flapping])
    report.add(
        "transitions/s, flapping, routed",
        "1/s",
        [r.transitions / spec.seconds for _, r in flapping],
    )
    report.add(
        "missed scans, flapping, no route", "scans", [b.missed_scans for b, _ in flapping], "0"
    )
    report.add(
        "missed scans, flapping, routed", "scans", [r.missed_scans for _, r in flapping], "0"
    )
    report.add(
        "responses over 100 ms, flapping, no route", "requests", [b.slow for b, _ in flapping]
    )
    report.add("responses over 100 ms, flapping, routed", "requests", [r.slow for _, r in flapping])


def _fresh(folder: Path, name: str) -> Path:
    path = folder / name
    path.mkdir(parents=True)
    return path

"""End-to-end latency: a register changed on a slave → data-change notification at a client.

Five clocks meet, all CLOCK_REALTIME on one host (see docs/performance.md):

    changed    the bench writes the register (FC16) and takes the time of the answer:
               the slave holds the new value by then
    source     the SourceTimestamp the gateway stamps: arrival of the poll answer
    ready      the PublishTime seen by a second subscription with the shortest publishing
               interval the gateway grants (1 ms, configured for the bench), so within
               a millisecond of when the value reached the address space
    published  the PublishTime of the measured subscription's NotificationMessage
    received   when the client (this process) has decoded that notification

The two waits no gateway can avoid are taken off: the wait for the next scan
(from the change to the slot of the poll that saw it) and the wait for the
next publish cycle (from `ready` to the first cycle after it). Both grids are
fixed (the poller sleeps to start + k·scan, asyncua's subscription loop to
start + k·interval), so each grid's phase is estimated per run from the
stamps: the phases mod the period lie on a short arc that starts at the grid
(the earliest stamp is taken as on time). What is left is the overhead:

    overhead = Modbus round trip + gateway processing + publish lateness + delivery
             = total − scan phase wait − publish cycle wait

Processing (source → ready) is measured as it happens, so a value whose
processing makes it miss a cycle costs its processing time, not a whole
interval; "publish lateness" is how late the cycle ran. Changes are spaced
1.2–2.2 scan intervals apart, so each has a random scan phase and no two fall
into one scan; the default publishing interval (90 ms) is not a divisor of
the scan (100 ms), so the publish phase varies too.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import struct
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from asyncua import ua
from asyncua.client.client import Client

from gateway.bench.fleet import ScaleFleet
from gateway.bench.gatewayproc import GatewayProcess, duration, gateway_config
from gateway.bench.measure import ProcessCpuWindow
from gateway.bench.report import Report, percentile
from gateway.bench.timing import Delays, Sample, analyse, grid_spread
from gateway.bench.uaclient import posix, subscribe, tag_nodes, wait_good
from gateway.modbus.client import ModbusClient

__all__ = ["LatencySpec", "bench_latency", "measure_latency"]

#: The probe's publishing interval (s): `ready` is known to within this. The server's
#: default minimum (50 ms) would blur it, so the bench's gateway allows 1 ms.
PROBE_INTERVAL = 0.001


@dataclass(frozen=True, slots=True)
class LatencySpec:
    scan: float = 0.1  # scan interval of the changed tag's device, seconds
    publishing: float = 0.09  # the client's publishing interval: not a divisor of the scan
    changes: int = 100  # per run
    runs: int = 3
    load: bool = False  # also poll load_slaves × load_tags float32 tags in the same gateway
    load_slaves: int = 100
    load_tags: int = 1000
    load_change: float = 0.1
    load_interval: float = 1.0
    settle: float = 3.0  # warm-up once every device is Good, excluded
    # Under load, longer: the figure is the steady state of a 100k-tag gateway
    # (first scans, the historian catching up, the first retention pass).
    load_settle: float = 45.0


def _float32_words(value: float) -> list[int]:
    """A float32 as two registers, word order big (the gateway's default)."""
    return list(struct.unpack(">HH", struct.pack(">f", value)))


@dataclass(slots=True)
class _Run:
    delays: list[Delays]
    lost: int
    cores: float
    scan_spread: float  # see timing.grid_spread, seconds
    publish_spread: float


def _changes(result: ua.PublishResult) -> Iterator[tuple[int, float]]:
    """(change number, SourceTimestamp) of each float value in a PublishResult."""
    for data in result.NotificationMessage.NotificationData or ():
        if isinstance(data, ua.DataChangeNotification):
            for item in data.MonitoredItems:
                value = item.Value
                if value.Value is not None and isinstance(value.Value.Value, float):
                    yield round(value.Value.Value), posix(value.SourceTimestamp)


class _Bench:
    """One gateway (and its slaves) kept for all runs of a variant.

    `client` holds the measured subscription, `probe` (its own session, so
    the two never wait for each other's publish requests) the one with
    publishing interval 0 that tells when each value was stored.
    """

    def __init__(
        self, spec: LatencySpec, gateway: GatewayProcess, client: Client, probe: Client
    ) -> None:
        self.spec = spec
        self.gateway = gateway
        self.client = client
        self.probe = probe
        self.next_value = 1

    async def run(self, writer: ModbusClient, node: ua.NodeId) -> _Run:
        spec = self.spec
        seen: dict[int, tuple[float, float, float]] = {}  # source, published, received
        ready: dict[int, float] = {}
        changed: dict[int, float] = {}
        complete = asyncio.Event()  # set once every change of the run has arrived

        def check() -> None:
            if len(changed) == spec.changes and changed.keys() <= (seen.keys() & ready.keys()):
                complete.set()

        def on_publish(result: ua.PublishResult, now: float) -> None:
            published = posix(result.NotificationMessage.PublishTime)
            for key, source in _changes(result):
                seen[key] = (source, published, now)
            check()

        def on_ready(result: ua.PublishResult, now: float) -> None:
            stored = posix(result.NotificationMessage.PublishTime)
            for key, _ in _changes(result):
                ready[key] = stored
            check()

        async with AsyncExitStack() as stack:
            for client, period, handler in (
                (self.probe, 0.0, on_ready),
                (self.client, spec.publishing * 1000, on_publish),
            ):
                subscription = await subscribe(
                    client, [node], publishing_ms=period, handler=handler, queue_size=10
                )
                stack.push_async_callback(subscription.delete)
            await asyncio.sleep(2 * spec.publishing)  # the initial notifications pass
            window = ProcessCpuWindow(self.gateway.pid)
            window.start()
            for _ in range(spec.changes):
                await asyncio.sleep(spec.scan * random.uniform(1.2, 2.2))
                value = self.next_value
                self.next_value += 1
                await writer.write_registers(1, 0, _float32_words(value), timeout=2.0)
                changed[value] = time.time()
            check()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(complete.wait(), 2.0 + spec.scan + spec.publishing)
            cores = window.stop()
        samples = [
            Sample(t, seen[v][0], ready[v], seen[v][1], seen[v][2])
            for v, t in changed.items()
            if v in seen and v in ready
        ]
        return _Run(
            analyse(samples, spec.scan, spec.publishing),
            lost=len(changed) - len(samples),
            cores=cores,
            scan_spread=grid_spread([s.source for s in samples], spec.scan),
            publish_spread=grid_spread([s.published for s in samples], spec.publishing),
        )


def _devices(
    spec: LatencySpec, target: ScaleFleet, load: ScaleFleet | None
) -> list[dict[str, Any]]:
    host, port = target.addresses[0]
    devices: list[dict[str, Any]] = [
        {
            "name": "lat",
            "host": host,
            "port": port,
            "scan_interval": duration(spec.scan),
            "tags": [{"name": "v", "table": "holding_register", "address": 0, "type": "float32"}],
        }
    ]
    if load is not None:
        tags = [
            {"name": f"t{i}", "table": "holding_register", "address": 2 * i, "type": "float32"}
            for i in range(spec.load_tags)
        ]
        devices += [
            {
                "name": f"s{i:03d}",
                "host": h,
                "port": p,
                "scan_interval": duration(spec.load_interval),
                "tags": tags,
            }
            for i, (h, p) in enumerate(load.addresses)
        ]
    return devices


async def measure_latency(spec: LatencySpec) -> list[_Run]:
    """Every run of one variant against one gateway process."""
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        folder = Path(tmp)
        async with AsyncExitStack() as stack:
            # A slave nobody else changes (its ticker would overwrite the register once a day).
            target = await stack.enter_async_context(
                ScaleFleet(slaves=1, registers=2, change=0.0, tick=86400.0)
            )
            load = None
            if spec.load:
                load = await stack.enter_async_context(
                    ScaleFleet(
                        slaves=spec.load_slaves, registers=2 * spec.load_tags,
                        change=spec.load_change, tick=spec.load_interval,
                    )
                )  # fmt: skip
            config = gateway_config(_devices(spec, target, load), folder)
            # The probe subscription asks for 0 ms: granted the shortest interval allowed.
            config["opcua"]["limits"] = {"min_publishing_interval": duration(PROBE_INTERVAL)}
            gateway = await stack.enter_async_context(GatewayProcess(config, folder))
            client, probe = [
                await stack.enter_async_context(
                    Client(gateway.url, timeout=30, watchdog_intervall=30)
                )
                for _ in range(2)
            ]
            host, port = target.addresses[0]
            writer = await stack.enter_async_context(ModbusClient(host, port, connect_timeout=2.0))
            keys = ["lat.v"]
            if load is not None:
                keys += [f"s{i:03d}.t{spec.load_tags - 1}" for i in range(spec.load_slaves)]
            nodes = await tag_nodes(client, keys)
            await wait_good(client, nodes, since=time.time(), timeout=180)
            await asyncio.sleep(spec.load_settle if spec.load else spec.settle)
            bench = _Bench(spec, gateway, client, probe)
            return [await bench.run(writer, nodes[0]) for _ in range(spec.runs)]


def _ms(values: Sequence[float]) -> list[float]:
    return [1000.0 * v for v in values]


def add_figures(report: Report, label: str, runs: Sequence[_Run], target_p99_ms: float) -> None:
    """The figures of one variant: per-run p50/p99, then the median over runs."""

    def per_run(part: str, fraction: float) -> list[float]:
        return _ms([percentile([getattr(d, part) for d in r.delays], fraction) for r in runs])

    report.add(f"{label}: latency p50", "ms", per_run("total", 0.5))
    report.add(f"{label}: latency p99", "ms", per_run("total", 0.99))
    report.add(f"{label}: overhead p50", "ms", per_run("overhead", 0.5))
    report.add(f"{label}: overhead p99", "ms", per_run("overhead", 0.99), f"≤ {target_p99_ms:g}")
    for part, name in (
        ("scan_wait", "scan phase wait"),
        ("round_trip", "Modbus round trip"),
        ("processing", "gateway processing"),
        ("publish_wait", "publish cycle wait"),
        ("publish_late", "publish lateness"),
        ("delivery", "delivery to client"),
    ):
        report.add(f"{label}: {name} p50", "ms", per_run(part, 0.5))
        report.add(f"{label}: {name} p99", "ms", per_run(part, 0.99))
    report.add(
        f"{label}: publish cycles missed", "changes",
        [sum(1 for d in r.delays if d.missed_cycles) for r in runs],
    )  # fmt: skip
    report.add(f"{label}: changes lost", "changes", [r.lost for r in runs], "0")
    report.add(f"{label}: samples", "changes", [len(r.delays) for r in runs])
    report.add(f"{label}: gateway cpu", "cores", [r.cores for r in runs])
    scan_spread = _ms([r.scan_spread for r in runs])
    publish_spread = _ms([r.publish_spread for r in runs])
    report.add(f"{label}: poll answer spread", "ms", scan_spread)
    report.add(f"{label}: publish cycle spread", "ms", publish_spread)
    spec = report.parameters
    if max(scan_spread) > 500 * float(str(spec["scan_s"])) or max(publish_spread) > 500 * float(
        str(spec["publishing_s"])
    ):
        report.notes.append(
            f"{label}: answers or publish cycles strayed over half a period from their grid; "
            "the gateway (or the machine) was too busy for the phase estimate, so the "
            "split between waits and overhead is unreliable"
        )


async def bench_latency(spec: LatencySpec, *, variants: Sequence[str] = ("idle", "load")) -> Report:
    """The latency workload (docs/performance.md): idle (one device), under the 100k load."""
    report = Report(
        "latency",
        {
            "scan_s": spec.scan,
            "publishing_s": spec.publishing,
            "changes_per_run": spec.changes,
            "runs": spec.runs,
            "load": f"{spec.load_slaves}x{spec.load_tags} float32 at {spec.load_interval:g} s, "
            f"{spec.load_change:g} changing",
        },
    )
    if "idle" in variants:
        idle = await measure_latency(replace(spec, load=False))
        add_figures(report, "idle", idle, 10.0)
    if "load" in variants:
        loaded = await measure_latency(replace(spec, load=True))
        add_figures(report, "load", loaded, 25.0)
    return report

"""Poll workload: N slaves × M float32 tags at a scan interval, a fraction changing.

The gateway side (planner, client, decode, change detection, bus with one
draining consumer) runs in this process and is the only thing measured; the
slaves run in a child process. The naive baseline polls the same tags with
one request per tag (no merging), as many open-source gateways do.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from typing import Any

from gateway.bench.fleet import ScaleFleet
from gateway.bench.measure import CpuWindow
from gateway.bench.report import Report
from gateway.bench.storage import insert_until as _insert_until
from gateway.bus import Bus
from gateway.config import GatewayConfig
from gateway.modbus.acquisition import Acquisition
from gateway.modbus.deviceplan import plan_device
from gateway.storage.scratch import scratch_url

__all__ = ["PollResult", "PollSpec", "bench_poll", "run_poll"]


@dataclass(frozen=True, slots=True)
class PollSpec:
    slaves: int = 100
    tags: int = 1000
    interval: float = 1.0
    change: float = 0.1
    warmup: float = 5.0
    duration: float = 20.0
    naive: bool = False
    insert_load: bool = False  # bulk-insert into SQLite on a thread during the window


@dataclass(frozen=True, slots=True)
class PollResult:
    cores: float
    missed_scans: int
    scans: int
    requests_per_scan: float
    planned_requests_per_scan: float
    values_per_second: float
    errors: int
    inserted_per_second: float = 0.0


def _config(spec: PollSpec, addresses: list[tuple[str, int]]) -> GatewayConfig:
    tags = [
        {"name": f"t{i}", "table": "holding_register", "address": 2 * i, "type": "float32"}
        for i in range(spec.tags)
    ]
    devices: list[dict[str, Any]] = [
        {
            "name": f"s{index:03d}",
            "host": host,
            "port": port,
            "scan_interval": spec.interval,
            "timeout": "2s",
            "demote_after": 0,
            "max_read_gap": 0 if spec.naive else 8,
            "max_read_registers": 2 if spec.naive else 125,
            "tags": tags,
        }
        for index, (host, port) in enumerate(addresses)
    ]
    return GatewayConfig.model_validate(
        {"gateway": {"name": "bench"}, "opcua": {"anonymous": True}, "devices": devices}
    )


async def _drain(bus: Bus, counter: list[int]) -> None:
    subscription = bus.subscribe("bench", maxsize=100_000)
    while batches := await subscription.get_many():
        counter[0] += sum(len(batch) for batch in batches)


async def run_poll(spec: PollSpec, fleet: ScaleFleet) -> PollResult:
    """One measured run against an already running fleet."""
    config = _config(spec, fleet.addresses)
    planned = sum(len(plan_device(device)) for device in config.devices) / len(config.devices)
    bus = Bus()
    values = [0]
    async with asyncio.TaskGroup() as group:
        drain = group.create_task(_drain(bus, values))
        async with Acquisition(config, bus, seed=0) as acquisition:
            await asyncio.sleep(spec.warmup)
            healths = acquisition.healths
            before = [(h.requests, h.scans, h.missed_scans, h.errors) for h in healths]
            values_before = values[0]
            window = CpuWindow()
            window.start()
            if spec.insert_load:
                inserted = await _insert_while(asyncio.sleep(spec.duration))
            else:
                inserted = 0
                await asyncio.sleep(spec.duration)
            cores = window.stop()
            after = [(h.requests, h.scans, h.missed_scans, h.errors) for h in healths]
        bus.close()
        await drain
    requests = sum(a[0] - b[0] for a, b in zip(after, before, strict=True))
    scans = sum(a[1] - b[1] for a, b in zip(after, before, strict=True))
    return PollResult(
        cores=cores,
        missed_scans=sum(a[2] - b[2] for a, b in zip(after, before, strict=True)),
        scans=scans,
        requests_per_scan=requests / scans if scans else math.nan,
        planned_requests_per_scan=planned,
        values_per_second=(values[0] - values_before) / window.wall,
        errors=sum(a[3] - b[3] for a, b in zip(after, before, strict=True)),
        inserted_per_second=inserted / window.wall,
    )


async def _insert_while(waiting: Coroutine[Any, Any, None]) -> int:
    """Batch-insert into a scratch SQLite database on a thread until `waiting` ends.

    Shows whether the historian's inserts (a blocking library on its own
    thread, holding the GIL for much of each batch) delay the pollers.
    """
    stop = threading.Event()
    with scratch_url(None) as url:
        async with asyncio.TaskGroup() as group:
            load = group.create_task(asyncio.to_thread(_insert_until, url, stop))
            try:
                await waiting
            finally:
                stop.set()
        return load.result()


def _tag_read_us(result: PollResult, spec: PollSpec) -> float:
    """CPU microseconds per tag read (scans × tags), comparable across request layouts."""
    reads_per_second = result.scans / spec.duration * spec.tags
    return result.cores / reads_per_second * 1e6 if reads_per_second else math.nan


async def _measure(spec: PollSpec, runs: int) -> list[PollResult]:
    async with ScaleFleet(
        slaves=spec.slaves, registers=2 * spec.tags, change=spec.change, tick=spec.interval
    ) as fleet:
        return [await run_poll(spec, fleet) for _ in range(runs)]


async def bench_poll(spec: PollSpec, *, runs: int, baseline_slaves: int) -> Report:
    """The poll workload (docs/performance.md): changing, static, and the naive baseline."""
    report = Report(
        "poll",
        {
            "slaves": spec.slaves,
            "tags_per_slave": spec.tags,
            "interval_s": spec.interval,
            "change": spec.change,
            "duration_s": spec.duration,
            "runs": runs,
        },
    )
    changing = await _measure(spec, runs)
    static_spec = replace(spec, change=0.0)
    static = await _measure(static_spec, runs)
    loaded = await _measure(replace(spec, insert_load=True), runs)
    naive_spec = replace(spec, slaves=baseline_slaves, naive=True)
    naive = await _measure(naive_spec, runs)
    report.add("cpu, changing", "cores", [r.cores for r in changing], "≤ 0.5")
    report.add("missed scans, changing", "scans", [r.missed_scans for r in changing], "0")
    report.add("values/s, changing", "1/s", [r.values_per_second for r in changing])
    report.add("cpu, static", "cores", [r.cores for r in static], "≤ 0.15")
    report.add("missed scans, static", "scans", [r.missed_scans for r in static], "0")
    report.add(
        "requests per scan", "requests", [r.requests_per_scan for r in changing],
        f"= planner optimum {changing[0].planned_requests_per_scan:g}",
    )  # fmt: skip
    errors = [r.errors + s.errors for r, s in zip(changing, static, strict=True)]
    report.add("request errors", "errors", errors, "0")
    report.add("cpu, changing + SQLite insert load", "cores", [r.cores for r in loaded])
    report.add(
        "missed scans, changing + insert load", "scans", [r.missed_scans for r in loaded], "0"
    )
    report.add(
        "SQLite rows/s during polling",
        "rows/s",
        [r.inserted_per_second for r in loaded],
        "≥ 200000",
    )
    ours = [_tag_read_us(r, spec) for r in changing]
    baseline = [_tag_read_us(r, naive_spec) for r in naive]
    report.add("cpu per tag read", "µs", ours)
    report.add(f"baseline cpu per tag read ({baseline_slaves} slaves)", "µs", baseline)
    report.add("baseline missed scans", "scans", [r.missed_scans for r in naive])
    report.add("baseline / ours", "×", [b / o for b, o in zip(baseline, ours, strict=True)])
    return report

"""The whole gateway as a user runs it: `gateway run` with OPC UA, SQLite, alarms and HTTP.

The wave-2 targets (docs/performance.md): at 1 s scans with 10% of the tags
changing, 100k tags ≤ 0.15 core and ≤ 300 MB, 10k tags ≤ 0.02 core and
≤ 110 MB, 1k tags ≤ 90 MB; start-up to Good values 100k ≤ 4 s, 10k ≤ 1.5 s;
0 missed scans; the last minute's CPU no more than 10% above the first's.

For each size: scale slaves in their own process (1,000 float32 tags per
slave by default, every tag with a unit and every other one with a range),
one real `gateway run -c FILE` process with the OPC UA server, the SQLite
historian, `alarms_per_device` limit alarms per device and the HTTP server,
and one OPC UA client process (fanout_client.py) subscribed to every tag of
the first `subscribed_devices` devices. Read from /proc for the gateway
process alone: CPU (the first and the last `segment` seconds of the window
apart, and the threads other than the event loop's apart: the historian's
inserts run on one), RSS after start-up and at the end, peak RSS. From the
gateway's /metrics: missed scans, rows stored per second, bus drops. From
the client: notifications received.

Sections a user may add (MQTT once it lands) go in `extra_sections`: they are
merged into the generated configuration as they are (`--section` on the
command line), so the same workload measures them.
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
import time
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncua.client.client import Client

from gateway.bench.fanout import ClientProcess
from gateway.bench.fleet import ScaleFleet
from gateway.bench.gatewayproc import GatewayProcess, duration, gateway_config
from gateway.bench.httpget import HttpGet
from gateway.bench.measure import process_cpu_seconds, process_rss_mb, thread_cpu_seconds
from gateway.bench.report import Report
from gateway.bench.startup import make_certificate, tag_definitions
from gateway.bench.uaclient import tag_nodes, wait_good
from gateway.errors import GatewayError

__all__ = ["GatewayRun", "GatewaySpec", "bench_gateway", "measure_gateway"]

#: Targets per size (tags): cores, RSS MB, start-up s (docs/performance.md).
_TARGETS: dict[int, tuple[str, str, str]] = {
    1_000: ("", "≤ 90", ""),
    10_000: ("≤ 0.02", "≤ 110", "≤ 1.5"),
    100_000: ("≤ 0.15", "≤ 300", "≤ 4"),
}

_METRIC = re.compile(rb"^(gateway_[a-z_]+)(?:\{[^}]*\})? (\S+)$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class GatewaySpec:
    sizes: tuple[int, ...] = (1_000, 10_000, 100_000)  # tags
    per_device: int = 1000  # float32 tags per slave (one device each)
    change: float = 0.1  # fraction of the tags changing per tick
    interval: float = 1.0  # scan interval and simulator tick, seconds
    alarms_per_device: int = 1  # limit alarms (never tripping) per device
    subscribed_devices: int = 1  # the client monitors every tag of these devices
    warmup: float = 10.0  # seconds after the client's subscription, not measured
    duration: float = 60.0  # measured window, seconds
    segment: float = 60.0  # first and last segment compared (at most a third of the window)
    runs: int = 1
    extra_sections: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"mqtt": {...}}
    profile: Path | None = None  # under tracemalloc: profiles in profile/<tags>/ (memtrace.py)
    profile_depth: int = 1  # frames kept per allocation (each one slows the gateway a lot)


@dataclass(frozen=True, slots=True)
class GatewayRun:
    tags: int
    all_good: float  # seconds from spawn to a Good value on every device
    cores: float  # the whole window
    first_cores: float  # the first segment
    last_cores: float  # the last segment
    other_threads_first: float  # cores of the threads but the event loop's, first segment
    other_threads_last: float
    rss_started_mb: float  # once every device is Good
    rss_mb: float  # at the end of the window
    peak_rss_mb: float
    missed_scans: float
    rows_per_s: float
    drops: float  # values the bus dropped
    notifications_per_s: float
    offered_per_s: float  # changes/s on the subscribed tags


def gateway_devices(addresses: Sequence[tuple[str, int]], spec: GatewaySpec) -> list[Any]:
    """The devices section: one per slave, each scanned every `spec.interval`."""
    tags = tag_definitions(spec.per_device)
    return [
        {
            "name": f"d{index:03d}",
            "host": host,
            "port": port,
            "scan_interval": duration(spec.interval),
            "tags": tags,
        }
        for index, (host, port) in enumerate(addresses)
    ]


def gateway_alarms(devices: int, spec: GatewaySpec) -> list[dict[str, Any]]:
    """Limit alarms spread over each device's tags, with limits no value reaches."""
    step = max(1, spec.per_device // max(1, spec.alarms_per_device))
    return [
        {
            "name": f"a{device:03d}_{number}",
            "tag": f"d{device:03d}.t{(number * step) % spec.per_device}",
            "high": 1e12,
            "severity": 500,
        }
        for device in range(devices)
        for number in range(spec.alarms_per_device)
    ]


def whole_config(
    addresses: Sequence[tuple[str, int]], spec: GatewaySpec, folder: Path
) -> dict[str, Any]:
    """Everything a user turns on: OPC UA, SQLite, alarms, HTTP, and `extra_sections`."""
    config = gateway_config(gateway_devices(addresses, spec), folder)
    config["alarms"] = gateway_alarms(len(addresses), spec)
    config["http"] = {"listen": "127.0.0.1:0"}
    config.update(spec.extra_sections)
    return config


async def metrics(get: HttpGet) -> dict[str, float]:
    """The gateway's /metrics, each family summed over its labels."""
    status, body = await get("/metrics")
    if status != 200:
        raise GatewayError(f"GET /metrics answered {status}")
    sums: dict[str, float] = {}
    for name, value in _METRIC.findall(body):
        key = name.decode()
        sums[key] = sums.get(key, 0.0) + float(value)
    return sums


@dataclass(slots=True)
class _Sample:
    """The gateway's counters at one moment."""

    wall: float
    cpu: float
    threads: float  # CPU of every thread but the event loop's
    metrics: dict[str, float]


async def _sample(gateway: GatewayProcess, get: HttpGet) -> _Sample:
    found = await metrics(get)
    cpu = process_cpu_seconds(gateway.pid)
    loop_thread = thread_cpu_seconds(gateway.pid, gateway.pid)
    return _Sample(time.perf_counter(), cpu, cpu - loop_thread, found)


def _cores(a: _Sample, b: _Sample) -> float:
    return (b.cpu - a.cpu) / (b.wall - a.wall)


def _thread_cores(a: _Sample, b: _Sample) -> float:
    # A difference of two 10 ms-resolution readings: never below 0.
    return max(0.0, b.threads - a.threads) / (b.wall - a.wall)


def _delta(a: _Sample, b: _Sample, name: str) -> float:
    return b.metrics.get(name, 0.0) - a.metrics.get(name, 0.0)


async def _window(
    spec: GatewaySpec, gateway: GatewayProcess, get: HttpGet, client: ClientProcess
) -> tuple[_Sample, _Sample, _Sample, _Sample, int]:
    """Samples at the start, after the first segment, before the last one, and at the end;
    and the notifications the client received in the window."""
    segment = min(spec.segment, spec.duration / 3)
    client.send(f"START {time.time()!r}")
    begin = await _sample(gateway, get)
    await asyncio.sleep(segment)
    first = await _sample(gateway, get)
    await asyncio.sleep(max(0.0, spec.duration - 2 * segment))
    last = await _sample(gateway, get)
    await asyncio.sleep(segment)
    end = await _sample(gateway, get)
    client.send(f"STOP {time.time()!r}")
    client.send("REPORT")
    received = int(json.loads(await client.line())["received"])
    return begin, first, last, end, received


async def _once(spec: GatewaySpec, tags: int, folder: Path) -> GatewayRun:
    devices = max(1, tags // spec.per_device)
    profile = None if spec.profile is None else spec.profile / str(tags)
    subscribed = min(devices, spec.subscribed_devices)
    async with AsyncExitStack() as stack:
        fleet = await stack.enter_async_context(
            ScaleFleet(
                slaves=devices, registers=2 * spec.per_device, change=spec.change,
                tick=spec.interval,
            )
        )  # fmt: skip
        config = whole_config(fleet.addresses, spec, folder)
        gateway = await stack.enter_async_context(
            GatewayProcess(
                config, folder, start_timeout=600, profile=profile, profile_depth=spec.profile_depth
            )
        )
        get = await stack.enter_async_context(HttpGet(gateway.http_url))
        async with Client(gateway.url, timeout=60, watchdog_intervall=30) as probe:
            keys = [f"d{i:03d}.t{spec.per_device - 1}" for i in range(devices)]
            nodes = await tag_nodes(probe, keys)
            _, all_good = await wait_good(probe, nodes, since=gateway.spawned, timeout=300)
        rss_started = process_rss_mb(gateway.pid)
        if profile is not None:
            await gateway.write_profile("started")
        client = await stack.enter_async_context(
            ClientProcess(gateway.url, subscribed, spec.per_device, spec.interval)
        )
        await client.ready()
        await asyncio.sleep(spec.warmup)
        begin, first, last, end, received = await _window(spec, gateway, get, client)
        if profile is not None:
            await gateway.write_profile("end")
        wall = end.wall - begin.wall
        return GatewayRun(
            tags=devices * spec.per_device,
            all_good=all_good,
            cores=_cores(begin, end),
            first_cores=_cores(begin, first),
            last_cores=_cores(last, end),
            other_threads_first=_thread_cores(begin, first),
            other_threads_last=_thread_cores(last, end),
            rss_started_mb=rss_started,
            rss_mb=process_rss_mb(gateway.pid),
            peak_rss_mb=gateway.peak_rss_mb(),
            missed_scans=_delta(begin, end, "gateway_device_scan_overruns_total"),
            rows_per_s=_delta(begin, end, "gateway_storage_rows_written_total") / wall,
            drops=_delta(begin, end, "gateway_bus_dropped_values_total"),
            notifications_per_s=received / wall,
            offered_per_s=subscribed * spec.per_device * spec.change / spec.interval,
        )


async def measure_gateway(spec: GatewaySpec, tags: int) -> list[GatewayRun]:
    """`spec.runs` runs of the whole gateway with `tags` tags, each on a fresh database."""
    results = []
    for _ in range(spec.runs):
        with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
            folder = Path(tmp)
            make_certificate(folder)
            results.append(await _once(spec, tags, folder))
    return results


def _add_size(report: Report, runs: Sequence[GatewayRun]) -> None:
    tags = runs[0].tags
    cores, megabytes, seconds = _TARGETS.get(tags, ("", "", ""))
    label = f"{tags:,} tags"
    report.add(f"{label}: start-up to every device Good", "s", [r.all_good for r in runs], seconds)
    report.add(f"{label}: cpu", "cores", [r.cores for r in runs], cores)
    report.add(f"{label}: cpu, first segment", "cores", [r.first_cores for r in runs])
    report.add(f"{label}: cpu, last segment", "cores", [r.last_cores for r in runs])
    report.add(
        f"{label}: cpu of other threads, first segment", "cores",
        [r.other_threads_first for r in runs],
    )  # fmt: skip
    report.add(
        f"{label}: cpu of other threads, last segment", "cores",
        [r.other_threads_last for r in runs],
    )  # fmt: skip
    report.add(f"{label}: RSS at the end", "MB", [r.rss_mb for r in runs], megabytes)
    report.add(f"{label}: RSS once started", "MB", [r.rss_started_mb for r in runs])
    report.add(f"{label}: peak RSS", "MB", [r.peak_rss_mb for r in runs])
    report.add(f"{label}: missed scans", "scans", [r.missed_scans for r in runs], "0")
    report.add(f"{label}: rows stored", "rows/s", [r.rows_per_s for r in runs])
    report.add(f"{label}: values dropped by the bus", "values", [r.drops for r in runs], "0")
    report.add(
        f"{label}: notifications to the client", "1/s", [r.notifications_per_s for r in runs],
        f"≈ {runs[0].offered_per_s:g} offered",
    )  # fmt: skip


async def bench_gateway(spec: GatewaySpec) -> Report:
    """The whole-gateway workload (docs/performance.md) at each size of `spec.sizes`."""
    parameters: dict[str, object] = {
        "sizes": list(spec.sizes),
        "tags_per_device": spec.per_device,
        "change": spec.change,
        "interval_s": spec.interval,
        "alarms_per_device": spec.alarms_per_device,
        "subscribed_devices": spec.subscribed_devices,
        "warmup_s": spec.warmup,
        "duration_s": spec.duration,
        "segment_s": min(spec.segment, spec.duration / 3),
        "runs": spec.runs,
    }
    if spec.profile is not None:
        parameters["profile"] = str(spec.profile)
    if spec.extra_sections:
        parameters["extra_sections"] = sorted(spec.extra_sections)
    report = Report("gateway", parameters)
    if spec.profile is not None:
        report.notes.append("under tracemalloc: CPU, RSS and start-up figures are inflated")
    for size in spec.sizes:
        _add_size(report, await measure_gateway(spec, size))
    return report

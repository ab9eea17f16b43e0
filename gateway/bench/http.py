"""HTTP: a /metrics scrape at 1,000 devices, 100 status rows of 100k tags, an idle server.

The wave-2 targets (docs/performance.md): a scrape of a 1,000-device gateway
takes at most 50 ms of CPU; the status page serves 100 rows of a 100k-tag
gateway in at most 50 ms of CPU; an idle HTTP server adds at most 0.005 core.

Every figure is a real `gateway run` process polling scale slaves (in their
own process) with `http:` on 127.0.0.1, read from /proc for that process
alone. CPU per request: the gateway's CPU over a window of back-to-back
requests (one keep-alive connection, the next sent when the last answer is
in), less what the same process used per second in the `baseline` seconds
just before (its polling), divided by the requests. The idle cost is the
CPU of a gateway without devices, with and without `http:`, over `idle`
seconds each; no client connects.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.bench.fleet import ScaleFleet
from gateway.bench.gatewayproc import GatewayProcess, gateway_config
from gateway.bench.httpget import HttpGet
from gateway.bench.measure import ProcessCpuWindow
from gateway.bench.report import Report
from gateway.errors import GatewayError

__all__ = ["HttpSpec", "bench_http"]

_OK_DEVICES = re.compile(rb'^gateway_devices\{state="ok"\} (\S+)$', re.MULTILINE)


@dataclass(frozen=True, slots=True)
class HttpSpec:
    devices: int = 1000  # scraped gateway: devices (one slave each) …
    device_tags: int = 10  # … × float32 tags
    slaves: int = 100  # status page gateway: slaves …
    slave_tags: int = 1000  # … × float32 tags
    requests: int = 40  # per measured window
    baseline: float = 5.0  # seconds of polling alone before each window
    warmup: float = 5.0  # seconds after every device is ok
    idle: float = 20.0  # seconds per idle window
    runs: int = 3


@dataclass(frozen=True, slots=True)
class _Measured:
    cpu_ms: float  # per request
    wall_ms: float  # median per request
    size_kb: float  # of the last answer


def _devices(addresses: Sequence[tuple[str, int]], tags: int) -> list[dict[str, Any]]:
    tag_list = [
        {"name": f"t{i}", "table": "holding_register", "address": 2 * i, "type": "float32"}
        for i in range(tags)
    ]
    return [
        {
            "name": f"d{index:04d}",
            "host": host,
            "port": port,
            "scan_interval": "1s",
            "tags": tag_list,
        }
        for index, (host, port) in enumerate(addresses)
    ]


def _with_http(config: dict[str, Any]) -> dict[str, Any]:
    return {**config, "http": {"listen": "127.0.0.1:0"}}


async def _url(gateway: GatewayProcess) -> str:
    """The status page's URL, from the log line the HTTP server writes before OPC UA listens."""
    if not gateway.http_url:
        raise GatewayError("the gateway did not log its status page's URL")
    return gateway.http_url


async def _every_device_ok(get: HttpGet, devices: int, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        _, body = await get("/metrics")
        match = _OK_DEVICES.search(body)
        if match is not None and float(match.group(1)) >= devices:
            return
        if time.monotonic() > deadline:
            raise GatewayError(f"not every one of {devices} devices was ok within {timeout:g} s")
        await asyncio.sleep(1.0)


async def _measure(
    gateway: GatewayProcess, get: HttpGet, paths: Sequence[str], baseline: float
) -> _Measured:
    window = ProcessCpuWindow(gateway.pid)
    window.start()
    await asyncio.sleep(baseline)
    polling = window.stop()  # cores, without requests
    walls = []
    body = b""
    window.start()
    for path in paths:
        started = time.perf_counter()
        status, body = await get(path)
        walls.append(time.perf_counter() - started)
        if status != 200:
            raise GatewayError(f"GET {path} answered {status}: {body[:200]!r}")
    window.stop()
    cpu = max(0.0, window.cpu - polling * window.wall) / len(paths)
    return _Measured(cpu * 1000, statistics.median(walls) * 1000, len(body) / 1024)


def _add(report: Report, name: str, runs: Sequence[_Measured], target: str = "") -> None:
    report.add(f"{name}: CPU per request", "ms", [m.cpu_ms for m in runs], target)
    report.add(f"{name}: response time (median)", "ms", [m.wall_ms for m in runs])
    report.add(f"{name}: answer size", "KB", [m.size_kb for m in runs])


async def _scrapes(spec: HttpSpec, folder: Path, report: Report) -> None:
    fleet = ScaleFleet(slaves=spec.devices, registers=2 * spec.device_tags, change=0.1, tick=1.0)
    async with fleet:
        config = _with_http(gateway_config(_devices(fleet.addresses, spec.device_tags), folder))
        gateway = GatewayProcess(config, folder, start_timeout=300)
        async with gateway, HttpGet(await _url(gateway)) as get:
            await _every_device_ok(get, spec.devices)
            await asyncio.sleep(spec.warmup)
            runs = [
                await _measure(gateway, get, ["/metrics"] * spec.requests, spec.baseline)
                for _ in range(spec.runs)
            ]
    _add(report, f"/metrics, {spec.devices:,} devices", runs, "≤ 50")


async def _status_pages(spec: HttpSpec, folder: Path, report: Report) -> None:
    tags = spec.slaves * spec.slave_tags
    fleet = ScaleFleet(slaves=spec.slaves, registers=2 * spec.slave_tags, change=0.1, tick=1.0)
    async with fleet:
        config = _with_http(gateway_config(_devices(fleet.addresses, spec.slave_tags), folder))
        gateway = GatewayProcess(config, folder, start_timeout=300)
        async with gateway, HttpGet(await _url(gateway)) as get:
            await _every_device_ok(get, spec.slaves)
            await asyncio.sleep(spec.warmup)
            pages = max(1, tags // 100)
            plain, filtered, html = [], [], []
            for run in range(spec.runs):
                paged = [
                    f"/api/status?size=100&page={(run * 7919 + 31 * i) % pages + 1}"
                    for i in range(spec.requests)
                ]
                plain.append(await _measure(gateway, get, paged, spec.baseline))
                # A new filter every time: no request is answered from the last one's scan.
                offset = run * spec.requests
                fresh = [
                    f"/api/status?size=100&filter=t{(offset + i) % spec.slave_tags}"
                    for i in range(spec.requests)
                ]
                filtered.append(await _measure(gateway, get, fresh, spec.baseline))
                html.append(await _measure(gateway, get, ["/"] * spec.requests, spec.baseline))
    _add(report, f"status, 100 rows of {tags:,} tags", plain, "≤ 50")
    _add(report, f"status, 100 rows of {tags:,}, new filter", filtered, "≤ 50")
    _add(report, f"page HTML, 50 rows of {tags:,} tags", html)


async def _idle_cores(folder: Path, *, http: bool, seconds: float, warmup: float) -> float:
    config = gateway_config([], folder)
    async with GatewayProcess(_with_http(config) if http else config, folder) as gateway:
        await asyncio.sleep(warmup)
        window = ProcessCpuWindow(gateway.pid)
        window.start()
        await asyncio.sleep(seconds)
        return window.stop()


async def _idle(spec: HttpSpec, folder: Path, report: Report) -> None:
    with_http, without = [], []
    for _ in range(spec.runs):
        with_http.append(
            await _idle_cores(folder, http=True, seconds=spec.idle, warmup=spec.warmup)
        )
        without.append(await _idle_cores(folder, http=False, seconds=spec.idle, warmup=spec.warmup))
    report.add("idle gateway, no devices, with http", "cores", with_http)
    report.add("idle gateway, no devices, without http", "cores", without)
    report.add(
        "idle HTTP server's share",
        "cores",
        [a - b for a, b in zip(with_http, without, strict=True)],
        "≤ 0.005",
    )


async def bench_http(spec: HttpSpec) -> Report:
    report = Report(
        "http",
        {
            "devices": spec.devices,
            "device_tags": spec.device_tags,
            "status_tags": spec.slaves * spec.slave_tags,
            "requests": spec.requests,
            "runs": spec.runs,
        },
    )
    for step in (_scrapes, _status_pages, _idle):
        with tempfile.TemporaryDirectory(prefix="gateway-bench-http-") as folder:
            await step(spec, Path(folder), report)
    return report

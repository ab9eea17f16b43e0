"""OPC UA fan-out: N clients (separate processes) × every tag monitored, a fraction changing.

The target (docs/performance.md) is 4 clients × 10k monitored items (10 slaves ×
1,000 float32 tags), 10% changing every 100 ms, slaves scanned every 100 ms: 10k changes/s
into the gateway, 40k notifications/s out of it. Measured: the gateway
process's CPU, notifications/s per client, and loss.

Loss is judged without trusting the server: the gateway serves one sequence
of values per tag, so every change that any client received in the window
(by SourceTimestamp) is expected at every client; a client's missed count is
what the others got and it did not. The clients also report the protocol's
own loss indicators (see fanout_client.py), and the gateway's log is searched
for the bus's dropped-batch warnings. Changes no client received show up as
gaps in a tag's value sequence (the scale simulator gives each change the
value tick + slave/1000, and a tag changes every 1/change ticks); they come
from simulator ticks skipped or gateway scans missed, and are reported apart.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from asyncua.client.client import Client

from gateway.bench.fleet import ScaleFleet
from gateway.bench.gatewayproc import GatewayProcess, duration, gateway_config
from gateway.bench.measure import ProcessCpuWindow, process_cpu_seconds
from gateway.bench.report import Report
from gateway.bench.uaclient import tag_nodes, wait_good
from gateway.errors import GatewayError

__all__ = ["ClientProcess", "FanoutSpec", "bench_fanout"]


@dataclass(frozen=True, slots=True)
class FanoutSpec:
    clients: int = 4
    slaves: int = 10
    tags: int = 1000  # float32 tags per slave; items per client = slaves × tags
    change: float = 0.1
    interval: float = 0.1  # scan interval and simulator tick, seconds
    publishing: float = 0.1  # seconds
    warmup: float = 5.0
    duration: float = 20.0
    runs: int = 3
    grace: float = 0.5  # after the window; then each client reports once caught up


#: Longest line a client may answer (its report holds every value it received).
_REPORT_LIMIT = 256 * 1024 * 1024


class ClientProcess:
    """`python -m gateway.bench.fanout_client` speaking its line protocol.

    It monitors every tag of the first `devices` benchmark devices (`tags` each)
    with a subscription publishing every `publishing` seconds.
    """

    def __init__(self, url: str, devices: int, tags: int, publishing: float) -> None:
        self._args = [
            "-m", "gateway.bench.fanout_client", url,
            "--devices", str(devices), "--tags", str(tags),
            "--publishing", str(publishing * 1000),
        ]  # fmt: skip
        self._process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Self:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable, *self._args, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, limit=_REPORT_LIMIT,
        )  # fmt: skip
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            async with asyncio.timeout(10):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    async def line(self) -> str:
        assert self._process is not None
        assert self._process.stdout is not None
        text = (await self._process.stdout.readline()).decode()
        if not text:
            raise GatewayError("a fan-out client exited early (its error is above)")
        return text

    async def ready(self, timeout: float = 300) -> None:
        """Wait for READY: every monitored item exists."""
        async with asyncio.timeout(timeout):
            if (ready := await self.line()).strip() != "READY":
                raise GatewayError(f"a fan-out client said {ready!r}")

    def send(self, line: str) -> None:
        assert self._process is not None
        assert self._process.stdin is not None
        self._process.stdin.write(f"{line}\n".encode())


@dataclass(frozen=True, slots=True)
class _Run:
    cores: float
    client_cores: float  # mean over clients
    per_client: list[dict[str, Any]]
    expected: int  # changes any client received (per client, the same)
    missing_everywhere: int  # gaps in the union's value sequences
    drops_logged: int


def _union_gaps(union: dict[int, set[float]], spec: FanoutSpec) -> int:
    """Changes between the first and last one of a tag that no client received."""
    period = round(1 / spec.change) if spec.change else 0
    if not period or abs(period * spec.change - 1) > 1e-9:
        return 0  # the pattern has no fixed period per tag: not judged
    gaps = 0
    for index, values in union.items():
        slave = index // spec.tags
        ticks = sorted(round(v - slave / 1000) for v in values)
        gaps += sum(max(0, (b - a) // period - 1) for a, b in itertools.pairwise(ticks))
    return gaps


async def _window(
    spec: FanoutSpec, gateway: GatewayProcess, clients: Sequence[ClientProcess]
) -> _Run:
    problems_before = len(gateway.problems)
    start = time.time()
    for client in clients:
        client.send(f"START {start!r}")
    client_cpu = [process_cpu_seconds(c.pid) for c in clients]
    window = ProcessCpuWindow(gateway.pid)
    window.start()
    await asyncio.sleep(spec.duration)
    stop = time.time()
    cores = window.stop()
    client_cores = [
        (process_cpu_seconds(c.pid) - before) / window.wall
        for c, before in zip(clients, client_cpu, strict=True)
    ]
    for client in clients:
        client.send(f"STOP {stop!r}")
    await asyncio.sleep(spec.grace)
    results = []
    for client in clients:
        client.send("REPORT")
        results.append(json.loads(await client.line()))
    received = [
        {int(key): set(values) for key, values in result.pop("values").items()}
        for result in results
    ]
    union: dict[int, set[float]] = {}
    for sets in received:
        for key, values in sets.items():
            union.setdefault(key, set()).update(values)
    expected = sum(len(values) for values in union.values())
    for result, sets in zip(results, received, strict=True):
        result["missed"] = sum(len(values - sets.get(key, set())) for key, values in union.items())
    new_problems = gateway.problems[problems_before:]
    return _Run(
        cores=cores,
        client_cores=statistics.mean(client_cores),
        per_client=results,
        expected=expected,
        missing_everywhere=_union_gaps(union, spec),
        drops_logged=sum(1 for line in new_problems if "drop" in line.lower()),
    )


async def measure_fanout(spec: FanoutSpec) -> tuple[list[_Run], float]:
    """Every run against one gateway and one set of clients; and the gateway's peak RSS."""
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp:
        folder = Path(tmp)
        async with AsyncExitStack() as stack:
            fleet = await stack.enter_async_context(
                ScaleFleet(
                    slaves=spec.slaves, registers=2 * spec.tags, change=spec.change,
                    tick=spec.interval,
                )
            )  # fmt: skip
            tags = [
                {"name": f"t{i}", "table": "holding_register", "address": 2 * i, "type": "float32"}
                for i in range(spec.tags)
            ]
            devices = [
                {"name": f"d{i:03d}", "host": host, "port": port,
                 "scan_interval": duration(spec.interval), "tags": tags}
                for i, (host, port) in enumerate(fleet.addresses)
            ]  # fmt: skip
            gateway = await stack.enter_async_context(
                GatewayProcess(gateway_config(devices, folder), folder)
            )
            async with Client(gateway.url, timeout=30, watchdog_intervall=30) as probe:
                keys = [f"d{i:03d}.t{spec.tags - 1}" for i in range(spec.slaves)]
                await wait_good(probe, await tag_nodes(probe, keys), since=0, timeout=120)
            clients = [
                await stack.enter_async_context(
                    ClientProcess(gateway.url, spec.slaves, spec.tags, spec.publishing)
                )
                for _ in range(spec.clients)
            ]
            for client in clients:
                await client.ready()
            await asyncio.sleep(spec.warmup)
            runs = [await _window(spec, gateway, clients) for _ in range(spec.runs)]
            return runs, gateway.peak_rss_mb()


async def bench_fanout(spec: FanoutSpec) -> Report:
    """The fan-out workload (docs/performance.md)."""
    items = spec.slaves * spec.tags
    report = Report(
        "fanout",
        {
            "clients": spec.clients,
            "items_per_client": items,
            "change": spec.change,
            "interval_s": spec.interval,
            "publishing_s": spec.publishing,
            "duration_s": spec.duration,
            "runs": spec.runs,
        },
    )
    runs, rss = await measure_fanout(spec)
    expected_rate = items * spec.change / spec.interval
    report.add("gateway cpu", "cores", [r.cores for r in runs], "≤ 1.5")
    report.add(
        "notifications/s per client (slowest)", "1/s",
        [min(c["received"] for c in r.per_client) / spec.duration for r in runs],
        f"≈ {expected_rate:g} offered",
    )  # fmt: skip
    report.add("changes expected per client", "changes", [r.expected for r in runs])
    report.add(
        "missed per client (worst)", "changes",
        [max(c["missed"] for c in r.per_client) for r in runs], "0",
    )  # fmt: skip
    indicators = [
        sum(
            c["overflow"] + c["sequence_gaps"] + c["status_changes"] + c["bad"]
            for c in r.per_client
        )
        for r in runs
    ]
    report.add("overflow/sequence/status indicators", "count", indicators, "0")
    report.add("bus drops logged by the gateway", "lines", [r.drops_logged for r in runs], "0")
    report.add("changes no client received", "changes", [r.missing_everywhere for r in runs])
    report.add(
        "clients not caught up 30 s after the window", "clients",
        [sum(1 for c in r.per_client if not c["caught_up"]) for r in runs], "0",
    )  # fmt: skip
    report.add(
        "notification age p50 (worst client)", "ms",
        [max(c["age_p50_ms"] for c in r.per_client) for r in runs],
    )  # fmt: skip
    report.add(
        "notification age p99 (worst client)", "ms",
        [max(c["age_p99_ms"] for c in r.per_client) for r in runs],
    )  # fmt: skip
    report.add("client cpu (each, mean)", "cores", [r.client_cores for r in runs])
    report.add("gateway peak RSS", "MB", [rss])
    return report

"""Modbus efficiency: requests per scan against the optimum; one connection's requests/s.

Requests per scan: an irregular device (mixed 1-, 2- and 4-register tags,
gaps from 0 to 40 registers, fixed seed) is polled by the real acquisition
for a few seconds; requests sent per scan are compared with the planner's
plan and with the optimum counted independently here (the greedy pass over
tags sorted by address, optimal for this covering, see planner.py). The
uniform device of the targets (1,000 float32 → 17 requests) is in the poll workload.

Requests/s: back-to-back 125-register reads on one connection, our client
(gateway.modbus.client, in this process, uvloop) against the libmodbus C
client (its own process), alternately, against the same libmodbus C slave
(so the slave is not what is measured). Without gcc or libmodbus the C side
is skipped with a message and our client runs against the Python simulator.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from gateway.bench.fleet import ScaleFleet
from gateway.bench.libmodbus import CClientResult, build, run_c_client, skip_reason
from gateway.bench.measure import CpuWindow
from gateway.bench.report import Report
from gateway.bus import Batch, Bus
from gateway.config import GatewayConfig
from gateway.modbus.acquisition import Acquisition
from gateway.modbus.client import ModbusClient
from gateway.modbus.deviceplan import plan_device
from gateway.modbus.health import DeviceHealth
from gateway.model import Table

__all__ = ["ModbusSpec", "bench_modbus", "irregular_tags", "optimum_requests"]

_WIDTHS = {"uint16": 1, "int32": 2, "float32": 2, "float64": 4}
_GAPS = [0, 0, 0, 0, 0, 0, 1, 2, 4, 8, 9, 16, 40]


@dataclass(frozen=True, slots=True)
class ModbusSpec:
    tags: int = 1000  # tags of the irregular device
    scan: float = 0.2  # its scan interval, seconds
    plan_seconds: float = 4.0  # polling window for requests per scan
    seconds: float = 3.0  # per requests/s run and client
    runs: int = 3


def irregular_tags(count: int, seed: int = 1) -> list[dict[str, Any]]:
    """`count` holding-register tags of mixed widths with irregular gaps (reproducible)."""
    rng = random.Random(seed)
    tags, address = [], 0
    for i in range(count):
        kind = rng.choice(list(_WIDTHS))
        address += rng.choice(_GAPS)
        tags.append(
            {"name": f"t{i}", "table": "holding_register", "address": address, "type": kind}
        )
        address += _WIDTHS[kind]
    return tags


def optimum_requests(tags: list[dict[str, Any]], max_registers: int, max_gap: int) -> int:
    """Fewest reads covering `tags` (one table): blocks ≤ max_registers, gaps ≤ max_gap."""
    spans = sorted((t["address"], t["address"] + _WIDTHS[t["type"]]) for t in tags)
    blocks, start, end = 0, -1, -1
    for first, last in spans:
        if blocks and first - end <= max_gap and max(end, last) - start <= max_registers:
            end = max(end, last)
        else:
            blocks, start, end = blocks + 1, first, last
    return blocks


async def _requests_per_scan(spec: ModbusSpec) -> tuple[float, int, int]:
    """(requests per scan measured, planner's requests, independent optimum)."""
    tags = irregular_tags(spec.tags)
    registers = max(t["address"] + _WIDTHS[t["type"]] for t in tags)
    registers += registers % 2
    async with ScaleFleet(slaves=1, registers=registers, change=0.1, tick=spec.scan) as fleet:
        host, port = fleet.addresses[0]
        device = {
            "name": "irregular",
            "host": host,
            "port": port,
            "scan_interval": spec.scan,
            "tags": tags,
        }
        config = GatewayConfig.model_validate(
            {"gateway": {"name": "bench"}, "opcua": {"anonymous": True}, "devices": [device]}
        )
        planned = len(plan_device(config.devices[0]))
        optimum = optimum_requests(
            tags, config.devices[0].max_read_registers, config.devices[0].max_read_gap
        )
        bus = _ScanEnds()
        async with Acquisition(config, bus, seed=0) as acquisition:
            bus.health = acquisition.healths[0]
            await asyncio.sleep(2 * spec.scan)  # connected, first scans done
            first = len(bus.marks)
            await asyncio.sleep(spec.plan_seconds)
            marks = bus.marks[first:]
        bus.close()
    if len(marks) < 2 or marks[-1][1] == marks[0][1]:
        return float("nan"), planned, optimum
    (requests, scans), (later_requests, later_scans) = marks[0], marks[-1]
    return (later_requests - requests) / (later_scans - scans), planned, optimum


class _ScanEnds(Bus):
    """A bus that notes the device's (requests, scans) each time a scan of it ends.

    A poller publishes once per pass of its scan loop, right after the scan's
    last answer, so there both counters cover whole scans. Read from another
    task instead, a window could end in the middle of a scan and count its
    first requests without the scan: 14.05 requests per scan for a plan of 14.
    """

    def __init__(self) -> None:
        super().__init__()
        self.health: DeviceHealth | None = None
        self.marks: list[tuple[int, int]] = []

    def publish(self, batch: Batch) -> None:
        if self.health is not None:
            self.marks.append((self.health.requests, self.health.scans))
        super().publish(batch)


async def _our_client(host: str, port: int, seconds: float) -> tuple[float, float]:
    """(requests/s, CPU µs per request) of our client, one connection, 125-register reads."""
    async with ModbusClient(host, port, connect_timeout=2.0) as client:
        for _ in range(200):  # warm-up
            await client.read(Table.HOLDING_REGISTER, 1, 0, 125, timeout=1.0)
        window = CpuWindow()
        window.start()
        done, end = 0, time.perf_counter() + seconds
        while time.perf_counter() < end:
            await client.read(Table.HOLDING_REGISTER, 1, 0, 125, timeout=1.0)
            done += 1
        window.stop()
    return done / window.wall, window.cpu / done * 1e6


class _CSlave:
    """The libmodbus slave in a child process while the block runs."""

    def __init__(self, binary: Path) -> None:
        self._binary = binary
        self._process: asyncio.subprocess.Process | None = None
        self.port = 0

    async def __aenter__(self) -> Self:
        self._process = await asyncio.create_subprocess_exec(
            str(self._binary), stdout=asyncio.subprocess.PIPE
        )
        assert self._process.stdout is not None
        async with asyncio.timeout(10):
            line = (await self._process.stdout.readline()).decode()
        if not line.startswith("LISTENING "):
            await self.__aexit__(None, None, None)
            raise RuntimeError(f"the C slave did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            process.kill()
            await process.wait()


async def _rates(spec: ModbusSpec, report: Report) -> str | None:
    """Our client against the C client on the C slave; returns a skip message or None."""
    ours: list[tuple[float, float]] = []
    reason = skip_reason()
    if reason is not None:
        async with ScaleFleet(slaves=1, registers=250, change=0.0, tick=3600.0) as fleet:
            host, port = fleet.addresses[0]
            ours = [await _our_client(host, port, spec.seconds) for _ in range(spec.runs)]
        report.add("our client req/s (Python simulator slave)", "1/s", [r for r, _ in ours])
        report.add("our client cpu per request", "µs", [c for _, c in ours])
        return f"libmodbus comparison skipped: {reason}"
    with tempfile.TemporaryDirectory(prefix="bench-modbus-") as tmp:
        binaries = build(Path(tmp))
        theirs: list[CClientResult] = []
        async with _CSlave(binaries.slave) as slave:
            for _ in range(spec.runs):
                theirs.append(
                    await run_c_client(binaries.client, "127.0.0.1", slave.port, spec.seconds)
                )
                ours.append(await _our_client("127.0.0.1", slave.port, spec.seconds))
    report.add("our client req/s (C slave)", "1/s", [r for r, _ in ours])
    report.add("libmodbus C client req/s (C slave)", "1/s", [t.rate for t in theirs])
    report.add(
        "ours / C client",
        "ratio",
        [o / t.rate for (o, _), t in zip(ours, theirs, strict=True)],
        "≥ 0.4",
    )
    report.add("our client cpu per request", "µs", [c for _, c in ours])
    report.add("C client cpu per request", "µs", [t.cpu / t.requests * 1e6 for t in theirs])
    report.add("C client errors", "requests", [t.errors for t in theirs], "0")
    return None


async def bench_modbus(spec: ModbusSpec) -> Report:
    """The Modbus efficiency workload (docs/performance.md); a skipped comparison is a note."""
    report = Report(
        "modbus",
        {
            "irregular_tags": spec.tags,
            "scan_s": spec.scan,
            "seconds": spec.seconds,
            "runs": spec.runs,
        },
    )
    measured, planned, optimum = await _requests_per_scan(spec)
    report.add(
        "requests per scan, irregular device", "requests", [measured], f"= optimum {optimum}"
    )
    report.add("planner's requests per scan", "requests", [planned], f"= optimum {optimum}")
    skipped = await _rates(spec, report)
    if skipped is not None:
        report.notes.append(skipped)
    return report

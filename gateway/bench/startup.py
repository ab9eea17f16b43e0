"""Start-up: `gateway run` process start → first Good value served to an OPC UA client; RSS.

Targets (docs/performance.md): 10k tags within 3 s and 250 MB, 100k tags within 20 s and 1 GB.

The real command is measured (`python -m gateway run -c FILE`: interpreter
start, imports, configuration parsing, historian, pollers, OPC UA address
space), against scale slaves in another process, 1,000 float32 tags per
slave, every tag with a unit and every other one with a range, as a plant
has. From the moment the bench spawns the process, a client connects as soon
as the server listens and reads one tag of every device until one is Good
(first Good) and then until all are (every device Good). Peak RSS (VmHWM) of
the gateway process is read once every device is Good. The server's
certificate is made before the first run, so every run is a warm start as a
user sees it after installation.
"""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asyncua.client.client import Client

from gateway.bench.fleet import ScaleFleet
from gateway.bench.gatewayproc import GatewayProcess, gateway_config
from gateway.bench.report import Report
from gateway.bench.uaclient import tag_nodes, wait_good

__all__ = [
    "PER_DEVICE",
    "StartupResult",
    "bench_startup",
    "make_certificate",
    "measure_startup",
    "tag_definitions",
]

#: Tags per simulated device (one slave each).
PER_DEVICE = 1000

_TARGETS = {10_000: ("≤ 3", "≤ 250"), 100_000: ("≤ 20", "≤ 1000")}


@dataclass(frozen=True, slots=True)
class StartupResult:
    tags: int
    listening: float  # seconds from spawn to the server's listening log line
    first_good: float  # … to a first Good value read by a client
    all_good: float  # … to a Good value on every device
    peak_rss_mb: float


def tag_definitions(per_device: int) -> list[dict[str, Any]]:
    """`per_device` float32 tags t0…, each with a unit and every other one with a range."""
    return [
        {
            "name": f"t{i}",
            "table": "holding_register",
            "address": 2 * i,
            "type": "float32",
            "unit": "degC",
            **({"range": [0, 200]} if i % 2 else {}),
        }
        for i in range(per_device)
    ]


def _devices(addresses: Sequence[tuple[str, int]], per_device: int) -> list[dict[str, Any]]:
    tags = tag_definitions(per_device)
    return [
        {"name": f"d{index:03d}", "host": host, "port": port, "scan_interval": "1s", "tags": tags}
        for index, (host, port) in enumerate(addresses)
    ]


def make_certificate(folder: Path) -> None:
    """The server certificate, as the gateway makes it on its first start (not timed)."""
    from gateway.opcua.pki import Pki  # noqa: PLC0415

    uri = f"urn:{socket.gethostname()}:modbus-opcua-gateway:bench"
    Pki(folder / "pki").ensure(uri, "bench")


async def _once(config: dict[str, Any], folder: Path, keys: list[str]) -> tuple[float, ...]:
    async with GatewayProcess(config, folder, start_timeout=300) as gateway:
        async with Client(gateway.url, timeout=60, watchdog_intervall=30) as client:
            nodes = await tag_nodes(client, keys)
            first, every = await wait_good(client, nodes, since=gateway.spawned, timeout=300)
        return gateway.listening, first, every, gateway.peak_rss_mb()


async def measure_startup(
    tags: int, runs: int, per_device: int = PER_DEVICE
) -> list[StartupResult]:
    """`runs` starts of a gateway with `tags` tags against one running fleet."""
    devices = max(1, tags // per_device)
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        folder = Path(tmp)
        make_certificate(folder)
        registers = 2 * per_device
        async with ScaleFleet(slaves=devices, registers=registers, change=0.0, tick=60.0) as fleet:
            config = gateway_config(_devices(fleet.addresses, per_device), folder)
            keys = [f"d{index:03d}.t{per_device - 1}" for index in range(devices)]
            results = []
            for _ in range(runs):
                (folder / "bench.db").unlink(missing_ok=True)  # each start on a fresh database
                listening, first, every, rss = await _once(config, folder, keys)
                results.append(StartupResult(devices * per_device, listening, first, every, rss))
            return results


async def bench_startup(sizes: Sequence[int], *, runs: int, per_device: int = PER_DEVICE) -> Report:
    """The start-up workload (docs/performance.md) for each size in `sizes` (tags)."""
    report = Report("startup", {"sizes": list(sizes), "runs": runs, "tags_per_device": per_device})
    for size in sizes:
        results = await measure_startup(size, runs, per_device)
        seconds, megabytes = _TARGETS.get(size, ("", ""))
        label = f"{size:,} tags"
        report.add(f"{label}: listening", "s", [r.listening for r in results])
        report.add(f"{label}: first Good value", "s", [r.first_good for r in results])
        report.add(f"{label}: every device Good", "s", [r.all_good for r in results], seconds)
        report.add(f"{label}: peak RSS", "MB", [r.peak_rss_mb for r in results], megabytes)
    return report

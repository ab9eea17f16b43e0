"""Start-up benchmark: process start → first Good values served over OPC UA, and RSS.

DESIGN.md §9 target: 10k tags within 3 s and 250 MB, 100k within 20 s and 1 GB.

The parent serves the Modbus slaves from one child process (`simulators
scale`), then starts the gateway (acquisition + OpcUaServer) as a second child
and, from the moment it spawns it, polls with an asyncua client: first for
one Good value (the first device polled), then for a Good value on every
device. Peak RSS (VmHWM) of the gateway process is read from /proc once
every device is Good. Run: `python -m gateway.opcua.bench_startup 10000 100000`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["StartupResult", "bench_startup", "main"]

#: Tags per simulated device (one slave each).
PER_DEVICE = 1000


@dataclass(frozen=True, slots=True)
class StartupResult:
    tags: int
    listening: float  # seconds from spawn to the server listening
    first_good: float  # seconds from spawn to a first Good value read by a client
    all_good: float  # ... to a Good value on every device
    peak_rss_mb: float


def _config(addresses: list[tuple[str, int]], pki: Path) -> dict[str, Any]:
    # Like a real plant: every tag has a unit, every other one a range (more nodes).
    tags = [
        {
            "name": f"t{i}",
            "table": "holding_register",
            "address": 2 * i,
            "type": "float32",
            "unit": "degC",
            **({"range": [0, 200]} if i % 2 else {}),
        }
        for i in range(PER_DEVICE)
    ]
    devices = [
        {"name": f"d{index:03d}", "host": host, "port": port, "scan_interval": "1s", "tags": tags}
        for index, (host, port) in enumerate(addresses)
    ]
    return {
        "gateway": {"name": "bench"},
        "opcua": {
            "endpoint": "opc.tcp://127.0.0.1:0",
            "security": {"allow_none": True, "pki_dir": str(pki)},
            "anonymous": True,
        },
        "devices": devices,
    }


# -- the gateway child ------------------------------------------------------------------


async def _serve(config_file: Path) -> None:
    from gateway.acquisition import Acquisition  # noqa: PLC0415 - imports are timed
    from gateway.bus import Bus  # noqa: PLC0415
    from gateway.config import GatewayConfig  # noqa: PLC0415
    from gateway.opcua.server import OpcUaServer  # noqa: PLC0415

    config = GatewayConfig.model_validate(json.loads(config_file.read_text()))  # noqa: ASYNC240
    bus = Bus()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with (
        Acquisition(config, bus) as acquisition,
        OpcUaServer(config, acquisition, bus, config_dir=config_file.parent) as server,
    ):
        print(f"LISTENING {server.port}", flush=True)
        await stop.wait()


def _child(config_file: str) -> None:
    """The gateway process; its log (stderr) shows each start-up phase in ms since start."""
    from gateway.loop import run  # noqa: PLC0415

    logging.basicConfig(
        level=logging.INFO, format="%(relativeCreated)6.0f ms %(name)s: %(message)s"
    )
    logging.getLogger("asyncua").setLevel(logging.WARNING)
    run(_serve(Path(config_file)))


# -- the measuring parent ---------------------------------------------------------------


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _all_good(url: str, keys: list[str], spawned: float) -> tuple[float, float]:
    from asyncua.client.client import Client  # noqa: PLC0415

    from gateway.opcua.uawire import AttributeIds, node_id  # noqa: PLC0415

    first = 0.0
    async with Client(url, timeout=30) as client:
        ns = await client.get_namespace_index("urn:modbus-opcua-gateway:bench")
        nodes = [node_id(key, ns) for key in keys]
        while True:
            values = await client.uaclient.read_attributes(nodes, AttributeIds.Value)
            good = [value.StatusCode is not None and value.StatusCode.is_good() for value in values]
            now = time.time() - spawned
            if any(good) and not first:
                first = now
            if all(good):
                return first, now
            await asyncio.sleep(0.02)


async def _run_once(tags: int, folder: Path) -> StartupResult:
    from gateway.bench.fleet import ScaleFleet  # noqa: PLC0415

    devices = max(1, tags // PER_DEVICE)
    async with ScaleFleet(slaves=devices, registers=2 * PER_DEVICE, change=0.0, tick=1.0) as fleet:
        config_file = folder / "bench.json"
        config_file.write_text(json.dumps(_config(fleet.addresses, folder / "pki")))
        spawned = time.time()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway.opcua.bench_startup", "--child", str(config_file),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            assert process.stdout is not None
            line = (await process.stdout.readline()).decode()
            if not line.startswith("LISTENING "):
                raise RuntimeError(f"the gateway did not start: {line!r}")
            listening = time.time() - spawned
            url = f"opc.tcp://127.0.0.1:{int(line.split()[1])}"
            keys = [f"d{index:03d}.t{PER_DEVICE - 1}" for index in range(devices)]
            first, every = await _all_good(url, keys, spawned)
            rss = _peak_rss_mb(process.pid)
        finally:
            process.send_signal(signal.SIGTERM)
            await process.wait()
    return StartupResult(tags, listening, first, every, rss)


async def bench_startup(tags: int, runs: int) -> list[StartupResult]:
    """`runs` cold starts of a gateway with `tags` tags (the first one also makes the cert)."""
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as folder:
        return [await _run_once(tags, Path(folder)) for _ in range(runs)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tags", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child)
        return
    for tags in args.tags:
        results = asyncio.run(bench_startup(tags, args.runs))
        for result in results:
            print(
                f"{tags:>7} tags: listening {result.listening:5.2f} s, first Good "
                f"{result.first_good:5.2f} s, every device Good {result.all_good:5.2f} s, "
                f"peak RSS {result.peak_rss_mb:5.0f} MB"
            )
        print(
            f"{tags:>7} tags: median every device Good "
            f"{statistics.median(r.all_good for r in results):.2f} s, "
            f"median peak RSS {statistics.median(r.peak_rss_mb for r in results):.0f} MB"
        )


if __name__ == "__main__":
    main()

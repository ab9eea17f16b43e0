"""RSS of the gateway by stage, in one process: imports, configuration, start, trim.

`python -m gateway.bench.memstages TAGS FOLDER` prints one JSON line: the RSS
(MB, after a full collection) of a bare interpreter, after importing
`gateway.app` (all that `gateway run` imports but its command-line parser),
once a generated configuration of TAGS float32 tags (1,000 per device, every
tag with a unit and every other one with a range, one limit alarm per
device) is loaded as `gateway run` loads it, once the `Gateway` runs (OPC UA,
SQLite historian, alarms; HTTP off; the devices unreachable) and after
`running()` (frozen, heap trimmed), and how many `TagConfig` models are
still alive then (docs/performance.md, "Whole gateway: where the memory
goes"). RSS does not depend on the CPU's load, so this may run on a busy
machine; the stages' costs are the differences.
"""

from __future__ import annotations

import argparse
import gc
import json
from pathlib import Path
from typing import Any

__all__ = ["main", "rss_mb"]

PER_DEVICE = 1000
#: Nobody listens there: the devices stay unreachable, as their pollers expect.
_CLOSED_PORT = 9


def rss_mb() -> float:
    """This process's resident set (VmRSS) after a full collection, in MB."""
    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _write_config(tags: int, folder: Path) -> Path:
    from gateway.bench.gatewayproc import gateway_config  # noqa: PLC0415 - after the bare RSS
    from gateway.bench.startup import tag_definitions  # noqa: PLC0415

    definitions = tag_definitions(min(PER_DEVICE, tags))
    count = -(-tags // PER_DEVICE)
    devices: list[dict[str, Any]] = [
        {
            "name": f"d{index:03d}",
            "host": "127.0.0.1",
            "port": _CLOSED_PORT,
            "scan_interval": "1s",
            "tags": definitions,
        }
        for index in range(count)
    ]
    config = gateway_config(devices, folder)
    config["alarms"] = [
        {"name": f"a{index:03d}", "tag": f"d{index:03d}.t0", "high": 1e12, "severity": 500}
        for index in range(count)
    ]
    path = folder / "gateway.yaml"
    path.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
    return path


def measure(tags: int, folder: Path) -> dict[str, float]:
    """The RSS of each stage (see the module's docstring)."""
    figures = {"tags": float(tags), "bare": rss_mb()}
    import gateway.app  # noqa: PLC0415 - the imports are a stage
    from gateway.bench.startup import make_certificate  # noqa: PLC0415
    from gateway.collector import collector_paused_until_running  # noqa: PLC0415
    from gateway.config import GatewayConfig, load_config  # noqa: PLC0415
    from gateway.loop import run  # noqa: PLC0415

    folder.mkdir(parents=True, exist_ok=True)
    path = _write_config(tags, folder)
    if not (folder / "pki" / "own").exists():
        make_certificate(folder)  # as after a first start: not part of any stage
    figures["imports"] = rss_mb()

    async def start(configs: list[GatewayConfig]) -> None:
        async with gateway.app.Gateway(configs.pop(), config_dir=folder):
            figures["started"] = rss_mb()
            running()
            figures["trimmed"] = rss_mb()
            gc.unfreeze()  # frozen objects are not in gc.get_objects()
            alive = sum(1 for obj in gc.get_objects() if type(obj).__name__ == "TagConfig")
            figures["tag_models_alive"] = float(alive)

    with collector_paused_until_running() as running:  # as `gateway run`
        configs = [load_config(path).config]
        figures["loaded"] = rss_mb()
        run(start(configs))  # the list handed over: nothing here keeps the configuration
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gateway.bench.memstages",
        description="RSS of an in-process gateway by stage (docs/performance.md).",
    )
    parser.add_argument("tags", type=int, help="tags in the generated configuration")
    parser.add_argument("folder", type=Path, help="scratch folder: configuration, database, pki")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.tags, args.folder)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

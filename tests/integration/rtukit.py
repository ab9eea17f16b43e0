"""Kit for the RTU tests over real pseudo-terminals and TCP: every data type and order,
a plant whose units sit on a serial line or behind a converter, a gateway polling them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from eventually import eventually

from gateway.bus import Bus
from gateway.config import GatewayConfig
from gateway.modbus.acquisition import Acquisition
from gateway.model import TagValue
from simulators.plant import Plant
from simulators.runtime import RunningPlant, run_plant

__all__ = [
    "FAST",
    "ORDERS",
    "Polling",
    "expected_values",
    "points",
    "polling",
    "socat_pair",
    "tags",
    "wait_until",
]

#: Byte order, word order: the four layouts of 32- and 64-bit values.
ORDERS = [("big", "big"), ("big", "little"), ("little", "big"), ("little", "little")]
_WIDE = [
    ("int32", -123456789),
    ("uint32", 4000000000),
    ("int64", -1234567890123),
    ("uint64", 18000000000000000000),
    ("float32", -12.5),
    ("float64", 1234.5678),
    ("bcd32", 12345678),
]
#: Retries fast, never demotes: the fault tests see each fault's own error.
FAST: dict[str, Any] = {
    "scan_interval": "50ms",
    "timeout": "150ms",
    "reconnect_min": "20ms",
    "reconnect_max": "50ms",
    "demote_after": 0,
}


def _layout(unit: int) -> list[tuple[str, dict[str, Any], Any]]:
    """(name, table/address/type/orders, value) of every point of a unit."""
    sign = 1 if unit == 1 else -1
    items: list[tuple[str, dict[str, Any], Any]] = []
    address = 0
    for byte_order, word_order in ORDERS:
        for kind, base in _WIDE:
            unsigned = kind.startswith(("uint", "bcd"))
            value = (base if unit == 1 else base // 3) if unsigned else base * sign
            spec = {"table": "holding_register", "address": address, "type": kind,
                    "byte_order": byte_order, "word_order": word_order}  # fmt: skip
            items.append((f"{kind}_{byte_order[0]}{word_order[0]}", spec, value))
            address += 4 if kind.endswith("64") else 2
    for kind, value in [("int16", -1234 * sign), ("uint16", 65000 - unit), ("bcd16", 1234 + unit)]:
        items.append((kind, {"table": "holding_register", "address": address, "type": kind}, value))
        address += 1
    text = f"UNIT-{unit}"
    items.append(
        (
            "label",
            {"table": "holding_register", "address": address, "type": "string", "length": 4},
            text,
        )
    )
    items.append(("label_swapped", {"table": "holding_register", "address": address + 4,
                  "type": "string", "length": 4, "byte_order": "little"}, text))  # fmt: skip
    word = address + 8
    items.append(("status", {"table": "holding_register", "address": word, "type": "uint16"}, 5))
    items.append(
        ("input", {"table": "input_register", "address": 0, "type": "float32"}, 2.5 * unit)
    )
    items.append(("coil", {"table": "coil", "address": 3, "type": "bool"}, unit == 1))
    items.append(("discrete", {"table": "discrete_input", "address": 9, "type": "bool"}, True))
    return items


def points(unit: int) -> list[dict[str, Any]]:
    """The simulator's points of `unit` (1 or 2), each with its value."""
    return [{"name": name, **spec, "value": value} for name, spec, value in _layout(unit)]


def tags(unit: int) -> list[dict[str, Any]]:
    """The gateway's tags for the same points, plus bits of the status word."""
    found: list[dict[str, Any]] = [{"name": name, **spec} for name, spec, _ in _layout(unit)]
    word = next(t for t in found if t["name"] == "status")["address"]
    for bit in range(3):
        found.append({"name": f"bit{bit}", "table": "holding_register", "address": word,
                      "type": "bool", "bit": bit, "writable": True})  # fmt: skip
    for tag in found:
        if tag["name"] in ("float32_bb", "uint16", "coil", "label"):
            tag["writable"] = True
    return found


def expected_values(device: str, unit: int) -> dict[str, Any]:
    values = {f"{device}.{name}": value for name, _, value in _layout(unit)}
    values.update({f"{device}.bit0": True, f"{device}.bit1": False, f"{device}.bit2": True})
    return values


class Polling:
    """A running Acquisition and the latest value of each tag it published."""

    def __init__(self, plant: RunningPlant, acquisition: Acquisition, bus: Bus) -> None:
        self.plant = plant
        self.acquisition = acquisition
        self._subscription = bus.subscribe("rtu-test", maxsize=100_000)
        self.values: dict[str, TagValue] = {}

    def latest(self) -> dict[str, TagValue]:
        for batch in self._subscription.get_nowait():
            self.values.update((value.tag, value) for value in batch)
        return self.values


@asynccontextmanager
async def polling(
    plant: dict[str, Any], devices: Callable[[RunningPlant], list[dict[str, Any]]]
) -> AsyncIterator[Polling]:
    """Serve `plant` (no ticks) and poll it with the devices made from its running slaves."""
    async with run_plant(Plant.model_validate(plant), autotick=False) as running:
        config = GatewayConfig.model_validate(
            {"gateway": {"name": "rtu"}, "opcua": {"anonymous": True}, "devices": devices(running)}
        )
        bus = Bus()
        async with Acquisition(config, bus, seed=1) as acquisition:
            yield Polling(running, acquisition, bus)
        bus.close()


async def wait_until(predicate: Callable[[], bool], *, within: float = 10.0, what: str) -> None:
    """Poll `predicate` every 10 ms of real time; fail the test after `within` seconds."""
    await eventually(predicate, timeout=within, what=what)


def socat() -> str:
    path = shutil.which("socat")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("socat is not installed (apt-get install socat); CI must run this test")
        pytest.skip("socat is not installed (apt-get install socat)")
    return path


@contextmanager
def socat_pair(folder: Path) -> Iterator[tuple[str, str]]:
    """Two linked pseudo-terminals (raw, no echo) made by socat: (end a, end b)."""
    a, b = folder / "tty-a", folder / "tty-b"
    process = subprocess.Popen(
        [socat(), f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while not (a.exists() and b.exists()):
            if process.poll() is not None or time.monotonic() > deadline:
                error = process.stderr.read().decode() if process.stderr else ""
                pytest.fail(f"socat made no pseudo-terminal pair: {error}")
            time.sleep(0.01)
        yield str(a), str(b)
    finally:
        process.terminate()
        process.wait(timeout=10)

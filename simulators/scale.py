"""Scale generator for benchmarks: N slaves x M holding registers of float32 values.

Built for the §9 workload (100 slaves x 2,000 registers next to the gateway)
and kept cheap on purpose: no plant file, no codec per value. Each slave keeps
its floats in an `array('f')`; a tick sets the chosen fraction of them (Python
work proportional to what changes) and then copies the whole array into the
holding registers with C-level array operations (big-endian words, word order
big, as the gateway's default expects).

Which floats change: `spread` (default) picks them evenly over the slave, so
nearly every 125-register read block changes each tick, the honest case for a
gateway; `clustered` changes one contiguous run that rotates through the
slave, so most blocks stay identical. A changed float takes the value
`tick + slave_index / 1000`, new on every change; with `toggle` it takes
`toggle` on odd ticks and 0 on even ones instead (with `change` 1, every
float crosses any limit between them every tick: flapping alarms).
"""

from __future__ import annotations

import sys
from array import array
from dataclasses import dataclass
from typing import Literal

from gateway.model import ADDRESS_SPACE, Table
from simulators.image import RegisterImage
from simulators.server import ModbusSlave
from simulators.serving import Serving, tick_schedule

__all__ = ["ScalePlant", "ScaleSpec", "changed_indices", "run_scale"]

Pattern = Literal["spread", "clustered"]

_LITTLE_ENDIAN_HOST = sys.byteorder == "little"


@dataclass(frozen=True, slots=True)
class ScaleSpec:
    """What to generate. `registers` is per slave and even (two per float32)."""

    slaves: int
    registers: int
    change: float = 0.1  # fraction of the floats that change per tick
    tick: float = 1.0
    host: str = "127.0.0.1"
    base_port: int = 0  # 0: every slave on a free port; else base_port + slave index
    unit_id: int = 1
    pattern: Pattern = "spread"
    toggle: float | None = None  # changed floats alternate 0 / toggle instead of new values

    def __post_init__(self) -> None:
        if self.slaves < 1:
            raise ValueError(f"slaves must be at least 1, got {self.slaves}")
        if not 2 <= self.registers <= ADDRESS_SPACE or self.registers % 2:
            raise ValueError(f"registers must be even and 2..{ADDRESS_SPACE}, got {self.registers}")
        if not 0.0 <= self.change <= 1.0:
            raise ValueError(f"change must be a fraction 0..1, got {self.change}")
        if self.tick <= 0:
            raise ValueError(f"tick must be positive, got {self.tick}")
        if self.base_port and self.base_port + self.slaves - 1 > 65535:
            last = self.base_port + self.slaves - 1
            raise ValueError(f"ports {self.base_port}..{last} go beyond 65535")

    @property
    def floats(self) -> int:
        return self.registers // 2


def changed_indices(floats: int, change: float, tick: int, pattern: Pattern) -> list[int]:
    """Indices of the floats that change on `tick` (the same for every slave)."""
    count = round(change * floats)
    if count == 0:
        return []
    if pattern == "clustered":
        return [(tick * count + j) % floats for j in range(count)]
    return [(j * floats // count + tick) % floats for j in range(count)]


class ScalePlant:
    """The generated slaves: their ports, the tick counter and a manual `advance`."""

    def __init__(self, spec: ScaleSpec) -> None:
        self.spec = spec
        self.tick_index = 0
        self._floats = [array("f", bytes(4 * spec.floats)) for _ in range(spec.slaves)]
        self._images = [RegisterImage(spec.registers) for _ in range(spec.slaves)]
        self.servers = [
            ModbusSlave(
                {spec.unit_id: image},
                host=spec.host,
                port=spec.base_port + index if spec.base_port else 0,
            )
            for index, image in enumerate(self._images)
        ]
        for index in range(spec.slaves):
            self._fill(index, range(spec.floats), 0.0)

    @property
    def ports(self) -> list[int]:
        return [server.port for server in self.servers]

    async def advance(self, ticks: int = 1) -> None:
        """Jump `ticks` ticks on (for runs with autotick=False); only the last is applied."""
        await self._advance_to(self.tick_index + ticks)

    async def _advance_to(self, index: int) -> None:
        """Apply tick `index`; ticks skipped by a busy loop are not replayed."""
        indices = changed_indices(self.spec.floats, self.spec.change, index, self.spec.pattern)
        toggle = self.spec.toggle
        for slave in range(self.spec.slaves):
            if toggle is None:
                self._fill(slave, indices, index + slave / 1000)
            else:
                self._fill(slave, indices, toggle if index % 2 else 0.0)
        self.tick_index = index

    def _fill(self, slave: int, indices: range | list[int], value: float) -> None:
        floats = self._floats[slave]
        for i in indices:
            floats[i] = value
        words = array("H", floats.tobytes())
        if _LITTLE_ENDIAN_HOST:  # float bytes DCBA read as words give [CD, AB]: swap pairs
            words[0::2], words[1::2] = words[1::2], words[0::2]
        self._images[slave].register_array(Table.HOLDING_REGISTER)[:] = words

    async def _tick_forever(self) -> None:
        await tick_schedule(self.spec.tick, lambda: self.tick_index, self._advance_to)


def run_scale(spec: ScaleSpec, *, autotick: bool = True) -> Serving[ScalePlant]:
    """Serve the generated slaves while the `async with` block runs (one use only)."""
    plant = ScalePlant(spec)
    return Serving(plant, plant.servers, plant._tick_forever if autotick else None)

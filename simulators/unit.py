"""One unit id at run time: its register image, signals and process models.

The image is the single source of truth: signals and models write into it,
model inputs are decoded from it, and a master's write lands in it directly,
so whatever a master writes is what the models see on the next tick. A write
to a model's *state* point (a tank level, say) also resets that state.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gateway.errors import CodecError
from gateway.model import Table, Value
from simulators.image import RegisterImage
from simulators.models import BaseProcessModel
from simulators.plant import UnitConfig
from simulators.points import PointBinding
from simulators.signals import RandomWalkSignal

__all__ = ["SimulatedUnit", "derive_seed"]

log = logging.getLogger(__name__)


def derive_seed(*parts: object) -> int:
    """A stable seed from names and numbers (Python's hash() changes between runs)."""
    return zlib.crc32("/".join(str(part) for part in parts).encode("utf-8"))


@dataclass(slots=True)
class _ModelRun:
    model: BaseProcessModel
    state: float
    inputs: dict[str, PointBinding]
    outputs: dict[str, PointBinding]


class SimulatedUnit:
    """Points, signals and models of one unit id, over its register image."""

    def __init__(self, config: UnitConfig, *, seed: int) -> None:
        self.config = config
        self.unit_id = config.unit_id
        self.image = RegisterImage(config.table_size)
        self.writes = 0
        self._points = {
            p.name: PointBinding(p, config.encoding(p), self.image) for p in config.points
        }
        self._signals: list[tuple[PointBinding, Callable[[float], float]]] = []
        for point in config.points:
            signal = point.signal
            if isinstance(signal, RandomWalkSignal) and signal.seed is None:
                signal = signal.model_copy(update={"seed": derive_seed(seed, point.name)})
            if signal is not None:
                self._signals.append((self._points[point.name], signal.sampler()))
        self._models = [
            _ModelRun(
                model,
                model.initial(),
                {name: self._points[name] for name in model.input_points()},
                {name: self._points[name] for name in model.output_points()},
            )
            for model in config.models
        ]
        self._failed: set[str] = set()
        self._initialise()

    def _initialise(self) -> None:
        """Constants, signals at t = 0 and model initial states; remembered for restarts."""
        for point in self.config.points:
            if point.value is not None:
                self._points[point.name].write(point.value)
        self.update(0.0, 0.0)
        self.image.snapshot()

    def update(self, t: float, dt: float) -> None:
        """Signals at plant time `t`, then every model stepped by `dt` seconds."""
        for binding, sample in self._signals:
            self._store(binding, sample(t))
        for run in self._models:
            inputs = {name: binding.read_number() for name, binding in run.inputs.items()}
            if dt > 0:
                run.state = run.model.step(run.state, inputs, dt)
            for name, number in run.model.outputs(run.state, inputs).items():
                self._store(run.outputs[name], number)

    def _store(self, binding: PointBinding, number: float) -> None:
        try:
            binding.write_number(number)
        except CodecError as exc:  # e.g. a float32 overflow: log once, keep the old value
            if binding.name not in self._failed:
                self._failed.add(binding.name)
                log.warning("unit %d point %s: %s", self.unit_id, binding.name, exc)

    def reset(self) -> None:
        """Registers and model states back to how they were at start (a PLC restart)."""
        self.image.restore()
        for run in self._models:
            run.state = run.model.initial()

    def master_wrote(self, table: Table, address: int, count: int) -> None:
        """A master's write landed in the image: a written state point sets the state."""
        self.writes += 1
        for run in self._models:
            state = run.outputs[run.model.state_point()]
            if state.overlaps(table, address, count):
                run.state = state.read_number()

    # ------------------------------------------------------------ control API

    def get(self, name: str) -> Value:
        """A point's current value."""
        return self._binding(name).read()

    def set(self, name: str, value: Value) -> None:
        """Set a point as a master's write would (models see it; a state is reset)."""
        binding = self._binding(name)
        binding.write(value)
        self.master_wrote(binding.table, binding.address, binding.size)

    def registers(self, table: Table, address: int, count: int) -> list[int]:
        return self.image.registers(table, address, count)

    def set_registers(self, table: Table, address: int, values: Sequence[int]) -> None:
        self.image.set_registers(table, address, values)
        self.master_wrote(table, address, len(values))

    def bits(self, table: Table, address: int, count: int) -> list[bool]:
        return self.image.bits(table, address, count)

    def set_bits(self, table: Table, address: int, values: Sequence[bool]) -> None:
        self.image.set_bits(table, address, values)
        self.master_wrote(table, address, len(values))

    def _binding(self, name: str) -> PointBinding:
        try:
            return self._points[name]
        except KeyError:
            known = ", ".join(self._points)
            raise KeyError(f"unit {self.unit_id} has no point {name!r} (points: {known})") from None

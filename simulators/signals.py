"""Signals: what a simulated point shows, as a pure function of plant time.

Plant time is `tick_index * tick`, so every value a slave serves is
reproducible: a test can compute the expected number for any tick, and two
runs with the same seed serve the same plant. Periodic signals take `phase`
as a time shift. Each kind is a frozen model of its parameters:

    constant     value
    sine         mean + amplitude * sin(2π (t + phase) / period)
    ramp         start + rate * t, held within [low, high] when given
    sawtooth     low → high linearly over each period, then back to low
    square       high for the first `duty` of each period, else low
    step         low before `at`, high from `at` on
    random_walk  start plus one uniform step in [-step, step] per interval,
                 reflected at low/high; the steps come from (seed, index)
    counter      start + increment * whole intervals elapsed, modulo `wrap`
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from gateway.config.types import ConfigModel, Duration, NonNegativeDuration
from simulators.kinds import kind_dispatcher

__all__ = [
    "BaseSignal",
    "ConstantSignal",
    "CounterSignal",
    "RampSignal",
    "RandomWalkSignal",
    "SawtoothSignal",
    "Signal",
    "SineSignal",
    "SquareSignal",
    "StepSignal",
    "random_step",
    "reflect",
]

#: Plant times are products like 3 * 0.1 = 0.30000000000000004; without this
#: slack, "whole intervals elapsed" would sometimes come out one short.
_EPSILON = 1e-9
_MASK64 = (1 << 64) - 1


def _cycles(t: float, period: float) -> float:
    return t / period + _EPSILON


def _fraction(t: float, period: float) -> float:
    """Position within the current period, 0 ≤ f < 1 (a hair below 1 counts as 0)."""
    cycles = t / period
    return max(0.0, cycles - math.floor(cycles + _EPSILON))


class BaseSignal(ConfigModel):
    """Parameters of one signal kind, and its value as a function of time."""

    def sample(self, t: float) -> float:
        """The signal's value at plant time `t` (seconds)."""
        raise NotImplementedError

    def sampler(self) -> Callable[[float], float]:
        """A callable equal to `sample`, possibly faster for increasing `t`."""
        return self.sample


class ConstantSignal(BaseSignal):
    kind: Literal["constant"] = "constant"
    value: float

    def sample(self, t: float) -> float:
        return self.value


class SineSignal(BaseSignal):
    kind: Literal["sine"] = "sine"
    mean: float = 0.0
    amplitude: float = 1.0
    period: Duration
    phase: NonNegativeDuration = 0.0

    def sample(self, t: float) -> float:
        return self.mean + self.amplitude * math.sin(2 * math.pi * (t + self.phase) / self.period)


class _Bounded(BaseSignal):
    low: float = 0.0
    high: float = 1.0

    @model_validator(mode="after")
    def _ordered(self) -> _Bounded:
        if self.low >= self.high:
            raise ValueError(f"low must be below high, got low={self.low:g} high={self.high:g}")
        return self


class RampSignal(BaseSignal):
    kind: Literal["ramp"] = "ramp"
    start: float = 0.0
    rate: float  # units per second, may be negative
    low: float | None = None
    high: float | None = None

    def sample(self, t: float) -> float:
        return _clamp(self.start + self.rate * t, self.low, self.high)


class SawtoothSignal(_Bounded):
    kind: Literal["sawtooth"] = "sawtooth"
    period: Duration
    phase: NonNegativeDuration = 0.0

    def sample(self, t: float) -> float:
        fraction = _fraction(t + self.phase, self.period)
        return self.low + (self.high - self.low) * fraction


class SquareSignal(_Bounded):
    kind: Literal["square"] = "square"
    period: Duration
    duty: float = Field(default=0.5, gt=0, lt=1)
    phase: NonNegativeDuration = 0.0

    def sample(self, t: float) -> float:
        fraction = _fraction(t + self.phase, self.period)
        return self.high if fraction + _EPSILON < self.duty else self.low


class StepSignal(BaseSignal):
    kind: Literal["step"] = "step"
    low: float = 0.0
    high: float = 1.0
    at: NonNegativeDuration

    def sample(self, t: float) -> float:
        return self.high if t + _EPSILON >= self.at else self.low


class CounterSignal(BaseSignal):
    kind: Literal["counter"] = "counter"
    start: float = 0.0
    increment: float = 1.0
    interval: Duration = 1.0
    wrap: float | None = Field(default=None, gt=0)

    def sample(self, t: float) -> float:
        value = self.start + self.increment * math.floor(_cycles(t, self.interval))
        return value % self.wrap if self.wrap is not None else value


class RandomWalkSignal(BaseSignal):
    kind: Literal["random_walk"] = "random_walk"
    start: float = 0.0
    step: float = Field(default=1.0, gt=0)
    low: float | None = None
    high: float | None = None
    interval: Duration = 1.0
    seed: int | None = None  # None: derived from the plant seed and the point

    @model_validator(mode="after")
    def _ordered(self) -> RandomWalkSignal:
        if self.low is not None and self.high is not None and self.low >= self.high:
            raise ValueError(f"low must be below high, got low={self.low:g} high={self.high:g}")
        return self

    def sample(self, t: float) -> float:
        total = 0.0
        for index in range(self._index(t)):
            total += self._step(index)  # the same order of additions as `sampler`
        return reflect(self.start + total, self.low, self.high)

    def sampler(self) -> Callable[[float], float]:
        """Keeps the running sum, so a tick costs its new steps instead of all of them."""
        index, total = 0, 0.0

        def at(t: float) -> float:
            nonlocal index, total
            wanted = self._index(t)
            if wanted < index:
                index, total = 0, 0.0
            while index < wanted:
                total += self._step(index)
                index += 1
            return reflect(self.start + total, self.low, self.high)

        return at

    def _index(self, t: float) -> int:
        return max(0, math.floor(_cycles(t, self.interval)))

    def _step(self, index: int) -> float:
        return self.step * random_step(self.seed or 0, index)


def random_step(seed: int, index: int) -> float:
    """Uniform in [-1, 1), a pure function of (seed, index) (SplitMix64)."""
    x = (seed * 0x9E3779B97F4A7C15 + index + 1) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    x ^= x >> 31
    return (x >> 11) * 2.0**-52 - 1.0


def reflect(value: float, low: float | None, high: float | None) -> float:
    """Fold `value` back into [low, high] as if it bounced off the limits."""
    if low is not None and high is not None:
        span = high - low
        folded = (value - low) % (2 * span)
        return low + (folded if folded <= span else 2 * span - folded)
    if low is not None and value < low:
        return 2 * low - value
    if high is not None and value > high:
        return 2 * high - value
    return value


def _clamp(value: float, low: float | None, high: float | None) -> float:
    if low is not None:
        value = max(low, value)
    if high is not None:
        value = min(high, value)
    return value


_KINDS: dict[str, type[BaseSignal]] = {
    "constant": ConstantSignal,
    "sine": SineSignal,
    "ramp": RampSignal,
    "sawtooth": SawtoothSignal,
    "square": SquareSignal,
    "step": StepSignal,
    "random_walk": RandomWalkSignal,
    "counter": CounterSignal,
}

#: Any signal, chosen by its `kind:` key.
Signal = Annotated[
    ConstantSignal
    | SineSignal
    | RampSignal
    | SawtoothSignal
    | SquareSignal
    | StepSignal
    | RandomWalkSignal
    | CounterSignal,
    BeforeValidator(kind_dispatcher("signal", _KINDS)),
]

"""Signals: each kind's values at known times, reproducibility, and parsing errors."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from simulators.signals import (
    ConstantSignal,
    CounterSignal,
    RampSignal,
    RandomWalkSignal,
    SawtoothSignal,
    Signal,
    SineSignal,
    SquareSignal,
    StepSignal,
    random_step,
    reflect,
)

PARSE = TypeAdapter(Signal)
TICK = 0.1


def times(count: int) -> list[float]:
    """Plant times as the runtime makes them: tick index x tick, rounding included."""
    return [index * TICK for index in range(count)]


def test_constant_is_the_same_at_every_time() -> None:
    signal = ConstantSignal(value=4.5)
    assert {signal.sample(t) for t in times(50)} == {4.5}


def test_sine_hits_mean_peak_and_trough_at_quarter_periods() -> None:
    signal = SineSignal(mean=10, amplitude=2, period=4.0)
    assert signal.sample(0.0) == pytest.approx(10)
    assert signal.sample(1.0) == pytest.approx(12)
    assert signal.sample(3.0) == pytest.approx(8)
    assert signal.sample(4.0) == pytest.approx(10, abs=1e-12)


def test_sine_phase_is_a_time_shift() -> None:
    shifted = SineSignal(mean=0, amplitude=1, period=4.0, phase=1.0)
    assert shifted.sample(0.0) == pytest.approx(1.0)


def test_ramp_rises_at_its_rate_and_holds_at_the_limit() -> None:
    signal = RampSignal(start=5, rate=2, high=9)
    assert [signal.sample(t) for t in (0.0, 1.0, 2.0, 3.0, 100.0)] == [5, 7, 9, 9, 9]
    falling = RampSignal(start=0, rate=-1, low=-2)
    assert falling.sample(10.0) == -2


def test_sawtooth_climbs_over_a_period_then_drops_back() -> None:
    signal = SawtoothSignal(low=0, high=10, period=1.0)
    values = [signal.sample(t) for t in times(11)]
    assert values[:10] == pytest.approx([float(i) for i in range(10)])
    assert values[10] == pytest.approx(0.0, abs=1e-6)  # t = 1.0: a new period starts


def test_square_is_high_for_the_duty_fraction_of_each_period() -> None:
    signal = SquareSignal(low=0, high=1, period=1.0, duty=0.3)
    values = [signal.sample(t) for t in times(20)]
    assert values == [1, 1, 1, 0, 0, 0, 0, 0, 0, 0] * 2


def test_step_switches_exactly_at_its_tick_despite_float_rounding() -> None:
    signal = StepSignal(low=1, high=5, at=0.3)
    assert 3 * TICK != 0.3  # the rounding this guards against
    assert [signal.sample(t) for t in times(5)] == [1, 1, 1, 5, 5]


def test_counter_counts_whole_intervals_even_when_times_round_down() -> None:
    signal = CounterSignal(start=0, increment=1, interval=TICK)
    assert [signal.sample(t) for t in times(1000)] == list(range(1000))


def test_counter_wraps() -> None:
    signal = CounterSignal(start=65534, increment=1, interval=1.0, wrap=65536)
    assert [signal.sample(float(t)) for t in range(4)] == [65534, 65535, 0, 1]


def test_random_walk_is_reproducible_and_depends_on_the_seed() -> None:
    first = RandomWalkSignal(start=50, step=1, seed=7, interval=TICK)
    again = RandomWalkSignal(start=50, step=1, seed=7, interval=TICK)
    other = RandomWalkSignal(start=50, step=1, seed=8, interval=TICK)
    series = [first.sample(t) for t in times(100)]
    assert series == [again.sample(t) for t in times(100)]
    assert series != [other.sample(t) for t in times(100)]
    assert len(set(series)) > 90  # it does move


def test_random_walk_steps_are_bounded_by_step() -> None:
    signal = RandomWalkSignal(start=0, step=0.5, seed=3, interval=1.0)
    values = [signal.sample(float(t)) for t in range(200)]
    assert max(abs(b - a) for a, b in itertools.pairwise(values)) <= 0.5


def test_random_walk_stays_within_low_and_high() -> None:
    signal = RandomWalkSignal(start=5, step=3, low=0, high=10, seed=1, interval=1.0)
    values = [signal.sample(float(t)) for t in range(500)]
    assert min(values) >= 0
    assert max(values) <= 10
    assert max(values) - min(values) > 5  # and uses the range


def test_random_walk_sampler_equals_sample_forwards_and_after_going_back() -> None:
    signal = RandomWalkSignal(start=1, step=0.2, low=0, high=2, seed=11, interval=TICK)
    sampler = signal.sampler()
    forward = times(300)
    assert [sampler(t) for t in forward] == [signal.sample(t) for t in forward]
    assert sampler(5.0) == signal.sample(5.0)  # backwards: recomputed from the start


def test_random_step_is_uniform_in_minus_one_to_one() -> None:
    steps = [random_step(42, index) for index in range(20_000)]
    assert min(steps) >= -1.0
    assert max(steps) < 1.0
    assert abs(sum(steps) / len(steps)) < 0.02
    assert random_step(42, 5) == random_step(42, 5)


@given(
    st.floats(-1e6, 1e6),
    st.floats(-100, 100),
    st.floats(0.01, 100),
)
def test_reflect_always_lands_inside_the_bounds(value: float, low: float, span: float) -> None:
    high = low + span
    folded = reflect(value, low, high)
    assert low - 1e-6 <= folded <= high + 1e-6


def test_reflect_bounces_off_one_sided_limits() -> None:
    assert reflect(-3.0, 0.0, None) == 3.0
    assert reflect(12.0, None, 10.0) == 8.0
    assert reflect(4.0, 0.0, 10.0) == 4.0
    assert reflect(13.0, 0.0, 10.0) == 7.0


def test_signals_parse_by_kind_with_durations() -> None:
    signal = PARSE.validate_python({"kind": "sine", "mean": 1, "period": "2m", "phase": "500ms"})
    assert isinstance(signal, SineSignal)
    assert (signal.period, signal.phase) == (120.0, 0.5)
    assert isinstance(PARSE.validate_python({"kind": "counter"}), CounterSignal)


@pytest.mark.parametrize(
    ("data", "loc", "text"),
    [
        ({"kind": "sinus", "period": 1}, ("kind",), "did you mean 'sine'?"),
        ({"period": 1}, ("kind",), "Field required"),
        ({"kind": "sine", "period": 1, "amplitud": 2}, ("amplitud",), "did you mean 'amplitude'?"),
        ({"kind": "sine"}, ("period",), "Field required"),
        ({"kind": "square", "period": 1, "duty": 1.5}, ("duty",), "less than 1"),
        ({"kind": "sawtooth", "period": 1, "low": 5, "high": 1}, (), "low must be below high"),
        ({"kind": "ramp", "rate": 1, "period": 2}, ("period",), "for kind ramp"),
    ],
)
def test_signal_errors_are_located_at_the_key(
    data: dict[str, object], loc: tuple[str, ...], text: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        PARSE.validate_python(data)
    errors = caught.value.errors()
    assert any(tuple(e["loc"]) == loc and text in e["msg"] for e in errors), errors


def test_all_kinds_sample_finite_numbers() -> None:
    kinds = [
        ConstantSignal(value=1),
        SineSignal(period=1),
        RampSignal(rate=1),
        SawtoothSignal(period=1),
        SquareSignal(period=1),
        StepSignal(at=1),
        RandomWalkSignal(seed=1),
        CounterSignal(),
    ]
    assert all(math.isfinite(signal.sample(t)) for signal in kinds for t in times(30))

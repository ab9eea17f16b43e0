"""Each supported aggregate over one interval of a `Series`, and over a whole range.

The rules per aggregate (Part 13 §5.4.3, the notes in docs/analysis.md):
Interpolative is the bounding value at the interval's start. TimeAverage and
Total integrate the line through the interval's bounding values and the
usable raw values between them. DurationGood/Bad, PercentGood/Bad hold each
raw status until the next raw value (simple bounding values) inside the
stored data. Count, Average, Minimum, Maximum and Range go through the
summary that SQL pushdown computes too (gateway/aggregates/summary.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import partial
from itertools import pairwise

from gateway.aggregates.intervals import Interval, intervals
from gateway.aggregates.model import PUSHDOWN, Aggregate, AggregateValue, RawPoint
from gateway.aggregates.series import Series
from gateway.aggregates.status import (
    BAD_AGGREGATE_INVALID_INPUTS,
    BAD_NO_DATA,
    CALCULATED,
    GOOD,
    MULTIPLE_VALUES,
    PARTIAL,
    UNCERTAIN_DATA_SUB_NORMAL,
    is_bad,
    is_good,
    with_bits,
)
from gateway.aggregates.summary import extreme_severity, finish, numeric, summarize

__all__ = ["compute", "compute_interval", "compute_many"]

_NUMERIC_ONLY = frozenset(Aggregate) - {
    Aggregate.INTERPOLATIVE,
    Aggregate.START,
    Aggregate.END,
    Aggregate.COUNT,
    Aggregate.DURATION_GOOD,
    Aggregate.DURATION_BAD,
    Aggregate.PERCENT_GOOD,
    Aggregate.PERCENT_BAD,
}


def _no_data(interval: Interval) -> AggregateValue:
    return AggregateValue(interval.start, None, BAD_NO_DATA)


def _partial(series: Series, interval: Interval) -> bool:
    return interval.partial(series.data_start, series.data_end)


def _interpolative(series: Series, interval: Interval) -> AggregateValue:
    bound = series.bound(interval.start)
    return AggregateValue(interval.start, bound.value, bound.status)


def _timeline(series: Series, interval: Interval) -> tuple[list[RawPoint], float, bool]:
    """Bounding values and usable raw values between; time without data; Bad inside."""
    first, last = series.bound(interval.start), series.bound(interval.end)
    inner = [
        p
        for p in series.between(interval.start, interval.end)
        if p.time > interval.start and p.value is not None and series.is_usable(p)
    ]
    bad_inside = any(not series.is_usable(p) for p in series.between(interval.start, interval.end))
    points = [p for p in (first, *inner, last) if not is_bad(p.status)]
    no_data = interval.duration if not points else points[0].time - interval.start
    return points, no_data, bad_inside


def _integral(series: Series, points: Sequence[RawPoint]) -> float:
    area = 0.0
    for a, b in pairwise(points):
        left, right = float(a.value), float(b.value)  # type: ignore[arg-type]
        height = left if series.stepped else (left + right) / 2
        area += height * (b.time - a.time)
    return area


def _time_weighted(series: Series, interval: Interval, total: bool) -> AggregateValue:
    points, no_data, bad_inside = _timeline(series, interval)
    covered = points[-1].time - points[0].time if points else 0.0
    config = series.config
    if covered <= 0 or no_data * 100 >= config.percent_data_bad * interval.duration:
        return _no_data(interval)
    uncertain = no_data > 0 or bad_inside or any(not is_good(p.status) for p in points)
    good_share = (interval.duration - no_data) * 100 / interval.duration
    severity = GOOD
    if uncertain or good_share < config.percent_data_good:
        severity = UNCERTAIN_DATA_SUB_NORMAL
    area = _integral(series, points)
    value = area if total else area / covered
    return AggregateValue(interval.start, value, with_bits(severity, CALCULATED))


def _durations(series: Series, interval: Interval) -> tuple[float, float] | None:
    """Seconds of Good and of Bad data in the interval (None: outside the data)."""
    if series.data_start is None or series.data_end is None:
        return None
    low, high = max(interval.start, series.data_start), min(interval.end, series.data_end)
    if high <= low:
        return None
    inside = series.between(low, high)
    held = [] if inside and inside[0].time == low else series.last_before(low)
    good = bad = 0.0
    marks = [*held, *inside]
    for number, point in enumerate(marks):
        begin = max(point.time, low)
        stop = marks[number + 1].time if number + 1 < len(marks) else high
        if is_good(point.status) and point.value is not None:
            good += stop - begin
        elif not series.is_usable(point):
            bad += stop - begin
    return good, bad


def _duration(series: Series, interval: Interval, aggregate: Aggregate) -> AggregateValue:
    spans = _durations(series, interval)
    if spans is None:
        return _no_data(interval)
    good, bad = spans
    span = good if aggregate in (Aggregate.DURATION_GOOD, Aggregate.PERCENT_GOOD) else bad
    if aggregate in (Aggregate.DURATION_GOOD, Aggregate.DURATION_BAD):
        value = span * 1000.0  # OPC UA Durations are milliseconds
    else:
        value = span * 100.0 / interval.duration
    bits = CALCULATED | (PARTIAL if _partial(series, interval) else 0)
    return AggregateValue(interval.start, value, with_bits(GOOD, bits))


def _start_end(series: Series, interval: Interval, first: bool) -> AggregateValue:
    points = series.between(interval.start, interval.end)
    if not points:
        return _no_data(interval)
    point = points[0] if first else points[-1]
    return AggregateValue(point.time, point.value, point.status & 0xFFFF0000)


def _delta(series: Series, interval: Interval) -> AggregateValue:
    points = series.between(interval.start, interval.end)
    usable = [p for p in points if series.is_usable(p)]
    if not usable:
        return _no_data(interval)
    first, last = usable[0], usable[-1]
    clean = len(usable) == len(points) and is_good(first.status) and is_good(last.status)
    value = float(last.value) - float(first.value)  # type: ignore[arg-type]
    if series.integer and value.is_integer():
        value = int(value)
    bits = CALCULATED | (PARTIAL if _partial(series, interval) else 0)
    return AggregateValue(
        interval.start, value, with_bits(GOOD if clean else UNCERTAIN_DATA_SUB_NORMAL, bits)
    )


def _actual_time(series: Series, interval: Interval, low: bool) -> AggregateValue:
    points = series.between(interval.start, interval.end)
    good = [p for p in points if is_good(p.status) and numeric(p.value) is not None]
    if not good:
        return _no_data(interval)
    pick = min if low else max
    best = pick(good, key=lambda p: (numeric(p.value), p.time if low else -p.time))
    best = min((p for p in good if p.value == best.value), key=lambda p: p.time)
    summary = summarize(points, interval.start)
    severity = extreme_severity(summary, series.config, low=low, high=not low)
    ties = summary.min_ties if low else summary.max_ties
    bits = (PARTIAL if _partial(series, interval) else 0) | (MULTIPLE_VALUES if ties > 1 else 0)
    if severity != GOOD:
        bits |= CALCULATED
    return AggregateValue(best.time, best.value, with_bits(severity, bits))


def _summarized(series: Series, interval: Interval, aggregate: Aggregate) -> AggregateValue:
    if interval.outside(series.data_start, series.data_end):
        return _no_data(interval)
    summary = summarize(series.between(interval.start, interval.end), interval.start)
    return finish(
        aggregate,
        summary,
        interval.start,
        series.config,
        partial=_partial(series, interval),
        integer=series.integer,
    )


_Rule = Callable[[Series, Interval], AggregateValue]
_RULES: dict[Aggregate, _Rule] = {
    Aggregate.INTERPOLATIVE: _interpolative,
    Aggregate.TIME_AVERAGE: partial(_time_weighted, total=False),
    Aggregate.TOTAL: partial(_time_weighted, total=True),
    Aggregate.MINIMUM_ACTUAL_TIME: partial(_actual_time, low=True),
    Aggregate.MAXIMUM_ACTUAL_TIME: partial(_actual_time, low=False),
    Aggregate.START: partial(_start_end, first=True),
    Aggregate.END: partial(_start_end, first=False),
    Aggregate.DELTA: _delta,
}
for _aggregate in (
    Aggregate.DURATION_GOOD,
    Aggregate.DURATION_BAD,
    Aggregate.PERCENT_GOOD,
    Aggregate.PERCENT_BAD,
):
    _RULES[_aggregate] = partial(_duration, aggregate=_aggregate)
for _aggregate in PUSHDOWN:
    _RULES[_aggregate] = partial(_summarized, aggregate=_aggregate)


def compute_interval(series: Series, aggregate: Aggregate, interval: Interval) -> AggregateValue:
    """One aggregate over one interval."""
    if series.text and aggregate in _NUMERIC_ONLY:
        return AggregateValue(interval.start, None, BAD_AGGREGATE_INVALID_INPUTS)
    return _RULES[aggregate](series, interval)


def compute(
    series: Series, aggregate: Aggregate, start: float, end: float, processing: float
) -> list[AggregateValue]:
    """One result per interval of [start, end)."""
    return [compute_interval(series, aggregate, i) for i in intervals(start, end, processing)]


def compute_many(
    series: Series,
    aggregates: Iterable[Aggregate],
    start: float,
    end: float,
    processing: float,
) -> dict[Aggregate, list[AggregateValue]]:
    """Several aggregates over the same intervals."""
    return {a: compute(series, a, start, end, processing) for a in aggregates}

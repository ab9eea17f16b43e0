"""Count, Average, Minimum, Maximum and Range from a per-interval summary of raw values.

The summary is what one SQL GROUP BY can compute (counts, sums, extremes and
their ties per interval), so the storage layer pushes these aggregates into
the database and finishes them here, with the same code the engine runs on
raw points: the answers are the same by construction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gateway.aggregates.model import Aggregate, AggregateConfiguration, AggregateValue, RawPoint
from gateway.aggregates.status import (
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

__all__ = ["IntervalSummary", "extreme_severity", "finish", "numeric", "summarize"]


@dataclass(frozen=True, slots=True)
class IntervalSummary:
    """Raw values of one interval, by quality (Good, Uncertain, Bad)."""

    n_good: int = 0
    n_uncertain: int = 0
    n_bad: int = 0
    sum_good: float = 0.0
    sum_uncertain: float = 0.0
    min_good: float | None = None
    max_good: float | None = None
    #: Good values equal to the minimum (maximum); >1 sets MultipleValues.
    min_ties: int = 0
    max_ties: int = 0
    #: A Good value equal to the minimum (maximum) lies on the interval's start.
    min_at_start: bool = False
    max_at_start: bool = False
    min_uncertain: float | None = None
    max_uncertain: float | None = None


def numeric(value: object) -> float | None:
    """The number an aggregate computes with (bool as 0/1); None for text or no value."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return None


def summarize(points: Iterable[RawPoint], start: float) -> IntervalSummary:
    """The summary of one interval's raw points (the engine's side of the pushdown)."""
    good: list[tuple[float, float]] = []
    uncertain: list[float] = []
    bad = 0
    for point in points:
        number = numeric(point.value)
        if is_bad(point.status) or number is None:
            bad += 1
        elif is_good(point.status):
            good.append((point.time, number))
        else:
            uncertain.append(number)
    values = [value for _, value in good]
    low = min(values, default=None)
    high = max(values, default=None)
    return IntervalSummary(
        n_good=len(good),
        n_uncertain=len(uncertain),
        n_bad=bad,
        sum_good=sum(values),
        sum_uncertain=sum(uncertain),
        min_good=low,
        max_good=high,
        min_ties=values.count(low) if low is not None else 0,
        max_ties=values.count(high) if high is not None else 0,
        min_at_start=any(t == start and v == low for t, v in good),
        max_at_start=any(t == start and v == high for t, v in good),
        min_uncertain=min(uncertain, default=None),
        max_uncertain=max(uncertain, default=None),
    )


def _percent_values(summary: IntervalSummary, config: AggregateConfiguration) -> int | None:
    """Severity by the share of values (Part 13 §5.3.3.3); None when Bad."""
    usable = summary.n_good + (0 if config.treat_uncertain_as_bad else summary.n_uncertain)
    total = summary.n_good + summary.n_uncertain + summary.n_bad
    if total == 0:
        return GOOD
    if (total - usable) * 100 >= config.percent_data_bad * total or usable == 0:
        return None
    uncertain_used = summary.n_uncertain and not config.treat_uncertain_as_bad
    if usable * 100 >= config.percent_data_good * total and not uncertain_used:
        return GOOD
    return UNCERTAIN_DATA_SUB_NORMAL


def extreme_severity(
    summary: IntervalSummary, config: AggregateConfiguration, *, low: bool, high: bool
) -> int:
    """Minimum/Maximum/Range: Uncertain when Bad values exist, or an Uncertain one beats it."""
    if summary.n_bad or (config.treat_uncertain_as_bad and summary.n_uncertain):
        return UNCERTAIN_DATA_SUB_NORMAL
    beaten_low = low and summary.min_uncertain is not None and summary.min_good is not None
    if beaten_low and summary.min_uncertain < summary.min_good:  # type: ignore[operator]
        return UNCERTAIN_DATA_SUB_NORMAL
    beaten_high = high and summary.max_uncertain is not None and summary.max_good is not None
    if beaten_high and summary.max_uncertain > summary.max_good:  # type: ignore[operator]
        return UNCERTAIN_DATA_SUB_NORMAL
    return GOOD


def _as_source(value: float, integer: bool) -> float | int:
    """An integer tag's extreme as an int; a scaled one's fractions stay."""
    return int(value) if integer and float(value).is_integer() else value


def finish(
    aggregate: Aggregate,
    summary: IntervalSummary,
    start: float,
    config: AggregateConfiguration,
    *,
    partial: bool,
    integer: bool = False,
) -> AggregateValue:
    """The result of a summary-based aggregate for the interval beginning at `start`."""
    no_data = AggregateValue(start, None, BAD_NO_DATA)
    partial_bit = PARTIAL if partial else 0
    if aggregate in (Aggregate.COUNT, Aggregate.AVERAGE):
        severity = _percent_values(summary, config)
        usable = summary.n_good + (0 if config.treat_uncertain_as_bad else summary.n_uncertain)
        if aggregate is Aggregate.COUNT:
            return AggregateValue(
                start,
                usable,
                with_bits(UNCERTAIN_DATA_SUB_NORMAL if severity is None else severity, CALCULATED),
            )
        if severity is None or usable == 0:
            return no_data
        total = summary.sum_good + (0.0 if config.treat_uncertain_as_bad else summary.sum_uncertain)
        return AggregateValue(start, total / usable, with_bits(severity, CALCULATED))
    if summary.min_good is None or summary.max_good is None:
        return no_data
    if aggregate is Aggregate.RANGE:
        severity = extreme_severity(summary, config, low=True, high=True)
        value = _as_source(summary.max_good - summary.min_good, integer)
        return AggregateValue(start, value, with_bits(severity, CALCULATED | partial_bit))
    low = aggregate is Aggregate.MINIMUM
    if not low and aggregate is not Aggregate.MAXIMUM:
        raise ValueError(f"{aggregate.browse_name} is not computed from a summary")
    severity = extreme_severity(summary, config, low=low, high=not low)
    at_start = summary.min_at_start if low else summary.max_at_start
    ties = summary.min_ties if low else summary.max_ties
    bits = partial_bit | (MULTIPLE_VALUES if ties > 1 else 0)
    if not at_start or severity != GOOD:
        bits |= CALCULATED
    value = _as_source(summary.min_good if low else summary.max_good, integer)
    return AggregateValue(start, value, with_bits(severity, bits))

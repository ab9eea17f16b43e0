"""Part 13 aggregates of stored history: SQL pushdown where it gives the engine's answer.

Count, Average, Minimum, Maximum and Range of a numeric tag are computed by
the database: one GROUP BY over the interval number, `(ts - start) / interval`
in integer microseconds, summarises each interval's raw values by quality
(gateway/aggregates/summary.py), and the engine's own `finish` turns the
summaries into results. The other aggregates (interpolation, time weighting,
durations, actual times) run in the pure engine on the raw points of a
window of intervals, loaded with the neighbours their bounding values need.
Both paths read the same rows with the same rules, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, case, func, select
from sqlalchemy.engine import Connection, Engine

from gateway.aggregates import (
    PUSHDOWN,
    Aggregate,
    AggregateConfiguration,
    AggregateValue,
    IntervalSummary,
    RawPoint,
    Series,
    compute_interval,
    finish,
    intervals,
)
from gateway.aggregates.intervals import Interval
from gateway.model import DataType
from gateway.storage.errors import StorageError, mapped_errors
from gateway.storage.rows import decode_value, from_us, to_us
from gateway.storage.schema import readings, tags

__all__ = [
    "IntervalRow",
    "TagSeriesInfo",
    "aggregate_history",
    "load_series",
    "pushdown_summaries",
    "tag_series_info",
]

#: Intervals computed per window: bounds the raw points the engine holds at once.
WINDOW_INTERVALS = 500
_BAD = 2**31
_UNCERTAIN = 2**30


@dataclass(frozen=True, slots=True)
class TagSeriesInfo:
    """What aggregation needs to know about a stored tag."""

    tag_id: int
    data_type: DataType
    data_start: float | None
    data_end: float | None

    @property
    def stepped(self) -> bool:
        return self.data_type in (DataType.BOOL, DataType.STRING)

    @property
    def integer(self) -> bool:
        return self.data_type.is_integer


def tag_series_info(connection: Connection, key: str) -> TagSeriesInfo:
    device, _, name = key.partition(".")
    row = connection.execute(
        select(tags.c.id, tags.c.data_type).where(tags.c.device == device, tags.c.name == name)
    ).first()
    if row is None:
        raise StorageError(f"no history for tag {key!r}: it is not in the database's tags table")
    ts = readings.c.ts
    first = connection.execute(select(func.min(ts)).where(readings.c.tag_id == row.id)).scalar()
    last = connection.execute(select(func.max(ts)).where(readings.c.tag_id == row.id)).scalar()
    return TagSeriesInfo(
        row.id,
        DataType(row.data_type),
        None if first is None else from_us(first),
        None if last is None else from_us(last),
    )


def _point(data_type: DataType, row: object) -> RawPoint:
    value = decode_value(data_type, row.value_num, row.value_str)  # type: ignore[attr-defined]
    if isinstance(value, float) and math.isnan(value):
        value = None  # NaN is no number to aggregate: a Bad value, as in SQL
    return RawPoint(from_us(row.ts), value, int(row.status))  # type: ignore[attr-defined]


def _usable_condition(config: AggregateConfiguration):  # type: ignore[no-untyped-def]
    limit = _UNCERTAIN if config.treat_uncertain_as_bad else _BAD
    return and_(readings.c.status < limit, readings.c.value_num.is_not(None))


def load_series(
    connection: Connection,
    info: TagSeriesInfo,
    start: float,
    end: float,
    config: AggregateConfiguration,
) -> Series:
    """The raw points in [start, end], plus the neighbours bounding values reach for."""
    columns = (readings.c.ts, readings.c.value_num, readings.c.value_str, readings.c.status)
    ts, mine = readings.c.ts, readings.c.tag_id == info.tag_id
    lo, hi = to_us(start), to_us(end)
    body = select(*columns).where(mine, ts >= lo, ts <= hi).order_by(ts)
    usable = _usable_condition(config)
    edges = [
        select(*columns).where(mine, ts < lo).order_by(ts.desc()).limit(1),
        select(*columns).where(mine, ts < lo, usable).order_by(ts.desc()).limit(1),
        select(*columns).where(mine, ts > hi).order_by(ts).limit(1),
        select(*columns).where(mine, ts > hi, usable).order_by(ts).limit(1),
    ]
    rows = {row.ts: row for query in edges for row in connection.execute(query)}
    rows.update((row.ts, row) for row in connection.execute(body))
    points = [_point(info.data_type, rows[key]) for key in sorted(rows)]
    return Series(
        points,
        config=config,
        stepped=info.stepped,
        integer=info.integer,
        data_start=info.data_start,
        data_end=info.data_end,
    )


def pushdown_summaries(
    connection: Connection, tag_id: int, start: float, end: float, processing: float
) -> dict[int, IntervalSummary]:
    """Per interval number, the summary of its raw values, computed by the database."""
    lo, hi, step = to_us(start), to_us(end), to_us(processing) if processing else to_us(end - start)
    value, status = readings.c.value_num, readings.c.status
    quality = case(
        (value.is_(None), 2), (status >= _BAD, 2), (status >= _UNCERTAIN, 1), else_=0
    ).label("q")
    bucket = ((readings.c.ts - lo) // step).label("b")
    raw = (
        select(bucket, readings.c.ts, value.label("v"), quality)
        .where(readings.c.tag_id == tag_id, readings.c.ts >= lo, readings.c.ts < hi)
        .subquery("r")
    )
    good, unsure = raw.c.q == 0, raw.c.q == 1
    per = (
        select(
            raw.c.b,
            func.sum(case((good, 1), else_=0)).label("n_good"),
            func.sum(case((unsure, 1), else_=0)).label("n_uncertain"),
            func.sum(case((raw.c.q == 2, 1), else_=0)).label("n_bad"),
            func.sum(case((good, raw.c.v))).label("sum_good"),
            func.sum(case((unsure, raw.c.v))).label("sum_uncertain"),
            func.min(case((good, raw.c.v))).label("min_good"),
            func.max(case((good, raw.c.v))).label("max_good"),
            func.min(case((unsure, raw.c.v))).label("min_uncertain"),
            func.max(case((unsure, raw.c.v))).label("max_uncertain"),
            func.max(case((and_(good, raw.c.ts == lo + raw.c.b * step), raw.c.v))).label("first"),
        )
        .group_by(raw.c.b)
        .subquery("a")
    )
    ties = (
        select(
            per,
            func.sum(case((and_(good, raw.c.v == per.c.min_good), 1), else_=0)).label("min_ties"),
            func.sum(case((and_(good, raw.c.v == per.c.max_good), 1), else_=0)).label("max_ties"),
        )
        .join(raw, raw.c.b == per.c.b)
        .group_by(*per.c)
    )
    summaries: dict[int, IntervalSummary] = {}
    for row in connection.execute(ties):
        summaries[int(row.b)] = _summary(row)
    return summaries


def _summary(row: object) -> IntervalSummary:
    r = row  # a Row with the labelled columns of pushdown_summaries
    first = r.first  # type: ignore[attr-defined]
    return IntervalSummary(
        n_good=int(r.n_good),  # type: ignore[attr-defined]
        n_uncertain=int(r.n_uncertain),  # type: ignore[attr-defined]
        n_bad=int(r.n_bad),  # type: ignore[attr-defined]
        sum_good=float(r.sum_good or 0.0),  # type: ignore[attr-defined]
        sum_uncertain=float(r.sum_uncertain or 0.0),  # type: ignore[attr-defined]
        min_good=r.min_good,  # type: ignore[attr-defined]
        max_good=r.max_good,  # type: ignore[attr-defined]
        min_ties=int(r.min_ties),  # type: ignore[attr-defined]
        max_ties=int(r.max_ties),  # type: ignore[attr-defined]
        min_at_start=first is not None and first == r.min_good,  # type: ignore[attr-defined]
        max_at_start=first is not None and first == r.max_good,  # type: ignore[attr-defined]
        min_uncertain=r.min_uncertain,  # type: ignore[attr-defined]
        max_uncertain=r.max_uncertain,  # type: ignore[attr-defined]
    )


#: One row of a processed read: an interval and each aggregate's result for it.
IntervalRow = tuple[Interval, dict[Aggregate, AggregateValue]]


def _windows(start: float, end: float, processing: float, size: int) -> Iterator[list[Interval]]:
    window: list[Interval] = []
    for interval in intervals(start, end, processing):
        window.append(interval)
        if len(window) == size:
            yield window
            window = []
    if window:
        yield window


def _pushed(
    connection: Connection,
    info: TagSeriesInfo,
    window: Sequence[Interval],
    wanted: Sequence[Aggregate],
    config: AggregateConfiguration,
) -> list[dict[Aggregate, AggregateValue]]:
    first = window[0]
    summaries = pushdown_summaries(
        connection, info.tag_id, first.start, window[-1].end, first.length
    )
    empty = IntervalSummary()
    results: list[dict[Aggregate, AggregateValue]] = []
    for number, interval in enumerate(window):
        row: dict[Aggregate, AggregateValue] = {}
        outside = interval.outside(info.data_start, info.data_end)
        partial = interval.partial(info.data_start, info.data_end)
        for aggregate in wanted:
            if outside:
                row[aggregate] = AggregateValue(interval.start, None, 0x809B0000)
                continue
            summary = summaries.get(number, empty)
            row[aggregate] = finish(
                aggregate, summary, interval.start, config, partial=partial, integer=info.integer
            )
        results.append(row)
    return results


def aggregate_history(
    engine: Engine,
    key: str,
    aggregates: Sequence[Aggregate],
    *,
    start: float,
    end: float,
    processing: float,
    config: AggregateConfiguration | None = None,
    pushdown: bool = True,
    window_size: int = WINDOW_INTERVALS,
) -> Iterator[IntervalRow]:
    """Each interval of [start, end) with the results of `aggregates`, in time order.

    Streamed window by window (one transaction each, nothing held between).
    `pushdown` False computes everything in the engine (the naive baseline).
    """
    config = config or AggregateConfiguration()
    with mapped_errors(f"reading the history of {key}"), engine.connect() as connection:
        info = tag_series_info(connection, key)
    numeric = info.data_type is not DataType.STRING
    pushed = [a for a in aggregates if pushdown and numeric and a in PUSHDOWN]
    rest = [a for a in aggregates if a not in pushed]
    size = window_size if rest else max(window_size, 10_000)
    for window in _windows(start, end, processing, size):
        with mapped_errors(f"aggregating the history of {key}"), engine.connect() as connection:
            rows = _pushed(connection, info, window, pushed, config) if pushed else None
            series = (
                load_series(connection, info, window[0].start, window[-1].end, config)
                if rest
                else None
            )
        for number, interval in enumerate(window):
            results = dict(rows[number]) if rows is not None else {}
            for aggregate in rest:
                assert series is not None
                results[aggregate] = compute_interval(series, aggregate, interval)
            yield interval, {a: results[a] for a in aggregates}

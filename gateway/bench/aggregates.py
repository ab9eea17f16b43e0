"""Aggregates workload: 1M raw rows of one tag → 1,440 intervals × 4 aggregates.

A day of one float tag (a row every 86.4 ms, 1 % Uncertain, 1 % Bad) is
inserted into a scratch database; then Average, Minimum, Maximum and Count
per minute are read three ways in the same run: pushed into SQL (what the
gateway does), the pure engine on every raw row (no pushdown), and the naive
baseline, a plain Python loop over the same rows fetched with one SELECT.
Each figure is the wall time of the whole read, from the query to the last
result, median of the runs.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, text

from gateway.aggregates import Aggregate
from gateway.bench.report import Report
from gateway.config import StorageConfig
from gateway.model import DataType, Status
from gateway.storage.aggregates import aggregate_history
from gateway.storage.database import Database
from gateway.storage.rows import Row, to_us
from gateway.storage.schema import readings
from gateway.storage.scratch import scratch_url
from gateway.storage.tagsync import TagInfo

__all__ = ["AggregatesSpec", "bench_aggregates"]

WANTED = (Aggregate.AVERAGE, Aggregate.MINIMUM, Aggregate.MAXIMUM, Aggregate.COUNT)
_GATEWAY = "bench"  # the gateway whose rows the workload writes and reads
_KEY = "bench.flow"
_DAY = 86_400.0
_T0 = 1_735_689_600.0  # 2025-01-01T00:00:00Z


@dataclass(frozen=True, slots=True)
class AggregatesSpec:
    rows: int = 1_000_000
    intervals: int = 1440
    runs: int = 3
    engine: bool = False  # also time the pure engine without pushdown (slow)


def _rows(count: int) -> list[Row]:
    pick = random.Random(13)
    step = _DAY / count
    statuses = [int(Status.GOOD)] * 98 + [
        int(Status.UNCERTAIN_NO_COMMUNICATION_LAST_USABLE_VALUE),
        int(Status.BAD_NO_COMMUNICATION),
    ]
    rows: list[Row] = []
    for number in range(count):
        status = pick.choice(statuses)
        value = None if status >= Status.BAD_COMMUNICATION_ERROR else pick.uniform(0, 100)
        rows.append((_KEY, to_us(_T0 + number * step), value, None, status))
    return rows


def _fill(database: Database, count: int) -> None:
    """Insert the rows, then ANALYZE: a bulk load leaves the planner without statistics
    (PostgreSQL's autovacuum gathers them some time later on a running gateway)."""
    rows = _rows(count)
    for index in range(0, len(rows), 50_000):
        database.write(rows[index : index + 50_000])
    with database.engine.begin() as connection:
        connection.execute(text("ANALYZE"))


def _naive(database: Database, processing: float) -> int:
    """A plain Python loop: every row fetched, Average/Minimum/Maximum/Count per bucket."""
    tag_id = database.tag_ids[_KEY]
    query = (
        select(readings.c.ts, readings.c.value_num, readings.c.status)
        .where(readings.c.tag_id == tag_id, readings.c.ts >= to_us(_T0))
        .where(readings.c.ts < to_us(_T0 + _DAY))
        .order_by(readings.c.ts)
    )
    step, start = to_us(processing), to_us(_T0)
    buckets: dict[int, list[float]] = {}
    with database.engine.connect() as connection:
        for ts, value, status in connection.execute(query):
            if value is None or status >= 0x40000000:
                continue
            bucket = buckets.setdefault((ts - start) // step, [0, 0.0, value, value])
            bucket[0] += 1
            bucket[1] += value
            bucket[2] = min(bucket[2], value)
            bucket[3] = max(bucket[3], value)
    return len(buckets)


def _timed(read: Callable[[], int], runs: int) -> tuple[list[float], int]:
    times, produced = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        produced = read()
        times.append(time.perf_counter() - started)
    return times, produced


def _measure(url: str, spec: AggregatesSpec, report: Report, name: str) -> None:
    tag = TagInfo("bench", "flow", DataType.FLOAT64)
    database = Database(StorageConfig(url=url), [tag], gateway=_GATEWAY)
    processing = _DAY / spec.intervals
    try:
        database.prepare()
        _fill(database, spec.rows)

        def read(pushdown: bool) -> int:
            rows = aggregate_history(
                database.engine,
                _KEY,
                WANTED,
                start=_T0,
                end=_T0 + _DAY,
                processing=processing,
                gateway=_GATEWAY,
                pushdown=pushdown,
            )
            return sum(1 for _ in rows)

        read(True)  # warm the page cache: every figure reads from memory
        pushed, produced = _timed(lambda: read(True), spec.runs)
        if produced != spec.intervals:
            raise RuntimeError(f"{produced} intervals computed, expected {spec.intervals}")
        target = "≤ 1" if name == "sqlite" else "≤ 0.5"
        report.add(f"{name} SQL pushdown", "s", pushed, target)
        naive, _ = _timed(lambda: _naive(database, processing), spec.runs)
        report.add(f"{name} naive Python loop", "s", naive)
        if spec.engine:
            engine, _ = _timed(lambda: read(False), 1)
            report.add(f"{name} engine without pushdown", "s", engine)
        ratios = [n / p for n, p in zip(naive, pushed, strict=True)]
        report.add(f"{name} naive / pushdown", "×", ratios)
    finally:
        database.dispose()


def bench_aggregates(spec: AggregatesSpec, *, postgres_url: str | None) -> Report:
    """The aggregates workload (docs/performance.md): SQLite, and PostgreSQL given a URL."""
    report = Report(
        "aggregates",
        {"rows": spec.rows, "intervals": spec.intervals, "aggregates": 4, "runs": spec.runs},
    )
    databases: list[tuple[str, str | None]] = [("sqlite", None)]
    if postgres_url is not None:
        databases.append(("postgresql", postgres_url))
    for name, url in databases:
        with scratch_url(url) as scratch:
            _measure(scratch, spec, report, name)
    return report

"""One tag's last hour for the page's chart, thinned to a few hundred points.

The newest CHART_ROWS readings of the hour are read (a tag changing every
100 ms has 36,000; the read is bounded either way), then thinned per time
bucket to its first, lowest, highest and last value, so a spike survives and
the browser draws at most about 4 × CHART_BUCKETS points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.model import TagValue

__all__ = ["CHART_BUCKETS", "CHART_ROWS", "CHART_SPAN", "ChartData", "thin"]

#: Seconds the chart covers.
CHART_SPAN = 3600.0
#: Readings read at most for one chart.
CHART_ROWS = 20_000
#: Time buckets the readings are thinned to.
CHART_BUCKETS = 300


@dataclass(frozen=True, slots=True)
class ChartData:
    points: list[tuple[float, float]]  # (POSIX seconds, value), in time order
    readings: int  # readings read
    truncated: bool  # more readings than CHART_ROWS: only the newest were read

    def as_json(self, key: str, unit: str, start: float, end: float) -> dict[str, object]:
        return {
            "tag": key,
            "unit": unit,
            "start": start,
            "end": end,
            "readings": self.readings,
            "truncated": self.truncated,
            "points": [[round(t, 3), v] for t, v in self.points],
        }


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def thin(
    newest_first: Sequence[TagValue], start: float, end: float, *, truncated: bool = False
) -> ChartData:
    """Numeric readings (bools as 0/1) in time order, at most 4 per bucket."""
    readings = [
        (value.source_time, number)
        for value in reversed(newest_first)
        if value.source_time is not None and (number := _number(value.value)) is not None
    ]
    if len(readings) <= 4 * CHART_BUCKETS:
        return ChartData(readings, len(newest_first), truncated)
    width = (end - start) / CHART_BUCKETS
    points: list[tuple[float, float]] = []
    bucket: list[tuple[float, float]] = []
    current = None
    for reading in readings:
        index = int((reading[0] - start) // width)
        if index != current and bucket:
            points.extend(_extremes(bucket))
            bucket = []
        current = index
        bucket.append(reading)
    if bucket:
        points.extend(_extremes(bucket))
    return ChartData(points, len(newest_first), truncated)


def _extremes(bucket: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """First, lowest, highest and last of a bucket, in time order, without repeats."""
    low = min(bucket, key=lambda reading: reading[1])
    high = max(bucket, key=lambda reading: reading[1])
    chosen = {bucket[0], low, high, bucket[-1]}
    return sorted(chosen)

"""A tag's raw points prepared for aggregation: which are usable, and values between them.

Bounding values follow Part 13 §3.1.7-3.1.9 and §5.4.2: the value at a time
is the raw value there if it is usable, else it is interpolated between the
nearest usable values around it (sloped for numbers, stepped for bool and
text), Uncertain_DataSubNormal when a Bad value was skipped or a bound is not
Good; after the last usable value it is extrapolated (stepped, or sloped
with UseSlopedExtrapolation) and Uncertain; before the first, Bad_NoData.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence

from gateway.aggregates.model import AggregateConfiguration, RawPoint
from gateway.aggregates.status import (
    BAD_NO_DATA,
    GOOD,
    INTERPOLATED,
    UNCERTAIN_DATA_SUB_NORMAL,
    is_bad,
    is_good,
    with_bits,
)

__all__ = ["Series"]


class Series:
    """Raw points of one tag in time order (Bad_NoData entries only mark "no data").

    `data_start`/`data_end`: where the tag's stored data begins and ends, when
    the points are a window of a longer history (default: the points' own).
    """

    def __init__(
        self,
        points: Sequence[RawPoint],
        *,
        config: AggregateConfiguration | None = None,
        stepped: bool = False,
        integer: bool = False,
        data_start: float | None = None,
        data_end: float | None = None,
    ) -> None:
        self.config = config or AggregateConfiguration()
        self.points = [p for p in points if p.status & 0xFFFF0000 != BAD_NO_DATA]
        self.stepped = stepped
        self.integer = integer
        self.text = any(isinstance(p.value, str) for p in self.points)
        self.times = [p.time for p in self.points]
        self.usable = [self.is_usable(p) for p in self.points]
        self.usable_index = [i for i, ok in enumerate(self.usable) if ok]
        self.usable_times = [self.times[i] for i in self.usable_index]
        self._bad_before = [0]
        for ok in self.usable:
            self._bad_before.append(self._bad_before[-1] + (not ok))
        self.data_start = data_start if data_start is not None else self._edge(0)
        self.data_end = data_end if data_end is not None else self._edge(-1)

    def _edge(self, index: int) -> float | None:
        return self.times[index] if self.times else None

    def is_usable(self, point: RawPoint) -> bool:
        if point.value is None or is_bad(point.status):
            return False
        return is_good(point.status) or not self.config.treat_uncertain_as_bad

    def between(self, start: float, end: float) -> list[RawPoint]:
        """Raw points with start ≤ time < end."""
        return self.points[bisect_left(self.times, start) : bisect_left(self.times, end)]

    def last_before(self, time: float) -> list[RawPoint]:
        """The last raw point before `time` (any status), as a list of at most one."""
        index = bisect_left(self.times, time)
        return self.points[index - 1 : index] if index else []

    def bad_between(self, first: int, last: int) -> bool:
        """Any unusable point among points[first:last]."""
        return self._bad_before[max(last, first)] - self._bad_before[first] > 0

    def bound(self, time: float) -> RawPoint:
        """The (raw or interpolated) value at `time`, with its status and bits."""
        at = bisect_left(self.times, time)
        if at < len(self.times) and self.times[at] == time and self.usable[at]:
            point = self.points[at]
            return RawPoint(time, point.value, point.status & 0xFFFF0000)
        before = bisect_left(self.usable_times, time)
        if before == 0:
            return RawPoint(time, None, BAD_NO_DATA)
        prev = self.usable_index[before - 1]
        after = bisect_right(self.usable_times, time)
        if after == len(self.usable_index):
            return self._extrapolate(time, before)
        nxt = self.usable_index[after]
        return self._interpolate(time, prev, nxt)

    def _interpolate(self, time: float, prev: int, nxt: int) -> RawPoint:
        p, q = self.points[prev], self.points[nxt]
        if self.stepped:
            skipped = self.bad_between(prev + 1, bisect_right(self.times, time))
            good = is_good(p.status) and not skipped
            value = p.value
        else:
            skipped = self.bad_between(prev + 1, nxt)
            good = is_good(p.status) and is_good(q.status) and not skipped
            share = (time - p.time) / (q.time - p.time)
            value = float(p.value) + (float(q.value) - float(p.value)) * share  # type: ignore[arg-type]
        severity = GOOD if good else UNCERTAIN_DATA_SUB_NORMAL
        return RawPoint(time, value, with_bits(severity, INTERPOLATED))

    def _extrapolate(self, time: float, before: int) -> RawPoint:
        last = self.points[self.usable_index[before - 1]]
        value = last.value
        sloped = self.config.use_sloped_extrapolation and not self.stepped and before >= 2
        if sloped:
            first = self.points[self.usable_index[before - 2]]
            slope = (float(last.value) - float(first.value)) / (last.time - first.time)  # type: ignore[arg-type]
            value = float(last.value) + slope * (time - last.time)  # type: ignore[arg-type]
        return RawPoint(time, value, with_bits(UNCERTAIN_DATA_SUB_NORMAL, INTERPOLATED))

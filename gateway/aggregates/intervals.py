"""Processing intervals of a processed read (Part 13 §5.4.2.2).

[start, end) is cut into intervals of `processing` seconds from start; the
last one may be shorter. A processing interval of 0 makes one interval.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["MAX_INTERVALS", "Interval", "count_intervals", "intervals"]

#: More intervals than this in one request is refused (bounded work per call).
MAX_INTERVALS = 1_000_000


@dataclass(frozen=True, slots=True)
class Interval:
    start: float
    end: float
    #: The requested processing interval; an interval shorter than it is incomplete.
    length: float

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def complete(self) -> bool:
        return self.duration >= self.length - 1e-9

    def outside(self, data_start: float | None, data_end: float | None) -> bool:
        """Before the start or after the end of the stored data (Part 13: Bad_NoData)."""
        if data_start is None or data_end is None:
            return True
        return self.end <= data_start or self.start > data_end

    def partial(self, data_start: float | None, data_end: float | None) -> bool:
        """Part 13's Partial bit: cut short by the range's end, or reaching beyond the data."""
        if data_start is None or data_end is None:
            return True
        return not self.complete or self.start < data_start or self.end > data_end


def count_intervals(start: float, end: float, processing: float) -> int:
    """How many intervals `intervals` yields; ValueError for a range it refuses."""
    if not (math.isfinite(start) and math.isfinite(end)) or end <= start:
        raise ValueError("the end of an aggregate range must be after its start")
    if processing < 0 or not math.isfinite(processing):
        raise ValueError("the processing interval must be 0 or positive")
    if processing == 0:
        return 1
    # In whole microseconds (the historian's resolution): POSIX seconds as floats carry
    # about 0.2 µs of rounding, which must not add an interval.
    span, step = round((end - start) * 1e6), round(processing * 1e6)
    if step < 1:
        raise ValueError("the processing interval must be at least 1 µs")
    count = -(-span // step)
    if count > MAX_INTERVALS:
        raise ValueError(
            f"{count} intervals asked for; at most {MAX_INTERVALS} per request: "
            "use a longer interval or a shorter range"
        )
    return count


def intervals(start: float, end: float, processing: float) -> Iterator[Interval]:
    """The intervals of [start, end) in time order."""
    count = count_intervals(start, end, processing)
    if processing == 0:
        yield Interval(start, end, end - start)
        return
    for number in range(count):
        begin = start + number * processing
        yield Interval(begin, min(begin + processing, end), processing)

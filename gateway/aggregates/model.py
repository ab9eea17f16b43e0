"""The vocabulary of aggregates: raw points in, aggregate values out, and the settings."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from gateway.model import Value

__all__ = [
    "PUSHDOWN",
    "Aggregate",
    "AggregateConfiguration",
    "AggregateValue",
    "RawPoint",
    "parse_aggregates",
]


@dataclass(frozen=True, slots=True)
class RawPoint:
    """One stored reading: POSIX seconds, the value (None when Bad), an OPC UA StatusCode."""

    time: float
    value: Value | None
    status: int


@dataclass(frozen=True, slots=True)
class AggregateValue:
    """One aggregate result: its timestamp, value (None when Bad) and StatusCode."""

    time: float
    value: Value | None
    status: int


@dataclass(frozen=True, slots=True)
class AggregateConfiguration:
    """Part 13 §4.2.1.2, with the defaults of the server's AggregateConfiguration object."""

    treat_uncertain_as_bad: bool = False
    percent_data_bad: int = 100
    percent_data_good: int = 100
    use_sloped_extrapolation: bool = False

    def __post_init__(self) -> None:
        for name in ("percent_data_bad", "percent_data_good"):
            if not 0 <= getattr(self, name) <= 100:
                raise ValueError(f"{name} must be between 0 and 100")
        if self.percent_data_good + self.percent_data_bad < 100:
            raise ValueError("percent_data_good + percent_data_bad must be at least 100")


class Aggregate(Enum):
    """The supported aggregates: value = (OPC UA AggregateFunction NodeId number, CLI name)."""

    INTERPOLATIVE = (2341, "interpolative")
    AVERAGE = (2342, "average")
    TIME_AVERAGE = (2343, "timeaverage")
    TOTAL = (2344, "total")
    MINIMUM = (2346, "minimum")
    MAXIMUM = (2347, "maximum")
    MINIMUM_ACTUAL_TIME = (2348, "minimumactualtime")
    MAXIMUM_ACTUAL_TIME = (2349, "maximumactualtime")
    RANGE = (2350, "range")
    COUNT = (2352, "count")
    START = (2357, "start")
    END = (2358, "end")
    DELTA = (2359, "delta")
    DURATION_GOOD = (2360, "durationgood")
    DURATION_BAD = (2361, "durationbad")
    PERCENT_GOOD = (2362, "percentgood")
    PERCENT_BAD = (2363, "percentbad")

    @property
    def node_number(self) -> int:
        """The numeric NodeId (namespace 0) of its AggregateFunction object."""
        return self.value[0]

    @property
    def cli_name(self) -> str:
        return self.value[1]

    @property
    def browse_name(self) -> str:
        """The name Part 13 gives it (the BrowseName of its AggregateFunction object)."""
        return "".join(part.capitalize() for part in self.name.split("_"))

    @classmethod
    def from_node_number(cls, number: int) -> Aggregate | None:
        return _BY_NUMBER.get(number)


_BY_NUMBER = {aggregate.node_number: aggregate for aggregate in Aggregate}
_BY_NAME = {aggregate.cli_name: aggregate for aggregate in Aggregate} | {
    "mean": Aggregate.AVERAGE,
    "min": Aggregate.MINIMUM,
    "max": Aggregate.MAXIMUM,
}

#: Computed in SQL per interval (same result as the engine on raw points).
PUSHDOWN = frozenset(
    {Aggregate.COUNT, Aggregate.AVERAGE, Aggregate.MINIMUM, Aggregate.MAXIMUM, Aggregate.RANGE}
)


def parse_aggregates(text: str) -> tuple[Aggregate, ...]:
    """'average,min,Maximum' → the aggregates; ValueError naming an unknown one."""
    chosen: list[Aggregate] = []
    for word in text.split(","):
        name = word.strip().lower().replace("_", "").replace("-", "")
        if not name:
            continue
        aggregate = _BY_NAME.get(name)
        if aggregate is None:
            known = ", ".join(a.cli_name for a in Aggregate)
            raise ValueError(f"unknown aggregate {word.strip()!r}; known: {known}")
        if aggregate not in chosen:
            chosen.append(aggregate)
    if not chosen:
        raise ValueError("no aggregate named")
    return tuple(chosen)

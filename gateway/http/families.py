"""Metric families as plain values, so a part's metrics are written without prometheus-client.

A source is a function `parts → families`, read at scrape time from the
counters the parts keep anyway; prometheus.py turns families into the
exposition format. Names start with `gateway_`, use base units (seconds,
bytes), counters end in `_total`, and no label names a tag.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["PREFIX", "Family", "Histogram", "Kind"]

PREFIX = "gateway_"
#: Label names that would give every tag (or alarm) a series of its own.
_PER_TAG_LABELS = frozenset({"tag", "key", "node", "alarm"})


class Kind(StrEnum):
    GAUGE = "gauge"
    COUNTER = "counter"
    HISTOGRAM = "histogram"


@dataclass(frozen=True, slots=True)
class Histogram:
    """One labelled histogram: `counts[i]` in bucket i alone, the last one above every bound."""

    bounds: Sequence[float]
    counts: Sequence[int]
    total: float


@dataclass(slots=True)
class Family:
    """One metric with its samples: (label values, value) or (label values, Histogram)."""

    name: str
    help: str
    kind: Kind = Kind.GAUGE
    labels: tuple[str, ...] = ()
    samples: list[tuple[tuple[str, ...], float]] = field(default_factory=list)
    histograms: list[tuple[tuple[str, ...], Histogram]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.name.startswith(PREFIX):
            raise ValueError(f"metric {self.name!r} must start with {PREFIX!r}")
        if (self.kind is Kind.COUNTER) != self.name.endswith("_total"):
            raise ValueError(f"metric {self.name!r}: counters, and only they, end in _total")
        if _PER_TAG_LABELS & set(self.labels):
            raise ValueError(f"metric {self.name!r}: no per-tag labels")

    def add(self, value: float, *labels: str) -> Family:
        self.samples.append((labels, float(value)))
        return self

    def add_histogram(self, histogram: Histogram, *labels: str) -> Family:
        self.histograms.append((labels, histogram))
        return self

"""The Prometheus exposition: the only module that imports prometheus-client.

One registry per HTTP server (never the library's global one, so two gateways
in one process, or a test, do not collide) with two collectors: ours, which
turns the families of sources.py into prometheus-client's metric families at
scrape time, and the library's process collector (CPU, memory, file
descriptors) under the `gateway_` prefix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import accumulate

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from gateway.http.families import Family, Kind

__all__ = ["CONTENT_TYPE", "MetricsExporter"]

#: The text exposition format 0.0.4, which every Prometheus scrapes (our names and labels
#: need none of the newer format's escaping, so the body is the same either way).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _FamiliesCollector(Collector):
    """Calls `families()` at each scrape; nothing is kept between scrapes."""

    def __init__(self, families: Callable[[], Iterable[Family]]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        for family in self._families():
            yield _convert(family)

    def describe(self) -> Iterable[Metric]:
        return ()  # registered without a first collection: parts may not have started


def _convert(family: Family) -> Metric:
    labels = list(family.labels)
    metric: Metric
    if family.kind is Kind.HISTOGRAM:
        histogram = HistogramMetricFamily(family.name, family.help, labels=labels)
        for values, observed in family.histograms:
            cumulative = list(accumulate(observed.counts))
            buckets = [
                (repr(float(bound)), float(count))
                for bound, count in zip(observed.bounds, cumulative[:-1], strict=True)
            ]
            buckets.append(("+Inf", float(cumulative[-1])))
            histogram.add_metric(list(values), buckets, observed.total)
        return histogram
    if family.kind is Kind.COUNTER:
        metric = CounterMetricFamily(family.name, family.help, labels=labels)
    else:
        metric = GaugeMetricFamily(family.name, family.help, labels=labels)
    for values, value in family.samples:
        metric.add_metric(list(values), value)
    return metric


class MetricsExporter:
    """Renders the metrics of `families` (and the process's) in the text format."""

    def __init__(self, families: Callable[[], Iterable[Family]]) -> None:
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(_FamiliesCollector(families))
        ProcessCollector(namespace="gateway", registry=self._registry)

    def render(self) -> bytes:
        return generate_latest(self._registry)

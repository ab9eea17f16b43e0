"""Metric families and their Prometheus text: naming rules, histograms, the collector."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.http.families import Family, Histogram, Kind
from gateway.http.prometheus import CONTENT_TYPE, MetricsExporter


@pytest.mark.parametrize(
    ("name", "kind", "labels", "problem"),
    [
        ("requests_total", Kind.COUNTER, (), "must start with 'gateway_'"),
        ("gateway_requests", Kind.COUNTER, (), "counters, and only they, end in _total"),
        ("gateway_queue_total", Kind.GAUGE, (), "counters, and only they, end in _total"),
        ("gateway_value", Kind.GAUGE, ("device", "tag"), "no per-tag labels"),
    ],
)
def test_names_follow_the_rules(
    name: str, kind: Kind, labels: tuple[str, ...], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        Family(name, "help", kind, labels)


def test_the_exporter_renders_what_the_source_returns_at_each_scrape() -> None:
    calls = []

    def families() -> list[Family]:
        calls.append(1)
        return [
            Family("gateway_up", "Up.").add(1),
            Family("gateway_requests_total", "Requests.", Kind.COUNTER, ("device",))
            .add(3, "a")
            .add(4, 'b"\\'),
            Family("gateway_wait_seconds", "Waits.", Kind.HISTOGRAM).add_histogram(
                Histogram((0.1, 1.0), (2, 3, 1), 2.5)
            ),
        ]

    exporter = MetricsExporter(families)
    assert calls == []  # nothing is read until a scrape
    text = exporter.render().decode()
    assert calls == [1]
    assert CONTENT_TYPE == "text/plain; version=0.0.4; charset=utf-8"
    parsed = {family.name: family for family in text_string_to_metric_families(text)}
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in parsed.values()
        for s in family.samples
    }
    assert samples[("gateway_up", ())] == 1
    assert samples[("gateway_requests_total", (("device", 'b"\\'),))] == 4
    # Buckets are cumulative; +Inf and _count hold every observation.
    assert samples[("gateway_wait_seconds_bucket", (("le", "0.1"),))] == 2
    assert samples[("gateway_wait_seconds_bucket", (("le", "1.0"),))] == 5
    assert samples[("gateway_wait_seconds_bucket", (("le", "+Inf"),))] == 6
    assert samples[("gateway_wait_seconds_count", ())] == 6
    assert samples[("gateway_wait_seconds_sum", ())] == 2.5
    assert parsed["gateway_requests"].type == "counter"
    assert "gateway_process_cpu_seconds" in parsed  # the process collector, prefixed too
    exporter.render()
    assert calls == [1, 1]

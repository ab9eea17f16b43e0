"""The chart's data: numbers in time order, thinned without losing a spike (pure)."""

from __future__ import annotations

from gateway.http.chart import CHART_BUCKETS, thin
from gateway.model import Status, TagValue


def _newest_first(values: list[tuple[float, object]]) -> list[TagValue]:
    return [TagValue("d.t", v, Status.GOOD, t, t) for t, v in reversed(values)]  # type: ignore[arg-type]


def test_few_readings_are_kept_as_they_are_in_time_order() -> None:
    chart = thin(
        _newest_first([(1.0, 5.0), (2.0, True), (3.0, "text"), (4.0, float("nan"))]), 0, 10
    )
    assert chart.points == [(1.0, 5.0), (2.0, 1.0)]  # text and NaN cannot be drawn
    assert chart.readings == 4
    assert not chart.truncated


def test_many_readings_are_thinned_per_bucket_keeping_extremes() -> None:
    readings = [(float(t), 10.0) for t in range(3600)]
    readings[1234] = (1234.0, 999.0)  # one spike
    readings[2345] = (2345.0, -5.0)
    chart = thin(_newest_first(readings), 0.0, 3600.0, truncated=True)
    assert len(chart.points) <= 4 * CHART_BUCKETS
    values = [value for _, value in chart.points]
    assert 999.0 in values
    assert -5.0 in values
    times = [time for time, _ in chart.points]
    assert times == sorted(times)
    assert chart.points[0] == (0.0, 10.0)
    assert chart.points[-1] == (3599.0, 10.0)
    assert chart.truncated
    json = chart.as_json("d.t", "bar", 0.0, 3600.0)
    assert json["unit"] == "bar"
    assert json["points"][0] == [0.0, 10.0]

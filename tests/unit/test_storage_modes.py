"""Storage modes with a fake clock: on_change, every_scan (repeats) and sampled (slots)."""

from __future__ import annotations

import math

import pytest

from gateway.config import GatewayConfig, StorageMode
from gateway.model import Status, TagValue
from gateway.storage.modes import Recorder, TagPolicy, tag_policies
from gateway.storage.rows import Row

GOOD = Status.GOOD


def _value(key: str, value: float, at: float, status: Status = GOOD) -> TagValue:
    return TagValue(key, value, status, at, at)


def _times(rows: list[Row], key: str) -> list[float]:
    return [row[1] / 1e6 for row in rows if row[0] == key]


def test_on_change_stores_every_published_value_at_its_time() -> None:
    recorder = Recorder([TagPolicy("d.a")], now=100.0)
    rows: list[Row] = []
    recorder.accept([_value("d.a", 1.0, 100.25), _value("d.a", 2.0, 100.5)], rows)
    recorder.tick(200.0, rows)
    assert [(row[1], row[2]) for row in rows] == [(100_250_000, 1.0), (100_500_000, 2.0)]
    assert recorder.next_due == math.inf


def test_every_scan_repeats_the_last_value_only_in_intervals_without_a_change() -> None:
    recorder = Recorder([TagPolicy("d.a", StorageMode.EVERY_SCAN, 1.0)], now=100.1)
    rows: list[Row] = []
    recorder.accept([_value("d.a", 1.0, 100.2)], rows)
    assert recorder.next_due == 101.0
    recorder.tick(101.0, rows)  # a change 0.8 s ago: no repeat
    recorder.tick(102.0, rows)  # nothing for a whole interval: repeated at the slot
    recorder.tick(103.0, rows)
    recorder.accept([_value("d.a", 5.0, 103.5)], rows)
    recorder.tick(104.0, rows)  # a change 0.5 s ago
    recorder.tick(105.0, rows)
    assert _times(rows, "d.a") == [100.2, 102.0, 103.0, 103.5, 105.0]
    assert [row[2] for row in rows] == [1.0, 1.0, 1.0, 5.0, 5.0]


def test_sampled_stores_only_the_last_value_at_wall_clock_multiples() -> None:
    recorder = Recorder([TagPolicy("d.s", StorageMode.SAMPLED, 10.0)], now=103.0)
    rows: list[Row] = []
    recorder.tick(110.0, rows)  # nothing known yet: nothing to sample
    recorder.accept([_value("d.s", 1.0, 111.0), _value("d.s", 2.0, 115.0)], rows)
    assert rows == []  # changes are not stored
    recorder.tick(120.0, rows)
    recorder.accept([_value("d.s", 0.0, 121.0, Status.BAD_NO_COMMUNICATION)], rows)
    recorder.tick(130.0, rows)
    assert _times(rows, "d.s") == [120.0, 130.0]
    assert [(row[2], row[4]) for row in rows] == [(2.0, 0), (0.0, 0x80310000)]


def test_missed_slots_are_skipped_not_replayed() -> None:
    recorder = Recorder([TagPolicy("d.s", StorageMode.SAMPLED, 1.0)], now=0.5)
    rows: list[Row] = []
    recorder.accept([_value("d.s", 1.0, 0.6)], rows)
    recorder.tick(5.5, rows)  # the writer was stalled for 4.5 s
    assert _times(rows, "d.s") == [1.0]
    assert recorder.next_due == 6.0


def test_values_of_unknown_tags_are_ignored_and_counted() -> None:
    recorder = Recorder([TagPolicy("d.a")], now=0.0)
    rows: list[Row] = []
    recorder.accept([_value("x.y", 1.0, 1.0)], rows)
    assert rows == []
    assert recorder.unknown == 1


def test_policies_come_from_the_tag_config_with_scan_interval_for_every_scan() -> None:
    config = GatewayConfig.model_validate(
        {
            "gateway": {"name": "g"},
            "devices": [
                {
                    "name": "d",
                    "host": "h",
                    "scan_interval": "2s",
                    "tags": [
                        {"name": "a", "ref": 40001, "type": "uint16"},
                        {"name": "b", "ref": 40002, "type": "uint16", "storage": "every_scan"},
                        {
                            "name": "c",
                            "ref": 40003,
                            "type": "uint16",
                            "storage": "every_scan",
                            "scan_interval": "250ms",
                        },
                        {
                            "name": "s",
                            "ref": 40004,
                            "type": "uint16",
                            "storage": "sampled",
                            "sample_interval": "1m",
                        },
                    ],
                }
            ],
        }
    )
    assert tag_policies(config) == [
        TagPolicy("d.a", StorageMode.ON_CHANGE, None),
        TagPolicy("d.b", StorageMode.EVERY_SCAN, 2.0),
        TagPolicy("d.c", StorageMode.EVERY_SCAN, 0.25),
        TagPolicy("d.s", StorageMode.SAMPLED, 60.0),
    ]


def test_a_sampled_policy_without_interval_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="needs an interval"):
        Recorder([TagPolicy("d.s", StorageMode.SAMPLED, None)], now=0.0)

"""The writer's row buffer: bounded, oldest dropped first, every drop counted and logged."""

from __future__ import annotations

import logging

import pytest

from gateway.storage.buffer import RowBuffer
from gateway.storage.rows import Row


def _rows(start: int, stop: int) -> list[Row]:
    return [("d.t", ts, float(ts), None, 0) for ts in range(start, stop)]


def test_beyond_the_limit_the_oldest_rows_go_and_are_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    buffer = RowBuffer(limit=5)
    with caplog.at_level(logging.WARNING, "gateway.storage.buffer"):
        buffer.extend(_rows(0, 8))
    assert len(buffer) == 5
    assert buffer.dropped == 3
    assert [row[1] for row in buffer.take(10)] == [3, 4, 5, 6, 7]
    assert "dropped the 3 oldest row(s)" in caplog.text


def test_a_failed_batch_goes_back_in_front_and_the_bound_still_holds() -> None:
    buffer = RowBuffer(limit=6)
    buffer.extend(_rows(0, 6))
    batch = buffer.take(4)
    assert [row[1] for row in batch] == [0, 1, 2, 3]
    buffer.extend(_rows(6, 9))  # arrived while the batch was being written
    buffer.put_back(batch)  # the commit failed
    assert buffer.dropped == 3  # 9 rows, room for 6: the 3 oldest of the failed batch go
    assert [row[1] for row in buffer.take(100)] == [3, 4, 5, 6, 7, 8]


def test_take_returns_the_oldest_rows_in_order() -> None:
    buffer = RowBuffer(limit=100)
    buffer.extend(_rows(0, 10))
    assert [row[1] for row in buffer.take(3)] == [0, 1, 2]
    assert len(buffer) == 7


def test_giving_up_at_shutdown_is_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    buffer = RowBuffer(limit=100)
    buffer.extend(_rows(0, 10))
    with caplog.at_level(logging.ERROR, "gateway.storage.buffer"):
        assert buffer.drop_all("database down") == 10
    assert buffer.dropped == 10
    assert len(buffer) == 0
    assert "10 buffered row(s) dropped: database down" in caplog.text

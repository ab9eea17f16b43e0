"""Client-caused faults as rate-limited log lines (guards/faultlog.py), on a fake clock.

A real logging.Logger, captured by caplog: what an operator reads in the log.
"""

from __future__ import annotations

import logging

import pytest

from gateway.opcua.guards import FaultLog

LOGGER = "test.opcua.faultlog"


@pytest.fixture
def faults(caplog: pytest.LogCaptureFixture) -> FaultLog:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    return FaultLog(logging.getLogger(LOGGER), lines_per_window=2, window=10.0)


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


def test_lines_per_window_then_silence(faults: FaultLog, caplog: pytest.LogCaptureFixture) -> None:
    logged = [
        faults.report("framing", float(now), "bad frame from %s", f"peer{now}") for now in range(5)
    ]
    assert logged == [True, True, False, False, False]
    assert _lines(caplog) == ["bad frame from peer0", "bad frame from peer1"]


def test_the_next_windows_first_line_says_how_many_were_left_out(
    faults: FaultLog, caplog: pytest.LogCaptureFixture
) -> None:
    for now in range(5):  # 2 logged, 3 left out
        faults.report("framing", float(now), "bad frame from %s", "p")
    assert faults.report("framing", 9.9, "bad frame from %s", "p") is False  # same window
    assert faults.report("framing", 10.0, "bad frame from %s", "q") is True
    assert faults.report("framing", 11.0, "bad frame from %s", "r") is True
    assert _lines(caplog)[2:] == [
        "bad frame from q (4 more like it left out of the log before)",
        "bad frame from r",
    ]


def test_a_quiet_window_reports_nothing_left_out(
    faults: FaultLog, caplog: pytest.LogCaptureFixture
) -> None:
    faults.report("idle", 0.0, "idle connection")
    faults.report("idle", 50.0, "idle connection")
    assert _lines(caplog) == ["idle connection", "idle connection"]


def test_kinds_are_limited_independently(
    faults: FaultLog, caplog: pytest.LogCaptureFixture
) -> None:
    for now in range(4):
        faults.report("framing", float(now), "bad frame")
    assert faults.report("lockout", 4.0, "locked out %s", "10.0.0.66") is True
    assert faults.report("lockout", 5.0, "locked out %s", "10.0.0.66") is True
    assert faults.report("lockout", 6.0, "locked out %s", "10.0.0.66") is False
    assert faults.report("framing", 10.0, "bad frame") is True  # framing's window is over
    assert _lines(caplog) == [
        "bad frame",
        "bad frame",
        "locked out 10.0.0.66",
        "locked out 10.0.0.66",
        "bad frame (2 more like it left out of the log before)",
    ]


def test_lines_are_warnings_without_a_traceback(
    faults: FaultLog, caplog: pytest.LogCaptureFixture
) -> None:
    try:
        raise ValueError("malformed")
    except ValueError:
        faults.report("malformed", 0.0, "unreadable message from %s", "p")
    [record] = [r for r in caplog.records if r.name == LOGGER]
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    assert "Traceback" not in caplog.text


def test_the_level_is_configurable(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    faults = FaultLog(logging.getLogger(LOGGER), level=logging.INFO)
    faults.report("refused", 0.0, "refused")
    [record] = [r for r in caplog.records if r.name == LOGGER]
    assert record.levelno == logging.INFO

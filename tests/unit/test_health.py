"""Reconnect backoff and demotion policy (pure)."""

from __future__ import annotations

import random

import pytest

from gateway.errors import (
    DeviceError,
    DeviceTimeout,
    DeviceUnreachable,
    MalformedResponse,
    ModbusException,
)
from gateway.modbus.health import (
    RESPONSE_TIME_BOUNDS,
    DeviceHealth,
    DeviceState,
    ErrorKind,
    ResponseTimes,
    RetryPolicy,
    error_kind,
)


def test_backoff_doubles_up_to_the_cap_with_jitter_below_nominal() -> None:
    policy = RetryPolicy(reconnect_min=0.5, reconnect_max=4.0, demote_after=0, jitter=0.5)
    rng = random.Random(1)
    for failures, nominal in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 4.0), (60, 4.0)]:
        delays = [policy.after_failure(failures, rng) for _ in range(200)]
        assert {state for state, _ in delays} == {DeviceState.BACKOFF}
        values = [delay for _, delay in delays]
        assert nominal * 0.5 <= min(values) < nominal * 0.6
        assert nominal * 0.9 < max(values) <= nominal


def test_demotion_after_n_consecutive_failures() -> None:
    policy = RetryPolicy(demote_after=3, demote_for=10.0)
    rng = random.Random(0)
    states = [policy.after_failure(n, rng)[0] for n in range(1, 7)]
    assert states == [
        DeviceState.BACKOFF,
        DeviceState.BACKOFF,
        DeviceState.DEMOTED,
        DeviceState.BACKOFF,
        DeviceState.BACKOFF,
        DeviceState.DEMOTED,
    ]
    assert policy.after_failure(3, rng) == (DeviceState.DEMOTED, 10.0)


def test_after_failure_needs_a_failure() -> None:
    with pytest.raises(ValueError, match="at least one failure"):
        RetryPolicy().after_failure(0, random.Random())


def test_health_records_and_versions() -> None:
    health = DeviceHealth("plc")
    assert health.enter(DeviceState.OK) is True
    assert health.connected is True
    assert health.enter(DeviceState.OK) is False
    health.record_response(100.0, 0.002)
    health.record_error("DeviceTimeout: no answer", kind=ErrorKind.TIMEOUT)
    health.record_error("refused", request=False)
    assert (health.requests, health.errors, health.timeouts) == (2, 2, 1)
    assert health.response_time_ms == pytest.approx(2.0)
    assert health.last_error == "refused"
    assert health.version == 5


def test_errors_by_kind_add_up_to_every_error() -> None:
    health = DeviceHealth("plc")
    health.record_error("no answer", kind=ErrorKind.TIMEOUT)
    health.record_error("refused", request=False)
    health.record_error("short frame", kind=ErrorKind.MALFORMED)
    health.record_error("bug", kind=ErrorKind.OTHER)
    health.errors += 2  # what the poller does for a Modbus exception answer
    kinds = health.errors_by_kind()
    assert kinds == {
        ErrorKind.TIMEOUT: 1,
        ErrorKind.CONNECTION: 1,
        ErrorKind.MALFORMED: 1,
        ErrorKind.EXCEPTION: 2,
        ErrorKind.OTHER: 1,
    }
    assert sum(kinds.values()) == health.errors == 6
    assert health.requests == 3  # the refused connection was no request


def test_error_kind_of_each_device_error() -> None:
    lost = DeviceUnreachable("connection lost")
    lost.__cause__ = DeviceTimeout("no answer")
    assert error_kind(DeviceTimeout("no answer")) is ErrorKind.TIMEOUT
    assert error_kind(lost) is ErrorKind.TIMEOUT
    assert error_kind(DeviceUnreachable("refused")) is ErrorKind.CONNECTION
    assert error_kind(MalformedResponse("short")) is ErrorKind.MALFORMED
    assert error_kind(DeviceError("internal error: boom")) is ErrorKind.OTHER
    assert error_kind(ModbusException(2, "illegal address")) is ErrorKind.EXCEPTION


def test_response_times_fall_into_buckets_at_or_below_their_bound() -> None:
    times = ResponseTimes()
    for seconds in (0.0005, 0.001, 0.0011, 0.3, 99.0):
        times.observe(seconds)
    assert len(times.counts) == len(RESPONSE_TIME_BOUNDS) + 1
    assert times.counts[0] == 2  # 0.5 ms and exactly 1 ms: le="0.001"
    assert times.counts[1] == 1  # 1.1 ms: le="0.0025"
    assert times.counts[RESPONSE_TIME_BOUNDS.index(0.5)] == 1
    assert times.counts[-1] == 1  # beyond the largest bound: only +Inf
    assert times.total == pytest.approx(99.3026)

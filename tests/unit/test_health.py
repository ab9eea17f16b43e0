"""Reconnect backoff and demotion policy (pure)."""

from __future__ import annotations

import random

import pytest

from gateway.modbus.health import DeviceHealth, DeviceState, RetryPolicy


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
    health.record_error("DeviceTimeout: no answer", timeout=True)
    health.record_error("refused", request=False)
    assert (health.requests, health.errors, health.timeouts) == (2, 2, 1)
    assert health.response_time_ms == pytest.approx(2.0)
    assert health.last_error == "refused"
    assert health.version == 5

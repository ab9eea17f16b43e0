"""The abnormal-state kinds on the pure machine, at their exact boundaries:
rate of change, deviation, stale, quality (times are passed in, as a fake clock would)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.alarms.machine import AlarmMachine, Change
from gateway.alarms.model import AlarmState, Transition
from gateway.config.alarms import AlarmConfig, AlarmKind
from gateway.model import DataType, Status

GOOD = Status.GOOD
BAD = Status.BAD_NO_COMMUNICATION
T0 = 1_700_000_000.0


def machine(scan: float | None = 1.0, **fields: Any) -> AlarmMachine:
    alarm = AlarmConfig.model_validate({"name": "a", "tag": "d.t", **fields})
    return AlarmMachine(alarm, now=T0, unit="bar", data_type=DataType.FLOAT64, scan_interval=scan)


def states(changes: list[Change]) -> list[tuple[Transition, AlarmState]]:
    return [(c.transition, c.snapshot.state) for c in changes if c.transition.journaled]


ACTIVATED = [(Transition.ACTIVATED, AlarmState.UNACK)]
CLEARED = [(Transition.CLEARED, AlarmState.RTN_UNACK)]


# -- rate of change -----------------------------------------------------------------------


def test_rate_trips_strictly_above_the_limit_per_unit() -> None:
    m = machine(rate_of_change={"per": "1m", "limit": 60})  # 60 bar/min = 1 bar/s
    assert m.alarm.kind is AlarmKind.RATE_OF_CHANGE
    m.update(10.0, GOOD, T0)
    assert states(m.update(11.0, GOOD, T0 + 1)) == []  # exactly 60/min: not above
    changes = m.update(12.5, GOOD, T0 + 2)  # 1.5 bar in 1 s = 90/min
    assert states(changes) == ACTIVATED
    assert changes[-1].snapshot.limit == "high"
    assert "changes faster than 60 bar per 1m" in changes[-1].snapshot.message


def test_rate_counts_either_direction() -> None:
    m = machine(rate_of_change={"per": "1s", "limit": 2})
    m.update(10.0, GOOD, T0)
    assert states(m.update(7.0, GOOD, T0 + 1)) == ACTIVATED


def test_a_step_after_a_long_still_time_counts_over_one_scan_not_the_still_time() -> None:
    """The bus publishes changes only: the old value held until the scan before."""
    m = machine(scan=1.0, rate_of_change={"per": "1s", "limit": 5})
    m.update(20.0, GOOD, T0)
    assert states(m.update(80.0, GOOD, T0 + 3600)) == ACTIVATED  # 60 in ≤ 1 s, not in 1 h


def test_rate_clears_by_itself_once_the_value_holds_back_by_the_deadband() -> None:
    m = machine(rate_of_change={"per": "1s", "limit": 4}, deadband=2)
    m.update(0.0, GOOD, T0)
    assert states(m.update(10.0, GOOD, T0 + 1)) == ACTIVATED  # 10/s
    # Held: the rate over the window is 10/(t − T0); the hold limit is 4 − 2 = 2/s,
    # reached at exactly T0 + 5 (the machine asks to be woken then).
    assert m.deadline == T0 + 5
    assert m.tick(T0 + 4.999) == []
    assert states(m.tick(T0 + 5)) == CLEARED
    assert m.deadline is None


def test_rate_holds_within_the_deadband_while_changing() -> None:
    m = machine(rate_of_change={"per": "1s", "limit": 4}, deadband=2)
    m.update(0.0, GOOD, T0)
    m.update(5.0, GOOD, T0 + 1)  # 5/s: active
    assert states(m.update(8.0, GOOD, T0 + 2)) == []  # 3/s: inside the deadband, held
    assert states(m.update(10.0, GOOD, T0 + 3)) == CLEARED  # exactly 2/s: back


def test_a_bad_value_ends_the_rate_history() -> None:
    m = machine(rate_of_change={"per": "1s", "limit": 5})
    m.update(0.0, GOOD, T0)
    m.update(None, BAD, T0 + 1)
    assert states(m.update(100.0, GOOD, T0 + 2)) == []  # no step across the gap
    assert states(m.update(100.0 + 5.5, GOOD, T0 + 3)) == ACTIVATED


def test_rate_on_delay_needs_the_rate_to_last() -> None:
    m = machine(rate_of_change={"per": "1s", "limit": 1}, delay="2s")
    m.update(0.0, GOOD, T0)
    assert states(m.update(10.0, GOOD, T0 + 1)) == []  # 10/s, pending until T0 + 3
    assert m.deadline == T0 + 3
    assert states(m.tick(T0 + 3)) == ACTIVATED  # 10 over 3 s: still above 1/s


# -- deviation ------------------------------------------------------------------------------


def deviation(**fields: Any) -> AlarmMachine:
    return machine(deviation={"from": "d.sp", "limit": 5}, **fields)


def test_deviation_trips_strictly_beyond_the_limit_either_side() -> None:
    m = deviation(deadband=1)
    assert m.alarm.kind is AlarmKind.DEVIATION
    m.update_reference(100.0, GOOD, T0)
    assert states(m.update(105.0, GOOD, T0)) == []  # exactly 5 off: not beyond
    assert states(m.update(94.9, GOOD, T0 + 1)) == ACTIVATED
    assert states(m.update(95.5, GOOD, T0 + 2)) == []  # 4.5 off: inside the deadband
    assert states(m.update(96.0, GOOD, T0 + 3)) == CLEARED  # exactly 4 off: back


def test_deviation_follows_the_reference_tag() -> None:
    m = deviation()
    m.update(100.0, GOOD, T0)  # no reference yet: nothing to compare
    assert m.snapshot.state is AlarmState.NORMAL
    assert m.update_reference(100.0, GOOD, T0) == []
    assert states(m.update_reference(110.0, GOOD, T0 + 1)) == ACTIVATED
    assert "deviates from d.sp by more than 5 bar" in m.snapshot.message
    # A reference that is not Good keeps the state (no false clear).
    assert m.update_reference(None, BAD, T0 + 2) == []
    assert m.update(100.0, GOOD, T0 + 3) == []
    assert m.snapshot.state is AlarmState.UNACK
    assert states(m.update_reference(101.0, GOOD, T0 + 4)) == CLEARED


# -- stale ----------------------------------------------------------------------------------


def test_stale_trips_at_exactly_the_time_unchanged_and_a_change_clears_it() -> None:
    m = machine(stale="10m")
    assert m.alarm.kind is AlarmKind.STALE
    m.update(42.0, GOOD, T0)
    assert m.deadline == T0 + 600
    assert m.tick(T0 + 599.999) == []
    changes = m.tick(T0 + 600)
    assert states(changes) == ACTIVATED
    assert changes[-1].snapshot.message == "d.t frozen at 42 bar for 10m"
    assert m.deadline is None  # active: only a change can clear it
    assert states(m.update(42.5, GOOD, T0 + 700)) == CLEARED


def test_a_changing_value_is_never_stale_and_a_repeat_is_no_change() -> None:
    m = machine(stale="10s")
    m.update(1.0, GOOD, T0)
    m.update(2.0, GOOD, T0 + 9)
    assert m.tick(T0 + 10) == []
    assert m.deadline == T0 + 19
    m.update(2.0, GOOD, T0 + 15)  # the same value again: still unchanged since T0 + 9
    assert states(m.tick(T0 + 19)) == ACTIVATED


def test_stale_counts_good_values_only() -> None:
    m = machine(stale="10s")
    m.update(1.0, GOOD, T0)
    m.update(1.0, BAD, T0 + 5)  # not a frozen Good value: the time starts again
    assert m.deadline is None
    assert m.tick(T0 + 10) == []
    m.update(1.0, GOOD, T0 + 12)
    assert m.deadline == T0 + 22


def test_stale_with_an_off_delay_and_a_restart_on_the_same_value() -> None:
    m = machine(stale="10s")
    m.update(5.0, GOOD, T0)
    m.tick(T0 + 10)
    restarted = machine(stale="10s")
    restored = restarted.restore(AlarmState.UNACK, None, value=5.0, message="frozen", time=T0 + 10)
    assert restored is not None
    assert restarted.update(5.0, GOOD, T0 + 20)[-1].transition is Transition.QUALITY
    assert restarted.snapshot.state is AlarmState.UNACK  # the same value: still frozen
    assert states(restarted.update(6.0, GOOD, T0 + 21)) == CLEARED


# -- quality --------------------------------------------------------------------------------


def test_quality_trips_once_not_good_for_the_time_and_good_clears_it() -> None:
    m = machine(quality="30s")
    assert m.alarm.kind is AlarmKind.QUALITY
    m.update(7.0, GOOD, T0)
    assert m.deadline is None
    m.update(
        7.0, Status.UNCERTAIN_NO_COMMUNICATION_LAST_USABLE_VALUE, T0 + 10
    )  # Uncertain is not Good
    assert m.deadline == T0 + 40
    m.update(None, BAD, T0 + 20)  # still not Good: the time counts from the first
    assert m.tick(T0 + 39.999) == []
    changes = m.tick(T0 + 40)
    assert states(changes) == ACTIVATED
    assert changes[-1].snapshot.message == "d.t not Good for 30s"
    assert changes[-1].snapshot.quality is BAD
    assert states(m.update(8.0, GOOD, T0 + 50)) == CLEARED


def test_quality_counts_from_the_start_when_no_value_ever_comes() -> None:
    m = machine(quality="30s")
    assert m.deadline == T0 + 30
    assert states(m.tick(T0 + 30)) == ACTIVATED


def test_a_short_outage_is_no_quality_alarm() -> None:
    m = machine(quality="30s")
    m.update(1.0, GOOD, T0)
    m.update(None, BAD, T0 + 1)
    m.update(1.0, GOOD, T0 + 30.9)
    assert m.deadline is None
    assert m.tick(T0 + 31) == []
    assert m.snapshot.state is AlarmState.NORMAL


def test_quality_zero_trips_at_once_and_its_off_delay_holds() -> None:
    m = machine(quality=0, off_delay="5s")
    m.update(1.0, GOOD, T0)
    assert states(m.update(None, BAD, T0 + 1)) == ACTIVATED
    assert states(m.update(1.0, GOOD, T0 + 2)) == []
    assert m.deadline == T0 + 7
    assert states(m.tick(T0 + 7)) == CLEARED


@pytest.mark.parametrize(
    "fields",
    [
        {"rate_of_change": {"per": "1s", "limit": 1}},
        {"deviation": {"from": "d.sp", "limit": 1}},
        {"stale": "10s"},
        {"quality": "10s"},
    ],
)
def test_a_timer_never_spins_after_its_wakeup(fields: dict[str, Any]) -> None:
    """Once a rule's wakeup is spent, the deadline moves on or goes: the engine's
    timer would otherwise fire again and again at the same time."""
    m = machine(**fields)
    m.update_reference(0.0, GOOD, T0)
    m.update(0.0, GOOD, T0)
    m.update(3.0, GOOD, T0 + 1)
    for _ in range(5):
        due = m.deadline
        if due is None:
            break
        m.tick(due)
        assert m.deadline is None or m.deadline > due

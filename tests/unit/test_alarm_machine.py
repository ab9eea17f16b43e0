"""The pure alarm state machine: every transition, hysteresis at its bounds, delays, quality."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.alarms.machine import AlarmMachine, Change
from gateway.alarms.model import AlarmState, Transition
from gateway.config.alarms import AlarmConfig
from gateway.errors import AlarmAlreadyAcked
from gateway.model import DataType, Status

GOOD = Status.GOOD
T0 = 1_700_000_000.0


def machine(data_type: DataType = DataType.FLOAT64, **fields: Any) -> AlarmMachine:
    alarm = AlarmConfig.model_validate({"name": "a", "tag": "d.t", **fields})
    return AlarmMachine(alarm, now=T0, unit="degC", data_type=data_type)


LIMITS: dict[str, Any] = {"low_low": 0, "low": 10, "high": 90, "high_high": 110, "deadband": 1}


def journaled(changes: list[Change]) -> list[tuple[Transition, AlarmState, str | None]]:
    return [
        (c.transition, c.snapshot.state, c.snapshot.limit)
        for c in changes
        if c.transition.journaled
    ]


def feed(
    m: AlarmMachine, *values: float, now: float = T0
) -> list[tuple[Transition, AlarmState, str | None]]:
    out = []
    for value in values:
        out += journaled(m.update(value, GOOD, now))
    return out


def test_starts_normal_waiting_for_data_then_good_quality_is_a_quality_change() -> None:
    m = machine(**LIMITS)
    assert m.snapshot.state is AlarmState.NORMAL
    assert m.snapshot.quality is Status.BAD_WAITING_FOR_INITIAL_DATA
    changes = m.update(50.0, GOOD, T0)
    assert [c.transition for c in changes] == [Transition.QUALITY]
    assert changes[0].snapshot.quality is GOOD
    assert m.deadline is None


@pytest.mark.parametrize(
    ("limit", "at", "beyond", "back_inside", "held"),
    [
        ("high", 90.0, 90.5, 89.0, 89.5),
        ("low", 10.0, 9.5, 11.0, 10.5),
    ],
)
def test_trip_is_strict_and_return_needs_the_deadband(
    limit: str, at: float, beyond: float, back_inside: float, held: float
) -> None:
    m = machine(**LIMITS)
    assert feed(m, 50.0, at) == []  # exactly at the limit: no trip
    assert feed(m, beyond) == [(Transition.ACTIVATED, AlarmState.UNACK, limit)]
    assert feed(m, at, held) == []  # inside the deadband: still active
    assert m.snapshot.state is AlarmState.UNACK
    assert feed(m, back_inside) == [(Transition.CLEARED, AlarmState.RTN_UNACK, limit)]


def test_exclusive_limits_escalation_reunacks_deescalation_keeps_the_ack() -> None:
    m = machine(**LIMITS)
    feed(m, 95.0)
    m.acknowledge("op", "seen", T0)
    assert m.snapshot.state is AlarmState.ACKED
    assert feed(m, 110.0) == []  # at high_high: still high
    assert feed(m, 111.0) == [(Transition.LIMIT_CHANGED, AlarmState.UNACK, "high_high")]
    m.acknowledge("op", "", T0)
    assert feed(m, 109.5) == []  # high_high held within its deadband
    assert feed(m, 109.0) == [(Transition.LIMIT_CHANGED, AlarmState.ACKED, "high")]
    assert feed(m, 89.0) == [(Transition.CLEARED, AlarmState.NORMAL, "high")]


def test_a_jump_straight_to_high_high_and_across_to_the_low_side() -> None:
    m = machine(**LIMITS)
    assert feed(m, 50.0, 200.0) == [(Transition.ACTIVATED, AlarmState.UNACK, "high_high")]
    m.acknowledge("op", "", T0)
    assert feed(m, -5.0) == [(Transition.LIMIT_CHANGED, AlarmState.UNACK, "low_low")]
    assert feed(m, 0.5) == []  # low_low held until 0 + 1
    assert feed(m, 1.0) == [(Transition.LIMIT_CHANGED, AlarmState.UNACK, "low")]
    assert feed(m, 11.0) == [(Transition.CLEARED, AlarmState.RTN_UNACK, "low")]


def test_retrip_from_returned_unacked_and_ack_in_each_state() -> None:
    m = machine(high=90)
    with pytest.raises(AlarmAlreadyAcked, match="normal"):
        m.acknowledge("op", "", T0)
    feed(m, 95.0, 80.0)
    assert m.snapshot.state is AlarmState.RTN_UNACK
    assert feed(m, 95.0) == [(Transition.ACTIVATED, AlarmState.UNACK, "high")]
    change = m.acknowledge("alice", "on it", T0 + 5)
    assert change.transition is Transition.ACKNOWLEDGED
    assert (change.snapshot.state, change.snapshot.user, change.snapshot.comment) == (
        AlarmState.ACKED,
        "alice",
        "on it",
    )
    assert change.snapshot.time == T0 + 5
    with pytest.raises(AlarmAlreadyAcked, match="acknowledged already"):
        m.acknowledge("op", "", T0)
    feed(m, 80.0, 95.0, 80.0)
    assert m.acknowledge("bob", "", T0).snapshot.state is AlarmState.NORMAL


def test_on_delay_suppresses_a_short_spike() -> None:
    m = machine(high=90, delay=2.0)
    m.update(50.0, GOOD, T0)
    assert journaled(m.update(95.0, GOOD, T0 + 1)) == []
    assert m.deadline == T0 + 3
    assert journaled(m.update(80.0, GOOD, T0 + 2)) == []
    assert m.deadline is None
    assert m.tick(T0 + 10) == []
    assert m.snapshot.state is AlarmState.NORMAL


def test_a_static_value_trips_when_the_delay_expires() -> None:
    m = machine(high=90, delay=2.0)
    m.update(95.0, GOOD, T0)
    assert m.tick(T0 + 1.999) == []
    assert journaled(m.tick(T0 + 2)) == [(Transition.ACTIVATED, AlarmState.UNACK, "high")]
    assert m.snapshot.time == T0 + 2
    assert m.deadline is None


def test_the_delay_counts_from_the_first_excursion_even_if_it_worsens() -> None:
    m = machine(high=90, high_high=110, delay=2.0)
    m.update(95.0, GOOD, T0)
    m.update(120.0, GOOD, T0 + 1)  # still escalating: the timer keeps running
    assert journaled(m.tick(T0 + 2)) == [(Transition.ACTIVATED, AlarmState.UNACK, "high_high")]


def test_off_delay_holds_the_alarm_and_a_relapse_cancels_it() -> None:
    m = machine(high=90, off_delay=5.0)
    feed(m, 95.0)
    assert feed(m, 80.0, now=T0 + 1) == []
    assert m.deadline == T0 + 6
    assert feed(m, 95.0, now=T0 + 2) == []  # back above: the clear is off
    assert m.deadline is None
    m.update(80.0, GOOD, T0 + 3)
    assert journaled(m.tick(T0 + 8)) == [(Transition.CLEARED, AlarmState.RTN_UNACK, "high")]


def test_bad_quality_neither_clears_nor_trips_and_cancels_delays() -> None:
    m = machine(high=90, delay=1.0)
    feed(m, 95.0)
    m.tick(T0 + 1)
    assert m.snapshot.state is AlarmState.UNACK
    changes = m.update(None, Status.BAD_NO_COMMUNICATION, T0 + 2)
    assert [c.transition for c in changes] == [Transition.QUALITY]
    assert changes[0].snapshot.state is AlarmState.UNACK  # no false clear
    assert changes[0].snapshot.quality is Status.BAD_NO_COMMUNICATION
    uncertain = Status.UNCERTAIN_NO_COMMUNICATION_LAST_USABLE_VALUE
    assert [c.transition for c in m.update(50.0, uncertain, T0 + 3)] == [Transition.QUALITY]
    assert m.snapshot.state is AlarmState.UNACK

    n = machine(high=90, delay=1.0)
    n.update(95.0, GOOD, T0)
    assert n.deadline is not None
    n.update(95.0, Status.BAD_TIMEOUT, T0 + 0.5)
    assert n.deadline is None  # the delay needs the condition seen to hold
    assert n.tick(T0 + 5) == []
    assert n.snapshot.state is AlarmState.NORMAL  # no false trip
    back = n.update(95.0, GOOD, T0 + 6)
    assert [c.transition for c in back] == [Transition.QUALITY]  # the delay starts afresh
    assert journaled(n.tick(T0 + 7)) == [(Transition.ACTIVATED, AlarmState.UNACK, "high")]


def test_discrete_alarms_on_bools_and_numbers() -> None:
    flag = machine(DataType.BOOL, equals=True, message="Flame failure")
    assert journaled(flag.update(False, GOOD, T0)) == []
    [(transition, state, limit)] = journaled(flag.update(True, GOOD, T0))
    assert (transition, state, limit) == (Transition.ACTIVATED, AlarmState.UNACK, None)
    assert flag.snapshot.message == "Flame failure"
    assert journaled(flag.update(False, GOOD, T0)) == [
        (Transition.CLEARED, AlarmState.RTN_UNACK, None)
    ]

    code = machine(DataType.UINT16, equals=3)
    assert journaled(code.update(2, GOOD, T0)) == []
    assert journaled(code.update(3, GOOD, T0)) == [(Transition.ACTIVATED, AlarmState.UNACK, None)]
    assert code.snapshot.message == "d.t is 3"


def test_messages_fill_every_field_and_show_float32_readably() -> None:
    m = machine(
        DataType.FLOAT32,
        high=90,
        severity=700,
        message="{alarm} on {device} {tag}: {value} {unit} > {limit} ({severity})",
    )
    m.update(123.45600128173828, GOOD, T0)
    assert m.snapshot.message == "a on d d.t: 123.456 degC > 90 (700)"
    assert m.snapshot.value == 123.45600128173828


def test_default_messages_say_which_limit_and_the_clear() -> None:
    m = machine(low=10.5, deadband=0.5)
    m.update(9.25, GOOD, T0)
    assert m.snapshot.message == "d.t 9.25 degC below the low limit 10.5"
    m.update(23.400000000000002, GOOD, T0)
    assert m.snapshot.message == "d.t 23.4 degC back within the low limit 10.5"


def test_restore_keeps_the_state_and_the_next_value_decides() -> None:
    m = machine(high=90, high_high=110, deadband=1)
    change = m.restore(AlarmState.UNACK, "high", value=95.0, message="hot", time=T0 - 60)
    assert change is not None
    assert change.transition is Transition.RESTORED
    assert (m.snapshot.state, m.snapshot.limit, m.snapshot.message) == (
        AlarmState.UNACK,
        "high",
        "hot",
    )
    assert feed(m, 89.5) == []  # held: no new activation
    assert feed(m, 80.0) == [(Transition.CLEARED, AlarmState.RTN_UNACK, "high")]

    gone = machine(high=90)  # high_high was removed from the config
    restored = gone.restore(AlarmState.ACKED, "high_high", value=120.0, message="", time=T0)
    assert restored is not None
    assert restored.snapshot.limit == "high"
    assert feed(gone, 95.0) == []
    assert machine(high=90).restore(AlarmState.NORMAL, None, value=1.0, message="", time=T0) is None


def test_format_specs_apply_to_the_numbers_and_never_break_the_alarm() -> None:
    m = machine(
        DataType.FLOAT32, high=90, message="{value:.1f} {unit} > {limit:.0f} [{tag:>5}] {value:d}"
    )
    changes = m.update(123.45600128173828, GOOD, T0)
    assert [c.transition for c in changes] == [Transition.QUALITY, Transition.ACTIVATED]
    # {value:d} does not fit a float: the readable text instead of an error
    assert m.snapshot.message == "123.5 degC > 90 [ d.t] 123.456"


@pytest.mark.parametrize(
    ("data_type", "equals", "value"),
    [
        (DataType.FLOAT64, 0.3, 3 * 0.1),  # int16 raw 3, scale 0.1: 0.30000000000000004
        (DataType.FLOAT32, 0.3, 0.30000001192092896),  # 0.3 read as a float32
        (DataType.FLOAT64, 0, 3 * 0.1 - 0.3),  # scale and offset leave 5.6e-17
        (DataType.INT16, 7, 7),
    ],
)
def test_equals_on_a_number_matches_within_rounding(
    data_type: DataType, equals: float, value: float
) -> None:
    m = machine(data_type, equals=equals)
    assert feed(m, value) == [(Transition.ACTIVATED, AlarmState.UNACK, None)]
    assert feed(m, value + 1) == [(Transition.CLEARED, AlarmState.RTN_UNACK, None)]


def test_equals_tells_neighbouring_numbers_apart() -> None:
    assert feed(machine(DataType.FLOAT32, equals=1_000_000), 1_000_001.0) == []
    assert feed(machine(DataType.FLOAT64, equals=0.3), 0.3000001) == []


def test_nan_keeps_a_discrete_alarm_as_it_keeps_a_limit_alarm() -> None:
    discrete = machine(equals=5)
    assert feed(discrete, 5.0) == [(Transition.ACTIVATED, AlarmState.UNACK, None)]
    assert feed(discrete, float("nan")) == []  # not comparable: no false clear
    assert discrete.snapshot.active
    normal = machine(equals=5)
    assert feed(normal, float("nan")) == []
    limit = machine(high=90)
    assert feed(limit, 95.0, float("nan")) == [(Transition.ACTIVATED, AlarmState.UNACK, "high")]


def test_a_configured_message_is_kept_when_the_alarm_clears() -> None:
    m = machine(high=90, high_high=110, deadband=1, message="Boiler {value} {unit} above {limit}")
    m.update(95.0, GOOD, T0)
    assert m.snapshot.message == "Boiler 95 degC above 90"
    m.update(112.0, GOOD, T0)
    assert m.snapshot.message == "Boiler 112 degC above 110"
    m.update(100.0, GOOD, T0)  # back to high: still above 90
    assert m.snapshot.message == "Boiler 100 degC above 90"
    m.update(85.0, GOOD, T0)  # cleared: not "Boiler 85 degC above 90"
    assert (m.snapshot.state, m.snapshot.value) == (AlarmState.RTN_UNACK, 85.0)
    assert m.snapshot.message == "Boiler 100 degC above 90"

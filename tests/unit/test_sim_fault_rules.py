"""Fault windows, repeats, restart edges and the per-request answers of a FaultSet."""

from __future__ import annotations

import random

import pytest
from pydantic import TypeAdapter, ValidationError

from gateway.model import Table
from simulators.faults import (
    CloseMidFault,
    ExceptionFault,
    Fault,
    FaultSet,
    HangFault,
    OfflineFault,
    Reaction,
    RestartFault,
    SlowFault,
)

PARSE = TypeAdapter(Fault)


def bits(text: str) -> list[bool]:
    return [char == "1" for char in text]


def test_a_window_opens_at_at_and_closes_after_duration() -> None:
    fault = OfflineFault(at=2.0, duration=1.0)
    assert [fault.active(t) for t in (1.9, 2.0, 2.5, 2.99, 3.0, 50.0)] == bits("011100")
    assert OfflineFault(at=1.0).active(1e6)  # no duration: until the plant stops


def test_a_repeating_window_opens_every_period() -> None:
    fault = HangFault(at=10.0, duration=2.0, every=30.0)
    times = (9.0, 10.0, 11.9, 12.0, 40.0, 41.9, 42.0, 70.5)
    assert [fault.active(t) for t in times] == bits("01101101")


def test_restart_edges_fire_once_per_window_start() -> None:
    once = RestartFault(at=5.0)
    assert not once.started_between(0.0, 4.9)
    assert once.started_between(4.9, 5.0)
    assert not once.started_between(5.0, 5.1)
    repeated = RestartFault(at=5.0, every=10.0)
    spans = [(4.9, 5.0), (5.0, 14.9), (14.9, 15.0), (15.0, 15.05), (20.0, 26.0)]
    assert [repeated.started_between(*span) for span in spans] == [True, False, True, False, True]


def test_schedule_keeps_only_the_faults_in_force() -> None:
    faults = FaultSet(random.Random(1))
    plan = [
        OfflineFault(at=1.0, duration=1.0),
        RestartFault(at=0.5),
        RestartFault(at=3, duration=1),
    ]
    faults.schedule(plan, 0.0)
    assert not faults.offline
    faults.schedule(plan, 1.5)
    assert faults.offline
    faults.schedule(plan, 2.5)
    assert not faults.offline  # an instant restart is an edge, not a window
    faults.schedule(plan, 3.5)
    assert faults.offline  # a restart's downtime


def test_reaction_combines_unit_faults() -> None:
    faults = FaultSet(random.Random(1))
    assert faults.reaction(1) == Reaction()
    faults.manual += [HangFault(unit_id=2), SlowFault(delay=0.25), CloseMidFault(unit_id=1)]
    assert faults.reaction(1) == Reaction(hang=False, delay=0.25, close_mid=True)
    assert faults.reaction(2) == Reaction(hang=True, delay=0.25, close_mid=False)


def test_random_delays_stay_in_range_and_repeat_with_the_seed() -> None:
    def delays(seed: int) -> list[float]:
        faults = FaultSet(random.Random(seed))
        faults.manual.append(SlowFault(delay=(0.1, 0.3)))
        return [faults.reaction(1).delay for _ in range(200)]

    first = delays(5)
    assert all(0.1 <= d <= 0.3 for d in first)
    assert max(first) - min(first) > 0.15
    assert first == delays(5)


def test_exception_applies_to_overlapping_requests_only() -> None:
    faults = FaultSet(random.Random(1))
    faults.manual.append(ExceptionFault(code=4, start=10, end=19, table=Table.HOLDING_REGISTER))
    hr = Table.HOLDING_REGISTER
    assert faults.exception(1, hr, 0, 10) is None
    assert faults.exception(1, hr, 0, 11) == 4
    assert faults.exception(1, hr, 19, 5) == 4
    assert faults.exception(1, hr, 20, 5) is None
    assert faults.exception(1, Table.INPUT_REGISTER, 10, 1) is None


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ({"kind": "exception", "code": 7}, "not a supported exception code"),
        ({"kind": "exception", "code": 4, "start": 9, "end": 3}, "must not be after end"),
        ({"kind": "slow", "delay": ["2s", "1s"]}, "min ≤ max"),
        ({"kind": "hang", "every": "10s"}, "needs a duration"),
        ({"kind": "offline", "duration": "10s", "every": "5s"}, "shorter than every"),
        ({"kind": "crash"}, "is not one of offline, hang, slow, exception, close_mid, restart"),
    ],
)
def test_fault_errors(data: dict[str, object], text: str) -> None:
    with pytest.raises(ValidationError, match=text):
        PARSE.validate_python(data)


def test_faults_parse_with_durations() -> None:
    fault = PARSE.validate_python({"kind": "slow", "delay": "150ms", "at": "1m", "unit_id": 2})
    assert isinstance(fault, SlowFault)
    assert (fault.delay, fault.at, fault.unit_id) == (0.15, 60.0, 2)
    restart = PARSE.validate_python({"kind": "restart", "at": 5, "every": "1m"})
    assert isinstance(restart, RestartFault)

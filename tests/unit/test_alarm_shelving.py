"""Shelving (one-shot, timed) and out of service on the pure machine; restore of both."""

from __future__ import annotations

import pytest

from gateway.alarms.journal import event_of, journaled_shelving
from gateway.alarms.machine import AlarmMachine, Change
from gateway.alarms.model import AlarmState, Shelving, Transition
from gateway.config.alarms import AlarmConfig
from gateway.errors import AlarmShelvingRefused
from gateway.model import DataType, Status

GOOD = Status.GOOD
T0 = 1_700_000_000.0


def machine() -> AlarmMachine:
    alarm = AlarmConfig.model_validate({"name": "a", "tag": "d.t", "high": 90})
    return AlarmMachine(alarm, now=T0, data_type=DataType.FLOAT64)


def transitions(changes: list[Change]) -> list[Transition]:
    return [c.transition for c in changes if c.transition.journaled]


def test_one_shot_shelve_is_marked_and_ends_when_the_alarm_clears() -> None:
    m = machine()
    m.update(95.0, GOOD, T0)
    change = m.shelve(Shelving.ONESHOT, until=None, user="op", reason="known fault", now=T0 + 1)
    assert change.transition is Transition.SHELVED
    assert (change.snapshot.user, change.snapshot.comment) == ("op", "known fault")
    assert change.snapshot.silenced
    assert change.snapshot.state is AlarmState.UNACK
    assert m.deadline is None  # no time limit
    changes = m.update(80.0, GOOD, T0 + 2)
    assert transitions(changes) == [Transition.CLEARED, Transition.UNSHELVED]
    assert changes[-1].snapshot.user is None  # the gateway, not a user
    assert "cleared" in (changes[-1].snapshot.comment or "")
    assert not m.snapshot.silenced


def test_a_shelved_alarm_is_still_evaluated() -> None:
    m = machine()
    m.shelve(Shelving.TIMED, until=T0 + 60, user="op", reason="", now=T0)
    changes = m.update(95.0, GOOD, T0 + 1)
    assert transitions(changes) == [Transition.ACTIVATED]
    assert changes[-1].snapshot.shelving is Shelving.TIMED


def test_timed_shelve_expires_by_itself_at_exactly_its_time() -> None:
    m = machine()
    m.update(95.0, GOOD, T0)
    m.shelve(Shelving.TIMED, until=T0 + 3600, user="op", reason="maintenance", now=T0)
    assert m.deadline == T0 + 3600
    assert m.tick(T0 + 3599.999) == []
    changes = m.tick(T0 + 3600)
    assert transitions(changes) == [Transition.UNSHELVED]
    assert changes[0].snapshot.comment == "timed shelve expired"
    assert m.snapshot.shelving is Shelving.UNSHELVED
    assert m.deadline is None
    assert m.snapshot.state is AlarmState.UNACK  # the alarm itself is unchanged


def test_refusals_say_why() -> None:
    m = machine()
    with pytest.raises(AlarmShelvingRefused) as refused:
        m.unshelve(user="op", reason="", now=T0)
    assert refused.value.reason == "not shelved"
    with pytest.raises(AlarmShelvingRefused, match="future"):
        m.shelve(Shelving.TIMED, until=T0, user="op", reason="", now=T0)
    m.shelve(Shelving.ONESHOT, until=None, user="op", reason="", now=T0)
    with pytest.raises(AlarmShelvingRefused, match="shelved already"):
        m.shelve(Shelving.TIMED, until=T0 + 5, user="op", reason="", now=T0)
    assert transitions([m.unshelve(user="op", reason="back", now=T0 + 1)]) == [Transition.UNSHELVED]
    with pytest.raises(AlarmShelvingRefused, match="enabled already"):
        m.set_enabled(True, user="op", reason="", now=T0)


def test_disable_takes_the_alarm_out_of_service_and_enable_evaluates_afresh() -> None:
    m = machine()
    m.update(95.0, GOOD, T0)
    changes = m.set_enabled(False, user="op", reason="sensor replaced", now=T0 + 1)
    assert transitions(changes) == [Transition.DISABLED]
    assert changes[0].snapshot.state is AlarmState.NORMAL
    assert changes[0].snapshot.silenced
    assert transitions(m.update(99.0, GOOD, T0 + 2)) == []  # not evaluated
    assert m.snapshot.state is AlarmState.NORMAL
    with pytest.raises(AlarmShelvingRefused, match="disabled already"):
        m.set_enabled(False, user="op", reason="", now=T0 + 3)
    changes = m.set_enabled(True, user="op", reason="done", now=T0 + 4)
    assert transitions(changes) == [Transition.ENABLED, Transition.ACTIVATED]
    assert m.snapshot.value == 99.0


def test_shelving_and_disable_are_journaled_and_restored() -> None:
    m = machine()
    m.update(95.0, GOOD, T0)
    shelved = m.shelve(Shelving.TIMED, until=T0 + 600, user="op", reason="why", now=T0 + 1)
    event = event_of(*shelved)
    assert (event.transition, event.user, event.comment) == ("shelved", "op", "why")
    assert (event.shelving, event.shelved_until, event.enabled) == ("timed", T0 + 600, True)
    assert journaled_shelving(event) is Shelving.TIMED

    restarted = machine()
    restored = restarted.restore(
        AlarmState.UNACK,
        "high",
        value=95.0,
        message="",
        time=T0 + 1,
        shelving=Shelving.TIMED,
        shelved_until=T0 + 600,
    )
    assert restored is not None
    assert restored.snapshot.shelving is Shelving.TIMED
    assert restarted.deadline == T0 + 600
    assert transitions(restarted.tick(T0 + 700)) == [Transition.UNSHELVED]  # ran out meanwhile

    disabled = machine()
    back = disabled.restore(AlarmState.NORMAL, None, value=None, message="", time=T0, enabled=False)
    assert back is not None
    assert not back.snapshot.enabled
    assert transitions(disabled.update(99.0, GOOD, T0 + 1)) == []

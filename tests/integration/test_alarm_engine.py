"""Alarms over real Modbus: limits and hysteresis, on-delay, quality, journal, restart."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from alarmkit import (
    PUMP_ALARM,
    TEMP_ALARM,
    Recorder,
    alarm_config,
    gateway_pieces,
    journal_of,
)
from gatewaykit import PLC_POINTS, make_plant, wait_for
from storagekit import database_url

from gateway.alarms import AlarmState, Transition
from gateway.model import Status, TagValue
from simulators.runtime import run_plant

__all__ = ["database_url"]

ACTIVATED, CHANGED, CLEARED = Transition.ACTIVATED, Transition.LIMIT_CHANGED, Transition.CLEARED
UNACK, ACKED, RTN = AlarmState.UNACK, AlarmState.ACKED, AlarmState.RTN_UNACK


def temp_is(wanted: float) -> Callable[[dict[str, TagValue]], bool]:
    """A Latest predicate: plc.temp was read as `wanted`."""
    return lambda values: "plc.temp" in values and values["plc.temp"].value == wanted


async def test_a_value_driven_across_every_limit_and_back_with_hysteresis(tmp_path: Path) -> None:
    recorder = Recorder()
    async with run_plant(make_plant({"plc": PLC_POINTS})) as running:
        config = alarm_config(f"sqlite:///{tmp_path / 'g.db'}", running, [TEMP_ALARM])
        async with gateway_pieces(config, listener=recorder) as p:
            unit = running.slave("plc").unit(1)
            await wait_for(
                lambda: p.engine.snapshot("temp_alarm").quality is Status.GOOD,
                message="the first Good value",
            )
            for value in (30.0, 35.0, 40.0, 45.0, 39.5, 39.0, 29.5, 29.0, 10.0, 5.0, -1.0):
                unit.set("temp", value)
                await p.latest.until(temp_is(value), message=str(value))
            for value in (0.5, 1.0, 10.5, 11.0):
                unit.set("temp", value)
                await p.latest.until(temp_is(value), message=str(value))
            await wait_for(
                lambda: p.engine.snapshot("temp_alarm").state is RTN, message="returned to normal"
            )
    assert recorder.journaled("temp_alarm") == [
        (ACTIVATED, UNACK, "high"),  # 35 (30 is not above 30)
        (CHANGED, UNACK, "high_high"),  # 45 (40 is not above 40)
        (CHANGED, UNACK, "high"),  # 39 ≤ 40 - 1 (39.5 held)
        (CLEARED, RTN, "high"),  # 29 ≤ 30 - 1 (29.5 held)
        (ACTIVATED, UNACK, "low"),  # 5 (10 is not below 10)
        (CHANGED, UNACK, "low_low"),  # -1
        (CHANGED, UNACK, "low"),  # 1.0 ≥ 0 + 1 (0.5 held)
        (CLEARED, RTN, "low"),  # 11 ≥ 10 + 1 (10.5 held)
    ]
    messages = [s.message for s, t in recorder.changes if t is ACTIVATED]
    assert messages == ["Temperature 35 degC beyond 30", "Temperature 5 degC beyond 10"]


async def test_on_delay_suppresses_a_spike_and_a_static_value_trips_on_time(
    tmp_path: Path,
) -> None:
    alarm = {**TEMP_ALARM, "delay": "400ms"}
    recorder = Recorder()
    async with run_plant(make_plant({"plc": PLC_POINTS})) as running:
        config = alarm_config(f"sqlite:///{tmp_path / 'g.db'}", running, [alarm])
        async with gateway_pieces(config, listener=recorder) as p:
            unit = running.slave("plc").unit(1)
            await p.latest.until(temp_is(21.5), message="first value")
            unit.set("temp", 35.0)  # a spike of about one scan
            await p.latest.until(temp_is(35.0), message="the spike")
            unit.set("temp", 20.0)
            await p.latest.until(temp_is(20.0), message="after the spike")
            unit.set("temp", 35.0)  # and now it stays: only the delay timer can trip it
            seen = await p.latest.until(temp_is(35.0), message="35 again")
            read_at = seen["plc.temp"].server_time
            await wait_for(
                lambda: p.engine.snapshot("temp_alarm").state is UNACK, message="the delayed trip"
            )
            tripped = p.engine.snapshot("temp_alarm").time
    assert recorder.journaled("temp_alarm") == [(ACTIVATED, UNACK, "high")]  # no spike alarm
    assert 0.4 <= tripped - read_at < 1.0


async def test_a_bad_input_neither_clears_nor_trips_and_shows_its_quality(tmp_path: Path) -> None:
    recorder = Recorder()
    async with run_plant(make_plant({"plc": PLC_POINTS})) as running:
        config = alarm_config(f"sqlite:///{tmp_path / 'g.db'}", running, [TEMP_ALARM])
        async with gateway_pieces(config, listener=recorder) as p:
            slave = running.slave("plc")
            unit = slave.unit(1)
            unit.set("temp", 35.0)
            await wait_for(lambda: p.engine.snapshot("temp_alarm").active, message="active")
            slave.exception(0x04, 0, 23)  # the temp block answers Device Failure
            await wait_for(
                lambda: p.engine.snapshot("temp_alarm").quality is Status.BAD_DEVICE_FAILURE,
                message="bad quality shown",
            )
            unit.set("temp", 20.0)  # would clear, but nobody can read it
            unit.set("temp", 50.0)
            await slave.clear_faults()
            await p.latest.until(temp_is(50.0), message="read again")
            await wait_for(
                lambda: p.engine.snapshot("temp_alarm").limit == "high_high", message="escalated"
            )
            snapshot = p.engine.snapshot("temp_alarm")
    assert snapshot.quality is Status.GOOD
    assert recorder.journaled("temp_alarm") == [
        (ACTIVATED, UNACK, "high"),
        (CHANGED, UNACK, "high_high"),  # never cleared while Bad
    ]
    qualities = [s.quality for s, t in recorder.changes if t is Transition.QUALITY]
    assert qualities == [Status.GOOD, Status.BAD_DEVICE_FAILURE, Status.GOOD]


async def test_the_journal_records_every_transition_and_the_ack_user_and_comment(
    database_url: str,
) -> None:
    async with run_plant(make_plant({"plc": PLC_POINTS})) as running:
        config = alarm_config(database_url, running, [TEMP_ALARM, PUMP_ALARM])
        async with gateway_pieces(config) as p:
            unit = running.slave("plc").unit(1)
            unit.set("pump", True)
            await wait_for(lambda: p.engine.snapshot("pump_on").active, message="pump alarm")
            acked = p.engine.acknowledge("pump_on", user="alice", comment="pump check")
            assert acked.state is ACKED
            unit.set("pump", False)
            await wait_for(
                lambda: p.engine.snapshot("pump_on").state is AlarmState.NORMAL, message="normal"
            )
            events = await journal_of(p.historian, "pump_on", 3)
    assert [(e.transition, e.state, e.user, e.comment) for e in events] == [
        ("activated", "active_unacked", None, None),
        ("acknowledged", "active_acked", "alice", "pump check"),
        ("cleared", "normal", None, None),
    ]
    assert [e.value for e in events] == [1.0, 1.0, 0.0]  # stored as numbers
    assert events[0].message == "plc.pump is true"
    assert events[0].severity == 500


async def test_a_restart_keeps_active_and_unacknowledged_alarms(database_url: str) -> None:
    first = Recorder()
    async with run_plant(make_plant({"plc": PLC_POINTS})) as running:
        config = alarm_config(database_url, running, [TEMP_ALARM, PUMP_ALARM])
        unit = running.slave("plc").unit(1)
        async with gateway_pieces(config, listener=first) as p:
            unit.set("temp", 45.0)
            unit.set("pump", True)
            await wait_for(
                lambda: (
                    p.engine.snapshot("temp_alarm").limit == "high_high"
                    and p.engine.snapshot("pump_on").active
                ),
                message="both active",
            )
            p.engine.acknowledge("pump_on", user="bob", comment="")
            await journal_of(p.historian, "pump_on", 2)

        second = Recorder()
        async with gateway_pieces(config, listener=second) as p:
            restored = {
                s.name: (s.state, s.limit) for s, t in second.changes if t is Transition.RESTORED
            }
            assert restored == {"temp_alarm": (UNACK, "high_high"), "pump_on": (ACKED, None)}
            assert p.engine.snapshot("temp_alarm").message == "Temperature 45 degC beyond 40"
            assert p.engine.snapshot("pump_on").value is True  # typed back from the journal
            await wait_for(
                lambda: p.engine.snapshot("temp_alarm").quality is Status.GOOD, message="values"
            )
            unit.set("temp", 20.0)
            await wait_for(lambda: p.engine.snapshot("temp_alarm").state is RTN, message="cleared")
            events = await journal_of(p.historian, "temp_alarm", 2)
    # Still above after the restart: nothing new; then one clear from high_high.
    assert second.journaled("pump_on") == []
    assert second.journaled("temp_alarm") == [(CLEARED, RTN, "high_high")]
    assert [(e.transition, e.limit) for e in events] == [
        ("activated", "high_high"),
        ("cleared", "high_high"),
    ]


async def test_a_restored_limit_no_longer_configured_falls_back_and_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    async with run_plant(make_plant({"plc": PLC_POINTS})) as running:
        running.slave("plc").unit(1).set("temp", 45.0)
        async with gateway_pieces(alarm_config(url, running, [TEMP_ALARM])) as p:
            await wait_for(
                lambda: p.engine.snapshot("temp_alarm").limit == "high_high", message="hh"
            )
            await journal_of(p.historian, "temp_alarm", 1)
        only_high = {"name": "temp_alarm", "tag": "plc.temp", "high": 30, "deadband": 1}
        recorder = Recorder()
        with caplog.at_level(logging.WARNING, logger="gateway.alarms"):
            async with gateway_pieces(
                alarm_config(url, running, [only_high]), listener=recorder
            ) as p:
                assert (
                    p.engine.snapshot("temp_alarm").state,
                    p.engine.snapshot("temp_alarm").limit,
                ) == (UNACK, "high")
                await wait_for(
                    lambda: p.engine.snapshot("temp_alarm").quality is Status.GOOD, message="read"
                )
                running.slave("plc").unit(1).set("temp", 20.0)
                await wait_for(
                    lambda: p.engine.snapshot("temp_alarm").state is RTN, message="clear"
                )
    assert "limit high_high is no longer configured" in caplog.text
    assert recorder.journaled("temp_alarm") == [(CLEARED, RTN, "high")]  # 45 > 30: no re-raise

"""The alarm engine on a real bus without Modbus: listeners, acknowledge, the delay timer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway.alarms import AlarmEngine, AlarmSnapshot, AlarmState, Transition
from gateway.bus import Bus
from gateway.config import GatewayConfig
from gateway.errors import AlarmAlreadyAcked, UnknownAlarm
from gateway.model import Status, TagValue

T0 = 1_700_000_000.0


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def config(*alarms: dict[str, Any]) -> GatewayConfig:
    return GatewayConfig.model_validate(
        {
            "gateway": {"name": "t"},
            "devices": [
                {
                    "name": "d",
                    "host": "127.0.0.1",
                    "tags": [
                        {"name": "t", "ref": 40001, "type": "float32", "unit": "bar"},
                        {"name": "b", "ref": 40003, "type": "bool", "bit": 0},
                    ],
                }
            ],
            "alarms": list(alarms),
        }
    )


HIGH = {"name": "high", "tag": "d.t", "high": 5}
DELAYED = {"name": "delayed", "tag": "d.t", "high": 5, "delay": "10s"}


def publish(bus: Bus, tag: str, value: float | bool, status: Status = Status.GOOD) -> None:
    bus.publish([TagValue(tag, value, status, T0, T0)])


class Log:
    def __init__(self, name: str, into: list[tuple[str, str, Transition]]) -> None:
        self.name, self.into = name, into

    def alarm_changed(self, snapshot: AlarmSnapshot, transition: Transition) -> None:
        self.into.append((self.name, snapshot.name, transition))


class Broken:
    def alarm_changed(self, snapshot: AlarmSnapshot, transition: Transition) -> None:
        raise RuntimeError("listener bug")


async def settle(engine: AlarmEngine, predicate: Any) -> None:
    for _ in range(200):
        if predicate():
            return
        await asyncio.sleep(0.005)
    pytest.fail("the engine never got there")


async def test_listeners_in_order_a_broken_one_does_not_stop_the_rest() -> None:
    bus, calls = Bus(), []
    engine = AlarmEngine(config(HIGH), bus)
    first, second = Log("first", calls), Log("second", calls)
    engine.add_listener(first)
    engine.add_listener(Broken())
    engine.add_listener(second)
    async with engine:
        assert engine.names == ("high",)
        publish(bus, "d.t", 7.0)
        await settle(engine, lambda: engine.snapshot("high").active)
        engine.remove_listener(first)
        engine.remove_listener(first)  # twice: ignored
        engine.acknowledge("high", user="u", comment="c")
    assert calls == [
        ("first", "high", Transition.QUALITY),
        ("second", "high", Transition.QUALITY),
        ("first", "high", Transition.ACTIVATED),
        ("second", "high", Transition.ACTIVATED),
        ("second", "high", Transition.ACKNOWLEDGED),
    ]


async def test_acknowledge_errors_and_snapshots_in_config_order() -> None:
    bus = Bus()
    engine = AlarmEngine(config(HIGH, {"name": "flag", "tag": "d.b", "equals": True}), bus)
    async with engine:
        assert [s.name for s in engine.snapshots()] == ["high", "flag"]
        assert all(s.quality is Status.BAD_WAITING_FOR_INITIAL_DATA for s in engine.snapshots())
        with pytest.raises(UnknownAlarm, match="no alarm named 'nope'"):
            engine.acknowledge("nope", user="u")
        with pytest.raises(UnknownAlarm):
            engine.snapshot("nope")
        with pytest.raises(AlarmAlreadyAcked):
            engine.acknowledge("flag", user="u")
        publish(bus, "d.b", True)
        await settle(engine, lambda: engine.snapshot("flag").active)
        assert engine.snapshot("high").state is AlarmState.NORMAL  # another tag
    with pytest.raises(RuntimeError, match="once"):
        await engine.__aenter__()


async def test_the_timer_fires_a_delay_on_a_value_that_never_changes_again() -> None:
    bus, clock = Bus(), FakeClock()
    engine = AlarmEngine(config(DELAYED), bus, clock=clock)
    async with engine:
        publish(bus, "d.t", 7.0)
        await settle(engine, lambda: engine.snapshot("delayed").quality is Status.GOOD)
        clock.now = T0 + 9.9
        engine.tick()
        assert engine.snapshot("delayed").state is AlarmState.NORMAL
        clock.now = T0 + 10
        engine.tick()
        snapshot = engine.snapshot("delayed")
    assert (snapshot.state, snapshot.time) == (AlarmState.UNACK, T0 + 10)
    assert snapshot.message == "d.t 7 bar above the high limit 5"


async def test_the_real_timer_task_fires_without_any_new_value() -> None:
    bus = Bus()
    engine = AlarmEngine(config({**DELAYED, "delay": "150ms"}), bus)
    async with engine:
        publish(bus, "d.t", 7.0)
        await settle(engine, lambda: engine.snapshot("delayed").quality is Status.GOOD)
        assert engine.snapshot("delayed").state is AlarmState.NORMAL
        await settle(engine, lambda: engine.snapshot("delayed").active)


async def test_no_alarms_no_subscription() -> None:
    bus = Bus()
    async with AlarmEngine(config(), bus) as engine:
        assert engine.snapshots() == []
    assert bus.subscriptions == ()


async def test_a_failing_alarm_is_logged_and_the_others_and_the_gateway_go_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    bus = Bus()
    engine = AlarmEngine(config(HIGH, {"name": "flag", "tag": "d.b", "equals": True}), bus)
    broken = engine._machines["high"]

    def fail(*_args: object) -> list[Any]:
        raise ZeroDivisionError("a bug in one alarm")

    monkeypatch.setattr(broken, "update", fail)
    async with engine:
        publish(bus, "d.t", 7.0)
        publish(bus, "d.b", True)
        await settle(engine, lambda: engine.snapshot("flag").active)
        await asyncio.sleep(0.01)  # the task that entered the engine is not cancelled
    assert "alarm high: evaluation failed" in caplog.text


def config_with_setpoint(*alarms: dict[str, Any]) -> GatewayConfig:
    return GatewayConfig.model_validate(
        {
            "gateway": {"name": "t"},
            "devices": [
                {
                    "name": "d",
                    "host": "127.0.0.1",
                    "tags": [
                        {"name": "t", "ref": 40001, "type": "float32"},
                        {"name": "sp", "ref": 40005, "type": "float32"},
                    ],
                }
            ],
            "alarms": list(alarms),
        }
    )


async def test_a_deviation_alarm_hears_both_tags() -> None:
    bus, clock = Bus(), FakeClock()
    alarm = {"name": "off", "tag": "d.t", "deviation": {"from": "d.sp", "limit": 2}}
    engine = AlarmEngine(config_with_setpoint(alarm), bus, clock=clock)
    async with engine:
        publish(bus, "d.t", 10.0)
        publish(bus, "d.sp", 10.0)
        publish(bus, "d.sp", 12.5)  # the setpoint moves away: 2.5 off
        await settle(engine, lambda: engine.snapshot("off").state is AlarmState.UNACK)
        publish(bus, "d.t", 11.0)  # 1.5 off
        await settle(engine, lambda: engine.snapshot("off").state is AlarmState.RTN_UNACK)


async def test_stale_and_a_timed_shelve_fire_from_the_engine_timer_by_the_clock() -> None:
    bus, clock = Bus(), FakeClock()
    engine = AlarmEngine(config({"name": "frozen", "tag": "d.t", "stale": "1m"}), bus, clock=clock)
    async with engine:
        publish(bus, "d.t", 3.0)
        await settle(engine, lambda: engine.snapshot("frozen").quality is Status.GOOD)
        engine.shelve("frozen", user="op", reason="check", duration=30)
        clock.now = T0 + 59.999
        engine.tick()
        snapshot = engine.snapshot("frozen")
        assert snapshot.state is AlarmState.NORMAL
        assert snapshot.shelving.value == "unshelved"  # 30 s passed: the shelve ran out
        assert snapshot.comment == "timed shelve expired"
        clock.now = T0 + 60
        engine.tick()
        assert engine.snapshot("frozen").state is AlarmState.UNACK

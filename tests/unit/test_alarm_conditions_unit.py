"""The OPC UA conditions' event loop on its own: failures and a full queue stay contained."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway.alarms import AlarmSnapshot, AlarmState, Transition
from gateway.config import AlarmConfig
from gateway.model import Status
from gateway.opcua.alarms import AlarmConditions
from gateway.opcua.conditions import ConditionInfo
from gateway.ua.wire import ObjectIds, node_id

ALARM = AlarmConfig.model_validate({"name": "hot", "tag": "d.t", "high": 5})
INFO = ConditionInfo(
    config=ALARM,
    nodeid=node_id("Alarms.hot", 2),
    type_id=node_id(ObjectIds.ExclusiveLimitAlarmType),
    source=node_id("d.t", 2),
    device=node_id("d", 2),
    members=(),  # no member nodes: nothing is written to an address space
)


def snapshot(state: AlarmState, time: float) -> AlarmSnapshot:
    return AlarmSnapshot(
        name="hot",
        tag="d.t",
        kind=ALARM.kind,
        state=state,
        severity=500,
        message="hot",
        limit="high",
        value=7.0,
        quality=Status.GOOD,
        time=time,
    )


class Engine:
    def snapshots(self) -> list[AlarmSnapshot]:
        return []

    def add_listener(self, listener: Any) -> None:
        pass

    def remove_listener(self, listener: Any) -> None:
        pass

    def acknowledge(self, name: str, *, user: str, comment: str = "") -> AlarmSnapshot:
        raise NotImplementedError


class Subscriptions:
    """The server's EventSink: records the events sent, one per notifier; `fail_first`:
    the first delivery fails, as a bug in a filter or a closing session might make it."""

    def __init__(self, *, fail_first: bool = False) -> None:
        self.delivered: list[dict[str, Any]] = []
        self._fail = fail_first

    async def broadcast(self, fields: dict[str, Any], notifiers: tuple[Any, ...]) -> None:
        if self._fail:
            self._fail = False
            raise RuntimeError("delivery failed")
        self.delivered += [{k: v.Value for k, v in fields.items()} for _ in notifiers]


class Stack:
    """The server as far as the conditions' event loop uses it (no member nodes here)."""

    def __init__(self, events: Subscriptions) -> None:
        self.events = events


def conditions_on(subscriptions: Subscriptions) -> AlarmConditions:
    conditions = AlarmConditions(Engine(), Stack(subscriptions), [INFO])  # type: ignore[arg-type]
    conditions.start()
    return conditions


async def run_until(conditions: AlarmConditions, done: Any) -> asyncio.Task[None]:
    task = asyncio.create_task(conditions.run())
    for _ in range(200):
        if done():
            break
        await asyncio.sleep(0.005)
    return task


async def test_a_failed_event_delivery_is_logged_and_later_events_still_go_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    subscriptions = Subscriptions(fail_first=True)
    conditions = conditions_on(subscriptions)
    conditions.alarm_changed(snapshot(AlarmState.UNACK, 1.0), Transition.ACTIVATED)
    conditions.alarm_changed(snapshot(AlarmState.RTN_UNACK, 2.0), Transition.CLEARED)
    task = await run_until(conditions, lambda: len(subscriptions.delivered) >= 2)
    try:
        assert not task.done()  # the server's TaskGroup (and the gateway) go on
    finally:
        task.cancel()
    # the activation's Server delivery failed (its device delivery with it);
    # the clear went out through both notifiers
    assert [e["ActiveState"].Text for e in subscriptions.delivered] == ["Inactive", "Inactive"]
    assert "alarm event of hot not sent" in caplog.text


async def test_a_full_queue_drops_the_oldest_and_logs_once_per_burst(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("gateway.opcua.alarms.QUEUE_EVENTS", 2)
    subscriptions = Subscriptions()
    conditions = conditions_on(subscriptions)
    for second in range(1, 11):
        state = AlarmState.UNACK if second % 2 else AlarmState.RTN_UNACK
        conditions.alarm_changed(snapshot(state, float(second)), Transition.ACTIVATED)
    assert conditions.dropped == 8
    assert caplog.text.count("queue full") == 1
    task = await run_until(conditions, lambda: len(subscriptions.delivered) >= 4)
    task.cancel()
    # the newest two went out, each through the Server and the device
    assert [e["Time"].timestamp() for e in subscriptions.delivered] == [9.0, 9.0, 10.0, 10.0]
    assert "queue drained; 8 event(s) dropped" in caplog.text

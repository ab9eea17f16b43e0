"""Shelving and out of service over OPC UA with an asyncua client: the Part 9
methods, the operator role, the journal (who, when, why) and a restart."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from asyncua import Client, ua
from clientkit import gateway as cli
from gatewaykit import PLC_POINTS, make_plant
from opcuakit import connect, until
from test_opcua_alarms import Events, Rig, _config, of

from gateway.alarms.model import AlarmState, Shelving
from gateway.app import Gateway
from simulators.runtime import run_plant

pytestmark = pytest.mark.asyncio

OID = ua.ObjectIds
TIMED_SHELVE2 = ua.NodeId(OID.AlarmConditionType_ShelvingState_TimedShelve2)
TIMED_SHELVE = ua.NodeId(OID.AlarmConditionType_ShelvingState_TimedShelve)
ONESHOT_SHELVE = ua.NodeId(OID.AlarmConditionType_ShelvingState_OneShotShelve)
UNSHELVE2 = ua.NodeId(OID.AlarmConditionType_ShelvingState_Unshelve2)
ENABLE = ua.NodeId(OID.ConditionType_Enable)
DISABLE = ua.NodeId(OID.ConditionType_Disable)


async def subscribe(client: Client) -> Events:
    events = Events()
    subscription = await client.create_subscription(20, events)
    types = [client.get_node(OID.ExclusiveLimitAlarmType), client.get_node(OID.OffNormalAlarmType)]
    await subscription.subscribe_events(client.nodes.server, types)
    return events


def text(value: str) -> ua.LocalizedText:
    return ua.LocalizedText(value)


def ms(seconds: float) -> ua.Variant:
    return ua.Variant(seconds * 1000.0, ua.VariantType.Double)


async def _state(gateway: Gateway, name: str, state: AlarmState) -> bool:
    return gateway.alarms.snapshot(name).state is state


async def test_shelve_unshelve_disable_enable_with_the_operator_role(tmp_path: Path) -> None:
    async with run_plant(make_plant({"plc": PLC_POINTS}), autotick=False) as running:
        config = _config(running, tmp_path)
        running.slave("plc").unit(1).set("temp", 85.0)
        async with Gateway(config, config_dir=tmp_path) as gateway:
            rig = Rig(running, gateway)
            await until(lambda: _state(gateway, "temp_high", AlarmState.UNACK), message="active")
            condition_id = rig.id("Alarms.temp_high")
            async with (
                connect(rig.url, user="op", password="op-secret") as client,
                connect(rig.url, user="view", password="view-secret") as viewer,
            ):
                events = await subscribe(client)
                condition = client.get_node(condition_id)
                shelving = await condition.get_child("0:ShelvingState")
                assert await shelving.read_type_definition() == ua.NodeId(
                    OID.ShelvedStateMachineType
                )
                # a viewer may not shelve
                with pytest.raises(ua.uaerrors.BadUserAccessDenied):
                    await viewer.get_node(shelving.nodeid).call_method(TIMED_SHELVE, ms(60))
                with pytest.raises(ua.uaerrors.BadShelvingTimeOutOfRange):
                    await shelving.call_method(TIMED_SHELVE, ms(0))

                before = time.time()
                await shelving.call_method(TIMED_SHELVE2, ms(3600), text("pump swap"))
                shelved = await events.next(
                    of("temp_high", SuppressedOrShelved=True), "shelved event"
                )
                assert shelved.Retain is True
                current = await (await shelving.get_child("0:CurrentState")).read_value()
                assert current.Text == "TimedShelved"
                left = await (await shelving.get_child("0:UnshelveTime")).read_value()
                assert 3_590_000 < left <= 3_600_000
                snapshot = gateway.alarms.snapshot("temp_high")
                assert snapshot.shelving is Shelving.TIMED
                assert snapshot.shelved_until is not None
                assert snapshot.shelved_until >= before + 3600

                with pytest.raises(ua.uaerrors.BadConditionAlreadyShelved):
                    await shelving.call_method(ONESHOT_SHELVE)
                await shelving.call_method(UNSHELVE2, text("swap done"))
                await events.next(of("temp_high", SuppressedOrShelved=False), "unshelved")
                with pytest.raises(ua.uaerrors.BadConditionNotShelved):
                    await shelving.call_method(UNSHELVE2, text("again"))

                # out of service: one event (EnabledState false, not retained), then quiet
                await condition.call_method(DISABLE)
                disabled = await events.next(of("temp_high", EnabledState__Id=False), "disabled")
                assert disabled.Retain is False
                assert getattr(disabled, "ActiveState/Id") is False
                with pytest.raises(ua.uaerrors.BadConditionAlreadyDisabled):
                    await condition.call_method(DISABLE)
                enabled_node = await condition.get_child(["0:EnabledState", "0:Id"])
                assert await enabled_node.read_value() is False

            # The journal says who, when and why.
            async def journaled() -> list[tuple[str, str | None, str | None]]:
                page = await gateway.historian.alarm_journal(alarm="temp_high")
                return [
                    (e.transition, e.user, e.comment)
                    for e in page.events
                    if e.transition in ("shelved", "unshelved", "disabled", "enabled")
                ]

            expected = [
                ("shelved", "op", "pump swap"),
                ("unshelved", "op", "swap done"),
                ("disabled", "op", ""),
            ]
            await until(lambda: _same(journaled(), expected), message="the service journal")

        # Disabled survives a restart; Enable (with the gateway's reason argument) evaluates
        # afresh: the temperature is still high, so the alarm activates again.
        async with Gateway(config, config_dir=tmp_path) as gateway:
            rig = Rig(running, gateway)
            assert gateway.alarms.snapshot("temp_high").enabled is False
            async with connect(rig.url, user="op", password="op-secret") as client:
                events = await subscribe(client)
                condition = client.get_node(condition_id)
                enabled_node = await condition.get_child(["0:EnabledState", "0:Id"])
                assert await enabled_node.read_value() is False
                await condition.call_method(ENABLE, text("back in service"))
                await events.next(of("temp_high", EnabledState__Id=True), "enabled")
                await until(
                    lambda: _state(gateway, "temp_high", AlarmState.UNACK), message="active again"
                )


async def test_a_timed_shelve_survives_a_restart_and_expires_by_itself(tmp_path: Path) -> None:
    async with run_plant(make_plant({"plc": PLC_POINTS}), autotick=False) as running:
        config = _config(running, tmp_path)
        async with Gateway(config, config_dir=tmp_path) as gateway:
            rig = Rig(running, gateway)
            async with connect(rig.url, user="op", password="op-secret") as client:
                shelving = client.get_node(rig.id("Alarms.plc_fault.ShelvingState"))
                await shelving.call_method(TIMED_SHELVE, ms(3600))
            until_before = gateway.alarms.snapshot("plc_fault").shelved_until
        async with Gateway(config, config_dir=tmp_path) as gateway:
            rig = Rig(running, gateway)
            snapshot = gateway.alarms.snapshot("plc_fault")
            assert snapshot.shelving is Shelving.TIMED
            assert snapshot.shelved_until == pytest.approx(until_before, abs=1e-3)
            async with connect(rig.url, user="op", password="op-secret") as client:
                shelving = client.get_node(rig.id("Alarms.plc_fault.ShelvingState"))
                current = await (await shelving.get_child("0:CurrentState")).read_value()
                assert current.Text == "TimedShelved"
                await shelving.call_method(UNSHELVE2, text("short one"))
                await shelving.call_method(TIMED_SHELVE, ms(0.3))

            async def expired() -> bool:
                return gateway.alarms.snapshot("plc_fault").shelving is Shelving.UNSHELVED

            await until(expired, timeout=10, message="the timed shelve to expire")

            async def last() -> tuple[str, str | None, str | None]:
                page = await gateway.historian.alarm_journal(alarm="plc_fault")
                event: Any = page.events[-1]
                return (event.transition, event.user, event.comment)

            expected = ("unshelved", None, "timed shelve expired")
            await until(lambda: _same(last(), expected), message="the expiry journaled")


async def _same(awaitable: Any, expected: Any) -> bool:
    return bool(await awaitable == expected)


async def test_gateway_alarms_shelve_unshelve_disable_enable_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with (
        run_plant(make_plant({"plc": PLC_POINTS}), autotick=False) as running,
        Gateway(_config(running, tmp_path), config_dir=tmp_path) as gateway,
    ):
        rig = Rig(running, gateway)
        operator = ("-u", "op", "-p", "op-secret")
        shelve = ("alarms", "shelve", rig.url, "temp_high", *operator)

        run = await cli(capsys, *shelve, "--for", "1h", "--reason", "pump swap")
        assert (run.code, run.err) == (0, "")
        assert run.out.startswith("temp_high shelved for 3600 s")
        snapshot = gateway.alarms.snapshot("temp_high")
        assert (snapshot.shelving, snapshot.user, snapshot.comment) == (
            Shelving.TIMED,
            "op",
            "pump swap",
        )
        refused = await cli(capsys, *shelve)
        assert refused.code == 1
        assert "Bad_ConditionAlreadyShelved: it is shelved already" in refused.err

        viewer = await cli(
            capsys,
            "alarms",
            "unshelve",
            rig.url,
            "temp_high",
            "-u",
            "view",
            "-p",
            "view-secret",
        )
        assert viewer.code == 1
        assert "operator role" in viewer.err
        for action, reason in (("unshelve", "done"), ("disable", "sensor out"), ("enable", "")):
            run = await cli(
                capsys, "alarms", action, rig.url, "temp_high", *operator, "--reason", reason
            )
            assert (run.code, run.err) == (0, ""), action
        snapshot = gateway.alarms.snapshot("temp_high")
        assert (snapshot.enabled, snapshot.comment) == (True, "")
        assert not snapshot.silenced

        unknown = await cli(capsys, "alarms", "disable", rig.url, "nope", *operator)
        assert unknown.code == 1
        assert "no such alarm" in unknown.err
        with pytest.raises(SystemExit) as usage:
            await cli(capsys, *shelve, "--for", "soon")
        assert usage.value.code == 2
        assert "expected a duration" in capsys.readouterr().err

        # `gateway watch` shows a shelved alarm as such (replayed by ConditionRefresh).
        running.slave("plc").unit(1).set("temp", 85.0)
        await until(lambda: _state(gateway, "temp_high", AlarmState.UNACK), message="active")
        assert (await cli(capsys, *shelve, "--reason", "watch me")).code == 0
        watch = ["watch", rig.url, "plc.temp", "--duration", "1.5", "--interval", "50"]
        watched = await cli(capsys, *watch)
        lines = [line for line in watched.out.splitlines() if "temp_high" in line]
        assert lines, watched.out
        assert lines[-1].endswith("active=true  acked=false  shelved")

"""Acquisition over real TCP against the simulators: values, statuses, faults, writes."""

from __future__ import annotations

import math

import pytest
from gatewaykit import PLC_POINTS, plc_device, rig, wait_for

from gateway.errors import DeviceTimeout, DeviceUnreachable, WriteRejected
from gateway.modbus.health import DeviceState
from gateway.model import Status, TagValue
from simulators.runtime import RunningPlant

GOOD = Status.GOOD
UNCERTAIN = Status.UNCERTAIN_NO_COMMUNICATION_LAST_USABLE_VALUE


def _all(values: dict[str, TagValue], status: Status) -> bool:
    return len(values) == 10 and all(v.status is status for v in values.values())


def _all_good(values: dict[str, TagValue]) -> bool:
    return _all(values, GOOD)


async def test_values_arrive_decoded_in_every_order_with_good_status() -> None:
    async with rig({"plc": PLC_POINTS}, lambda r: [plc_device(r)]) as t:
        got = await t.latest.until(_all_good, message="every tag Good")
        assert got["plc.temp"].value == 21.5
        assert got["plc.flow"].value == 3.25  # CDAB
        assert (got["plc.run"].value, got["plc.fault"].value, got["plc.ready"].value) == (
            True,
            False,
            True,
        )
        assert got["plc.setpoint"].value == 50.0
        assert got["plc.label"].value == "AB12"
        assert got["plc.level"].value == 7.0
        assert got["plc.pump"].value is False
        source = got["plc.temp"].source_time
        assert source is not None
        assert abs(source - got["plc.temp"].server_time) < 1.0
        health = t.acquisition.health("plc")
        assert health.state is DeviceState.OK
        assert health.connected


async def test_static_values_publish_nothing_after_the_first_scan() -> None:
    async with rig({"plc": PLC_POINTS}, lambda r: [plc_device(r)]) as t:
        await t.latest.until(_all_good, message="first values")
        health = t.acquisition.health("plc")
        first = len(t.latest.batches)
        scans = health.scans
        await wait_for(lambda: health.scans >= scans + 3, message="three more scans")
        t.latest.pump()
        assert len(t.latest.batches) == first


async def test_a_register_change_publishes_only_that_tag() -> None:
    async with rig({"plc": PLC_POINTS}, lambda r: [plc_device(r)]) as t:
        await t.latest.until(_all_good, message="first values")
        t.latest.batches.clear()
        t.plant.slave("plc").unit(1).set("mode", 7)
        await t.latest.until(lambda v: v["plc.mode"].value == 7, message="mode 7")
        changed = {value.tag for batch in t.latest.batches for value in batch}
        assert changed == {"plc.mode"}


async def test_offline_keeps_last_usable_value_then_recovers() -> None:
    async with rig({"plc": PLC_POINTS}, lambda r: [plc_device(r)]) as t:
        good = await t.latest.until(_all_good, message="first values")
        temp_time = good["plc.temp"].source_time
        slave = t.plant.slave("plc")
        await slave.go_offline()
        got = await t.latest.until(
            lambda v: v["plc.temp"].status is UNCERTAIN, message="uncertain after offline"
        )
        assert got["plc.temp"].value == 21.5
        assert got["plc.temp"].source_time == temp_time
        health = t.acquisition.health("plc")
        await wait_for(
            lambda: health.state in (DeviceState.BACKOFF, DeviceState.CONNECTING),
            message="backoff",
        )
        assert not health.connected
        assert health.errors >= 1
        assert health.last_error
        await slave.go_online()
        await t.latest.until(_all_good, message="Good again")
        await wait_for(lambda: health.state is DeviceState.OK, message="state ok")


async def test_never_read_device_is_bad_no_communication() -> None:
    def devices(running: object) -> list[dict[str, object]]:
        return [plc_device(running, port=1)]  # type: ignore[arg-type]

    async with rig({"plc": PLC_POINTS}, devices) as t:
        got = await t.latest.until(
            lambda v: (
                len(v) == 10 and all(x.status is Status.BAD_NO_COMMUNICATION for x in v.values())
            ),
            message="Bad_NoCommunication",
        )
        assert all(v.value is None and v.source_time is None for v in got.values())


async def test_repeated_failures_demote_the_device() -> None:
    def devices(running: object) -> list[dict[str, object]]:
        return [plc_device(running, port=1, demote_after=2, demote_for="5s")]  # type: ignore[arg-type]

    async with rig({"plc": PLC_POINTS}, devices) as t:
        health = t.acquisition.health("plc")
        await wait_for(lambda: health.state is DeviceState.DEMOTED, message="demoted")
        assert health.consecutive_failures == 2
        assert "refused" in health.last_error.lower() or "unreachable" in health.last_error.lower()


async def test_hung_device_times_out() -> None:
    async with rig({"plc": PLC_POINTS}, lambda r: [plc_device(r)]) as t:
        await t.latest.until(_all_good, message="first values")
        t.plant.slave("plc").hang()
        await t.latest.until(lambda v: v["plc.temp"].status is UNCERTAIN, message="uncertain")
        health = t.acquisition.health("plc")
        assert health.timeouts >= 1
        assert health.last_error.startswith("no response from 127.0.0.1:"), health.last_error


async def test_slow_device_within_timeout_stays_good() -> None:
    async with rig({"plc": PLC_POINTS}, lambda r: [plc_device(r, timeout="1s")]) as t:
        t.plant.slave("plc").slow(0.05)
        await t.latest.until(_all_good, message="values from a slow device")
        health = t.acquisition.health("plc")
        assert health.response_time_ms >= 45
        assert health.timeouts == 0


@pytest.mark.parametrize(
    ("code", "status"),
    [(0x02, Status.BAD_CONFIGURATION_ERROR), (0x04, Status.BAD_DEVICE_FAILURE)],
)
async def test_exception_spoils_only_that_block(code: int, status: Status) -> None:
    async with rig({"plc": PLC_POINTS}, lambda r: [plc_device(r)]) as t:
        await t.latest.until(_all_good, message="first values")
        t.plant.slave("plc").exception(code, 100, 101)
        got = await t.latest.until(lambda v: v["plc.level"].status is status, message="bad level")
        assert got["plc.temp"].status is GOOD
        assert got["plc.pump"].status is GOOD
        health = t.acquisition.health("plc")
        assert health.state is DeviceState.OK  # an exception is an answer, not a failure
        await t.plant.slave("plc").clear_faults()
        got = await t.latest.until(lambda v: v["plc.level"].status is GOOD, message="level Good")
        assert got["plc.level"].value == 7.0


async def test_close_mid_response_resets_and_recovers() -> None:
    async with rig({"plc": PLC_POINTS}, lambda r: [plc_device(r)]) as t:
        await t.latest.until(_all_good, message="first values")
        slave = t.plant.slave("plc")
        slave.close_mid_response()
        await t.latest.until(lambda v: v["plc.temp"].status is not GOOD, message="not Good")
        await slave.clear_faults()
        await t.latest.until(_all_good, message="Good again")


async def test_restart_drops_the_connection_and_values_reset() -> None:
    async with rig({"plc": PLC_POINTS}, lambda r: [plc_device(r)]) as t:
        await t.latest.until(_all_good, message="first values")
        unit = t.plant.slave("plc").unit(1)
        unit.set("mode", 9)
        await t.latest.until(lambda v: v["plc.mode"].value == 9, message="mode 9")
        await t.plant.slave("plc").restart()
        await t.latest.until(
            lambda v: v["plc.mode"].value == 1 and v["plc.mode"].status is GOOD,
            message="mode back to its initial value",
        )


async def test_disabled_device_is_out_of_service() -> None:
    async with rig({"plc": PLC_POINTS}, lambda r: [plc_device(r, enabled=False)]) as t:
        got = await t.latest.until(
            lambda v: (
                len(v) == 10 and all(x.status is Status.BAD_OUT_OF_SERVICE for x in v.values())
            ),
            message="out of service",
        )
        assert got
        health = t.acquisition.health("plc")
        assert health.state is DeviceState.DISABLED
        assert health.requests == 0


async def test_write_float_goes_to_the_plc_and_is_reread_at_once() -> None:
    async with rig({"plc": PLC_POINTS}, lambda r: [plc_device(r, scan_interval="10s")]) as t:
        await t.latest.until(_all_good, message="first values")
        await t.acquisition.write("plc.setpoint", 62.5)
        assert t.plant.slave("plc").unit(1).get("setpoint") == 62.5
        # Scan interval is 10 s: only the immediate re-read can publish this quickly.
        got = await t.latest.until(
            lambda v: v["plc.setpoint"].value == 62.5, timeout=2.0, message="re-read"
        )
        assert got["plc.setpoint"].status is GOOD


async def test_write_bit_keeps_the_other_bits_of_the_word() -> None:
    async with rig({"plc": PLC_POINTS}, lambda r: [plc_device(r)]) as t:
        await t.latest.until(_all_good, message="first values")
        await t.acquisition.write("plc.fault", True)
        assert t.plant.slave("plc").unit(1).get("status") == 0b111
        await t.acquisition.write("plc.fault", False)
        assert t.plant.slave("plc").unit(1).get("status") == 0b101


async def test_write_coil() -> None:
    async with rig({"plc": PLC_POINTS}, lambda r: [plc_device(r)]) as t:
        await t.latest.until(_all_good, message="first values")
        await t.acquisition.write("plc.pump", True)
        assert t.plant.slave("plc").unit(1).get("pump") is True
        await t.latest.until(lambda v: v["plc.pump"].value is True, message="pump on")


@pytest.mark.parametrize(
    ("key", "value", "status"),
    [
        ("plc.temp", 1.0, Status.BAD_NOT_WRITABLE),
        ("plc.setpoint", "hot", Status.BAD_TYPE_MISMATCH),
        ("plc.setpoint", True, Status.BAD_TYPE_MISMATCH),
        ("plc.pump", 1, Status.BAD_TYPE_MISMATCH),
        ("plc.setpoint", 100.5, Status.BAD_OUT_OF_RANGE),
        ("plc.setpoint", math.nan, Status.BAD_OUT_OF_RANGE),
        ("plc.nope", 1, Status.BAD_NOT_WRITABLE),
    ],
)
async def test_write_validation_never_reaches_the_plc(
    key: str, value: object, status: Status
) -> None:
    async with rig({"plc": PLC_POINTS}, lambda r: [plc_device(r)]) as t:
        await t.latest.until(_all_good, message="first values")
        with pytest.raises(WriteRejected) as rejected:
            await t.acquisition.write(key, value)  # type: ignore[arg-type]
        assert rejected.value.status is status
        assert t.plant.slave("plc").unit(1).get("setpoint") == 50.0


async def test_write_to_a_hung_device_times_out_once() -> None:
    async with rig({"plc": PLC_POINTS}, lambda r: [plc_device(r, scan_interval="10s")]) as t:
        await t.latest.until(_all_good, message="first values")
        t.plant.slave("plc").hang()
        with pytest.raises(DeviceTimeout) as timed_out:
            await t.acquisition.write("plc.setpoint", 70.0)
        assert timed_out.value.status is Status.BAD_TIMEOUT


async def test_write_to_an_offline_device_fails_fast() -> None:
    async with rig({"plc": PLC_POINTS}, lambda r: [plc_device(r)]) as t:
        await t.latest.until(_all_good, message="first values")
        await t.plant.slave("plc").go_offline()
        health = t.acquisition.health("plc")
        await wait_for(lambda: health.state is not DeviceState.OK, message="not ok")
        with pytest.raises(DeviceUnreachable) as unreachable:
            await t.acquisition.write("plc.setpoint", 70.0)
        assert unreachable.value.status is Status.BAD_COMMUNICATION_ERROR


async def test_a_bug_in_one_poller_does_not_stop_the_others(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An unexpected exception is logged, the device backs off and retries; others go on."""
    from gateway.modbus.blockstate import BlockState

    original = BlockState.on_payload
    failures = {"left": 1}

    def flaky(self: BlockState, payload: bytes, now: float, out: list[TagValue]) -> None:
        if self.block.tags[0].device == "bad" and failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("decoder bug")
        original(self, payload, now, out)

    monkeypatch.setattr(BlockState, "on_payload", flaky)
    slaves = {"plc": PLC_POINTS, "bad": PLC_POINTS}
    async with rig(slaves, lambda r: [plc_device(r), plc_device(r, "bad")]) as t:
        good = t.acquisition.health("plc")
        bad = t.acquisition.health("bad")
        await wait_for(lambda: "internal error" in bad.last_error, message="internal error")
        assert "decoder bug" in caplog.text
        await t.latest.until(
            lambda v: all(v.get(f"bad.{n}") and v[f"bad.{n}"].status is GOOD for n in ("temp",)),
            message="bad device Good again",
        )
        assert good.errors == 0
        assert good.state is DeviceState.OK


async def test_an_invalid_host_name_is_a_device_fault_not_a_crash() -> None:
    slaves = {"plc": PLC_POINTS}

    def devices(running: RunningPlant) -> list[dict[str, object]]:
        return [plc_device(running), {**plc_device(running), "name": "typo", "host": "plc..local"}]

    async with rig(slaves, devices) as t:
        typo = t.acquisition.health("typo")
        await wait_for(lambda: "invalid host name" in typo.last_error, message="host error")
        await t.latest.until(_all_good_plc, message="the other device keeps polling")
        assert typo.state in (DeviceState.BACKOFF, DeviceState.CONNECTING)


def _all_good_plc(values: dict[str, TagValue]) -> bool:
    return all(values.get(f"plc.{n}") and values[f"plc.{n}"].status is GOOD for n in ("temp",))


async def test_write_bool_held_in_a_whole_holding_register() -> None:
    tags = [{"name": "mode_on", "table": "holding_register", "address": 12, "type": "bool",
             "writable": True}]  # fmt: skip
    async with rig({"plc": PLC_POINTS}, lambda r: [plc_device(r, tags=tags)]) as t:
        await t.latest.until(lambda v: "plc.mode_on" in v, message="first value")
        await t.acquisition.write("plc.mode_on", False)
        assert t.plant.slave("plc").unit(1).get("mode") == 0
        await t.acquisition.write("plc.mode_on", True)
        assert t.plant.slave("plc").unit(1).get("mode") == 1

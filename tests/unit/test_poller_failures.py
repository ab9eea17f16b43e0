"""Timeouts, backoff and demotion on a fake clock: each wait exactly as the policy says.

A refused device retries after `reconnect_min · 2^(n-1)` (capped, less up to
half at random) and is demoted for exactly `demote_for` after every
`demote_after`-th failure; a hung device's request fails after exactly its
timeout; a recovered device is ok at its first answer. Exact, because the
devices are in memory and time is a FakeClock's.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from fakeclock import FakeClock
from memorymodbus import MemoryNetwork
from pollerkit import polled, until

from gateway.errors import DeviceTimeout
from gateway.modbus.health import DeviceHealth, DeviceState
from gateway.model import DataType, Status

START = 1000.0
EPOCH = 1_700_000_000.0
#: POSIX seconds near EPOCH resolve to about 0.24 µs: wall-clock times compare to 1 µs.
WALL = 1e-6
UNCERTAIN = Status.UNCERTAIN_NO_COMMUNICATION_LAST_USABLE_VALUE
BACKOFF, CONNECTING, DEMOTED, OK = (
    DeviceState.BACKOFF,
    DeviceState.CONNECTING,
    DeviceState.DEMOTED,
    DeviceState.OK,
)
TAGS: list[dict[str, Any]] = [
    {"name": "temp", "table": "holding_register", "address": 0, "type": "float32"},
    {"name": "setpoint", "table": "holding_register", "address": 10, "type": "float32",
     "writable": True},
]  # fmt: skip


def _device(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "plc",
        "host": "plc",
        "port": 502,
        "tags": TAGS,
        "scan_interval": "100ms",
        "timeout": "200ms",
        **overrides,
    }


def _transitions(health: DeviceHealth) -> list[tuple[float, DeviceState]]:
    """(clock seconds since START, state entered), from the device's history."""
    return [(at - EPOCH, state) for at, state in health.history]


def _waits(health: DeviceHealth) -> list[tuple[DeviceState, float]]:
    """Each backoff or demotion and how long it lasted (until the next connecting)."""
    history = _transitions(health)
    return [
        (state, later - at)
        for (at, state), (later, following) in itertools.pairwise(history)
        if state in (BACKOFF, DEMOTED) and following is CONNECTING
    ]


def _failing(
    network: MemoryNetwork, device: dict[str, Any], done: Callable[[DeviceHealth], bool]
) -> DeviceHealth:
    """The device's health once `done` holds (within five minutes of the clock)."""
    clock = network.clock
    assert isinstance(clock, FakeClock)
    healths: list[DeviceHealth] = []

    async def main() -> None:
        async with polled(clock, network, [device]) as p:
            health = p.acquisition.health("plc")
            healths.append(health)
            await until(lambda: done(health), within=300, message="enough failures")

    clock.run(main())
    return healths[0]


def test_a_refused_device_backs_off_doubling_with_jitter_and_is_demoted_on_schedule() -> None:
    network = MemoryNetwork(FakeClock(start=START, epoch=EPOCH))  # nobody at plc:502: refused
    device = _device(reconnect_min="1s", reconnect_max="4s", demote_after=5, demote_for="60s")
    health = _failing(network, device, lambda health: health.errors >= 8)
    assert health.last_error == "connect to plc:502 failed: connection refused"
    assert health.requests == 0  # connection attempts are no requests
    waits = _waits(health)
    assert [state for state, _ in waits] == [BACKOFF] * 4 + [DEMOTED] + [BACKOFF] * 2
    for (state, wait), nominal in zip(waits, [1.0, 2.0, 4.0, 4.0, 60.0, 4.0, 4.0], strict=True):
        if state is DEMOTED:
            assert wait == pytest.approx(nominal, abs=WALL)
        else:
            assert nominal / 2 - WALL <= wait <= nominal + WALL, (state, wait, nominal)
    assert len({round(wait, 5) for state, wait in waits if state is BACKOFF}) > 2  # jittered


def test_a_hung_device_fails_after_exactly_its_timeout_and_recovers_at_its_first_answer() -> None:
    clock = FakeClock(start=START, epoch=EPOCH)
    network = MemoryNetwork(clock)
    plc = network.device("plc")
    plc.put(0, 21.5, DataType.FLOAT32)
    device = _device(reconnect_min="500ms", reconnect_max="500ms", demote_after=0)
    healths: list[DeviceHealth] = []

    async def main() -> None:
        async with polled(clock, network, [device]) as p:
            health = p.acquisition.health("plc")
            healths.append(health)
            good = await p.until_values(
                lambda v: len(v) == 2 and v["plc.temp"].status is Status.GOOD,
                within=1,
                message="first values",
            )
            await clock.sleep(0.05)
            plc.hang()  # from the scan at 0.1 on
            got = await p.until_values(
                lambda v: v["plc.temp"].status is UNCERTAIN, within=1, message="Uncertain"
            )
            assert got["plc.temp"].value == 21.5
            assert got["plc.temp"].source_time == good["plc.temp"].source_time
            assert got["plc.temp"].server_time == pytest.approx(EPOCH + 0.3, abs=WALL)
            assert health.timeouts == 1
            assert health.last_error == "no response from plc:502 within 0.2 s (function 3)"
            plc.clear_faults()
            await p.until_values(
                lambda v: v["plc.temp"].status is Status.GOOD, within=2, message="Good again"
            )

    clock.run(main())
    history = _transitions(healths[0])
    # ok at the first answer (0); the request of 0.1 times out at 0.3; the backoff ends
    # between 0.55 and 0.8; the first answer on the new connection makes it ok again.
    assert [state for _, state in history] == [OK, BACKOFF, CONNECTING, OK]
    assert history[0][0] == pytest.approx(0.0, abs=WALL)
    assert history[1][0] == pytest.approx(0.3, abs=WALL)
    assert 0.55 - WALL <= history[2][0] <= 0.8 + WALL
    assert history[3][0] == pytest.approx(history[2][0], abs=WALL)  # the answer took no time


def test_a_device_that_keeps_timing_out_is_demoted_for_exactly_demote_for() -> None:
    network = MemoryNetwork(FakeClock(start=START, epoch=EPOCH))
    network.device("plc").hang()
    device = _device(reconnect_min="50ms", reconnect_max="50ms", demote_after=2, demote_for="5s")
    health = _failing(network, device, lambda health: health.timeouts >= 4)
    assert health.requests == 4
    assert health.last_poll_time is None  # asked, never answered
    waits = _waits(health)
    assert [state for state, _ in waits[:3]] == [BACKOFF, DEMOTED, BACKOFF]
    assert waits[1][1] == pytest.approx(5.0, abs=WALL)
    assert OK not in [state for _, state in _transitions(health)]


def test_a_write_that_times_out_fails_after_its_timeout_once_and_is_never_resent() -> None:
    clock = FakeClock(start=START, epoch=EPOCH)
    network = MemoryNetwork(clock)
    plc = network.device("plc")
    device = _device(scan_interval="10s", reconnect_min="100ms", reconnect_max="100ms")

    def silent_on_writes(unit: int, pdu: bytes) -> bytes | None:
        return None if pdu[0] == 16 else plc.serve(unit, pdu)

    async def main() -> None:
        async with polled(clock, network, [device]) as p:
            health = p.acquisition.health("plc")
            await until(lambda: health.state is OK, within=1, message="ok")
            plc.script = silent_on_writes
            asked = clock.now()
            with pytest.raises(DeviceTimeout, match="outcome is unknown") as timed_out:
                await p.acquisition.write("plc.setpoint", 42.0)
            assert clock.now() == pytest.approx(asked + 0.2, abs=1e-9)
            assert timed_out.value.status is Status.BAD_TIMEOUT
            await until(lambda: health.state is OK, within=2, message="ok again")
            await clock.sleep(30)  # three more scans on the new connection

    clock.run(main())
    writes = [seen for seen in plc.requests if seen.function == 16]
    assert len(writes) == 1
    assert len({seen.connection for seen in plc.requests}) == 2

"""The scan schedule on a fake clock: a grid without drift, missed slots skipped, phases.

Every device here is in memory and time is a FakeClock's, so the request
times are exact: a scan due at 1000.3 s is asked at 1000.3 s, on an idle
machine or a saturated one. (These replace measured-timing checks that
allowed ±15 % and failed when the machine was busy.)
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from fakeclock import FakeClock
from memorymodbus import MemoryNetwork, Seen
from pollerkit import polled, until

from gateway.modbus.acquisition import FIRST_SCAN_SPREAD_MAX
from gateway.model import DataType, Status

START = 1000.0
EPOCH = 1_700_000_000.0  # wall() at START
#: Three read blocks: holding 0..1, holding 100..101, coil 0.
TAGS: list[dict[str, Any]] = [
    {"name": "temp", "table": "holding_register", "address": 0, "type": "float32"},
    {"name": "level", "table": "holding_register", "address": 100, "type": "float32"},
    {"name": "pump", "table": "coil", "address": 0, "type": "bool"},
]


def _device(name: str = "plc", **overrides: Any) -> dict[str, Any]:
    return {
        "name": name,
        "host": name,
        "port": 502,
        "tags": TAGS,
        "scan_interval": "100ms",
        "timeout": "1s",
        **overrides,
    }


def _scan_starts(requests: list[Seen]) -> list[float]:
    """When each scan began: the times of its first request (the coil block's)."""
    return [r.at - START for r in requests if r.function == 1]


def test_scans_sit_on_a_grid_that_does_not_drift() -> None:
    clock = FakeClock(start=START, epoch=EPOCH)
    network = MemoryNetwork(clock)
    plc = network.device("plc")
    plc.put(0, 21.5, DataType.FLOAT32)
    plc.delay = 0.003  # each of the three requests of a scan takes 3 ms

    async def main() -> None:
        async with polled(clock, network, [_device()]) as p:
            health = p.acquisition.health("plc")
            await until(lambda: health.scans >= 50, within=10, message="fifty scans")
            assert health.missed_scans == 0
            assert health.response_time_ms == pytest.approx(3.0)
            got = await p.until_values(lambda v: "plc.temp" in v, within=1, message="temp")
            assert got["plc.temp"].value == 21.5

    clock.run(main())
    starts = _scan_starts(plc.requests)[:50]
    # Slot k at k × 100 ms however long each scan takes: no drift after 50 scans.
    assert starts == pytest.approx([0.1 * k for k in range(50)], abs=1e-9)
    assert starts[10] - starts[0] == pytest.approx(1.0, abs=1e-9)  # ten scans, one second


def test_a_scan_longer_than_its_slot_counts_the_missed_slots_and_never_queues_them() -> None:
    clock = FakeClock(start=START, epoch=EPOCH)
    network = MemoryNetwork(clock)
    plc = network.device("plc")
    plc.delay = 0.15  # three requests of 150 ms: a scan takes 450 ms of a 100 ms slot

    async def main() -> None:
        async with polled(clock, network, [_device()]) as p:
            health = p.acquisition.health("plc")
            await until(lambda: health.scans >= 5, within=10, message="five scans")
            # After the first scan (off the grid) every scan skips the four slots it overran.
            assert health.missed_scans == 4 * (health.scans - 1)

    clock.run(main())
    # The next scan waits for the next free slot of the grid: 0.5, 1.0, 1.5 … never a burst.
    assert _scan_starts(plc.requests)[:5] == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0], abs=1e-9)


def test_a_stalled_process_skips_the_slots_it_missed() -> None:
    clock = FakeClock(start=START, epoch=EPOCH)
    network = MemoryNetwork(clock)
    plc = network.device("plc")
    stalled = False

    def stall_once(unit: int, pdu: bytes) -> bytes | None:
        nonlocal stalled
        if not stalled and clock.now() >= START + 0.3:
            stalled = True
            clock.jump(0.35)  # the whole process stops for 350 ms in the middle of scan 3
        return plc.serve(unit, pdu)

    plc.script = stall_once

    async def main() -> None:
        async with polled(clock, network, [_device()]) as p:
            health = p.acquisition.health("plc")
            await until(lambda: health.scans >= 8, within=10, message="eight scans")
            assert health.missed_scans == 3  # slots 0.4, 0.5 and 0.6

    clock.run(main())
    starts = _scan_starts(plc.requests)[:8]
    assert starts == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.7, 0.8, 0.9, 1.0], abs=1e-9)


@pytest.mark.parametrize(
    ("count", "interval", "spacing"),
    [
        # Spread over the 200 ms interval: 50 ms apart, not all at once.
        (4, "200ms", 0.05),
        # Ten devices scanned every second: 25 ms apart (the cap), not 100 ms, so
        # the last device is served within a quarter second of start-up.
        (10, "1s", FIRST_SCAN_SPREAD_MAX / 10),
    ],
)
def test_first_requests_are_staggered_over_the_interval_or_a_quarter_second(
    count: int, interval: str, spacing: float
) -> None:
    clock = FakeClock(start=START, epoch=EPOCH)
    network = MemoryNetwork(clock)
    plcs = [network.device(f"d{i}") for i in range(count)]
    devices = [_device(f"d{i}", tags=TAGS[:1], scan_interval=interval) for i in range(count)]

    async def main() -> None:
        async with polled(clock, network, devices):
            await until(lambda: all(plc.requests for plc in plcs), within=2, message="requests")

    clock.run(main())
    first = [plc.requests[0].at - START for plc in plcs]
    assert FIRST_SCAN_SPREAD_MAX == 0.25
    assert first == pytest.approx([spacing * i for i in range(count)], abs=1e-9)


def test_later_scans_are_spread_over_each_devices_own_interval() -> None:
    # Four devices scanned every 400 ms next to one scanned every 50 ms: start-up
    # is spread over the fastest interval (10 ms apart), and later scans sit i/5
    # into each device's own interval: 80 ms apart, not within one 50 ms window.
    clock = FakeClock(start=START, epoch=EPOCH)
    network = MemoryNetwork(clock)
    plcs = [network.device(f"d{i}") for i in range(5)]
    devices = [_device(f"d{i}", tags=TAGS[:1], scan_interval="400ms") for i in range(4)]
    devices.append(_device("d4", tags=TAGS[:1], scan_interval="50ms"))

    async def main() -> None:
        async with polled(clock, network, devices):
            await until(
                lambda: all(len(plc.requests) >= 2 for plc in plcs),
                within=2,
                message="a second scan from every device",
            )

    clock.run(main())
    first = [plc.requests[0].at - START for plc in plcs]
    assert first == pytest.approx([0.0, 0.01, 0.02, 0.03, 0.04], abs=1e-9)
    second = sorted(plc.requests[1].at - START for plc in plcs[:4])
    # d1..d3 at start + i × (10 + 80) ms; d0 (phase 0) a whole interval after its start.
    assert second == pytest.approx([0.09, 0.18, 0.27, 0.4], abs=1e-9)
    gaps = [later - earlier for earlier, later in itertools.pairwise(second)]
    assert all(gap >= 0.045 for gap in gaps), gaps


def test_a_value_change_is_published_at_the_next_slot_and_only_that_tag() -> None:
    clock = FakeClock(start=START, epoch=EPOCH)
    network = MemoryNetwork(clock)
    plc = network.device("plc")
    plc.put(0, 21.5, DataType.FLOAT32)
    plc.put(100, 7.0, DataType.FLOAT32)

    async def main() -> None:
        async with polled(clock, network, [_device()]) as p:
            await p.until_values(lambda v: len(v) == 3, within=1, message="first values")
            await clock.sleep(0.25)  # scans at 0.1 and 0.2 found nothing new
            p.pump()
            assert len(p.batches) == 1
            plc.put(100, 8.5, DataType.FLOAT32)  # between the slots of 0.2 and 0.3
            got = await p.until_values(
                lambda v: v["plc.level"].value == 8.5, within=1, message="new level"
            )
            assert got["plc.level"].source_time == pytest.approx(EPOCH + 0.3, abs=1e-6)
            assert [[v.tag for v in batch] for batch in p.batches[1:]] == [["plc.level"]]
            assert got["plc.level"].status is Status.GOOD

    clock.run(main())

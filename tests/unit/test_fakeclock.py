"""The test kit's fake clock: the loop that jumps to the next timer, and manual advancing."""

from __future__ import annotations

import asyncio

import pytest
from fakeclock import Deadlock, FakeClock

from gateway.modbus.clock import timeout


def test_the_loop_jumps_over_waits_in_order_of_their_deadlines() -> None:
    clock = FakeClock(start=10.0, epoch=5000.0)
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float, *, on_clock: bool) -> None:
        await (clock.sleep(seconds) if on_clock else asyncio.sleep(seconds))
        woke.append((name, asyncio.get_running_loop().time()))

    async def main() -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(sleeper("hour", 3600, on_clock=True))
            group.create_task(sleeper("loop", 1.5, on_clock=False))
            group.create_task(sleeper("second", 1, on_clock=True))
        assert clock.wall() == 5000.0 + 3600

    clock.run(main())
    assert woke == [("second", 11.0), ("loop", 11.5), ("hour", 3610.0)]


def test_every_task_waiting_with_no_timer_is_a_deadlock_not_a_hang() -> None:
    clock = FakeClock()

    async def main() -> None:
        await asyncio.Event().wait()

    with pytest.raises(Deadlock, match="no timer is set"):
        clock.run(main())


def test_advance_fires_due_timers_in_order_and_jump_fires_none() -> None:
    clock = FakeClock(start=0.0)
    fired: list[tuple[str, float]] = []

    async def main() -> None:
        clock.call_later(2.0, lambda: fired.append(("b", clock.now())))
        clock.call_later(1.0, lambda: fired.append(("a", clock.now())))
        clock.call_later(5.0, lambda: fired.append(("c", clock.now()))).cancel()
        clock.jump(0.5)
        assert fired == []
        clock.advance(2.0)
        assert fired == [("a", 1.0), ("b", 2.0)]
        assert clock.now() == 2.5
        assert clock.pending == 0

    asyncio.run(main())


def test_a_timeout_on_the_clock_expires_when_the_clock_says() -> None:
    clock = FakeClock(start=0.0)

    async def main() -> None:
        with pytest.raises(TimeoutError):
            async with timeout(clock, 2.0):
                await asyncio.sleep(3600)  # the clock's 2 s come first
        assert clock.now() == 2.0

    clock.run(main())

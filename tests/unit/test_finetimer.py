"""FineTimer: a timerfd on the loop fires once, at or after its time; moved, called off, closed."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from gateway.finetimer import FINE, FineTimer


def test_it_fires_once_not_before_its_time() -> None:
    async def main() -> list[float]:
        fired: list[float] = []
        done = asyncio.get_running_loop().create_future()

        def record() -> None:
            fired.append(time.perf_counter())
            done.set_result(None)

        timer = FineTimer(record)
        at = time.perf_counter() + 0.002
        timer.arm(at)
        await asyncio.wait_for(done, 5)
        await asyncio.sleep(0.01)  # a second firing would land here
        timer.close()
        assert fired[0] >= at
        return fired

    assert len(asyncio.run(main())) == 1


def test_arming_again_moves_it_and_a_past_time_fires_at_once() -> None:
    async def main() -> list[str]:
        fired: list[str] = []
        done = asyncio.get_running_loop().create_future()
        timer = FineTimer(lambda: (fired.append("moved"), done.set_result(None)))
        timer.arm(time.perf_counter() + 60)
        timer.arm(time.perf_counter() - 1)  # in the past: soon
        await asyncio.wait_for(done, 5)
        timer.close()
        return fired

    assert asyncio.run(main()) == ["moved"]


def test_a_disarmed_timer_does_not_fire_even_if_it_had_expired() -> None:
    async def main() -> list[str]:
        fired: list[str] = []
        loop = asyncio.get_running_loop()
        off = FineTimer(lambda: fired.append("off"))
        off.arm(time.perf_counter())
        off.disarm()  # before the loop ran its callback
        later = loop.create_future()
        witness = FineTimer(lambda: later.set_result(None))
        witness.arm(time.perf_counter() + 0.005)
        await asyncio.wait_for(later, 5)
        off.close()
        witness.close()
        return fired

    assert asyncio.run(main()) == []


@pytest.mark.skipif(not FINE, reason="no timerfd here: the loop's timers are used")
def test_close_releases_its_descriptor() -> None:
    async def main() -> None:
        before = len(os.listdir("/proc/self/fd"))
        timer = FineTimer(lambda: None)
        assert len(os.listdir("/proc/self/fd")) == before + 1
        timer.close()
        timer.close()  # idempotent
        assert len(os.listdir("/proc/self/fd")) == before

    asyncio.run(main())

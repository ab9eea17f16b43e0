"""Run a plant: every slave listening, and a tick that moves plant time on.

    async with run_plant(plant) as running:
        boiler = running.slave("boiler")
        print(boiler.port, boiler.unit(1).get("temperature"))

Plant time is `tick_index * tick`, on the monotonic schedule of
`serving.tick_schedule`; after a busy loop skipped ticks, models integrate
over the whole gap. Tests that want exact values pass `autotick=False` and
move time themselves with `await running.advance()`.
"""

from __future__ import annotations

import asyncio

from simulators.plant import Plant
from simulators.serving import Serving, tick_schedule
from simulators.slave import SimulatedSlave

__all__ = ["RunningPlant", "run_plant"]


class RunningPlant:
    """A plant whose slaves are serving: look-up of slaves, plant time, manual ticks."""

    def __init__(self, plant: Plant) -> None:
        self.plant = plant
        self.tick = plant.tick
        self.tick_index = 0
        self.slaves = {s.name: SimulatedSlave(s, seed=plant.seed) for s in plant.slaves}
        self._lock = asyncio.Lock()

    @property
    def time(self) -> float:
        """Plant time in seconds: the time signals and scheduled faults see."""
        return self.tick_index * self.tick

    def slave(self, name: str) -> SimulatedSlave:
        """The slave called `name` (KeyError naming the known ones)."""
        try:
            return self.slaves[name]
        except KeyError:
            known = ", ".join(self.slaves)
            raise KeyError(f"no slave {name!r} in plant {self.plant.name} ({known})") from None

    async def advance(self, ticks: int = 1) -> None:
        """Run `ticks` ticks one after another, without waiting (for autotick=False runs)."""
        if ticks < 1:
            raise ValueError(f"ticks must be at least 1, got {ticks}")
        for _ in range(ticks):
            await self._advance_to(self.tick_index + 1)

    async def _advance_to(self, index: int) -> None:
        async with self._lock:  # a manual advance and the ticker never interleave
            if index <= self.tick_index:
                return
            before, self.tick_index = self.time, index
            now = self.time
            for slave in self.slaves.values():
                await slave.advance(before, now, now - before)

    async def _tick_forever(self) -> None:
        await tick_schedule(self.tick, lambda: self.tick_index, self._advance_to)


def run_plant(plant: Plant, *, autotick: bool = True) -> Serving[RunningPlant]:
    """Serve every slave of `plant` while the `async with` block runs (one use only)."""
    running = RunningPlant(plant)
    servers = [slave.server for slave in running.slaves.values()]
    return Serving(running, servers, running._tick_forever if autotick else None)

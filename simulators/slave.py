"""One simulated PLC at run time: its units, its TCP slave and its fault switches.

This is the object tests hold (`running.slave("boiler")`). Switches that only
change how requests are answered are plain methods; those that open or close
the port (offline, back online, restart, clearing faults) are coroutines that
return once the port is in its new state, so a test can connect right after.
Scheduled faults from the plant file follow plant time; `clear_faults` clears
the switched ones only.
"""

from __future__ import annotations

import random

from gateway.model import LAST_ADDRESS, Table
from simulators.faults import (
    BadCrcFault,
    CloseMidFault,
    ExceptionFault,
    FaultSet,
    GarbageFault,
    HangFault,
    OfflineFault,
    RestartFault,
    SlowFault,
    WrongUnitFault,
)
from simulators.plant import SlaveConfig
from simulators.rtuserving import make_server
from simulators.unit import SimulatedUnit, derive_seed

__all__ = ["SimulatedSlave"]


class SimulatedSlave:
    """Units, server and faults of one slave of the plant."""

    def __init__(self, config: SlaveConfig, *, seed: int) -> None:
        self.config = config
        self.name = config.name
        self.units = {
            unit.unit_id: SimulatedUnit(unit, seed=derive_seed(seed, config.name, unit.unit_id))
            for unit in config.units
        }
        self.faults = FaultSet(random.Random(derive_seed(seed, config.name, "faults")))
        self.faults.schedule(config.faults, 0.0)
        self.server = make_server(
            config.transport,
            config.serial,
            {unit_id: unit.image for unit_id, unit in self.units.items()},
            host=config.host,
            port=config.port,
            faults=self.faults,
            on_write=self._master_wrote,
        )

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def where(self) -> str:
        """Where masters reach it: host:port, or the serial port's path."""
        return self.server.where

    @property
    def unit_ids(self) -> list[int]:
        return list(self.units)

    def unit(self, unit_id: int) -> SimulatedUnit:
        """The unit with this id (KeyError naming the known ones)."""
        try:
            return self.units[unit_id]
        except KeyError:
            known = ", ".join(str(u) for u in self.units)
            raise KeyError(f"slave {self.name} has no unit {unit_id} (units: {known})") from None

    def _master_wrote(self, unit_id: int, table: Table, address: int, count: int) -> None:
        self.units[unit_id].master_wrote(table, address, count)

    # ---------------------------------------------------------------- faults

    async def go_offline(self) -> None:
        """Close the port: connections dropped, new ones refused."""
        self.faults.manual.append(OfflineFault())
        await self.server.sync_listener()

    async def go_online(self) -> None:
        """Undo `go_offline` (a scheduled offline window still applies)."""
        self.faults.manual = [f for f in self.faults.manual if not isinstance(f, OfflineFault)]
        await self.server.sync_listener()

    def hang(self, *, unit_id: int | None = None) -> None:
        """Accept requests and never answer them."""
        self.faults.manual.append(HangFault(unit_id=unit_id))

    def slow(self, delay: float | tuple[float, float], *, unit_id: int | None = None) -> None:
        """Answer after `delay` seconds, or a uniform random delay in (min, max)."""
        self.faults.manual.append(SlowFault(delay=delay, unit_id=unit_id))

    def exception(
        self,
        code: int,
        start: int = 0,
        end: int | None = None,
        *,
        table: Table | None = None,
        unit_id: int | None = None,
    ) -> None:
        """Answer requests touching addresses [start, end] (end: the last address) with `code`."""
        self.faults.manual.append(
            ExceptionFault(
                code=code,
                start=start,
                end=LAST_ADDRESS if end is None else end,
                table=table,
                unit_id=unit_id,
            )
        )

    def close_mid_response(self, *, unit_id: int | None = None) -> None:
        """Send half of each answer, then close the connection."""
        self.faults.manual.append(CloseMidFault(unit_id=unit_id))

    def bad_crc(self, *, unit_id: int | None = None) -> None:
        """RTU: answer with a wrong CRC."""
        self.faults.manual.append(BadCrcFault(unit_id=unit_id))

    def garbage(self, size: int = 8, *, unit_id: int | None = None) -> None:
        """RTU: send `size` random bytes instead of each answer."""
        self.faults.manual.append(GarbageFault(size=size, unit_id=unit_id))

    def wrong_unit(self, *, unit_id: int | None = None) -> None:
        """RTU: answer with another unit id."""
        self.faults.manual.append(WrongUnitFault(unit_id=unit_id))

    async def clear_faults(self) -> None:
        """Remove every switched fault; the port opens again unless a scheduled one holds."""
        self.faults.manual.clear()
        await self.server.sync_listener()

    async def restart(self) -> None:
        """Drop connections, reset registers and models, listen again (unless offline)."""
        await self.server.stop()
        for unit in self.units.values():
            unit.reset()
        await self.server.start()

    # --------------------------------------------------------------- runtime

    async def advance(self, before: float, now: float, dt: float) -> None:
        """Plant time moved from `before` to `now`: scheduled faults, then values."""
        scheduled = self.config.faults
        if scheduled:
            self.faults.schedule(scheduled, now)
            restarts = [f for f in scheduled if isinstance(f, RestartFault)]
            if any(f.started_between(before, now) for f in restarts):
                await self.restart()
            else:
                await self.server.sync_listener()
        for unit in self.units.values():
            unit.update(now, dt)

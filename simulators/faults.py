"""Faults a simulated slave can show, and the set of those in force right now.

The same frozen models serve both sources of faults: scheduled ones in the
plant file (active from `at` for `duration`, repeating `every`) and ones a
test switches on through the control API. `FaultSet` answers the server's
per-request questions (hang? delay? exception? cut the reply?) without I/O;
only going offline needs the listener, which the slave does itself.

    offline    the port refuses connections (listener closed, connections dropped)
    hang       requests are read and never answered
    slow       each answer waits `delay` seconds, or uniformly in [min, max]
    exception  requests touching [start, end] get exception `code`
    close_mid  half of each answer is sent, then the connection is closed
    restart    at `at`: connections dropped, registers and models reset;
               `duration` is the downtime (offline) before it listens again

RTU slaves (serial line or RTU over TCP) also know, per answer:

    bad_crc    the answer's CRC is wrong
    garbage    random bytes instead of the answer
    wrong_unit the answer carries another unit id (a neighbour's late answer)

and there `hang` is a unit that does not answer, `close_mid` half an answer
(a short frame; over TCP the connection is closed too), `offline` a line that
stays silent (a serial port cannot refuse).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from gateway.config.types import ConfigModel, Duration, NonNegativeDuration
from gateway.model import LAST_ADDRESS, Table
from simulators.kinds import kind_dispatcher

__all__ = [
    "EXCEPTION_CODES",
    "BadCrcFault",
    "BaseFault",
    "CloseMidFault",
    "ExceptionFault",
    "Fault",
    "FaultSet",
    "GarbageFault",
    "HangFault",
    "OfflineFault",
    "Reaction",
    "RestartFault",
    "SlowFault",
    "UnitFault",
    "WrongUnitFault",
]

#: Modbus exception codes a fault can answer with, and what they mean.
EXCEPTION_CODES = {
    0x01: "illegal function",
    0x02: "illegal data address",
    0x03: "illegal data value",
    0x04: "server device failure",
    0x06: "server device busy",
    0x0A: "gateway path unavailable",
    0x0B: "gateway target device failed to respond",
}
#: Plant times are products like 43 * 0.1 = 4.2999999999999998; without this
#: slack a window would sometimes end one tick late.
_EPSILON = 1e-9


class BaseFault(ConfigModel):
    """When a fault is in force: from `at`, for `duration`, again `every`."""

    at: NonNegativeDuration = 0.0
    duration: Duration | None = None  # None: until the plant stops
    every: Duration | None = None

    @model_validator(mode="after")
    def _period(self) -> BaseFault:
        if self.every is not None and self.duration is not None and self.duration >= self.every:
            raise ValueError(
                f"duration ({self.duration:g}s) must be shorter than every ({self.every:g}s)"
            )
        if self.every is not None and self.duration is None:
            raise ValueError("a repeating fault (every) needs a duration")
        return self

    def active(self, t: float) -> bool:
        """True while plant time `t` is inside one of the fault's windows."""
        t += _EPSILON
        if t < self.at:
            return False
        since = t - self.at
        if self.every is not None:
            since %= self.every
        return self.duration is None or since < self.duration

    def started_between(self, earlier: float, later: float) -> bool:
        """True when a window opens in (earlier, later]: edge-triggered faults (restart)."""
        earlier, later = earlier + _EPSILON, later + _EPSILON
        if later < self.at:
            return False
        if self.every is None:
            return earlier < self.at <= later
        last_start = self.at + math.floor((later - self.at) / self.every) * self.every
        return last_start > earlier


class UnitFault(BaseFault):
    """A fault that may be limited to one unit id of the slave."""

    unit_id: int | None = Field(default=None, ge=0, le=255)  # None: every unit of the slave

    def applies_to(self, unit_id: int) -> bool:
        return self.unit_id is None or self.unit_id == unit_id


class OfflineFault(BaseFault):
    kind: Literal["offline"] = "offline"


class RestartFault(BaseFault):
    kind: Literal["restart"] = "restart"

    @model_validator(mode="after")
    def _period(self) -> RestartFault:  # duration is the downtime; none means at once
        if self.every is not None and self.duration is not None and self.duration >= self.every:
            raise ValueError(
                f"duration ({self.duration:g}s) must be shorter than every ({self.every:g}s)"
            )
        return self


class HangFault(UnitFault):
    kind: Literal["hang"] = "hang"


class CloseMidFault(UnitFault):
    kind: Literal["close_mid"] = "close_mid"


class BadCrcFault(UnitFault):
    kind: Literal["bad_crc"] = "bad_crc"


class GarbageFault(UnitFault):
    kind: Literal["garbage"] = "garbage"
    size: int = Field(default=8, ge=1, le=256)  # random bytes sent instead of the answer


class WrongUnitFault(UnitFault):
    kind: Literal["wrong_unit"] = "wrong_unit"


class SlowFault(UnitFault):
    kind: Literal["slow"] = "slow"
    delay: NonNegativeDuration | tuple[NonNegativeDuration, NonNegativeDuration]

    @field_validator("delay")
    @classmethod
    def _ordered(cls, value: float | tuple[float, float]) -> float | tuple[float, float]:
        if isinstance(value, tuple) and value[0] > value[1]:
            raise ValueError(f"expected [min, max] with min ≤ max, got {list(value)}")
        return value

    def draw(self, rng: random.Random) -> float:
        """This answer's delay: fixed, or uniform in [min, max]."""
        if isinstance(self.delay, tuple):
            return rng.uniform(*self.delay)
        return self.delay


class ExceptionFault(UnitFault):
    kind: Literal["exception"] = "exception"
    code: int
    start: int = Field(default=0, ge=0, le=LAST_ADDRESS)
    end: int = Field(default=LAST_ADDRESS, ge=0, le=LAST_ADDRESS)
    table: Table | None = None  # None: every table

    @field_validator("code")
    @classmethod
    def _known_code(cls, value: int) -> int:
        if value not in EXCEPTION_CODES:
            known = ", ".join(f"{code:#04x} ({name})" for code, name in EXCEPTION_CODES.items())
            raise ValueError(f"{value} is not a supported exception code: {known}")
        return value

    @model_validator(mode="after")
    def _range(self) -> ExceptionFault:
        if self.start > self.end:
            raise ValueError(f"start ({self.start}) must not be after end ({self.end})")
        return self

    def matches(self, unit_id: int, table: Table, start: int, count: int) -> bool:
        """True when the request touches the fault's address range."""
        return (
            self.applies_to(unit_id)
            and (self.table is None or self.table is table)
            and start <= self.end
            and start + count - 1 >= self.start
        )


_KINDS: dict[str, type[BaseFault]] = {
    "offline": OfflineFault,
    "hang": HangFault,
    "slow": SlowFault,
    "exception": ExceptionFault,
    "close_mid": CloseMidFault,
    "restart": RestartFault,
    "bad_crc": BadCrcFault,
    "garbage": GarbageFault,
    "wrong_unit": WrongUnitFault,
}

#: Any fault, chosen by its `kind:` key.
Fault = Annotated[
    OfflineFault
    | HangFault
    | SlowFault
    | ExceptionFault
    | CloseMidFault
    | RestartFault
    | BadCrcFault
    | GarbageFault
    | WrongUnitFault,
    BeforeValidator(kind_dispatcher("fault", _KINDS)),
]


@dataclass(frozen=True, slots=True)
class Reaction:
    """How the slave treats one request before it is processed."""

    hang: bool = False
    delay: float = 0.0
    close_mid: bool = False
    bad_crc: bool = False
    garbage: int = 0  # RTU: this many random bytes instead of the answer
    wrong_unit: bool = False


_NO_REACTION = Reaction()


class FaultSet:
    """Faults in force on one slave: switched by hand, or active on the schedule."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self.manual: list[BaseFault] = []
        self.scheduled: list[BaseFault] = []

    def __iter__(self) -> Iterator[BaseFault]:
        yield from self.manual
        yield from self.scheduled

    def __bool__(self) -> bool:
        return bool(self.manual or self.scheduled)

    @property
    def offline(self) -> bool:
        """True when the port must refuse connections (offline, or a restart's downtime)."""
        return any(isinstance(fault, OfflineFault | RestartFault) for fault in self)

    def reaction(self, unit_id: int) -> Reaction:
        """Hang, delay and close-mid for one request to `unit_id`."""
        if not self:
            return _NO_REACTION
        unit_faults = [f for f in self if isinstance(f, UnitFault) and f.applies_to(unit_id)]
        delays = [f.draw(self._rng) for f in unit_faults if isinstance(f, SlowFault)]
        return Reaction(
            hang=any(isinstance(f, HangFault) for f in unit_faults),
            delay=max(delays, default=0.0),
            close_mid=any(isinstance(f, CloseMidFault) for f in unit_faults),
            bad_crc=any(isinstance(f, BadCrcFault) for f in unit_faults),
            garbage=max((f.size for f in unit_faults if isinstance(f, GarbageFault)), default=0),
            wrong_unit=any(isinstance(f, WrongUnitFault) for f in unit_faults),
        )

    def garbage(self, size: int) -> bytes:
        """`size` random bytes (from the slave's seeded generator: reproducible)."""
        return self._rng.randbytes(size)

    def exception(self, unit_id: int, table: Table, start: int, count: int) -> int | None:
        """The exception code for a request touching [start, start + count), if any."""
        for fault in self:
            if isinstance(fault, ExceptionFault) and fault.matches(unit_id, table, start, count):
                return fault.code
        return None

    def schedule(self, faults: Iterable[BaseFault], t: float) -> None:
        """Make the plant file's faults that are active at plant time `t` the scheduled set."""
        self.scheduled = [
            fault
            for fault in faults
            if fault.active(t) and not (isinstance(fault, RestartFault) and not fault.duration)
        ]

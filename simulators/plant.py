"""Plant files: simulated PLCs declared in YAML, as frozen models.

A plant file is validated like a gateway config (`load_plant` in loader.py,
checks across items in plant_checks.py): every problem is reported at once
as `file:line: key.path: message`. The format (see
simulators/plants/demo.yaml for a full example):

    name: demo                 # [A-Za-z0-9_-]+
    tick: 100ms                # how often signals and models update
    seed: 42                   # random walks and random delays derive from it
    slaves:
      - name: boiler           # unique
        host: 127.0.0.1        # default 127.0.0.1
        port: 5020             # 0: any free port (printed at start)
        units:
          - unit_id: 1
            byte_order: big    # defaults of the unit's points (as in the gateway)
            word_order: big
            size: 200          # addresses per table; default: up to the last point
            points:
              - {name: temp, table: input_register, address: 0, type: float32}
              - {name: flue, table: input_register, address: 2, type: float32,
                 signal: {kind: sine, mean: 180, amplitude: 5, period: 60s}}
              - {name: setpoint, ref: 40001, type: float32, value: 85.0}
              - {name: burner, table: coil, address: 0}
            models:
              - {kind: heater, temperature: temp, heater_on: burner, max: 120,
                 time_constant: 30s}
        faults:
          - {kind: offline, at: 60s, duration: 10s, every: 5m}

A point has table + address (or a Modicon `ref`), a `type` (bool by default
on coil/discrete_input), optional byte/word order overrides, `length`
(strings, in registers), `bit` (a bool in one bit of a register),
`scale`/`offset` (value = raw * scale + offset), and either a constant
`value` (also the initial value of a point a master writes) or a `signal`
(simulators.signals). A point with neither just holds what a master writes.
Models (simulators.models) link points by name; faults are in
simulators.faults.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, model_validator

from gateway.codec import Encoding, encode
from gateway.config.fields import address_problems, field_problems
from gateway.config.serial import Transport
from gateway.config.tags import expand_modicon_ref
from gateway.config.types import ConfigModel, Duration, Name
from gateway.config.validation import raise_located
from gateway.config.yamlsource import KeyPath
from gateway.errors import CodecError
from gateway.model import LAST_ADDRESS, ByteOrder, DataType, Table, WordOrder
from simulators.faults import Fault
from simulators.image import TABLE_SIZE_LIMIT
from simulators.lineconfig import LineConfig
from simulators.models import ProcessModel
from simulators.signals import Signal

__all__ = ["Plant", "PointConfig", "SlaveConfig", "UnitConfig"]

_NUMERIC_ONLY = ("scale", "offset")


class PointConfig(ConfigModel):
    """One simulated value at a Modbus address."""

    input_only_keys: ClassVar[tuple[str, ...]] = ("ref",)

    name: Name
    table: Table
    address: int = Field(ge=0, le=LAST_ADDRESS)
    type: DataType
    byte_order: ByteOrder | None = None
    word_order: WordOrder | None = None
    length: int | None = Field(default=None, ge=1)
    bit: int | None = Field(default=None, ge=0, le=15)
    scale: float = 1.0
    offset: float = 0.0
    value: bool | int | float | str | None = None
    signal: Signal | None = None
    description: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, data: Any) -> Any:
        """`ref: 40001` means table + address; points on bit tables are bool by default."""
        if not isinstance(data, dict):
            return data
        data = expand_modicon_ref(cls.__name__, data)
        if "type" not in data and data.get("table") in (Table.COIL, Table.DISCRETE_INPUT):
            data = {**data, "type": DataType.BOOL}
        return data

    @model_validator(mode="after")
    def _check(self) -> PointConfig:
        raise_located(type(self).__name__, self._problems(), self.name)
        return self

    def _problems(self) -> list[tuple[KeyPath, str]]:
        problems = field_problems(self, "point", _NUMERIC_ONLY)
        kind = self.type
        if self.value is not None and self.signal is not None:
            problems.append((("signal",), "give either value or signal, not both"))
        if self.signal is not None and kind is DataType.STRING:
            problems.append((("signal",), "a string point takes a constant value, not a signal"))
        if self.value is not None:
            problems.extend((("value",), message) for message in self._value_problems())
        return problems or address_problems(self)

    def _value_problems(self) -> list[str]:
        value, encoding = self.value, self.encoding()
        if self.type is DataType.BOOL:
            if isinstance(value, bool):
                return []
            return [f"a bool point needs true or false, got {value!r}"]
        if value is None or encoding is None:
            return []
        try:
            encode(value, encoding)
        except (CodecError, ValueError) as exc:
            return [str(exc)]
        return []

    @property
    def size(self) -> int:
        """Addresses the point occupies: 1 on bit tables, else its register count."""
        return 1 if self.table.is_bit else self.type.register_count(self.length)

    def encoding(
        self, byte_order: ByteOrder = ByteOrder.BIG, word_order: WordOrder = WordOrder.BIG
    ) -> Encoding | None:
        """How the value sits in registers (None on bit tables), given the unit defaults."""
        if self.table.is_bit:
            return None
        return Encoding(
            self.type,
            self.byte_order or byte_order,
            self.word_order or word_order,
            self.length,
            self.bit,
            self.scale,
            self.offset,
        )


class UnitConfig(ConfigModel):
    """One unit id of a slave: its register image, points and process models."""

    unit_id: int = Field(ge=0, le=255)
    byte_order: ByteOrder = ByteOrder.BIG
    word_order: WordOrder = WordOrder.BIG
    size: int | None = Field(default=None, ge=1, le=TABLE_SIZE_LIMIT)
    points: tuple[PointConfig, ...] = ()
    models: tuple[ProcessModel, ...] = ()

    @property
    def table_size(self) -> int:
        """Addresses per table: `size`, or just enough for the last point."""
        if self.size is not None:
            return self.size
        return max((p.address + p.size for p in self.points), default=1)

    def encoding(self, point: PointConfig) -> Encoding | None:
        """The point's encoding with this unit's default orders."""
        return point.encoding(self.byte_order, self.word_order)

    def point(self, name: str) -> PointConfig | None:
        return next((p for p in self.points if p.name == name), None)


class SlaveConfig(ConfigModel):
    """One simulated PLC: a TCP port (or an RTU line) serving one or more unit ids."""

    name: Name
    transport: Transport = Transport.TCP  # rtu, rtu_over_tcp: lineconfig.py
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=0, ge=0, le=65535)
    serial: LineConfig = LineConfig()
    units: tuple[UnitConfig, ...] = ()  # at least one: plant_checks (no cascade of errors)
    faults: tuple[Fault, ...] = ()


class Plant(ConfigModel):
    """A whole plant file."""

    name: Name = "plant"
    tick: Duration = 0.1
    seed: int = 0
    slaves: tuple[SlaveConfig, ...] = ()  # at least one: plant_checks

    def slave(self, name: str) -> SlaveConfig | None:
        return next((s for s in self.slaves if s.name == name), None)

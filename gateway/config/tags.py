"""The tag model: one typed value at a Modbus address.

Every rule that concerns a single tag lives here (those it shares with the
simulators' points in fields.py), so a TagConfig that exists is usable by the
codec and planner without further checks: bit tables hold bools, `bit` only
picks a bit of a register, strings know their length and nothing runs past
the last address. Rules that compare tags with each other are
in checks.py.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from gateway.config.fields import address_problems, field_problems
from gateway.config.types import ConfigModel, Duration, Name, parse_modicon_ref
from gateway.config.validation import raise_located
from gateway.config.yamlsource import KeyPath
from gateway.model import LAST_ADDRESS, ByteOrder, DataType, Table, WordOrder

__all__ = ["LAST_ADDRESS", "TagConfig", "expand_modicon_ref"]

_NUMERIC_ONLY = ("range", "scale", "offset", "deadband")


class StorageMode(StrEnum):
    """When the historian stores a tag (docs/storage.md).

    on_change: every published change (the deadband already applied by the poller);
    every_scan: changes, plus the last value repeated once per scan interval without one;
    sampled: only the last value every `sample_interval`, on wall-clock multiples.
    """

    ON_CHANGE = "on_change"
    EVERY_SCAN = "every_scan"
    SAMPLED = "sampled"


def expand_modicon_ref(model: str, data: Any) -> Any:
    """`ref: 40001` is shorthand for table + address; giving both is ambiguous.

    Shared by every model with an address (tags here, simulator points).
    """
    if not isinstance(data, dict) or "ref" not in data:
        return data
    fields = {key: value for key, value in data.items() if key != "ref"}
    clash = [key for key in ("table", "address") if key in fields]
    try:
        if clash:
            raise ValueError(f"use either ref or {' and '.join(clash)}, not both")
        table, address = parse_modicon_ref(data["ref"])
    except ValueError as exc:
        raise_located(model, [(("ref",), str(exc))], data["ref"])
        raise  # pragma: no cover - raise_located raised already
    return {**fields, "table": table, "address": address}


class TagConfig(ConfigModel):
    """One tag of a device (docs/configuration.md); `ref` is read as table + address."""

    #: Keys accepted in the file that are not fields (turned into table + address).
    input_only_keys: ClassVar[tuple[str, ...]] = ("ref",)

    name: Name = Field(
        description="Tag name, unique in its device; the tag's OPC UA NodeId is `<device>.<tag>`."
    )
    table: Table = Field(
        description="Modbus table: coil (FC01, writable bits), discrete_input (FC02, "
        "read-only bits), input_register (FC04, read-only), holding_register (FC03, "
        "writable). Required unless `ref` is given."
    )
    address: int = Field(
        ge=0,
        le=LAST_ADDRESS,
        description="0-based protocol address of the first register or bit (Modicon 40001 "
        "is holding_register 0). Required unless `ref` is given.",
    )
    type: DataType = Field(
        description="Data type; coils and discrete inputs are bool. See Data types below."
    )
    unit: str | None = Field(
        default=None,
        description="Engineering unit (degC, bar, m3/h, %…); served as EngineeringUnits with "
        "its UNECE code where known. Numeric tags.",
    )
    range: tuple[float, float] | None = Field(
        default=None,
        description="`[low, high]` of the scaled value, low below high: served as EURange; "
        "writes outside it are refused. Numeric tags.",
    )
    scale: float = Field(
        default=1.0,
        description="value = raw * scale + offset; not 0. A scaled integer tag is served as "
        "Double. Numeric tags.",
    )
    offset: float = Field(
        default=0.0, description="Added after scaling (see `scale`). Numeric tags."
    )
    deadband: float = Field(
        default=0.0,
        ge=0,
        description="Absolute deadband in engineering units: a change smaller than this is "
        "not published or stored. Numeric tags.",
    )
    writable: bool = Field(
        default=False,
        description="Clients (operator role) may write the tag; only coil and "
        "holding_register tags can be writable.",
    )
    scan_interval: Duration | None = Field(
        default=None,
        description="The tag's own scan class; unset: the device's `scan_interval`.",
    )
    bit: int | None = Field(
        default=None,
        ge=0,
        le=15,
        description="Bit of a register, 0 = least significant, for a bool tag on a register "
        "table. Unset: a bool is true when the whole register is non-zero.",
    )
    length: int | None = Field(
        default=None,
        ge=1,
        description="Size of a string tag in registers (two bytes each); required for "
        "strings, refused for other types.",
    )
    byte_order: ByteOrder | None = Field(
        default=None, description="Overrides the device's `byte_order` for this tag."
    )
    word_order: WordOrder | None = Field(
        default=None, description="Overrides the device's `word_order` for this tag."
    )
    description: str | None = Field(
        default=None, description="Free text, served as the OPC UA node's Description."
    )
    storage: StorageMode = Field(
        default=StorageMode.ON_CHANGE,
        description="When the historian stores the tag: on_change (every published change), "
        "every_scan (changes, plus the last value once per scan interval without one), "
        "sampled (the last value every `sample_interval`).",
    )  # extension
    sample_interval: Duration | None = Field(
        default=None,
        description="Storage interval of a `storage: sampled` tag, on wall-clock multiples; "
        "required with sampled, refused otherwise.",
    )  # extension

    @model_validator(mode="before")
    @classmethod
    def _read_ref(cls, data: Any) -> Any:
        return expand_modicon_ref(cls.__name__, data)

    @field_validator("range", mode="before")
    @classmethod
    def _range_pair(cls, value: Any) -> Any:
        if value is not None and (not isinstance(value, list | tuple) or len(value) != 2):
            raise ValueError("expected [low, high], two numbers")
        return value

    @model_validator(mode="after")
    def _check(self) -> TagConfig:
        raise_located(type(self).__name__, self._problems(), self.name)
        return self

    def _problems(self) -> list[tuple[KeyPath, str]]:
        problems = field_problems(self, "tag", _NUMERIC_ONLY)
        table = self.table
        if self.writable and not table.is_writable:
            problems.append(
                (
                    ("writable",),
                    f"{table} is read-only; only coil and holding_register are writable",
                )
            )
        if self.storage is StorageMode.SAMPLED and self.sample_interval is None:
            problems.append((("sample_interval",), "storage: sampled needs a sample_interval"))
        if self.storage is not StorageMode.SAMPLED and self.sample_interval is not None:
            problems.append(
                (
                    ("sample_interval",),
                    f"sample_interval needs storage: sampled, not {self.storage}",
                )
            )
        if self.range is not None and not self.range[0] < self.range[1]:
            low, high = self.range
            problems.append((("range",), f"low must be below high, got [{low:g}, {high:g}]"))
        return problems or address_problems(self)

    @property
    def size(self) -> int:
        """Addresses the tag occupies: 1 on bit tables, else its register count."""
        if self.table.is_bit:
            return 1
        return self.type.register_count(self.length)

    @property
    def last_address(self) -> int:
        """The last address the tag occupies (inclusive)."""
        return self.address + self.size - 1

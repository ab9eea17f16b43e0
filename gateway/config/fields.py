"""The rules of one value at a Modbus address, shared by gateway tags and simulated points.

A tag (tags.py) and a simulator's point (simulators/plant.py) describe the
same thing, a typed value in a register table, so one rule set checks both
and a rule changes in one place: bit tables hold bools, `bit` picks a bit of
a register for a bool, strings know their length, scale and offset are for
numbers, and nothing runs past the last address. `noun` ("tag", "point")
names the item in the messages.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from gateway.config.validation import MISSING
from gateway.config.yamlsource import KeyPath
from gateway.model import LAST_ADDRESS, DataType, Table

__all__ = ["RegisterField", "address_problems", "field_problems"]

Problems = list[tuple[KeyPath, str]]


class RegisterField(Protocol):
    """What the rules read of a tag or a point."""

    @property
    def table(self) -> Table: ...
    @property
    def type(self) -> DataType: ...
    @property
    def address(self) -> int: ...
    @property
    def bit(self) -> int | None: ...
    @property
    def length(self) -> int | None: ...
    @property
    def scale(self) -> float: ...
    @property
    def size(self) -> int: ...
    @property
    def model_fields_set(self) -> set[str]: ...


def field_problems(field: RegisterField, noun: str, numeric_only: Iterable[str]) -> Problems:
    """Type, bit, length, the numeric-only keys in `numeric_only`, and the scale."""
    problems: Problems = []
    table, kind = field.table, field.type
    if table.is_bit and kind is not DataType.BOOL:
        problems.append((("type",), f"{table} {noun}s are single bits: type must be bool"))
    if field.bit is not None:
        if table.is_bit:
            problems.append((("bit",), f"bit picks a bit of a register; {table} is a bit table"))
        elif kind is not DataType.BOOL:
            problems.append((("bit",), f"bit needs type bool, not {kind}"))
    if kind is DataType.STRING and field.length is None:
        problems.append((("length",), MISSING))
    if kind is not DataType.STRING and field.length is not None:
        problems.append((("length",), f"length is only for string {noun}s, not {kind}"))
    if not kind.is_numeric:
        problems.extend(
            ((key,), f"{key} applies to numeric {noun}s only, not {kind}")
            for key in numeric_only
            if key in field.model_fields_set
        )
    if field.scale == 0:
        problems.append((("scale",), "must not be 0 (value = raw * scale + offset)"))
    return problems


def address_problems(field: RegisterField) -> Problems:
    """The field must end at the last address at the latest (check once the rest is valid)."""
    last = field.address + field.size - 1
    if last <= LAST_ADDRESS:
        return []
    unit = "bits" if field.table.is_bit else "registers"
    return [
        (
            ("address",),
            f"{field.type} at {field.address} takes {field.size} {unit} and would "
            f"end at {last}, beyond the last address {LAST_ADDRESS}",
        )
    ]

"""Core vocabulary shared by every layer: tables, data types, orders, quality, values.

Pure definitions only; no I/O. Config models, the codec, the planner and the
runtime all speak these types so that no layer has to know another's internals.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import IntEnum, StrEnum

__all__ = [
    "ADDRESS_SPACE",
    "LAST_ADDRESS",
    "MAX_READ_BITS",
    "MAX_READ_REGISTERS",
    "ByteOrder",
    "DataType",
    "Status",
    "Table",
    "TagValue",
    "Value",
    "WordOrder",
]

#: Modbus addresses are 16 bits: 0..65535 in every table (the one definition).
ADDRESS_SPACE = 0x10000
LAST_ADDRESS = ADDRESS_SPACE - 1
#: Modbus protocol limit for one FC03/FC04 read (registers).
MAX_READ_REGISTERS = 125
#: Modbus protocol limit for one FC01/FC02 read (bits).
MAX_READ_BITS = 2000

Value = bool | int | float | str


class Table(StrEnum):
    """The four Modbus data tables."""

    COIL = "coil"
    DISCRETE_INPUT = "discrete_input"
    INPUT_REGISTER = "input_register"
    HOLDING_REGISTER = "holding_register"

    @property
    def is_bit(self) -> bool:
        """Bit tables hold one boolean per address; register tables hold 16-bit words."""
        return self in (Table.COIL, Table.DISCRETE_INPUT)

    @property
    def is_writable(self) -> bool:
        """Only coils and holding registers accept writes from a master."""
        return self in (Table.COIL, Table.HOLDING_REGISTER)

    @property
    def read_function(self) -> int:
        """The Modbus function code that reads this table."""
        return _READ_FUNCTION[self]

    @property
    def max_read(self) -> int:
        """Protocol limit of one read request on this table."""
        return MAX_READ_BITS if self.is_bit else MAX_READ_REGISTERS


_READ_FUNCTION = {
    Table.COIL: 1,
    Table.DISCRETE_INPUT: 2,
    Table.HOLDING_REGISTER: 3,
    Table.INPUT_REGISTER: 4,
}


class DataType(StrEnum):
    """Tag data types of the configuration (docs/configuration.md, "Data types")."""

    BOOL = "bool"
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    INT64 = "int64"
    UINT64 = "uint64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    STRING = "string"
    BCD16 = "bcd16"
    BCD32 = "bcd32"

    def register_count(self, length: int | None = None) -> int:
        """Registers one value occupies; `length` is the register count of a string."""
        if self is DataType.STRING:
            if length is None or length < 1:
                raise ValueError("a string tag needs a length of at least 1 register")
            return length
        return _REGISTER_COUNT[self]

    # Cached on the member (a dict lookup after the first call): the start asks each
    # tag's type several times, 0.4 µs a property call with its enum lookups (issue 21).
    @functools.cached_property
    def is_numeric(self) -> bool:
        """Numeric types can be scaled, ranged and limit-alarmed."""
        return self not in (DataType.BOOL, DataType.STRING)

    @functools.cached_property
    def is_integer(self) -> bool:
        """Integer types hold whole numbers on the wire (before scaling)."""
        return self.is_numeric and self not in (DataType.FLOAT32, DataType.FLOAT64)


_REGISTER_COUNT = {
    DataType.BOOL: 1,
    DataType.INT16: 1,
    DataType.UINT16: 1,
    DataType.BCD16: 1,
    DataType.INT32: 2,
    DataType.UINT32: 2,
    DataType.FLOAT32: 2,
    DataType.BCD32: 2,
    DataType.INT64: 4,
    DataType.UINT64: 4,
    DataType.FLOAT64: 4,
}


class ByteOrder(StrEnum):
    """Order of the two bytes inside each 16-bit register (big = Modbus standard)."""

    BIG = "big"
    LITTLE = "little"


class WordOrder(StrEnum):
    """Order of the registers of a 32/64-bit value (big = most significant first)."""

    BIG = "big"
    LITTLE = "little"


class Status(IntEnum):
    """Tag quality as the OPC UA StatusCode it is served with (docs/opcua.md, status codes)."""

    GOOD = 0x00000000
    UNCERTAIN_NO_COMMUNICATION_LAST_USABLE_VALUE = 0x408F0000
    BAD_COMMUNICATION_ERROR = 0x80050000
    BAD_TIMEOUT = 0x800A0000
    BAD_USER_ACCESS_DENIED = 0x801F0000
    BAD_NO_COMMUNICATION = 0x80310000
    BAD_DATA_ENCODING_INVALID = 0x80380000
    BAD_NOT_WRITABLE = 0x803B0000
    BAD_OUT_OF_RANGE = 0x803C0000
    BAD_TYPE_MISMATCH = 0x80740000
    BAD_WAITING_FOR_INITIAL_DATA = 0x80320000
    BAD_CONFIGURATION_ERROR = 0x80890000
    BAD_DEVICE_FAILURE = 0x808B0000
    BAD_OUT_OF_SERVICE = 0x808D0000

    @property
    def is_good(self) -> bool:
        return (self.value >> 30) == 0

    @property
    def is_uncertain(self) -> bool:
        return (self.value >> 30) == 1

    @property
    def is_bad(self) -> bool:
        return (self.value >> 30) == 2


@dataclass(frozen=True, slots=True)
class TagValue:
    """One published reading of a tag.

    Times are POSIX seconds (UTC) as floats: cheap on the hot path, converted to
    datetimes only at the OPC UA and storage boundaries.
    """

    tag: str  # "<device>.<tag>"
    value: Value | None
    status: Status
    source_time: float | None
    server_time: float

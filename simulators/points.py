"""One point bound to its unit's register image: typed reads and writes.

The encoding is the gateway's own codec, so a simulated float in word order
little is byte-for-byte what the gateway must decode. Numbers from signals and
models are fitted to the point's type first, the way a PLC would store them:
bools are "non-zero", integers are rounded and wrap around (a counter rolls
over instead of failing), floats are stored as they are.
"""

from __future__ import annotations

from gateway.codec import Encoding, decode, encode, set_bit
from gateway.model import DataType, Table, Value
from simulators.image import RegisterImage
from simulators.plant import PointConfig

__all__ = ["PointBinding", "fit"]

#: (lowest raw value, number of raw values) of the integer types.
_WRAP = {
    DataType.INT16: (-(2**15), 2**16),
    DataType.UINT16: (0, 2**16),
    DataType.INT32: (-(2**31), 2**32),
    DataType.UINT32: (0, 2**32),
    DataType.INT64: (-(2**63), 2**64),
    DataType.UINT64: (0, 2**64),
    DataType.BCD16: (0, 10**4),
    DataType.BCD32: (0, 10**8),
}


def fit(number: float, data_type: DataType, scale: float = 1.0, offset: float = 0.0) -> Value:
    """The value a point of `data_type` stores for `number` (see the module docstring)."""
    if data_type is DataType.BOOL:
        return number != 0
    wrap = _WRAP.get(data_type)
    if wrap is None:
        return float(number)
    low, span = wrap
    raw = (round((number - offset) / scale) - low) % span + low
    return raw if scale == 1.0 and offset == 0.0 else raw * scale + offset


class PointBinding:
    """Reads and writes one point's value in a register image."""

    def __init__(self, point: PointConfig, encoding: Encoding | None, image: RegisterImage):
        self.point = point
        self.name = point.name
        self.table = point.table
        self.address = point.address
        self.size = point.size
        self.encoding = encoding
        self._image = image

    def overlaps(self, table: Table, address: int, count: int) -> bool:
        """True when [address, address + count) touches this point."""
        return (
            table is self.table
            and address < self.address + self.size
            and self.address < address + count
        )

    def read(self) -> Value:
        """The point's current value, decoded from the image."""
        if self.encoding is None:
            return self._image.bits(self.table, self.address, 1)[0]
        registers = self._image.registers(self.table, self.address, self.size)
        return decode(registers, self.encoding)

    def read_number(self) -> float:
        """The value as a number for model inputs (false/true are 0.0/1.0)."""
        value = self.read()
        if isinstance(value, str):
            raise TypeError(f"point {self.name} holds text, not a number")
        return float(value)

    def write(self, value: Value) -> None:
        """Store a value of the point's own type; CodecError when it does not fit."""
        encoding = self.encoding
        if encoding is None:
            self._image.set_bits(self.table, self.address, [bool(value)])
        elif encoding.bit is not None:
            register = self._image.registers(self.table, self.address, 1)[0]
            updated = set_bit(register, encoding.bit, bool(value), byte_order=encoding.byte_order)
            self._image.set_registers(self.table, self.address, [updated])
        else:
            self._image.set_registers(self.table, self.address, encode(value, encoding))

    def write_number(self, number: float) -> None:
        """Store a number from a signal or model, fitted to the point's type."""
        point = self.point
        self.write(fit(number, point.type, point.scale, point.offset))

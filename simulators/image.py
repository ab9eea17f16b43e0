"""The register image of one unit: the four Modbus tables in compact arrays.

Bits are kept one byte each (0 or 1) and registers as unsigned 16-bit arrays,
so a tick's update is a slice assignment and a read is one C-level copy. The
wire formats are produced without Python loops over the values: bits go
through a '0'/'1' text and `int(..., 2)`, registers through `byteswap`.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable, Sequence

from gateway.model import ADDRESS_SPACE, Table

__all__ = ["TABLE_SIZE_LIMIT", "RegisterImage"]

#: Modbus addresses are 16-bit, so no table holds more than this.
TABLE_SIZE_LIMIT = ADDRESS_SPACE

_LITTLE_ENDIAN_HOST = sys.byteorder == "little"
_BITS_TO_TEXT = bytes.maketrans(b"\x00\x01", b"01")
_TEXT_TO_BITS = bytes.maketrans(b"01", b"\x00\x01")


class RegisterImage:
    """Coils, discrete inputs, input and holding registers of one unit id.

    Every table has `size` addresses (0..size-1); reading beyond that is the
    caller's "illegal data address". `snapshot`/`restore` serve restarts.
    """

    def __init__(self, size: int) -> None:
        if not 1 <= size <= TABLE_SIZE_LIMIT:
            raise ValueError(f"table size must be 1..{TABLE_SIZE_LIMIT}, got {size}")
        self.size = size
        self._bits = {
            Table.COIL: bytearray(size),
            Table.DISCRETE_INPUT: bytearray(size),
        }
        self._registers = {
            Table.HOLDING_REGISTER: array("H", bytes(2 * size)),
            Table.INPUT_REGISTER: array("H", bytes(2 * size)),
        }
        self._snapshot = self._copy()

    # ------------------------------------------------------------------ bits

    def bits(self, table: Table, address: int, count: int) -> list[bool]:
        """Bit values as bools."""
        return [bool(b) for b in self._bit_table(table)[address : address + count]]

    def set_bits(self, table: Table, address: int, values: Iterable[bool | int]) -> None:
        """Store bits; anything truthy is 1."""
        data = bytes(1 if value else 0 for value in values)
        self._bit_table(table)[address : address + len(data)] = data

    def packed_bits(self, table: Table, address: int, count: int) -> bytes:
        """Bits as on the wire: 8 per byte, lowest address in the least significant bit."""
        chunk = self._bit_table(table)[address : address + count]
        text = chunk[::-1].translate(_BITS_TO_TEXT)
        return int(text, 2).to_bytes((count + 7) // 8, "little")

    def set_packed_bits(self, table: Table, address: int, count: int, data: bytes) -> None:
        """Store `count` bits given in wire packing."""
        text = format(int.from_bytes(data, "little"), f"0{8 * len(data)}b")[::-1]
        bits = text[:count].encode("ascii").translate(_TEXT_TO_BITS)
        self._bit_table(table)[address : address + count] = bits

    # ------------------------------------------------------------- registers

    def registers(self, table: Table, address: int, count: int) -> list[int]:
        """Register values."""
        return self._register_table(table)[address : address + count].tolist()

    def set_registers(self, table: Table, address: int, values: Sequence[int]) -> None:
        """Store register values (each 0..65535)."""
        self._register_table(table)[address : address + len(values)] = array("H", values)

    def register_array(self, table: Table) -> array[int]:
        """The table itself, for bulk writers (the scale generator) that fill slices."""
        return self._register_table(table)

    def wire_registers(self, table: Table, address: int, count: int) -> bytes:
        """Registers as on the wire: each big-endian, in address order."""
        chunk = self._register_table(table)[address : address + count]
        if _LITTLE_ENDIAN_HOST:
            chunk.byteswap()
        return chunk.tobytes()

    def set_wire_registers(self, table: Table, address: int, data: bytes) -> None:
        """Store registers given as big-endian wire bytes."""
        values = array("H", data)
        if _LITTLE_ENDIAN_HOST:
            values.byteswap()
        self._register_table(table)[address : address + len(values)] = values

    # -------------------------------------------------------------- restarts

    def snapshot(self) -> None:
        """Remember the current contents as the state a restart returns to."""
        self._snapshot = self._copy()

    def restore(self) -> None:
        """Return every table to the last snapshot, in place."""
        bits, registers = self._snapshot
        for table, data in bits.items():
            self._bits[table][:] = data
        for table, values in registers.items():
            self._registers[table][:] = values

    def _copy(self) -> tuple[dict[Table, bytes], dict[Table, array[int]]]:
        return (
            {table: bytes(data) for table, data in self._bits.items()},
            {table: array("H", values) for table, values in self._registers.items()},
        )

    def _bit_table(self, table: Table) -> bytearray:
        try:
            return self._bits[table]
        except KeyError:
            raise ValueError(f"{table} is not a bit table") from None

    def _register_table(self, table: Table) -> array[int]:
        try:
            return self._registers[table]
        except KeyError:
            raise ValueError(f"{table} is not a register table") from None

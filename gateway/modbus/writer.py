"""Writing one tag: what may be written, how the value becomes registers, which function.

`TagWrite.checked(tag, value)` is pure: it refuses a write before anything
reaches the device (WriteRejected with the OPC UA status: not writable,
wrong type, out of range, not encodable) and encodes the value once.
`TagWrite.send` carries it over any `ModbusTransport` (TCP today, RTU next):

- a coil: FC05;
- a bool in one bit of a holding register: FC03 then FC06, a read-modify-write
  that keeps the other 15 bits (the caller holds the transport's lock across
  both, so no other request comes between);
- a value of one register (a bool held in a whole register included): FC06;
- a value of several registers (32/64-bit numbers, strings): FC16, so the
  device never holds half of the new value.

A write is never retried here or below: a timed-out write's outcome is
unknown. The poller decides what a failure means for the device.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.codec import encode, set_bit
from gateway.errors import CodecError, WriteRejected
from gateway.modbus.transport import ModbusTransport
from gateway.model import DataType, Status, Table, Value
from gateway.tags import Tag

__all__ = ["TagWrite"]


@dataclass(frozen=True, slots=True)
class TagWrite:
    """A checked write of one tag, ready to send."""

    tag: Tag
    value: Value
    #: The encoded registers; empty for a coil or a bit (their value is `value`).
    registers: tuple[int, ...]

    @classmethod
    def checked(cls, tag: Tag, value: Value) -> TagWrite:
        """The write of `value` to `tag`, or WriteRejected saying what is wrong."""
        return cls(tag, value, tuple(_registers(tag, value)))

    async def send(self, transport: ModbusTransport, unit: int, *, timeout: float) -> None:
        """Send the write to `unit` (hold `transport.lock`); raises the transport's errors."""
        tag = self.tag
        if tag.table is Table.COIL:
            await transport.write_coil(unit, tag.address, bool(self.value), timeout=timeout)
        elif tag.encoding.bit is not None:
            raw = await transport.read(
                Table.HOLDING_REGISTER, unit, tag.address, 1, timeout=timeout
            )
            current = int.from_bytes(raw, "big")
            updated = set_bit(
                current, tag.encoding.bit, bool(self.value), byte_order=tag.encoding.byte_order
            )
            await transport.write_register(unit, tag.address, updated, timeout=timeout)
        elif len(self.registers) == 1:
            await transport.write_register(unit, tag.address, self.registers[0], timeout=timeout)
        else:
            await transport.write_registers(unit, tag.address, self.registers, timeout=timeout)


def _registers(tag: Tag, value: Value) -> list[int]:
    """Registers to write (empty for coils and bits), or WriteRejected."""
    if not tag.writable:
        raise WriteRejected(Status.BAD_NOT_WRITABLE, f"tag {tag.key} is not writable")
    kind = tag.data_type
    if kind is DataType.BOOL:
        if not isinstance(value, bool):
            raise WriteRejected(
                Status.BAD_TYPE_MISMATCH, f"tag {tag.key} is bool, got {type(value).__name__}"
            )
        if tag.table is Table.COIL or tag.encoding.bit is not None:
            return []  # FC05, or a read-modify-write of the bit
        return [int(value)]  # a whole holding register: 1 or 0
    if kind is DataType.STRING:
        if not isinstance(value, str):
            raise WriteRejected(
                Status.BAD_TYPE_MISMATCH,
                f"tag {tag.key} is a string, got {type(value).__name__}",
            )
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise WriteRejected(
            Status.BAD_TYPE_MISMATCH, f"tag {tag.key} is {kind}, got {type(value).__name__}"
        )
    elif tag.range is not None and not tag.range[0] <= value <= tag.range[1]:
        low, high = tag.range
        raise WriteRejected(
            Status.BAD_OUT_OF_RANGE,
            f"{value} is outside the range [{low:g}, {high:g}] of {tag.key}",
        )
    try:
        return encode(value, tag.encoding)
    except CodecError as error:
        status = Status.BAD_TYPE_MISMATCH if kind is DataType.STRING else Status.BAD_OUT_OF_RANGE
        raise WriteRejected(status, f"cannot write {value!r} to {tag.key}: {error}") from error

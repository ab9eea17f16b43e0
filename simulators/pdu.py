"""Modbus request PDUs: parse, check and execute against a register image.

Pure and transport-free, so every protocol rule is unit-tested without
sockets. Checks follow the order of the Modbus application protocol spec:
function code (exception 01), then quantity and framing (03), then address
range (02); only a request that passed all three touches the image.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from gateway.model import MAX_READ_BITS, MAX_READ_REGISTERS, Table
from simulators.image import RegisterImage

__all__ = [
    "ILLEGAL_DATA_ADDRESS",
    "ILLEGAL_DATA_VALUE",
    "ILLEGAL_FUNCTION",
    "MAX_WRITE_BITS",
    "MAX_WRITE_REGISTERS",
    "Request",
    "exception_pdu",
    "execute",
    "parse_request",
]

ILLEGAL_FUNCTION = 0x01
ILLEGAL_DATA_ADDRESS = 0x02
ILLEGAL_DATA_VALUE = 0x03

#: Protocol limits of one FC15 / FC16 request (they fit a 253-byte PDU).
MAX_WRITE_BITS = 1968
MAX_WRITE_REGISTERS = 123

_COIL_ON = 0xFF00
_HEADER = struct.Struct(">BHH")
_MULTI_HEADER = struct.Struct(">BHHB")
_READS = {
    1: (Table.COIL, MAX_READ_BITS),
    2: (Table.DISCRETE_INPUT, MAX_READ_BITS),
    3: (Table.HOLDING_REGISTER, MAX_READ_REGISTERS),
    4: (Table.INPUT_REGISTER, MAX_READ_REGISTERS),
}


@dataclass(frozen=True, slots=True)
class Request:
    """A well-formed request: what it touches and, for writes, the data."""

    function: int
    table: Table
    address: int
    count: int
    data: bytes = b""  # FC05: 0/1 byte; FC06/16: wire registers; FC15: packed bits

    @property
    def is_write(self) -> bool:
        return self.function in (5, 6, 15, 16)


def exception_pdu(function: int, code: int) -> bytes:
    """The exception response to `function`."""
    return bytes(((function | 0x80) & 0xFF, code))


def parse_request(pdu: bytes) -> Request | int:
    """The request in `pdu`, or the exception code it deserves (01 or 03)."""
    function = pdu[0]
    if function in _READS:
        return _parse_read(pdu)
    if function in (5, 6):
        return _parse_single_write(pdu)
    if function in (15, 16):
        return _parse_multiple_write(pdu)
    return ILLEGAL_FUNCTION


def _parse_read(pdu: bytes) -> Request | int:
    if len(pdu) != _HEADER.size:
        return ILLEGAL_DATA_VALUE
    function, address, count = _HEADER.unpack(pdu)
    table, limit = _READS[function]
    if not 1 <= count <= limit:
        return ILLEGAL_DATA_VALUE
    return Request(function, table, address, count)


def _parse_single_write(pdu: bytes) -> Request | int:
    if len(pdu) != _HEADER.size:
        return ILLEGAL_DATA_VALUE
    function, address, value = _HEADER.unpack(pdu)
    if function == 5:
        if value not in (0, _COIL_ON):
            return ILLEGAL_DATA_VALUE
        return Request(5, Table.COIL, address, 1, bytes((1 if value else 0,)))
    return Request(6, Table.HOLDING_REGISTER, address, 1, pdu[3:5])


def _parse_multiple_write(pdu: bytes) -> Request | int:
    if len(pdu) < _MULTI_HEADER.size:
        return ILLEGAL_DATA_VALUE
    function, address, count, byte_count = _MULTI_HEADER.unpack_from(pdu)
    if function == 15:
        table, limit, expected = Table.COIL, MAX_WRITE_BITS, (count + 7) // 8
    else:
        table, limit, expected = Table.HOLDING_REGISTER, MAX_WRITE_REGISTERS, 2 * count
    if not 1 <= count <= limit or byte_count != expected:
        return ILLEGAL_DATA_VALUE
    data = pdu[_MULTI_HEADER.size :]
    if len(data) != byte_count:
        return ILLEGAL_DATA_VALUE
    return Request(function, table, address, count, data)


def execute(image: RegisterImage, request: Request) -> bytes:
    """Apply `request` to `image` and return the response PDU (or exception 02)."""
    function, table, address, count = (
        request.function,
        request.table,
        request.address,
        request.count,
    )
    if address + count > image.size:
        return exception_pdu(function, ILLEGAL_DATA_ADDRESS)
    if function <= 2:
        data = image.packed_bits(table, address, count)
        return bytes((function, len(data))) + data
    if function <= 4:
        data = image.wire_registers(table, address, count)
        return bytes((function, len(data))) + data
    if function == 5:
        image.set_bits(table, address, request.data)
        return _HEADER.pack(function, address, _COIL_ON if request.data[0] else 0)
    if function == 6:
        image.set_wire_registers(table, address, request.data)
        return bytes((function,)) + address.to_bytes(2, "big") + request.data
    if function == 15:
        image.set_packed_bits(table, address, count, request.data)
    else:
        image.set_wire_registers(table, address, request.data)
    return _HEADER.pack(function, address, count)

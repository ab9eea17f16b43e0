"""Modbus PDUs and MBAP headers: build requests, check responses against them.

Pure (no I/O), so every malformed-response rule is unit tested without a
socket. The rules are strict because a response that does not fit its request
means the device or the stream is confused, and a guessed value would be
published as Good:

- an exception response is the request's function code | 0x80 followed by
  exactly one code byte → `ModbusException(code)`;
- anything else that differs from the request (function code, byte count,
  number of registers or bits, a write's echo) → `MalformedResponse`.

Read results stay raw: registers as the payload bytes exactly as on the wire
(2 per register, big-endian), bits as the packed payload (8 per byte, lowest
address in the least significant bit). The poller compares raw bytes to skip
unchanged blocks and decodes them with a precompiled struct.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import NoReturn

from gateway.errors import MalformedResponse, ModbusException
from gateway.model import ADDRESS_SPACE as _ADDRESS_SPACE

__all__ = [
    "EXCEPTION_NAMES",
    "MAX_FRAME_SIZE",
    "MAX_MBAP_LENGTH",
    "MBAP",
    "MBAP_SIZE",
    "MIN_MBAP_LENGTH",
    "READ_COILS",
    "READ_DISCRETE_INPUTS",
    "READ_HOLDING_REGISTERS",
    "READ_INPUT_REGISTERS",
    "WRITE_MULTIPLE_COILS",
    "WRITE_MULTIPLE_REGISTERS",
    "WRITE_SINGLE_COIL",
    "WRITE_SINGLE_REGISTER",
    "check_read_response",
    "check_write_response",
    "pack_bits",
    "pack_mbap",
    "parse_mbap",
    "read_request",
    "unpack_bits",
    "write_coil_request",
    "write_coils_request",
    "write_register_request",
    "write_registers_request",
]

#: MBAP header: transaction id, protocol id (0), length (unit id + PDU), unit id.
MBAP = struct.Struct(">HHHB")
MBAP_SIZE = MBAP.size  # 7
#: The MBAP length counts the unit id and the PDU: at least unit id + function code …
MIN_MBAP_LENGTH = 2
#: … and at most unit id + the largest PDU (253 bytes).
MAX_MBAP_LENGTH = 254
#: The largest valid frame; a receive buffer never needs to hold more.
MAX_FRAME_SIZE = MBAP_SIZE - 1 + MAX_MBAP_LENGTH  # 260

READ_COILS = 0x01
READ_DISCRETE_INPUTS = 0x02
READ_HOLDING_REGISTERS = 0x03
READ_INPUT_REGISTERS = 0x04
WRITE_SINGLE_COIL = 0x05
WRITE_SINGLE_REGISTER = 0x06
WRITE_MULTIPLE_COILS = 0x0F
WRITE_MULTIPLE_REGISTERS = 0x10

#: Protocol limits per function code (quantity of one request).
_READ_LIMIT = {READ_COILS: 2000, READ_DISCRETE_INPUTS: 2000}
_READ_LIMIT.update({READ_HOLDING_REGISTERS: 125, READ_INPUT_REGISTERS: 125})
_MAX_WRITE_COILS = 1968
_MAX_WRITE_REGISTERS = 123

#: What the exception codes a gateway can meet mean (Modbus spec §7).
EXCEPTION_NAMES = {
    0x01: "illegal function",
    0x02: "illegal data address",
    0x03: "illegal data value",
    0x04: "server device failure",
    0x05: "acknowledge",
    0x06: "server device busy",
    0x08: "memory parity error",
    0x0A: "gateway path unavailable",
    0x0B: "gateway target device failed to respond",
}

_EXCEPTION_BIT = 0x80
_COIL_ON = 0xFF00
_HEADER = struct.Struct(">BHH")  # function, address, quantity (or value)
_MULTI_HEADER = struct.Struct(">BHHB")  # function, address, quantity, byte count


def pack_mbap(tid: int, unit: int, pdu: bytes) -> bytes:
    """One Modbus TCP frame: MBAP header + PDU."""
    return MBAP.pack(tid, 0, len(pdu) + 1, unit) + pdu


def parse_mbap(frame: bytes) -> tuple[int, int, int, int]:
    """(transaction id, protocol id, length, unit id) of a frame's first 7 bytes."""
    if len(frame) < MBAP_SIZE:
        raise MalformedResponse(f"MBAP header needs {MBAP_SIZE} bytes, got {len(frame)}")
    tid, protocol, length, unit = MBAP.unpack_from(frame)
    return tid, protocol, length, unit


def pack_bits(values: Sequence[bool]) -> bytes:
    """Bits as on the wire: 8 per byte, first value in the least significant bit."""
    if not values:
        return b""
    text = "".join("1" if value else "0" for value in reversed(values))
    return int(text, 2).to_bytes((len(values) + 7) >> 3, "little")


def unpack_bits(data: bytes, count: int) -> list[bool]:
    """The first `count` bits of packed bytes (inverse of `pack_bits`)."""
    if not 0 <= count <= 8 * len(data):
        raise ValueError(f"{count} bits do not fit in {len(data)} bytes")
    text = format(int.from_bytes(data, "little"), f"0{8 * len(data)}b")
    return [c == "1" for c in text[::-1][:count]]


def _check_span(address: int, count: int, limit: int, what: str) -> None:
    if not 1 <= count <= limit:
        raise ValueError(f"quantity of {what} must be 1..{limit}, got {count}")
    if not 0 <= address <= _ADDRESS_SPACE - count:
        raise ValueError(f"{count} {what} from address {address} leave the 0..65535 range")


def read_request(function: int, address: int, count: int) -> bytes:
    """FC01/02 (bits) or FC03/04 (registers) read request."""
    limit = _READ_LIMIT.get(function)
    if limit is None:
        raise ValueError(f"function {function:#04x} is not a read function")
    _check_span(address, count, limit, "bits" if function <= READ_DISCRETE_INPUTS else "registers")
    return _HEADER.pack(function, address, count)


def write_coil_request(address: int, value: bool) -> bytes:
    """FC05: one coil, ON as 0xFF00."""
    _check_span(address, 1, 1, "coils")
    return _HEADER.pack(WRITE_SINGLE_COIL, address, _COIL_ON if value else 0)


def write_register_request(address: int, value: int) -> bytes:
    """FC06: one holding register."""
    _check_span(address, 1, 1, "registers")
    _check_registers((value,))
    return _HEADER.pack(WRITE_SINGLE_REGISTER, address, value)


def write_coils_request(address: int, values: Sequence[bool]) -> bytes:
    """FC15: consecutive coils."""
    _check_span(address, len(values), _MAX_WRITE_COILS, "coils")
    data = pack_bits(values)
    return _MULTI_HEADER.pack(WRITE_MULTIPLE_COILS, address, len(values), len(data)) + data


def write_registers_request(address: int, values: Sequence[int]) -> bytes:
    """FC16: consecutive holding registers."""
    count = len(values)
    _check_span(address, count, _MAX_WRITE_REGISTERS, "registers")
    _check_registers(values)
    header = _MULTI_HEADER.pack(WRITE_MULTIPLE_REGISTERS, address, count, 2 * count)
    return header + struct.pack(f">{count}H", *values)


def _check_registers(values: Sequence[int]) -> None:
    for value in values:
        if not (isinstance(value, int) and 0 <= value <= 0xFFFF):
            raise ValueError(f"register value {value!r} is not an integer 0..65535")


def _mismatched_function(function: int, pdu: bytes) -> NoReturn:
    """Raise for a response whose function code is not the request's."""
    if not pdu:
        raise MalformedResponse(f"empty response PDU to function {function:#04x}")
    if pdu[0] == function | _EXCEPTION_BIT:
        if len(pdu) != 2:
            raise MalformedResponse(
                f"exception response to function {function:#04x} has {len(pdu)} bytes, expected 2"
            )
        code = pdu[1]
        name = EXCEPTION_NAMES.get(code, "unknown exception code")
        raise ModbusException(code, f"Modbus exception {code:02X} ({name}) to function {function}")
    raise MalformedResponse(f"function code {pdu[0]:#04x} in the response to {function:#04x}")


def check_read_response(function: int, count: int, pdu: bytes) -> bytes:
    """The payload of a read response, checked against the request's function and count.

    Registers: 2*count bytes as on the wire. Bits: ceil(count/8) packed bytes;
    unused high bits of the last byte are cleared (the spec pads with zeros, a
    few devices do not), so equal bits always give equal bytes.
    """
    if not pdu or pdu[0] != function:
        _mismatched_function(function, pdu)
    is_bits = function <= READ_DISCRETE_INPUTS
    if len(pdu) < 2:
        raise MalformedResponse(f"response to function {function:#04x} has no byte count")
    byte_count = pdu[1]
    if len(pdu) != 2 + byte_count:
        raise MalformedResponse(
            f"byte count {byte_count} but {len(pdu) - 2} data bytes follow (function {function})"
        )
    expected = (count + 7) >> 3 if is_bits else 2 * count
    if byte_count != expected:
        unit = "bits" if is_bits else "registers"
        got = f"{8 * byte_count} bits" if is_bits else f"{byte_count / 2:g} registers"
        raise MalformedResponse(
            f"response carries {got} ({byte_count} bytes) for {count} {unit} asked, "
            f"expected {expected} bytes"
        )
    payload = pdu[2:]
    spare = -count & 7
    if is_bits and spare and payload[-1] >> (8 - spare):
        payload = payload[:-1] + bytes((payload[-1] & (0xFF >> spare),))
    return payload


def check_write_response(request: bytes, pdu: bytes) -> None:
    """A write response must echo the request (FC05/06 whole, FC15/16 address+quantity)."""
    function = request[0]
    if not pdu or pdu[0] != function:
        _mismatched_function(function, pdu)
    expected = request if function in (WRITE_SINGLE_COIL, WRITE_SINGLE_REGISTER) else request[:5]
    if pdu != expected:
        raise MalformedResponse(
            f"write echo [{pdu[1:].hex(' ')}] does not match the request "
            f"[{expected[1:].hex(' ')}] (function {function})"
        )

"""Modbus RTU frame rules: CRC-16/MODBUS, frame lengths, the line's character times.

Shared by the gateway's RTU transports and the simulators' RTU slaves, so both
sides compute a frame the same way; the interop tests (pymodbus, mbpoll over
libmodbus) check that way against independent implementations.

An RTU frame is `unit id, PDU, CRC` (CRC low byte first). A master knows how
long the answer to its request must be (`response_length`), so it never has to
wait for a silence to find a frame's end: USB serial adapters deliver bytes in
bursts (an FTDI chip every 16 ms by default), which makes silence-based framing
unreliable. Silence (`LineTiming.t35`) is used only to resynchronise after
garbage.

The one module that imports crcmod (crcmod-plus, its maintained fork): the CRC
in C. Everything else here is arithmetic.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import crcmod

__all__ = [
    "BROADCAST",
    "EXCEPTION_FRAME",
    "FIXED_T35",
    "MAX_FRAME",
    "MIN_FRAME",
    "LineTiming",
    "crc16",
    "crc_ok",
    "frame",
    "request_length",
    "response_length",
]

#: Unit id 0 addresses every slave on the line; they execute writes and never answer.
BROADCAST = 0
#: The largest RTU frame: unit id, a 253-byte PDU, two CRC bytes.
MAX_FRAME = 256
#: The smallest: unit id, function code, CRC.
MIN_FRAME = 4
#: An exception answer: unit id, function | 0x80, exception code, CRC.
EXCEPTION_FRAME = 5
#: Above 19200 baud the spec fixes t3.5 at 1.75 ms (and t1.5 at 750 µs) instead of 3.5 chars.
FIXED_T35 = 0.00175
_FIXED_ABOVE = 19200

_WRITE_ECHO_FRAME = 8  # FC05/06/15/16 answers: unit, function, address, value/quantity, CRC
_CRC = struct.Struct("<H")


#: CRC-16/MODBUS: polynomial 0x8005 reflected (0xA001), init 0xFFFF, no final XOR. crcmod's
#: C extension: 0.7 µs for a 45-byte answer, and a 512-byte table that stays in the cache
#: between exchanges (a Python loop over a 16-bit table took 4 µs warm, and missed the
#: cache on its 2 MB table after each idle wait on the line).
_CRC16 = crcmod.mkCrcFun(0x18005, initCrc=0xFFFF, rev=True, xorOut=0)


def crc16(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/MODBUS (init 0xFFFF, reflected poly 0xA001) of `data`."""
    return int(_CRC16(data))


def frame(unit: int, pdu: bytes) -> bytes:
    """The RTU frame of `pdu` for `unit`: unit id, PDU, CRC (low byte first)."""
    body = bytes((unit,)) + pdu
    return body + _CRC.pack(_CRC16(body))


def crc_ok(data: bytes | bytearray | memoryview) -> bool:
    """True when the frame's last two bytes are the CRC of the rest."""
    return len(data) >= MIN_FRAME and _CRC16(data) == 0  # a frame with its CRC sums to zero


def response_length(request_pdu: bytes) -> int:
    """Bytes of the normal (non-exception) answer frame to `request_pdu`."""
    function = request_pdu[0]
    if function in (1, 2, 3, 4):
        count = int.from_bytes(request_pdu[3:5], "big")
        data = (count + 7) >> 3 if function <= 2 else 2 * count
        return 3 + data + 2  # unit, function, byte count, data, CRC
    if function in (5, 6, 15, 16):
        return _WRITE_ECHO_FRAME
    raise ValueError(f"function {function:#04x}: answer length unknown")


def request_length(head: bytes | bytearray) -> int | None:
    """Bytes of the request frame starting with `head`, once enough of it is known.

    None: not known yet (FC15/16 need their byte count, the 7th byte) or never
    (an unknown function code: only silence ends such a frame).
    """
    if len(head) < 2:
        return None
    function = head[1]
    if function in (1, 2, 3, 4, 5, 6):
        return 8
    if function in (15, 16):
        return 9 + head[6] if len(head) >= 7 else None
    return None


@dataclass(frozen=True, slots=True)
class LineTiming:
    """Character and frame times of a serial line at its baud rate and character format."""

    baudrate: int
    #: Start bit, data bits, parity bit, stop bits: 11 for 8E1 (the Modbus default) or 8N2.
    bits_per_char: int = 11

    @classmethod
    def of(cls, baudrate: int, data_bits: int, parity: bool, stop_bits: int) -> LineTiming:
        return cls(baudrate, 1 + data_bits + int(parity) + stop_bits)

    @property
    def char_time(self) -> float:
        """Seconds one character takes on the wire."""
        return self.bits_per_char / self.baudrate

    @property
    def t35(self) -> float:
        """The silence that ends a frame: 3.5 characters, fixed at 1.75 ms above 19200 baud."""
        return FIXED_T35 if self.baudrate > _FIXED_ABOVE else 3.5 * self.char_time

    def frame_time(self, size: int) -> float:
        """Seconds `size` bytes take on the wire."""
        return size * self.char_time

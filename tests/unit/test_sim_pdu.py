"""Register image and request PDUs: wire packing, protocol checks and their order."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.model import Table
from simulators.image import RegisterImage
from simulators.pdu import Request, execute, parse_request

HR, IR, CO, DI = Table.HOLDING_REGISTER, Table.INPUT_REGISTER, Table.COIL, Table.DISCRETE_INPUT


def reference_pack(bits: list[bool]) -> bytes:
    """Bit packing written the obvious way, to check the fast one against."""
    out = bytearray((len(bits) + 7) // 8)
    for i, bit in enumerate(bits):
        if bit:
            out[i // 8] |= 1 << (i % 8)
    return bytes(out)


@given(st.lists(st.booleans(), min_size=1, max_size=2000), st.integers(0, 40))
def test_packed_bits_match_the_wire_format(bits: list[bool], start: int) -> None:
    image = RegisterImage(start + len(bits))
    image.set_bits(CO, start, bits)
    packed = image.packed_bits(CO, start, len(bits))
    assert packed == reference_pack(bits)
    other = RegisterImage(start + len(bits))
    other.set_packed_bits(DI, start, len(bits), packed)
    assert other.bits(DI, start, len(bits)) == bits


@given(st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=125))
def test_wire_registers_are_big_endian(values: list[int]) -> None:
    image = RegisterImage(200)
    image.set_registers(HR, 3, values)
    wire = image.wire_registers(HR, 3, len(values))
    assert wire == struct.pack(f">{len(values)}H", *values)
    image.set_wire_registers(IR, 0, wire)
    assert image.registers(IR, 0, len(values)) == values


def test_restore_returns_to_the_snapshot_in_place() -> None:
    image = RegisterImage(10)
    image.set_registers(HR, 0, [1, 2])
    image.snapshot()
    table = image.register_array(HR)
    image.set_registers(HR, 0, [9, 9])
    image.set_bits(CO, 4, [True])
    image.restore()
    assert image.registers(HR, 0, 2) == [1, 2]
    assert image.bits(CO, 4, 1) == [False]
    assert image.register_array(HR) is table  # bulk writers keep their reference


def read(function: int, address: int, count: int) -> bytes:
    return struct.pack(">BHH", function, address, count)


@pytest.mark.parametrize(
    ("pdu", "code"),
    [
        (bytes([0x07]), 1),  # read exception status: not supported
        (bytes([0x2B, 0x0E, 0x01, 0x00]), 1),
        (read(3, 0, 0), 3),
        (read(3, 0, 126), 3),
        (read(1, 0, 2001), 3),
        (read(3, 0, 1)[:-1], 3),  # short
        (struct.pack(">BHH", 5, 0, 0x1234), 3),  # coil value neither 0 nor FF00
        (struct.pack(">BHHB", 16, 0, 2, 3) + b"\0\0\0", 3),  # byte count lies
        (struct.pack(">BHHB", 16, 0, 2, 4) + b"\0\0", 3),  # data shorter than byte count
        (struct.pack(">BHHB", 15, 0, 9, 1) + b"\xff", 3),  # 9 coils need 2 bytes
        (struct.pack(">BHHB", 16, 0, 124, 248) + bytes(248), 3),  # over 123 registers
    ],
)
def test_malformed_requests_get_01_or_03(pdu: bytes, code: int) -> None:
    assert parse_request(pdu) == code


def test_reads_beyond_the_image_get_02_after_the_quantity_check() -> None:
    image = RegisterImage(10)
    request = parse_request(read(3, 8, 3))
    assert isinstance(request, Request)
    assert execute(image, request) == bytes([0x83, 0x02])
    assert parse_request(read(3, 8, 200)) == 3  # 03 wins: quantity is checked first


def test_each_function_reads_and_writes_its_table() -> None:
    image = RegisterImage(20)
    image.set_bits(DI, 0, [True, False, True])
    image.set_registers(IR, 5, [0xBEEF])
    assert execute(image, Request(2, DI, 0, 3)) == bytes([2, 1, 0b101])
    assert execute(image, Request(4, IR, 5, 1)) == bytes([4, 2, 0xBE, 0xEF])

    def run(pdu: bytes) -> bytes:
        request = parse_request(pdu)
        assert isinstance(request, Request)
        return execute(image, request)

    assert run(struct.pack(">BHH", 5, 3, 0xFF00)) == struct.pack(">BHH", 5, 3, 0xFF00)
    assert run(struct.pack(">BHH", 6, 7, 0x1234)) == struct.pack(">BHH", 6, 7, 0x1234)
    assert run(struct.pack(">BHHB", 15, 10, 10, 2) + bytes([0b1000_0001, 0b10])) == struct.pack(
        ">BHH", 15, 10, 10
    )
    assert run(struct.pack(">BHHB", 16, 0, 2, 4) + b"\x00\x01\xff\xff") == struct.pack(
        ">BHH", 16, 0, 2
    )
    assert image.bits(CO, 3, 1) == [True]
    assert image.bits(CO, 10, 10) == [True] + [False] * 6 + [True, False, True]
    assert image.registers(HR, 0, 2) == [1, 0xFFFF]
    assert image.registers(HR, 7, 1) == [0x1234]
    assert run(read(1, 10, 10)) == bytes([1, 2, 0b1000_0001, 0b10])
    assert run(read(3, 0, 2)) == bytes([3, 4, 0, 1, 0xFF, 0xFF])

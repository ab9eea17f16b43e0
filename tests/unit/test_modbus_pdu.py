"""Request encoding against explicit bytes; every malformed-response rule; bit packing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import MalformedResponse, ModbusException
from gateway.modbus import pdu
from gateway.modbus.pdu import (
    check_read_response,
    check_write_response,
    pack_bits,
    pack_mbap,
    parse_mbap,
    read_request,
    unpack_bits,
    write_coil_request,
    write_coils_request,
    write_register_request,
    write_registers_request,
)


def test_all_lists_every_public_name() -> None:
    imported = {"annotations", "struct", "Sequence", "NoReturn"}
    imported |= {"MalformedResponse", "ModbusException"}
    public = {name for name in vars(pdu) if not name.startswith("_")} - imported
    assert set(pdu.__all__) == public


# ---------------------------------------------------------------- requests


@pytest.mark.parametrize(
    ("function", "address", "count", "expected"),
    [
        (1, 0x0013, 0x0013, "01 0013 0013"),
        (2, 0x00C4, 0x0016, "02 00c4 0016"),
        (3, 0x006B, 0x0003, "03 006b 0003"),
        (4, 0x0008, 0x0001, "04 0008 0001"),
        (3, 0, 125, "03 0000 007d"),
        (1, 0, 2000, "01 0000 07d0"),
        (3, 65535, 1, "03 ffff 0001"),
        (4, 65411, 125, "04 ff83 007d"),
    ],
)
def test_read_request_bytes(function: int, address: int, count: int, expected: str) -> None:
    assert read_request(function, address, count) == bytes.fromhex(expected)


@pytest.mark.parametrize(
    ("function", "address", "count", "message"),
    [
        (3, 0, 0, "1..125"),
        (3, 0, 126, "1..125"),
        (4, 0, 126, "1..125"),
        (1, 0, 2001, "1..2000"),
        (2, 0, 0, "1..2000"),
        (3, 65412, 125, "65535"),
        (1, 65535, 2, "65535"),
        (3, -1, 1, "65535"),
        (5, 0, 1, "not a read function"),
        (0x10, 0, 1, "not a read function"),
    ],
)
def test_read_request_rejects(function: int, address: int, count: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_request(function, address, count)


def test_write_single_requests() -> None:
    assert write_coil_request(0x00AC, True) == bytes.fromhex("05 00ac ff00")
    assert write_coil_request(0x00AC, False) == bytes.fromhex("05 00ac 0000")
    assert write_register_request(0x0001, 0x0003) == bytes.fromhex("06 0001 0003")
    assert write_register_request(65535, 0xFFFF) == bytes.fromhex("06 ffff ffff")


def test_write_multiple_requests() -> None:
    # The spec's example: coils 20..29 = 1 0 1 1 0 0 1 1 | 1 0.
    bits = [True, False, True, True, False, False, True, True, True, False]
    assert write_coils_request(0x0013, bits) == bytes.fromhex("0f 0013 000a 02 cd01")
    assert write_registers_request(0x0001, [0x000A, 0x0102]) == bytes.fromhex(
        "10 0001 0002 04 000a 0102"
    )
    assert len(write_coils_request(0, [True] * 1968)) == 6 + 246
    assert len(write_registers_request(0, [0] * 123)) == 6 + 246


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: write_coils_request(0, []), "1..1968"),
        (lambda: write_coils_request(0, [True] * 1969), "1..1968"),
        (lambda: write_coils_request(65535, [True, True]), "65535"),
        (lambda: write_registers_request(0, []), "1..123"),
        (lambda: write_registers_request(0, [0] * 124), "1..123"),
        (lambda: write_registers_request(65535, [1, 2]), "65535"),
        (lambda: write_registers_request(0, [65536]), "0..65535"),
        (lambda: write_registers_request(0, [-1]), "0..65535"),
        (lambda: write_register_request(0, 70000), "0..65535"),
        (lambda: write_register_request(65536, 1), "65535"),
        (lambda: write_coil_request(-1, True), "65535"),
    ],
)
def test_write_requests_reject(build: object, message: str) -> None:
    assert callable(build)
    with pytest.raises(ValueError, match=message):
        build()


# ---------------------------------------------------------------- MBAP


def test_mbap_round_trip() -> None:
    frame = pack_mbap(0x1234, 17, bytes.fromhex("03 0000 0001"))
    assert frame == bytes.fromhex("1234 0000 0006 11 03 0000 0001")
    assert parse_mbap(frame) == (0x1234, 0, 6, 17)
    with pytest.raises(MalformedResponse, match="7 bytes"):
        parse_mbap(frame[:6])


# ---------------------------------------------------------------- read responses


def test_register_payload_is_raw_wire_bytes() -> None:
    response = bytes.fromhex("03 06 022b 0000 0064")
    assert check_read_response(3, 3, response) == bytes.fromhex("022b 0000 0064")
    assert check_read_response(4, 1, bytes.fromhex("04 02 000a")) == b"\x00\x0a"


def test_bit_payload_is_packed_bytes() -> None:
    response = bytes.fromhex("01 03 cd 6b 05")  # the spec's 19 coils
    assert check_read_response(1, 19, response) == bytes.fromhex("cd 6b 05")
    assert unpack_bits(bytes.fromhex("cd6b05"), 19)[:8] == [
        True,
        False,
        True,
        True,
        False,
        False,
        True,
        True,
    ]


def test_bit_padding_is_cleared() -> None:
    # A device that does not zero the spare bits still yields canonical bytes.
    assert check_read_response(2, 3, bytes.fromhex("02 01 ff")) == b"\x07"
    assert check_read_response(2, 8, bytes.fromhex("02 01 ff")) == b"\xff"


@pytest.mark.parametrize(
    ("code", "name"),
    [
        (0x01, "illegal function"),
        (0x02, "illegal data address"),
        (0x03, "illegal data value"),
        (0x04, "server device failure"),
        (0x06, "busy"),
        (0x0A, "gateway path unavailable"),
        (0x0B, "gateway target"),
    ],
)
def test_exception_responses(code: int, name: str) -> None:
    with pytest.raises(ModbusException, match=name) as info:
        check_read_response(3, 10, bytes([0x83, code]))
    assert info.value.code == code
    with pytest.raises(ModbusException, match=name) as info:
        check_write_response(write_register_request(0, 1), bytes([0x86, code]))
    assert info.value.code == code


def test_unknown_exception_code_is_still_an_exception() -> None:
    with pytest.raises(ModbusException, match="unknown") as info:
        check_read_response(1, 1, b"\x81\x42")
    assert info.value.code == 0x42


@pytest.mark.parametrize(
    ("function", "count", "response", "message"),
    [
        (3, 1, b"", "empty"),
        (3, 1, b"\x04\x02\x00\x01", "function code 0x04 in the response to 0x03"),
        (3, 1, b"\x84\x02", "function code 0x84"),  # another function's exception
        (3, 1, b"\x83", "exception response .* has 1 bytes, expected 2"),
        (3, 1, b"\x83\x02\x00", "exception response .* has 3 bytes, expected 2"),
        (3, 1, b"\x03", "no byte count"),
        (3, 2, b"\x03\x04\x00\x01\x00", "byte count 4 but 3 data bytes follow"),
        (3, 2, b"\x03\x04\x00\x01\x00\x02\x00", "byte count 4 but 5 data bytes follow"),
        (3, 2, b"\x03\x06\x00\x01\x00\x02\x00\x03", "3 registers .* for 2 registers asked"),
        (3, 2, b"\x03\x02\x00\x01", "1 registers .* for 2 registers asked"),
        (3, 2, b"\x03\x03\x00\x01\x00", "1.5 registers"),
        (4, 1, b"\x04\x00", "0 registers"),
        (1, 9, b"\x01\x01\xff", "8 bits .* for 9 bits asked"),
        (2, 8, b"\x02\x02\xff\x00", "16 bits .* for 8 bits asked"),
    ],
)
def test_malformed_read_responses(function: int, count: int, response: bytes, message: str) -> None:
    with pytest.raises(MalformedResponse, match=message):
        check_read_response(function, count, response)


# ---------------------------------------------------------------- write responses


def test_write_echoes_accepted() -> None:
    for request in (write_coil_request(7, True), write_register_request(7, 0x1234)):
        check_write_response(request, request)
    request = write_registers_request(0x0001, [0x000A, 0x0102])
    check_write_response(request, bytes.fromhex("10 0001 0002"))
    request = write_coils_request(0x0013, [True] * 10)
    check_write_response(request, bytes.fromhex("0f 0013 000a"))


@pytest.mark.parametrize(
    ("request_pdu", "response", "message"),
    [
        (write_coil_request(7, True), bytes.fromhex("05 0007 0000"), r"echo \[00 07 00 00\]"),
        (write_coil_request(7, True), bytes.fromhex("05 0008 ff00"), "does not match"),
        (write_coil_request(7, True), bytes.fromhex("05 0007 ff"), "does not match"),
        (write_register_request(1, 3), bytes.fromhex("06 0001 0004"), "does not match"),
        (write_register_request(1, 3), bytes.fromhex("06 0001 0003 00"), "does not match"),
        (write_register_request(1, 3), bytes.fromhex("10 0001 0001"), "function code 0x10"),
        (write_registers_request(1, [1, 2]), bytes.fromhex("10 0001 0003"), "does not match"),
        (write_registers_request(1, [1, 2]), bytes.fromhex("10 0002 0002"), "does not match"),
        (
            write_registers_request(1, [1, 2]),
            bytes.fromhex("10 0001 0002 04 0001 0002"),
            "does not match",
        ),
        (write_coils_request(1, [True] * 3), bytes.fromhex("0f 0001 0002"), "does not match"),
        (write_coils_request(1, [True] * 3), b"", "empty"),
    ],
)
def test_malformed_write_responses(request_pdu: bytes, response: bytes, message: str) -> None:
    with pytest.raises(MalformedResponse, match=message):
        check_write_response(request_pdu, response)


# ---------------------------------------------------------------- bits


def test_pack_bits_examples() -> None:
    assert pack_bits([]) == b""
    assert pack_bits([True]) == b"\x01"
    assert pack_bits([False] * 7 + [True]) == b"\x80"
    assert pack_bits([False] * 8 + [True]) == b"\x00\x01"
    assert unpack_bits(b"\x80\x01", 9) == [False] * 7 + [True, True]
    assert unpack_bits(b"\xff", 0) == []
    with pytest.raises(ValueError, match="do not fit"):
        unpack_bits(b"\xff", 9)


@given(st.lists(st.booleans(), max_size=2000))
def test_bits_round_trip(values: list[bool]) -> None:
    packed = pack_bits(values)
    assert len(packed) == (len(values) + 7) // 8
    assert unpack_bits(packed, len(values)) == values
    if values:  # as a read response: the payload comes back unchanged
        response = bytes([1, len(packed)]) + packed
        assert check_read_response(1, len(values), response) == packed


@given(st.binary(min_size=1, max_size=250), st.integers(min_value=1, max_value=8))
def test_unpack_then_pack_clears_only_spare_bits(data: bytes, spare: int) -> None:
    count = max(8 * len(data) - spare + 1, 1)
    repacked = pack_bits(unpack_bits(data, count))
    assert repacked[:-1] == data[:-1]
    mask = 0xFF >> (-count & 7)
    assert repacked[-1] == data[-1] & mask
    assert check_read_response(2, count, bytes([2, len(data)]) + data) == repacked

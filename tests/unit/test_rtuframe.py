"""RTU frame rules: CRC-16/MODBUS against known frames and an independent implementation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymodbus.framer.rtu import FramerRTU

from gateway.rtuframe import (
    EXCEPTION_FRAME,
    FIXED_T35,
    LineTiming,
    crc16,
    crc_ok,
    frame,
    request_length,
    response_length,
)


def test_the_crc_of_known_frames() -> None:
    assert crc16(b"123456789") == 0x4B37  # the CRC-16/MODBUS check value
    # Read 2 holding registers of unit 1: the frame every Modbus manual prints.
    assert frame(1, bytes.fromhex("0300000002")).hex() == "010300000002c40b"
    assert crc_ok(bytes.fromhex("010300000002c40b"))
    assert not crc_ok(bytes.fromhex("010300000002c40c"))
    assert not crc_ok(b"\x01\x03")  # too short to be a frame


@given(st.binary(max_size=300))
def test_the_crc_agrees_with_pymodbus_and_a_bytewise_loop(data: bytes) -> None:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    assert crc16(data) == crc
    # pymodbus returns the two CRC bytes as sent, high byte first.
    assert crc16(data) == int.from_bytes(FramerRTU.compute_CRC(data).to_bytes(2, "big"), "little")


@pytest.mark.parametrize(
    ("pdu", "length"),
    [
        ("0100000009", 3 + 2 + 2),  # 9 coils: 2 data bytes
        ("0200000008", 3 + 1 + 2),
        ("030000007d", 3 + 250 + 2),  # 125 registers: the largest frame, 255 bytes
        ("0400000001", 3 + 2 + 2),
        ("05000aff00", 8),
        ("0600010002", 8),
        ("0f000000030105", 8),
        ("1000000001020007", 8),
    ],
)
def test_the_answer_length_follows_from_the_request(pdu: str, length: int) -> None:
    assert response_length(bytes.fromhex(pdu)) == length
    assert EXCEPTION_FRAME == 5


def test_the_request_length_follows_from_its_head() -> None:
    assert request_length(b"\x01") is None
    assert request_length(bytes.fromhex("0103")) == 8
    assert request_length(bytes.fromhex("011000000002")) is None  # byte count not yet here
    assert request_length(bytes.fromhex("01100000000204")) == 13
    assert request_length(bytes.fromhex("0111")) is None  # unknown: only silence ends it
    with pytest.raises(ValueError, match="unknown"):
        response_length(b"\x11")


def test_character_times_and_t35() -> None:
    assert LineTiming(9600).char_time == pytest.approx(11 / 9600)
    assert LineTiming(9600).t35 == pytest.approx(3.5 * 11 / 9600)  # 4.01 ms
    assert LineTiming(19200).t35 == pytest.approx(3.5 * 11 / 19200)
    assert LineTiming(38400).t35 == FIXED_T35 == LineTiming(115200).t35  # fixed above 19200
    assert LineTiming.of(19200, 8, parity=False, stop_bits=1).bits_per_char == 10
    assert LineTiming(115200).frame_time(255) == pytest.approx(255 * 11 / 115200)

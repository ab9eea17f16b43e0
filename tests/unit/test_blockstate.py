"""Status codes and change-driven output per block (DESIGN.md §7), without a network."""

from __future__ import annotations

import math

import pytest

from gateway.codec import Encoding, encode, registers_to_bytes
from gateway.modbus.blockstate import BlockState, status_for_exception
from gateway.modbus.planner import ReadBlock
from gateway.model import DataType, Status, Table, TagValue, WordOrder
from gateway.tags import Tag


def _tag(name: str, address: int, data_type: DataType, **extra: object) -> Tag:
    encoding_keys = {"bit", "length", "scale", "offset", "word_order"}
    encoding = Encoding(data_type, **{k: v for k, v in extra.items() if k in encoding_keys})  # type: ignore[arg-type]
    rest = {k: v for k, v in extra.items() if k not in encoding_keys}
    return Tag("plc", name, Table.HOLDING_REGISTER, address, encoding, 1.0, **rest)  # type: ignore[arg-type]


TEMP = _tag("temp", 0, DataType.FLOAT32, deadband=0.5)
COUNT = _tag("count", 2, DataType.UINT16)
RUN = _tag("run", 3, DataType.BOOL, bit=0)
FAULT = _tag("fault", 3, DataType.BOOL, bit=1)
CDAB = _tag("cdab", 4, DataType.FLOAT32, word_order=WordOrder.LITTLE)


def _block() -> BlockState:
    tags = (TEMP, COUNT, RUN, FAULT, CDAB)
    return BlockState(ReadBlock(Table.HOLDING_REGISTER, 0, 6, 1.0, tags))


def _payload(temp: float, count: int, status_word: int, cdab: float = 1.5) -> bytes:
    registers = [
        *encode(temp, TEMP.encoding),
        count,
        status_word,
        *encode(cdab, CDAB.encoding),
    ]
    return registers_to_bytes(registers)


def _by_tag(values: list[TagValue]) -> dict[str, TagValue]:
    return {value.tag: value for value in values}


def test_first_read_publishes_every_tag_good_with_arrival_time() -> None:
    block = _block()
    out: list[TagValue] = []
    block.on_payload(_payload(20.0, 7, 0b10), 1000.0, out)
    got = _by_tag(out)
    assert got["plc.temp"] == TagValue("plc.temp", 20.0, Status.GOOD, 1000.0, 1000.0)
    assert got["plc.count"].value == 7
    assert got["plc.run"].value is False
    assert got["plc.fault"].value is True
    assert got["plc.cdab"].value == 1.5
    assert len(out) == 5


def test_identical_bytes_do_no_work() -> None:
    block = _block()
    block.on_payload(_payload(20.0, 7, 0), 1.0, [])
    out: list[TagValue] = []
    block.on_payload(_payload(20.0, 7, 0), 2.0, out)
    assert out == []


def test_only_changed_tags_are_published() -> None:
    block = _block()
    block.on_payload(_payload(20.0, 7, 0), 1.0, [])
    out: list[TagValue] = []
    block.on_payload(_payload(20.0, 8, 0b01), 2.0, out)
    assert [(v.tag, v.value) for v in out] == [("plc.count", 8), ("plc.run", True)]


def test_deadband_suppresses_small_changes_against_last_published() -> None:
    block = _block()
    block.on_payload(_payload(20.0, 7, 0), 1.0, [])
    out: list[TagValue] = []
    block.on_payload(_payload(20.25, 7, 0), 2.0, out)  # 0.25 < 0.5
    block.on_payload(_payload(20.45, 7, 0), 3.0, out)  # still < 0.5 from 20.0
    assert out == []
    block.on_payload(_payload(20.5, 7, 0), 4.0, out)  # = deadband: published
    assert [(v.tag, v.value) for v in out] == [("plc.temp", 20.5)]


def test_nan_to_nan_is_no_change_but_nan_from_number_is() -> None:
    block = _block()
    block.on_payload(_payload(math.nan, 7, 0), 1.0, [])
    out: list[TagValue] = []
    block.on_payload(_payload(math.nan, 8, 0), 2.0, out)
    assert [v.tag for v in out] == ["plc.count"]
    out.clear()
    block.on_payload(_payload(3.0, 8, 0), 3.0, out)
    assert [(v.tag, v.value) for v in out] == [("plc.temp", 3.0)]


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (0x01, Status.BAD_CONFIGURATION_ERROR),
        (0x02, Status.BAD_CONFIGURATION_ERROR),
        (0x03, Status.BAD_CONFIGURATION_ERROR),
        (0x04, Status.BAD_DEVICE_FAILURE),
        (0x0A, Status.BAD_DEVICE_FAILURE),
        (0x0B, Status.BAD_DEVICE_FAILURE),
    ],
)
def test_exception_codes_map_to_statuses(code: int, status: Status) -> None:
    assert status_for_exception(code) is status


def test_block_error_then_recovery_republishes_values() -> None:
    block = _block()
    block.on_payload(_payload(20.0, 7, 0), 1.0, [])
    out: list[TagValue] = []
    block.on_error(Status.BAD_CONFIGURATION_ERROR, 2.0, out)
    assert {(v.value, v.status) for v in out} == {(None, Status.BAD_CONFIGURATION_ERROR)}
    assert len(out) == 5
    out.clear()
    block.on_error(Status.BAD_CONFIGURATION_ERROR, 3.0, out)  # unchanged status: nothing
    assert out == []
    block.on_payload(_payload(20.0, 7, 0), 4.0, out)  # same bytes as before the error
    assert len(out) == 5
    assert all(v.status is Status.GOOD for v in out)


def test_connection_lost_keeps_last_usable_value_and_its_time() -> None:
    block = _block()
    block.on_payload(_payload(20.0, 7, 0), 1.0, [])
    block.on_payload(_payload(25.0, 7, 0), 2.0, [])
    out: list[TagValue] = []
    block.on_connection_lost(5.0, out)
    got = _by_tag(out)
    assert got["plc.temp"] == TagValue(
        "plc.temp", 25.0, Status.UNCERTAIN_NO_COMMUNICATION_LAST_USABLE_VALUE, 2.0, 5.0
    )
    assert got["plc.count"].source_time == 1.0  # unchanged since the first read
    assert got["plc.count"].value == 7
    out.clear()
    block.on_connection_lost(6.0, out)
    assert out == []


def test_connection_lost_before_any_read_is_bad_no_communication() -> None:
    block = _block()
    out: list[TagValue] = []
    block.on_connection_lost(5.0, out)
    assert {(v.value, v.status, v.source_time) for v in out} == {
        (None, Status.BAD_NO_COMMUNICATION, None)
    }


def test_initial_status_is_waiting_for_initial_data() -> None:
    block = _block()
    assert {v.status for v in (s.snapshot(0.0) for s in block.states)} == {
        Status.BAD_WAITING_FOR_INITIAL_DATA
    }


def test_invalid_bcd_is_bad_data_encoding_for_that_tag_only() -> None:
    bcd = _tag("bcd", 0, DataType.BCD16)
    plain = _tag("plain", 1, DataType.UINT16)
    block = BlockState(ReadBlock(Table.HOLDING_REGISTER, 0, 2, 1.0, (bcd, plain)))
    out: list[TagValue] = []
    block.on_payload(registers_to_bytes([0x12FA, 5]), 1.0, out)
    got = _by_tag(out)
    assert got["plc.bcd"].status is Status.BAD_DATA_ENCODING_INVALID
    assert got["plc.plain"] == TagValue("plc.plain", 5, Status.GOOD, 1.0, 1.0)


def test_disabled_device_is_out_of_service() -> None:
    block = _block()
    out: list[TagValue] = []
    block.on_disabled(1.0, out)
    assert {v.status for v in out} == {Status.BAD_OUT_OF_SERVICE}

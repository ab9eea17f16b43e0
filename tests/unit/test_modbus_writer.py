"""The modbus writer: checks before the device is touched, then the right function.

`TagWrite.checked` is pure; `send` is run against an in-memory device, so
the request PDUs on the wire are seen exactly (no sockets, no real time).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from fakeclock import FakeClock
from memorymodbus import MemoryNetwork, MemoryTransport

from gateway.codec import Encoding
from gateway.errors import DeviceTimeout, ModbusException, WriteRejected
from gateway.modbus.writer import TagWrite
from gateway.model import ByteOrder, DataType, Status, Table, Value
from gateway.tags import Tag


def _tag(table: Table = Table.HOLDING_REGISTER, address: int = 10, **kwargs: Any) -> Tag:
    encoding = kwargs.pop("encoding", Encoding(DataType.FLOAT32))
    writable = kwargs.pop("writable", True)
    return Tag("plc", "t", table, address, encoding, 1.0, writable=writable, **kwargs)


SETPOINT = _tag(range=(0.0, 100.0))
COIL = _tag(Table.COIL, 3, encoding=Encoding(DataType.BOOL))
BIT = _tag(address=4, encoding=Encoding(DataType.BOOL, bit=1))
LITTLE_BIT = _tag(address=4, encoding=Encoding(DataType.BOOL, bit=1, byte_order=ByteOrder.LITTLE))
WORD = _tag(encoding=Encoding(DataType.UINT16))
LABEL = _tag(encoding=Encoding(DataType.STRING, length=4))


@pytest.mark.parametrize(
    ("tag", "value", "status"),
    [
        (_tag(writable=False), 1.0, Status.BAD_NOT_WRITABLE),
        (SETPOINT, "hot", Status.BAD_TYPE_MISMATCH),
        (SETPOINT, True, Status.BAD_TYPE_MISMATCH),
        (COIL, 1, Status.BAD_TYPE_MISMATCH),
        (SETPOINT, 100.5, Status.BAD_OUT_OF_RANGE),
        (SETPOINT, math.nan, Status.BAD_OUT_OF_RANGE),
        (WORD, 70_000, Status.BAD_OUT_OF_RANGE),
        (LABEL, "nine chars", Status.BAD_TYPE_MISMATCH),  # 4 registers: 8 at the most
        (LABEL, 5, Status.BAD_TYPE_MISMATCH),
    ],
)
def test_a_write_is_refused_before_it_reaches_the_device(
    tag: Tag, value: Value, status: Status
) -> None:
    with pytest.raises(WriteRejected) as refused:
        TagWrite.checked(tag, value)
    assert refused.value.status is status
    assert "plc.t" in str(refused.value)


def _sent(tag: Tag, value: Value, status_word: int = 0b101) -> tuple[list[str], list[int]]:
    """The request PDUs (hex) a write sends, and holding registers 4, 10 and 11 after it."""
    clock = FakeClock()
    plc = MemoryNetwork(clock).device("plc")
    plc.put(4, status_word)
    transport = MemoryTransport(plc, plc.where, clock)

    async def main() -> None:
        await transport.connect()
        async with transport.lock:
            await TagWrite.checked(tag, value).send(transport, 1, timeout=1.0)

    clock.run(main())
    registers = plc.unit().registers(Table.HOLDING_REGISTER, 4, 8)
    return [seen.pdu.hex(" ") for seen in plc.requests], [registers[0], *registers[6:8]]


def test_each_kind_of_tag_is_written_with_its_function() -> None:
    assert _sent(COIL, True)[0] == ["05 00 03 ff 00"]
    assert _sent(WORD, 0x1234) == (["06 00 0a 12 34"], [0b101, 0x1234, 0])
    assert _sent(SETPOINT, 62.5) == (["10 00 0a 00 02 04 42 7a 00 00"], [0b101, 0x427A, 0])
    bool_word = _tag(encoding=Encoding(DataType.BOOL))  # a bool held in a whole register
    assert _sent(bool_word, True)[0] == ["06 00 0a 00 01"]


def test_a_bit_is_a_read_modify_write_that_keeps_the_other_bits() -> None:
    assert _sent(BIT, True) == (["03 00 04 00 01", "06 00 04 00 07"], [0b111, 0, 0])
    assert _sent(BIT, False, 0b111)[1][0] == 0b101
    # byte order little: bit 1 of the value is bit 9 of the register
    assert _sent(LITTLE_BIT, True, 0)[0] == ["03 00 04 00 01", "06 00 04 02 00"]


def test_send_raises_what_the_device_answers_and_never_retries() -> None:
    clock = FakeClock()
    plc = MemoryNetwork(clock).device("plc")
    transport = MemoryTransport(plc, plc.where, clock)
    write = TagWrite.checked(SETPOINT, 50.0)

    async def main() -> None:
        await transport.connect()
        plc.script = lambda unit, pdu: bytes([pdu[0] | 0x80, 0x04])
        with pytest.raises(ModbusException):
            await write.send(transport, 1, timeout=1.0)
        assert transport.connected  # an exception is an answer
        plc.script = lambda unit, pdu: None
        with pytest.raises(DeviceTimeout, match="outcome is unknown"):
            await write.send(transport, 1, timeout=1.0)
        assert not transport.connected

    clock.run(main())
    assert len(plc.requests) == 2

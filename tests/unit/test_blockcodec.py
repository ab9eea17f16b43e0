"""Block decoders: exact agreement with `codec.decode`, each strategy, bit tables."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.codec import Encoding, bytes_to_registers, decode, encode, registers_to_bytes
from gateway.errors import CodecError
from gateway.modbus import blockcodec
from gateway.modbus.blockcodec import BitBlockDecoder, RegisterBlockDecoder
from gateway.model import ByteOrder, DataType, Value, WordOrder

BIG, LITTLE = ByteOrder.BIG, ByteOrder.LITTLE
W_BIG, W_LITTLE = WordOrder.BIG, WordOrder.LITTLE


def same(a: object, b: object) -> bool:
    """Equal in type and value, NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def reference(start: int, payload: bytes, fields: list[tuple[int, Encoding]]) -> list[Value | None]:
    """What the block must return: codec.decode per field, None where it raises."""
    registers = bytes_to_registers(payload)
    out: list[Value | None] = []
    for address, enc in fields:
        offset = address - start
        try:
            out.append(decode(registers[offset : offset + enc.register_count], enc))
        except CodecError:
            out.append(None)
    return out


def assert_matches_codec(start: int, payload: bytes, fields: list[tuple[int, Encoding]]) -> str:
    decoder = RegisterBlockDecoder(start, len(payload) // 2, fields)
    got = decoder.decode(payload)
    expected = reference(start, payload, fields)
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        assert same(g, e), f"field {i} {fields[i]}: block {g!r} != codec {e!r}"
    return decoder.strategy


def test_all_is_the_public_api() -> None:
    assert sorted(blockcodec.__all__) == ["BitBlockDecoder", "RegisterBlockDecoder"]


# ---------------------------------------------------------------- hypothesis

ORDERS = st.tuples(st.sampled_from([BIG, LITTLE]), st.sampled_from([W_BIG, W_LITTLE]))
NUMERIC = [t for t in DataType if t.is_numeric]


@st.composite
def encodings(draw: st.DrawFn, orders: tuple[ByteOrder, WordOrder] | None = None) -> Encoding:
    data_type = draw(st.sampled_from(list(DataType)))
    byte_order, word_order = orders if orders is not None else draw(ORDERS)
    if data_type is DataType.STRING:
        return Encoding(data_type, byte_order, word_order, length=draw(st.integers(1, 6)))
    if data_type is DataType.BOOL:
        bit = draw(st.none() | st.integers(0, 15))
        return Encoding(data_type, byte_order, word_order, bit=bit)
    if draw(st.booleans()):
        scale = draw(st.sampled_from([0.1, -2.0, 1e-3, 1.0]))
        offset = draw(st.sampled_from([0.0, -40.0, 0.5]))
        return Encoding(data_type, byte_order, word_order, scale=scale, offset=offset)
    return Encoding(data_type, byte_order, word_order)


@st.composite
def random_blocks(draw: st.DrawFn) -> tuple[int, bytes, list[tuple[int, Encoding]]]:
    """Any layout: mixed orders, fields overlapping, in any order."""
    start = draw(st.integers(0, 65_000))
    count = draw(st.integers(1, 125))
    encs = draw(st.lists(encodings().filter(lambda e: e.register_count <= count), max_size=40))
    fields = [(start + draw(st.integers(0, count - e.register_count)), e) for e in encs]
    payload = draw(st.binary(min_size=2 * count, max_size=2 * count))
    return start, payload, fields


@st.composite
def tiled_blocks(draw: st.DrawFn) -> tuple[int, bytes, list[tuple[int, Encoding]]]:
    """One order per block, values side by side with gaps: the in-place strategies."""
    orders = draw(ORDERS)
    start = draw(st.integers(0, 1000))
    fields: list[tuple[int, Encoding]] = []
    address = start
    for enc in draw(st.lists(encodings(orders), min_size=1, max_size=30)):
        address += draw(st.integers(0, 3))
        fields.append((address, enc))
        address += enc.register_count
    count = address - start + draw(st.integers(0, 3))
    payload = draw(st.binary(min_size=2 * count, max_size=2 * count))
    fields = draw(st.permutations(fields))
    return start, payload, fields


@given(random_blocks())
def test_random_layouts_agree_with_codec(
    block: tuple[int, bytes, list[tuple[int, Encoding]]],
) -> None:
    assert_matches_codec(*block)


@given(tiled_blocks())
def test_tiled_layouts_agree_with_codec_in_place(
    block: tuple[int, bytes, list[tuple[int, Encoding]]],
) -> None:
    strategy = assert_matches_codec(*block)
    assert strategy in ("direct", "swapped")


@given(st.data())
def test_encoded_values_come_back_from_a_block(data: st.DataObject) -> None:
    """Values written with codec.encode side by side are read back by the block decoder."""
    registers: list[int] = []
    fields: list[tuple[int, Encoding]] = []
    values: list[Value] = []
    for enc in data.draw(st.lists(encodings().filter(lambda e: e.bit is None), max_size=20)):
        n = enc.register_count
        drawn = data.draw(st.lists(st.integers(0, 0xFFFF), min_size=n, max_size=n))
        try:
            value = decode(drawn, enc)
            written = encode(value, enc)
        except CodecError:
            continue  # invalid BCD, or a string with U+FFFD that no longer fits
        fields.append((len(registers), enc))
        registers.extend(written)
        values.append(value)
    registers.append(0)
    got = RegisterBlockDecoder(0, len(registers), fields).decode(registers_to_bytes(registers))
    assert len(got) == len(values)
    for g, v in zip(got, values, strict=True):
        assert same(g, v) or (isinstance(v, float) and v == pytest.approx(g))


# ---------------------------------------------------------------- strategies


def float_block(byte_order: ByteOrder, word_order: WordOrder) -> RegisterBlockDecoder:
    enc = Encoding(DataType.FLOAT32, byte_order, word_order)
    return RegisterBlockDecoder(100, 125, [(100 + 2 * i, enc) for i in range(62)])


@pytest.mark.parametrize(
    ("byte_order", "word_order", "pack", "strategy"),
    [
        (BIG, W_BIG, ">f", "direct"),
        (LITTLE, W_LITTLE, "<f", "direct"),
        (BIG, W_LITTLE, None, "swapped"),
        (LITTLE, W_BIG, None, "swapped"),
    ],
    ids=["ABCD", "DCBA", "CDAB", "BADC"],
)
def test_full_float32_block(
    byte_order: ByteOrder, word_order: WordOrder, pack: str | None, strategy: str
) -> None:
    values = [float(i) * 1.5 - 40.0 for i in range(62)]
    enc = Encoding(DataType.FLOAT32, byte_order, word_order)
    registers = [r for v in values for r in encode(v, enc)] + [0xABCD]
    payload = registers_to_bytes(registers)
    if pack is not None:
        assert payload[:248] == b"".join(struct.pack(pack, v) for v in values)
    decoder = float_block(byte_order, word_order)
    assert decoder.strategy == strategy
    assert decoder.decode(payload) == values


@pytest.mark.parametrize(
    ("byte_order", "word_order", "strategy"),
    [(BIG, W_BIG, "direct"), (LITTLE, W_LITTLE, "direct"), (BIG, W_LITTLE, "swapped"),
     (LITTLE, W_BIG, "swapped")],
    ids=["ABCD", "DCBA", "CDAB", "BADC"],
)  # fmt: skip
def test_device_order_block_with_string_and_int16_stays_in_place(
    byte_order: ByteOrder, word_order: WordOrder, strategy: str
) -> None:
    """Strings ignore word order and the struct's byte order; they are fixed after unpacking."""
    encs = [
        Encoding(DataType.FLOAT32, byte_order, word_order),
        Encoding(DataType.STRING, byte_order, word_order, length=3),
        Encoding(DataType.INT16, byte_order, word_order),
        Encoding(DataType.UINT64, byte_order, word_order),
    ]
    values: list[Value] = [-1.5, "batch", -300, 2**64 - 2]
    registers: list[int] = []
    fields = []
    for enc, value in zip(encs, values, strict=True):
        fields.append((len(registers), enc))
        registers.extend(encode(value, enc))
    decoder = RegisterBlockDecoder(0, len(registers), fields)
    assert decoder.strategy == strategy
    assert decoder.decode(registers_to_bytes(registers)) == values


def test_identity_layout_reads_payload_in_place() -> None:
    fields = [(0, Encoding(DataType.UINT16)), (1, Encoding(DataType.INT32))]
    decoder = RegisterBlockDecoder(0, 3, fields)
    assert decoder.strategy == "direct"
    assert decoder.decode(bytes.fromhex("0007 FFFF FFFE")) == [7, -2]


def test_gaps_are_skipped_in_place() -> None:
    fields = [(13, Encoding(DataType.INT16)), (10, Encoding(DataType.UINT16))]
    decoder = RegisterBlockDecoder(10, 5, fields)
    assert decoder.strategy == "direct"
    assert decoder.decode(bytes.fromhex("0001 AAAA BBBB FFFF CCCC")) == [-1, 1]


def test_mixed_orders_are_gathered() -> None:
    fields = [
        (0, Encoding(DataType.FLOAT32)),
        (2, Encoding(DataType.FLOAT32, word_order=W_LITTLE)),
        (4, Encoding(DataType.FLOAT32, LITTLE)),
        (6, Encoding(DataType.FLOAT32, LITTLE, W_LITTLE)),
    ]
    payload = bytes.fromhex("42F6E979 E97942F6 F64279E9 79E9F642")
    decoder = RegisterBlockDecoder(0, 8, fields)
    assert decoder.strategy == "gathered"
    (expected,) = struct.unpack(">f", bytes.fromhex("42F6E979"))
    assert decoder.decode(payload) == [expected] * 4


def test_overlapping_values_are_gathered() -> None:
    fields = [(0, Encoding(DataType.UINT32)), (1, Encoding(DataType.UINT16))]
    decoder = RegisterBlockDecoder(0, 2, fields)
    assert decoder.strategy == "gathered"
    assert decoder.decode(bytes.fromhex("1234 5678")) == [0x12345678, 0x5678]


def test_bits_of_one_status_word_share_one_slot() -> None:
    status = 0b1010_0000_0000_0101
    fields = [(7, Encoding(DataType.BOOL, bit=b)) for b in range(16)]
    fields.append((7, Encoding(DataType.UINT16)))
    fields.append((8, Encoding(DataType.BOOL)))
    decoder = RegisterBlockDecoder(7, 2, fields)
    assert decoder.strategy == "direct"  # duplicates read one raw value
    got = decoder.decode(registers_to_bytes([status, 0]))
    assert got[:16] == [bool(status >> b & 1) for b in range(16)]
    assert got[16:] == [status, False]


def test_status_word_bits_with_little_byte_order() -> None:
    fields = [(0, Encoding(DataType.BOOL, LITTLE, bit=b)) for b in range(16)]
    decoder = RegisterBlockDecoder(0, 1, fields)
    assert decoder.strategy == "direct"
    got = decoder.decode(bytes.fromhex("0100"))  # logical value 0x0001
    assert got == [True] + [False] * 15


def test_results_follow_field_order() -> None:
    fields = [(i, Encoding(DataType.UINT16)) for i in reversed(range(5))]
    decoder = RegisterBlockDecoder(0, 5, fields)
    assert decoder.decode(registers_to_bytes([10, 11, 12, 13, 14])) == [14, 13, 12, 11, 10]


def test_post_steps_scale_strings_and_bcd() -> None:
    fields = [
        (0, Encoding(DataType.INT16, scale=0.1, offset=-40)),
        (1, Encoding(DataType.STRING, length=3)),
        (4, Encoding(DataType.BCD16)),
        (5, Encoding(DataType.BCD32, scale=0.01)),
    ]
    payload = registers_to_bytes([1234, 0x4142, 0x4300, 0, 0x1234, 0x0012, 0x3456])
    got = RegisterBlockDecoder(0, 7, fields).decode(payload)
    assert got == [pytest.approx(83.4), "ABC", 1234, pytest.approx(1234.56)]
    assert type(got[0]) is float


def test_invalid_bcd_is_none_and_the_rest_still_decodes() -> None:
    fields = [(0, Encoding(DataType.BCD16)), (1, Encoding(DataType.UINT16))]
    got = RegisterBlockDecoder(0, 2, fields).decode(registers_to_bytes([0x12A4, 99]))
    assert got == [None, 99]


def test_single_field_and_no_fields() -> None:
    assert RegisterBlockDecoder(0, 1, [(0, Encoding(DataType.UINT16))]).decode(b"\x00\x05") == [5]
    little = RegisterBlockDecoder(0, 2, [(0, Encoding(DataType.INT32, word_order=W_LITTLE))])
    assert little.decode(bytes.fromhex("FFFE FFFF")) == [-2]
    mixed = RegisterBlockDecoder(
        0, 1, [(0, Encoding(DataType.BOOL)), (0, Encoding(DataType.INT16))]
    )
    assert mixed.decode(b"\xff\xff") == [True, -1]
    assert RegisterBlockDecoder(0, 3, []).decode(bytes(6)) == []


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("start", "count", "fields"),
    [
        (0, 2, [(1, Encoding(DataType.FLOAT32))]),  # runs past the end
        (10, 4, [(9, Encoding(DataType.UINT16))]),  # before the start
        (10, 4, [(14, Encoding(DataType.UINT16))]),
        (0, 3, [(0, Encoding(DataType.STRING, length=4))]),
        (0, 0, []),
        (-1, 4, []),
        (65_535, 2, []),
    ],
)
def test_invalid_construction_raises(
    start: int, count: int, fields: list[tuple[int, Encoding]]
) -> None:
    with pytest.raises(ValueError, match=r"outside the block|invalid block"):
        RegisterBlockDecoder(start, count, fields)


@pytest.mark.parametrize("size", [0, 3, 5, 6])
def test_wrong_payload_length_raises(size: int) -> None:
    decoder = RegisterBlockDecoder(0, 2, [(0, Encoding(DataType.UINT16))])
    with pytest.raises(CodecError, match="must be 4 bytes"):
        decoder.decode(bytes(size))


# ---------------------------------------------------------------- bit blocks


def reference_bits(start: int, payload: bytes, addresses: list[int]) -> list[bool]:
    return [bool(payload[(a - start) // 8] >> ((a - start) % 8) & 1) for a in addresses]


@st.composite
def bit_blocks(draw: st.DrawFn) -> tuple[int, int, bytes, list[int]]:
    start = draw(st.integers(0, 60_000))
    count = draw(st.integers(1, 2000))
    addresses = draw(st.lists(st.integers(start, start + count - 1), max_size=100))
    payload = draw(st.binary(min_size=(count + 7) // 8, max_size=(count + 7) // 8))
    return start, count, payload, addresses


@given(bit_blocks())
def test_bit_blocks_agree_with_reference(block: tuple[int, int, bytes, list[int]]) -> None:
    start, count, payload, addresses = block
    got = BitBlockDecoder(start, count, addresses).decode(payload)
    assert got == reference_bits(start, payload, addresses)
    assert all(type(b) is bool for b in got)


def test_bit_order_lsb_of_first_byte_is_start() -> None:
    decoder = BitBlockDecoder(100, 10, list(range(100, 110)))
    # the FC01 example of the Modbus spec: bytes 0xCD 0x01, least significant bit first
    assert decoder.decode(bytes([0xCD, 0x01])) == [
        True, False, True, True, False, False, True, True, True, False,
    ]  # fmt: skip


def test_whole_bit_table_and_duplicates() -> None:
    payload = bytes(range(250))
    decoder = BitBlockDecoder(0, 2000, list(range(2000)))
    assert decoder.decode(payload) == reference_bits(0, payload, list(range(2000)))
    dup = BitBlockDecoder(5, 8, [12, 5, 12])
    assert dup.decode(b"\x80") == [True, False, True]


def test_bit_block_validation() -> None:
    with pytest.raises(ValueError, match="outside the block"):
        BitBlockDecoder(10, 8, [18])
    with pytest.raises(ValueError, match="outside the block"):
        BitBlockDecoder(10, 8, [9])
    with pytest.raises(ValueError, match="invalid block"):
        BitBlockDecoder(0, 0, [])
    with pytest.raises(CodecError, match="must be 2 bytes"):
        BitBlockDecoder(0, 9, [0]).decode(b"\x00")
    assert BitBlockDecoder(0, 9, []).decode(b"\x00\x00") == []

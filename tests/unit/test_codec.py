"""Register codec: fixed vectors against `struct`, round trips, and every error path."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from gateway import codec
from gateway.codec import (
    Encoding,
    bytes_to_registers,
    decode,
    encode,
    float32_text,
    registers_to_bytes,
    set_bit,
)
from gateway.errors import CodecError
from gateway.model import ByteOrder, DataType, WordOrder

BIG, LITTLE = ByteOrder.BIG, ByteOrder.LITTLE
W_BIG, W_LITTLE = WordOrder.BIG, WordOrder.LITTLE
#: (name, byte_order, word_order) of the four layouts, A = most significant byte.
ORDERS = [
    ("ABCD", BIG, W_BIG),
    ("CDAB", BIG, W_LITTLE),
    ("BADC", LITTLE, W_BIG),
    ("DCBA", LITTLE, W_LITTLE),
]
ORDER_IDS = [name for name, _, _ in ORDERS]

INT_RANGES = {
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.UINT32: (0, 2**32 - 1),
    DataType.INT64: (-(2**63), 2**63 - 1),
    DataType.UINT64: (0, 2**64 - 1),
    DataType.BCD16: (0, 9_999),
    DataType.BCD32: (0, 99_999_999),
}


def regs(hex_bytes: str) -> list[int]:
    """Registers of a wire byte string written in hex, e.g. '42F6 E979'."""
    return bytes_to_registers(bytes.fromhex(hex_bytes))


def same(a: object, b: object) -> bool:
    """Equal in type and value, NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def test_all_is_the_public_api() -> None:
    assert sorted(codec.__all__) == sorted(
        [
            "Encoding",
            "Layout",
            "bytes_to_registers",
            "decode",
            "encode",
            "float32_text",
            "layout_of",
            "registers_to_bytes",
            "set_bit",
        ]
    )
    for name in codec.__all__:
        assert hasattr(codec, name)


# ---------------------------------------------------------------- fixed vectors


FLOAT32_123_456 = {
    "ABCD": [0x42F6, 0xE979],
    "CDAB": [0xE979, 0x42F6],
    "BADC": [0xF642, 0x79E9],
    "DCBA": [0x79E9, 0xF642],
}


@pytest.mark.parametrize(("name", "byte_order", "word_order"), ORDERS, ids=ORDER_IDS)
def test_float32_vectors(name: str, byte_order: ByteOrder, word_order: WordOrder) -> None:
    enc = Encoding(DataType.FLOAT32, byte_order, word_order)
    expected = FLOAT32_123_456[name]
    assert encode(123.456, enc) == expected
    (as_float32,) = struct.unpack(">f", bytes.fromhex("42F6E979"))
    assert decode(expected, enc) == as_float32
    assert decode(expected, enc) == pytest.approx(123.456, rel=1e-7)


def test_float32_wire_bytes_match_struct() -> None:
    value = 123.456
    big = Encoding(DataType.FLOAT32)
    little = Encoding(DataType.FLOAT32, LITTLE, W_LITTLE)
    assert registers_to_bytes(encode(value, big)) == struct.pack(">f", value)
    assert registers_to_bytes(encode(value, little)) == struct.pack("<f", value)
    assert registers_to_bytes(encode(value, big)) == b"\x42\xf6\xe9\x79"
    assert registers_to_bytes(encode(value, little)) == b"\x79\xe9\xf6\x42"


@pytest.mark.parametrize(
    ("byte_order", "word_order", "expected"),
    [
        (BIG, W_BIG, [0xFFFF, 0xFFFE]),
        (BIG, W_LITTLE, [0xFFFE, 0xFFFF]),
        (LITTLE, W_BIG, [0xFFFF, 0xFEFF]),
        (LITTLE, W_LITTLE, [0xFEFF, 0xFFFF]),
    ],
    ids=ORDER_IDS,
)
def test_int32_minus_two(byte_order: ByteOrder, word_order: WordOrder, expected: list[int]) -> None:
    enc = Encoding(DataType.INT32, byte_order, word_order)
    assert encode(-2, enc) == expected
    assert decode(expected, enc) == -2
    assert type(decode(expected, enc)) is int


@pytest.mark.parametrize(
    ("byte_order", "word_order", "wire"),
    [
        (BIG, W_BIG, "0102 0304 0506 0708"),
        (BIG, W_LITTLE, "0708 0506 0304 0102"),
        (LITTLE, W_BIG, "0201 0403 0605 0807"),
        (LITTLE, W_LITTLE, "0807 0605 0403 0201"),
    ],
    ids=ORDER_IDS,
)
def test_uint64_vectors(byte_order: ByteOrder, word_order: WordOrder, wire: str) -> None:
    enc = Encoding(DataType.UINT64, byte_order, word_order)
    value = 0x0102030405060708
    assert encode(value, enc) == regs(wire)
    assert decode(regs(wire), enc) == value


def test_uint64_and_int64_extremes_match_struct() -> None:
    assert encode(2**64 - 1, Encoding(DataType.UINT64)) == [0xFFFF] * 4
    assert decode([0x8000, 0, 0, 0], Encoding(DataType.INT64)) == -(2**63)
    dcba = Encoding(DataType.INT64, LITTLE, W_LITTLE)
    assert registers_to_bytes(encode(-123456789012345, dcba)) == struct.pack("<q", -123456789012345)


@pytest.mark.parametrize(("name", "byte_order", "word_order"), ORDERS, ids=ORDER_IDS)
def test_float64_vectors(name: str, byte_order: ByteOrder, word_order: WordOrder) -> None:
    value = -1234.5678
    raw = struct.pack(">d", value)  # ABCDEFGH
    words = [raw[i : i + 2] for i in range(0, 8, 2)]
    if word_order is W_LITTLE:
        words.reverse()
    if byte_order is LITTLE:
        words = [w[::-1] for w in words]
    wire = b"".join(words)
    enc = Encoding(DataType.FLOAT64, byte_order, word_order)
    assert registers_to_bytes(encode(value, enc)) == wire
    assert decode(bytes_to_registers(wire), enc) == value
    if name == "DCBA":
        assert wire == struct.pack("<d", value)


def test_bcd_vectors() -> None:
    assert encode(1234, Encoding(DataType.BCD16)) == [0x1234]
    assert decode([0x1234], Encoding(DataType.BCD16)) == 1234
    assert encode(1234, Encoding(DataType.BCD16, LITTLE)) == [0x3412]
    assert encode(12345678, Encoding(DataType.BCD32)) == [0x1234, 0x5678]
    assert encode(12345678, Encoding(DataType.BCD32, word_order=W_LITTLE)) == [0x5678, 0x1234]
    assert decode([0x1234, 0x5678], Encoding(DataType.BCD32)) == 12345678
    assert decode([0x9999, 0x9999], Encoding(DataType.BCD32)) == 99_999_999
    assert decode([0x0000], Encoding(DataType.BCD16)) == 0


def test_string_vectors() -> None:
    assert encode("AB", Encoding(DataType.STRING, length=1)) == [0x4142]
    assert encode("AB", Encoding(DataType.STRING, LITTLE, length=1)) == [0x4241]
    assert decode([0x4142], Encoding(DataType.STRING, length=1)) == "AB"
    assert decode([0x4241], Encoding(DataType.STRING, LITTLE, length=1)) == "AB"
    assert encode("ABC", Encoding(DataType.STRING, length=3)) == [0x4142, 0x4300, 0x0000]
    assert decode([0x4142, 0x4300, 0x0000], Encoding(DataType.STRING, length=3)) == "ABC"


def test_string_ignores_word_order() -> None:
    enc = Encoding(DataType.STRING, word_order=W_LITTLE, length=2)
    assert encode("ABCD", enc) == [0x4142, 0x4344]


def test_string_decode_replaces_invalid_utf8_and_keeps_inner_nul() -> None:
    enc = Encoding(DataType.STRING, length=2)
    assert decode([0xFF41, 0x0000], enc) == "\ufffdA"
    assert decode([0x4100, 0x4200], enc) == "A\x00B"
    assert encode("A\x00B", enc) == [0x4100, 0x4200]


def test_utf8_string_round_trip() -> None:
    enc = Encoding(DataType.STRING, length=3)
    assert decode(encode("ÄÖü", enc), enc) == "ÄÖü"


def test_int16_and_uint16_vectors() -> None:
    assert encode(-1, Encoding(DataType.INT16)) == [0xFFFF]
    assert decode([0x8000], Encoding(DataType.INT16)) == -32768
    assert encode(0x1234, Encoding(DataType.UINT16, LITTLE)) == [0x3412]
    assert decode([0x3412], Encoding(DataType.UINT16, LITTLE)) == 0x1234
    # word order has nothing to reorder in one register
    assert encode(0x1234, Encoding(DataType.UINT16, word_order=W_LITTLE)) == [0x1234]


def test_bool_from_register() -> None:
    enc = Encoding(DataType.BOOL)
    assert decode([0], enc) is False
    assert decode([0x0100], enc) is True
    assert encode(True, enc) == [1]
    assert encode(False, enc) == [0]
    assert decode(encode(True, Encoding(DataType.BOOL, LITTLE)), Encoding(DataType.BOOL)) is True


@pytest.mark.parametrize("bit", range(16))
def test_bool_from_bit(bit: int) -> None:
    enc = Encoding(DataType.BOOL, bit=bit)
    assert decode([1 << bit], enc) is True
    assert decode([0xFFFF ^ (1 << bit)], enc) is False


def test_bit_with_little_byte_order_counts_in_the_swapped_value() -> None:
    """Bit n of a bool agrees with bit n of a uint16 tag in the same byte order."""
    enc = Encoding(DataType.BOOL, LITTLE, bit=0)
    assert decode([0x0100], enc) is True
    assert decode([0x0001], enc) is False
    assert set_bit(0, 0, True, byte_order=LITTLE) == 0x0100
    as_uint16 = decode([0x0100], Encoding(DataType.UINT16, LITTLE))
    assert isinstance(as_uint16, int)
    assert as_uint16 & 1 == 1


def test_bit_bool_is_not_encoded_alone() -> None:
    with pytest.raises(CodecError, match="read-modify-write"):
        encode(True, Encoding(DataType.BOOL, bit=3))


@given(st.integers(0, 0xFFFF), st.integers(0, 15), st.booleans(), st.sampled_from([BIG, LITTLE]))
def test_set_bit_changes_only_that_bit(
    register: int, bit: int, value: bool, byte_order: ByteOrder
) -> None:
    updated = set_bit(register, bit, value, byte_order=byte_order)
    enc = Encoding(DataType.BOOL, byte_order, bit=bit)
    assert decode([updated], enc) is value
    for other in set(range(16)) - {bit}:
        other_enc = Encoding(DataType.BOOL, byte_order, bit=other)
        assert decode([updated], other_enc) == decode([register], other_enc)


def test_set_bit_rejects_bad_input() -> None:
    with pytest.raises(CodecError):
        set_bit(0x10000, 0, True)
    with pytest.raises(CodecError):
        set_bit(0, 16, True)
    with pytest.raises(CodecError):
        set_bit(0, 0, 1)  # type: ignore[arg-type]


# ---------------------------------------------------------------- scaling


def test_scaled_integer_decodes_to_float() -> None:
    enc = Encoding(DataType.INT16, scale=0.1, offset=-40)
    value = decode([1234], enc)
    assert type(value) is float
    assert value == pytest.approx(83.4)
    assert encode(83.4, enc) == [1234]
    assert encode(83.44, enc) == [1234]  # nearest raw value
    assert encode(83.46, enc) == [1235]


def test_unscaled_integer_decodes_to_int_and_accepts_integral_float() -> None:
    enc = Encoding(DataType.UINT16)
    assert type(decode([7], enc)) is int
    assert encode(7.0, enc) == [7]


def test_scale_given_as_int_still_yields_float() -> None:
    enc = Encoding(DataType.UINT16, scale=2)
    assert enc.scale == 2.0
    assert type(decode([3], enc)) is float
    assert decode([3], enc) == 6.0


def test_scaled_float32() -> None:
    enc = Encoding(DataType.FLOAT32, scale=10.0, offset=1.0)
    assert decode(encode(21.0, enc), enc) == 21.0
    assert decode(encode(float("inf"), enc), enc) == float("inf")


def encode_raw(raw: int, data_type: DataType) -> list[int]:
    return encode(raw, Encoding(data_type))


def test_negative_scale_round_trips() -> None:
    enc = Encoding(DataType.INT32, scale=-0.5, offset=3.0)
    for raw in (-(2**31), -1, 0, 1, 2**31 - 1):
        assert encode(decode(encode_raw(raw, DataType.INT32), enc), enc) == encode_raw(
            raw, DataType.INT32
        )


# ---------------------------------------------------------------- round trips

INTEGER_TYPES = list(INT_RANGES)
STRUCT_CODES = {
    DataType.INT16: "h",
    DataType.UINT16: "H",
    DataType.INT32: "i",
    DataType.UINT32: "I",
    DataType.INT64: "q",
    DataType.UINT64: "Q",
}
ORDER_PAIRS = st.tuples(st.sampled_from([BIG, LITTLE]), st.sampled_from([W_BIG, W_LITTLE]))


@st.composite
def integer_cases(draw: st.DrawFn) -> tuple[int, Encoding]:
    data_type = draw(st.sampled_from(INTEGER_TYPES))
    byte_order, word_order = draw(ORDER_PAIRS)
    low, high = INT_RANGES[data_type]
    return draw(st.integers(low, high)), Encoding(data_type, byte_order, word_order)


@given(integer_cases())
def test_integer_round_trip(case: tuple[int, Encoding]) -> None:
    value, enc = case
    registers = encode(value, enc)
    assert len(registers) == enc.register_count
    assert all(0 <= r <= 0xFFFF for r in registers)
    decoded = decode(registers, enc)
    assert type(decoded) is int
    assert decoded == value
    if enc.data_type in STRUCT_CODES:
        big_endian = struct.pack(">" + STRUCT_CODES[enc.data_type], value)
        assert registers_to_bytes(registers) == _reorder(big_endian, enc.byte_order, enc.word_order)


@given(st.sampled_from(INTEGER_TYPES), ORDER_PAIRS, st.data())
def test_registers_round_trip_through_integer_types(
    data_type: DataType, orders: tuple[ByteOrder, WordOrder], data: st.DataObject
) -> None:
    enc = Encoding(data_type, *orders)
    registers = data.draw(
        st.lists(st.integers(0, 0xFFFF), min_size=enc.register_count, max_size=enc.register_count)
    )
    try:
        value = decode(registers, enc)
    except CodecError:
        assert data_type in (DataType.BCD16, DataType.BCD32)
        return
    assert encode(value, enc) == registers


@given(st.floats(width=32), ORDER_PAIRS)
def test_float32_round_trip(value: float, orders: tuple[ByteOrder, WordOrder]) -> None:
    enc = Encoding(DataType.FLOAT32, *orders)
    registers = encode(value, enc)
    assert registers_to_bytes(registers) == _reorder(struct.pack(">f", value), *orders)
    assert same(decode(registers, enc), value)


@given(st.floats(), ORDER_PAIRS)
def test_float64_round_trip(value: float, orders: tuple[ByteOrder, WordOrder]) -> None:
    enc = Encoding(DataType.FLOAT64, *orders)
    registers = encode(value, enc)
    assert registers_to_bytes(registers) == _reorder(struct.pack(">d", value), *orders)
    assert same(decode(registers, enc), value)


def _reorder(big_endian: bytes, byte_order: ByteOrder, word_order: WordOrder) -> bytes:
    """Independent model of the four layouts, for comparing against the codec."""
    words = [big_endian[i : i + 2] for i in range(0, len(big_endian), 2)]
    if word_order is W_LITTLE:
        words.reverse()
    if byte_order is LITTLE:
        words = [w[::-1] for w in words]
    return b"".join(words)


@given(st.sampled_from([DataType.FLOAT32, DataType.FLOAT64]), ORDER_PAIRS, st.data())
def test_registers_round_trip_through_float_types(
    data_type: DataType, orders: tuple[ByteOrder, WordOrder], data: st.DataObject
) -> None:
    enc = Encoding(data_type, *orders)
    registers = data.draw(
        st.lists(st.integers(0, 0xFFFF), min_size=enc.register_count, max_size=enc.register_count)
    )
    value = decode(registers, enc)
    assert isinstance(value, float)
    assume(not math.isnan(value))  # NaN payloads need not survive
    assert encode(value, enc) == registers


@given(
    st.integers(1, 12),
    st.sampled_from([BIG, LITTLE]),
    st.sampled_from([W_BIG, W_LITTLE]),
    st.data(),
)
def test_string_round_trip(
    length: int, byte_order: ByteOrder, word_order: WordOrder, data: st.DataObject
) -> None:
    enc = Encoding(DataType.STRING, byte_order, word_order, length=length)
    text = data.draw(st.text(st.characters(exclude_categories=["Cs"]), max_size=2 * length))
    assume(len(text.encode()) <= 2 * length and not text.endswith("\x00"))
    registers = encode(text, enc)
    assert len(registers) == length
    assert decode(registers, enc) == text


@st.composite
def scaled_integer_cases(draw: st.DrawFn) -> tuple[int, Encoding]:
    data_type = draw(st.sampled_from(INTEGER_TYPES))
    byte_order, word_order = draw(ORDER_PAIRS)
    scale = draw(st.sampled_from([0.1, 0.01, 2.5, -0.5, 1.0, 1e-3]))
    offset = draw(st.sampled_from([0.0, -40.0, 273.15, 1000.0]))
    low, high = INT_RANGES[data_type]
    # Keep raw values where a double still resolves one raw step.
    raw = draw(st.integers(max(low, -(2**40)), min(high, 2**40)))
    return raw, Encoding(data_type, byte_order, word_order, scale=scale, offset=offset)


@given(scaled_integer_cases())
def test_scaled_integer_round_trip(case: tuple[int, Encoding]) -> None:
    raw, enc = case
    registers = encode(raw, Encoding(enc.data_type, enc.byte_order, enc.word_order))
    value = decode(registers, enc)
    assert isinstance(value, float) or not enc.is_scaled
    assert value == pytest.approx(raw * enc.scale + enc.offset)
    assert encode(value, enc) == registers


@given(scaled_integer_cases(), st.floats(-0.49, 0.49))
def test_scaled_encode_rounds_to_nearest(case: tuple[int, Encoding], fraction: float) -> None:
    raw, enc = case
    assume(enc.is_scaled and abs(raw) < 2**30)
    value = (raw + fraction) * enc.scale + enc.offset
    registers = encode(value, enc)
    assert decode(registers, Encoding(enc.data_type, enc.byte_order, enc.word_order)) == raw


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("value", "enc"),
    [
        (40000, Encoding(DataType.INT16)),
        (-32769, Encoding(DataType.INT16)),
        (-1, Encoding(DataType.UINT16)),
        (65536, Encoding(DataType.UINT16)),
        (2**31, Encoding(DataType.INT32)),
        (2**32, Encoding(DataType.UINT32)),
        (2**63, Encoding(DataType.INT64)),
        (2**64, Encoding(DataType.UINT64)),
        (-1, Encoding(DataType.UINT64)),
        (10_000, Encoding(DataType.BCD16)),
        (-1, Encoding(DataType.BCD16)),
        (100_000_000, Encoding(DataType.BCD32)),
        (1e39, Encoding(DataType.FLOAT32)),
        (10**400, Encoding(DataType.FLOAT64)),
        (10**400, Encoding(DataType.INT16, scale=0.1)),
        (100.0, Encoding(DataType.INT16, scale=0.001)),
        (1e308, Encoding(DataType.FLOAT64, scale=0.1)),
        (1e300, Encoding(DataType.INT64, scale=1e-300)),
    ],
)
def test_out_of_range_raises(value: float, enc: Encoding) -> None:
    with pytest.raises(CodecError, match="out of range"):
        encode(value, enc)


@pytest.mark.parametrize(
    ("value", "enc", "message"),
    [
        ("1.5", Encoding(DataType.FLOAT32), "float32 needs a number, got str '1.5'"),
        (True, Encoding(DataType.INT16), "int16 needs a number, got bool True"),
        (None, Encoding(DataType.UINT32), "uint32 needs a number, got NoneType None"),
        (1.5, Encoding(DataType.INT16), "int16 needs a whole number, got 1.5"),
        (1, Encoding(DataType.BOOL), "bool needs a bool, got int 1"),
        (12, Encoding(DataType.STRING, length=2), "string needs a str, got int 12"),
        (b"AB", Encoding(DataType.STRING, length=2), "string needs a str, got bytes"),
    ],
)
def test_wrong_python_type_raises(value: object, enc: Encoding, message: str) -> None:
    with pytest.raises(CodecError) as info:
        encode(value, enc)  # type: ignore[arg-type]
    assert message in str(info.value)


def test_int_accepted_for_float_tags() -> None:
    assert decode(encode(3, Encoding(DataType.FLOAT32)), Encoding(DataType.FLOAT32)) == 3.0


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("data_type", [DataType.INT16, DataType.UINT64, DataType.BCD16])
def test_nan_and_inf_rejected_for_integer_types(value: float, data_type: DataType) -> None:
    with pytest.raises(CodecError, match="cannot hold"):
        encode(value, Encoding(data_type))
    with pytest.raises(CodecError, match="cannot hold"):
        encode(value, Encoding(data_type, scale=0.1))


@pytest.mark.parametrize("data_type", [DataType.FLOAT32, DataType.FLOAT64])
def test_nan_and_inf_pass_through_float_types(data_type: DataType) -> None:
    enc = Encoding(data_type)
    decoded_nan = decode(encode(float("nan"), enc), enc)
    assert isinstance(decoded_nan, float)
    assert math.isnan(decoded_nan)
    assert decode(encode(float("-inf"), enc), enc) == float("-inf")


def test_too_long_string_raises() -> None:
    enc = Encoding(DataType.STRING, length=2)
    assert encode("ABCD", enc) == [0x4142, 0x4344]
    with pytest.raises(CodecError, match="needs 5 bytes, more than the 4"):
        encode("ABCDE", enc)
    with pytest.raises(CodecError, match="needs 6 bytes"):
        encode("ÄÖü", enc)  # 3 characters, 6 bytes in UTF-8


def test_unencodable_strings_raise() -> None:
    enc = Encoding(DataType.STRING, length=2)
    with pytest.raises(CodecError, match="NUL"):
        encode("AB\x00", enc)
    with pytest.raises(CodecError, match="UTF-8"):
        encode("\ud800", enc)


@pytest.mark.parametrize(
    ("registers", "enc"),
    [
        ([0x12A4], Encoding(DataType.BCD16)),
        ([0xF000], Encoding(DataType.BCD16)),
        ([0x1234, 0x567A], Encoding(DataType.BCD32)),
        ([0x1234, 0x567A], Encoding(DataType.BCD32, word_order=W_LITTLE)),
    ],
)
def test_invalid_bcd_raises(registers: list[int], enc: Encoding) -> None:
    with pytest.raises(CodecError, match="invalid bcd"):
        decode(registers, enc)


@pytest.mark.parametrize(
    ("registers", "enc", "message"),
    [
        ([1], Encoding(DataType.FLOAT32), "float32 needs 2 register"),
        ([1, 2, 3], Encoding(DataType.INT32), "int32 needs 2 register"),
        ([], Encoding(DataType.INT16), "int16 needs 1 register"),
        ([1, 2], Encoding(DataType.STRING, length=3), "string needs 3 register"),
        ([0x10000], Encoding(DataType.UINT16), "0..65535, got 65536"),
        ([-1], Encoding(DataType.INT16), "0..65535, got -1"),
        ([1, 1.5], Encoding(DataType.FLOAT32), "0..65535, got 1.5"),
    ],
)
def test_bad_registers_raise(registers: list[int], enc: Encoding, message: str) -> None:
    with pytest.raises(CodecError) as info:
        decode(registers, enc)
    assert message in str(info.value)


def test_codec_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="out of range"):
        encode(70000, Encoding(DataType.UINT16))


# ---------------------------------------------------------------- Encoding


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data_type": DataType.STRING}, "string needs a length"),
        ({"data_type": DataType.STRING, "length": 0}, "string needs a length"),
        ({"data_type": DataType.INT16, "length": 1}, "length applies to strings only"),
        ({"data_type": DataType.INT16, "bit": 3}, "bit applies to bool only"),
        ({"data_type": DataType.BOOL, "bit": 16}, "bit must be 0..15"),
        ({"data_type": DataType.BOOL, "bit": -1}, "bit must be 0..15"),
        ({"data_type": DataType.FLOAT32, "scale": 0}, "non-zero"),
        ({"data_type": DataType.FLOAT32, "scale": math.nan}, "finite"),
        ({"data_type": DataType.FLOAT32, "offset": math.inf}, "finite"),
        ({"data_type": DataType.BOOL, "scale": 2}, "numeric types only"),
        ({"data_type": DataType.STRING, "length": 2, "offset": 1}, "numeric types only"),
        ({"data_type": "float33"}, "float33"),
    ],
)
def test_invalid_encodings_are_rejected(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Encoding(**kwargs)  # type: ignore[arg-type]


def test_encoding_properties() -> None:
    assert Encoding(DataType.FLOAT64).register_count == 4
    assert Encoding(DataType.STRING, length=7).register_count == 7
    assert Encoding(DataType.BOOL, bit=2).register_count == 1
    assert not Encoding(DataType.INT16).is_scaled
    assert Encoding(DataType.INT16, scale=0.5).is_scaled
    assert Encoding(DataType.INT16, offset=-1).is_scaled


def test_encoding_coerces_config_strings_to_enums() -> None:
    enc = Encoding("float32", "little", "little")  # type: ignore[arg-type]
    assert enc == Encoding(DataType.FLOAT32, LITTLE, W_LITTLE)
    assert enc.data_type is DataType.FLOAT32
    assert enc.byte_order is LITTLE


def test_encoding_is_hashable_and_frozen() -> None:
    enc = Encoding(DataType.INT16)
    assert {enc: 1}[Encoding(DataType.INT16)] == 1
    with pytest.raises(AttributeError):
        enc.scale = 2.0  # type: ignore[misc]


# ---------------------------------------------------------------- wire helpers


@given(st.lists(st.integers(0, 0xFFFF), max_size=130))
def test_registers_bytes_round_trip(registers: list[int]) -> None:
    data = registers_to_bytes(registers)
    assert data == b"".join(r.to_bytes(2, "big") for r in registers)
    assert bytes_to_registers(data) == registers


def test_odd_byte_count_raises() -> None:
    with pytest.raises(CodecError, match="even number of bytes"):
        bytes_to_registers(b"\x00\x01\x02")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (struct.unpack(">f", struct.pack(">f", 123.456))[0], "123.456"),
        (21.5, "21.5"),
        (50.0, "50.0"),
        (struct.unpack(">f", struct.pack(">f", 0.1))[0], "0.1"),
        (struct.unpack(">f", struct.pack(">f", -1.17549435e-38))[0], "-1.1754944e-38"),
        (struct.unpack(">f", struct.pack(">f", 3.14159274))[0], "3.1415927"),
        (struct.unpack(">f", struct.pack(">f", 1e-45))[0], "1e-45"),
        (math.inf, "inf"),
        (1e300, "1e+300"),  # not a float32 at all: plain repr
    ],
)
def test_float32_text_is_the_shortest_text_that_reads_back(value: float, text: str) -> None:
    assert float32_text(value) == text
    if math.isfinite(value) and abs(value) < 3.4e38:
        assert struct.pack(">f", float(text)) == struct.pack(">f", value)


@example(3.4025001647762064e38)  # its 4-digit text, 3.403e38, is past float32's range
@given(st.floats(width=32, allow_nan=False, allow_infinity=False))
def test_float32_text_round_trips_every_float32(value: float) -> None:
    assert struct.pack(">f", float(float32_text(value))) == struct.pack(">f", value)

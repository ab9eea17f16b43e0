"""Register codec: Modbus registers ⇄ tag values, for every data type and order.

Pure functions, no I/O. A value's registers are first rearranged into a
*canonical* byte stream (the value's bytes most significant first, as `struct`
reads with ``>``), so one table of struct codes serves every byte/word order:

    byte_order  word_order   float32 on the wire (A = most significant byte)
    big         big          AB CD   (Modbus standard)
    big         little       CD AB
    little      big          BA DC
    little      little       DC BA

The same building blocks (`layout_of`) drive `gateway.modbus.blockcodec`, so decoding a
whole read block agrees exactly with decoding its tags one by one here.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from gateway.errors import CodecError
from gateway.model import ByteOrder, DataType, Value, WordOrder

__all__ = [
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

#: Struct code of each type's raw (unscaled) value in the canonical byte stream.
_STRUCT_CODE = {
    DataType.BOOL: "H",
    DataType.INT16: "h",
    DataType.UINT16: "H",
    DataType.BCD16: "H",
    DataType.INT32: "i",
    DataType.UINT32: "I",
    DataType.BCD32: "I",
    DataType.FLOAT32: "f",
    DataType.INT64: "q",
    DataType.UINT64: "Q",
    DataType.FLOAT64: "d",
}

#: Raw value range of the integer types (BCD: the decimal digits that fit).
_RAW_RANGE = {
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.UINT32: (0, 2**32 - 1),
    DataType.INT64: (-(2**63), 2**63 - 1),
    DataType.UINT64: (0, 2**64 - 1),
    DataType.BCD16: (0, 9_999),
    DataType.BCD32: (0, 99_999_999),
}

_BCD_TYPES = frozenset({DataType.BCD16, DataType.BCD32})
_FLOAT_TYPES = frozenset({DataType.FLOAT32, DataType.FLOAT64})
_REGISTER_BITS = 16
_MAX_REGISTER = 0xFFFF


@dataclass(frozen=True, slots=True)
class Encoding:
    """How one tag's value sits in registers: type, orders, length, bit, scaling.

    Invalid combinations (a string without length, a bit on a non-bool, a zero
    scale…) raise ValueError at construction, so the codec never meets them.
    """

    data_type: DataType
    byte_order: ByteOrder = ByteOrder.BIG
    word_order: WordOrder = WordOrder.BIG
    length: int | None = None  # registers; strings only
    bit: int | None = None  # 0..15: bool taken from one bit of a register
    scale: float = 1.0
    offset: float = 0.0

    def __post_init__(self) -> None:
        # Coerce so that plain strings and ints from config behave like the enums/floats.
        object.__setattr__(self, "data_type", DataType(self.data_type))
        object.__setattr__(self, "byte_order", ByteOrder(self.byte_order))
        object.__setattr__(self, "word_order", WordOrder(self.word_order))
        object.__setattr__(self, "scale", float(self.scale))
        object.__setattr__(self, "offset", float(self.offset))
        self._check_length()
        self._check_bit()
        self._check_scaling()

    def _check_length(self) -> None:
        if self.data_type is DataType.STRING:
            if not isinstance(self.length, int) or self.length < 1:
                raise ValueError(
                    f"a string needs a length of at least 1 register, got {self.length!r}"
                )
        elif self.length is not None:
            raise ValueError(f"length applies to strings only, not {self.data_type}")

    def _check_bit(self) -> None:
        if self.bit is None:
            return
        if self.data_type is not DataType.BOOL:
            raise ValueError(f"bit applies to bool only, not {self.data_type}")
        if not isinstance(self.bit, int) or not 0 <= self.bit < _REGISTER_BITS:
            raise ValueError(f"bit must be 0..15, got {self.bit!r}")

    def _check_scaling(self) -> None:
        if not (math.isfinite(self.scale) and math.isfinite(self.offset)) or self.scale == 0:
            raise ValueError(
                f"scale must be finite and non-zero and offset finite, "
                f"got scale={self.scale!r} offset={self.offset!r}"
            )
        if self.is_scaled and not self.data_type.is_numeric:
            raise ValueError(f"scale/offset apply to numeric types only, not {self.data_type}")

    @property
    def register_count(self) -> int:
        """Registers one value occupies."""
        return self.data_type.register_count(self.length)

    @property
    def is_scaled(self) -> bool:
        """True when raw values are converted linearly (scaled values are floats)."""
        return self.scale != 1.0 or self.offset != 0.0


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True, slots=True)
class Layout:
    """What decoding one Encoding takes, computed once and shared with blockcodec.

    `perm[j]` is the index, within the value's own wire bytes, of canonical
    byte j (None when wire and canonical order agree); `convert` turns the
    struct-unpacked raw value into the tag value (None when raw is the value)
    and may raise CodecError (invalid BCD).
    """

    code: str
    struct: struct.Struct
    perm: tuple[int, ...] | None
    convert: Callable[[Any], Value] | None


@lru_cache(maxsize=4096)
def layout_of(enc: Encoding) -> Layout:
    """Compile an Encoding into its struct code, byte permutation and converter."""
    n = enc.register_count
    code = f"{2 * n}s" if enc.data_type is DataType.STRING else _STRUCT_CODE[enc.data_type]
    perm = _canonical_perm(enc, n)
    return Layout(
        code=code,
        struct=struct.Struct(">" + code),
        perm=None if perm == tuple(range(2 * n)) else perm,
        convert=_converter(enc),
    )


def _canonical_perm(enc: Encoding, n: int) -> tuple[int, ...]:
    """Wire byte index of each canonical byte of an n-register value."""
    swap_words = enc.word_order is WordOrder.LITTLE and enc.data_type is not DataType.STRING
    swap_bytes = enc.byte_order is ByteOrder.LITTLE
    perm = []
    for j in range(2 * n):
        register, byte = divmod(j, 2)
        if swap_words:
            register = n - 1 - register
        if swap_bytes:
            byte = 1 - byte
        perm.append(2 * register + byte)
    return tuple(perm)


def _converter(enc: Encoding) -> Callable[[Any], Value] | None:
    """The raw → value step of a type, or None when the raw value is already it."""
    dt = enc.data_type
    if dt is DataType.BOOL:
        return _nonzero if enc.bit is None else _bit_test(1 << enc.bit)
    if dt is DataType.STRING:
        return _decode_string
    base = _bcd_decoder(dt) if dt in _BCD_TYPES else None
    if not enc.is_scaled:
        return base
    return _scaler(enc.scale, enc.offset, base)


def _nonzero(raw: int) -> bool:
    return raw != 0


def _bit_test(mask: int) -> Callable[[int], bool]:
    def bit_test(raw: int) -> bool:
        return raw & mask != 0

    return bit_test


def _decode_string(raw: bytes) -> str:
    """NUL is padding; undecodable bytes become U+FFFD rather than failing the scan."""
    return raw.rstrip(b"\x00").decode("utf-8", "replace")


def _bcd_decoder(dt: DataType) -> Callable[[int], int]:
    width = 4 if dt is DataType.BCD16 else 8

    def decode_bcd(raw: int) -> int:
        digits = f"{raw:x}"  # one hex digit per nibble
        if not digits.isdecimal():
            raise CodecError(f"invalid {dt} value {raw:#0{width + 2}x}: a nibble is above 9")
        return int(digits)

    return decode_bcd


def _scaler(
    scale: float, offset: float, base: Callable[[int], int] | None
) -> Callable[[Any], float]:
    if base is None:

        def scaled(raw: float) -> float:
            return raw * scale + offset

        return scaled

    def scaled_after(raw: int) -> float:
        return base(raw) * scale + offset

    return scaled_after


# --------------------------------------------------------------------------- public API


def registers_to_bytes(registers: Sequence[int]) -> bytes:
    """Registers as they travel on the wire: each one big-endian, in address order."""
    try:
        return struct.pack(f">{len(registers)}H", *registers)
    except struct.error:
        bad = next((r for r in registers if not _is_register(r)), registers)
        raise CodecError(f"a register must be an integer 0..65535, got {bad!r}") from None


def bytes_to_registers(data: bytes) -> list[int]:
    """Inverse of `registers_to_bytes`; the byte count must be even."""
    if len(data) % 2:
        raise CodecError(f"register data must have an even number of bytes, got {len(data)}")
    return list(struct.unpack(f">{len(data) // 2}H", data))


def decode(registers: Sequence[int], enc: Encoding) -> Value:
    """Decode one tag value from exactly `enc.register_count` registers."""
    _check_count(registers, enc)
    layout = layout_of(enc)
    wire = registers_to_bytes(registers)
    canonical = wire if layout.perm is None else bytes(wire[i] for i in layout.perm)
    (raw,) = layout.struct.unpack(canonical)
    return raw if layout.convert is None else layout.convert(raw)


def encode(value: Value, enc: Encoding) -> list[int]:
    """Encode a tag value into its registers: the exact inverse of `decode`.

    A bool held in one bit of a register cannot be encoded alone (the other 15
    bits belong to someone else): write it by read-modify-write with `set_bit`.
    """
    layout = layout_of(enc)
    try:
        canonical = layout.struct.pack(_to_raw(value, enc))
    except (struct.error, OverflowError):
        raise CodecError(f"{value!r} is out of range for {enc.data_type}") from None
    if layout.perm is None:
        return bytes_to_registers(canonical)
    wire = bytearray(len(canonical))
    for j, i in enumerate(layout.perm):
        wire[i] = canonical[j]
    return bytes_to_registers(bytes(wire))


def set_bit(register: int, bit: int, value: bool, *, byte_order: ByteOrder = ByteOrder.BIG) -> int:
    """Return `register` with one bit set or cleared, for writing a bit tag.

    `bit` counts in the register's value as `decode` sees it, so with
    byte_order little bit 0 is the least significant bit of the *second* byte.
    """
    if not _is_register(register):
        raise CodecError(f"a register must be an integer 0..65535, got {register!r}")
    if isinstance(bit, bool) or not isinstance(bit, int) or not 0 <= bit < _REGISTER_BITS:
        raise CodecError(f"bit must be 0..15, got {bit!r}")
    if not isinstance(value, bool):
        raise CodecError(f"a bit takes a bool, got {type(value).__name__} {value!r}")
    mask = 1 << (bit ^ 8 if byte_order is ByteOrder.LITTLE else bit)
    return register | mask if value else register & ~mask


# --------------------------------------------------------------------------- encode helpers


def _is_register(r: object) -> bool:
    return isinstance(r, int) and not isinstance(r, bool) and 0 <= r <= _MAX_REGISTER


def _check_count(registers: Sequence[int], enc: Encoding) -> None:
    if len(registers) != enc.register_count:
        raise CodecError(
            f"{enc.data_type} needs {enc.register_count} register(s), got {len(registers)}"
        )


def _to_raw(value: Value, enc: Encoding) -> bytes | int | float:
    """Check a value's Python type and turn it into the raw value struct packs."""
    dt = enc.data_type
    if dt is DataType.BOOL:
        return _bool_raw(value, enc)
    if dt is DataType.STRING:
        return _string_raw(value, enc)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CodecError(f"{dt} needs a number, got {type(value).__name__} {value!r}")
    if dt in _FLOAT_TYPES:
        return _float_raw(value, enc)
    return _integer_raw(value, enc)


def _bool_raw(value: Value, enc: Encoding) -> int:
    if enc.bit is not None:
        raise CodecError(
            f"bit {enc.bit} of a register is written by read-modify-write (set_bit), "
            "not encoded on its own"
        )
    if not isinstance(value, bool):
        raise CodecError(f"bool needs a bool, got {type(value).__name__} {value!r}")
    return int(value)


def _string_raw(value: Value, enc: Encoding) -> bytes:
    if not isinstance(value, str):
        raise CodecError(f"string needs a str, got {type(value).__name__} {value!r}")
    if value.endswith("\x00"):
        raise CodecError(f"a string cannot end with NUL, the padding character: {value!r}")
    try:
        data = value.encode("utf-8")
    except UnicodeEncodeError:
        raise CodecError(f"string {value!r} cannot be encoded as UTF-8") from None
    capacity = 2 * enc.register_count
    if len(data) > capacity:
        raise CodecError(
            f"string {value!r} needs {len(data)} bytes, more than the {capacity} of "
            f"its {enc.register_count} register(s)"
        )
    return data  # struct's "Ns" pads with NUL


def _float_raw(value: int | float, enc: Encoding) -> float:
    try:
        raw = (value - enc.offset) / enc.scale if enc.is_scaled else float(value)
    except OverflowError:
        raise CodecError(f"{value!r} is out of range for {enc.data_type}") from None
    if math.isfinite(value) and not math.isfinite(raw):
        raise CodecError(f"{value!r} is out of range for {enc.data_type} after scaling")
    return raw


def _integer_raw(value: int | float, enc: Encoding) -> int:
    dt = enc.data_type
    if isinstance(value, float) and not math.isfinite(value):
        raise CodecError(f"{dt} cannot hold {value!r}")
    if enc.is_scaled:
        try:
            raw = round((value - enc.offset) / enc.scale)  # nearest, ties to even
        except OverflowError:
            raise CodecError(f"{value!r} is out of range for {dt} after scaling") from None
    elif isinstance(value, float):
        if not value.is_integer():
            raise CodecError(f"{dt} needs a whole number, got {value!r}")
        raw = int(value)
    else:
        raw = value
    low, high = _RAW_RANGE[dt]
    if not low <= raw <= high:
        scaled = f" (raw {raw})" if enc.is_scaled else ""
        raise CodecError(f"{value!r}{scaled} is out of range for {dt}: {low}..{high}")
    return int(f"{raw}", 16) if dt in _BCD_TYPES else raw


def float32_text(value: float) -> str:
    """The shortest decimal text that reads back as the same float32.

    A float32 register pair holding 123.456 decodes to the double
    123.45600128173828; people expect to see 123.456. Only for values that
    came from a float32: for a float64 the full repr is the honest text.
    """
    if not math.isfinite(value):
        return repr(value)
    try:
        packed = struct.pack(">f", value)
    except OverflowError:
        return repr(value)
    for digits in range(1, 10):
        candidate = float(f"{value:.{digits}g}")
        try:
            if struct.pack(">f", candidate) == packed:
                return repr(candidate)
        except OverflowError:  # rounding near ±3.4028e38 can step past float32's range
            continue
    return repr(value)

"""Decoders compiled once per read block, so decoding a scan has no per-tag branching.

A register block is decoded by one precompiled `struct.Struct` call. At
construction the block picks the cheapest of three strategies:

- direct: the struct reads the wire payload in place (``>`` for ABCD values,
  ``<`` for DCBA), pad bytes skipping unused registers;
- swapped: the same after swapping the two bytes of every register (one C-speed
  slice copy), which turns BADC into ABCD and CDAB into DCBA;
- gathered: the general case (mixed orders, overlapping values): one
  `itemgetter` copies each value's bytes into a big-endian canonical stream.

Tags that read the same raw value (the bits of one status word) share one
struct slot, and only the tags that need it get a post-step (bit test, scaling,
string, BCD). Every step comes from `gateway.codec`'s per-encoding layout, so
the result agrees exactly with `codec.decode` tag by tag.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from typing import Any, Literal

from gateway.codec import Encoding, Layout, layout_of
from gateway.errors import CodecError
from gateway.model import LAST_ADDRESS, DataType, Value

__all__ = ["BitBlockDecoder", "RegisterBlockDecoder"]

_BCD_TYPES = frozenset({DataType.BCD16, DataType.BCD32})

Converter = Callable[[Any], Value | None]
Strategy = Literal["direct", "swapped", "gathered"]
#: (byte-swap every register first?, struct byte order), cheapest first.
_MODES = ((False, ">"), (False, "<"), (True, ">"), (True, "<"))
Slot = tuple[int, Layout]  # byte offset in the payload, layout of the raw value
#: "0"/"1" characters to the 0/1 bytes struct's "?" reads as False/True.
_ASCII_TO_BIT = bytes.maketrans(b"01", b"\x00\x01")


def _check_block(start: int, count: int) -> None:
    if start < 0 or count < 1 or start + count - 1 > LAST_ADDRESS:
        raise ValueError(f"invalid block start={start} count={count}")


def _gatherer(positions: Sequence[int], size: int) -> Callable[[tuple[Any, ...]], list[Any]]:
    """A function picking `positions` out of an unpacked tuple as a fresh list."""
    if list(positions) == list(range(size)):
        return list
    if len(positions) == 1:
        (only,) = positions
        return lambda values: [values[only]]
    getter = itemgetter(*positions)
    return lambda values: list(getter(values))


def _none_on_error(convert: Callable[[Any], Value]) -> Converter:
    """A scan decodes every tag; one undecodable raw value (bad BCD) becomes None."""

    def tolerant(raw: Any) -> Value | None:
        try:
            return convert(raw)
        except CodecError:
            return None

    return tolerant


class RegisterBlockDecoder:
    """Decodes the tags of one FC03/FC04 read block from its raw payload.

    `fields` lists (address, encoding) per tag in any order, overlaps allowed;
    `decode` returns the values in that order. `strategy` tells which of the
    module's strategies was compiled (for diagnostics and benchmarks).
    """

    __slots__ = (
        "_arrange",
        "_converters",
        "_gather",
        "_size",
        "_struct",
        "count",
        "start",
        "strategy",
    )

    def __init__(self, start: int, count: int, fields: Sequence[tuple[int, Encoding]]) -> None:
        _check_block(start, count)
        self.start = start
        self.count = count
        self._size = 2 * count
        slots, field_slot = _slots(start, count, fields)
        order = sorted(range(len(slots)), key=lambda s: slots[s][0])
        mode = _in_place_mode([slots[s] for s in order])
        self._arrange: Callable[[bytes], bytes] | None
        swapped_strings: set[int] = set()
        if mode is None:
            self.strategy: Strategy = "gathered"
            fmt, self._arrange = _gathered_format(slots, order)
        else:
            swapped, endian = mode
            self.strategy = "swapped" if swapped else "direct"
            items = ((slots[s][0], slots[s][1].code, slots[s][1].struct.size) for s in order)
            fmt = endian + _padded_codes(items, self._size)
            self._arrange = _swap_register_bytes if swapped else None
            # In its mode no number is misread (_in_place_mode): only strings are asked.
            swapped_strings = {
                s for s, (_, lay) in enumerate(slots) if _is_string(lay) and _misread(lay, *mode)
            }
        position = {slot: pos for pos, slot in enumerate(order)}
        self._struct = struct.Struct(fmt)
        self._gather = _gatherer([position[s] for s in field_slot], len(slots))
        unswap = [slot in swapped_strings for slot in field_slot]
        self._converters = _compile_converters(fields, unswap)

    def decode(self, payload: bytes) -> list[Value | None]:
        """Values of the fields, in their order; None where a raw value is invalid."""
        if len(payload) != self._size:
            raise CodecError(f"block payload must be {self._size} bytes, got {len(payload)}")
        if self._arrange is not None:
            payload = self._arrange(payload)
        values: list[Value | None] = self._gather(self._struct.unpack(payload))
        for i, convert in self._converters:
            values[i] = convert(values[i])
        return values


def _slots(
    start: int, count: int, fields: Sequence[tuple[int, Encoding]]
) -> tuple[list[Slot], list[int]]:
    """Distinct raw values to unpack, and each field's slot (status-word bits share one)."""
    slots: list[Slot] = []
    index: dict[tuple[int, str, tuple[int, ...] | None], int] = {}
    field_slot = []
    for address, enc in fields:
        if address < start or address + enc.register_count > start + count:
            raise ValueError(
                f"{enc.data_type} at address {address} ({enc.register_count} registers) "
                f"lies outside the block {start}..{start + count - 1}"
            )
        layout = layout_of(enc)
        key = (2 * (address - start), layout.code, layout.perm)
        if key not in index:
            index[key] = len(slots)
            slots.append((key[0], layout))
        field_slot.append(index[key])
    return slots, field_slot


def _in_place_mode(sorted_slots: list[Slot]) -> tuple[bool, str] | None:
    """A mode in which one struct reads every slot where it lies, or None.

    That needs slots that do not overlap and orders a struct can undo: for
    float32, ABCD and DCBA read the payload as is (``>`` / ``<``), BADC and
    CDAB read it after swapping the two bytes of every register. Strings fit
    any mode: their bytes are swapped back after unpacking where needed.
    """
    end = 0
    for offset, layout in sorted_slots:
        if offset < end:
            return None
        end = offset + layout.struct.size
    # Layouts are shared objects (one per encoding): each distinct one is checked once.
    numbers = list({id(lay): lay for _, lay in sorted_slots if not _is_string(lay)}.values())
    for swapped, endian in _MODES:
        if not any(_misread(layout, swapped, endian) for layout in numbers):
            return swapped, endian
    return None


def _is_string(layout: Layout) -> bool:
    return layout.code.endswith("s")


def _misread(layout: Layout, swapped: bool, endian: str) -> bool:
    """Whether a struct in this mode fails to yield the value's canonical bytes."""
    size = layout.struct.size
    reverses = endian == "<" and not _is_string(layout)  # "Ns" ignores byte order
    effective = []
    for j in range(size):
        k = size - 1 - j if reverses else j
        effective.append(k ^ 1 if swapped else k)
    return tuple(effective) != (layout.perm or tuple(range(size)))


def _padded_codes(items: Iterable[tuple[int, str, int]], size: int) -> str:
    """Struct codes of (byte offset, code, byte size) in ascending order, pads between."""
    parts, end = [], 0
    for offset, code, width in items:
        if offset > end:
            parts.append(f"{offset - end}x")
        parts.append(code)
        end = offset + width
    if size > end:
        parts.append(f"{size - end}x")
    return "".join(parts)


def _swap_register_bytes(payload: bytes) -> bytes:
    """Swap the two bytes of every register (slice copies run in C)."""
    swapped = bytearray(payload)
    swapped[0::2] = payload[1::2]
    swapped[1::2] = payload[0::2]
    return bytes(swapped)


def _gathered_format(slots: list[Slot], order: list[int]) -> tuple[str, Callable[[bytes], bytes]]:
    """Struct format over a canonical stream, and the function gathering that stream.

    The general case: mixed orders or overlapping values, each value's bytes
    copied into big-endian order (overlaps simply copy a byte twice).
    """
    codes: list[str] = []
    perm: list[int] = []
    for s in order:
        offset, layout = slots[s]
        codes.append(layout.code)
        own = layout.perm if layout.perm is not None else range(layout.struct.size)
        perm.extend(offset + i for i in own)
    if len(perm) == 1:
        (only,) = perm
        return ">" + "".join(codes), lambda payload: payload[only : only + 1]
    getter = itemgetter(*perm)
    return ">" + "".join(codes), lambda payload: bytes(getter(payload))


def _compile_converters(
    fields: Sequence[tuple[int, Encoding]], unswap: list[bool]
) -> tuple[tuple[int, Converter], ...]:
    """(field index, raw → value) for the fields whose raw value is not the value.

    `unswap` marks the strings an in-place mode unpacked with swapped byte pairs.
    """
    converters: list[tuple[int, Converter]] = []
    for i, (_, enc) in enumerate(fields):
        convert = layout_of(enc).convert
        if convert is None:
            continue
        if unswap[i]:
            convert = _after_swap(convert)
        tolerant = enc.data_type in _BCD_TYPES
        converters.append((i, _none_on_error(convert) if tolerant else convert))
    return tuple(converters)


def _after_swap(convert: Callable[[Any], Value]) -> Callable[[bytes], Value]:
    def swap_then_convert(raw: bytes) -> Value:
        return convert(_swap_register_bytes(raw))

    return swap_then_convert


class BitBlockDecoder:
    """Decodes the tags of one FC01/FC02 read block from its packed-bit payload.

    The payload becomes one ASCII string of its bits (C-speed int formatting),
    mapped to 0/1 bytes that a struct of ``?`` codes reads as bools, skipping
    the unused bits with pad bytes.
    """

    __slots__ = ("_bit_format", "_gather", "_size", "_struct", "count", "start")

    def __init__(self, start: int, count: int, addresses: Sequence[int]) -> None:
        _check_block(start, count)
        for address in addresses:
            if not start <= address < start + count:
                raise ValueError(
                    f"bit address {address} lies outside the block {start}..{start + count - 1}"
                )
        self.start = start
        self.count = count
        self._size = (count + 7) // 8
        self._bit_format = f"0{8 * self._size}b"
        offsets = sorted({a - start for a in addresses})
        self._struct = struct.Struct(
            "<" + _padded_codes(((o, "?", 1) for o in offsets), 8 * self._size)
        )
        position = {offset: pos for pos, offset in enumerate(offsets)}
        self._gather = _gatherer([position[a - start] for a in addresses], len(offsets))

    def decode(self, payload: bytes) -> list[bool]:
        """Values of the addresses, in their order; bit 0 of byte 0 is `start`."""
        if len(payload) != self._size:
            raise CodecError(f"bit payload must be {self._size} bytes, got {len(payload)}")
        text = format(int.from_bytes(payload, "little"), self._bit_format)
        bits = text[::-1].encode("ascii").translate(_ASCII_TO_BIT)  # bit i at index i
        return self._gather(self._struct.unpack(bits))

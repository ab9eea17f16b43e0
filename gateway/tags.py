"""Runtime tags: a configured tag resolved against its device, ready for I/O.

Config models describe what the user wrote; a `Tag` is what the pollers,
writers and servers work with: its key (`device.tag`), its effective scan
class and its codec `Encoding`, computed once at start-up. The vocabulary of
every consumer (OPC UA, storage, alarms), so it imports nothing of modbus/;
a device's read plan is `gateway.modbus.deviceplan`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from gateway.codec import Encoding
from gateway.config import DeviceConfig, TagConfig
from gateway.model import ByteOrder, DataType, Table, WordOrder

__all__ = ["Tag", "build_tags"]


@dataclass(frozen=True, slots=True)
class Tag:
    """One tag of one device with every device default applied."""

    device: str
    name: str
    table: Table
    address: int
    encoding: Encoding
    scan_interval: float
    unit: str | None = None
    range: tuple[float, float] | None = None
    deadband: float = 0.0
    writable: bool = False
    description: str | None = None
    #: The tag's identity everywhere: `<device>.<tag>` (also its OPC UA NodeId). Made
    #: once and interned, so every consumer's map holds this one string (the
    #: historian, which builds keys from its rows, interns them too).
    key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", sys.intern(f"{self.device}.{self.name}"))

    @property
    def data_type(self) -> DataType:
        return self.encoding.data_type

    @property
    def size(self) -> int:
        """Addresses the tag occupies in its table (1 on bit tables)."""
        return 1 if self.table.is_bit else self.encoding.register_count


def _build_tag(device: DeviceConfig, tag: TagConfig, addresses: dict[int, int]) -> Tag:
    # device.resolve(tag), inlined: one ResolvedTag less per tag (docs/performance.md).
    numeric = tag.type.is_numeric
    return Tag(
        device=device.name,
        name=tag.name,
        table=tag.table,
        address=addresses.setdefault(tag.address, tag.address),
        encoding=_encoding(
            tag.type,
            byte_order=tag.byte_order or device.byte_order,
            word_order=tag.word_order or device.word_order,
            length=tag.length,
            bit=tag.bit,
            scale=tag.scale if numeric else 1.0,
            offset=tag.offset if numeric else 0.0,
        ),
        scan_interval=tag.scan_interval or device.scan_interval,
        unit=tag.unit,
        range=tag.range,
        deadband=tag.deadband,
        writable=tag.writable,
        description=tag.description,
    )


#: Equal encodings are one object: a plant has a handful of distinct ones. Looked up by
#: their fields before one is made, so each tag does not pay for validating it again.
_ENCODINGS: dict[tuple[object, ...], Encoding] = {}


def _encoding(
    data_type: DataType,
    *,
    byte_order: ByteOrder,
    word_order: WordOrder,
    length: int | None,
    bit: int | None,
    scale: float,
    offset: float,
) -> Encoding:
    key = (data_type, byte_order, word_order, length, bit, scale, offset)
    known = _ENCODINGS.get(key)
    if known is None:
        known = _ENCODINGS[key] = Encoding(
            data_type, byte_order, word_order, length, bit, scale, offset
        )
    return known


def build_tags(device: DeviceConfig, addresses: dict[int, int] | None = None) -> tuple[Tag, ...]:
    """The device's tags in configuration order.

    `addresses`: equal addresses become one int object, for the devices built with
    the same dict (each address above 256 is its own 32-byte object as read from the
    file; devices of one model repeat them: 3 MB at 100k tags, issue 21).
    """
    shared = {} if addresses is None else addresses
    return tuple(_build_tag(device, tag, shared) for tag in device.tags)

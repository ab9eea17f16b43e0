"""Per-block tag state: raw bytes and results in, changed `TagValue`s out.

Pure (no I/O, time passed in), so the status rules (docs/opcua.md, "Values and
status codes") and the change-driven output are unit-tested without a network:

- a payload byte-identical to the last one does no work at all;
- a decoded value is published only when it differs from the last published
  one by at least the tag's absolute deadband (or its status changed);
- a block error spoils only that block's tags; a lost connection turns Good
  values into Uncertain_NoCommunicationLastUsableValue with the last published
  good value and its timestamp, or Bad_NoCommunication when never read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from gateway.modbus.blockcodec import BitBlockDecoder, RegisterBlockDecoder
from gateway.modbus.planner import ReadBlock
from gateway.model import Status, TagValue, Value
from gateway.tags import Tag

__all__ = ["BlockState", "TagState", "status_for_exception"]

_CONFIGURATION_CODES = frozenset({0x01, 0x02, 0x03})


def status_for_exception(code: int) -> Status:
    """Modbus exception code → tag status (docs/opcua.md, "Values and status codes")."""
    if code in _CONFIGURATION_CODES:
        return Status.BAD_CONFIGURATION_ERROR
    return Status.BAD_DEVICE_FAILURE


class TagState:
    """What was last published for one tag, and its last good reading."""

    __slots__ = ("deadband", "status", "tag", "time", "value")

    def __init__(self, tag: Tag) -> None:
        self.tag = tag
        self.deadband = tag.deadband if tag.data_type.is_numeric else 0.0
        self.value: Value | None = None
        self.status = Status.BAD_WAITING_FOR_INITIAL_DATA
        self.time: float | None = None

    def snapshot(self, server_time: float) -> TagValue:
        return TagValue(self.tag.key, self.value, self.status, self.time, server_time)

    def _set(self, value: Value | None, status: Status, when: float | None, now: float) -> TagValue:
        self.value, self.status, self.time = value, status, when
        return TagValue(self.tag.key, value, status, when, now)


def _differs(old: Value | None, new: Value, deadband: float) -> bool:
    if new == old:
        return False
    if isinstance(new, float) and isinstance(old, float):
        if math.isnan(new) and math.isnan(old):
            return False
        if deadband:
            return not abs(new - old) < deadband  # NaN/inf compare as a change
    elif deadband and isinstance(new, int | float) and isinstance(old, int | float):
        return abs(new - old) >= deadband
    return True


class BlockState:
    """The tags of one read block with their published and last good values."""

    __slots__ = ("block", "decode", "last_payload", "states")

    def __init__(self, block: ReadBlock[Tag]) -> None:
        self.block = block
        self.states = tuple(TagState(tag) for tag in block.tags)
        self.decode: Callable[[bytes], Sequence[Value | None]]
        if block.table.is_bit:
            bits = BitBlockDecoder(block.start, block.count, [tag.address for tag in block.tags])
            self.decode = bits.decode
        else:
            registers = RegisterBlockDecoder(
                block.start, block.count, [(tag.address, tag.encoding) for tag in block.tags]
            )
            self.decode = registers.decode
        self.last_payload: bytes | None = None

    def on_payload(self, payload: bytes, now: float, out: list[TagValue]) -> None:
        """A successful read that arrived at `now` (POSIX seconds)."""
        if payload == self.last_payload:
            return
        self.last_payload = payload
        for state, value in zip(self.states, self.decode(payload), strict=True):
            if value is None:  # raw bits that are no valid value (e.g. BCD nibble > 9)
                if state.status is not Status.BAD_DATA_ENCODING_INVALID:
                    out.append(state._set(None, Status.BAD_DATA_ENCODING_INVALID, now, now))
                continue
            if state.status is Status.GOOD and not _differs(state.value, value, state.deadband):
                continue
            out.append(state._set(value, Status.GOOD, now, now))

    def on_error(self, status: Status, now: float, out: list[TagValue]) -> None:
        """The block's read failed with a block-specific status (exception, malformed)."""
        self.last_payload = None  # the next good read republishes every value
        for state in self.states:
            if state.status is not status:
                out.append(state._set(None, status, now, now))

    def on_disabled(self, now: float, out: list[TagValue]) -> None:
        self.on_error(Status.BAD_OUT_OF_SERVICE, now, out)

    def on_connection_lost(self, now: float, out: list[TagValue]) -> None:
        """No communication: the last published good value stays, flagged Uncertain.

        Tags already Bad for a block-specific reason keep that reason.
        """
        self.last_payload = None
        uncertain = Status.UNCERTAIN_NO_COMMUNICATION_LAST_USABLE_VALUE
        for state in self.states:
            if state.status is Status.GOOD:
                out.append(state._set(state.value, uncertain, state.time, now))
            elif state.status is Status.BAD_WAITING_FOR_INITIAL_DATA:
                out.append(state._set(None, Status.BAD_NO_COMMUNICATION, None, now))

"""Read planner: turn a device's tags into the fewest Modbus read requests.

Pure (no I/O), so the poller, ``gateway check`` and the benchmarks all see the
same plan. A request costs a round trip, while a few extra registers in one
response cost almost nothing, so the planner merges tags into blocks:

- tags are grouped by (table, scan interval): one request reads one table, and
  a block is due exactly when its scan class is;
- inside a group, overlapping and adjacent tags share a block, and unused
  addresses (a *gap*: addresses inside the block covered by no tag) of up to
  ``max_gap`` are bridged; a wider gap never appears inside a block, because
  reading far past a tag may hit addresses the PLC rejects (exception 02);
- a block never exceeds ``max_registers`` (register tables) or ``max_bits``
  (bit tables), and a tag is never split: it is decoded from one response.
  ``max_gap`` counts registers on register tables and bits on bit tables (the
  same number: bridging a few bits costs even less than bridging registers).

The single greedy pass over tags sorted by (address, longest first) is
optimal. Call *leaders* the tags that open a block; leaders of different
groups never share a block. A leader that failed the span test ends more than
the limit past the previous block's start, hence past every earlier leader's
start, so it cannot share a block with any of them. A leader that failed the
gap test starts more than ``max_gap`` past the end of every earlier tag (the
newest block always reaches furthest), so that run is covered by no tag at all
and no block can hold both it and an earlier leader. Leaders are thus pairwise
incompatible: every valid plan needs at least as many blocks. The unit tests
check this against an exhaustive search.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, NoReturn, Protocol, TypeVar

from gateway.model import ADDRESS_SPACE, MAX_READ_BITS, MAX_READ_REGISTERS, Table

__all__ = [
    "DEFAULT_MAX_GAP",
    "MODBUS_ADDRESS_SPACE",
    "Plannable",
    "ReadBlock",
    "plan_reads",
]

#: Unused addresses bridged to merge two reads (``max_read_gap`` in the config).
DEFAULT_MAX_GAP = 8
#: Protocol addresses are 16-bit: a tag must end at or before 65536.
MODBUS_ADDRESS_SPACE = ADDRESS_SPACE  # gateway.model defines it

# Bits of a sort key that hold 65536 - end (0..65535).
_END_BITS = 16
_END_MASK = (1 << _END_BITS) - 1

# Output order of the tables; also maps a str-valued table back to the Table member.
_TABLES = (Table.COIL, Table.DISCRETE_INPUT, Table.INPUT_REGISTER, Table.HOLDING_REGISTER)
_TABLE_RANK = {table: rank for rank, table in enumerate(_TABLES)}


class Plannable(Protocol):
    """What the planner needs from a tag; config tags and test doubles both fit."""

    @property
    def table(self) -> Table: ...

    @property
    def address(self) -> int:
        """0-based protocol address of the first register or bit."""
        ...

    @property
    def size(self) -> int:
        """Registers (register tables) or bits (bit tables) the tag occupies, >= 1."""
        ...

    @property
    def scan_interval(self) -> float:
        """Seconds between reads: the tag's scan class."""
        ...


T = TypeVar("T", bound=Plannable)


@dataclass(frozen=True, slots=True)
class ReadBlock(Generic[T]):
    """One read request: ``count`` registers or bits of ``table`` from ``start``.

    ``start`` and ``end`` are exactly the span of ``tags`` (sorted by address),
    so a block never reads an address before its first or after its last tag.
    """

    table: Table
    start: int
    count: int
    scan_interval: float
    tags: tuple[T, ...]

    @property
    def end(self) -> int:
        """First address after the block (exclusive)."""
        return self.start + self.count


def plan_reads(
    tags: Iterable[T],
    *,
    max_registers: int = MAX_READ_REGISTERS,
    max_bits: int = MAX_READ_BITS,
    max_gap: int = DEFAULT_MAX_GAP,
) -> list[ReadBlock[T]]:
    """Plan the fewest read requests that cover every tag exactly once.

    Blocks come ordered by table (coil, discrete_input, input_register,
    holding_register), then scan interval, then start address, so the same
    tags always give the same plan. Raises ValueError on limits outside the
    protocol's or a tag that cannot be read in one request.
    """
    _check_limit("max_registers", max_registers, MAX_READ_REGISTERS)
    _check_limit("max_bits", max_bits, MAX_READ_BITS)
    if max_gap < 0:
        raise ValueError(f"max_gap must be >= 0, got {max_gap}")

    limits = [max_bits if table.is_bit else max_registers for table in _TABLES]
    tag_list = list(tags)
    n = max(len(tag_list), 1)
    groups: dict[tuple[int, float], list[int]] = {}
    for index, tag in enumerate(tag_list):
        table, address, size, interval = tag.table, tag.address, tag.size, tag.scan_interval
        rank = _TABLE_RANK.get(table)
        end = address + size
        if (
            rank is None
            or not 1 <= size <= limits[rank]
            or address < 0
            or end > MODBUS_ADDRESS_SPACE
            or not 0 < interval < math.inf  # also rejects NaN
        ):
            _reject(tag, limits)
        # One int per tag: by address, then longest first (a container precedes
        # its parts), then input order. Ints sort several times faster than
        # tuples and add no work for the garbage collector on 100k tags.
        key = (address << _END_BITS | (MODBUS_ADDRESS_SPACE - end)) * n + index
        bucket = groups.get((rank, interval))
        if bucket is None:
            groups[rank, interval] = [key]
        else:
            bucket.append(key)

    blocks: list[ReadBlock[T]] = []
    for rank, interval in sorted(groups):
        keys = groups[rank, interval]
        keys.sort()
        blocks.extend(
            _merge(
                tag_list,
                keys,
                n=n,
                table=_TABLES[rank],
                interval=interval,
                limit=limits[rank],
                max_gap=max_gap,
            )
        )
    return blocks


def _merge(
    tags: list[T],
    keys: list[int],
    *,
    n: int,
    table: Table,
    interval: float,
    limit: int,
    max_gap: int,
) -> Iterator[ReadBlock[T]]:
    """The greedy pass over one sorted group: extend the block while the next tag fits.

    ``keys`` are the packed sort keys of the group's tags (see plan_reads).
    """
    members: list[T] = []
    start = reach = 0
    for key in keys:
        packed, index = divmod(key, n)
        address = packed >> _END_BITS
        end = MODBUS_ADDRESS_SPACE - (packed & _END_MASK)
        if members and address - reach <= max_gap:
            if end <= reach:  # inside the block already: always fits
                members.append(tags[index])
                continue
            if end - start <= limit:
                members.append(tags[index])
                reach = end
                continue
        if members:
            yield ReadBlock(table, start, reach - start, interval, tuple(members))
        start, reach, members = address, end, [tags[index]]
    if members:
        yield ReadBlock(table, start, reach - start, interval, tuple(members))


def _check_limit(name: str, value: int, protocol_max: int) -> None:
    """A request size outside 1..protocol_max would be rejected by every PLC."""
    if not 1 <= value <= protocol_max:
        raise ValueError(f"{name} must be between 1 and {protocol_max}, got {value}")


def _reject(tag: Plannable, limits: list[int]) -> NoReturn:
    """Say which rule a tag breaks; kept off the hot loop, which only detects."""
    table, address, size, interval = tag.table, tag.address, tag.size, tag.scan_interval
    rank = _TABLE_RANK.get(table)
    if rank is None:
        raise ValueError(f"{_describe(tag)}: unknown table {table!r}")
    unit = "bits" if _TABLES[rank].is_bit else "registers"
    if not 1 <= size <= limits[rank]:
        raise ValueError(
            f"{_describe(tag)}: size {size} {unit} does not fit in one read "
            f"(must be 1..{limits[rank]} {unit} on {_TABLES[rank]})"
        )
    if address < 0 or address + size > MODBUS_ADDRESS_SPACE:
        raise ValueError(
            f"{_describe(tag)}: addresses {address}..{address + size - 1} are outside "
            f"the Modbus range 0..{MODBUS_ADDRESS_SPACE - 1}"
        )
    raise ValueError(f"{_describe(tag)}: scan_interval must be > 0 s, got {interval}")


def _describe(tag: Plannable) -> str:
    """Name the tag in an error: by its name when it has one, else by location."""
    name = getattr(tag, "name", None)
    if isinstance(name, str) and name:
        return f"tag {name!r}"
    return f"tag at {tag.table} address {tag.address}"

"""Read planner: hand cases for every rule, then properties against an exhaustive search."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.modbus import planner
from gateway.modbus.planner import ReadBlock, plan_reads
from gateway.model import Table

H = Table.HOLDING_REGISTER
I = Table.INPUT_REGISTER  # noqa: E741
C = Table.COIL
D = Table.DISCRETE_INPUT
TABLE_ORDER = [C, D, I, H]

_ids = itertools.count()


@dataclass(frozen=True)
class FakeTag:
    """A tag double; `ident` keeps otherwise equal tags distinct."""

    table: Table
    address: int
    size: int = 1
    scan_interval: float = 1.0
    name: str = ""
    ident: int = field(default_factory=lambda: next(_ids))

    @property
    def end(self) -> int:
        return self.address + self.size


def tag(address: int, size: int = 1, table: Table = H, interval: float = 1.0) -> FakeTag:
    return FakeTag(table, address, size, interval)


Layout = tuple[list[FakeTag], int, int, int]  # tags, max_registers, max_bits, max_gap


def spans(blocks: Sequence[ReadBlock[FakeTag]]) -> list[tuple[int, int]]:
    return [(b.start, b.count) for b in blocks]


# --- an independent checker and an exhaustive optimum -------------------------


def limit_of(table: Table, max_registers: int, max_bits: int) -> int:
    return max_bits if table in (C, D) else max_registers


def block_is_valid(
    members: Sequence[FakeTag], max_registers: int, max_bits: int, max_gap: int
) -> bool:
    """The rules, spelled out address by address: one group, short enough, no wide hole."""
    if len({(t.table, t.scan_interval) for t in members}) != 1:
        return False
    start = min(t.address for t in members)
    end = max(t.end for t in members)
    if end - start > limit_of(members[0].table, max_registers, max_bits):
        return False
    covered = {a for t in members for a in range(t.address, t.end)}
    run = 0
    for address in range(start, end):
        run = 0 if address in covered else run + 1
        if run > max_gap:
            return False
    return True


def optimum_request_count(
    tags: Sequence[FakeTag], max_registers: int, max_bits: int, max_gap: int
) -> int:
    """Fewest blocks over *all* partitions of the tags into valid blocks.

    Set-partition DP over bitmasks: the block holding the lowest remaining tag
    is any valid subset of the remaining tags that contains it. Exponential, and
    independent of the planner's ordering or merging logic.
    """
    n = len(tags)
    valid = [
        mask != 0
        and block_is_valid(
            [tags[i] for i in range(n) if mask >> i & 1], max_registers, max_bits, max_gap
        )
        for mask in range(1 << n)
    ]

    @cache
    def best(remaining: int) -> int:
        if remaining == 0:
            return 0
        lowest = remaining & -remaining
        rest = remaining ^ lowest
        result = n + 1
        sub = rest
        while True:  # every subset of `rest`, each joined with the lowest tag
            if valid[sub | lowest]:
                result = min(result, 1 + best(rest & ~sub))
            if sub == 0:
                break
            sub = (sub - 1) & rest
        return result

    return best((1 << n) - 1)


def assert_plan_valid(
    tags: Sequence[FakeTag],
    blocks: Sequence[ReadBlock[FakeTag]],
    *,
    max_registers: int,
    max_bits: int,
    max_gap: int,
) -> None:
    planned = [t.ident for b in blocks for t in b.tags]
    assert sorted(planned) == sorted(t.ident for t in tags), "each tag exactly once"
    for b in blocks:
        assert b.tags, "no empty block"
        assert all(t.table == b.table and t.scan_interval == b.scan_interval for t in b.tags)
        assert b.start == min(t.address for t in b.tags), "block starts at its first tag"
        assert b.end == max(t.end for t in b.tags), "block ends at its last tag"
        assert all(b.start <= t.address and t.end <= b.end for t in b.tags), "no tag split"
        assert [t.address for t in b.tags] == sorted(t.address for t in b.tags)
        assert 1 <= b.count <= limit_of(b.table, max_registers, max_bits)
        assert block_is_valid(b.tags, max_registers, max_bits, max_gap), "gap too wide"
    keys = [(TABLE_ORDER.index(b.table), b.scan_interval, b.start) for b in blocks]
    assert keys == sorted(keys), "deterministic output order"


def test_oracle_counts_blocks_by_the_rules() -> None:
    # Guards the oracle itself: span, gap and table rules each change its answer.
    tags = [tag(0), tag(2), tag(4), tag(6)]
    assert optimum_request_count(tags, 20, 2000, 1) == 1
    assert optimum_request_count(tags, 20, 2000, 0) == 4
    assert optimum_request_count(tags, 3, 2000, 1) == 2
    assert optimum_request_count([tag(0), tag(0, table=I)], 20, 2000, 8) == 2


# --- hand cases ---------------------------------------------------------------


def test_empty_input_gives_no_requests() -> None:
    assert plan_reads([]) == []


def test_adjacent_tags_merge_into_one_block() -> None:
    tags = [tag(0, 2), tag(2, 2), tag(4, 1)]
    blocks = plan_reads(tags, max_gap=0)
    assert spans(blocks) == [(0, 5)]
    assert blocks[0].tags == tuple(tags)
    assert blocks[0].end == 5


def test_gap_of_exactly_max_gap_is_bridged() -> None:
    assert spans(plan_reads([tag(0), tag(9)], max_gap=8)) == [(0, 10)]
    assert spans(plan_reads([tag(0, 2), tag(5)], max_gap=3)) == [(0, 6)]


def test_gap_of_max_gap_plus_one_is_not_bridged() -> None:
    assert spans(plan_reads([tag(0), tag(10)], max_gap=8)) == [(0, 1), (10, 1)]
    assert spans(plan_reads([tag(0, 2), tag(6)], max_gap=3)) == [(0, 2), (6, 1)]


def test_default_max_gap_is_eight() -> None:
    assert planner.DEFAULT_MAX_GAP == 8
    assert spans(plan_reads([tag(0), tag(9)])) == [(0, 10)]
    assert spans(plan_reads([tag(0), tag(10)])) == [(0, 1), (10, 1)]


def test_max_gap_zero_merges_only_touching_tags() -> None:
    assert spans(plan_reads([tag(0), tag(1), tag(3)], max_gap=0)) == [(0, 2), (3, 1)]


def test_125_registers_fit_in_one_block_126_do_not() -> None:
    assert spans(plan_reads([tag(a) for a in range(125)])) == [(0, 125)]
    assert spans(plan_reads([tag(a) for a in range(126)])) == [(0, 125), (125, 1)]


def test_64_bit_tag_that_would_cross_the_limit_goes_to_the_next_block() -> None:
    words = [tag(a) for a in range(121)]
    fits = tag(121, 4)  # registers 121..124: the block ends exactly at 125
    assert spans(plan_reads([*words, fits])) == [(0, 125)]
    crosses = tag(122, 4)  # 122..125 would make 126 registers: moved whole, not split
    blocks = plan_reads([*words, crosses])
    assert spans(blocks) == [(0, 121), (122, 4)]
    assert blocks[1].tags == (crosses,)


def test_a_gap_is_not_bridged_when_the_block_would_exceed_the_limit() -> None:
    assert spans(plan_reads([tag(0), tag(8, 3)], max_registers=10)) == [(0, 1), (8, 3)]
    assert spans(plan_reads([tag(0), tag(7, 3)], max_registers=10)) == [(0, 10)]


def test_overlapping_and_nested_tags_share_a_block() -> None:
    outer, inner, overlap = tag(0, 4), tag(1, 1), tag(2, 4)  # e.g. a uint64 and its low word
    blocks = plan_reads([overlap, inner, outer], max_gap=0)
    assert spans(blocks) == [(0, 6)]
    assert blocks[0].tags == (outer, inner, overlap)


def test_identical_tags_share_a_block() -> None:
    a, b = tag(10, 2), tag(10, 2)  # e.g. a float32 and a bit of the same register pair
    blocks = plan_reads([a, b])
    assert spans(blocks) == [(10, 2)]
    assert {t.ident for t in blocks[0].tags} == {a.ident, b.ident}


def test_nested_tag_follows_the_long_tag_that_opened_a_new_block() -> None:
    first, long, short = tag(0), tag(2, 4), tag(3)
    blocks = plan_reads([first, long, short], max_registers=5, max_gap=4)
    assert spans(blocks) == [(0, 1), (2, 4)]
    assert blocks[1].tags == (long, short)


def test_a_tag_bridges_the_gap_for_a_later_tag() -> None:
    # 0 and 12 are too far apart alone, but the tag at 5..7 closes the hole.
    assert spans(plan_reads([tag(0), tag(12), tag(5, 3)], max_gap=4)) == [(0, 13)]
    assert spans(plan_reads([tag(0), tag(12)], max_gap=4)) == [(0, 1), (12, 1)]


def test_bit_tables_allow_2000_bits_per_request() -> None:
    for table in (C, D):
        assert spans(plan_reads([tag(a, table=table) for a in range(2000)])) == [(0, 2000)]
        blocks = plan_reads([tag(a, table=table) for a in range(2001)])
        assert spans(blocks) == [(0, 2000), (2000, 1)]
        assert all(b.table is table for b in blocks)


def test_max_gap_counts_bits_on_bit_tables() -> None:
    assert spans(plan_reads([tag(0, table=C), tag(9, table=C)], max_gap=8)) == [(0, 10)]
    assert spans(plan_reads([tag(0, table=C), tag(10, table=C)], max_gap=8)) == [(0, 1), (10, 1)]


def test_register_and_bit_limits_apply_to_their_own_tables() -> None:
    coils = [tag(a, table=C) for a in range(20)]
    registers = [tag(a) for a in range(20)]
    blocks = plan_reads([*coils, *registers], max_registers=10, max_bits=15)
    assert [(b.table, b.start, b.count) for b in blocks] == [
        (C, 0, 15),
        (C, 15, 5),
        (H, 0, 10),
        (H, 10, 10),
    ]


def test_scan_classes_and_tables_are_kept_apart_and_ordered() -> None:
    tags = [
        tag(0, 2, H, 1.0),
        tag(2, 2, H, 0.5),
        tag(4, 1, H, 1.0),
        tag(0, 2, I, 1.0),
        tag(0, 1, D, 1.0),
        tag(1, 1, C, 10.0),
        tag(0, 1, C, 1.0),
    ]
    blocks = plan_reads(reversed(tags))
    assert [(b.table, b.scan_interval, b.start, b.count) for b in blocks] == [
        (C, 1.0, 0, 1),
        (C, 10.0, 1, 1),
        (D, 1.0, 0, 1),
        (I, 1.0, 0, 2),
        (H, 0.5, 2, 2),
        (H, 1.0, 0, 5),
    ]


def test_string_valued_table_is_normalised_to_the_enum() -> None:
    blocks = plan_reads([FakeTag("holding_register", 0)])  # type: ignore[arg-type]
    assert blocks[0].table is H


def test_accepts_any_iterable_once() -> None:
    blocks = plan_reads(tag(a) for a in range(3))
    assert spans(blocks) == [(0, 3)]


def test_contiguous_float32_tags_are_never_split_at_scale() -> None:
    tags = [tag(2 * k, 2) for k in range(32_768)]  # the whole 16-bit address space
    blocks = plan_reads(tags)
    assert len(blocks) == math.ceil(32_768 / 62)  # 62 float32 = 124 registers per request
    assert all(b.count <= 124 and b.count % 2 == 0 for b in blocks)
    assert blocks[-1].end == planner.MODBUS_ADDRESS_SPACE
    assert sum(len(b.tags) for b in blocks) == 32_768


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (FakeTag(H, 0, 126, name="blob"), r"tag 'blob': size 126 registers .* 1\.\.125"),
        (FakeTag(C, 0, 2001), r"tag at coil address 0: size 2001 bits .* 1\.\.2000"),
        (FakeTag(H, 0, 0, name="empty"), r"tag 'empty': size 0 registers"),
        (FakeTag(H, -1, 1, name="neg"), r"tag 'neg': addresses -1\.\.-1 are outside"),
        (FakeTag(H, 65535, 2, name="wrap"), r"tag 'wrap': addresses 65535\.\.65536 are outside"),
        (FakeTag(H, 0, 1, math.nan, name="nan"), r"tag 'nan': scan_interval must be > 0"),
        (FakeTag(H, 0, 1, 0.0, name="zero"), r"tag 'zero': scan_interval must be > 0"),
        (FakeTag("bogus", 0, 1, name="x"), r"tag 'x': unknown table 'bogus'"),  # type: ignore[arg-type]
    ],
)
def test_unplannable_tag_is_rejected_with_a_clear_message(bad: FakeTag, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan_reads([tag(0), bad])


def test_tag_larger_than_a_custom_limit_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"size 4 registers .* 1\.\.3"):
        plan_reads([tag(0, 4)], max_registers=3)
    assert spans(plan_reads([tag(0, 4, C)], max_registers=3)) == [(0, 4)]  # bits: other limit


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_registers": 0}, "max_registers must be between 1 and 125, got 0"),
        ({"max_registers": 126}, "max_registers must be between 1 and 125, got 126"),
        ({"max_bits": 2001}, "max_bits must be between 1 and 2000, got 2001"),
        ({"max_gap": -1}, "max_gap must be >= 0, got -1"),
    ],
)
def test_limits_outside_the_protocol_are_rejected(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan_reads([tag(0)], **kwargs)


def test_public_api() -> None:
    assert set(planner.__all__) == {
        "DEFAULT_MAX_GAP",
        "MODBUS_ADDRESS_SPACE",
        "Plannable",
        "ReadBlock",
        "plan_reads",
    }
    assert all(hasattr(planner, name) for name in planner.__all__)
    assert not hasattr(planner, "optimum_request_count")


# --- properties against the exhaustive search ---------------------------------


@st.composite
def layouts(
    draw: st.DrawFn, *, tables: Sequence[Table], intervals: Sequence[float], top: int
) -> Layout:
    n = draw(st.integers(0, 8))
    tags = [
        FakeTag(
            draw(st.sampled_from(tables)),
            draw(st.integers(0, top)),
            draw(st.integers(1, 4)),
            draw(st.sampled_from(intervals)),
        )
        for _ in range(n)
    ]
    return tags, draw(st.integers(5, 20)), draw(st.integers(4, 20)), draw(st.integers(0, 4))


def check_against_optimum(layout: Layout) -> None:
    tags, max_registers, max_bits, max_gap = layout
    limits = {"max_registers": max_registers, "max_bits": max_bits, "max_gap": max_gap}
    blocks = plan_reads(tags, **limits)
    assert_plan_valid(tags, blocks, **limits)
    assert len(blocks) == optimum_request_count(tags, max_registers, max_bits, max_gap)


@settings(max_examples=600, deadline=None)
@given(layouts(tables=[H], intervals=[1.0], top=60))
def test_plan_is_valid_and_optimal_on_one_table(layout: Layout) -> None:
    check_against_optimum(layout)


@settings(max_examples=600, deadline=None)
@given(layouts(tables=[H], intervals=[1.0], top=12))
def test_plan_is_valid_and_optimal_on_dense_overlapping_tags(
    layout: Layout,
) -> None:
    check_against_optimum(layout)


@settings(max_examples=400, deadline=None)
@given(layouts(tables=[C, I, H], intervals=[0.5, 1.0], top=60))
def test_plan_is_valid_and_optimal_across_tables_and_scan_classes(
    layout: Layout,
) -> None:
    check_against_optimum(layout)


@settings(max_examples=200, deadline=None)
@given(layouts(tables=[C, H], intervals=[0.5, 1.0], top=60), st.randoms(use_true_random=False))
def test_plan_does_not_depend_on_input_order(layout: Layout, rng: random.Random) -> None:
    tags, max_registers, max_bits, max_gap = layout
    limits = {"max_registers": max_registers, "max_bits": max_bits, "max_gap": max_gap}
    shuffled = list(tags)
    rng.shuffle(shuffled)
    first, second = plan_reads(tags, **limits), plan_reads(shuffled, **limits)
    assert spans(first) == spans(second)
    assert [[(t.address, t.size) for t in b.tags] for b in first] == [
        [(t.address, t.size) for t in b.tags] for b in second
    ]

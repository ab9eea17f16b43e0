"""Filtering and paging of the status page's lists (pure)."""

from __future__ import annotations

import pytest

from gateway.http.paging import MAX_FILTER, TagIndex, page_of, parse_page


def test_pages_are_clamped_to_the_pages_there_are() -> None:
    items = list(range(130))
    assert page_of(items, 1, 50).rows == list(range(50))
    last = page_of(items, 3, 50)
    assert (list(last.rows), last.total, last.page, last.pages) == (
        list(range(100, 130)),
        130,
        3,
        3,
    )
    assert page_of(items, 99, 50).page == 3
    assert page_of(items, 0, 50).page == 1
    empty = page_of([], 5, 50)
    assert (list(empty.rows), empty.total, empty.page, empty.pages) == ([], 0, 1, 1)


@pytest.mark.parametrize("text", ["x", "-1", "1.5", "9" * 10, " 3"])
def test_a_bad_page_number_names_what_was_expected(text: str) -> None:
    with pytest.raises(ValueError, match="positive whole number"):
        parse_page(text)


def test_page_numbers_default_and_are_bounded() -> None:
    assert parse_page(None) == 1
    assert parse_page("", 50) == 50
    assert parse_page("0") == 1
    assert parse_page("1000", limit=200) == 200


def test_the_filter_ignores_case_and_keeps_the_order() -> None:
    index = TagIndex(["Boiler.Temp", "boiler.flow", "tank.temp_1", "tank.level"])
    assert list(index.matching("TEMP")) == ["Boiler.Temp", "tank.temp_1"]
    assert list(index.matching("  boiler ")) == ["Boiler.Temp", "boiler.flow"]
    assert list(index.matching("")) == list(index.keys)
    assert list(index.matching("nothing")) == []
    assert len(index) == 4


def test_the_last_filter_is_kept_for_paging() -> None:
    index = TagIndex(f"d{i}.t{j}" for i in range(10) for j in range(100))
    first = index.matching("t5")
    assert index.matching("T5") is first  # the same list: no second scan
    assert len(first) == 10 * 11  # t5 and t50..t59 on every device


def test_an_overlong_filter_is_cut() -> None:
    index = TagIndex(["a" * 300])
    assert list(index.matching("a" * (MAX_FILTER + 50))) == ["a" * 300]

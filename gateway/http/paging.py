"""Filtering and paging of long lists (pure): the page never receives 100k rows at once.

`TagIndex` keeps the tag keys in configuration order with a lower-case copy
only of the keys that need one, so a 100k-tag gateway filters in a few
milliseconds without a second copy of every key; the last filter's matches are
kept, so paging through them costs a slice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["MAX_FILTER", "MAX_PAGE_SIZE", "Page", "TagIndex", "page_of", "parse_page"]

T = TypeVar("T")

#: Rows one request may ask for.
MAX_PAGE_SIZE = 200
#: Characters of a filter (longer ones match nothing a tag key could hold anyway).
MAX_FILTER = 200


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    rows: Sequence[T]
    total: int  # items matching, on every page
    page: int  # 1-based, after clamping
    pages: int  # at least 1
    size: int


def page_of(items: Sequence[T], page: int, size: int) -> Page[T]:
    """Page `page` (1-based, clamped to the pages there are) of `size` items."""
    total = len(items)
    pages = max(1, -(-total // size))
    page = min(max(1, page), pages)
    start = (page - 1) * size
    return Page(items[start : start + size], total, page, pages, size)


def parse_page(text: str | None, default: int = 1, *, limit: int = 10_000_000) -> int:
    """A page number or size from a query string; ValueError names what was wrong."""
    if text is None or text == "":
        return default
    if not text.isdigit() or len(text) > 9:
        raise ValueError(f"expected a positive whole number, got {text[:20]!r}")
    return min(max(1, int(text)), limit)


class TagIndex:
    """Tag keys in order, filtered case-insensitively by substring."""

    def __init__(self, keys: Iterable[str]) -> None:
        self.keys: tuple[str, ...] = tuple(keys)
        # Most keys are lower case already: those share the key's own string.
        self._lowered = [key if key.islower() or not key else key.lower() for key in self.keys]
        self._last: tuple[str, list[str]] | None = None

    def __len__(self) -> int:
        return len(self.keys)

    def matching(self, text: str) -> Sequence[str]:
        """The keys containing `text` (ignoring case), in order; every key for ""."""
        needle = text.strip().lower()[:MAX_FILTER]
        if not needle:
            return self.keys
        if self._last is not None and self._last[0] == needle:
            return self._last[1]
        found = [
            key for key, lowered in zip(self.keys, self._lowered, strict=True) if needle in lowered
        ]
        self._last = (needle, found)
        return found

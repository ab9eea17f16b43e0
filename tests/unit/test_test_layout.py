"""The test folders are not packages: two test modules with one file name break collection."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_every_test_module_has_its_own_file_name() -> None:
    """pytest imports each by its base name ("import file mismatch" for the second)."""
    modules = (p for p in TESTS.rglob("test_*.py") if "node_modules" not in p.parts)
    names = Counter(path.name for path in modules)
    assert [name for name, count in names.items() if count > 1] == []

"""The public API, `gateway.__all__` (as httpx guards its own): every name exists, nothing
public is missing, the list is sorted; and `import gateway` alone loads nothing else."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import types
from pathlib import Path

import pytest

import gateway
import gateway.errors

INIT = Path(gateway.__file__)


def _homes() -> dict[str, str]:
    """Each public name's module, as the imports under TYPE_CHECKING (what mypy sees) say."""
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    [block] = [
        node
        for node in tree.body
        if isinstance(node, ast.If)
        and isinstance(node.test, ast.Attribute)
        and node.test.attr == "TYPE_CHECKING"
    ]
    return {
        alias.name: statement.module
        for statement in block.body
        if isinstance(statement, ast.ImportFrom) and statement.module
        for alias in statement.names
    }


def _ruff_order(name: str) -> tuple[int, str]:
    """ruff's order for `__all__` (RUF022): CONSTANTS, then Classes, then the rest."""
    if name.isupper():
        return 0, name
    return (1 if name[:1].isupper() else 2), name


def test_all_is_sorted_without_duplicates() -> None:
    assert gateway.__all__ == sorted(set(gateway.__all__), key=_ruff_order)


@pytest.mark.parametrize("name", gateway.__all__)
def test_every_name_exists_and_is_its_modules_own(name: str) -> None:
    """Each name is what the module type checkers see it from defines and lists as public."""
    value = getattr(gateway, name)
    assert value is not None
    if name == "__version__":
        return
    home = importlib.import_module(_homes()[name])
    assert getattr(home, name) is value
    assert name in home.__all__


def test_nothing_public_is_missing() -> None:
    """Once every name has loaded, the namespace holds the API, private names and the
    subpackages Python binds on import: no public name outside `__all__`."""
    for name in gateway.__all__:
        getattr(gateway, name)
    public = {
        name
        for name, value in vars(gateway).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(gateway.__all__) - {"__version__"}
    assert set(_homes()) == public
    assert set(_homes().values()) == set(gateway._HOMES)
    assert set(gateway.__all__) <= set(dir(gateway))


def test_the_whole_error_tree_is_public() -> None:
    assert set(gateway.errors.__all__) <= set(gateway.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Gatway'"):
        gateway.Gatway  # noqa: B018


def test_importing_the_package_loads_no_other_module() -> None:
    """The names load on first use: `gateway --help` and the client pay for none of them."""
    code = "import sys, gateway; print(' '.join(m for m in sys.modules if m.startswith('gateway')))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == ["gateway"]

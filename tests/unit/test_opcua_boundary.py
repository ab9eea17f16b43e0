"""asyncua behind one adapter: only gateway/opcua/stack/ uses its server or its private names.

Issue 14: the server's security depends on asyncua internals, so they are
kept in one place, guarded and fingerprinted (test_opcua_stack_gate.py).
Everywhere else in gateway/opcua/ only asyncua's wire types (`asyncua.ua`)
are used, through the adapter's interface; and no module outside the
adapter imports `asyncua.server`. What the client shares with the server
(gateway/ua/) uses only the wire types and cryptography, so the client
loads no part of the server (test_import_layers.py checks that at run time).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = ROOT / "gateway"
ADAPTER = GATEWAY / "opcua" / "stack"
OPCUA = GATEWAY / "opcua"
#: What gateway/opcua/ outside the adapter may import from asyncua.
ALLOWED_IN_OPCUA = ("asyncua.ua",)
SHARED = GATEWAY / "ua"
#: All that gateway/ua/ may import besides the standard library: no gateway module either.
ALLOWED_IN_SHARED = ("asyncua.ua", "cryptography")


def _modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if ADAPTER not in p.parents)


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "asyncua":  # from asyncua import ua, Client...
                found += [(node.lineno, f"asyncua.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
    return found


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


@pytest.mark.parametrize(
    "path",
    _modules(GATEWAY) + sorted((ROOT / "simulators").rglob("*.py")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_only_the_adapter_imports_asyncua_server(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    offending = [
        _where(path, line)
        for line, name in _imports(tree)
        if name == "asyncua.server" or name.startswith("asyncua.server.")
    ]
    assert not offending, f"asyncua.server imported outside gateway/opcua/stack/: {offending}"


@pytest.mark.parametrize("path", _modules(OPCUA), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_opcua_package_uses_only_asyncuas_wire_types(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    offending = [
        f"{_where(path, line)} {name}"
        for line, name in _imports(tree)
        if name.startswith("asyncua")
        and not any(name == a or name.startswith(f"{a}.") for a in ALLOWED_IN_OPCUA)
    ]
    assert not offending, f"use the adapter (gateway.opcua.stack) instead: {offending}"


@pytest.mark.parametrize("path", _modules(OPCUA), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_names_outside_the_adapter(path: Path) -> None:
    """`x._name` only on self or cls: a private name of asyncua (or of another module)
    is not touched outside the adapter."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    offending = [
        f"{_where(path, node.lineno)} .{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
    ]
    assert not offending, f"private names touched outside gateway/opcua/stack/: {offending}"


@pytest.mark.parametrize(
    "path", sorted(SHARED.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_the_shared_package_uses_only_wire_types_and_cryptography(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    offending = [
        f"{_where(path, line)} {name}"
        for line, name in _imports(tree)
        if name.partition(".")[0] not in sys.stdlib_module_names
        and not any(name == a or name.startswith(f"{a}.") for a in ALLOWED_IN_SHARED)
    ]
    assert not offending, f"gateway/ua/ is shared by server and client: {offending}"


def test_the_shared_package_rule_is_not_vacuous() -> None:
    """gateway/ua/ does use what it is allowed to, so the check above sees its imports."""
    used = {
        name.partition(".")[0]
        for path in sorted(SHARED.rglob("*.py"))
        for _, name in _imports(ast.parse(path.read_text(encoding="utf-8")))
    }
    assert {"asyncua", "cryptography"} <= used


def test_the_adapter_is_where_asyncua_server_is_used() -> None:
    """The check above is not vacuous: the adapter does import asyncua.server."""
    used = [
        name
        for path in sorted(ADAPTER.glob("*.py"))
        for _, name in _imports(ast.parse(path.read_text(encoding="utf-8")))
        if name.startswith("asyncua.server")
    ]
    assert used

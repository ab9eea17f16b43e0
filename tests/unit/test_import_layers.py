"""The import graph of gateway/ and simulators/: no cycle, and no import from a layer up.

The intended architecture, top to bottom. A module may import from its own
component and from the rows below its row; components on one row are
independent of each other (they never import one another):

    entry points    gateway.__main__
                    gateway.cli
                    gateway.demo | gateway.bench
    wiring          gateway.app
    HTTP, MQTT      gateway.http | gateway.mqtt
    analysis        gateway.analysis
    text, OPC UA    gateway.present | gateway.opcua
                    gateway.opcua.stack              (the adapter: asyncua's server)
                    gateway.opcua.guards | .users | .pki   (what the adapter applies)
    acquisition     gateway.modbus | gateway.alarms
    and consumers   gateway.storage | gateway.tags
    low parts       gateway.bus | gateway.uaclient | simulators
    foundations     gateway.config | gateway.codec | gateway.ua | gateway.loop | gateway.filemodes
                    | gateway.backoff | gateway.systemd | gateway.rtuframe | gateway.serialio
                    | gateway.aggregates | gateway.finetimer
                    gateway.collector
                    gateway.lifecycle
                    gateway.errors | gateway.memory | gateway.forkedread
                    gateway.model

The OPC UA client (gateway.uaclient) and the simulated PLCs (simulators) sit
beside the running gateway: they need only the foundations, which the rows
make sure of (the client shares gateway.ua with the server, never
gateway.opcua), and only the entry points import them.

The package root (gateway/__init__.py) is the public API: it imports nothing
at run time (its names load on first use), and inside the code base it is
imported for `__version__` only.

Every import counts: at module level, inside functions (the CLI's lazy
imports), and the parent packages an import runs first (`import
gateway.opcua.pki` runs gateway/opcua/__init__.py). Only imports under
`if TYPE_CHECKING:` are left out: they never run.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gateway", "simulators")
FACADE = "gateway"

#: Top to bottom; a tuple is one row of independent components (see the docstring).
LAYERS: tuple[tuple[str, ...], ...] = (
    # entry points: commands, the demo, the benchmarks
    ("gateway.__main__",),
    ("gateway.cli",),
    ("gateway.demo", "gateway.bench"),
    # a running gateway wired together
    ("gateway.app",),
    # the HTTP face (metrics, health, status page): it reads the parts below
    # and the MQTT publisher (Sparkplug B, JSON, replay from the historian)
    ("gateway.http", "gateway.mqtt"),
    # analysis of stored history: records, exports, DataFrames (pandas and pyarrow adapters)
    ("gateway.analysis",),
    # text for people; the OPC UA server, its asyncua adapter, and the rules and files
    # the adapter applies
    ("gateway.present", "gateway.opcua"),
    ("gateway.opcua.stack",),
    ("gateway.opcua.guards", "gateway.opcua.users", "gateway.opcua.pki"),
    # Modbus acquisition (pollers, block decoders, the writer) and the consumers of the bus
    ("gateway.modbus", "gateway.alarms"),
    ("gateway.storage", "gateway.tags"),
    # the bus; beside it the OPC UA client and the simulated PLCs, which only the
    # entry points import
    ("gateway.bus", "gateway.uaclient", "simulators"),
    # foundations: configuration, codec, what OPC UA server and client share, the process
    (
        "gateway.config",
        "gateway.codec",
        "gateway.ua",
        "gateway.loop",
        "gateway.filemodes",
        "gateway.backoff",
        "gateway.systemd",
        "gateway.rtuframe",
        "gateway.serialio",
        "gateway.aggregates",
        "gateway.finetimer",
    ),
    # the one lifecycle idiom every long-running part (and systemd's notifier) follows
    # the process's garbage-collector policy (its loop follows the lifecycle idiom)
    ("gateway.collector",),
    ("gateway.lifecycle",),
    ("gateway.errors", "gateway.memory", "gateway.forkedread"),
    ("gateway.model",),
)

#: Beside the running gateway: imported by the entry points only.
BESIDE = ("gateway.uaclient", "simulators")
ENTRY_POINTS = ("gateway.__main__", "gateway.cli", "gateway.demo", "gateway.bench")

#: (importer, imported) component pairs allowed against the rows: none (the tags ↔
#: modbus cycle ended when the device plan moved into gateway/modbus/).
KNOWN_EXCEPTIONS: frozenset[tuple[str, str]] = frozenset()

#: What inside the code base may be imported from the package root.
FROM_THE_ROOT = frozenset({"__version__"})


@dataclass(frozen=True, slots=True)
class Import:
    importer: str
    imported: str
    path: Path
    line: int
    names: tuple[str, ...] = ()  # `from <imported> import <names>`, when not submodules
    implied: bool = False  # a parent package's __init__, run before the module asked for

    def __str__(self) -> str:
        how = "runs" if self.implied else "imports"
        return f"{self.path.relative_to(ROOT)}:{self.line}: {self.importer} {how} {self.imported}"


def _find_modules() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


MODULES = _find_modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that can run: all but those under `if TYPE_CHECKING:`."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if (
            isinstance(node, ast.If)
            and isinstance(node.test, ast.UnaryOp)
            and isinstance(node.test.op, ast.Not)
            and _is_type_checking(node.test.operand)
        ):
            stack.extend(node.body)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _owner(name: str) -> str | None:
    """The module of ours that `name` (a module or a name in one) is, or is in."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _package_of(module: str) -> str:
    return module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]


def _direct_imports(module: str, tree: ast.AST) -> Iterator[Import]:
    path = MODULES[module]
    for node in _runtime_imports(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _owner(alias.name)
                if target is not None:
                    yield Import(module, target, path, node.lineno)
            continue
        base = node.module or ""
        if node.level:
            package = _package_of(module)
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{base}" if base else package
        names: list[str] = []
        for alias in node.names:
            if f"{base}.{alias.name}" in MODULES:  # a submodule
                yield Import(module, f"{base}.{alias.name}", path, node.lineno)
            else:
                names.append(alias.name)
        target = _owner(base)
        if names and target is not None:
            yield Import(module, target, path, node.lineno, tuple(names))


def _with_parents(found: Import) -> Iterator[Import]:
    """The import, and the parent packages' __init__ it runs first (not the importer's own
    packages, nor the facade, which imports nothing at run time)."""
    yield found
    own = found.importer if MODULES[found.importer].name == "__init__.py" else ""
    parts = found.imported.split(".")
    for end in range(1, len(parts)):
        parent = ".".join(parts[:end])
        inside = found.importer.startswith(f"{parent}.") or own == parent
        if parent != FACADE and parent in MODULES and not inside:
            yield Import(found.importer, parent, found.path, found.line, implied=True)


def _all_imports() -> list[Import]:
    imports: list[Import] = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for found in _direct_imports(module, tree):
            imports.extend(_with_parents(found))
    return [i for i in imports if i.importer != i.imported]


IMPORTS = _all_imports()
COMPONENTS = {component: row for row, layer in enumerate(LAYERS) for component in layer}


def _component(module: str) -> str | None:
    matches = [c for c in COMPONENTS if module == c or module.startswith(f"{c}.")]
    return max(matches, key=len, default=None)


def _layer_violations(imports: Iterable[Import]) -> list[tuple[Import, str]]:
    found: list[tuple[Import, str]] = []
    for imp in imports:
        if imp.imported == FACADE:
            continue  # test_the_root_is_imported_for_its_version_only
        source, target = _component(imp.importer), _component(imp.imported)
        if source is None or target is None or source == target:
            continue
        if (source, target) in KNOWN_EXCEPTIONS:
            continue
        if COMPONENTS[target] < COMPONENTS[source]:
            found.append((imp, f"{target} is in a layer above {source}"))
        elif COMPONENTS[target] == COMPONENTS[source]:
            found.append((imp, f"{target} and {source} are independent (one row)"))
    return found


def test_every_module_is_in_a_layer() -> None:
    orphans = [m for m in MODULES if m != FACADE and _component(m) is None]
    assert not orphans, f"add these to a row of LAYERS: {orphans}"


def test_every_component_of_the_layers_exists() -> None:
    missing = [c for c in COMPONENTS if c not in MODULES]
    assert not missing, f"LAYERS names modules that do not exist (moved?): {missing}"


def test_no_import_goes_up_a_layer_or_sideways() -> None:
    problems = [f"{imp}: {why}" for imp, why in _layer_violations(IMPORTS)]
    assert not problems, "imports against the layers:\n" + "\n".join(problems)


def test_the_known_exceptions_are_still_needed() -> None:
    used = {
        (_component(i.importer), _component(i.imported))
        for i in IMPORTS
        if (_component(i.importer), _component(i.imported)) in KNOWN_EXCEPTIONS
    }
    assert used == KNOWN_EXCEPTIONS, f"no import needs these any more: {KNOWN_EXCEPTIONS - used}"


def test_no_import_cycle_between_modules() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for imp in IMPORTS:
        if not imp.implied:  # a package's __init__ importing its own modules is no cycle
            graph[imp.importer].add(imp.imported)
    cycles = [sorted(c) for c in _strongly_connected(graph) if len(c) > 1]
    assert not cycles, f"modules that import each other (directly or around a loop): {cycles}"


def test_only_the_entry_points_import_what_is_beside_the_gateway() -> None:
    offending = [
        str(imp)
        for imp in IMPORTS
        if _component(imp.imported) in BESIDE
        and _component(imp.importer) not in (*ENTRY_POINTS, _component(imp.imported))
    ]
    assert not offending, f"{BESIDE} are for {ENTRY_POINTS} only: {offending}"


def test_the_root_is_imported_for_its_version_only() -> None:
    offending = [
        f"{imp} {list(imp.names)}"
        for imp in IMPORTS
        if imp.imported == FACADE and not set(imp.names) <= FROM_THE_ROOT
    ]
    assert not offending, f"import from the module that defines it instead: {offending}"
    assert not [i for i in IMPORTS if i.importer == FACADE], "the facade imports at run time"


def test_the_collector_sees_lazy_imports_and_skips_type_checking() -> None:
    """The rules above are not vacuous: lazy imports count, TYPE_CHECKING ones do not."""
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from gateway.app import Gateway\n"
        "def command():\n    from gateway.storage.reading import read_only\n"
    )
    found = [imp.imported for imp in _direct_imports("gateway.cli.storage", tree)]
    assert found == ["gateway.storage.reading"]
    assert any(i.importer == "gateway.cli.plant" and i.imported == "gateway.app" for i in IMPORTS)
    implied = {(i.importer, i.imported) for i in IMPORTS if i.implied}
    assert ("gateway.bench.startup", "gateway.opcua") in implied  # opcua.pki runs opcua/__init__


def test_a_layer_violation_is_reported() -> None:
    """Upward and sideways imports are found and named; a downward one is not."""
    up = Import("gateway.model", "gateway.app", MODULES["gateway.model"], 1)
    sideways = Import("gateway.uaclient.browse", "gateway.bus", MODULES["gateway.uaclient"], 1)
    down = Import("gateway.modbus.poller", "gateway.tags", MODULES["gateway.modbus"], 1)
    assert _layer_violations([up, sideways, down]) == [
        (up, "gateway.app is in a layer above gateway.model"),
        (sideways, "gateway.bus and gateway.uaclient are independent (one row)"),
    ]


#: Parts of the running gateway that the OPC UA client commands must not load.
SERVER_SIDE = (
    "gateway.opcua",
    "gateway.modbus",
    "gateway.alarms",
    "gateway.storage",
    "gateway.bus",
    "gateway.app",
)


def test_the_client_commands_load_no_part_of_the_server() -> None:
    """What `gateway read|write|browse|watch` imports, in a fresh interpreter."""
    code = (
        "import sys\nimport gateway.cli\nfrom gateway.loop import run\n"
        "from gateway.uaclient import open_session, read\n"
        "print('\\n'.join(sorted(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=ROOT,
    )
    loaded = result.stdout.split()
    assert "gateway.uaclient.session" in loaded  # the probe imported the client
    server = [m for m in loaded if any(m == s or m.startswith(f"{s}.") for s in SERVER_SIDE)]
    assert not server, f"the OPC UA client loaded parts of the server: {server}"


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the groups of modules that reach each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


@pytest.mark.parametrize(
    ("cycle", "expected"),
    [({"a": {"b"}, "b": {"a"}}, [["a", "b"]]), ({"a": {"b"}, "b": set()}, [])],
)
def test_cycles_are_found(cycle: dict[str, set[str]], expected: list[list[str]]) -> None:
    found = [sorted(c) for c in _strongly_connected(cycle) if len(c) > 1]
    assert found == expected

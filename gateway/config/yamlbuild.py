"""Build plain Python data from composed YAML nodes, the way a config file means it.

PyYAML's own constructor silently keeps the last of two duplicate keys, reads
`00001` as octal and `on` as a boolean, and knows nothing of `${VAR}`. This
builder walks the node tree instead: duplicate keys, unset variables and
unknown tags become problems with their line, plain scalars follow YAML 1.2,
leading-zero numbers stay text (so a Modicon `ref: 00001` survives), and keys
starting with `x-` are skipped so they can hold anchors.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = [
    "EXTENSION_PREFIX",
    "MAX_DEPTH",
    "MERGE_TAG",
    "STR_TAG",
    "Composer",
    "DataBuilder",
    "KeyPath",
    "NestedTooDeep",
    "ScalarProblem",
    "expand_env",
    "scalar_value",
]

#: A key path into the data: mapping keys and sequence indices.
KeyPath = tuple[str | int, ...]

#: Keys starting with this are ignored at every level: a place for YAML anchors
#: (`x-defaults: &dev {...}`), as in docker-compose files.
EXTENSION_PREFIX = "x-"

#: Mappings and lists inside one another (a gateway file needs 6). Deeper, a
#: hostile file would end the recursive build with Python's RecursionError.
MAX_DEPTH = 64

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
STR_TAG = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"
MERGE_TAG = "tag:yaml.org,2002:merge"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_YAML12_KEEPS: dict[str, Callable[[str], bool]] = {
    _BOOL_TAG: lambda value: value.lower() in ("true", "false"),
    _INT_TAG: lambda value: ":" not in value,  # sexagesimal 1:30 is text in YAML 1.2
    _FLOAT_TAG: lambda value: ":" not in value,
    _TIMESTAMP_TAG: lambda value: False,  # YAML 1.2 has no implicit dates
}
_LEADING_ZERO = re.compile(r"[-+]?0[0-9_]+")
_ENV_REF = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class Composer(_BaseLoader):  # type: ignore[misc]
    """The safe loader, resolving plain scalars like YAML 1.2 and memoised.

    YAML 1.1 reads `on`, `no`, `y` as booleans, `1:30` as 90 and `2024-01-02`
    as a date: a tag named `on` or a country `NO` would silently change type.
    As in YAML 1.2 only true/false are booleans here; bool fields still accept
    yes/no/on/off because pydantic parses those words.

    PyYAML resolves every scalar with a chain of regexes in Python, a third of
    the load time of a large tag list where the same words ("float32",
    "holding_register") repeat. The result depends only on the text and on
    whether it was plain, so it is cached for the file.
    """

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._tags: dict[tuple[str, bool], str] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is not ScalarNode:
            return super().resolve(kind, value, implicit)
        key = (value, implicit[0])
        tag = self._tags.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            keep = _YAML12_KEEPS.get(tag)
            if keep is not None and not keep(value):
                tag = STR_TAG
            self._tags[key] = tag
        return tag


def expand_env(text: str, environ: Mapping[str, str]) -> tuple[str, list[str]]:
    """Expand `${VAR}` and `${VAR:-default}`; `$$` is a literal `$`.

    Returns the text and the names of variables that are unset without a default,
    so the caller can report all of them with their line.
    """
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        value = environ.get(name)
        if value is None or (value == "" and default is not None):
            if default is None:
                missing.append(name)
                return ""
            return default
        return value

    return _ENV_REF.sub(replace, text), missing


class ScalarProblem(Exception):
    """A scalar that cannot be read as its tag says; the message names tag and reason."""


_CONSTRUCTORS: dict[str, Callable[[SafeConstructor, ScalarNode], Any]] = dict(
    SafeConstructor.yaml_constructors  # type: ignore[arg-type]
)


def scalar_value(constructor: SafeConstructor, node: ScalarNode) -> Any:
    """The value of a scalar that is not a string: an int, float, bool, null...

    Shared by DataBuilder and the event builder (yamlevents), so both read
    numbers alike. Raises ScalarProblem for an unknown tag or unreadable text.
    """
    tag, value = node.tag, node.value
    if tag == _INT_TAG and not node.style:
        if value.isdigit() and (value[0] != "0" or len(value) == 1):
            return int(value)  # the common case, without the generic constructor
        if _LEADING_ZERO.fullmatch(value):
            return value  # YAML 1.1 would read octal; keep the digits (ref: 00001)
    construct = _CONSTRUCTORS.get(tag)
    if construct is None:
        raise ScalarProblem(f"unsupported YAML tag {tag}")
    name = tag.rsplit(":", 1)[-1]
    try:
        return construct(constructor, node)
    except (ConstructorError, ValueError) as exc:
        raise ScalarProblem(f"invalid {name} value: {exc}") from None
    except (LookupError, AttributeError):  # PyYAML's readers on `!!bool maybe`, `!!int ''`...
        raise ScalarProblem(f"invalid {name} value: {value!r}") from None


class NestedTooDeep(Exception):
    """The file nests deeper than MAX_DEPTH at `node` (key path `path`, cut short)."""

    def __init__(self, node: Node, path: KeyPath) -> None:
        super().__init__(f"nested more than {MAX_DEPTH} levels deep")
        self.node = node
        self.path = path[:_SHOWN_LEVELS]


_SHOWN_LEVELS = 6  # of a too-deep key path: sixty-four `[0]`s say nothing more


def _unset(name: str, *, secret: bool) -> str:
    """Why a variable is missing, and the way out (a password gets no default)."""
    if secret:
        return f"environment variable {name} is not set: export it (a password has no default)"
    return f"environment variable {name} is not set (use ${{{name}:-default}})"


class DataBuilder:
    """Builds plain data from nodes; `problems` collects (line, key path, message).

    Raises NestedTooDeep past MAX_DEPTH levels (through aliases and merges too).
    """

    def __init__(
        self, environ: Mapping[str, str], *, deferred: frozenset[str] = frozenset()
    ) -> None:
        self.problems: list[tuple[int, KeyPath, str]] = []
        self._environ = environ
        #: Top-level sections whose unset ${VAR}s are left as written, not problems:
        #: a command that does not use a section must not need its secrets.
        self._deferred = deferred
        self._constructor = SafeConstructor()
        self._active: set[int] = set()

    def _report(self, node: Node, path: KeyPath, message: str) -> None:
        self.problems.append((node.start_mark.line + 1, path, message))

    def build(self, node: Node, path: KeyPath) -> Any:
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        if id(node) in self._active:
            self._report(node, path, "recursive alias: a node cannot contain itself")
            return None
        if len(self._active) >= MAX_DEPTH:  # the containers being built nest this deep
            raise NestedTooDeep(node, path)
        self._active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
        finally:
            self._active.discard(id(node))
        return None  # pragma: no cover - PyYAML has only these three node kinds

    def _scalar(self, node: ScalarNode, path: KeyPath) -> Any:
        tag, value = node.tag, node.value
        if tag == STR_TAG:
            if "$" not in value:
                return value
            text, missing = expand_env(value, self._environ)
            if missing and path and path[0] in self._deferred:
                return value  # never used by this command: unresolved, and no error
            for name in missing:
                self._report(node, path, _unset(name, secret=bool(path) and path[-1] == "password"))
            return text
        try:
            return scalar_value(self._constructor, node)
        except ScalarProblem as problem:
            self._report(node, path, str(problem))
            return value

    def _mapping(self, node: MappingNode, path: KeyPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        key_nodes: dict[str, Node] = {}
        merged: dict[str, Any] | None = None
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                merged = {**self._merge_sources(value_node, path), **(merged or {})}
                continue
            if isinstance(key_node, ScalarNode):
                key = key_node.value  # keys are names as written: no ${VAR}, no typing
            else:
                self._report(key_node, path, "mapping keys must be plain scalars")
                continue
            if key.startswith(EXTENSION_PREFIX):
                continue
            first = key_nodes.setdefault(key, key_node)
            if first is not key_node:
                self._report(
                    key_node,
                    (*path, key),
                    f"duplicate key '{key}' (first given on line {first.start_mark.line + 1})",
                )
            result[key] = self.build(value_node, (*path, key))
        return result if merged is None else {**merged, **result}

    def _merge_sources(self, node: Node, path: KeyPath) -> dict[str, Any]:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        merged: dict[str, Any] = {}
        for source in reversed(sources):  # earlier sources take precedence
            value = self.build(source, path)
            if isinstance(value, dict):
                merged.update(value)
            else:
                self._report(source, path, "a merge key (<<) needs a mapping or a list of mappings")
        return merged

"""Read a YAML file into plain data while keeping where every key came from.

A file is first read straight from PyYAML's C parser's events
(yamlevents.build_from_events), the common case and the fast one. A file
with an issue, or a form that builder leaves alone, is composed into YAML
nodes instead, measured against the bounds of yamlbounds (alias expansion,
nesting) and turned into data by yamlbuild.DataBuilder, which words every
issue with its line. The node tree (composed again when needed) answers
"which line is `devices[0].tags[3].type` on?" for every later error, so each
issue can name the file, the line and the key path.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from gateway.collector import collector_paused
from gateway.config.yamlbounds import find_overrun
from gateway.config.yamlbuild import MERGE_TAG, Composer, DataBuilder, KeyPath, NestedTooDeep
from gateway.config.yamlevents import NeedsNodes, build_from_events
from gateway.errors import ConfigError, ConfigIssue
from gateway.forkedread import ISOLATE_FROM_BYTES as FORK_FROM_BYTES
from gateway.forkedread import ForkedRead, fork_read, worth_forking

__all__ = [
    "ISOLATE_FROM_BYTES",
    "KeyPath",
    "YamlDocument",
    "child_answer",
    "format_path",
    "read_yaml",
]

#: Files at least this large are parsed in a forked child (see `_read_isolated`).
ISOLATE_FROM_BYTES = FORK_FROM_BYTES


def format_path(path: KeyPath) -> str:
    """`devices[0].tags[3].type`: the notation every issue uses."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


@dataclass(slots=True)
class YamlDocument:
    """Plain data of one YAML file, able to say on which line a key path is.

    The node tree is several times the size of the data (two marks per node),
    so it is dropped once the data is built and composed again only if an
    issue needs a line: the rare path pays, not every start-up.
    """

    file: str
    data: Any
    text: str
    issues: list[ConfigIssue] = field(default_factory=list)
    _root: Node | None = None

    def line_of(self, path: KeyPath) -> int | None:
        """1-based line of the deepest node along `path` (the key itself for mapping keys)."""
        if self._root is None:
            self._root = yaml.compose(self.text, Loader=Composer)
        node = self._root
        line = node.start_mark.line + 1 if node is not None else None
        for part in path:
            if node is None:
                break
            found = _child(node, part)
            if found is None:
                break
            key_node, node = found
            line = (key_node or node).start_mark.line + 1
        return line

    def issue(self, path: KeyPath, message: str, *, warning: bool = False) -> ConfigIssue:
        """An issue at `path`, on the line where that path (or its nearest parent) is."""
        return ConfigIssue(self.file, self.line_of(path), format_path(path), message, warning)


def _child(node: Node, part: str | int) -> tuple[Node | None, Node] | None:
    """(key node, value node) of `part` inside `node`, following merge keys."""
    if isinstance(node, SequenceNode) and isinstance(part, int):
        return (None, node.value[part]) if 0 <= part < len(node.value) else None
    if not isinstance(node, MappingNode):
        return None
    merged: list[Node] = []
    for key_node, value_node in reversed(node.value):  # the last duplicate wins, as in data
        if key_node.tag == MERGE_TAG:
            merged.append(value_node)
        elif isinstance(key_node, ScalarNode) and key_node.value == str(part):
            return key_node, value_node
    for source in merged:
        for candidate in source.value if isinstance(source, SequenceNode) else [source]:
            found = _child(candidate, part)
            if found is not None:
                return found
    return None


def read_yaml(
    path: Path,
    environ: Mapping[str, str] | None = None,
    *,
    deferred: frozenset[str] = frozenset(),
    started: ForkedRead | None = None,
) -> YamlDocument:
    """Parse `path`; raise ConfigError for unreadable files and YAML syntax errors.

    Content issues (duplicate keys, unset variables, unknown tags) are collected
    in `YamlDocument.issues` so they are reported together with schema errors.
    Unset variables in the top-level sections `deferred` stay as written (`${VAR}`).
    `started`: a child already reading the file (gateway.forkedread.reading_early);
    its answer is used if it reads this very request.
    """
    if started is None or not started.matches(path, environ, deferred):
        started = fork_read(path, environ, deferred, child_answer) if _isolate(path) else None
    if started is not None:
        document = _collect(started)
        if document is not None:
            return document
    return _read(path, environ, deferred)


def _isolate(path: Path) -> bool:
    """Fork only where it is safe (no other thread) and worth it (a large file)."""
    return worth_forking(path, ISOLATE_FROM_BYTES)


def _read_isolated(
    path: Path, environ: Mapping[str, str] | None, deferred: frozenset[str]
) -> YamlDocument | None:
    """`_read` in a forked child, its result (or ConfigError) sent back pickled.

    The node tree of a 100k-tag file takes hundreds of MB while the data is
    built from it; the data's objects are allocated among the tree's, so the
    freed tree leaves the process's memory arenas fragmented and its RSS that
    high for good (measured: 632 MB at 100k tags, 225 MB this way). The
    child's memory goes with it; the parent holds only the plain data.
    None when the child failed in some other way: the caller reads in-process.
    """
    return _collect(fork_read(path, environ, deferred, child_answer))


def child_answer(path: Path, environ: Mapping[str, str] | None, deferred: frozenset[str]) -> bytes:
    """In the forked child: `_read`'s document, or its ConfigError's issues, pickled."""
    try:
        document = _read(path, environ, deferred)
        document._root = None  # the parent composes it again if it needs lines
        result: tuple[str, object] = ("ok", document)
    except ConfigError as error:
        result = ("error", error.issues)
    except BaseException:  # the parent reads in-process and reports it
        result = ("failed", None)
    return pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)


def _collect(started: ForkedRead) -> YamlDocument | None:
    """The child's document (its ConfigError raised here); None: read in-process."""
    payload = started.answer()
    if payload is None:
        return None
    kind, value = pickle.loads(payload)  # our own child's bytes
    if kind == "error" and isinstance(value, list):
        raise ConfigError(value)
    return value if kind == "ok" and isinstance(value, YamlDocument) else None


def _read(path: Path, environ: Mapping[str, str] | None, deferred: frozenset[str]) -> YamlDocument:
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(
            [ConfigIssue(file, None, "", f"cannot read the file: {reason}")]
        ) from None
    environ = os.environ if environ is None else environ
    try:
        with collector_paused():
            data = build_from_events(text, environ, deferred=deferred)
    except NeedsNodes:
        return _read_nodes(file, text, environ, deferred)
    return YamlDocument(file, data, text)


def _read_nodes(
    file: str, text: str, environ: Mapping[str, str], deferred: frozenset[str]
) -> YamlDocument:
    """The node path: compose, check the bounds, build; every issue with its line."""
    try:
        with collector_paused():
            root = yaml.compose(text, Loader=Composer)
    except yaml.MarkedYAMLError as exc:
        raise ConfigError([_syntax_issue(file, text, exc)]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigIssue(file, None, "", f"invalid YAML: {exc}")]) from None
    if root is None:
        raise ConfigError([ConfigIssue(file, None, "", "the file is empty")])
    overrun = find_overrun(root, text)  # before building: a hostile file must not get that far
    if overrun is not None:
        raise ConfigError([_located(file, overrun.node, overrun.path, overrun.message)])
    builder = DataBuilder(environ, deferred=deferred)
    try:
        with collector_paused():
            data = builder.build(root, ())
    except NestedTooDeep as exc:
        raise ConfigError([_located(file, exc.node, exc.path, str(exc))]) from None
    issues = [ConfigIssue(file, line, format_path(p), msg) for line, p, msg in builder.problems]
    document = YamlDocument(file, data, text, issues)
    if issues:
        document._root = root  # lines will be needed; keep the tree already built
    return document


def _located(file: str, node: Node, path: KeyPath, message: str) -> ConfigIssue:
    return ConfigIssue(file, node.start_mark.line + 1, format_path(path), message)


def _syntax_issue(file: str, text: str, exc: yaml.MarkedYAMLError) -> ConfigIssue:
    """The YAML error at the line where the parser gave up, with its context's line."""
    lines = text.splitlines()
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    message = f"invalid YAML: {exc.problem or 'syntax error'}"
    if line is not None and line > len(lines):  # the parser ran into the end of the file
        message += " at the end of the file"
        line = max(len(lines), 1)
    context = exc.context_mark
    if exc.context and context is not None and context.line + 1 != line:
        message += f" ({exc.context} started on line {context.line + 1})"
    elif exc.context:
        message += f" ({exc.context})"
    if line is not None and 0 < line <= len(lines) and "\t" in lines[line - 1]:
        message += "; tabs are not allowed for indentation, use spaces"
    return ConfigIssue(file, line, "", message)

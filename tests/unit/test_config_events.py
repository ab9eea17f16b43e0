"""The event builder (yamlevents) makes exactly the data the node path makes, or steps aside.

A clean file is read from the parser's events without a node tree; anything
else goes to the node path (compose, bounds, DataBuilder), which words the
issues. Both must never drift: every document here is read both ways, and
where the event builder answers, the node path must have found no issue and
built the same data, value for value and type for type.
"""

from __future__ import annotations

import json
import math
import textwrap
import tracemalloc
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)
from yaml.nodes import ScalarNode

from gateway.config import load_config, yamlevents, yamlsource
from gateway.config.yamlbuild import MAX_DEPTH, MERGE_TAG, STR_TAG, Composer
from gateway.config.yamlevents import NeedsNodes, build_from_events
from gateway.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
ENVIRON = {
    "HOME": "/home/op",
    "EMPTY": "",
    "PORT": "502",
    "GW_OPERATOR_PASSWORD": "s3cret",
    "GATEWAY_OPERATOR_PASSWORD": "op",
    "GATEWAY_VIEWER_PASSWORD": "viewer",
}
OPCUA = frozenset({"opcua"})


def typed(value: Any) -> Any:
    """`value` with every type spelled out: 1, 1.0 and True are equal in Python."""
    if isinstance(value, dict):
        return ("dict", [(key, typed(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ("list", [typed(item) for item in value])
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    return (type(value).__name__, value)


def containers(value: Any, seen: list[int]) -> list[int]:
    """The ids of every dict and list in `value`, once per place they are found."""
    if isinstance(value, dict | list):
        seen.append(id(value))
        for item in value.values() if isinstance(value, dict) else value:
            containers(item, seen)
    return seen


def both_ways(
    text: str, environ: Mapping[str, str] = ENVIRON, deferred: frozenset[str] = frozenset()
) -> bool:
    """Read `text` both ways; True when the event builder answered (and agreed)."""
    try:
        from_events = build_from_events(text, environ, deferred=deferred)
    except NeedsNodes:
        return False
    try:
        document = yamlsource._read_nodes("f.yaml", text, environ, deferred)
    except ConfigError as error:
        pytest.fail(f"events built a file the node path refuses: {error.issues}")
    assert document.issues == [], "events built a file with issues"
    assert typed(from_events) == typed(document.data)
    ids = containers(from_events, [])
    assert len(ids) == len(set(ids)), "an alias's value must be its own copy, as on the node path"
    return True


# Documents the event builder must read itself (and read as the node path does).
CLEAN = {
    "yaml-1.2-scalars": """
        words: [on, off, yes, no, y, n, NO, True, false, TRUE, ~, null, Null, '']
        numbers: [0, 7, -7, +3, 1_000, 0x1F, 0o17, 017, 00001, 1e3, 1.5, -.5, .inf, -.Inf, .nan]
        text: [1:30, 2024-01-02, 2024-01-02T10:00:00Z, '123', "true", 'null', 12:30:00]
        tagged: [!!str 12, !!int "12", !!int '010', !!float 1, !!bool true, !!null '']
        bytes: !!binary aGVsbG8=
        date: !!timestamp 2024-01-02
        nonspecific: [! 12, ! true]
        block: |
          two
          lines
        folded: >
          one
          line
        ref: 00001
    """,
    "environment": """
        a: ${HOME}/x
        b: ${UNSET:-fallback}
        c: ${EMPTY:-was empty}
        d: $$HOME and $$$$
        e: "${PORT}"
        f: 'a $ alone'
        g: ${EMPTY}
        list:
          - ${PORT}
          - '${PORT}'
    """,
    "anchors-and-aliases": """
        x-tags: &tags [{name: t0, address: 0}, {name: t1, address: 2, range: [0, 10]}]
        x-host: &host 10.0.0.1
        devices:
          - {name: d0, host: *host, tags: *tags}
          - {name: d1, host: *host, tags: *tags}
        again: &again {a: [1, 2], b: {c: [3]}}
        copies: [*again, *again]
    """,
    "merge-keys": """
        x-base: &base {port: 502, timeout: 1s, nested: {a: 1}}
        x-more: &more {timeout: 2s, unit: 7, nested: {b: 2}}
        one: {<<: *base, name: d}
        two: {<<: [*base, *more], name: d, port: 503}
        three: {<<: *base, <<: *more}
        inline: {<<: {a: [1]}, b: 2}
        empty: {<<: [], k: v}
        quoted: {'<<': not a merge}
        tagged: {!!merge <<: *base, !!str <<: text}
        deep: {list: [{<<: *base}, {<<: *base}]}
    """,
    "extension-keys": """
        x-ignored: {note: '${UNSET}', deep: [[[1]]]}
        x-also:
          var: ${UNSET}
        keep: {x-note: anything, value: 1}
        list: [{x-: 1, a: 2}]
    """,
    "keys-as-written": """
        1: int key
        true: bool key
        ${HOME}: a variable key stays as written
        after: "${HOME}"
        plain-after: ${HOME}
        "quoted": yes
        null: key
        ~: other
    """,
    "json": json.dumps(
        {
            "gateway": {"name": "g"},
            "devices": [{"name": "d", "tags": [{"name": "t", "range": [0, 1.5]}]}],
            "n": None,
            "t": True,
            "s": "${HOME}",
        }
    ),
    "other-roots": "[1, two, {three: 3}]",
    "scalar-root": "just text",
    "explicit-document": "---\na: 1\n...\n",
    "deferred-unset-stays": """
        opcua:
          users:
            - name: op
              password: ${UNSET_PASSWORD}
          merged:
            <<: {pw: '${UNSET}'}
        gateway: {name: g}
    """,
}

# Documents the node path must read (their issues, or forms left to it).
TO_NODES = {
    "syntax-error": "a: [1, 2\nb: 3\n",
    "empty": "# only a comment\n",
    "two-documents": "a: 1\n---\nb: 2\n",
    "duplicate-key": "a: 1\nb: 2\na: 3\n",
    "duplicate-after-merge": "x-m: &m {a: 1}\nk: {<<: *m, b: 1, b: 2}\n",
    "unset-variable": "a: ${UNSET}\n",
    "unset-password": "opcua: {password: '${UNSET}'}\n",
    "unset-at-the-top-merge": "<<: {a: '${UNSET}'}\n",
    "unset-in-an-anchor": "x-a: &a {p: '${UNSET}'}\nopcua: *a\n",
    "unknown-tag": "a: !custom 1\n",
    "bad-int": "a: !!int twelve\n",
    "bad-binary": "a: !!binary a\n",
    "seq-tag-on-a-scalar": "a: !!seq text\n",
    "undefined-alias": "a: *nowhere\n",
    "recursive-alias": "a: &a [1, *a]\n",
    "duplicate-anchor": "a: &x 1\nb: &x 2\n",
    "mapping-key": "? [a, b]\n: 1\n",
    "merge-of-a-scalar": "a: {<<: 1}\n",
    "merge-of-a-list-of-scalars": "a: {<<: [1, 2]}\n",
    "too-deep": "a: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n",
    "too-deep-through-an-alias": (
        "x-deep: &deep " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\nouter: [[*deep]]\n"
    ),
    # Forms the node path reads cleanly, left to it as rare: issues in an `x-` value
    # (dropped unread there), an anchor on a key, an alias as a key.
    "issues-in-an-extension": "x-notes: {dup: 1, dup: 2, bad: !!unknown 3}\na: 1\n",
    "anchored-key": "&k a: 1\nb: *k\n",
    "alias-key": "x-k: &k a\n*k : 1\n",
    # An unset variable in an anchor, aliased into a deferred section only.
    "unset-in-an-anchor-deferred": "x-a: &a {p: '${UNSET}'}\nopcua: *a\n",
}


@pytest.mark.parametrize("name", CLEAN)
def test_a_clean_document_is_read_from_events_as_the_node_path_reads_it(name: str) -> None:
    text = _dedent(CLEAN[name])
    deferred = OPCUA if name.startswith("deferred") else frozenset()
    assert both_ways(text, deferred=deferred)


@pytest.mark.parametrize("name", TO_NODES)
def test_a_document_with_an_issue_or_a_rare_form_goes_to_the_node_path(name: str) -> None:
    deferred = OPCUA if name.endswith("deferred") else frozenset()
    assert not both_ways(TO_NODES[name], deferred=deferred)


def test_a_deferred_section_keeps_unset_variables_only_when_deferred() -> None:
    text = _dedent(CLEAN["deferred-unset-stays"])
    assert both_ways(text, deferred=OPCUA)
    data = build_from_events(text, ENVIRON, deferred=OPCUA)
    assert data["opcua"]["users"][0]["password"] == "${UNSET_PASSWORD}"
    assert not both_ways(text)  # an issue when the section is used


def test_a_depth_just_within_the_bound_is_read_from_events() -> None:
    nested = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert both_ways(nested)
    assert both_ways("x-deep: &deep " + nested[2:-2] + "\nouter: [*deep]\n")


@pytest.mark.parametrize(
    "path",
    [
        ROOT / "tests/unit/configs/full.yaml",
        ROOT / "examples/demo.yaml",
        ROOT / "examples/all-types.yaml",
        ROOT / "gateway/demo/gateway.yaml",
        ROOT / "deploy/docker/gateway.yaml",
        ROOT / "simulators/plants/demo.yaml",
    ],
    ids=lambda path: str(path.relative_to(ROOT)),
)
def test_the_shipped_files_are_read_from_events(path: Path) -> None:
    assert both_ways(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("style", ["json", "block"])
def test_a_generated_plant_is_read_from_events_in_both_styles(tmp_path: Path, style: str) -> None:
    from gateway.bench.memstages import _write_config

    path = _write_config(300, tmp_path)
    text = path.read_text(encoding="utf-8")
    if style == "block":
        text = yaml.dump(json.loads(text), Dumper=yaml.CSafeDumper, sort_keys=False)
    assert both_ways(text)


def test_read_yaml_composes_no_tree_for_a_clean_file_until_a_line_is_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "plant.yaml"
    path.write_text("gateway: {name: g}\ndevices:\n  - name: d\n    host: h\n", encoding="utf-8")
    composed: list[str] = []
    real_compose = yaml.compose

    def compose(text: str, Loader: Any) -> Any:  # PyYAML's keyword
        composed.append(text)
        return real_compose(text, Loader=Loader)

    monkeypatch.setattr(yamlsource.yaml, "compose", compose)
    document = yamlsource.read_yaml(path, {})
    assert document.data == {"gateway": {"name": "g"}, "devices": [{"name": "d", "host": "h"}]}
    assert composed == []
    assert document.line_of(("devices", 0, "host")) == 4  # composed now, for the line
    assert len(composed) == 1


def test_a_billion_laughs_is_refused_on_the_event_path_before_any_copy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = ["x-l0: &l0 [" + ", ".join(['"lol"'] * 10) + "]"]
    lines += [f"x-l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * 10) + "]" for n in range(1, 9)]
    text = "\n".join([*lines, "devices: [*l8]"]) + "\n"  # 10⁹ "lol"s

    def no_copy(value: Any) -> Any:
        raise AssertionError("an alias's value was copied before the bound was checked")

    monkeypatch.setattr(yamlevents, "_copy", no_copy)
    tracemalloc.start()
    try:
        with pytest.raises(NeedsNodes):
            build_from_events(text, {})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000  # nothing expanded: the values of a few hundred bytes


def test_every_alias_is_counted_against_the_bound_before_it_is_copied(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each alias adds the nodes of its anchor, as yamlbounds counts them: at the bound
    the file is built, one alias past it steps aside (the node path then judges it)."""
    monkeypatch.setattr(yamlevents, "MAX_ALIAS_NODES", 1000)
    row = "x-row: &row [" + ", ".join(["0"] * 99) + "]"  # a list and 99 scalars: 100 nodes
    within = f"{row}\nrows: [" + ", ".join(["*row"] * 10) + "]\n"
    assert both_ways(within)
    with pytest.raises(NeedsNodes):
        build_from_events(within.replace("rows: [", "rows: [*row, "), {})


def test_a_hostile_file_is_refused_with_the_node_paths_issue(tmp_path: Path) -> None:
    block = "x-block: &block [" + ", ".join(["*row"] * 100) + "]"
    row = "x-row: &row [" + ", ".join(str(n) for n in range(100)) + "]"
    bomb = "bomb: [" + ", ".join(["*block"] * 120) + "]"
    path = tmp_path / "plant.yaml"
    path.write_text(f"gateway: {{name: g}}\n{row}\n{block}\n{bomb}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    (issue,) = caught.value.issues
    assert (issue.line, issue.path) == (4, "bomb")
    assert "would expand this to 1,212,121 values" in issue.message


def test_the_pyyaml_behaviour_the_event_builder_relies_on() -> None:
    """Fingerprints: if PyYAML changes these, the shortcuts in yamlevents are wrong."""
    merges = [
        (first, pattern.pattern)
        for first, resolvers in Composer.yaml_implicit_resolvers.items()
        for tag, pattern in resolvers
        if tag == MERGE_TAG
    ]
    assert merges == [("<", "^(?:<<)$")]  # only the plain `<<` resolves to a merge key
    loader = Composer("")
    for text in ("123", "true", "~", "<<", ""):
        assert loader.resolve(ScalarNode, text, (False, True)) == STR_TAG  # not plain: text
    events = list(yaml.parse("a: [b, 'c']\n", Loader=Composer))
    assert [type(event) for event in events] == [
        StreamStartEvent,
        DocumentStartEvent,
        MappingStartEvent,
        ScalarEvent,
        SequenceStartEvent,
        ScalarEvent,
        ScalarEvent,
        SequenceEndEvent,
        MappingEndEvent,
        DocumentEndEvent,
        StreamEndEvent,
    ]
    plain, quoted = events[5], events[6]
    assert (plain.tag, plain.implicit, plain.style) == (None, (True, False), "")
    assert (quoted.tag, quoted.implicit, quoted.style) == (None, (False, True), "'")


# Generated documents: trees of nodes written by PyYAML's emitter, then read both ways.

_TEXTS = [
    "a", "on", "NO", "yes", "true", "False", "00001", "0x1F", "017", "1_000", "1:30",
    "2024-01-02", "1e3", "1.5", ".inf", ".nan", "~", "null", "", "12", "-7", "0",
    "${HOME}", "${UNSET}", "${UNSET:-d}", "${EMPTY:-e}", "$$x", "a$b", "<<", "x-y",
    "two words", "a: b", "[1]", "multi\nline",
]  # fmt: skip
_KEYS = ["a", "b", "c", "<<", "<<", "password", "opcua", "1", "true", "${HOME}", "x-c"]
_TAGS = [None] * 24 + [
    "!", "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null", "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:merge", "!custom",
]  # fmt: skip
_STYLES = [None, None, None, "'", '"', "|"]
_ANCHORED = st.sampled_from([False, False, False, True])

# ("scalar", anchored, tag, text, style) | ("alias", choice) | ("seq", anchored, flow, items)
# | ("map", anchored, flow, [(key, value)]); anchors are named and aliases aimed later.
_scalar = st.tuples(
    st.just("scalar"),
    _ANCHORED,
    st.sampled_from(_TAGS),
    st.sampled_from(_TEXTS),
    st.sampled_from(_STYLES),
)
_alias = st.tuples(st.just("alias"), st.integers(min_value=0, max_value=7))
_plain_key = st.sampled_from(_KEYS).map(lambda key: ("scalar", False, None, key, None))
_key = st.one_of(_plain_key, _plain_key, _plain_key, _scalar, _alias)


def _collections(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.tuples(st.just("seq"), _ANCHORED, st.booleans(), st.lists(children, max_size=4)),
        st.tuples(
            st.just("map"),
            _ANCHORED,
            st.booleans(),
            st.lists(st.tuples(_key, children), max_size=5),
        ),
    )


_tree = st.recursive(st.one_of(_scalar, _scalar, _alias), _collections, max_leaves=30)


class _Writer:
    """Events for a tree, shaped as a real file would be.

    Anchors are named apart, each alias is aimed at an anchor closed before
    it, keys are plain and unique, a merge key gets mappings. `wild` keeps the
    tree as drawn: aliases aimed anywhere (undefined, or recursive), aliases and
    anchors as keys, duplicate keys, merges of anything: the node path judges.
    """

    def __init__(self, wild: bool) -> None:
        self.wild = wild
        self.closed: list[tuple[str, str]] = []  # (anchor, node kind), in document order
        self.names = 0

    def events(self, node: Any, *, merge: bool = False) -> list[Any]:
        kind = node[0]
        if kind == "alias":
            return self._alias(node[1], merge=merge)
        if merge and not self.wild and kind != "map":
            if kind == "scalar" or not node[3]:
                node = ("map", False, True, [(("scalar", False, None, "m", None), node)])
            else:  # a list of mappings
                empty = ("map", False, True, [])
                node = (
                    *node[:3],
                    [item if item[0] in ("map", "alias") else empty for item in node[3]],
                )
            kind = node[0]
        anchor = None
        if node[1]:
            self.names += 1
            anchor = f"a{self.names}"
        if kind == "scalar":
            _, _, tag, value, style = node
            implicit = (True, True) if tag is None else (False, False)
            found = [ScalarEvent(anchor, tag, implicit, value, style=style)]
        elif kind == "seq":
            inner = [event for child in node[3] for event in self.events(child, merge=merge)]
            start = SequenceStartEvent(anchor, None, True, flow_style=node[2])
            found = [start, *inner, SequenceEndEvent()]
        else:
            inner = []
            keys: set[str] = set()
            for key, value in node[3]:
                if not self.wild:
                    if key[0] != "scalar" or key[1] or key[3] in keys:
                        continue
                    if key[3] != "<<":  # several merge keys are fine
                        keys.add(key[3])
                inner += self.events(key)
                is_merge = key[0] == "scalar" and key[3] == "<<"
                inner += self.events(value, merge=is_merge)
            start = MappingStartEvent(anchor, None, True, flow_style=node[2])
            found = [start, *inner, MappingEndEvent()]
        if anchor is not None:
            self.closed.append((anchor, kind))
        return found

    def _alias(self, choice: int, *, merge: bool) -> list[Any]:
        if self.wild:
            return [AliasEvent(f"a{choice % (self.names + 2)}")]  # a0 is never defined
        targets = [name for name, kind in self.closed if kind == "map" or not merge]
        if targets:
            return [AliasEvent(targets[choice % len(targets)])]
        if merge:
            return [MappingStartEvent(None, None, True), MappingEndEvent()]
        return [ScalarEvent(None, None, (True, True), "instead")]


def _emit(root: Any, wild: bool) -> str | None:
    body = _Writer(wild).events(root)
    stream = [StreamStartEvent(), DocumentStartEvent(), *body, DocumentEndEvent(), StreamEndEvent()]
    try:
        return yaml.emit(stream)
    except yaml.YAMLError:
        return None  # a form the emitter refuses to write


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    root=st.one_of(_collections(_tree).filter(lambda node: node[0] == "map"), _tree),
    wild=st.sampled_from([False, False, False, True]),
    deferred=st.sampled_from([frozenset(), OPCUA]),
)
def test_generated_documents_read_alike_both_ways(
    root: Any, wild: bool, deferred: frozenset[str]
) -> None:
    text = _emit(root, wild)
    if text is None:
        return
    answered = both_ways(text, deferred=deferred)
    simple = not wild and "x-" not in text and "!!seq" not in text and "&" not in text
    if simple and not answered:  # the fast path must not quietly rot
        try:
            document = yamlsource._read_nodes("f.yaml", text, ENVIRON, deferred)
        except ConfigError:
            return
        assert document.issues, f"a clean, simple document went to the node path:\n{text}"


def _dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")

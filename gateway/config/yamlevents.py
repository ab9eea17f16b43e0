"""Plain data straight from the parser's events, for a file without problems.

Composing the node tree costs about twice the parse itself (a node, two marks
and three Python calls per scalar), and the tree is thrown away once the data
is built. This builder reads the C parser's events instead and makes the same
data as yamlbuild.DataBuilder makes from the tree: YAML 1.2 scalars through
the same memoised resolver, `${VAR}`, merge keys, anchors and aliases, `x-`
keys skipped, every alias's value a copy of its own.

It reports no problem itself. On anything the node path would report or
refuse (a syntax error, a duplicate key, an unset variable, an unknown tag, a
recursive alias, too deep a nesting, aliases over yamlbounds.MAX_ALIAS_NODES)
and on forms it leaves to that path (an anchored or non-scalar key, a second
anchor of one name) it raises NeedsNodes, and the caller composes the tree,
whose path words each issue with its line. So messages have one source, and a
file the fast path took has no issue to report.

The bounds hold here too, before anything is expanded: an alias's value is
shared while the file is read, every alias adds the nodes its anchor stands
for to a count checked against MAX_ALIAS_NODES on the spot, and only a file
within the bound gets its copies made at the end. The depth of every alias's
value is added to the depth where it is used, against yamlbuild.MAX_DEPTH.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
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

from gateway.config.yamlbounds import MAX_ALIAS_NODES
from gateway.config.yamlbuild import (
    EXTENSION_PREFIX,
    MAX_DEPTH,
    MERGE_TAG,
    STR_TAG,
    Composer,
    expand_env,
    scalar_value,
)

__all__ = ["NeedsNodes", "build_from_events"]

#: Scalar tags read here; any other (unknown, or a collection's tag on a scalar)
#: goes to the node path, which reports it or builds whatever it builds.
_SCALAR_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "binary", "timestamp")
)

#: A built node: its value, the nodes it stands for with its aliases expanded
#: (counted as yamlbounds counts them) and how many collections deep it nests.
_Built = tuple[Any, int, int]

_UNSEEN = object()


class NeedsNodes(Exception):
    """The file needs the node path: an issue to word with its line, or a rare form."""


def build_from_events(
    text: str, environ: Mapping[str, str], *, deferred: frozenset[str] = frozenset()
) -> Any:
    """The data of `text`, as DataBuilder would build it; NeedsNodes if it cannot say.

    `environ` and `deferred` are DataBuilder's: variables for `${VAR}`, and the
    top-level sections whose unset variables stay as written.
    """
    loader = Composer(text)
    try:
        return _EventBuilder(loader, environ, deferred).document()
    except yaml.YAMLError:
        raise NeedsNodes from None  # the node path words the syntax error
    finally:
        loader.dispose()


class _EventBuilder:
    """One pass over the events; recursive per collection, never deeper than MAX_DEPTH."""

    def __init__(self, loader: Any, environ: Mapping[str, str], deferred: frozenset[str]) -> None:
        self._next_event: Any = loader.get_event
        self._resolve: Any = loader.resolve  # yamlbuild.Composer's, memoised
        self._environ = environ
        self._deferred = deferred
        self._constructor = SafeConstructor()
        #: Plain scalar text → value: it depends on the text alone (but for `${VAR}`).
        self._plain: dict[str, Any] = {}
        #: Quoted text without `$`, and keys (as written: apart, a key `${X}` is no
        #: value), each kept once: a plant repeats its words (`name`, `float32`,
        #: `degC`) in every tag, and one object each is less to keep and to pickle
        #: from the forked child (yamlsource._read_isolated).
        self._texts: dict[str, str] = {}
        self._keys: dict[str, str] = {}
        #: Anchor → its built node; None while it is still being read (an alias
        #: to it then is recursive).
        self._anchors: dict[str, _Built | None] = {}
        self._anchored = 0  # anchored nodes being read: their value must not depend on the place
        self._ignored = 0  # `x-` values being read: their value is dropped
        self._section: str | None = None  # the top-level key being read
        self._expansion = 0  # nodes the aliases add, against MAX_ALIAS_NODES
        #: Slots holding a collection that is also somewhere else (an alias's
        #: value, a merged value): each gets a copy once the file is read.
        self._copies: list[tuple[Any, Any]] = []

    def document(self) -> Any:
        next_event = self._next_event
        if type(next_event()) is not StreamStartEvent:
            raise NeedsNodes  # pragma: no cover - the parser always starts so
        if type(next_event()) is not DocumentStartEvent:
            raise NeedsNodes  # an empty file
        value, _, _ = self._node(next_event(), 0)
        if type(next_event()) is not DocumentEndEvent or type(next_event()) is not StreamEndEvent:
            raise NeedsNodes  # a second document
        for holder, slot in self._copies:  # within the bounds: now the copies are made
            holder[slot] = _copy(holder[slot])
        return value

    def _node(self, event: Any, level: int) -> _Built:
        """The node `event` starts, inside `level` collections."""
        kind = type(event)
        if kind is AliasEvent:
            return self._alias(event.anchor, level)
        anchor = event.anchor
        if anchor is not None:
            if anchor in self._anchors:
                raise NeedsNodes  # the composer refuses a second anchor of one name
            self._anchors[anchor] = None
            self._anchored += 1
        if kind is ScalarEvent:
            built: _Built = (self._scalar(event), 1, 0)
        elif kind is MappingStartEvent:
            built = self._mapping(level + 1)
        elif kind is SequenceStartEvent:
            built = self._sequence(level + 1)
        else:  # pragma: no cover - the parser sends nothing else where a node goes
            raise NeedsNodes
        if anchor is not None:
            self._anchored -= 1
            self._anchors[anchor] = built
        return built

    def _alias(self, anchor: str, level: int) -> _Built:
        built = self._anchors.get(anchor)
        if built is None:
            raise NeedsNodes  # undefined, or recursive: inside its own anchor
        if level + built[2] > MAX_DEPTH:
            raise NeedsNodes
        self._expansion += built[1]
        if self._expansion > MAX_ALIAS_NODES:
            raise NeedsNodes  # a "billion laughs" ends here, before any copy
        return built

    def _sequence(self, level: int) -> _Built:
        if level > MAX_DEPTH:
            raise NeedsNodes
        items: list[Any] = []
        size, height = 1, 0
        next_event, plain, texts = self._next_event, self._plain, self._texts
        while True:
            event = next_event()
            kind = type(event)
            if kind is ScalarEvent and event.tag is None and event.anchor is None:
                value = (plain if event.implicit[0] else texts).get(event.value, _UNSEEN)
                items.append(self._scalar(event) if value is _UNSEEN else value)
                size += 1
                continue
            if kind is SequenceEndEvent:
                return items, size, height + 1
            value, nodes, depth = self._node(event, level)
            if depth and kind is AliasEvent:
                self._copies.append((items, len(items)))
            items.append(value)
            size += nodes
            height = max(height, depth)

    def _mapping(self, level: int) -> _Built:
        if level > MAX_DEPTH:
            raise NeedsNodes
        result: dict[str, Any] = {}
        merged: dict[str, Any] | None = None
        aliased: list[str] = []  # keys whose value is an alias's
        size, height = 1, 0
        top = level == 1
        next_event, plain, texts, keys = self._next_event, self._plain, self._texts, self._keys
        while True:
            event = next_event()
            kind = type(event)
            if kind is MappingEndEvent:
                break
            if kind is not ScalarEvent or event.anchor is not None:
                raise NeedsNodes  # a non-scalar key is an issue; an anchored one is rare
            key: str = event.value
            key = keys.setdefault(key, key)
            if (key == "<<" or event.tag is not None) and self._is_merge(event):
                if top:
                    self._section = None  # DataBuilder merges at the mapping's own path
                value, nodes, depth = self._node(next_event(), level)
                merged = {**_merge_sources(value), **(merged or {})}
            elif key.startswith(EXTENSION_PREFIX):
                self._ignored += 1
                self._node(next_event(), level)  # only for the anchors in it
                self._ignored -= 1
                continue
            elif key in result:
                raise NeedsNodes  # a duplicate key
            else:
                if top:
                    self._section = key
                event = next_event()
                kind = type(event)
                if kind is ScalarEvent and event.tag is None and event.anchor is None:
                    value = (plain if event.implicit[0] else texts).get(event.value, _UNSEEN)
                    result[key] = self._scalar(event) if value is _UNSEEN else value
                    size += 2
                    continue
                value, nodes, depth = self._node(event, level)
                if depth and kind is AliasEvent:
                    aliased.append(key)
                result[key] = value
            size += 1 + nodes
            height = max(height, depth)
        return self._finish(result, merged, aliased), size, height + 1

    def _finish(
        self, result: dict[str, Any], merged: dict[str, Any] | None, aliased: list[str]
    ) -> dict[str, Any]:
        """The mapping with its merged keys (its own win), its shared slots noted."""
        if merged is not None:
            final = {**merged, **result}
            shared = [key for key, value in merged.items() if key not in result and _is_tree(value)]
            self._copies += [(final, key) for key in shared]  # also in the merge's sources
            result = final
        self._copies += [(result, key) for key in aliased]
        return result

    def _is_merge(self, event: Any) -> bool:
        """A `<<` key (only that text resolves to the merge tag), or one tagged `!!merge`."""
        tag = event.tag
        if tag is None or tag == "!":
            tag = self._resolve(ScalarNode, event.value, event.implicit)
        return bool(tag == MERGE_TAG)

    def _scalar(self, event: Any) -> Any:
        """A scalar's value; the callers look up the two caches first, this fills them."""
        value: str = event.value
        tag = event.tag
        if tag is None:
            if not event.implicit[0]:  # quoted or a block scalar: text
                if "$" in value:
                    return self._expand(value)
                return self._texts.setdefault(value, value)
            found = self._plain.get(value, _UNSEEN)
            if found is not _UNSEEN:
                return found
            tag = self._resolve(ScalarNode, value, event.implicit)
            if tag == STR_TAG and "$" in value:
                return self._expand(value)  # depends on the section: not kept
            found = value if tag == STR_TAG else self._typed(tag, value, event.style)
            self._plain[value] = found
            return found
        if tag == "!":
            tag = self._resolve(ScalarNode, value, event.implicit)
        if tag == STR_TAG:
            return self._expand(value) if "$" in value else value
        return self._typed(tag, value, event.style)

    def _typed(self, tag: str, value: str, style: str | None) -> Any:
        if tag not in _SCALAR_TAGS:
            raise NeedsNodes
        try:
            return scalar_value(self._constructor, ScalarNode(tag, value, style=style))
        except Exception:  # ScalarProblem, or whatever the node path meets there too
            raise NeedsNodes from None

    def _expand(self, value: str) -> str:
        """`${VAR}` as DataBuilder expands it, where the outcome cannot depend on the place."""
        text, missing = expand_env(value, self._environ)
        if not missing:
            return text
        if self._anchored:
            raise NeedsNodes  # each alias's place decides: the node path builds each
        if self._ignored:
            return text  # dropped with its `x-` key
        if self._section in self._deferred:
            return value  # DataBuilder leaves it as written
        raise NeedsNodes  # an unset variable: an issue


def _merge_sources(value: Any) -> dict[str, Any]:
    """A merge key's mapping, or its list of mappings (earlier ones take precedence)."""
    sources = value if type(value) is list else [value]
    merged: dict[str, Any] = {}
    for source in reversed(sources):
        if type(source) is not dict:
            raise NeedsNodes  # an issue: a merge key needs mappings
        merged.update(source)
    return merged


def _is_tree(value: Any) -> bool:
    return type(value) is dict or type(value) is list


def _copy(value: Any) -> Any:
    """A copy of plain data, down to its scalars (which are immutable)."""
    if type(value) is dict:
        return {key: _copy(item) for key, item in value.items()}
    if type(value) is list:
        return [_copy(item) for item in value]
    return value

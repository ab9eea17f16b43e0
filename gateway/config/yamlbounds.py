"""The bound on alias expansion, checked on the composed file before any data is built.

Composing is cheap even for a hostile file: an alias (`*name`) is the same
node object as its anchor, so a 400-byte "billion laughs" composes into a few
dozen nodes. Building data from them copies every alias, which is where such a
file takes minutes and gigabytes. So the node graph is measured first, in time
linear in its distinct nodes: how many nodes the data would have once every
alias is expanded. A file over the bound is refused with the line where the
expansion happens. (Nesting depth is bounded by the builder: yamlbuild.MAX_DEPTH.)

The event builder (yamlevents), which reads clean files without a node tree,
counts every alias against the same MAX_ALIAS_NODES as it reads, before it
copies anything; a file over it goes to the node path, which refuses it here.
"""

from __future__ import annotations

from dataclasses import dataclass

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from gateway.config.yamlbuild import EXTENSION_PREFIX, KeyPath

__all__ = ["MAX_ALIAS_NODES", "Overrun", "find_overrun"]

#: Nodes that aliases may add to a file, beyond the nodes written in it. A real
#: configuration reuses a device's defaults or a tag list a few times (a 1,000-tag
#: list shared by 50 devices adds about 600,000 nodes); a "billion laughs" adds
#: hundreds of millions.
MAX_ALIAS_NODES = 1_000_000


@dataclass(frozen=True, slots=True)
class Overrun:
    """Where a bound is exceeded: the node to blame, its key path, and why."""

    node: Node
    path: KeyPath
    message: str


def find_overrun(root: Node, text: str) -> Overrun | None:
    """An Overrun when `root`'s aliases would expand it too far, else None.

    Only a file with aliases can expand, and an alias needs a `*` in the text:
    the common file without one costs nothing here. (Nesting is bounded while
    building: yamlbuild.MAX_DEPTH.)
    """
    if "*" not in text:
        return None
    size = _expanded_sizes(root)
    extra = size[id(root)] - len(size)
    if extra <= MAX_ALIAS_NODES:
        return None
    node, path = _blame(root, size)
    return Overrun(
        node,
        path,
        f"aliases (*name) would expand this to {size[id(node)]:,} values, adding "
        f"{extra:,} to the file, more than the {MAX_ALIAS_NODES:,} allowed "
        '(a "billion laughs"?): write the values out or reuse fewer',
    )


def _children(node: Node) -> list[tuple[str | int | None, Node]]:
    """(key path part, child) pairs the data builder would visit, `x-` keys skipped."""
    if isinstance(node, SequenceNode):
        return list(enumerate(node.value))
    if not isinstance(node, MappingNode):
        return []
    pairs: list[tuple[str | int | None, Node]] = []
    for key, value in node.value:
        name = key.value if isinstance(key, ScalarNode) else None
        if isinstance(name, str) and name.startswith(EXTENSION_PREFIX):
            continue
        pairs.append((None, key))
        pairs.append((name, value))
    return pairs


def _expanded_sizes(root: Node) -> dict[int, int]:
    """Nodes each distinct node stands for once its aliases are expanded (iteratively).

    A node already on the path (a recursive alias, which the builder reports)
    counts as one, so the walk always ends.
    """
    size: dict[int, int] = {}
    visiting: set[int] = set()
    stack: list[tuple[Node, list[Node] | None]] = [(root, None)]
    while stack:
        node, children = stack.pop()
        key = id(node)
        if children is not None:  # every child is measured: add them up
            visiting.discard(key)
            size[key] = 1 + sum(size.get(id(child), 1) for child in children)
            continue
        if key in size or key in visiting:
            continue
        visiting.add(key)
        children = [child for _, child in _children(node)]
        stack.append((node, children))
        stack.extend((child, None) for child in children)
    return size


def _blame(root: Node, size: dict[int, int]) -> tuple[Node, KeyPath]:
    """Follow the biggest child down to the node that repeats an alias: the place to look."""
    references: dict[int, int] = {}
    _count_references(root, references)  # only now, for the rare refused file
    node, path = root, KeyPath()
    while True:
        children = _children(node)
        if not children:
            return node, path
        part, child = max(children, key=lambda pair: size.get(id(pair[1]), 1))
        if references.get(id(child), 0) > 1:
            return node, path
        node = child
        path = path if part is None else (*path, part)


def _count_references(root: Node, references: dict[int, int]) -> None:
    """How many times each node is a child (an anchored node used by aliases: more than once)."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for _, child in _children(node):
            references[id(child)] = references.get(id(child), 0) + 1
            stack.append(child)

"""NODE arguments as users type them, and NodeIds printed so they can be pasted back.

Accepted forms (pure parsing; the namespace is resolved once connected):

    boiler.temperature          a string id in the gateway's namespace (the friendly form)
    ns=2;s=boiler.temperature   the standard form, by namespace index
    nsu=urn:x;s=boiler.temp     by namespace URI (stable across servers)
    i=2253                      a numeric id in namespace 0 (here: the Server object)

The identifier kinds are i (numeric), s (string), g (GUID) and b (opaque, base64).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["NodeRef", "format_node", "parse_node"]

_KINDS = "isgb"
_STANDARD = re.compile(
    r"^(?:ns=(?P<ns>\d+);|nsu=(?P<nsu>[^;]+);)?(?P<kind>[isgb])=(?P<id>.+)$", re.S
)


@dataclass(frozen=True, slots=True)
class NodeRef:
    """A parsed NODE argument: where its namespace comes from, and its identifier.

    `namespace_index` and `namespace_uri` are both None for the friendly form
    (the gateway's namespace); `i=` without a namespace is namespace 0.
    """

    text: str
    kind: str
    identifier: str
    namespace_index: int | None = None
    namespace_uri: str | None = None

    @property
    def friendly(self) -> bool:
        return self.namespace_index is None and self.namespace_uri is None


def parse_node(text: str) -> NodeRef:
    """Parse one NODE argument; a ValueError says what was expected."""
    text = text.strip()
    if not text:
        raise ValueError("empty node id")
    match = _STANDARD.match(text)
    if match is None:
        if text.startswith(("ns=", "nsu=")):
            raise ValueError(
                f"{text!r} is not a node id: expected ns=N;s=NAME, nsu=URI;s=NAME, i=N "
                "or a gateway name such as boiler.temperature"
            )
        return NodeRef(text, "s", text)
    kind, identifier = match["kind"], match["id"]
    if kind == "i" and not identifier.isdigit():
        raise ValueError(f"{text!r}: a numeric id (i=) must be a whole number")
    namespace = match["ns"]
    uri = match["nsu"]
    if namespace is None and uri is None:
        return NodeRef(text, kind, identifier, namespace_index=0)
    return NodeRef(
        text, kind, identifier, namespace_index=None if namespace is None else int(namespace),
        namespace_uri=uri,
    )  # fmt: skip


def format_node(kind: str, identifier: str, namespace: int, *, gateway_namespace: int) -> str:
    """The shortest text `parse_node` reads back as the same node.

    Gateway string ids print bare (`boiler.temperature`) unless they would
    parse as another form; namespace 0 prints without `ns=0;`.
    """
    if kind not in _KINDS:
        raise ValueError(f"unknown identifier kind {kind!r}")
    if (
        namespace == gateway_namespace
        and kind == "s"
        and _STANDARD.match(identifier) is None
        and not identifier.startswith(("ns=", "nsu="))
        and identifier == identifier.strip()
    ):
        return identifier
    if namespace == 0:
        return f"{kind}={identifier}"
    return f"ns={namespace};{kind}={identifier}"

"""Browse in time linear in the references of the node, not in the reference type tree.

asyncua's ViewService checks every reference against the requested
reference type by walking that type's subtype tree again, per reference:
measured, browsing the node with the most references (i=22, 267) for
References with subtypes took 20 ms, so one Browse of 1,000 such nodes held
the event loop for 20 s. `Browser` computes each reference type's subtypes
once (the type tree does not change: no client may add nodes) and filters a
node's references by set membership: the same results in asyncua's order,
about 40 times faster. Services yield to the event loop between nodes.
"""

from __future__ import annotations

from collections import OrderedDict

from asyncua import ua

from gateway.ua.wire import ObjectIds, StatusCodes, node_id, status_code

__all__ = ["Browser"]

_HAS_SUBTYPE = node_id(ObjectIds.HasSubtype)
_NULL = node_id(ObjectIds.Null)
_BOTH = ua.BrowseDirection.Both
_FORWARD = ua.BrowseDirection.Forward
_DIRECTIONS = (_FORWARD, ua.BrowseDirection.Inverse, _BOTH)
#: Reference types whose subtype sets are kept (there are about 40 in the standard).
_CACHED_TYPES = 256


class Browser:
    """Browses one address space (asyncua's `AddressSpace`: `get(nodeid)`)."""

    def __init__(self, aspace: object) -> None:
        self._aspace = aspace
        self._subtypes: OrderedDict[ua.NodeId, frozenset[ua.NodeId]] = OrderedDict()

    def browse(self, description: ua.BrowseDescription) -> ua.BrowseResult:
        """The references of one node that match `description` (asyncua's rules)."""
        result = ua.BrowseResult()
        node = self._aspace.get(description.NodeId)  # type: ignore[attr-defined]
        if node is None:
            result.StatusCode = status_code(StatusCodes.BadNodeIdInvalid)
            return result
        reference_type = description.ReferenceTypeId
        allowed: frozenset[ua.NodeId] | None = None
        if reference_type is not None and reference_type != _NULL:
            allowed = (
                self.subtypes(reference_type)
                if description.IncludeSubtypes
                else frozenset({reference_type})
            )
        direction = description.BrowseDirection
        if direction not in _DIRECTIONS:
            result.StatusCode = status_code(StatusCodes.BadBrowseDirectionInvalid)
            return result
        forward = direction == _FORWARD
        mask = description.NodeClassMask
        result.References = [
            ref
            for ref in node.references
            if (direction == _BOTH or ref.IsForward == forward)
            and (allowed is None or ref.ReferenceTypeId in allowed)
            and (not mask or mask & ref.NodeClass)
        ]
        return result

    def subtypes(self, reference_type: ua.NodeId) -> frozenset[ua.NodeId]:
        """The reference type and all its subtypes (HasSubtype, transitively)."""
        found = self._subtypes.get(reference_type)
        if found is not None:
            self._subtypes.move_to_end(reference_type)
            return found
        collected = {reference_type}
        pending = [reference_type]
        while pending:
            node = self._aspace.get(pending.pop())  # type: ignore[attr-defined]
            if node is None:
                continue
            for ref in node.references:
                subtype = ref.IsForward and ref.ReferenceTypeId == _HAS_SUBTYPE
                if subtype and ref.NodeId not in collected:
                    collected.add(ref.NodeId)
                    pending.append(ref.NodeId)
        found = self._subtypes[reference_type] = frozenset(collected)
        while len(self._subtypes) > _CACHED_TYPES:
            self._subtypes.popitem(last=False)
        return found

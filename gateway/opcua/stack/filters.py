"""Monitored-item filters checked before asyncua evaluates them.

asyncua evaluates an event filter's WhereClause recursively, element by
element, on every event: an element that refers to itself recursed until
Python gave up, operators it does not implement raised, and each failure
logged a traceback per event. A data-change filter with a deadband on a
string raised on every change. Here a filter is accepted only if every
operator is one asyncua implements, with the right number of operands, and
element references only point forward (no cycles, depth bounded by the
element count); anything else is refused when the item is created or
modified, with the OPC UA status code that says why.
"""

from __future__ import annotations

import math

from asyncua import ua

from gateway.opcua.guards.limits import ServerLimits
from gateway.ua.wire import StatusCodes

__all__ = ["check_data_filter", "check_event_filter", "is_null"]

_F = ua.FilterOperator
#: Operators asyncua's WhereClauseEvaluator implements → (fewest, most) operands.
_ARITY: dict[ua.FilterOperator, tuple[int, int]] = {
    _F.Equals: (2, 2),
    _F.IsNull: (1, 1),
    _F.GreaterThan: (2, 2),
    _F.LessThan: (2, 2),
    _F.GreaterThanOrEqual: (2, 2),
    _F.LessThanOrEqual: (2, 2),
    _F.Not: (1, 1),
    _F.Between: (3, 3),
    _F.InList: (2, 1024),  # asyncua lists every event subtype: 101 for BaseEventType
    _F.And: (2, 2),
    _F.Or: (2, 2),
    _F.OfType: (1, 1),
}
#: Elements of a browse path in a select clause or operand.
_MAX_PATH = 8
#: Built-in numeric DataTypes (SByte i=2 … Double i=11): where an absolute deadband applies.
_NUMERIC_TYPES = frozenset(range(2, 12))


def check_event_filter(flt: object, limits: ServerLimits) -> int:
    """0 if an event item may use `flt`, else the status code refusing it."""
    if not isinstance(flt, ua.EventFilter):
        return StatusCodes.BadEventFilterInvalid
    select = flt.SelectClauses or []
    if len(select) > limits.max_select_clauses:
        return StatusCodes.BadEventFilterInvalid
    for clause in select:
        if not isinstance(clause, ua.SimpleAttributeOperand) or not _short_path(clause):
            return StatusCodes.BadEventFilterInvalid
    elements = flt.WhereClause.Elements if flt.WhereClause is not None else []
    if len(elements) > limits.max_filter_elements:
        return StatusCodes.BadEventFilterInvalid
    for index, element in enumerate(elements):
        code = _check_element(index, element, len(elements))
        if code:
            return code
    return 0


def _check_element(index: int, element: object, count: int) -> int:
    if not isinstance(element, ua.ContentFilterElement):
        return StatusCodes.BadEventFilterInvalid
    arity = _ARITY.get(element.FilterOperator)
    if arity is None:
        return StatusCodes.BadFilterOperatorUnsupported
    operands = element.FilterOperands or []
    if not arity[0] <= len(operands) <= arity[1]:
        return StatusCodes.BadFilterOperandCountMismatch
    for operand in operands:
        if isinstance(operand, ua.ElementOperand):
            if not index < operand.Index < count:  # forward only: no cycle, bounded depth
                return StatusCodes.BadFilterOperandInvalid
        elif isinstance(operand, ua.SimpleAttributeOperand):
            if not _short_path(operand):
                return StatusCodes.BadFilterOperandInvalid
        elif isinstance(operand, ua.AttributeOperand):
            path = operand.BrowsePath
            if path is None or not 0 < len(path.Elements or []) <= _MAX_PATH:
                return StatusCodes.BadFilterOperandInvalid
        elif not isinstance(operand, ua.LiteralOperand):
            return StatusCodes.BadFilterOperandInvalid
    return 0


def _short_path(operand: ua.SimpleAttributeOperand) -> bool:
    return len(operand.BrowsePath or []) <= _MAX_PATH


def is_null(flt: object) -> bool:
    """No filter: None, or the null ExtensionObject a client sends for "no filter"."""
    return flt is None or (isinstance(flt, ua.ExtensionObject) and flt.Body is None)


def check_data_filter(flt: object, data_type: object) -> int:
    """0 if a data-change item on a node of `data_type` (a NodeId) may use `flt`."""
    if is_null(flt):
        return 0
    if not isinstance(flt, ua.DataChangeFilter):
        return StatusCodes.BadMonitoredItemFilterUnsupported
    if flt.DeadbandType == ua.DeadbandType.None_:
        return 0
    if flt.DeadbandType != ua.DeadbandType.Absolute:
        return StatusCodes.BadMonitoredItemFilterUnsupported  # Percent needs an EURange
    value = flt.DeadbandValue
    if not isinstance(value, float | int) or not math.isfinite(value) or value < 0:
        return StatusCodes.BadDeadbandFilterInvalid
    numeric = (
        isinstance(data_type, ua.NodeId)
        and data_type.NamespaceIndex == 0
        and data_type.Identifier in _NUMERIC_TYPES
    )
    return 0 if numeric else StatusCodes.BadFilterNotAllowed

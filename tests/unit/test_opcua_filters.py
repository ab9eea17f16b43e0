"""Monitored-item filters checked before asyncua evaluates them (stack/filters.py).

asyncua evaluates a WhereClause recursively on every event: an element that
refers to itself recursed until Python gave up, unimplemented operators
raised, and a deadband on a string raised on every change. Each such filter
is refused up front with the status code that says why.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from asyncua import ua

from gateway.opcua.guards import ServerLimits
from gateway.opcua.stack.filters import check_data_filter, check_event_filter, is_null

LIMITS = ServerLimits()
F = ua.FilterOperator
S = ua.StatusCodes
GOOD = 0


def _literal(value: object = 1) -> ua.LiteralOperand:
    return ua.LiteralOperand(Value=ua.Variant(value))


def _field(*path: str) -> ua.SimpleAttributeOperand:
    return ua.SimpleAttributeOperand(
        TypeDefinitionId=ua.NodeId(ua.ObjectIds.BaseEventType),
        BrowsePath=[ua.QualifiedName(name, 0) for name in path],
        AttributeId=ua.AttributeIds.Value,
    )


def _element(operator: ua.FilterOperator, *operands: object) -> ua.ContentFilterElement:
    return ua.ContentFilterElement(FilterOperator=operator, FilterOperands=list(operands))


def _event_filter(
    *elements: ua.ContentFilterElement, select: list[ua.SimpleAttributeOperand] | None = None
) -> ua.EventFilter:
    return ua.EventFilter(
        SelectClauses=select if select is not None else [_field("EventId"), _field("Message")],
        WhereClause=ua.ContentFilter(Elements=list(elements)),
    )


# -- event filters --------------------------------------------------------------------


def test_a_typical_event_filter_is_accepted() -> None:
    """What asyncua's client sends: select clauses and an OfType clause."""
    flt = _event_filter(
        _element(F.And, ua.ElementOperand(Index=1), ua.ElementOperand(Index=2)),
        _element(F.OfType, _literal(ua.NodeId(ua.ObjectIds.AlarmConditionType))),
        _element(F.GreaterThanOrEqual, _field("Severity"), _literal(500)),
    )
    assert check_event_filter(flt, LIMITS) == GOOD


def test_an_empty_event_filter_is_accepted() -> None:
    assert check_event_filter(ua.EventFilter(), LIMITS) == GOOD
    assert check_event_filter(ua.EventFilter(WhereClause=None), LIMITS) == GOOD


@pytest.mark.parametrize(
    "flt",
    [
        None,
        ua.ExtensionObject(),  # the null filter: an event item needs an EventFilter
        ua.DataChangeFilter(),
        "EventFilter",
    ],
    ids=["None", "null ExtensionObject", "DataChangeFilter", "str"],
)
def test_anything_but_an_event_filter_is_invalid(flt: object) -> None:
    assert check_event_filter(flt, LIMITS) == S.BadEventFilterInvalid


@pytest.mark.parametrize(
    "operator", [F.Like, F.Cast, F.InView, F.RelatedTo, F.BitwiseAnd, F.BitwiseOr]
)
def test_operators_asyncua_does_not_implement_are_unsupported(
    operator: ua.FilterOperator,
) -> None:
    flt = _event_filter(_element(operator, _field("Message"), _literal("x")))
    assert check_event_filter(flt, LIMITS) == S.BadFilterOperatorUnsupported


def test_an_operator_outside_the_enumeration_is_unsupported() -> None:
    element = ua.ContentFilterElement(FilterOperator=99, FilterOperands=[_literal()])
    assert check_event_filter(_event_filter(element), LIMITS) == S.BadFilterOperatorUnsupported


@pytest.mark.parametrize(
    ("operator", "count"),
    [
        (F.Equals, 1),
        (F.Equals, 3),
        (F.IsNull, 0),
        (F.IsNull, 2),
        (F.Not, 2),
        (F.Between, 2),
        (F.InList, 1),
        (F.And, 1),
        (F.Or, 3),
        (F.OfType, 0),
        (F.GreaterThan, 0),
    ],
)
def test_a_wrong_operand_count_is_a_mismatch(operator: ua.FilterOperator, count: int) -> None:
    flt = _event_filter(_element(operator, *[_literal(n) for n in range(count)]))
    assert check_event_filter(flt, LIMITS) == S.BadFilterOperandCountMismatch


@pytest.mark.parametrize(
    ("operator", "count"),
    [(F.Equals, 2), (F.IsNull, 1), (F.Not, 1), (F.Between, 3), (F.InList, 2), (F.InList, 101)],
)
def test_the_right_operand_count_is_accepted(operator: ua.FilterOperator, count: int) -> None:
    flt = _event_filter(_element(operator, *[_literal(n) for n in range(count)]))
    assert check_event_filter(flt, LIMITS) == GOOD


def test_an_element_referring_to_itself_is_refused() -> None:
    """The recursion that used to run until Python gave up."""
    flt = _event_filter(_element(F.Not, ua.ElementOperand(Index=0)))
    assert check_event_filter(flt, LIMITS) == S.BadFilterOperandInvalid


def test_an_element_referring_backward_is_refused() -> None:
    """Element 1 → element 0 → element 1 would be a cycle."""
    flt = _event_filter(
        _element(F.Not, ua.ElementOperand(Index=1)),
        _element(F.Not, ua.ElementOperand(Index=0)),
    )
    assert check_event_filter(flt, LIMITS) == S.BadFilterOperandInvalid


@pytest.mark.parametrize("index", [2, 1_000, 2**32 - 1])
def test_an_element_referring_past_the_end_is_refused(index: int) -> None:
    flt = _event_filter(
        _element(F.Not, ua.ElementOperand(Index=index)),
        _element(F.IsNull, _field("Message")),
    )
    assert check_event_filter(flt, LIMITS) == S.BadFilterOperandInvalid


def test_a_forward_chain_is_accepted() -> None:
    flt = _event_filter(
        _element(F.Not, ua.ElementOperand(Index=1)),
        _element(F.Or, ua.ElementOperand(Index=2), ua.ElementOperand(Index=3)),
        _element(F.IsNull, _field("Message")),
        _element(F.Equals, _field("Severity"), _literal(100)),
    )
    assert check_event_filter(flt, LIMITS) == GOOD


def test_the_element_count_is_bounded() -> None:
    def chain(count: int) -> ua.EventFilter:
        return _event_filter(*[_element(F.IsNull, _field("Message")) for _ in range(count)])

    assert check_event_filter(chain(LIMITS.max_filter_elements), LIMITS) == GOOD
    assert (
        check_event_filter(chain(LIMITS.max_filter_elements + 1), LIMITS) == S.BadEventFilterInvalid
    )


def test_the_select_clause_count_is_bounded() -> None:
    most = [_field("Message")] * LIMITS.max_select_clauses
    assert check_event_filter(_event_filter(select=most), LIMITS) == GOOD
    too_many = [*most, _field("Message")]
    assert check_event_filter(_event_filter(select=too_many), LIMITS) == S.BadEventFilterInvalid


def test_select_clauses_must_be_short_simple_attribute_operands() -> None:
    long_path = _field(*[f"p{n}" for n in range(9)])
    assert check_event_filter(_event_filter(select=[long_path]), LIMITS) == (
        S.BadEventFilterInvalid
    )
    not_simple: Any = ua.AttributeOperand()
    assert check_event_filter(_event_filter(select=[not_simple]), LIMITS) == (
        S.BadEventFilterInvalid
    )


def test_operands_of_unknown_kinds_or_with_bad_paths_are_invalid() -> None:
    long_path = _field(*[f"p{n}" for n in range(9)])
    empty_attribute = ua.AttributeOperand()  # no browse path
    for operand in (long_path, empty_attribute, "literal", None):
        flt = _event_filter(_element(F.IsNull, operand))
        assert check_event_filter(flt, LIMITS) == S.BadFilterOperandInvalid, operand


def test_elements_of_another_type_are_invalid() -> None:
    flt = ua.EventFilter(WhereClause=ua.ContentFilter(Elements=[_literal()]))
    assert check_event_filter(flt, LIMITS) == S.BadEventFilterInvalid


# -- data-change filters ---------------------------------------------------------------

DOUBLE = ua.NodeId(ua.ObjectIds.Double)
INT16 = ua.NodeId(ua.ObjectIds.Int16)
STRING = ua.NodeId(ua.ObjectIds.String)
BOOLEAN = ua.NodeId(ua.ObjectIds.Boolean)


def _deadband(value: object, kind: ua.DeadbandType = ua.DeadbandType.Absolute) -> object:
    return ua.DataChangeFilter(
        Trigger=ua.DataChangeTrigger.StatusValue, DeadbandType=kind, DeadbandValue=value
    )


def test_no_filter_is_fine_on_any_node() -> None:
    for data_type in (DOUBLE, STRING, None):
        assert check_data_filter(None, data_type) == GOOD
        assert check_data_filter(ua.ExtensionObject(), data_type) == GOOD  # what clients send
    assert is_null(None)
    assert is_null(ua.ExtensionObject())
    assert not is_null(ua.DataChangeFilter())


def test_a_trigger_without_deadband_is_fine_on_any_node() -> None:
    flt = ua.DataChangeFilter(Trigger=ua.DataChangeTrigger.StatusValueTimestamp)
    for data_type in (DOUBLE, STRING, BOOLEAN):
        assert check_data_filter(flt, data_type) == GOOD


@pytest.mark.parametrize("type_id", range(2, 12))  # SByte … Double
def test_an_absolute_deadband_on_a_numeric_node_is_accepted(type_id: int) -> None:
    assert check_data_filter(_deadband(0.5), ua.NodeId(type_id)) == GOOD
    assert check_data_filter(_deadband(0), ua.NodeId(type_id)) == GOOD


@pytest.mark.parametrize(
    "data_type",
    [STRING, BOOLEAN, ua.NodeId(ua.ObjectIds.DateTime), ua.NodeId(11, 2), None],
    ids=["String", "Boolean", "DateTime", "ns2 i=11", "unknown"],
)
def test_an_absolute_deadband_elsewhere_is_not_allowed(data_type: object) -> None:
    """asyncua subtracted strings on every change; now refused when the item is made."""
    assert check_data_filter(_deadband(0.5), data_type) == S.BadFilterNotAllowed


def test_a_percent_deadband_is_unsupported() -> None:
    flt = _deadband(10.0, ua.DeadbandType.Percent)
    assert check_data_filter(flt, DOUBLE) == S.BadMonitoredItemFilterUnsupported


@pytest.mark.parametrize("value", [math.nan, -0.5, -1, math.inf, "1.0", None])
def test_a_nan_negative_or_non_number_deadband_is_invalid(value: object) -> None:
    assert check_data_filter(_deadband(value), DOUBLE) == S.BadDeadbandFilterInvalid


@pytest.mark.parametrize(
    "flt",
    [ua.EventFilter(), ua.AggregateFilter(), ua.ExtensionObject(Body=b"\x00")],
    ids=["EventFilter", "AggregateFilter", "opaque body"],
)
def test_other_filters_on_a_data_item_are_unsupported(flt: object) -> None:
    assert check_data_filter(flt, DOUBLE) == S.BadMonitoredItemFilterUnsupported

"""Acknowledge and ConditionRefresh calls, answered with the calling session at hand.

`AlarmMethods` is the server's call hook: the acknowledge permission and the
journal need the caller's identity, ConditionRefresh the session that owns
the subscription. Every other call goes to asyncua's method service.

Routed here: AcknowledgeableConditionType.Acknowledge (i=9111) on any object,
any method on a condition object, ConditionType.ConditionRefresh (i=3875) and
ConditionRefresh2 (i=12912), Enable and Disable, and the ShelvingState's
OneShotShelve, TimedShelve, Unshelve (and their "2" forms with a comment).
Result codes follow OPC 10000-9 §5.5.7, §5.7.3, §5.8.10.
"""

from __future__ import annotations

import logging
from typing import Any

from asyncua import ua

from gateway.opcua.alarms import AlarmConditions, ServiceAction
from gateway.opcua.stack import Caller, StackServer
from gateway.ua.wire import ObjectIds, StatusCodes, node_id, status_code

__all__ = ["AlarmMethods"]

log = logging.getLogger(__name__)

_ACKNOWLEDGE = node_id(ObjectIds.AcknowledgeableConditionType_Acknowledge)
_REFRESH = node_id(ObjectIds.ConditionType_ConditionRefresh)
_REFRESH2 = node_id(ObjectIds.ConditionType_ConditionRefresh2)
_CONDITION_TYPE = node_id(ObjectIds.ConditionType)
_O = ObjectIds
#: MethodId → (action, whether it takes a ShelvingTime, whether it takes a comment).
_SERVICE_METHODS: dict[ua.NodeId, tuple[str, bool, bool]] = {
    node_id(_O.AlarmConditionType_ShelvingState_OneShotShelve): ("shelve", False, False),
    node_id(_O.AlarmConditionType_ShelvingState_TimedShelve): ("shelve", True, False),
    node_id(_O.AlarmConditionType_ShelvingState_Unshelve): ("unshelve", False, False),
    node_id(_O.AlarmConditionType_ShelvingState_OneShotShelve2): ("shelve", False, True),
    node_id(_O.AlarmConditionType_ShelvingState_TimedShelve2): ("shelve", True, True),
    node_id(_O.AlarmConditionType_ShelvingState_Unshelve2): ("unshelve", False, True),
    node_id(_O.ConditionType_Enable): ("enable", False, False),
    node_id(_O.ConditionType_Disable): ("disable", False, False),
}
#: A TimedShelve's ShelvingTime (ms) beyond this is BadShelvingTimeOutOfRange (MaxTimeShelved).
MAX_SHELVING_MS = 30 * 24 * 3600 * 1000.0
_V = ua.VariantType


def _result(code: int, arguments: list[int] | None = None) -> ua.CallMethodResult:
    result = ua.CallMethodResult()
    result.StatusCode = status_code(code)
    if arguments is not None:
        result.InputArgumentResults = [status_code(c) for c in arguments]
    return result


def _arguments(
    request: ua.CallMethodRequest, expected: list[ua.VariantType]
) -> ua.CallMethodResult | list[Any]:
    """The argument values, or the result that rejects them."""
    given = list(request.InputArguments or [])
    if len(given) < len(expected):
        return _result(StatusCodes.BadArgumentsMissing)
    if len(given) > len(expected):
        return _result(StatusCodes.BadTooManyArguments)
    checks = [
        StatusCodes.Good if v.VariantType == t and not v.is_array else StatusCodes.BadTypeMismatch
        for v, t in zip(given, expected, strict=True)
    ]
    if any(checks):
        return _result(StatusCodes.BadInvalidArgument, checks)
    return [v.Value for v in given]


def _plain_comment(request: ua.CallMethodRequest, index: int | None) -> None:
    """Take a plain String where a LocalizedText comment is expected (lenient)."""
    given = list(request.InputArguments or [])
    if index is not None and index < len(given) and given[index].VariantType == _V.String:
        given[index] = ua.Variant(ua.LocalizedText(given[index].Value), _V.LocalizedText)
        request.InputArguments = given


class AlarmMethods:
    """Answers the alarm method calls of one server's sessions."""

    def __init__(self, conditions: AlarmConditions, stack: StackServer) -> None:
        self._conditions = conditions
        self._stack = stack

    def handles(self, request: ua.CallMethodRequest) -> bool:
        return (
            request.MethodId in (_ACKNOWLEDGE, _REFRESH, _REFRESH2)
            or request.MethodId in _SERVICE_METHODS
            or self._conditions.is_condition(request.ObjectId)
        )

    async def __call__(
        self, caller: Caller, request: ua.CallMethodRequest
    ) -> ua.CallMethodResult | None:
        """The call hook: the result of an alarm method call, None for any other method."""
        if not self.handles(request):
            return None
        try:
            if request.MethodId in (_REFRESH, _REFRESH2):
                return await self._refresh(caller, request)
            if request.MethodId == _ACKNOWLEDGE:
                return self._acknowledge(caller, request)
            if request.MethodId in _SERVICE_METHODS:
                return self._service(caller, request)
            return _result(StatusCodes.BadMethodInvalid)  # AddComment, Confirm...
        except Exception:
            log.exception("OPC UA: alarm method call failed: %s", request)
            return _result(StatusCodes.BadInternalError)

    def _acknowledge(self, caller: Caller, request: ua.CallMethodRequest) -> ua.CallMethodResult:
        target = request.ObjectId
        if not self._conditions.is_condition(target):
            known = self._stack.has_node(target)
            return _result(StatusCodes.BadNodeIdInvalid if known else StatusCodes.BadNodeIdUnknown)
        identity = caller.identity
        name = identity.name
        if not identity.can_write:  # operators and admins acknowledge (docs/security.md)
            log.info("OPC UA: %s may not acknowledge %s", name, target.to_string())
            return _result(StatusCodes.BadUserAccessDenied)
        given = list(request.InputArguments or [])
        if len(given) == 2 and given[1].VariantType == _V.String:  # lenient: a plain comment
            given[1] = ua.Variant(ua.LocalizedText(given[1].Value), _V.LocalizedText)
            request.InputArguments = given
        values = _arguments(request, [_V.ByteString, _V.LocalizedText])
        if isinstance(values, ua.CallMethodResult):
            return values
        event_id, comment = values
        text = comment.Text if isinstance(comment, ua.LocalizedText) else None
        code = self._conditions.acknowledge(target, bytes(event_id or b""), text or "", name)
        return _result(code)

    def _service(self, caller: Caller, request: ua.CallMethodRequest) -> ua.CallMethodResult:
        """Shelving (on the ShelvingState, or leniently the condition) and Enable/Disable.

        Enable and Disable take no argument in Part 9; the gateway also takes one
        LocalizedText, the reason it journals (`gateway alarms enable --reason`).
        """
        action, timed, commented = _SERVICE_METHODS[request.MethodId]
        name = self._conditions.shelving_target(request.ObjectId)
        if name is None:
            known = self._stack.has_node(request.ObjectId)
            return _result(StatusCodes.BadNodeIdInvalid if known else StatusCodes.BadNodeIdUnknown)
        if not caller.identity.can_write:  # the operator role (docs/security.md)
            log.info("OPC UA: %s may not %s %s", caller.identity.name, action, name)
            return _result(StatusCodes.BadUserAccessDenied)
        if action in ("enable", "disable") and len(request.InputArguments or []) == 1:
            commented = True
        expected = ([_V.Double] if timed else []) + ([_V.LocalizedText] if commented else [])
        _plain_comment(request, len(expected) - 1 if commented else None)
        values = _arguments(request, expected)
        if isinstance(values, ua.CallMethodResult):
            return values
        duration = None
        if timed:
            milliseconds = float(values[0])
            if not 0 < milliseconds <= MAX_SHELVING_MS:
                return _result(StatusCodes.BadShelvingTimeOutOfRange)
            duration = milliseconds / 1000.0
        comment = values[-1].Text if commented and values[-1] is not None else None
        code = self._conditions.change_service(
            name, ServiceAction(action, duration), caller.identity.name, comment or ""
        )
        return _result(code)

    async def _refresh(self, caller: Caller, request: ua.CallMethodRequest) -> ua.CallMethodResult:
        if request.ObjectId != _CONDITION_TYPE:
            return _result(StatusCodes.BadMethodInvalid)
        refresh2 = request.MethodId == _REFRESH2
        values = _arguments(request, [_V.UInt32, _V.UInt32] if refresh2 else [_V.UInt32])
        if isinstance(values, ua.CallMethodResult):
            return values
        item = int(values[1]) if refresh2 else None
        code = await self._conditions.refresh(caller.session_id, int(values[0]), item)
        return _result(code)

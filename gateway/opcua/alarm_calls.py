"""Acknowledge and ConditionRefresh calls, answered with the calling session at hand.

asyncua's method service calls a method's callback with the object and the
arguments only: who calls is not passed, and the acknowledge permission and
the journal need the user, ConditionRefresh the session that owns the
subscription. So the server's `create_session` makes `_CallingSession`s,
whose `call` routes these methods to `AlarmMethods` with the session and
sends every other call to asyncua as before.

Routed here: AcknowledgeableConditionType.Acknowledge (i=9111) on any object,
any method on a condition object, ConditionType.ConditionRefresh (i=3875) and
ConditionRefresh2 (i=12912). Result codes follow OPC 10000-9 §5.5.7, §5.7.3.
"""

from __future__ import annotations

import logging
from typing import Any

from asyncua import ua
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.internal_server import InternalServer
from asyncua.server.internal_session import InternalSession

from gateway.opcua.alarms import AlarmConditions
from gateway.opcua.uawire import ObjectIds, StatusCodes, node_id, status_code
from gateway.opcua.users import can_write

__all__ = ["AlarmMethods", "route_calls"]

log = logging.getLogger(__name__)

_ACKNOWLEDGE = node_id(ObjectIds.AcknowledgeableConditionType_Acknowledge)
_REFRESH = node_id(ObjectIds.ConditionType_ConditionRefresh)
_REFRESH2 = node_id(ObjectIds.ConditionType_ConditionRefresh2)
_CONDITION_TYPE = node_id(ObjectIds.ConditionType)
_V = ua.VariantType
#: asyncua's default user of a session not yet activated.
_ANONYMOUS = User(role=UserRole.Anonymous)


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


class AlarmMethods:
    """Answers the alarm method calls of one server's sessions."""

    def __init__(self, conditions: AlarmConditions, iserver: InternalServer) -> None:
        self._conditions = conditions
        self._aspace = iserver.aspace

    def handles(self, request: ua.CallMethodRequest) -> bool:
        return request.MethodId in (
            _ACKNOWLEDGE,
            _REFRESH,
            _REFRESH2,
        ) or self._conditions.is_condition(request.ObjectId)

    async def call(
        self, session: InternalSession, request: ua.CallMethodRequest
    ) -> ua.CallMethodResult:
        try:
            if request.MethodId in (_REFRESH, _REFRESH2):
                return await self._refresh(session, request)
            if request.MethodId == _ACKNOWLEDGE:
                return self._acknowledge(session.user, request)
            return _result(StatusCodes.BadMethodInvalid)  # Enable, Disable, AddComment...
        except Exception:
            log.exception("OPC UA: alarm method call failed: %s", request)
            return _result(StatusCodes.BadInternalError)

    def _acknowledge(self, user: User, request: ua.CallMethodRequest) -> ua.CallMethodResult:
        target = request.ObjectId
        if not self._conditions.is_condition(target):
            known = target in self._aspace
            return _result(StatusCodes.BadNodeIdInvalid if known else StatusCodes.BadNodeIdUnknown)
        name = getattr(user, "name", None) or "anonymous"
        if not can_write(user):  # operators and admins acknowledge (DESIGN.md §4)
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

    async def _refresh(
        self, session: InternalSession, request: ua.CallMethodRequest
    ) -> ua.CallMethodResult:
        if request.ObjectId != _CONDITION_TYPE:
            return _result(StatusCodes.BadMethodInvalid)
        refresh2 = request.MethodId == _REFRESH2
        values = _arguments(request, [_V.UInt32, _V.UInt32] if refresh2 else [_V.UInt32])
        if isinstance(values, ua.CallMethodResult):
            return values
        item = int(values[1]) if refresh2 else None
        code = await self._conditions.refresh(session.session_id, int(values[0]), item)
        return _result(code)


class _CallingSession(InternalSession):
    """A client session whose alarm method calls go to `AlarmMethods`."""

    def __init__(self, methods: AlarmMethods, *args: Any, **kwargs: Any) -> None:
        self._alarm_methods = methods
        super().__init__(*args, **kwargs)

    async def call(self, params: list[ua.CallMethodRequest]) -> list[ua.CallMethodResult]:
        results: list[ua.CallMethodResult] = []
        for request in params:
            if self._alarm_methods.handles(request):
                results.append(await self._alarm_methods.call(self, request))
            else:
                results += await super().call([request])
        return results


def route_calls(iserver: InternalServer, methods: AlarmMethods) -> None:
    """Make every new client session of `iserver` route alarm calls to `methods`."""

    def create_session(
        name: str, user: User = _ANONYMOUS, external: bool = False
    ) -> InternalSession:
        return _CallingSession(
            methods,
            iserver,
            iserver.aspace,
            iserver.subscription_service,
            name,
            user=user,
            external=external,
        )

    iserver.create_session = create_session  # type: ignore[method-assign]

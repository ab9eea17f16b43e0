"""Service dispatch: which requests a connection may make, and the attribute, view, method
and history services.

Replaces UaProcessor._process_message. A request other than the session
and discovery services needs the connection's session, activated, and the
request's AuthenticationToken must be that session's (Bad_SessionIdInvalid
otherwise: a token never reaches another connection's session). Requests
carrying more operations than ServerCapabilities/OperationLimits allow are
refused whole with Bad_TooManyOperations. Clients write only through the
gateway's write hook (tags; everything else is not writable), and the node
management, query and history update services are not offered.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from asyncua import ua
from asyncua.common.utils import Buffer, ServiceError
from asyncua.ua.ua_binary import Primitives, struct_from_binary

from gateway.opcua.stack import session_services as sessions
from gateway.opcua.stack import subscription_services as subscriptions
from gateway.opcua.stack.hooks import Caller
from gateway.opcua.stack.sessions import Session
from gateway.ua.wire import AttributeIds, ObjectIds, StatusCodes, status_code

if TYPE_CHECKING:
    from gateway.opcua.stack.connection import Connection
    from gateway.opcua.stack.context import StackContext

__all__ = ["dispatch"]

_O = ObjectIds
SessionHandler = Callable[["StackContext", Session, Any], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class _Service:
    params: type
    handler: SessionHandler
    #: The OperationLimits bound: (attribute of ServerLimits, the params' list field).
    bound: tuple[str, str] | None = None


def _caller(session: Session) -> Caller:
    assert session.identity is not None
    return Caller(session.identity, session.session_id, session.peer)


def _fault(code: int) -> ServiceError:
    return ServiceError(code)


# -- attribute, view, method and history services ----------------------------------------


async def _read(context: StackContext, session: Session, params: ua.ReadParameters) -> Any:
    results = context.iserver.attribute_service.read(params)
    access = context.hooks.user_access
    if access is not None:
        caller = _caller(session)
        for index, item in enumerate(params.NodesToRead):
            if item.AttributeId != AttributeIds.UserAccessLevel:
                continue
            current = results[index].Value
            if current is None or not isinstance(current.Value, int):
                continue
            level = access(caller, item.NodeId, current.Value)
            if level is not None:
                results[index] = ua.DataValue(ua.Variant(level, ua.VariantType.Byte))
    response = ua.ReadResponse()
    response.Results = results
    return response


async def _write(context: StackContext, session: Session, params: ua.WriteParameters) -> Any:
    response = ua.WriteResponse()
    response.Results = await context.hooks.write(_caller(session), params.NodesToWrite)
    return response


async def _browse(context: StackContext, session: Session, params: ua.BrowseParameters) -> Any:
    """Node by node (browse.py), yielding between nodes, so one request over many big
    nodes never holds the event loop for long."""
    results: list[ua.BrowseResult] = []
    for description in params.NodesToBrowse:
        results.append(context.browser.browse(description))
        await asyncio.sleep(0)
    response = ua.BrowseResponse()
    response.Results = results
    return response


async def _browse_next(
    context: StackContext, session: Session, params: ua.BrowseNextParameters
) -> Any:
    """Browse never returns continuation points, so none is valid."""
    response = ua.BrowseNextResponse()
    response.Parameters.Results = [
        ua.BrowseResult(StatusCode=status_code(StatusCodes.BadContinuationPointInvalid))
        for _ in params.ContinuationPoints or []
    ]
    return response


async def _translate(
    context: StackContext, session: Session, params: ua.TranslateBrowsePathsToNodeIdsParameters
) -> Any:
    if any(
        len(path.RelativePath.Elements or []) > context.limits.max_browse_path_elements
        for path in params.BrowsePaths
    ):
        raise _fault(StatusCodes.BadTooManyOperations)
    view = context.iserver.view_service
    results: list[ua.BrowsePathResult] = []
    for path in params.BrowsePaths:  # each element scans a node's references: yield between
        results += view.translate_browsepaths_to_nodeids([path])
        await asyncio.sleep(0)
    response = ua.TranslateBrowsePathsToNodeIdsResponse()
    response.Results = results
    return response


async def _register_nodes(
    context: StackContext, session: Session, params: ua.RegisterNodesParameters
) -> Any:
    response = ua.RegisterNodesResponse()
    response.Parameters.RegisteredNodeIds = list(params.NodesToRegister)
    return response


async def _unregister_nodes(
    context: StackContext, session: Session, params: ua.UnregisterNodesParameters
) -> Any:
    return ua.UnregisterNodesResponse()


async def _call(context: StackContext, session: Session, params: ua.CallParameters) -> Any:
    caller = _caller(session)
    results: list[ua.CallMethodResult] = []
    for request in params.MethodsToCall:
        result = await context.hooks.call(caller, request)
        if result is None:
            result = (await context.iserver.method_service.call([request]))[0]
        results.append(result)
    response = ua.CallResponse()
    response.Results = results
    return response


async def _history_read(
    context: StackContext, session: Session, params: ua.HistoryReadParameters
) -> Any:
    history = context.hooks.history
    response = ua.HistoryReadResponse()
    if history is None:
        unsupported = status_code(StatusCodes.BadHistoryOperationUnsupported)
        response.Results = [
            ua.HistoryReadResult(StatusCode=unsupported) for _ in params.NodesToRead
        ]
    else:
        response.Results = await history(_caller(session), params)
    return response


#: Services that need an activated session, by request type id.
_SESSION_SERVICES: dict[int, _Service] = {
    _O.ReadRequest_Encoding_DefaultBinary: _Service(
        ua.ReadParameters, _read, ("max_nodes_per_read", "NodesToRead")
    ),
    _O.WriteRequest_Encoding_DefaultBinary: _Service(
        ua.WriteParameters, _write, ("max_nodes_per_write", "NodesToWrite")
    ),
    _O.BrowseRequest_Encoding_DefaultBinary: _Service(
        ua.BrowseParameters, _browse, ("max_nodes_per_browse", "NodesToBrowse")
    ),
    _O.BrowseNextRequest_Encoding_DefaultBinary: _Service(
        ua.BrowseNextParameters, _browse_next, ("max_nodes_per_browse", "ContinuationPoints")
    ),
    _O.TranslateBrowsePathsToNodeIdsRequest_Encoding_DefaultBinary: _Service(
        ua.TranslateBrowsePathsToNodeIdsParameters,
        _translate,
        ("max_nodes_per_translate", "BrowsePaths"),
    ),
    _O.RegisterNodesRequest_Encoding_DefaultBinary: _Service(
        ua.RegisterNodesParameters, _register_nodes, ("max_nodes_per_register", "NodesToRegister")
    ),
    _O.UnregisterNodesRequest_Encoding_DefaultBinary: _Service(
        ua.UnregisterNodesParameters,
        _unregister_nodes,
        ("max_nodes_per_register", "NodesToUnregister"),
    ),
    _O.CallRequest_Encoding_DefaultBinary: _Service(
        ua.CallParameters, _call, ("max_nodes_per_method_call", "MethodsToCall")
    ),
    _O.HistoryReadRequest_Encoding_DefaultBinary: _Service(
        ua.HistoryReadParameters, _history_read, ("max_nodes_per_history_read", "NodesToRead")
    ),
    _O.CreateSubscriptionRequest_Encoding_DefaultBinary: _Service(
        ua.CreateSubscriptionParameters, subscriptions.create_subscription
    ),
    _O.ModifySubscriptionRequest_Encoding_DefaultBinary: _Service(
        ua.ModifySubscriptionParameters, subscriptions.modify_subscription
    ),
    _O.SetPublishingModeRequest_Encoding_DefaultBinary: _Service(
        ua.SetPublishingModeParameters, subscriptions.set_publishing_mode
    ),
    _O.DeleteSubscriptionsRequest_Encoding_DefaultBinary: _Service(
        ua.DeleteSubscriptionsParameters, subscriptions.delete_subscriptions
    ),
    _O.TransferSubscriptionsRequest_Encoding_DefaultBinary: _Service(
        ua.TransferSubscriptionsParameters, subscriptions.transfer_subscriptions
    ),
    _O.RepublishRequest_Encoding_DefaultBinary: _Service(
        ua.RepublishParameters, subscriptions.republish
    ),
    _O.CreateMonitoredItemsRequest_Encoding_DefaultBinary: _Service(
        ua.CreateMonitoredItemsParameters, subscriptions.create_monitored_items
    ),
    _O.ModifyMonitoredItemsRequest_Encoding_DefaultBinary: _Service(
        ua.ModifyMonitoredItemsParameters, subscriptions.modify_monitored_items
    ),
    _O.SetMonitoringModeRequest_Encoding_DefaultBinary: _Service(
        ua.SetMonitoringModeParameters, subscriptions.set_monitoring_mode
    ),
    _O.DeleteMonitoredItemsRequest_Encoding_DefaultBinary: _Service(
        ua.DeleteMonitoredItemsParameters, subscriptions.delete_monitored_items
    ),
}
_PUBLISH = _O.PublishRequest_Encoding_DefaultBinary
_CREATE_SESSION = _O.CreateSessionRequest_Encoding_DefaultBinary
_ACTIVATE_SESSION = _O.ActivateSessionRequest_Encoding_DefaultBinary
_CLOSE_SESSION = _O.CloseSessionRequest_Encoding_DefaultBinary
_GET_ENDPOINTS = _O.GetEndpointsRequest_Encoding_DefaultBinary
_FIND_SERVERS = _O.FindServersRequest_Encoding_DefaultBinary
_CLOSE_CHANNEL = _O.CloseSecureChannelRequest_Encoding_DefaultBinary
#: The gateway is no discovery server: nobody registers with it.
_REGISTER_SERVER = frozenset(
    {
        _O.RegisterServerRequest_Encoding_DefaultBinary,
        _O.RegisterServer2Request_Encoding_DefaultBinary,
    }
)


async def dispatch(
    context: StackContext,
    connection: Connection,
    type_id: ua.NodeId,
    header: ua.RequestHeader,
    body: Buffer,
    *,
    request_id: int,
) -> Any:
    """The response to one request (None when it is answered later: Publish).

    Raises ServiceError with the status code of a ServiceFault.
    """
    key = type_id.Identifier if type_id.NamespaceIndex == 0 else None
    if not isinstance(key, int):
        raise _fault(StatusCodes.BadServiceUnsupported)
    if key == _CREATE_SESSION:
        create = struct_from_binary(ua.CreateSessionParameters, body)
        return await sessions.create_session(context, connection, create)
    if key == _ACTIVATE_SESSION:
        activate = struct_from_binary(ua.ActivateSessionParameters, body)
        return await sessions.activate_session(
            context, connection, header.AuthenticationToken, activate
        )
    if key == _CLOSE_SESSION:
        delete = Primitives.Boolean.unpack(body)
        return await sessions.close_session(
            context, connection, header.AuthenticationToken, bool(delete)
        )
    if key == _GET_ENDPOINTS:
        endpoints = struct_from_binary(ua.GetEndpointsParameters, body)
        return await sessions.get_endpoints(context, connection, endpoints)
    if key == _FIND_SERVERS:
        find = struct_from_binary(ua.FindServersParameters, body)
        return await sessions.find_servers(context, connection, find)
    if key in _REGISTER_SERVER:
        raise _fault(StatusCodes.BadServiceUnsupported)
    if key == _CLOSE_CHANNEL:
        connection.abort("the client closed the secure channel")
        return None
    session = _session_of(connection, header)
    if key == _PUBLISH:
        published = struct_from_binary(ua.PublishParameters, body)
        await subscriptions.publish(
            context, connection, session, published, header=header, request_id=request_id
        )
        return None
    service = _SESSION_SERVICES.get(key)
    if service is None:  # node management, query, history update, set triggering, discovery
        raise _fault(StatusCodes.BadServiceUnsupported)
    params: Any = struct_from_binary(service.params, body)
    if service.bound is not None:
        limit_name, field_name = service.bound
        count = len(getattr(params, field_name) or [])
        if count == 0:
            raise _fault(StatusCodes.BadNothingToDo)
        if count > getattr(context.limits, limit_name):
            raise _fault(StatusCodes.BadTooManyOperations)
    return await service.handler(context, session, params)


def _session_of(connection: Connection, header: ua.RequestHeader) -> Session:
    """The connection's activated session, if the request carries its token."""
    session = connection.session
    if session is None or not session.owns_token(header.AuthenticationToken):
        raise _fault(StatusCodes.BadSessionIdInvalid)
    if not session.activated:
        raise _fault(StatusCodes.BadSessionNotActivated)
    session.last_activity = time.monotonic()
    return session

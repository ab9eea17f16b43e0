"""What the gateway plugs into the adapter: session-aware write, call, history and access hooks.

The adapter knows nothing of tags, alarms or the historian; the rest of
gateway/opcua/ answers these calls, each with the `Caller` at hand (its
identity decides writes and acknowledgements, its session owns the
subscription a ConditionRefresh names).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from asyncua import ua
from asyncua.common.utils import ServiceError

from gateway.opcua.users import Identity
from gateway.ua.wire import StatusCodes, status_code

__all__ = ["Caller", "Hooks", "ServerStats", "ServiceFault"]


class ServiceFault(ServiceError):
    """Raised by a hook: the whole request is answered with a ServiceFault of `code`."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True, slots=True)
class ServerStats:
    """What the server holds now and has refused since it started (for metrics)."""

    connections: int = 0
    sessions: int = 0
    detached_sessions: int = 0
    subscriptions: int = 0
    monitored_items: int = 0
    connections_refused: int = 0
    logins_refused: int = 0
    client_faults: int = 0


@dataclass(frozen=True, slots=True)
class Caller:
    """The client behind a request."""

    identity: Identity
    session_id: ua.NodeId
    peer: str


#: Results for every item of a Write (tags, and Bad_NotWritable for anything else).
WriteHook = Callable[[Caller, Sequence[ua.WriteValue]], Awaitable[list[ua.StatusCode]]]
#: A method call's result, or None when the gateway does not handle that method.
CallHook = Callable[[Caller, ua.CallMethodRequest], Awaitable[ua.CallMethodResult | None]]
#: HistoryRead results, one per node.
HistoryHook = Callable[[Caller, ua.HistoryReadParameters], Awaitable[list[ua.HistoryReadResult]]]
#: The UserAccessLevel the caller sees for a node, or None to serve the node's own.
AccessHook = Callable[[Caller, ua.NodeId, int], int | None]


async def _not_writable(_caller: Caller, items: Sequence[ua.WriteValue]) -> list[ua.StatusCode]:
    return [status_code(StatusCodes.BadNotWritable) for _ in items]


async def _no_call(_caller: Caller, _request: ua.CallMethodRequest) -> ua.CallMethodResult | None:
    return None


@dataclass(slots=True)
class Hooks:
    """The gateway's answers; the defaults refuse writes and leave calls to asyncua."""

    write: WriteHook = field(default=_not_writable)
    call: CallHook = field(default=_no_call)
    history: HistoryHook | None = None
    user_access: AccessHook | None = None

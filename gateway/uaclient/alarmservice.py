"""Shelve, unshelve, disable and enable an alarm over OPC UA (Part 9 methods).

Calls the condition `Alarms.<alarm>` of the gateway's namespace (any Part 9
server works when ALARM is a NODE such as `ns=2;s=Alarms.boiler_overtemp`):
OneShotShelve2 / TimedShelve2 / Unshelve2 on its ShelvingState with the
reason as the comment, and Enable / Disable on the condition with the reason
as the gateway's one optional argument (none when no reason is given, as
Part 9 defines them).
"""

from __future__ import annotations

from dataclasses import dataclass

from asyncua import ua
from asyncua.ua.uaerrors import UaStatusCodeError

from gateway.errors import ClientError
from gateway.ua.wire import ObjectIds, StatusCodes, node_id
from gateway.uaclient.session import Session
from gateway.uaclient.uanames import status_name

__all__ = ["ACTIONS", "ServiceResult", "change_service"]

_O = ObjectIds
_V = ua.VariantType
#: Action → (method, called on the ShelvingState rather than the condition).
ACTIONS: dict[str, tuple[int, bool]] = {
    "shelve": (_O.AlarmConditionType_ShelvingState_OneShotShelve2, True),
    "shelve_timed": (_O.AlarmConditionType_ShelvingState_TimedShelve2, True),
    "unshelve": (_O.AlarmConditionType_ShelvingState_Unshelve2, True),
    "disable": (_O.ConditionType_Disable, False),
    "enable": (_O.ConditionType_Enable, False),
}


@dataclass(frozen=True, slots=True)
class ServiceResult:
    """What was done, for the line the CLI prints."""

    alarm: str
    action: str
    condition: str


async def change_service(
    session: Session, alarm: str, action: str, *, duration: float | None, reason: str
) -> ServiceResult:
    """Shelve (timed with `duration` seconds), unshelve, disable or enable `alarm`.

    ClientError with the server's result code (Bad_ConditionAlreadyShelved,
    Bad_UserAccessDenied…) and what it means when the call is refused.
    """
    key = "shelve_timed" if action == "shelve" and duration is not None else action
    method, on_shelving = ACTIONS[key]
    reference = alarm if ("=" in alarm or alarm.startswith("Alarms.")) else f"Alarms.{alarm}"
    condition = session.node_id(reference)
    target = condition
    if on_shelving:
        target = node_id(f"{condition.Identifier!s}.ShelvingState", condition.NamespaceIndex)
    arguments: list[ua.Variant] = []
    if duration is not None:
        arguments.append(ua.Variant(duration * 1000.0, _V.Double))
    if on_shelving or reason:
        arguments.append(ua.Variant(ua.LocalizedText(reason), _V.LocalizedText))
    try:
        await session.client.get_node(target).call_method(node_id(method), *arguments)
    except UaStatusCodeError as error:
        raise ClientError(_refusal(alarm, action, error.code)) from None
    except TimeoutError:
        raise ClientError(f"{action} {alarm}: no answer from the server") from None
    return ServiceResult(alarm, action, session.text(condition))


_MEANINGS = {
    StatusCodes.BadNodeIdUnknown: "no such alarm (`gateway browse URL Alarms` lists them)",
    StatusCodes.BadUserAccessDenied: "this user may not (the operator role is needed)",
    StatusCodes.BadConditionAlreadyShelved: "it is shelved already",
    StatusCodes.BadConditionNotShelved: "it is not shelved",
    StatusCodes.BadConditionAlreadyDisabled: "it is disabled already",
    StatusCodes.BadConditionAlreadyEnabled: "it is enabled already",
    StatusCodes.BadShelvingTimeOutOfRange: "the time is out of range (up to 30 days)",
    StatusCodes.BadMethodInvalid: "the server does not offer this method on that node",
}


def _refusal(alarm: str, action: str, code: int) -> str:
    meaning = _MEANINGS.get(code)
    shown = status_name(code)
    return f"{action} {alarm}: {shown}" + (f": {meaning}" if meaning else "")

"""Raw OPC UA requests of the attack suite, below asyncua's public API.

`call` sends any request on a client's channel, with any AuthenticationToken
in its RequestHeader, and turns whatever comes back (a response, a
ServiceFault, a closed connection, silence) into an `Outcome`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from asyncua import Client, ua
from asyncua.ua.ua_binary import struct_from_binary
from attackkit import Gateway
from uaclients import PASSWORDS, node

__all__ = [
    "Outcome",
    "activate",
    "call",
    "create_items",
    "create_session",
    "create_subscription",
    "delete_subscriptions",
    "monitoring",
    "read_values",
    "write_setpoint",
]


@dataclass
class Outcome:
    """What one raw request got: the service result (or why there was none) and the response."""

    status: ua.StatusCode
    response: Any = None

    @property
    def results(self) -> list[Any]:
        """The per-operation results of the response (empty without a response)."""
        if self.response is None:
            return []
        body = getattr(self.response, "Parameters", self.response)
        results = getattr(body, "Results", None)
        return list(results) if results is not None else []

    def refused(self) -> bool:
        """Bad as a whole, or Bad for every operation of the request."""
        if not self.status.is_good():
            return True
        codes = [getattr(r, "StatusCode", r) for r in self.results]
        return bool(codes) and all(not code.is_good() for code in codes)

    def codes(self) -> list[int]:
        """The service result and every per-operation status, as integers."""
        return [self.status.value] + [getattr(r, "StatusCode", r).value for r in self.results]


async def call(
    client: Client,
    request: Any,
    response_type: type,
    *,
    token: ua.NodeId | None = None,
    timeout: float = 5.0,
) -> Outcome:
    """Send a raw `request` on `client`'s channel (with `token` in its header if given).

    A ServiceFault is an Outcome with its code; a closed connection is
    Bad_ConnectionClosed and no answer within `timeout` Bad_Timeout: for an
    attacker both are refusals.
    """
    protocol = client.uaclient.protocol
    if protocol is None or protocol.is_closed:
        return Outcome(ua.StatusCode(ua.StatusCodes.BadConnectionClosed))
    if token is not None:
        protocol.authentication_token = token
    try:
        async with asyncio.timeout(timeout + 1):
            data = await protocol.send_request(request, timeout)
    except ua.UaStatusCodeError as error:
        return Outcome(ua.StatusCode(error.code))
    except TimeoutError:
        return Outcome(ua.StatusCode(ua.StatusCodes.BadTimeout))
    except (ConnectionError, OSError, ua.UaError):
        return Outcome(ua.StatusCode(ua.StatusCodes.BadConnectionClosed))
    response = struct_from_binary(response_type, data)
    return Outcome(response.ResponseHeader.ServiceResult, response)


def _session_parameters(gateway: Gateway) -> ua.CreateSessionParameters:
    description = ua.ApplicationDescription(
        ApplicationUri="urn:attacker",
        ProductUri="urn:attacker",
        ApplicationName=ua.LocalizedText("attacker"),
        ApplicationType=ua.ApplicationType.Client,
    )
    return ua.CreateSessionParameters(
        ClientDescription=description,
        EndpointUrl=gateway.url,
        SessionName="attacker",
        ClientNonce=os.urandom(32),
        RequestedSessionTimeout=60_000,
        MaxResponseMessageSize=0,
    )


async def create_session(client: Client, gateway: Gateway) -> Outcome:
    """A raw CreateSession; on success the channel's requests carry the new token."""
    request = ua.CreateSessionRequest(Parameters=_session_parameters(gateway))
    outcome = await call(client, request, ua.CreateSessionResponse, token=ua.NodeId())
    if outcome.status.is_good():
        client.uaclient.protocol.authentication_token = (
            outcome.response.Parameters.AuthenticationToken
        )
    return outcome


async def token_policies(client: Client, gateway: Gateway) -> dict[ua.UserTokenType, str]:
    """The PolicyId of each user token type the gateway offers (GetEndpoints, no session)."""
    parameters = ua.GetEndpointsParameters(EndpointUrl=gateway.url)
    outcome = await call(
        client, ua.GetEndpointsRequest(Parameters=parameters), ua.GetEndpointsResponse
    )
    policies: dict[ua.UserTokenType, str] = {}
    if outcome.response is not None:
        for endpoint in outcome.response.Endpoints:
            for policy in endpoint.UserIdentityTokens:
                policies.setdefault(policy.TokenType, policy.PolicyId)
    return policies


def identity_token(
    policies: dict[ua.UserTokenType, str], user: str | None, password: str | None = None
) -> Any:
    """Anonymous (user None), or a user name with a plain-text password (a None channel)."""
    if user is None:
        policy = policies.get(ua.UserTokenType.Anonymous, "anonymous")
        return ua.AnonymousIdentityToken(PolicyId=policy)
    secret = PASSWORDS[user] if password is None else password
    return ua.UserNameIdentityToken(
        PolicyId=policies.get(ua.UserTokenType.UserName, "username"),
        UserName=user,
        Password=secret.encode(),
        EncryptionAlgorithm=None,
    )


async def activate(
    client: Client,
    gateway: Gateway,
    *,
    token: ua.NodeId,
    user: str | None,
    password: str | None = None,
) -> Outcome:
    """A raw ActivateSession of the session `token` names, with the given identity.

    The token's PolicyId is the one the gateway's endpoints name for its type.
    """
    policies = await token_policies(client, gateway)
    parameters = ua.ActivateSessionParameters(
        ClientSignature=ua.SignatureData(),
        LocaleIds=["en"],
        UserIdentityToken=identity_token(policies, user, password),
    )
    request = ua.ActivateSessionRequest(Parameters=parameters)
    return await call(client, request, ua.ActivateSessionResponse, token=token)


async def write_setpoint(
    client: Client, value: float, *, token: ua.NodeId | None = None
) -> Outcome:
    """A raw Write of plc.setpoint (float32)."""
    item = ua.WriteValue(
        NodeId=node("plc.setpoint"),
        AttributeId=ua.AttributeIds.Value,
        Value=ua.DataValue(ua.Variant(value, ua.VariantType.Float)),
    )
    request = ua.WriteRequest(Parameters=ua.WriteParameters(NodesToWrite=[item]))
    return await call(client, request, ua.WriteResponse, token=token)


async def read_values(client: Client, keys: Sequence[str], timeout: float = 5.0) -> Outcome:
    """A raw Read of the Value of every key."""
    items = [ua.ReadValueId(NodeId=node(key), AttributeId=ua.AttributeIds.Value) for key in keys]
    request = ua.ReadRequest(Parameters=ua.ReadParameters(NodesToRead=items))
    return await call(client, request, ua.ReadResponse, timeout=timeout)


async def create_subscription(client: Client, interval: float = 100.0) -> Outcome:
    """A raw CreateSubscription (no publish loop: the attacker never sends Publish)."""
    parameters = ua.CreateSubscriptionParameters(
        RequestedPublishingInterval=interval,
        RequestedLifetimeCount=3000,
        RequestedMaxKeepAliveCount=10,
        MaxNotificationsPerPublish=1000,
        PublishingEnabled=True,
        Priority=0,
    )
    request = ua.CreateSubscriptionRequest(Parameters=parameters)
    return await call(client, request, ua.CreateSubscriptionResponse)


def monitoring(handle: int, queue_size: int) -> ua.MonitoringParameters:
    return ua.MonitoringParameters(
        ClientHandle=handle, SamplingInterval=100.0, QueueSize=queue_size, DiscardOldest=True
    )


async def create_items(
    client: Client,
    subscription_id: int,
    count: int,
    *,
    key: str = "plc.setpoint",
    queue_size: int = 1,
    first_handle: int = 1,
    timeout: float = 30.0,
) -> Outcome:
    """A raw CreateMonitoredItems of `count` items on `key` (a value that does not change)."""
    watched = ua.ReadValueId(NodeId=node(key), AttributeId=ua.AttributeIds.Value)
    items = [
        ua.MonitoredItemCreateRequest(
            ItemToMonitor=watched,
            MonitoringMode=ua.MonitoringMode.Reporting,
            RequestedParameters=monitoring(first_handle + index, queue_size),
        )
        for index in range(count)
    ]
    parameters = ua.CreateMonitoredItemsParameters(
        SubscriptionId=subscription_id,
        TimestampsToReturn=ua.TimestampsToReturn.Both,
        ItemsToCreate=items,
    )
    request = ua.CreateMonitoredItemsRequest(Parameters=parameters)
    return await call(client, request, ua.CreateMonitoredItemsResponse, timeout=timeout)


async def delete_subscriptions(client: Client, ids: Sequence[int]) -> Outcome:
    request = ua.DeleteSubscriptionsRequest(
        Parameters=ua.DeleteSubscriptionsParameters(SubscriptionIds=list(ids))
    )
    return await call(client, request, ua.DeleteSubscriptionsResponse)

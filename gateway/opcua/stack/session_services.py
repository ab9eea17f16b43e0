"""CreateSession, ActivateSession, CloseSession and discovery, without a session to ride on.

These are the services a stranger reaches. CreateSession on an unsecured
channel is refused unless `allow_none` (asyncua opens one for discovery
even without a None endpoint). ActivateSession checks everything before it
changes anything: the client's signature over the session's nonce, on a
secured channel the certificate the session was created with, the identity
(with the login throttle and never a plaintext password on an unencrypted
channel), and, when the session comes from another connection or was
detached, that the identity is the one it already had. Only then is the
session moved onto this connection. Every refused login is logged with the
peer's address. RegisterServer is refused: the gateway is no discovery
server (136,900 registrations used to cost 140 MB and break FindServers).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import TYPE_CHECKING, Any

from asyncua import ua
from asyncua.common.utils import ServiceError

from gateway.opcua.guards.throttle import UNKNOWN_USER
from gateway.opcua.stack.sessions import Session, SessionState, TooManySessions
from gateway.opcua.users import Identity, Refusal
from gateway.ua.wire import ObjectIds, StatusCodes, node_id, status_code

if TYPE_CHECKING:
    from gateway.opcua.stack.connection import Connection
    from gateway.opcua.stack.context import StackContext

__all__ = [
    "activate_session",
    "close_session",
    "create_session",
    "find_servers",
    "get_endpoints",
]

log = logging.getLogger("gateway.opcua.security")

#: Shortest ClientNonce on a secured channel (OPC 10000-4 §5.6.2).
MIN_NONCE = 32


async def create_session(
    context: StackContext, connection: Connection, params: ua.CreateSessionParameters
) -> ua.CreateSessionResponse:
    if not connection.secured and not context.allow_none:
        context.faults.report(
            "unsecured",
            time.monotonic(),
            "OPC UA: session on an unsecured channel from %s refused (allow_none is off)",
            connection.peer,
        )
        raise ServiceError(StatusCodes.BadSecurityPolicyRejected)
    if connection.secured:
        if len(params.ClientNonce or b"") < MIN_NONCE:
            raise ServiceError(StatusCodes.BadNonceInvalid)
        given = params.ClientCertificate
        if given and bytes(given) != connection.peer_certificate:
            raise ServiceError(StatusCodes.BadSecurityChecksFailed)
    if connection.session is not None:  # one session per connection: the old one goes
        await context.release(connection)
        connection.closed_session()
    sessions = context.sessions
    timeout_ms = sessions.revise_timeout(float(params.RequestedSessionTimeout or 0))
    try:
        session = await sessions.create(
            name=str(params.SessionName or ""),
            peer=connection.peer,
            timeout_ms=timeout_ms,
            certificate=connection.peer_certificate,
            now=time.monotonic(),
        )
    except TooManySessions as error:
        context.faults.report(
            "sessions",
            time.monotonic(),
            "OPC UA: session from %s refused: %s",
            connection.peer,
            error,
        )
        raise ServiceError(StatusCodes.BadTooManySessions) from None
    session.connection = connection
    connection.session = session
    result = ua.CreateSessionResult()
    result.SessionId = session.session_id
    result.AuthenticationToken = session.auth_token
    result.RevisedSessionTimeout = timeout_ms
    result.MaxRequestMessageSize = context.limits.max_message_size
    result.ServerNonce = session.nonce
    result.ServerCertificate = connection.host_certificate
    endpoints = ua.GetEndpointsParameters()
    endpoints.EndpointUrl = params.EndpointUrl
    result.ServerEndpoints = await context.iserver.get_endpoints(
        endpoints, sockname=connection.sockname
    )
    signed = (connection.peer_certificate or b"") + bytes(params.ClientNonce or b"")
    result.ServerSignature.Signature = connection.sign(signed)
    result.ServerSignature.Algorithm = connection.signature_uri
    response = ua.CreateSessionResponse()
    response.Parameters = result
    return response


async def activate_session(
    context: StackContext,
    connection: Connection,
    token: Any,
    params: ua.ActivateSessionParameters,
) -> ua.ActivateSessionResponse:
    session = connection.session
    if session is None or not session.owns_token(token):
        session = context.sessions.lookup(token)
    if session is None or session.state is SessionState.CLOSED:
        _refused(context, connection, None, "no such session")
        raise ServiceError(StatusCodes.BadSessionIdInvalid)
    moving = session.connection is not connection
    if moving and not session.activated:  # the first activation is on the creating channel
        _refused(context, connection, None, "a session created on another connection")
        raise ServiceError(StatusCodes.BadSessionIdInvalid)
    signed = (connection.host_certificate or b"") + session.nonce
    try:
        connection.verify(signed, bytes(params.ClientSignature.Signature or b""))
    except Exception:
        _refused(context, connection, None, "wrong client signature")
        raise ServiceError(StatusCodes.BadApplicationSignatureInvalid) from None
    if moving and session.channel_certificate != connection.peer_certificate:
        _refused(context, connection, session.identity, "a session of another client certificate")
        raise ServiceError(StatusCodes.BadSecurityChecksFailed)
    identity = await _authenticate(context, connection, session, params.UserIdentityToken)
    if moving and session.activated and identity != session.identity:
        _refused(context, connection, identity, f"another identity's session ({session.identity})")
        raise ServiceError(StatusCodes.BadUserAccessDenied)
    try:
        await context.sessions.admit_identity(session, identity)
    except TooManySessions as error:
        _refused(context, connection, identity, str(error))
        raise ServiceError(StatusCodes.BadTooManySessions) from None
    if moving:
        await _move(context, session, connection)
    session.identity = identity
    session.state = SessionState.ACTIVATED
    session.nonce = secrets.token_bytes(32)
    session.last_activity = time.monotonic()
    connection.activated()
    log.info("OPC UA: %s logged in from %s", identity, connection.peer)
    result = ua.ActivateSessionResult()
    result.ServerNonce = session.nonce
    result.Results = [
        status_code(StatusCodes.Good) for _ in params.ClientSoftwareCertificates or []
    ]
    response = ua.ActivateSessionResponse()
    response.Parameters = result
    return response


async def _move(context: StackContext, session: Session, connection: Connection) -> None:
    """Bind `session` to `connection`; its former connection keeps no session."""
    former = session.connection
    if former is not None:
        former.session = None
        former.closed_session()
    if connection.session is not None and connection.session is not session:
        await context.release(connection)
    session.publish.clear()
    session.connection = connection
    session.detached_at = None
    connection.session = session


async def _authenticate(
    context: StackContext, connection: Connection, session: Session, token: Any
) -> Identity:
    """The identity `token` proves, or ServiceError with the refusal's status code."""
    if token is None or (
        isinstance(token, ua.ExtensionObject) and token.TypeId == node_id(ObjectIds.Null)
    ):
        token = ua.AnonymousIdentityToken()  # OPC 10000-4 §5.6.3: null means anonymous
    if isinstance(token, ua.AnonymousIdentityToken):
        outcome = context.users.anonymous_login()
    elif isinstance(token, ua.UserNameIdentityToken):
        outcome = await _password_login(context, connection, session, token)
    else:
        outcome = Refusal(
            StatusCodes.BadIdentityTokenRejected,
            f"{type(token).__name__} is not accepted (user name or anonymous only)",
        )
    if isinstance(outcome, Refusal):
        name = getattr(token, "UserName", None)
        _refused(context, connection, name, outcome.reason)
        raise ServiceError(outcome.status)
    return outcome


async def _password_login(
    context: StackContext, connection: Connection, session: Session, token: ua.UserNameIdentityToken
) -> Identity | Refusal:
    name = str(token.UserName or "")
    bucket = name if context.users.known(name) else UNKNOWN_USER
    throttle = context.throttle
    verdict = throttle.verdict(bucket, connection.host, time.monotonic())
    if verdict.refused:
        throttle.failed(bucket, connection.host, time.monotonic())
        context.faults.report(
            "lockout",
            time.monotonic(),
            "OPC UA: login of %r from %s refused unchecked: locked out for %.0f s "
            "after repeated failures",
            name,
            connection.peer,
            verdict.locked_for,
        )
        return Refusal(StatusCodes.BadUserAccessDenied, "")
    if verdict.delay:
        await asyncio.sleep(verdict.delay)
    plaintext = not token.EncryptionAlgorithm and not connection.encrypted
    if plaintext and not context.plaintext_passwords:
        return Refusal(
            StatusCodes.BadIdentityTokenInvalid,
            "password sent unencrypted on an unencrypted channel",
        )
    try:
        _, password = context.iserver.decrypt_user_token(session, token)
    except Exception:
        return Refusal(StatusCodes.BadIdentityTokenInvalid, "unreadable password")
    outcome = context.users.login(name, str(password))
    if isinstance(outcome, Refusal):
        throttle.failed(bucket, connection.host, time.monotonic())
    else:
        throttle.succeeded(bucket, connection.host)
    return outcome


def _refused(context: StackContext, connection: Connection, who: object, reason: str) -> None:
    context.counters.logins_refused += 1
    if not reason:
        return  # already logged (rate-limited)
    log.warning(
        "OPC UA: login%s from %s refused: %s",
        f" of {who}" if who is not None and str(who) else "",
        connection.peer,
        reason,
    )


async def close_session(
    context: StackContext, connection: Connection, token: Any, delete_subscriptions: bool
) -> ua.CloseSessionResponse:
    session = connection.session
    if session is None or not session.owns_token(token):
        raise ServiceError(StatusCodes.BadSessionIdInvalid)
    connection.session = None
    await context.sessions.close(session, delete_subscriptions=delete_subscriptions)
    connection.closed_session()
    return ua.CloseSessionResponse()


async def get_endpoints(
    context: StackContext, connection: Connection, params: ua.GetEndpointsParameters
) -> ua.GetEndpointsResponse:
    response = ua.GetEndpointsResponse()
    response.Endpoints = await context.iserver.get_endpoints(params, sockname=connection.sockname)
    return response


async def find_servers(
    context: StackContext, connection: Connection, params: ua.FindServersParameters
) -> ua.FindServersResponse:
    response = ua.FindServersResponse()
    response.Servers = context.iserver.find_servers(params, sockname=connection.sockname)
    return response

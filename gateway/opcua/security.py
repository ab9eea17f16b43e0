"""Secure defaults for the asyncua server (DESIGN.md §8).

asyncua's defaults are open: a None endpoint, any user accepted, an "admin"
user with admin rights, 100 MB messages, hour-long sessions. `secure` turns
each of those off or down before the server starts: only the configured
policy × mode endpoints (None only with `allow_none`), username users and
anonymous only when configured, client certificates checked against the
PKI trust list, bounded message, chunk, session and subscription limits.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from pathlib import Path

from asyncua import ua
from asyncua.common.connection import TransportLimits
from asyncua.common.utils import ServiceError
from asyncua.crypto.validator import CertificateValidatorMethod
from asyncua.server.internal_session import InternalSession
from asyncua.server.server import Server
from cryptography import x509

from gateway.config import OpcUaConfig, SecurityMode, SecurityPolicy
from gateway.opcua.pki import Pki, TrustList, thumbprint
from gateway.opcua.uawire import StatusCodes
from gateway.opcua.users import GatewayUserManager

__all__ = ["MAX_MESSAGE_SIZE", "MAX_SESSIONS", "SecuritySummary", "endpoint_policies", "secure"]

log = logging.getLogger(__name__)

#: Largest request or response (bytes): a 10k-value read is about 0.3 MB.
MAX_MESSAGE_SIZE = 8 * 1024 * 1024
#: Chunk size offered (asyncua's default buffer).
CHUNK_SIZE = 65535
#: Concurrent sessions (and TCP connections) the server accepts.
MAX_SESSIONS = 100
#: Longest session timeout a client may ask for; idle sessions close after it.
MAX_SESSION_TIMEOUT_MS = 5 * 60 * 1000
#: Subscriptions across every session.
MAX_SUBSCRIPTIONS = 500
#: Seconds a connection may stay open without activating a session.
ACTIVATION_GRACE = 10.0

_T = ua.SecurityPolicyType
_POLICY_TYPES: dict[tuple[SecurityPolicy, SecurityMode], ua.SecurityPolicyType] = {
    (SecurityPolicy.BASIC256SHA256, SecurityMode.SIGN): _T.Basic256Sha256_Sign,
    (SecurityPolicy.BASIC256SHA256, SecurityMode.SIGN_AND_ENCRYPT): (
        _T.Basic256Sha256_SignAndEncrypt
    ),
    (SecurityPolicy.AES128_SHA256_RSAOAEP, SecurityMode.SIGN): _T.Aes128Sha256RsaOaep_Sign,
    (SecurityPolicy.AES128_SHA256_RSAOAEP, SecurityMode.SIGN_AND_ENCRYPT): (
        _T.Aes128Sha256RsaOaep_SignAndEncrypt
    ),
    (SecurityPolicy.AES256_SHA256_RSAPSS, SecurityMode.SIGN): _T.Aes256Sha256RsaPss_Sign,
    (SecurityPolicy.AES256_SHA256_RSAPSS, SecurityMode.SIGN_AND_ENCRYPT): (
        _T.Aes256Sha256RsaPss_SignAndEncrypt
    ),
}


def endpoint_policies(opcua: OpcUaConfig) -> dict[str, ua.SecurityPolicyType]:
    """Every configured policy × mode by its name, secure ones first, then None if allowed."""
    security = opcua.security
    types = {
        f"{policy}/{mode}": _POLICY_TYPES[(policy, mode)]
        for policy in security.policies
        for mode in security.modes
    }
    if security.allow_none:
        types["None"] = _T.NoSecurity
    return types


@dataclass(frozen=True, slots=True)
class SecuritySummary:
    """What the server offers, for the start-up log line (no secrets)."""

    endpoints: tuple[str, ...]
    anonymous: bool
    users: tuple[str, ...]
    pki_dir: Path
    thumbprint: str

    def __str__(self) -> str:
        users = ", ".join(self.users) or "none"
        anonymous = "on" if self.anonymous else "off"
        return (
            f"endpoints {', '.join(self.endpoints)}; anonymous {anonymous}; "
            f"users {users}; pki {self.pki_dir}; certificate {self.thumbprint}"
        )


def _validator(trust: TrustList, *, allow_none: bool) -> CertificateValidatorMethod:
    async def validate(certificate: x509.Certificate, app: ua.ApplicationDescription) -> None:
        """asyncua calls this on CreateSession with the client's certificate.

        It does not say over which channel. On a None channel the certificate must
        be ignored (OPC UA Part 4, CreateSession), and clients such as node-opcua
        send theirs anyway; so with `allow_none` an untrusted one is
        left to ActivateSession, where the user manager checks the channel's own
        certificate (empty on a None channel) and refuses an untrusted one.
        """
        if trust.is_trusted(certificate):
            return
        if allow_none:
            log.info(
                "OPC UA: %s presented an untrusted certificate; refused at activation "
                "unless its channel is unsecured",
                app.ApplicationUri,
            )
            return
        path = trust.reject(certificate)
        log.warning(
            "OPC UA: rejected untrusted client certificate of %s, saved as %s "
            "(move it to trusted/ to accept it)",
            app.ApplicationUri,
            path,
        )
        raise ServiceError(StatusCodes.BadCertificateUntrusted)

    return validate


async def secure(
    server: Server, opcua: OpcUaConfig, pki_dir: Path, application_uri: str, name: str
) -> SecuritySummary:
    """Apply the gateway's security settings; call after `init()`, before `start()`."""
    pki = Pki(pki_dir)
    certificate = await asyncio.to_thread(pki.ensure, application_uri, name)  # RSA keygen
    await server.load_certificate(str(pki.certificate))
    await server.load_private_key(str(pki.private_key))
    types = endpoint_policies(opcua)
    server.set_security_policy(list(types.values()))
    tokens: list[type] = [ua.UserNameIdentityToken]
    if opcua.anonymous:
        tokens.append(ua.AnonymousIdentityToken)
    server.set_identity_tokens(tokens)
    iserver = server.iserver
    trust = TrustList(pki)
    iserver.set_user_manager(
        GatewayUserManager(
            opcua.users,
            anonymous=opcua.anonymous,
            allow_none=opcua.security.allow_none,
            trust=trust,
        )
    )
    server.allow_remote_admin(False)
    server.set_certificate_validator(_validator(trust, allow_none=opcua.security.allow_none))
    server.limits = TransportLimits(
        max_recv_buffer=CHUNK_SIZE,
        max_send_buffer=CHUNK_SIZE,
        max_chunk_count=math.ceil(MAX_MESSAGE_SIZE / CHUNK_SIZE),
        max_message_size=MAX_MESSAGE_SIZE,
    )
    iserver.max_connections = MAX_SESSIONS
    iserver.max_session_timeout_ms = MAX_SESSION_TIMEOUT_MS
    iserver.max_subscriptions = MAX_SUBSCRIPTIONS
    iserver.max_pending_activation_seconds = ACTIVATION_GRACE
    # asyncua counts activated sessions in a class attribute (one server per process).
    InternalSession.max_connections = MAX_SESSIONS
    return SecuritySummary(
        endpoints=tuple(types),
        anonymous=opcua.anonymous,
        users=tuple(f"{user.name} ({user.role})" for user in opcua.users),
        pki_dir=pki_dir,
        thumbprint=thumbprint(certificate),
    )

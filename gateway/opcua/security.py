"""The gateway's security settings applied to the OPC UA server (docs/security.md).

Only the configured policy × mode endpoints are offered (None only with
`allow_none`), username users and anonymous only when configured, client
certificates checked against the PKI trust list; the server's own
certificate is made on first start. The bounds every client is held to are
`ServerLimits` (guards/limits.py, docs/security.md); the adapter
(stack/) enforces them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from asyncua import ua

from gateway.config import OpcUaConfig, SecurityMode, SecurityPolicy
from gateway.opcua.guards import ServerLimits
from gateway.opcua.pki import Pki, TrustList
from gateway.opcua.stack import StackServer
from gateway.opcua.users import Users
from gateway.ua.certificates import thumbprint

__all__ = ["SecuritySummary", "endpoint_policies", "secure", "server_limits"]

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


def server_limits(opcua: OpcUaConfig, nodes: int) -> ServerLimits:
    """The configured bounds (`opcua.limits`), the monitored items scaled to `nodes`."""
    configured = opcua.limits
    limits = ServerLimits(
        max_connections=configured.max_connections,
        max_connections_per_peer=configured.max_connections_per_peer,
        max_sessions=configured.max_sessions,
        max_sessions_per_identity=max(1, configured.max_sessions // 2),
        max_subscriptions=configured.max_subscriptions,
        max_subscriptions_per_identity=max(1, configured.max_subscriptions // 2),
        max_monitored_items=configured.max_monitored_items,
        min_publishing_interval_ms=configured.min_publishing_interval * 1000.0,
    )
    return limits.for_nodes(nodes)


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


async def secure(
    stack: StackServer, opcua: OpcUaConfig, pki_dir: Path, application_uri: str, name: str
) -> SecuritySummary:
    """Apply the gateway's security settings; call after `init()`, before `serving()`."""
    pki = Pki(pki_dir)
    # A worker thread for this one blocking call: generating an RSA key (first start
    # only) takes up to a second of `cryptography`'s C code, which the loop must not
    # wait on; it releases the GIL, so the pollers go on meanwhile.
    certificate = await asyncio.to_thread(pki.ensure, application_uri, name)
    types = endpoint_policies(opcua)
    await stack.secure(
        certificate=pki.certificate,
        private_key=pki.private_key,
        policies=[t for t in types.values() if t is not _T.NoSecurity],
        allow_none=opcua.security.allow_none,
        users=Users(opcua.users, anonymous=opcua.anonymous),
        trust=TrustList(pki),
    )
    return SecuritySummary(
        endpoints=tuple(types),
        anonymous=opcua.anonymous,
        users=tuple(f"{user.name} ({user.role})" for user in opcua.users),
        pki_dir=pki_dir,
        thumbprint=thumbprint(certificate),
    )

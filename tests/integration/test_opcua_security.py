"""Security of DESIGN.md §8 against a real asyncua client: endpoints, users, certificates."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from asyncua import Client, ua
from asyncua.crypto import security_policies
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from gatewaykit import PLC_POINTS, plc_device
from opcuakit import OpcRig, opc_rig

from gateway.ua.certificates import make_certificate

pytestmark = pytest.mark.asyncio(loop_scope="module")

SECURE: dict[str, Any] = {
    "endpoint": "opc.tcp://127.0.0.1:0",
    "namespace": "urn:test:gateway",
    "security": {"modes": ["Sign", "SignAndEncrypt"]},  # every policy, no None endpoint
    "users": [
        {"name": "op", "password": "op-secret", "role": "operator"},
        {"name": "view", "password": "view-secret", "role": "viewer"},
    ],
}

POLICIES = {
    "Basic256Sha256": security_policies.SecurityPolicyBasic256Sha256,
    "Aes128_Sha256_RsaOaep": security_policies.SecurityPolicyAes128Sha256RsaOaep,
    "Aes256_Sha256_RsaPss": security_policies.SecurityPolicyAes256Sha256RsaPss,
}
MODES = {
    "Sign": ua.MessageSecurityMode.Sign,
    "SignAndEncrypt": ua.MessageSecurityMode.SignAndEncrypt,
}


@dataclass
class Identity:
    """A client application certificate on disk."""

    uri: str
    certificate: Path
    key: Path


def _identity(folder: Path, name: str) -> Identity:
    uri = f"urn:test:client:{name}"
    certificate, key = make_certificate(uri, name, client=True)
    folder.mkdir(parents=True, exist_ok=True)
    paths = Identity(uri, folder / f"{name}.der", folder / f"{name}.pem")
    paths.certificate.write_bytes(certificate.public_bytes(serialization.Encoding.DER))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass
class SecureRig:
    rig: OpcRig
    pki: Path
    trusted: Identity
    untrusted: Identity
    capture: _Capture

    @property
    def log(self) -> str:
        return self.capture.text


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def secure(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SecureRig]:
    root = tmp_path_factory.mktemp("security")
    pki = root / "pki"
    trusted = _identity(root / "clients", "trusted")
    untrusted = _identity(root / "clients", "untrusted")
    (pki / "trusted").mkdir(parents=True)
    (pki / "trusted" / "trusted.der").write_bytes(trusted.certificate.read_bytes())
    handler = _Capture()
    logger = logging.getLogger("gateway.opcua")
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        async with opc_rig(
            {"plc": PLC_POINTS}, lambda r: [plc_device(r)], pki, opcua=SECURE
        ) as rig:
            yield SecureRig(rig, pki, trusted, untrusted, handler)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@asynccontextmanager
async def secure_client(
    secure: SecureRig,
    identity: Identity,
    *,
    policy: str = "Basic256Sha256",
    mode: str = "SignAndEncrypt",
    user: str | None = "op",
    password: str | None = "op-secret",
) -> AsyncIterator[Client]:
    client = Client(secure.rig.url, timeout=5)
    client.application_uri = identity.uri
    if user is not None:
        client.set_user(user)
    if password is not None:
        client.set_password(password)
    await client.set_security(
        POLICIES[policy],
        certificate=str(identity.certificate),
        private_key=str(identity.key),
        server_certificate=str(secure.pki / "own" / "cert.der"),
        mode=MODES[mode],
    )
    async with client:
        yield client


async def test_own_certificate_made_on_first_start(secure: SecureRig) -> None:
    certificate = x509.load_der_x509_certificate((secure.pki / "own" / "cert.der").read_bytes())
    assert certificate.public_key().key_size == 2048  # type: ignore[union-attr]
    san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    assert uris == [secure.rig.server.application_uri]
    assert (secure.pki / "own" / "key.pem").stat().st_mode & 0o077 == 0


async def test_endpoints_are_every_policy_and_mode_without_none(secure: SecureRig) -> None:
    endpoints = await Client(secure.rig.url, timeout=5).connect_and_get_server_endpoints()
    offered = {(e.SecurityPolicyUri.rpartition("#")[2], e.SecurityMode) for e in endpoints}
    expected = {(policy, MODES[mode]) for policy in POLICIES for mode in MODES}
    assert offered == expected
    tokens = {token.TokenType for e in endpoints for token in e.UserIdentityTokens}
    assert tokens == {ua.UserTokenType.UserName}


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("policy", list(POLICIES))
async def test_connect_with_every_policy_and_mode(
    secure: SecureRig, policy: str, mode: str
) -> None:
    async with secure_client(secure, secure.trusted, policy=policy, mode=mode) as client:
        node = client.get_node(secure.rig.node_id("plc._Status.State"))
        assert await node.read_value() in ("connecting", "ok")


@pytest.mark.parametrize(
    ("user", "password"),
    [("op", "wrong"), ("nobody", "op-secret"), (None, None)],
    ids=["wrong password", "unknown user", "anonymous when off"],
)
async def test_bad_credentials_are_rejected(
    secure: SecureRig, user: str | None, password: str | None
) -> None:
    with pytest.raises(ua.UaError):
        async with secure_client(secure, secure.trusted, user=user, password=password):
            pass


async def test_a_refused_login_logs_no_asyncua_error(
    secure: SecureRig, caplog: pytest.LogCaptureFixture
) -> None:
    # asyncua logs `ERROR sending service fault response` for every refused
    # request: a client's mistake that read like a gateway failure.
    caplog.set_level(logging.INFO)
    with pytest.raises(ua.UaError):
        async with secure_client(secure, secure.trusted, user="op", password="wrong"):
            pass
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
    assert "rejected" in secure.log or "refused" in secure.log  # the gateway's own line


async def test_untrusted_certificate_is_rejected_and_saved(secure: SecureRig) -> None:
    rejected = secure.pki / "rejected"
    with pytest.raises(ua.UaStatusCodeError) as refused:
        async with secure_client(secure, secure.untrusted):
            pass
    # Refused at OpenSecureChannel with the code OPC 10000-6 §6.7.6 prescribes (the
    # client does not learn what the trust list holds); the log says why.
    assert refused.value.code == ua.StatusCodes.BadSecurityChecksFailed
    assert "untrusted client certificate from 127.0.0.1:" in secure.log
    saved = list(rejected.glob("untrusted*.der"))
    assert len(saved) == 1
    assert saved[0].read_bytes() == secure.untrusted.certificate.read_bytes()
    # An admin moves it to trusted/: accepted from the next session on, no restart.
    saved[0].rename(secure.pki / "trusted" / saved[0].name)
    async with secure_client(secure, secure.untrusted, user="view", password="view-secret") as c:
        assert await c.get_node(secure.rig.node_id("plc")).read_browse_name()


async def test_unsecured_session_refused_even_if_the_client_skips_the_endpoint_check(
    secure: SecureRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # asyncua's client refuses a missing None endpoint itself; a hostile client would not.
    def any_endpoint(endpoints: list[Any], mode: Any, uri: Any) -> Any:
        encrypted = ua.MessageSecurityMode.SignAndEncrypt  # its password token is plain text
        return next(e for e in endpoints if e.SecurityMode == encrypted)

    monkeypatch.setattr(Client, "find_endpoint", staticmethod(any_endpoint))
    client = Client(secure.rig.url, timeout=5)
    client.set_user("op")
    client.set_password("op-secret")
    with pytest.raises(ua.UaStatusCodeError) as refused:
        async with client:
            pass
    # Refused at CreateSession already: no session exists on an unsecured channel.
    assert refused.value.code == ua.StatusCodes.BadSecurityPolicyRejected
    assert "session on an unsecured channel from 127.0.0.1:" in secure.log


async def test_start_logs_endpoint_and_security_but_no_password(secure: SecureRig) -> None:
    assert f"listening on opc.tcp://127.0.0.1:{secure.rig.server.port}" in secure.log
    assert "Basic256Sha256/SignAndEncrypt" in secure.log
    assert "anonymous off" in secure.log
    assert "op (operator)" in secure.log
    assert "secret" not in secure.log


async def test_stats_count_sessions_subscriptions_and_refusals(secure: SecureRig) -> None:
    """What /metrics will show: the server's own counts, from its tables."""
    server = secure.rig.server
    before = server.stats()
    with pytest.raises(ua.UaStatusCodeError):
        async with secure_client(secure, secure.trusted, password="wrong"):
            pass
    async with secure_client(secure, secure.trusted) as client:
        subscription = await client.create_subscription(100, None)
        await subscription.subscribe_data_change(
            [client.get_node(secure.rig.node_id(k)) for k in ("plc.temp", "plc.flow")]
        )
        during = server.stats()
        assert during.connections >= 1
        assert during.sessions == before.sessions + 1
        assert during.subscriptions == before.subscriptions + 1
        assert during.monitored_items == before.monitored_items + 2
        assert during.logins_refused == before.logins_refused + 1
    after = server.stats()
    assert (after.sessions, after.subscriptions, after.monitored_items) == (
        before.sessions,
        before.subscriptions,
        before.monitored_items,
    )

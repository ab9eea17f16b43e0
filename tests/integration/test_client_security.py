"""The client commands against a secured gateway: generated certificate, trust, endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from clientkit import gateway
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
    "users": [{"name": "op", "password": "op-secret", "role": "operator"}],
}


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[OpcRig]:
    pki = tmp_path_factory.mktemp("client-security") / "pki"
    async with opc_rig({"plc": PLC_POINTS}, lambda r: [plc_device(r)], pki, opcua=SECURE) as rig:
        yield rig


def _server_pki(rig: OpcRig) -> Path:
    return rig.server.pki_dir


async def test_generated_certificate_is_rejected_then_trusted_then_accepted(
    rig: OpcRig, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    client_pki = tmp_path / "client-pki"
    argv = ["read", rig.url, "-u", "op", "-p", "op-secret", "--pki-dir", str(client_pki)]
    refused = await gateway(capsys, *argv, "plc.temp")
    certificate = client_pki / "own" / "client.der"
    assert refused.code == 1
    assert f"created a client certificate {certificate}" in refused.err
    assert f"the server does not trust this client's certificate {certificate}" in refused.err
    assert "move it from <pki>/rejected to <pki>/trusted" in refused.err
    [rejected] = (_server_pki(rig) / "rejected").glob("*.der")
    assert f"'{rejected.name}'" in refused.err  # the exact file to move
    assert rejected.read_bytes() == certificate.read_bytes()
    assert (client_pki / "own" / "client.pem").stat().st_mode & 0o077 == 0

    rejected.rename(_server_pki(rig) / "trusted" / rejected.name)  # what the admin does
    accepted = await gateway(capsys, *argv, "plc.temp")
    assert accepted.code == 0, accepted.err
    assert accepted.out.splitlines()[1].split()[:4] == ["plc.temp", "21.5", "°C", "Good"]
    assert "created" not in accepted.err  # the same certificate, kept

    for security in ("Basic256Sha256,Sign", "aes256_sha256_rsapss,SignAndEncrypt"):
        chosen = await gateway(capsys, *argv, "--security", security, "plc.temp")
        assert chosen.code == 0, chosen.err


async def test_own_certificate_given_with_cert_and_key(
    rig: OpcRig, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    certificate, key = make_certificate("urn:test:own-client", "own client", client=True)
    cert_path, key_path = tmp_path / "mine.pem", tmp_path / "mine.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    trusted = _server_pki(rig) / "trusted" / "mine.der"
    trusted.write_bytes(certificate.public_bytes(serialization.Encoding.DER))
    run = await gateway(
        capsys, "read", rig.url, "-u", "op", "-p", "op-secret",
        "--cert", str(cert_path), "--key", str(key_path), "plc.mode",
    )  # fmt: skip
    assert run.code == 0, run.err
    assert run.out.splitlines()[1].split()[:4] == ["plc.mode", "1", "-", "Good"]
    assert x509.load_der_x509_certificate(trusted.read_bytes()) == certificate


async def test_anonymous_on_a_server_without_it_asks_for_a_user(
    rig: OpcRig, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run = await gateway(capsys, "browse", rig.url, "--pki-dir", str(tmp_path))
    assert run.code == 1
    assert "does not allow anonymous access: give a user with -u USER" in run.err
    assert not (tmp_path / "own").exists()  # no certificate made for nothing


async def test_an_endpoint_the_server_lacks_lists_what_it_offers(
    rig: OpcRig, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run = await gateway(
        capsys, "read", rig.url, "-u", "op", "-p", "x", "--security", "None", "i=2259"
    )
    assert run.code == 1
    assert f"{rig.url} offers no None endpoint; it offers " in run.err
    assert "Basic256Sha256,SignAndEncrypt" in run.err
    bad = await gateway(capsys, "read", rig.url, "--security", "Basic128,Sign", "i=2259")
    assert bad.code == 1
    assert "--security 'Basic128,Sign': expected None or POLICY,MODE" in bad.err


# -- a gateway that also offers the None endpoint (like the demo) ---------------------

MIXED: dict[str, Any] = {
    **SECURE,
    "security": {"modes": ["SignAndEncrypt"], "allow_none": True},
    "anonymous": True,
}


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def mixed(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[OpcRig]:
    pki = tmp_path_factory.mktemp("client-mixed") / "pki"
    async with opc_rig({"plc": PLC_POINTS}, lambda r: [plc_device(r)], pki, opcua=MIXED) as rig:
        yield rig


async def test_untrusted_certificate_refused_at_activation_is_still_explained(
    mixed: OpcRig, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # With a None endpoint too, the gateway refuses an untrusted certificate when the
    # secured channel opens (Bad_SecurityChecksFailed, docs/security.md); the client
    # tells that apart from a wrong password.
    argv = [
        "read", mixed.url, "-u", "op", "-p", "op-secret", "--pki-dir", str(tmp_path),
        "--security", "Basic256Sha256,SignAndEncrypt", "plc.temp",
    ]  # fmt: skip
    certificate = tmp_path / "own" / "client.der"
    first = await gateway(capsys, *argv)
    assert first.code == 1
    assert f"the server does not trust this client's certificate {certificate}" in first.err
    assert "user or password" not in first.err  # a new certificate cannot be trusted yet
    # Told apart by an anonymous session over the same certificate (the endpoint allows one).
    again = await gateway(capsys, *argv)
    assert again.code == 1
    assert f"the server does not trust this client's certificate {certificate}" in again.err
    assert "user or password" not in again.err
    [rejected] = (_server_pki(mixed) / "rejected").glob("*.der")
    rejected.rename(_server_pki(mixed) / "trusted" / rejected.name)
    accepted = await gateway(capsys, *argv)
    assert accepted.code == 0, accepted.err
    wrong = await gateway(capsys, *[("wrong" if arg == "op-secret" else arg) for arg in argv])
    assert wrong.code == 1
    assert wrong.err.strip() == (
        f"error: {mixed.url}: user or password rejected (Bad_UserAccessDenied)"
    )  # the certificate is trusted now: no word of it
    assert accepted.out.splitlines()[1].split()[:4] == ["plc.temp", "21.5", "°C", "Good"]
    unsecured = await gateway(capsys, "read", mixed.url, "plc.temp")  # the default: None
    assert unsecured.code == 0, unsecured.err

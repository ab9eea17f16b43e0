"""The PKI folder and the user manager, without a server."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from gateway.config import Role, UserConfig
from gateway.opcua.pki import Pki, TrustList, make_certificate, thumbprint
from gateway.opcua.users import GatewayUser, GatewayUserManager, can_write

URI = "urn:host:modbus-opcua-gateway:test"


def test_certificate_made_once_then_reused(tmp_path: Path) -> None:
    pki = Pki(tmp_path / "pki")
    first = pki.ensure(URI, "test")
    assert pki.certificate.exists()
    assert pki.private_key.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "pki" / "trusted").is_dir()
    assert (tmp_path / "pki" / "rejected").is_dir()
    key = first.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    assert key.key_size == 2048
    assert isinstance(first.signature_hash_algorithm, hashes.SHA256)
    san = first.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [URI]
    second = pki.ensure(URI, "test")
    assert thumbprint(second) == thumbprint(first)


def _ca() -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "plant CA")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def test_trust_list_accepts_listed_and_ca_issued_certificates(tmp_path: Path) -> None:
    pki = Pki(tmp_path)
    pki.ensure(URI, "test")
    trust = TrustList(pki)
    client, _ = make_certificate("urn:client", "client", client=True)
    assert not trust.is_trusted(client)
    saved = trust.reject(client)
    assert saved.parent == pki.rejected
    assert thumbprint(client) in saved.name
    saved.rename(pki.trusted / saved.name)
    assert trust.is_trusted(client)

    ca, ca_key = _ca()
    (pki.trusted / "ca.der").write_bytes(ca.public_bytes(serialization.Encoding.DER))
    issued = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hmi")]))
        .issuer_name(ca.subject)
        .public_key(rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key())
        .serial_number(2)
        .not_valid_before(dt.datetime.now(dt.UTC))
        .not_valid_after(dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
        .sign(ca_key, hashes.SHA256())
    )
    assert trust.is_trusted(issued)
    stranger, _ = make_certificate("urn:stranger", "stranger", client=True)
    assert not trust.is_trusted(stranger)


USERS = [
    UserConfig(name="op", password=SecretStr("op-pass"), role=Role.OPERATOR),
    UserConfig(name="view", password=SecretStr("view-pass"), role=Role.VIEWER),
]
CHANNEL = b"client certificate"


def test_users_roles_and_anonymous() -> None:
    manager = GatewayUserManager(USERS, anonymous=False, allow_none=False)
    op = manager.get_user(None, "op", "op-pass", CHANNEL)
    assert isinstance(op, GatewayUser)
    assert (op.name, op.gateway_role, can_write(op)) == ("op", Role.OPERATOR, True)
    view = manager.get_user(None, "view", "view-pass", CHANNEL)
    assert view is not None
    assert not can_write(view)
    assert manager.get_user(None, "op", "view-pass", CHANNEL) is None
    assert manager.get_user(None, "ghost", "op-pass", CHANNEL) is None
    assert manager.get_user(None, None, None, CHANNEL) is None
    open_manager = GatewayUserManager(USERS, anonymous=True, allow_none=False)
    anonymous = open_manager.get_user(None, None, None, CHANNEL)
    assert anonymous is not None
    assert not can_write(anonymous)


def test_unsecured_channel_only_with_allow_none() -> None:
    strict = GatewayUserManager(USERS, anonymous=True, allow_none=False)
    assert strict.get_user(None, "op", "op-pass", b"") is None
    relaxed = GatewayUserManager(USERS, anonymous=True, allow_none=True)
    assert relaxed.get_user(None, "op", "op-pass", b"") is not None

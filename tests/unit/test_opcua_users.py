"""Session activation checks the secure channel's certificate against trusted/."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from gateway.config import Role, UserConfig
from gateway.opcua.pki import Pki, TrustList, make_certificate
from gateway.opcua.users import GatewayUser, GatewayUserManager

OPERATOR = UserConfig.model_validate({"name": "op", "password": "secret", "role": "operator"})


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


@pytest.fixture
def trust(tmp_path: Path) -> TrustList:
    pki = Pki(tmp_path / "pki")
    for folder in (pki.trusted, pki.rejected):
        folder.mkdir(parents=True)
    return TrustList(pki)


def _manager(trust: TrustList) -> GatewayUserManager:
    return GatewayUserManager([OPERATOR], anonymous=True, allow_none=False, trust=trust)


def test_trusted_channel_certificate_activates(trust: TrustList, tmp_path: Path) -> None:
    certificate, _ = make_certificate("urn:client", "client", client=True)
    (tmp_path / "pki" / "trusted" / "client.der").write_bytes(_der(certificate))
    user = _manager(trust).get_user(None, "op", "secret", certificate=_der(certificate))
    assert isinstance(user, GatewayUser)
    assert user.gateway_role is Role.OPERATOR


def test_untrusted_channel_certificate_is_refused_and_saved(
    trust: TrustList, tmp_path: Path
) -> None:
    """Even with a valid password, and even if CreateSession carried no certificate."""
    certificate, _ = make_certificate("urn:intruder", "intruder", client=True)
    manager = _manager(trust)
    assert manager.get_user(None, "op", "secret", certificate=_der(certificate)) is None
    assert manager.get_user(None, None, None, certificate=_der(certificate)) is None
    saved = list((tmp_path / "pki" / "rejected").iterdir())
    assert len(saved) == 1
    assert "intruder" in saved[0].name


def test_expired_certificate_is_not_trusted_even_in_trusted(
    trust: TrustList, tmp_path: Path
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old")])
    now = dt.datetime.now(dt.UTC)
    expired = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=30))
        .not_valid_after(now - dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "pki" / "trusted" / "old.der").write_bytes(_der(expired))
    assert trust.is_trusted(expired) is False
    assert _manager(trust).get_user(None, "op", "secret", certificate=_der(expired)) is None


def test_garbage_certificate_is_refused(trust: TrustList) -> None:
    assert _manager(trust).get_user(None, "op", "secret", certificate=b"not a certificate") is None

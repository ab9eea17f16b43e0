"""The PKI folder, the trust list, and the channel's certificate check, without a server.

A client certificate is checked when the secure channel opens: the adapter
calls `StackContext.trusted`, which asks the `TrustList` (trusted/) and
saves a refused certificate to rejected/. The end-to-end path (a real client
refused, then accepted once its certificate is moved) is in
tests/integration/test_opcua_security.py.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
from pathlib import Path

import pytest
from asyncua import Server
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from gateway.errors import GatewayError
from gateway.opcua.guards import ConnectionTable, FaultLog, LoginThrottle, ServerLimits
from gateway.opcua.pki import Pki, TrustList
from gateway.opcua.stack.browse import Browser
from gateway.opcua.stack.context import StackContext
from gateway.opcua.stack.hooks import Hooks
from gateway.opcua.stack.sessions import SessionRegistry
from gateway.opcua.stack.subscriptions import Subscriptions
from gateway.opcua.users import Users
from gateway.ua.certificates import make_certificate, thumbprint

URI = "urn:host:modbus-opcua-gateway:test"
PEER = "192.0.2.7:50123"


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


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


def test_a_damaged_certificate_is_a_located_error_not_a_traceback(tmp_path: Path) -> None:
    pki = Pki(tmp_path / "pki")
    pki.ensure(URI, "test")
    pki.certificate.write_bytes(pki.certificate.read_bytes()[:100])  # a half-written file
    with pytest.raises(GatewayError, match=r"cert\.der is unreadable .*delete .*own"):
        pki.ensure(URI, "test")


def test_a_key_that_is_not_the_certificates_is_refused(tmp_path: Path) -> None:
    """Two gateways that once raced in one folder could leave one's key beside the
    other's certificate: every secure channel would then fail to decrypt."""
    pki, other = Pki(tmp_path / "pki"), Pki(tmp_path / "other")
    pki.ensure(URI, "test")
    other.ensure(URI, "test")
    pki.private_key.write_bytes(other.private_key.read_bytes())
    with pytest.raises(GatewayError, match=r"key\.pem does not belong to .*cert\.der"):
        pki.ensure(URI, "test")
    pki.private_key.write_bytes(b"-----BEGIN PRIVATE KEY-----\nbroken\n")
    with pytest.raises(GatewayError, match=r"key\.pem is unreadable"):
        pki.ensure(URI, "test")


def test_a_start_waits_for_the_lock_and_names_it_when_it_gives_up(tmp_path: Path) -> None:
    pki = Pki(tmp_path / "pki")
    pki.lock.parent.mkdir(parents=True)
    with pki.lock.open("w") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)  # another process making the certificate
        with pytest.raises(GatewayError, match=r"another process held .*\.lock for 0\.1 s"):
            pki.ensure(URI, "test", lock_timeout=0.1)
    assert not pki.certificate.exists()
    pki.ensure(URI, "test", lock_timeout=0.1)  # released: made at once
    assert sorted(p.name for p in pki.certificate.parent.iterdir()) == [
        ".lock",
        "cert.der",
        "key.pem",
    ]  # no temporary file left


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


def _expired() -> x509.Certificate:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old")])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=30))
        .not_valid_after(now - dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


def test_an_expired_certificate_is_not_trusted_even_in_trusted(tmp_path: Path) -> None:
    pki = Pki(tmp_path)
    pki.ensure(URI, "test")
    expired = _expired()
    (pki.trusted / "old.der").write_bytes(_der(expired))
    assert TrustList(pki).is_trusted(expired) is False


def test_files_in_trusted_that_are_no_certificates_are_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pki = Pki(tmp_path)
    pki.ensure(URI, "test")
    client, _ = make_certificate("urn:client", "client", client=True)
    (pki.trusted / "broken.der").write_bytes(b"not a certificate")
    (pki.trusted / "notes.txt").write_bytes(_der(client))  # not a certificate suffix
    (pki.trusted / "client.pem").write_bytes(client.public_bytes(serialization.Encoding.PEM))
    with caplog.at_level(logging.WARNING):
        assert TrustList(pki).is_trusted(client)
    assert "broken.der is not a certificate" in caplog.text


# -- the channel's certificate check (StackContext.trusted) -----------------------------


def _context(trust: TrustList | None) -> StackContext:
    """A StackContext of real parts; `trusted` uses only the trust list and the fault log."""
    limits = ServerLimits()
    iserver = Server().iserver
    subscriptions = Subscriptions(iserver.subscription_service, iserver.aspace, limits)

    def spawn(coroutine: object, name: str) -> object:
        raise AssertionError(f"nothing is spawned here ({name})")

    return StackContext(
        iserver=iserver,
        limits=limits,
        policies=[],
        users=Users((), anonymous=False),
        trust=trust,
        allow_none=False,
        plaintext_passwords=False,
        hooks=Hooks(),
        connections=ConnectionTable(limits),
        sessions=SessionRegistry(limits, subscriptions.close_session),
        subscriptions=subscriptions,
        throttle=LoginThrottle(limits),
        faults=FaultLog(logging.getLogger("test.opcua.pki")),
        browser=Browser(iserver.aspace),
        spawn=spawn,
    )


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    pki = Pki(tmp_path / "pki")
    pki.ensure(URI, "test")
    return pki


def test_a_trusted_channel_certificate_is_accepted(pki: Pki) -> None:
    certificate, _ = make_certificate("urn:client", "client", client=True)
    (pki.trusted / "client.der").write_bytes(_der(certificate))
    assert _context(TrustList(pki)).trusted(_der(certificate), PEER) is True
    assert list(pki.rejected.iterdir()) == []


def test_an_untrusted_channel_certificate_is_refused_saved_and_logged(
    pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    certificate, _ = make_certificate("urn:intruder", "intruder", client=True)
    with caplog.at_level(logging.WARNING, logger="test.opcua.pki"):
        assert _context(TrustList(pki)).trusted(_der(certificate), PEER) is False
    saved = list(pki.rejected.iterdir())
    assert len(saved) == 1
    assert "intruder" in saved[0].name
    assert saved[0].read_bytes() == _der(certificate)
    assert PEER in caplog.text
    assert str(saved[0]) in caplog.text
    assert "Traceback" not in caplog.text


def test_an_expired_channel_certificate_is_refused_even_in_trusted(pki: Pki) -> None:
    expired = _expired()
    (pki.trusted / "old.der").write_bytes(_der(expired))
    assert _context(TrustList(pki)).trusted(_der(expired), PEER) is False


def test_a_garbage_channel_certificate_is_refused_with_one_line(
    pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="test.opcua.pki"):
        assert _context(TrustList(pki)).trusted(b"not a certificate", PEER) is False
    assert list(pki.rejected.iterdir()) == []
    [record] = [r for r in caplog.records if r.name == "test.opcua.pki"]
    assert PEER in record.getMessage()
    assert "unreadable certificate" in record.getMessage()
    assert record.exc_info is None


def test_without_a_trust_list_every_certificate_passes_the_channel_check() -> None:
    """StackServer.secure always sets one; a context without it checks nothing."""
    assert _context(None).trusted(b"anything", PEER) is True

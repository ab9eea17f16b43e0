"""The server's PKI folder: own certificate, trusted and rejected client certificates.

    <pki_dir>/own/cert.der      the server's certificate (made on first start)
    <pki_dir>/own/key.pem       its private key (mode 0600)
    <pki_dir>/trusted/          client certificates (or their issuing CAs) to accept
    <pki_dir>/rejected/         certificates of refused clients, for an admin to move

The trust list is read again on every session creation, so moving a file
from rejected/ to trusted/ takes effect without a restart.

Gateways whose configuration files share a folder share its pki/ too, and a
fleet starts together: the certificate is made under an exclusive lock on
own/.lock and each file is written under a temporary name and renamed, so a
start never reads a half-written file or pairs one gateway's key with
another's certificate (the fleet test once caught a start that did).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from gateway.errors import GatewayError
from gateway.filemodes import exclusive_lock, write_whole
from gateway.ua.certificates import key_belongs_to, make_certificate, thumbprint

__all__ = ["LOCK_TIMEOUT", "Pki", "TrustList"]

log = logging.getLogger(__name__)

#: Seconds a start waits while another process makes the certificate (about 1 s).
LOCK_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class Pki:
    """Paths of one PKI folder."""

    root: Path

    @property
    def certificate(self) -> Path:
        return self.root / "own" / "cert.der"

    @property
    def private_key(self) -> Path:
        return self.root / "own" / "key.pem"

    @property
    def trusted(self) -> Path:
        return self.root / "trusted"

    @property
    def rejected(self) -> Path:
        return self.root / "rejected"

    @property
    def lock(self) -> Path:
        return self.root / "own" / ".lock"

    def ensure(
        self, application_uri: str, name: str, *, lock_timeout: float = LOCK_TIMEOUT
    ) -> x509.Certificate:
        """Create the folders and, on first start, the server's certificate and key.

        GatewayError when the pair cannot be read (damaged, or not a pair) or
        made, or another process holds the lock for `lock_timeout` seconds.
        """
        try:
            for folder in (self.certificate.parent, self.trusted, self.rejected):
                folder.mkdir(parents=True, exist_ok=True)
            os.chmod(self.certificate.parent, 0o700)
        except OSError as error:
            raise GatewayError(
                f"OPC UA: cannot prepare the PKI folder {self.root}: {error}"
            ) from None
        # Both files there: both are whole (each is renamed into place, the key first),
        # so a folder the gateway may only read needs no lock.
        if not self._pair_exists():
            try:
                with exclusive_lock(self.lock, lock_timeout):
                    if not self._pair_exists():
                        return self._make(application_uri, name)
            except TimeoutError:
                raise GatewayError(
                    f"OPC UA: another process held {self.lock} for {lock_timeout:g} s while "
                    "making the server certificate; is a gateway stuck starting?"
                ) from None
            except OSError as error:
                raise GatewayError(f"OPC UA: cannot lock {self.lock}: {error}") from None
        certificate = self._load()
        _warn_if_stale(certificate, application_uri)
        return certificate

    def _pair_exists(self) -> bool:
        return self.certificate.exists() and self.private_key.exists()

    def _load(self) -> x509.Certificate:
        """The certificate, checked to be readable and to belong to the key beside it."""
        remedy = f"delete {self.certificate.parent} to make a new pair"
        try:
            certificate = x509.load_der_x509_certificate(self.certificate.read_bytes())
        except (OSError, ValueError) as error:
            raise GatewayError(
                f"OPC UA: the server certificate {self.certificate} is unreadable ({error}); "
                f"{remedy}"
            ) from None
        try:
            key = serialization.load_pem_private_key(
                self.private_key.read_bytes(), password=None, unsafe_skip_rsa_key_validation=True
            )
        except (OSError, ValueError, TypeError) as error:
            raise GatewayError(
                f"OPC UA: the server's private key {self.private_key} is unreadable ({error}); "
                f"{remedy}"
            ) from None
        if not key_belongs_to(key, certificate):
            raise GatewayError(
                f"OPC UA: the server's private key {self.private_key} does not belong to "
                f"{self.certificate}; {remedy}"
            )
        return certificate

    def _make(self, application_uri: str, name: str) -> x509.Certificate:
        hostname = socket.gethostname()
        certificate, key = make_certificate(
            application_uri, name, hosts=(hostname, "localhost", "127.0.0.1")
        )
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            # The key first: a certificate on disk always has its key beside it.
            write_whole(self.private_key, pem, 0o600)
            write_whole(
                self.certificate, certificate.public_bytes(serialization.Encoding.DER), 0o644
            )
        except OSError as error:
            raise GatewayError(
                f"OPC UA: cannot write the server certificate in {self.certificate.parent}: {error}"
            ) from None
        log.info(
            "OPC UA: created the server certificate %s (thumbprint %s)",
            self.certificate,
            thumbprint(certificate),
        )
        return certificate


def _warn_if_stale(certificate: x509.Certificate, application_uri: str) -> None:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        uris = san.value.get_values_for_type(x509.UniformResourceIdentifier)
    except x509.ExtensionNotFound:
        uris = []
    if application_uri not in uris:
        log.warning(
            "OPC UA: the server certificate's URI %s is not the application URI %s; "
            "clients may refuse it (another gateway's pki_dir? give each gateway its own "
            "opcua.security.pki_dir, or delete pki/own to make a new one)",
            uris,
            application_uri,
        )
    if certificate.not_valid_after_utc < dt.datetime.now(dt.UTC):
        log.warning("OPC UA: the server certificate expired on %s", certificate.not_valid_after_utc)


class TrustList:
    """Client certificates accepted by the server: the files in trusted/.

    A certificate is trusted when it is in trusted/ itself, or was issued by
    a CA certificate in trusted/. Others are saved to rejected/.
    """

    def __init__(self, pki: Pki) -> None:
        self._pki = pki

    def _load(self) -> list[x509.Certificate]:
        certificates = []
        for path in sorted(self._pki.trusted.glob("*")):
            if path.suffix.lower() not in (".der", ".pem", ".crt", ".cer"):
                continue
            data = path.read_bytes()
            try:
                certificates.append(
                    x509.load_pem_x509_certificate(data)
                    if data.startswith(b"-----")
                    else x509.load_der_x509_certificate(data)
                )
            except ValueError:
                log.warning("OPC UA: %s is not a certificate; ignored", path)
        return certificates

    def is_trusted(self, certificate: x509.Certificate) -> bool:
        """In trusted/ (or issued by a CA there) and inside its validity window."""
        now = dt.datetime.now(dt.UTC)
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            return False
        for trusted in self._load():
            if trusted == certificate:
                return True
            if _issued_by(certificate, trusted):
                return True
        return False

    def reject(self, certificate: x509.Certificate) -> Path:
        """Save a refused certificate to rejected/ (named by subject and thumbprint)."""
        common_names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        label = str(common_names[0].value) if common_names else "certificate"
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)[:64]
        path = self._pki.rejected / f"{safe} [{thumbprint(certificate)}].der"
        path.write_bytes(certificate.public_bytes(serialization.Encoding.DER))
        return path


def _issued_by(certificate: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    if not constraints.ca:
        return False
    try:
        certificate.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True

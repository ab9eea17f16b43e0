"""The client's application certificate: the user's own, or one generated once per user.

A secure endpoint needs the client to present a certificate that the
gateway trusts. Without `--cert/--key`, one is made on first use in the
client PKI folder (default `~/.config/modbus-opcua-gateway/pki`) and reused,
so the gateway's administrator has to trust it only once.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from gateway.errors import ClientError
from gateway.filemodes import exclusive_lock, write_whole
from gateway.ua.certificates import key_belongs_to, make_certificate, thumbprint

__all__ = ["ClientIdentity", "client_identity", "default_pki_dir"]

#: Common name of generated client certificates (shown by the gateway's rejected/ files).
COMMON_NAME = "modbus-opcua-gateway client"
#: Seconds a command waits while another one makes the certificate (about 1 s).
LOCK_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    """A certificate and key on disk, and the application URI they were made for."""

    certificate: Path
    private_key: Path
    application_uri: str
    certificate_format: str  # "der" or "pem"
    key_format: str
    rejected_name: str  # the file name the gateway saves it under in pki/rejected
    created: bool = False


def _check_key(
    data: bytes, pem: bool, key_path: Path, cert: x509.Certificate, cert_path: Path
) -> None:
    """A key that is not the certificate's fails here, by name, instead of as a refused
    signature in the middle of the secure channel's handshake."""
    load = serialization.load_pem_private_key if pem else serialization.load_der_private_key
    try:
        key = load(data, password=None)
    except (ValueError, TypeError) as error:
        raise ClientError(
            f"{key_path} is not a private key (PEM or DER, without a password): {error}"
        ) from None
    if not key_belongs_to(key, cert):
        raise ClientError(
            f"{key_path} is not the private key of {cert_path}: give the key the "
            "certificate was made with"
        )


def default_pki_dir() -> Path:
    """`$XDG_CONFIG_HOME/modbus-opcua-gateway/pki`, by default under ~/.config."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "modbus-opcua-gateway" / "pki"


def client_identity(
    pki_dir: Path, certificate: Path | None = None, private_key: Path | None = None
) -> ClientIdentity:
    """The given certificate and key, or the generated pair in `pki_dir` (made if missing)."""
    if certificate is not None or private_key is not None:
        if certificate is None or private_key is None:
            raise ClientError("--cert and --key go together: give both or neither")
        return _load(certificate, private_key, created=False)
    own = pki_dir / "own"
    cert_path, key_path = own / "client.der", own / "client.pem"
    if cert_path.exists() and key_path.exists():
        return _load(cert_path, key_path, created=False)
    try:
        own.mkdir(parents=True, exist_ok=True)
        os.chmod(own, 0o700)
        # Two commands run at once (a script, cron) make one pair, each file whole.
        with exclusive_lock(own / ".lock", LOCK_TIMEOUT):
            if cert_path.exists() and key_path.exists():
                return _load(cert_path, key_path, created=False)
            uri = f"urn:{socket.gethostname()}:modbus-opcua-gateway:client"
            cert, key = make_certificate(
                uri, COMMON_NAME, hosts=(socket.gethostname(),), client=True
            )
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            write_whole(key_path, pem, 0o600)  # the key first: a certificate has its key
            write_whole(cert_path, cert.public_bytes(serialization.Encoding.DER), 0o644)
    except TimeoutError:
        raise ClientError(
            f"another process held {own / '.lock'} for {LOCK_TIMEOUT:g} s while making the "
            "client certificate"
        ) from None
    except OSError as error:
        raise ClientError(f"cannot write the client certificate in {own}: {error}") from None
    return _load(cert_path, key_path, created=True)


def _load(cert_path: Path, key_path: Path, *, created: bool) -> ClientIdentity:
    try:
        data = cert_path.read_bytes()
        key_data = key_path.read_bytes()
    except OSError as error:
        raise ClientError(f"cannot read the client certificate: {error}") from None
    pem = data.lstrip().startswith(b"-----")
    key_pem = key_data.lstrip().startswith(b"-----")
    try:
        cert = x509.load_pem_x509_certificate(data) if pem else x509.load_der_x509_certificate(data)
    except ValueError:
        raise ClientError(f"{cert_path} is not an X.509 certificate (DER or PEM)") from None
    _check_key(key_data, key_pem, key_path, cert, cert_path)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    except x509.ExtensionNotFound:
        uris = []
    if not uris:
        raise ClientError(
            f"{cert_path} has no application URI (a SubjectAltName URI), which OPC UA requires"
        )
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    label = str(names[0].value) if names else "certificate"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)[:64]
    return ClientIdentity(
        certificate=cert_path,
        private_key=key_path,
        application_uri=uris[0],
        certificate_format="pem" if pem else "der",
        key_format="pem" if key_pem else "der",
        rejected_name=f"{safe} [{thumbprint(cert)}].der",
        created=created,
    )

"""The client's own certificate given with --cert and --key (gateway/uaclient/identity.py).

A key that is not the certificate's used to surface as a refused signature in
the middle of the handshake; now it is refused by name before connecting.
tests/integration/test_client_security.py connects with a matching pair.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from gateway.errors import ClientError
from gateway.ua.certificates import make_certificate
from gateway.uaclient.identity import client_identity

_PKCS8 = serialization.PrivateFormat.PKCS8
_NONE = serialization.NoEncryption()


def _pair(folder: Path, name: str, *, der: bool = False) -> tuple[Path, Path]:
    certificate, key = make_certificate(f"urn:test:{name}", name, client=True)
    encoding = serialization.Encoding.DER if der else serialization.Encoding.PEM
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(encoding))
    key_path.write_bytes(key.private_bytes(encoding, _PKCS8, _NONE))
    return cert_path, key_path


@pytest.mark.parametrize("der", [False, True])
def test_a_matching_pair_is_taken_as_given(tmp_path: Path, der: bool) -> None:
    cert_path, key_path = _pair(tmp_path, "mine", der=der)
    identity = client_identity(tmp_path / "pki", cert_path, key_path)
    assert identity.certificate == cert_path
    assert identity.private_key == key_path
    assert identity.application_uri == "urn:test:mine"
    assert identity.key_format == ("der" if der else "pem")
    assert not (tmp_path / "pki").exists()  # nothing generated


def test_a_key_of_another_certificate_is_refused_by_name(tmp_path: Path) -> None:
    cert_path, _ = _pair(tmp_path, "mine")
    _, other_key = _pair(tmp_path, "other")
    with pytest.raises(ClientError) as error:
        client_identity(tmp_path / "pki", cert_path, other_key)
    assert str(error.value) == (
        f"{other_key} is not the private key of {cert_path}: give the key the "
        "certificate was made with"
    )


NOT_KEYS = [b"", b"-----BEGIN PRIVATE KEY-----\nnot base64\n", b"\x30\x03"]


@pytest.mark.parametrize("content", NOT_KEYS)
def test_a_key_file_that_is_no_key_is_refused_by_name(tmp_path: Path, content: bytes) -> None:
    cert_path, key_path = _pair(tmp_path, "mine")
    key_path.write_bytes(content)
    with pytest.raises(ClientError, match=r"mine\.key is not a private key \(PEM or DER"):
        client_identity(tmp_path / "pki", cert_path, key_path)

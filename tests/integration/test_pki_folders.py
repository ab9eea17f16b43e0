"""PKI folders: shared by processes that start together, and none left behind in /tmp.

Gateways whose configuration files share a folder share its pki/; a fleet
starting together once paired one gateway's key with another's certificate
and read a half-written certificate (a start failed with a traceback).

Every run of the suite used to leave dozens of empty /tmp/gateway-pki-*: the
storage and alarm kits made one with mkdtemp for each config they built. The
system's temporary folder is pointed at an empty folder of this test, so any
folder the code path makes there is seen, whatever else runs on the machine.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from alarmkit import alarm_config
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from storagekit import gateway_config

from gateway.app import Gateway
from gateway.opcua.pki import Pki
from gateway.ua.certificates import thumbprint

#: Each process: imports, says "ready", waits for a line on stdin (so all go at once),
#: then makes or reads its certificate and prints the thumbprint of what it got.
_PRELUDE = """
import sys
from pathlib import Path
from cryptography import x509
from gateway.ua.certificates import thumbprint
folder, n = Path(sys.argv[1]), sys.argv[2]
print("ready", flush=True)
sys.stdin.readline()
"""
_SERVER = """
from gateway.opcua.pki import Pki
print(thumbprint(Pki(folder).ensure(f"urn:test:line{n}", f"line{n}")), flush=True)
"""
_CLIENT = """
from gateway.uaclient.identity import client_identity
path = client_identity(folder).certificate
print(thumbprint(x509.load_der_x509_certificate(path.read_bytes())), flush=True)
"""


def _together(script: str, folder: Path, count: int) -> list[str]:
    """Run `count` processes of `script` released at the same moment; their outputs."""
    starts = [
        subprocess.Popen(
            [sys.executable, "-c", _PRELUDE + script, str(folder), str(n)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(count)
    ]
    try:
        for start in starts:  # every process imported and waiting
            assert start.stdout is not None
            assert start.stdout.readline() == "ready\n"
        for start in starts:
            assert start.stdin is not None
            start.stdin.write("go\n")
            start.stdin.flush()
        outcomes = [start.communicate(timeout=120) for start in starts]
    finally:
        for start in starts:
            start.kill()
            start.wait()
    assert [start.returncode for start in starts] == [0] * count, outcomes
    return [out.strip() for out, _ in outcomes]


def test_gateways_starting_together_in_one_folder_share_one_whole_pair(tmp_path: Path) -> None:
    folder = tmp_path / "pki"
    printed = set(_together(_SERVER, folder, 4))
    assert len(printed) == 1, printed  # one certificate made; the others read it
    # The pair on disk is that certificate and its own key (ensure checks the pair).
    assert {thumbprint(Pki(folder).ensure("urn:test:line0", "line0"))} == printed


def test_client_commands_run_together_make_one_client_certificate(tmp_path: Path) -> None:
    """`gateway read` from a script run by cron, twice at once: one identity, not two
    that each overwrote the other's key."""
    folder = tmp_path / "client-pki"
    printed = set(_together(_CLIENT, folder, 4))
    assert len(printed) == 1, printed
    own = folder / "own"
    key = serialization.load_pem_private_key((own / "client.pem").read_bytes(), password=None)
    certificate = x509.load_der_x509_certificate((own / "client.der").read_bytes())
    assert {thumbprint(certificate)} == printed
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    assert key.public_key().public_bytes(serialization.Encoding.DER, spki) == (
        certificate.public_key().public_bytes(serialization.Encoding.DER, spki)
    )


async def test_the_kits_configs_leave_nothing_in_the_system_temp_folder(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    configs = [
        gateway_config(f"sqlite:///{tmp_path / 'storage.db'}"),
        alarm_config(f"sqlite:///{tmp_path / 'alarms.db'}", None, []),
    ]
    basetemp = tmp_path_factory.getbasetemp()
    for config in configs:
        pki = config.opcua.security.pki_dir
        assert pki.is_relative_to(basetemp), pki  # pytest removes old sessions' folders
        assert not pki.exists()  # made by the OPC UA server, only if one starts
    async with Gateway(configs[0], config_dir=tmp_path) as gateway:
        assert gateway.opcua.security is not None
    assert (configs[0].opcua.security.pki_dir / "own" / "cert.der").is_file()
    assert list(system_tmp.iterdir()) == []

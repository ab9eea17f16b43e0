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
from storagekit import gateway_config

from gateway.app import Gateway
from gateway.opcua.pki import Pki
from gateway.ua.certificates import thumbprint

#: One start's certificate step, held at a line on stdin so all start together.
_ENSURE = """
import sys
from pathlib import Path
from gateway.opcua.pki import Pki
from gateway.ua.certificates import thumbprint
print("ready", flush=True)
sys.stdin.readline()
print(thumbprint(Pki(Path(sys.argv[1])).ensure(sys.argv[2], sys.argv[3])), flush=True)
"""


def test_gateways_starting_together_in_one_folder_share_one_whole_pair(tmp_path: Path) -> None:
    folder = tmp_path / "pki"
    starts = [
        subprocess.Popen(
            [sys.executable, "-c", _ENSURE, str(folder), f"urn:test:line{n}", f"line{n}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
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
    assert [start.returncode for start in starts] == [0] * 4, outcomes
    printed = {out.strip() for out, _ in outcomes}
    assert len(printed) == 1, outcomes  # one certificate made; the others read it
    # The pair on disk is that certificate and its own key (ensure checks the pair).
    assert {thumbprint(Pki(folder).ensure("urn:test:line0", "line0"))} == printed


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

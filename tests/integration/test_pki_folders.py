"""The test kits leave no certificate folders behind in the system's temporary folder.

Every run of the suite used to leave dozens of empty /tmp/gateway-pki-*: the
storage and alarm kits made one with mkdtemp for each config they built. The
system's temporary folder is pointed at an empty folder of this test, so any
folder the code path makes there is seen, whatever else runs on the machine.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from alarmkit import alarm_config
from storagekit import gateway_config

from gateway.app import Gateway


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

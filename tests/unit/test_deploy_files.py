"""The service files of deploy/: what docs/deploy.md promises is what they say."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.config import load_config

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _unit() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in (DEPLOY / "systemd" / "modbus-opcua-gateway.service").read_text().splitlines():
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def test_the_systemd_unit_notifies_restarts_and_is_hardened() -> None:
    unit = _unit()
    expected = {
        "Type": "notify",
        "NotifyAccess": "main",
        "Restart": "on-failure",
        "User": "gateway",
        "StateDirectory": "modbus-opcua-gateway",
        "ProtectSystem": "strict",
        "NoNewPrivileges": "yes",
        "PrivateTmp": "yes",
        "CapabilityBoundingSet": "",
    }
    for key, value in expected.items():
        assert unit.get(key) == [value], key
    assert int(unit["WatchdogSec"][0]) > 0
    assert unit["ExecStart"][0].endswith("gateway run -c /etc/modbus-opcua-gateway/gateway.yaml")
    assert "MemoryDenyWriteExecute" not in unit  # breaks libffi closures


def test_the_dockerfile_is_multi_stage_non_root_with_a_health_check() -> None:
    text = (DEPLOY / "docker" / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.MULTILINE)) == 2
    assert "COPY --from=build" in text
    assert re.search(r"^USER gateway$", text, re.MULTILINE)
    assert re.search(r"^HEALTHCHECK .*\n.*http://127\.0\.0\.1:8080/healthz", text, re.MULTILINE)
    assert "'.[http,postgres]'" in text


def test_the_images_default_configuration_is_valid(tmp_path: Path) -> None:
    config = load_config(
        DEPLOY / "docker" / "gateway.yaml", environ={"GATEWAY_OPERATOR_PASSWORD": "s3cret!"}
    ).config
    assert config.http is not None
    assert (config.http.listen, config.http.insecure) == ("0.0.0.0:8080", True)
    assert str(config.opcua.security.pki_dir).startswith("/var/lib/gateway")
    assert config.storage.url == "sqlite:////var/lib/gateway/history.db"

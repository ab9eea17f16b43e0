"""`gateway run` does not import what its configuration does not use (docs/performance.md).

Imports are most of the gateway's memory floor (issue 21): each module below
is imported only on the path that needs it. A fresh interpreter runs `gateway
run` on a small configuration with OPC UA, SQLite, an alarm and HTTP (what
`gateway bench gateway` runs), every part started, then stopped; its
`sys.modules` afterwards must hold none of them. Deterministic: `--duration`
counts from once every part has started, so each import made at start has run.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

#: Module (or package) → the only path that may import it.
DEFERRED: dict[str, str] = {
    "alembic": "a migration of an existing database",
    "sqlalchemy.dialects.postgresql": "a PostgreSQL storage URL",
    "psycopg": "a PostgreSQL storage URL",
    "prometheus_client": "the first /metrics scrape",
    "gateway.http.prometheus": "the first /metrics scrape",
    "gateway.modbus.rtulinks": "an RTU or RTU-over-TCP device",
    "gateway.modbus.rtuline": "an RTU or RTU-over-TCP device",
    "gateway.rtuframe": "an RTU or RTU-over-TCP device",
    "gateway.finetimer": "an RTU or RTU-over-TCP device (its timing)",
    "gateway.serialio": "an RTU device",
    "crcmod": "an RTU or RTU-over-TCP device",
    "serial": "an RTU device (pyserial)",
    "serial_asyncio_fast": "an RTU device",
    "gateway.alarms.notify": "notification routes",
    "aiosmtplib": "an email channel",
    "gateway.mqtt.publisher": "an mqtt section",
    "paho": "an mqtt section",
    "aiomqtt": "an mqtt section",
    "google.protobuf": "an mqtt section",
    "gateway.analysis": "`gateway history` and the Python API",
    "pandas": "`gateway history` and the Python API",
    "pyarrow": "`gateway history` and the Python API",
    "gateway.uaclient": "the client commands",
    "gateway.bench": "`gateway bench`",
    "gateway.demo": "`gateway demo`",
    "simulators": "`gateway simulate`, `gateway demo`",
}

#: Loaded by the same run: the probe really started every part.
STARTED = (
    "gateway.app",
    "gateway.opcua.server",
    "gateway.storage.historian",
    "sqlalchemy.dialects.sqlite",
    "gateway.alarms.engine",
    "gateway.http.aioserver",
    "gateway.modbus.lines",
)

_PROBE = (
    "import sys\n"
    "from gateway.cli import main\n"
    "code = main(['run', '-c', sys.argv[1], '--duration', '0'])\n"
    "print(' '.join(sorted(sys.modules)))\n"
    "raise SystemExit(code)\n"
)


def _closed_port() -> int:
    """A port nothing listens on: the device is refused and backs off, nothing is polled."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _write_config(folder: Path) -> Path:
    config = {
        "gateway": {"name": "deferred"},
        "opcua": {  # as `gateway bench gateway`: the default policies, so a certificate
            "endpoint": "opc.tcp://127.0.0.1:0",
            "namespace": "urn:test:gateway",
            "anonymous": True,
            "security": {"allow_none": True, "pki_dir": str(folder / "pki")},
        },
        "storage": {"url": f"sqlite:///{folder / 'history.db'}"},
        "devices": [
            {
                "name": "plc",
                "host": "127.0.0.1",
                "port": _closed_port(),
                "tags": [
                    {"name": "temp", "table": "holding_register", "address": 0, "type": "float32"}
                ],
            }
        ],
        "alarms": [{"name": "hot", "tag": "plc.temp", "high": 1e12, "severity": 500}],
        "http": {"listen": "127.0.0.1:0"},
    }
    path = folder / "gateway.yaml"
    path.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
    return path


def _loaded_by_run(config: Path) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=config.parent,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def _matches(loaded: set[str], name: str) -> list[str]:
    return sorted(m for m in loaded if m == name or m.startswith(f"{name}."))


def test_gateway_run_imports_only_what_its_configuration_uses(tmp_path: Path) -> None:
    loaded = _loaded_by_run(_write_config(tmp_path))
    assert [m for m in STARTED if m not in loaded] == [], "the probe did not start the gateway"
    imported = {name: _matches(loaded, name) for name in DEFERRED}
    found = {f"{name} (for {DEFERRED[name]})": mods for name, mods in imported.items() if mods}
    assert not found, f"`gateway run` imported modules only another path needs: {found}"


def test_the_check_matches_modules_and_their_submodules() -> None:
    """The check above is not vacuous: a package counts by any of its modules."""
    loaded = {"gateway.app", "prometheus_client.exposition", "serialization"}
    assert _matches(loaded, "prometheus_client") == ["prometheus_client.exposition"]
    assert _matches(loaded, "serial") == []
    assert _matches(loaded, "gateway.app") == ["gateway.app"]

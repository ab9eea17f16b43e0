"""`gateway bench mqtt`: a tiny run end to end, its figures present and sane (no targets)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gateway.cli import main


@pytest.mark.skipif(shutil.which("mosquitto") is None, reason="mosquitto is not installed")
def test_bench_mqtt_reports_cpu_births_latency_and_replay(tmp_path: Path) -> None:
    out = tmp_path / "mqtt.json"
    code = main(
        [
            "bench", "mqtt", "--devices", "5", "--tags", "50", "--seconds", "2",
            "--replay-rows", "5000", "--json", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    figures = {f["name"]: f for f in json.loads(out.read_text())["figures"]}
    assert set(figures) == {
        "CPU added by MQTT",
        "NBIRTH + all DBIRTHs",
        "change → DDATA p50",
        "change → DDATA p99",
        "replay",
    }
    assert figures["NBIRTH + all DBIRTHs"]["median"] > 0
    assert 0 < figures["change → DDATA p50"]["median"] <= figures["change → DDATA p99"]["median"]
    assert figures["replay"]["median"] > 0

"""`gateway bench mqtt`: a tiny run end to end, its figures present and sane (no targets).

The replay runs while real pollers scan simulated slaves in the same event loop:
its missed scans are counted from the pollers' own counters."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gateway.cli import main


@pytest.mark.skipif(shutil.which("mosquitto") is None, reason="mosquitto is not installed")
def test_bench_mqtt_reports_cpu_births_latency_replay_and_missed_scans(tmp_path: Path) -> None:
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
        "missed scans during replay",
        "scans during replay",
    }
    assert figures["NBIRTH + all DBIRTHs"]["median"] > 0
    assert 0 < figures["change → DDATA p50"]["median"] <= figures["change → DDATA p99"]["median"]
    assert figures["replay"]["median"] > 0
    # every one of the 5 pollers scanned at least once during the replay window
    assert figures["scans during replay"]["median"] >= 5
    assert figures["missed scans during replay"]["median"] >= 0

"""`gateway bench` latency, fanout, startup, modbus and all: tiny runs, structure and sanity.

Smoke tests, not measurements: they check that each workload runs end to end
(real gateway process, slaves and clients in their own processes), that its
report has the figures it promises and that they are sane (latencies
positive, no change lost, requests per scan equal to the optimum). Figures
are never compared with the §9 targets here.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest

from gateway.bench.libmodbus import skip_reason
from gateway.bench.timing import Sample, analyse, grid_phase, grid_spread
from gateway.cli import main


def _figures(path: Path) -> dict[str, dict[str, Any]]:
    document = json.loads(path.read_text(encoding="utf-8"))
    return {figure["name"]: figure for figure in document["figures"]}


def test_grid_phase_finds_the_grid_under_delays_wrap_around_and_outliers() -> None:
    # Grid at 0.097 mod 0.1; delays 0..4 ms wrap some phases past 0; two 60 ms late.
    times = [1000.0 + 0.1 * k + 0.097 + 0.001 * (k % 5) for k in range(50)]
    times += [1010.157, 1020.157]
    assert grid_phase(times, 0.1) == pytest.approx(0.097, abs=1e-6)
    assert grid_spread(times, 0.1) == pytest.approx(0.004, abs=1e-6)


def test_analyse_recovers_waits_and_overhead_of_synthetic_grids() -> None:
    # Scan grid phase 0 / 100 ms, answers 0.5 ms after the slot, stored 5 ms later;
    # publish cycles at 50 ms + k * 90 ms run 0.2 ms late; delivery 0.8 ms.
    rng = random.Random(3)
    samples = []
    for k in range(200):
        changed = 1000.0 + k * 0.17 + rng.uniform(0, 0.1)
        source = math.ceil(changed / 0.1) * 0.1 + 0.0005
        ready = source + 0.005
        published = 0.0502 + math.ceil((ready - 0.0502) / 0.09) * 0.09
        samples.append(Sample(changed, source, ready, published, published + 0.0008))
    for d in analyse(samples, 0.1, 0.09):
        parts = d.scan_wait + d.round_trip + d.processing + d.publish_wait + d.publish_late
        assert d.total == pytest.approx(parts + d.delivery)
        assert d.total == pytest.approx(d.scan_wait + d.publish_wait + d.overhead)
        # The grids are estimated from the stamps: the constant 0.5 ms answer time
        # counts as scan phase and the 0.2 ms lateness as publish phase.
        assert d.round_trip == pytest.approx(0.0, abs=1e-6)
        assert d.processing == pytest.approx(0.005)
        assert 0 <= d.publish_wait < 0.09
        assert d.missed_cycles == 0
        assert d.overhead == pytest.approx(0.0058, abs=1e-6)


def test_a_poll_late_by_more_than_a_scan_counts_as_overhead_not_scan_phase() -> None:
    on_time = [Sample(10.0 + k * 0.3 + 0.04, 10.1005 + k * 0.3, 0, 0, 0) for k in range(20)]
    late = Sample(20.04, 20.2805, 0, 0, 0)  # due at 20.1, answered 1.8 scans later
    delays = analyse([*on_time, late], 0.1, 0.09)
    # The grid is estimated from the answers: 0.5 ms after the real slots.
    assert delays[0].scan_wait == pytest.approx(0.0605, abs=1e-6)
    assert delays[-1].scan_wait == pytest.approx(0.0605, abs=1e-6)
    assert delays[-1].round_trip == pytest.approx(0.18, abs=1e-6)


def test_bench_latency_idle_and_under_a_small_load(tmp_path: Path) -> None:
    out = tmp_path / "latency.json"
    args = ["bench", "latency", "--changes", "6", "--runs", "1", "--warmup", "0.3"]
    args += ["--load-warmup", "0.3", "--load-slaves", "2"]
    assert main([*args, "--load-tags", "50", "--json", str(out)]) == 0
    figures = _figures(out)
    for variant in ("idle", "load"):
        assert figures[f"{variant}: samples"]["median"] == 6
        assert figures[f"{variant}: changes lost"]["median"] == 0
        assert figures[f"{variant}: latency p50"]["median"] > 0
        overhead = figures[f"{variant}: overhead p99"]
        assert math.isfinite(overhead["median"])
        assert overhead["target"].startswith("≤")
        assert figures[f"{variant}: Modbus round trip p50"]["median"] > 0
        assert figures[f"{variant}: gateway processing p50"]["median"] > 0
        assert figures[f"{variant}: delivery to client p50"]["median"] > 0


def test_bench_fanout_every_client_gets_every_change(tmp_path: Path) -> None:
    out = tmp_path / "fanout.json"
    args = ["bench", "fanout", "--clients", "2", "--slaves", "2", "--tags", "50"]
    args += ["--warmup", "0.5", "--duration", "1.5", "--runs", "1", "--json", str(out)]
    assert main(args) == 0
    figures = _figures(out)
    assert figures["changes expected per client"]["median"] > 0
    assert figures["missed per client (worst)"]["median"] == 0
    assert figures["overflow/sequence/status indicators"]["median"] == 0
    assert figures["notifications/s per client (slowest)"]["median"] > 0
    assert figures["gateway cpu"]["median"] > 0
    assert figures["gateway peak RSS"]["median"] > 0


def test_bench_startup_times_the_real_process(tmp_path: Path) -> None:
    out = tmp_path / "startup.json"
    assert main(["bench", "startup", "1000", "--runs", "1", "--json", str(out)]) == 0
    figures = _figures(out)
    listening = figures["1,000 tags: listening"]["median"]
    first = figures["1,000 tags: first Good value"]["median"]
    assert 0 < listening <= first <= figures["1,000 tags: every device Good"]["median"]
    assert figures["1,000 tags: peak RSS"]["median"] > 10


def test_bench_modbus_requests_per_scan_and_rates(tmp_path: Path) -> None:
    out = tmp_path / "modbus.json"
    args = ["bench", "modbus", "--tags", "60", "--seconds", "0.3", "--runs", "1"]
    assert main([*args, "--json", str(out)]) == 0
    document = json.loads(out.read_text(encoding="utf-8"))
    figures = _figures(out)
    measured = figures["requests per scan, irregular device"]
    assert measured["median"] == float(measured["target"].split()[-1])
    if skip_reason() is None:
        assert figures["libmodbus C client req/s (C slave)"]["median"] > 0
        assert figures["ours / C client"]["median"] > 0
        assert document["notes"] == []
    else:
        assert figures["our client req/s (Python simulator slave)"]["median"] > 0
        assert "skipped" in document["notes"][0]


def test_bench_all_quick_writes_one_combined_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "all.json"
    assert main(["bench", "all", "--quick", "--only", "storage,modbus", "--json", str(out)]) == 0
    document = json.loads(out.read_text(encoding="utf-8"))
    assert [report["workload"] for report in document["reports"]] == ["storage", "modbus"]
    assert all(report["figures"] for report in document["reports"])
    assert "bench all: 2 workload(s)" in capsys.readouterr().out


def test_bench_all_refuses_an_unknown_workload(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "all", "--only", "poll,nope"]) == 2
    assert "unknown workload(s) nope" in capsys.readouterr().err


def test_bench_http_measures_scrapes_status_rows_and_idle(tmp_path: Path) -> None:
    out = tmp_path / "http.json"
    args = ["bench", "http", "--devices", "3", "--device-tags", "2", "--slaves", "1"]
    args += ["--slave-tags", "150", "--requests", "3", "--baseline", "0.2", "--warmup", "0.2"]
    assert main([*args, "--idle", "0.3", "--runs", "1", "--json", str(out)]) == 0
    figures = _figures(out)
    assert figures["/metrics, 3 devices: CPU per request"]["target"] == "≤ 50"
    assert figures["/metrics, 3 devices: answer size"]["median"] > 1  # KB
    assert figures["status, 100 rows of 150 tags: answer size"]["median"] > 5
    assert figures["status, 100 rows of 150, new filter: response time (median)"]["median"] > 0
    assert figures["idle gateway, no devices, with http"]["median"] >= 0
    assert "idle HTTP server's share" in figures


def test_bench_alerts_latency_and_the_rate_limit_under_flapping(tmp_path: Path) -> None:
    out = tmp_path / "alerts.json"
    args = ["bench", "alerts", "--transitions", "10", "--alarms", "50", "--seconds", "2"]
    assert main([*args, "--runs", "1", "--json", str(out)]) == 0
    figures = _figures(out)
    p50 = figures["transition → webhook p50"]["median"]
    assert 0 < p50 <= figures["transition → webhook p99"]["median"]
    # 50 alarms flipping every second for 2 s: the 10/min limit lets 10 through.
    assert figures["messages received, flapping"]["median"] == 10
    assert "CPU added by notifications, flapping" in figures
    # The flapping values come from simulated slaves polled by the gateway's pollers.
    assert figures["transitions/s, flapping, routed"]["median"] > 0
    assert figures["missed scans, flapping, no route"]["target"] == "0"
    assert figures["missed scans, flapping, routed"]["median"] >= 0


def test_bench_gateway_runs_the_whole_gateway_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "gateway.json"
    args = ["bench", "gateway", "200", "--per-device", "100", "--alarms-per-device", "2"]
    args += ["--subscribed-devices", "2", "--warmup", "0.5", "--duration", "3", "--segment", "1"]
    section = json.dumps({"storage": {"url": f"sqlite:///{tmp_path / 'other.db'}"}})
    assert main([*args, "--section", section, "--json", str(out)]) == 0
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["parameters"]["extra_sections"] == ["storage"]
    figures = _figures(out)
    assert figures["200 tags: start-up to every device Good"]["median"] > 0
    assert figures["200 tags: cpu"]["median"] > 0
    assert figures["200 tags: RSS at the end"]["median"] > 10
    assert figures["200 tags: peak RSS"]["median"] >= figures["200 tags: RSS at the end"]["median"]
    assert figures["200 tags: missed scans"]["median"] == 0
    assert figures["200 tags: values dropped by the bus"]["median"] == 0
    # 10% of 200 tags change every second: stored, and notified to the client (2 devices).
    assert figures["200 tags: rows stored"]["median"] > 0
    assert figures["200 tags: notifications to the client"]["median"] > 0
    assert (tmp_path / "other.db").exists()  # the extra section reached the gateway


def test_bench_gateway_refuses_a_section_that_is_not_a_json_object(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["bench", "gateway", "100", "--section", "[1]"])
    assert "expected a JSON object" in capsys.readouterr().err


def test_bench_rtu_reports_rate_and_cpu_against_tcp(tmp_path: Path) -> None:
    """`bench rtu` at a tiny size: a paced simulator on a pseudo-terminal, the TCP twin, floors."""
    out = tmp_path / "rtu.json"
    args = ["bench", "rtu", "--bauds", "115200", "--seconds", "0.5", "--runs", "1"]
    assert main([*args, "--json", str(out)]) == 0
    figures = _figures(out)
    theoretical = figures["115200 baud: theoretical"]["median"]
    achieved = figures["115200 baud: achieved"]["median"]
    assert 0 < achieved <= theoretical  # a line cannot beat its baud rate
    assert figures["115200 baud: CPU per request"]["median"] > 0
    assert figures["115200 baud: TCP CPU per request"]["median"] > 0
    # The code-free loops on the same line and slave beside them, and the gateway's share.
    assert figures["115200 baud: floor, RTU"]["median"] > 0
    assert figures["115200 baud: floor, TCP"]["median"] > 0
    assert "115200 baud: gateway code, TCP" in figures
    # The ratio, or the note that TCP's own share was below the noise in this short run.
    notes = json.loads(out.read_text())["notes"]
    assert "115200 baud: gateway code, RTU vs TCP" in figures or any("noise" in n for n in notes)


def test_bench_aggregates_pushdown_and_naive_agree_on_the_intervals(tmp_path: Path) -> None:
    """`bench aggregates` at a tiny size, on SQLite (it checks the interval count itself)."""
    out = tmp_path / "aggregates.json"
    args = ["bench", "aggregates", "--rows", "5000", "--intervals", "24", "--runs", "1"]
    assert main([*args, "--json", str(out)]) == 0
    figures = _figures(out)
    assert figures["sqlite SQL pushdown"]["median"] > 0
    assert figures["sqlite naive Python loop"]["median"] > 0
    assert figures["sqlite naive / pushdown"]["median"] > 0

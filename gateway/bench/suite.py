"""`gateway bench all`: the core workloads in sequence, one table, one JSON.

The core: poll, storage, modbus, latency, fanout, startup, http and the whole
gateway. The wave-2 workloads with their own set-up (rtu, mqtt, alerts,
aggregates: a pseudo-terminal, a broker, a webhook receiver, a million
stored rows) run with their own commands, which keeps this one under 10
minutes.

The full suite's parameters keep the whole run under 10 minutes on the
project's 2-core machine (each workload's own command has longer defaults
for a closer look); `--quick` shrinks every workload to seconds, to check
that the suite works, not to measure. Each workload runs on its own event
loop and leaves no process behind, so one cannot disturb the next.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from gateway.bench.fanout import FanoutSpec, bench_fanout
from gateway.bench.gateway import GatewaySpec, bench_gateway
from gateway.bench.http import HttpSpec, bench_http
from gateway.bench.latency import LatencySpec, bench_latency
from gateway.bench.modbus import ModbusSpec, bench_modbus
from gateway.bench.poll import PollSpec, bench_poll
from gateway.bench.report import Report
from gateway.bench.startup import bench_startup
from gateway.bench.storage import StorageSpec, bench_storage
from gateway.loop import run

__all__ = ["WORKLOADS", "Step", "run_suite", "suite"]

#: Workloads in the order they run.
WORKLOADS = ("poll", "storage", "modbus", "latency", "fanout", "startup", "http", "gateway")


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    start: Callable[[], Report]


def _async(make: Callable[[], Coroutine[Any, Any, Report]]) -> Callable[[], Report]:
    return lambda: run(make())


def suite(*, quick: bool, postgres_url: str | None = None) -> list[Step]:
    """The workloads with the suite's parameters (full or quick)."""
    if quick:
        poll = PollSpec(slaves=5, tags=100, warmup=1.0, duration=2.0)
        poll_runs, baseline = 1, 2
        storage = StorageSpec(rows=5000, tags=50, batch=1000, runs=1, naive_rows=500)
        modbus = ModbusSpec(tags=200, plan_seconds=1.0, seconds=0.5, runs=1)
        latency = LatencySpec(changes=10, runs=1, load_slaves=5, settle=0.5, load_settle=0.5)
        fanout = FanoutSpec(
            clients=2, slaves=2, tags=100, warmup=1.0, duration=2.0, runs=1, grace=1.0
        )
        sizes, startup_runs, per_device = [2000], 1, 1000
        http = HttpSpec(
            devices=10, device_tags=5, slaves=2, slave_tags=100, requests=5,
            baseline=0.5, warmup=0.5, idle=1.0, runs=1,
        )  # fmt: skip
        whole = GatewaySpec(sizes=(1000,), warmup=1.0, duration=3.0, segment=1.0)
    else:
        poll = PollSpec(warmup=3.0, duration=10.0)
        poll_runs, baseline = 2, 10
        storage = StorageSpec(runs=3)
        modbus = ModbusSpec(runs=3)
        latency = LatencySpec(changes=60, runs=3, settle=3.0)
        fanout = FanoutSpec(warmup=5.0, duration=10.0, runs=3)
        sizes, startup_runs, per_device = [10_000, 100_000], 2, 1000
        http = HttpSpec(requests=30, baseline=3.0, warmup=3.0, idle=10.0, runs=2)
        whole = GatewaySpec(warmup=3.0, duration=15.0, segment=5.0)
    return [
        Step("poll", _async(lambda: bench_poll(poll, runs=poll_runs, baseline_slaves=baseline))),
        Step("storage", lambda: bench_storage(storage, postgres_url=postgres_url)),
        Step("modbus", _async(lambda: bench_modbus(modbus))),
        Step("latency", _async(lambda: bench_latency(latency))),
        Step("fanout", _async(lambda: bench_fanout(fanout))),
        Step(
            "startup",
            _async(lambda: bench_startup(sizes, runs=startup_runs, per_device=per_device)),
        ),
        Step("http", _async(lambda: bench_http(http))),
        Step("gateway", _async(lambda: bench_gateway(whole))),
    ]


def run_suite(
    steps: list[Step], *, only: tuple[str, ...] = WORKLOADS, progress: Callable[[str], None]
) -> tuple[list[Report], float]:
    """Run the chosen steps in order; reports and total seconds. A failing workload is a
    note in its (empty) report, and the others still run."""
    reports = []
    began = time.monotonic()
    for step in steps:
        if step.name not in only:
            continue
        progress(f"bench all: {step.name} …")
        started = time.monotonic()
        try:
            report = step.start()
        except Exception as error:  # reported as a note; the suite goes on
            report = Report(step.name, {})
            report.notes.append(f"failed: {type(error).__name__}: {error}")
        report.parameters["elapsed_s"] = round(time.monotonic() - started, 1)
        reports.append(report)
        progress(report.table())
    return reports, time.monotonic() - began

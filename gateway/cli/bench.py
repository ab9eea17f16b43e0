"""`bench WORKLOAD`: the benchmark workloads of DESIGN.md §9."""

from __future__ import annotations

import argparse
from pathlib import Path

from gateway.cli.common import Commands, positive_int

__all__ = ["register"]


def _cmd_bench_poll(args: argparse.Namespace) -> int:
    from gateway.bench.poll import PollSpec, bench_poll
    from gateway.loop import run

    spec = PollSpec(
        slaves=args.slaves,
        tags=args.tags,
        interval=args.interval,
        change=args.change,
        warmup=args.warmup,
        duration=args.duration,
    )
    report = run(bench_poll(spec, runs=args.runs, baseline_slaves=args.baseline_slaves))
    print(report.table())
    if args.json is not None:
        report.write_json(args.json)
        print(f"wrote {args.json}")
    return 0


def _cmd_bench_storage(args: argparse.Namespace) -> int:
    from gateway.bench.storage import StorageSpec, bench_storage
    from gateway.config import Synchronous

    spec = StorageSpec(
        rows=args.rows,
        tags=args.tags,
        batch=args.batch,
        runs=args.runs,
        naive_rows=args.naive_rows,
        synchronous=Synchronous(args.synchronous),
    )
    report = bench_storage(spec, postgres_url=args.postgres)
    print(report.table())
    if args.postgres is None:
        print("PostgreSQL not measured: pass --postgres postgresql+psycopg://USER@HOST/DB")
    if args.json is not None:
        report.write_json(args.json)
        print(f"wrote {args.json}")
    return 0


def register(commands: Commands) -> None:
    """Add `bench` and its workloads."""
    bench = commands.add_parser(
        "bench",
        help="run a benchmark workload (DESIGN.md §9)",
        description=(
            "Measure the gateway process alone (slaves run in a child process): CPU as "
            "user+sys seconds per wall second, median and min-max over runs, warm-up excluded."
        ),
    )
    workloads = bench.add_subparsers(dest="workload", metavar="WORKLOAD", required=True)
    poll = workloads.add_parser(
        "poll",
        help="N slaves x M float32 tags, a fraction changing per scan, plus the naive baseline",
        description=(
            "Poll N simulated slaves x M float32 tags; runs the changing, static and "
            "one-request-per-tag baseline variants."
        ),
    )
    poll.add_argument("--slaves", type=int, default=100)
    poll.add_argument("--tags", type=int, default=1000, help="float32 tags per slave")
    poll.add_argument("--interval", type=float, default=1.0, help="scan interval, seconds")
    poll.add_argument("--change", type=float, default=0.1, help="fraction changing per scan")
    poll.add_argument("--warmup", type=float, default=5.0, metavar="S")
    poll.add_argument("--duration", type=float, default=20.0, metavar="S", help="measured window")
    poll.add_argument("--runs", type=int, default=3)
    poll.add_argument("--baseline-slaves", type=int, default=10)
    poll.add_argument("--json", type=Path, default=None, metavar="FILE")
    poll.set_defaults(handler=_cmd_bench_poll)
    storage = workloads.add_parser(
        "storage",
        help="batch insert rows/s into SQLite (and PostgreSQL), plus the one-INSERT-per-row "
        "baseline",
        description=(
            "Insert scans of float32 tags through the historian's batch path into a scratch "
            "SQLite file and, with --postgres, a scratch schema (dropped afterwards); then "
            "the same rows with one INSERT per row."
        ),
    )
    storage.add_argument("--rows", type=positive_int, default=200_000, help="rows per run")
    storage.add_argument("--tags", type=positive_int, default=1000)
    storage.add_argument(
        "--batch",
        type=positive_int,
        default=50_000,
        help="rows per commit (the default batch_size)",
    )
    storage.add_argument("--runs", type=positive_int, default=3)
    storage.add_argument("--naive-rows", type=positive_int, default=20_000)
    storage.add_argument("--synchronous", choices=["normal", "full"], default="normal")
    storage.add_argument("--postgres", default=None, metavar="URL")
    storage.add_argument("--json", type=Path, default=None, metavar="FILE")
    storage.set_defaults(handler=_cmd_bench_storage)

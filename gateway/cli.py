"""Command-line interface: the only place that prints for users or exits.

Each command is a small function taking the parsed arguments and returning an
exit code: 0 success, 1 error (one clear message on stderr), 2 usage (argparse).
Heavy modules are imported inside the commands so `--help` stays instant.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from gateway import __version__
from gateway.errors import ConfigError, GatewayError

__all__ = ["main"]

Command = Callable[[argparse.Namespace], int]


def _cmd_check(args: argparse.Namespace) -> int:
    from gateway.config import load_config
    from gateway.report import format_check

    loaded = load_config(args.config)
    for warning in loaded.warnings:
        print(warning, file=sys.stderr)
    print(format_check(loaded.config, source=str(args.config)))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from gateway.app import run_until_signalled
    from gateway.config import load_config
    from gateway.loop import run

    loaded = load_config(args.config)
    for warning in loaded.warnings:
        print(warning, file=sys.stderr)
    run(run_until_signalled(loaded.config, duration=args.duration))
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from simulators.cli import run_plant_file

    return run_plant_file(args.config, duration=args.duration)


def _cmd_bench(args: argparse.Namespace) -> int:
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gateway",
        description="Modbus TCP → OPC UA gateway with historian, alarms and simulated PLCs.",
    )
    parser.add_argument("--version", action="version", version=f"gateway {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    check = commands.add_parser(
        "check",
        help="validate a configuration and print the planned Modbus requests",
        description=(
            "Validate a gateway configuration file. Prints devices, tag counts and the "
            "read requests planned per device and scan class. On errors prints every "
            "problem as file:line: key path: message and exits 1."
        ),
    )
    check.add_argument("-c", "--config", type=Path, required=True, metavar="FILE")
    check.set_defaults(handler=_cmd_check)

    run = commands.add_parser(
        "run",
        help="run the gateway until Ctrl-C / SIGTERM",
        description=(
            "Run the gateway: poll every device and publish values until SIGINT or SIGTERM, "
            "then stop cleanly. Device state changes are logged."
        ),
    )
    run.add_argument("-c", "--config", type=Path, required=True, metavar="FILE")
    run.add_argument(
        "--duration", type=float, default=None, metavar="S", help="stop after S seconds"
    )
    run.set_defaults(handler=_cmd_run, log_level=logging.INFO)

    simulate = commands.add_parser(
        "simulate",
        help="run simulated PLCs from a plant file",
        description=(
            "Serve the simulated PLCs (Modbus TCP slaves) declared in a plant file. Prints "
            "each slave's address and unit ids, then runs until Ctrl-C."
        ),
    )
    simulate.add_argument("-c", "--config", type=Path, required=True, metavar="PLANT")
    simulate.add_argument(
        "--duration", type=float, default=None, metavar="S", help="stop after S seconds"
    )
    simulate.set_defaults(handler=_cmd_simulate)
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
    poll.set_defaults(handler=_cmd_bench)
    return parser


def _configure_logging(verbosity: int, base: int) -> None:
    level = base if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    level = min(level, base)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose, getattr(args, "log_level", logging.WARNING))
    handler: Command = args.handler
    try:
        return handler(args)
    except ConfigError as error:
        for issue in error.issues:
            print(issue, file=sys.stderr)
        errors = sum(1 for issue in error.issues if not issue.warning)
        print(f"{errors} error(s) in {args.config}", file=sys.stderr)
        return 1
    except GatewayError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130

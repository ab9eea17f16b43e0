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
    run(run_until_signalled(loaded.config, config_dir=loaded.path.parent, duration=args.duration))
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


def _cmd_history(args: argparse.Namespace) -> int:
    import os
    import time

    from gateway.config import load_config
    from gateway.storage.export import HistoryFormat, history_lines
    from gateway.storage.timespec import parse_time

    loaded = load_config(args.config)
    now = time.time()
    try:
        since = None if args.since is None else parse_time(args.since, now)
        until = None if args.until is None else parse_time(args.until, now)
    except ValueError as error:
        print(f"error: --since/--until: {error}", file=sys.stderr)
        return 2
    lines = history_lines(
        loaded.config.storage,
        args.tag,
        since,
        until,
        format=HistoryFormat(args.format),
        limit=args.limit,
    )
    try:
        for line in lines:
            print(line)
        sys.stdout.flush()
    except BrokenPipeError:  # `gateway history … | head`: the reader has what it wanted
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the interpreter flushes at exit
    return 0


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    from gateway.config import load_config
    from gateway.storage.engine import describe_url
    from gateway.storage.migrate import upgrade_database

    loaded = load_config(args.config)
    before, after = upgrade_database(loaded.config.storage)
    where = describe_url(loaded.config.storage.url)
    if before == after:
        print(f"{where}: schema already at revision {after}")
    else:
        print(f"{where}: schema upgraded from revision {before or '(empty)'} to {after}")
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


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_config(parser: argparse.ArgumentParser, metavar: str) -> None:
    parser.add_argument("-c", "--config", type=Path, required=True, metavar=metavar)


def _add_storage_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """`history` and `db upgrade`: the historian's commands."""
    history = commands.add_parser(
        "history",
        help="print a tag's stored values",
        description=(
            "Print the values of TAG (device.tag) stored by the gateway, oldest first, "
            "streamed from the database page by page. Times: ISO 8601 (local time unless "
            "it carries Z or an offset), relative like -1h, -30m, -7d, or now. Output "
            "times are UTC."
        ),
    )
    _add_config(history, "FILE")
    history.add_argument("tag", metavar="TAG", help="device.tag")
    history.add_argument("--since", metavar="T", help="from T (inclusive); default: the first")
    history.add_argument("--until", metavar="T", help="up to T (exclusive); default: the last")
    history.add_argument(
        "--format", choices=["table", "csv"], default="table", help="output format"
    )
    history.add_argument(
        "--limit", type=_positive_int, default=None, metavar="N", help="at most N values"
    )
    history.set_defaults(handler=_cmd_history)

    db = commands.add_parser(
        "db",
        help="database maintenance",
        description="Maintain the gateway's history database.",
    )
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    upgrade = db_commands.add_parser(
        "upgrade",
        help="migrate the database schema to this version",
        description=(
            "Apply the schema migrations this gateway ships to the configured database "
            "(the gateway also does this at start). A database migrated by a newer "
            "gateway is refused."
        ),
    )
    _add_config(upgrade, "FILE")
    upgrade.set_defaults(handler=_cmd_db_upgrade)


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
    _add_config(check, "FILE")
    check.set_defaults(handler=_cmd_check)

    run = commands.add_parser(
        "run",
        help="run the gateway until Ctrl-C / SIGTERM",
        description=(
            "Run the gateway: poll every device and publish values until SIGINT or SIGTERM, "
            "then stop cleanly. Device state changes are logged."
        ),
    )
    _add_config(run, "FILE")
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
    _add_config(simulate, "PLANT")
    simulate.add_argument(
        "--duration", type=float, default=None, metavar="S", help="stop after S seconds"
    )
    simulate.set_defaults(handler=_cmd_simulate)

    _add_storage_commands(commands)
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
    storage.add_argument("--rows", type=_positive_int, default=200_000, help="rows per run")
    storage.add_argument("--tags", type=_positive_int, default=1000)
    storage.add_argument(
        "--batch",
        type=_positive_int,
        default=50_000,
        help="rows per commit (the default batch_size)",
    )
    storage.add_argument("--runs", type=_positive_int, default=3)
    storage.add_argument("--naive-rows", type=_positive_int, default=20_000)
    storage.add_argument("--synchronous", choices=["normal", "full"], default="normal")
    storage.add_argument("--postgres", default=None, metavar="URL")
    storage.add_argument("--json", type=Path, default=None, metavar="FILE")
    storage.set_defaults(handler=_cmd_bench_storage)
    return parser


#: Options whose values may start with "-" (relative times such as -1h).
_RELATIVE_TIME_OPTIONS = frozenset({"--since", "--until"})


def _attach_relative_times(argv: Sequence[str]) -> list[str]:
    """`--since -1h` → `--since=-1h`: argparse would take -1h for an option."""
    out: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg in _RELATIVE_TIME_OPTIONS:
            value = next(args, None)
            out.append(arg if value is None else f"{arg}={value}")
        else:
            out.append(arg)
    return out


def _configure_logging(verbosity: int, base: int) -> None:
    level = base if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    level = min(level, base)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level > logging.DEBUG:
        # Alembic narrates every migration step and asyncua every node and
        # session at INFO: the gateway's own lines say what a user needs.
        for chatty in ("alembic", "asyncua"):
            logging.getLogger(chatty).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(_attach_relative_times(sys.argv[1:] if argv is None else argv))
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

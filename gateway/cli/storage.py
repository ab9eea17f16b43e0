"""`history`, `export` and `db upgrade`: the historian's commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.cli.common import (
    Commands,
    add_config,
    add_time_range,
    load_with_warnings,
    positive_int,
    print_lines,
    time_range,
)

if TYPE_CHECKING:
    from gateway.aggregates import Aggregate
    from gateway.analysis.records import HistoryRequest
    from gateway.config import StorageConfig

__all__ = ["register"]


def _cmd_history(args: argparse.Namespace) -> int:
    from gateway.cli.progress import Progress
    from gateway.present.history import HistoryFormat, history_lines, parse_tag_ref

    try:
        since, until = time_range(args)
        aggregation = _aggregation(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    loaded = load_with_warnings(args.config, serve_opcua=False)
    own = loaded.config.gateway.name
    request = _request(args.tag, since, until, aggregation, own)
    if request.aggregated:
        lines = _aggregate_lines(loaded.config.storage, request, args, own)
        if lines is None:
            return 2
    else:
        try:
            refs = [parse_tag_ref(text, own) for text in args.tag]
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        lines = history_lines(
            loaded.config.storage,
            refs,
            since,
            until,
            own=own,
            format=HistoryFormat(args.format),
            limit=args.limit,
        )
    # On stderr, only while stdout goes to a file or pipe.
    progress = Progress("rows" if request.aggregated else "values")

    def counted(lines: Iterator[str]) -> Iterator[str]:
        for number, line in enumerate(lines):
            yield line
            if number or args.format == "json":  # a header is no value
                progress.advance()

    print_lines(counted(lines))
    progress.close()
    return 0


def _aggregation(args: argparse.Namespace) -> tuple[float | None, tuple[Aggregate, ...]]:
    """--interval and --aggregate, checked (ValueError naming the option)."""
    from gateway.aggregates import parse_aggregates
    from gateway.config import parse_duration

    interval = aggregates = None
    if args.interval is not None:
        try:
            interval = parse_duration(args.interval)
        except ValueError as error:
            raise ValueError(f"--interval: {error}") from None
    if args.aggregate is not None:
        try:
            aggregates = parse_aggregates(args.aggregate)
        except ValueError as error:
            raise ValueError(f"--aggregate: {error}") from None
    if (interval is None) != (aggregates is None):
        raise ValueError("--interval and --aggregate go together")
    return interval, tuple(aggregates or ())


def _request(
    patterns: list[str],
    since: float | None,
    until: float | None,
    aggregation: tuple[float | None, tuple[Aggregate, ...]],
    gateway: str,
) -> HistoryRequest:
    """What to read, of `gateway`'s rows."""
    from gateway.analysis.records import HistoryRequest

    interval, aggregates = aggregation
    return HistoryRequest(patterns, since, until, interval, aggregates, gateway=gateway)


def _aggregate_lines(
    storage: StorageConfig, request: HistoryRequest, args: argparse.Namespace, gateway: str
) -> Iterator[str] | None:
    from itertools import islice

    from gateway.analysis.lines import record_lines
    from gateway.analysis.records import columns, match_tags, records
    from gateway.storage.reading import read_only

    def lines() -> Iterator[str]:
        with read_only(storage, holds="history") as history:
            keys = match_tags(history, request.patterns, gateway=gateway)
            rows = records(history, keys, request)
            if args.limit is not None:
                rows = islice(rows, args.limit)
            yield from record_lines(columns(request), rows, args.format)

    try:
        first = iter(lines())
        head = next(first, None)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return None
    return iter(()) if head is None else _chain(head, first)


def _chain(head: str, rest: Iterator[str]) -> Iterator[str]:
    yield head
    yield from rest


def _cmd_export(args: argparse.Namespace) -> int:
    from gateway.analysis.export import export_history, format_of
    from gateway.analysis.parquet import parquet_available
    from gateway.cli.progress import Progress

    try:
        since, until = time_range(args)
        aggregation = _aggregation(args)
        kind = format_of(args.output)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if kind == "parquet" and not parquet_available():
        print(
            "error: Parquet needs pyarrow: pip install 'modbus-opcua-gateway[analysis]' "
            "(or write .csv)",
            file=sys.stderr,
        )
        return 1
    loaded = load_with_warnings(args.config, serve_opcua=False)
    patterns = args.patterns or ["*"]
    request = _request(patterns, since, until, aggregation, loaded.config.gateway.name)
    progress = Progress("rows", enabled=sys.stderr.isatty())
    try:
        keys, written = export_history(
            loaded.config.storage, request, args.output, tick=progress.advance
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        progress.close()
    print(f"{args.output}: {written} rows of {len(keys)} tag(s)", file=sys.stderr)
    return 0


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    from gateway.storage.engine import describe_url
    from gateway.storage.migrate import upgrade_database

    loaded = load_with_warnings(args.config, serve_opcua=False)
    before, after = upgrade_database(loaded.config.storage, gateway=loaded.config.gateway.name)
    where = describe_url(loaded.config.storage.url)
    if before == after:
        print(f"{where}: schema already at revision {after}")
    else:
        print(f"{where}: schema upgraded from revision {before or '(empty)'} to {after}")
    return 0


def _add_aggregation(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--interval",
        metavar="I",
        help="one row per interval of I (1m, 1h, 1d; 0: one for the whole range)",
    )
    parser.add_argument(
        "--aggregate",
        metavar="A,…",
        help=(
            "OPC UA Part 13 aggregates per interval: average, timeaverage, total, minimum, "
            "maximum, minimumactualtime, maximumactualtime, range, count, start, end, delta, "
            "interpolative, durationgood, durationbad, percentgood, percentbad"
        ),
    )


def register(commands: Commands) -> None:
    """Add `history`, `export` and `db upgrade`."""
    history = commands.add_parser(
        "history",
        help="print stored values of one tag or several",
        description=(
            "Print the values of TAG (device.tag) stored by the gateway, oldest first, "
            "streamed from the database page by page. Times: ISO 8601 (local time unless "
            "it carries Z or an offset), relative like -1h, -30m, -7d, or now. Output "
            "times are UTC. In a database shared by several gateways (a fleet), "
            "GATEWAY/device.tag names another gateway's tag (GATEWAY is its gateway.name). "
            "Several TAGs are merged by time into one listing with a tag column, e.g. "
            "`gateway history -c line1.yaml press.temp line2/press.temp`."
        ),
    )
    add_config(history, "FILE")
    history.add_argument(
        "tag",
        metavar="TAG",
        nargs="+",
        help=(
            "device.tag, or GATEWAY/device.tag of another gateway in the same database; "
            "several are merged by time; with --interval also patterns like 'boiler.*'"
        ),
    )
    add_time_range(history)
    _add_aggregation(history)
    history.add_argument(
        "--format", choices=["table", "csv", "json"], default="table", help="output format"
    )
    history.add_argument(
        "--limit", type=positive_int, default=None, metavar="N", help="at most N rows"
    )
    history.set_defaults(handler=_cmd_history)

    export = commands.add_parser(
        "export",
        help="write many tags' history to CSV or Parquet",
        description=(
            "Write the stored history of every tag matching PATTERN (device.tag, shell "
            "wildcards such as 'boiler.*'; default: all) to FILE: raw values, or with "
            "--interval and --aggregate one row per tag and interval. CSV always; Parquet "
            "(.parquet) with the analysis extra. Streamed: memory stays flat, and a progress "
            "count runs on a terminal."
        ),
    )
    add_config(export, "FILE")
    export.add_argument("patterns", metavar="PATTERN", nargs="*", help="tags to export")
    add_time_range(export)
    _add_aggregation(export)
    export.add_argument(
        "-o", "--output", type=Path, required=True, metavar="FILE", help="FILE.csv or FILE.parquet"
    )
    export.set_defaults(handler=_cmd_export)

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
    add_config(upgrade, "FILE")
    upgrade.set_defaults(handler=_cmd_db_upgrade)

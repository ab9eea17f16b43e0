"""`history` and `db upgrade`: the historian's commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator

from gateway.cli.common import (
    Commands,
    add_config,
    add_time_range,
    load_with_warnings,
    positive_int,
    print_lines,
    time_range,
)

__all__ = ["register"]


def _cmd_history(args: argparse.Namespace) -> int:
    from gateway.cli.progress import Progress
    from gateway.present.history import HistoryFormat, history_lines, parse_tag_ref

    loaded = load_with_warnings(args.config, serve_opcua=False)
    own = loaded.config.gateway.name
    try:
        since, until = time_range(args)
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
    progress = Progress("values")  # on stderr, only while stdout goes to a file or pipe

    def counted(lines: Iterator[str]) -> Iterator[str]:
        for number, line in enumerate(lines):
            yield line
            if number:  # the header is no value
                progress.advance()

    print_lines(counted(lines))
    progress.close()
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


def register(commands: Commands) -> None:
    """Add `history` and `db upgrade`."""
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
        help="device.tag of this gateway, or GATEWAY/device.tag of another in the same database",
    )
    add_time_range(history)
    history.add_argument(
        "--format", choices=["table", "csv"], default="table", help="output format"
    )
    history.add_argument(
        "--limit", type=positive_int, default=None, metavar="N", help="at most N values"
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
    add_config(upgrade, "FILE")
    upgrade.set_defaults(handler=_cmd_db_upgrade)

"""`alarms`: the alarm journal, or the alarms not normal now, from the configured storage."""

from __future__ import annotations

import argparse
import sys

from gateway.cli.common import (
    Commands,
    add_config,
    add_time_range,
    gateway_name,
    load_with_warnings,
    print_lines,
    time_range,
)

__all__ = ["register"]


def _cmd_alarms(args: argparse.Namespace) -> int:
    from gateway.present.alarms import AlarmFormat, active_lines, journal_lines

    if args.active and (args.since is not None or args.until is not None):
        print(
            "error: --active shows the alarms' current states; --since/--until select "
            "journal entries and cannot be combined with it",
            file=sys.stderr,
        )
        return 2
    loaded = load_with_warnings(args.config, serve_opcua=False)
    config = loaded.config
    gateway = args.gateway or config.gateway.name
    own = gateway == config.gateway.name
    # Another gateway's alarms are not in this file: its journal says which there are.
    names = [alarm.name for alarm in config.alarms] if own else []
    if own and args.alarm is not None and args.alarm not in names:
        # Not fatal: the journal keeps alarms that have since left the configuration.
        print(f"warning: no alarm {args.alarm!r} in {args.config}", file=sys.stderr)
    try:
        since, until = time_range(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    format = AlarmFormat(args.format)
    if args.active:
        wanted = (names if own else None) if args.alarm is None else [args.alarm]
        lines = active_lines(config.storage, wanted, gateway=gateway, format=format)
    else:
        lines = journal_lines(
            config.storage,
            since,
            until,
            gateway=gateway,
            alarm=args.alarm,
            format=format,
            names=names,
        )
    print_lines(lines)
    return 0


def register(commands: Commands) -> None:
    """Add `alarms`."""
    alarms = commands.add_parser(
        "alarms",
        help="print the alarm journal, or the alarms not normal now",
        description=(
            "Print the alarm journal stored by the gateway (every activation, limit change, "
            "clear and acknowledgement), oldest first, streamed from the database page by "
            "page; or with --active, the configured alarms that are not normal according "
            "to their latest journal entry: active, or cleared and not yet acknowledged. "
            "Times: ISO 8601 (local time unless it carries Z "
            "or an offset), relative like -1h, -30m, -7d, or now. Output times are UTC. "
            "In a database shared by several gateways (a fleet), --gateway NAME reads "
            "another gateway's journal (its `gateway.name`); --active then lists every "
            "alarm in that journal that is not normal."
        ),
    )
    add_config(alarms, "FILE")
    alarms.add_argument(
        "--active",
        action="store_true",
        help="only the alarms not normal now: active, or cleared and unacknowledged",
    )
    add_time_range(alarms)
    alarms.add_argument("--alarm", metavar="NAME", help="only the alarm NAME")
    alarms.add_argument(
        "--gateway",
        metavar="NAME",
        type=gateway_name,
        help="read the alarms of gateway NAME in a shared database (default: this file's)",
    )
    alarms.add_argument("--format", choices=["table", "csv"], default="table", help="output format")
    alarms.set_defaults(handler=_cmd_alarms)

"""`alarms`: the alarm journal, or the alarms not normal now, from the configured storage."""

from __future__ import annotations

import argparse
import sys

from gateway.cli.common import Commands, add_config, load_with_warnings

__all__ = ["register"]


def _cmd_alarms(args: argparse.Namespace) -> int:
    import os
    import time

    from gateway.storage.alarmexport import AlarmFormat, active_lines, journal_lines
    from gateway.storage.timespec import parse_time

    if args.active and (args.since is not None or args.until is not None):
        print(
            "error: --active shows the alarms' current states; --since/--until select "
            "journal entries and cannot be combined with it",
            file=sys.stderr,
        )
        return 2
    loaded = load_with_warnings(args.config)
    config = loaded.config
    names = [alarm.name for alarm in config.alarms]
    if args.alarm is not None and args.alarm not in names:
        # Not fatal: the journal keeps alarms that have since left the configuration.
        print(f"warning: no alarm {args.alarm!r} in {args.config}", file=sys.stderr)
    now = time.time()
    try:
        since = None if args.since is None else parse_time(args.since, now)
        until = None if args.until is None else parse_time(args.until, now)
    except ValueError as error:
        print(f"error: --since/--until: {error}", file=sys.stderr)
        return 2
    format = AlarmFormat(args.format)
    if args.active:
        wanted = names if args.alarm is None else [args.alarm]
        lines = active_lines(config.storage, wanted, format=format)
    else:
        lines = journal_lines(
            config.storage, since, until, alarm=args.alarm, format=format, names=names
        )
    try:
        for line in lines:
            print(line)
        sys.stdout.flush()
    except BrokenPipeError:  # `gateway alarms … | head`: the reader has what it wanted
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the interpreter flushes at exit
    return 0


def register(commands: Commands) -> None:
    """Add `alarms`."""
    alarms = commands.add_parser(
        "alarms",
        help="print the alarm journal, or the alarms active now",
        description=(
            "Print the alarm journal stored by the gateway (every activation, limit change, "
            "clear and acknowledgement), oldest first, streamed from the database page by "
            "page; or with --active, the configured alarms that are not normal according "
            "to their latest journal entry. Times: ISO 8601 (local time unless it carries Z "
            "or an offset), relative like -1h, -30m, -7d, or now. Output times are UTC."
        ),
    )
    add_config(alarms, "FILE")
    alarms.add_argument(
        "--active", action="store_true", help="only the alarms not normal now (latest state)"
    )
    alarms.add_argument("--since", metavar="T", help="from T (inclusive); default: the first")
    alarms.add_argument("--until", metavar="T", help="up to T (exclusive); default: the last")
    alarms.add_argument("--alarm", metavar="NAME", help="only the alarm NAME")
    alarms.add_argument("--format", choices=["table", "csv"], default="table", help="output format")
    alarms.set_defaults(handler=_cmd_alarms)

"""`alarms`: the alarm journal, or the alarms not normal now, from the configured storage;
`alarms shelve|unshelve|disable|enable URL ALARM`: the Part 9 methods over OPC UA."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.cli.common import (
    Commands,
    add_time_range,
    gateway_name,
    load_with_warnings,
    print_lines,
    time_range,
)

if TYPE_CHECKING:
    from gateway.cli.client import ClientCommand
    from gateway.uaclient import ClientOptions

__all__ = ["register"]


def _cmd_alarms(args: argparse.Namespace) -> int:
    from gateway.present.alarms import (
        AlarmFormat,
        active_lines,
        journal_lines,
        notification_lines,
    )

    if args.config is None:
        print(
            "error: the following arguments are required: -c/--config "
            "(or an action: shelve, unshelve, disable, enable)",
            file=sys.stderr,
        )
        return 2

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
    if args.notifications:
        if args.active or args.since is not None or args.until is not None:
            print("error: --notifications cannot be combined with --active/--since/--until",
                  file=sys.stderr)  # fmt: skip
            return 2
        print_lines(notification_lines(config.storage, gateway=gateway, format=format))
        return 0
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
    alarms.add_argument("-c", "--config", type=Path, metavar="FILE")
    alarms.add_argument(
        "--active",
        action="store_true",
        help="only the alarms not normal now: active, or cleared and unacknowledged",
    )
    add_time_range(alarms)
    alarms.add_argument(
        "--notifications",
        action="store_true",
        help="the notification outbox: how many are pending, sent, failed; the newest "
        "50 with their channel, attempts and why",
    )
    alarms.add_argument("--alarm", metavar="NAME", help="only the alarm NAME")
    alarms.add_argument(
        "--gateway",
        metavar="NAME",
        type=gateway_name,
        help="read the alarms of gateway NAME in a shared database (default: this file's)",
    )
    alarms.add_argument("--format", choices=["table", "csv"], default="table", help="output format")
    alarms.set_defaults(handler=_cmd_alarms)
    _service_commands(alarms)


def _service_commands(alarms: argparse.ArgumentParser) -> None:
    from gateway.cli.client import client_parser, run_client

    actions = alarms.add_subparsers(dest="action", metavar="ACTION", required=False)
    helps = {
        "shelve": "shelve an alarm: one-shot (until it clears) or --for a time",
        "unshelve": "unshelve an alarm",
        "disable": "take an alarm out of service (not evaluated, notifies no one)",
        "enable": "put an alarm back in service (evaluated afresh)",
    }
    for action, text in helps.items():
        parser = client_parser(
            actions,
            action,
            help=text,
            description=text[0].upper() + text[1:] + ", over OPC UA (the operator role). "
            "The gateway journals who, when and the reason.",
        )
        parser.add_argument("alarm", metavar="ALARM", help="the alarm's name, e.g. boiler_overtemp")
        if action == "shelve":
            parser.add_argument(
                "--for",
                dest="duration",
                type=_duration,
                metavar="TIME",
                help="a timed shelve, e.g. 30m, 1h, 8h (default: one-shot, until it clears)",
            )
        parser.add_argument("--reason", default="", metavar="TEXT", help="why, for the journal")
        parser.set_defaults(handler=lambda args, a=action: run_client(args, _service(a)))


def _duration(text: str) -> float:
    from gateway.config.types import parse_duration

    try:
        return parse_duration(text, unit_required=True)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _service(action: str) -> ClientCommand:
    async def command(args: argparse.Namespace, options: ClientOptions) -> int:
        from gateway.cli.client import note as _note
        from gateway.uaclient import open_session
        from gateway.uaclient.alarmservice import change_service

        duration = getattr(args, "duration", None)
        async with open_session(options, _note) as session:
            done = await change_service(
                session, args.alarm, action, duration=duration, reason=args.reason
            )
        what = f"{done.action}d" if done.action.endswith("e") else f"{done.action}ed"
        if duration is not None:
            what += f" for {duration:g} s"
        print(f"{done.alarm} {what} ({done.condition})")
        return 0

    return command

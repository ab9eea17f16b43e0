"""Command-line interface: the only place that prints for users or exits.

Each command is a small function taking the parsed arguments and returning an
exit code: 0 success, 1 error (one clear message on stderr), 2 usage (argparse).
Commands live in modules by concern, each with a `register(commands)`:

    plant.py     check, run, simulate
    storage.py   history, db upgrade
    alarms.py    alarms (journal, alarms not normal)
    bench.py     bench WORKLOAD
    demo.py      demo
    client.py    browse, read, write, watch (an OPC UA client)

Heavy modules are imported inside the commands so `--help` stays instant.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from gateway import __version__
from gateway.cli import alarms, bench, client, demo, plant, storage
from gateway.cli.common import Command
from gateway.errors import ConfigError, GatewayError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The `gateway` parser with every command registered."""
    parser = argparse.ArgumentParser(
        prog="gateway",
        description="Modbus TCP → OPC UA gateway with historian, alarms and simulated PLCs.",
    )
    parser.add_argument("--version", action="version", version=f"gateway {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (plant, demo, storage, alarms, client, bench):
        module.register(commands)
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
    try:
        parser = build_parser()
        args = parser.parse_args(_attach_relative_times(sys.argv[1:] if argv is None else argv))
        _configure_logging(args.verbose, getattr(args, "log_level", logging.WARNING))
        handler: Command = args.handler
        return handler(args)
    except ConfigError as error:
        for issue in error.issues:
            print(issue, file=sys.stderr)
        errors = sum(1 for issue in error.issues if not issue.warning)
        print(
            f"{errors} error(s) in {getattr(args, 'config', 'the configuration')}", file=sys.stderr
        )
        return 1
    except GatewayError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130

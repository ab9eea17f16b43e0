"""`check`, `run` and `simulate`: validating, running and simulating a plant."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from gateway.cli.common import Commands, add_config, load_with_warnings, print_lines

__all__ = ["register"]

log = logging.getLogger("gateway.run")


def _cmd_check(args: argparse.Namespace) -> int:
    from gateway.config.published import published_password_warning
    from gateway.present.check import format_check

    loaded = load_with_warnings(args.config)
    published = published_password_warning(loaded.config.opcua)
    if published is not None:
        print(f"{args.config}: warning: {published}", file=sys.stderr)
    print_lines([format_check(loaded.config, source=str(args.config))])  # `| head` is fine
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from gateway.collector import collector_paused_until_running
    from gateway.forkedread import reading_early
    from gateway.loop import run

    with (
        collector_paused_until_running() as running,  # the imports and the config too
        # A large file is parsed in a child from here on, while the gateway is imported.
        reading_early(args.config, _read_in_child) as reading,
    ):
        from gateway.app import run_until_signalled
        from gateway.config.published import published_password_warning

        started = time.perf_counter()
        log.info("loading %s…", args.config)  # a 100k-tag file takes seconds
        loaded = load_with_warnings(args.config, started=reading)
        config = loaded.config
        published = published_password_warning(config.opcua)
        if published is not None:
            log.warning(published)
        log.info(
            "configuration: %d device(s), %d tag(s), %d alarm(s) loaded in %.2f s",
            len(config.devices),
            sum(len(device.tags) for device in config.devices),
            len(config.alarms),
            time.perf_counter() - started,
        )
        serving = run_until_signalled(
            config, config_dir=loaded.path.parent, duration=args.duration, running=running
        )
        del loaded, config  # now held by `serving` alone: the gateway lets its tag models go
        run(serving)
    return 0


def _read_in_child(
    path: Path, environ: Mapping[str, str] | None, deferred: frozenset[str]
) -> bytes:
    """The forked reader's work: the YAML reader imported in the child, not before the fork."""
    from gateway.config.yamlsource import child_answer

    return child_answer(path, environ, deferred)


def _cmd_simulate(args: argparse.Namespace) -> int:
    from simulators.cli import run_plant_file

    return run_plant_file(args.config, duration=args.duration)


def register(commands: Commands) -> None:
    """Add `check`, `run` and `simulate`."""
    check = commands.add_parser(
        "check",
        help="validate a configuration and print the planned Modbus requests",
        description=(
            "Validate a gateway configuration file. Prints devices, tag counts and the "
            "read requests planned per device and scan class. On errors prints every "
            "problem as file:line: key path: message and exits 1."
        ),
    )
    add_config(check, "FILE")
    check.set_defaults(handler=_cmd_check)

    run = commands.add_parser(
        "run",
        help="run the gateway until Ctrl-C / SIGTERM",
        description=(
            "Run the gateway: poll every device and publish values until SIGINT or SIGTERM, "
            "then stop cleanly. Device state changes are logged."
        ),
    )
    add_config(run, "FILE")
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
    add_config(simulate, "PLANT")
    simulate.add_argument(
        "--duration", type=float, default=None, metavar="S", help="stop after S seconds"
    )
    simulate.set_defaults(handler=_cmd_simulate)

"""Helpers shared by the command modules: argument types and config loading."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from gateway.config import LoadedConfig
    from gateway.forkedread import ForkedRead

__all__ = [
    "Command",
    "Commands",
    "add_config",
    "add_time_range",
    "gateway_name",
    "load_with_warnings",
    "positive_float",
    "positive_int",
    "print_lines",
    "time_range",
]

Command = Callable[[argparse.Namespace], int]
#: The subparsers action commands are registered on.
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def positive_int(text: str) -> int:
    """An argparse type: a whole number ≥ 1, with a message saying so."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a number > 0 (seconds, milliseconds)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def gateway_name(text: str) -> str:
    """An argparse type: a gateway name as `gateway.name` takes it."""
    from gateway.config.types import validate_name

    try:
        return validate_name(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"gateway name {error}") from None


def add_time_range(parser: argparse.ArgumentParser) -> None:
    """`--since T` and `--until T` (see `time_range`)."""
    parser.add_argument("--since", metavar="T", help="from T (inclusive); default: the first")
    parser.add_argument("--until", metavar="T", help="up to T (exclusive); default: the last")


def time_range(args: argparse.Namespace) -> tuple[float | None, float | None]:
    """--since/--until as POSIX seconds; ValueError naming the option when malformed."""
    import time

    from gateway.present.timespec import parse_time

    now = time.time()
    try:
        since = None if args.since is None else parse_time(args.since, now)
        until = None if args.until is None else parse_time(args.until, now)
    except ValueError as error:
        raise ValueError(f"--since/--until: {error}") from None
    return since, until


def print_lines(lines: Iterable[str]) -> None:
    """Print streamed lines; a reader that closes the pipe (`| head`) ends it quietly."""
    try:
        for line in lines:
            print(line)
        sys.stdout.flush()
    except BrokenPipeError:  # the reader has what it wanted
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the interpreter flushes at exit


def add_config(parser: argparse.ArgumentParser, metavar: str) -> None:
    """The `-c/--config FILE` option every config-reading command takes."""
    parser.add_argument("-c", "--config", type=Path, required=True, metavar=metavar)


def load_with_warnings(
    path: Path, *, serve_opcua: bool = True, started: ForkedRead | None = None
) -> LoadedConfig:
    """Load a gateway config, printing its warnings (errors raise ConfigError).

    `serve_opcua=False` for commands that only read the database: they need
    neither the OPC UA users' secrets nor the warnings about them. `started`: the
    file already being read in a child (gateway.forkedread.reading_early).
    """
    from gateway.config import load_config

    loaded = load_config(path, serve_opcua=serve_opcua, started=started)
    for warning in loaded.warnings:
        print(warning, file=sys.stderr)
    return loaded

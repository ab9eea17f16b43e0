"""Helpers shared by the command modules: argument types and config loading."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from gateway.config import LoadedConfig

__all__ = ["Command", "Commands", "add_config", "load_with_warnings", "positive_int"]

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


def add_config(parser: argparse.ArgumentParser, metavar: str) -> None:
    """The `-c/--config FILE` option every config-reading command takes."""
    parser.add_argument("-c", "--config", type=Path, required=True, metavar=metavar)


def load_with_warnings(path: Path) -> LoadedConfig:
    """Load a gateway config, printing its warnings (errors raise ConfigError)."""
    from gateway.config import load_config

    loaded = load_config(path)
    for warning in loaded.warnings:
        print(warning, file=sys.stderr)
    return loaded

"""Command line of the simulators: run a plant file, or the scale generator.

`run_plant_file` backs both `gateway simulate -c PLANT` and
`python -m simulators -c PLANT`. It prints where each slave listens, serves
until Ctrl-C, SIGTERM or `--duration`, and stops cleanly. Like the gateway's
own commands it returns an exit code instead of raising: 0 on success, 1 with
every `file:line: path: message` of a bad plant file (or why a port could not
be opened) on stderr, 2 for usage errors (argparse).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from gateway.errors import ConfigError
from gateway.loop import run, stop_signals
from simulators.loader import load_plant
from simulators.runtime import RunningPlant, run_plant
from simulators.scale import ScalePlant, ScaleSpec, run_scale

__all__ = ["build_parser", "describe_plant", "main", "run_plant_file", "run_scale_command"]


def run_plant_file(path: Path, duration: float | None = None) -> int:
    """Serve the plant in `path` until stopped; return the exit code."""
    try:
        plant = load_plant(path)
    except ConfigError as error:
        for issue in error.issues:
            print(issue, file=sys.stderr)
        errors = sum(1 for issue in error.issues if not issue.warning)
        print(f"{errors} error(s) in {path}", file=sys.stderr)
        return 1

    async def serve() -> None:
        with stop_signals() as stop:  # before printing: a caller may signal at once
            async with run_plant(plant) as running:
                print(describe_plant(running), flush=True)
                await _wait(stop, duration)

    return _run(serve())


def run_scale_command(spec: ScaleSpec, duration: float | None = None) -> int:
    """Serve generated slaves until stopped; return the exit code."""

    async def serve() -> None:
        with stop_signals() as stop:
            async with run_scale(spec) as scale:
                print(describe_scale(scale), flush=True)
                await _wait(stop, duration)

    return _run(serve())


def _run(main: Coroutine[Any, Any, None]) -> int:
    try:
        run(main)  # uvloop where installed, as the gateway
    except OSError as exc:  # typically a port in use or a host that is not ours
        print(f"error: cannot serve: {exc}", file=sys.stderr)
        return 1
    except ExceptionGroup as group:  # the same from the ticker (a restart could not rebind)
        failed = group.subgroup(OSError)
        if failed is None:
            raise
        print(f"error: cannot serve: {_first(failed)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C before the signal handlers were installed
        return 130
    print("stopped", flush=True)
    return 0


def _first(group: BaseExceptionGroup[OSError]) -> BaseException:
    leaf: BaseException = group
    while isinstance(leaf, BaseExceptionGroup):
        leaf = leaf.exceptions[0]
    return leaf


def describe_plant(running: RunningPlant) -> str:
    """What is serving where: one line per slave."""
    plant = running.plant
    lines = [f"plant {plant.name}: {len(plant.slaves)} slave(s), tick {plant.tick:g}s"]
    width = max(len(name) for name in running.slaves)
    for slave in running.slaves.values():
        ids = ", ".join(str(unit_id) for unit_id in slave.unit_ids)
        label = "unit" if len(slave.unit_ids) == 1 else "units"
        how = f"  {slave.config.transport}" if slave.config.transport != "tcp" else ""
        lines.append(f"  {slave.name:<{width}}  {slave.where}  {label} {ids}{how}")
    lines.append("press Ctrl-C to stop")
    return "\n".join(lines)


def describe_scale(scale: ScalePlant) -> str:
    """The generated slaves' addresses, one line each (easy to parse)."""
    spec = scale.spec
    lines = [
        f"scale: {spec.slaves} slave(s) x {spec.registers} holding registers "
        f"({spec.floats} float32 each), {spec.change:.0%} changing per {spec.tick:g}s tick, "
        f"pattern {spec.pattern}"
        + (f", toggling 0 / {spec.toggle:g}" if spec.toggle is not None else "")
    ]
    lines += [
        f"  scale-{index:03d}  {spec.host}:{port}  unit {spec.unit_id}"
        for index, port in enumerate(scale.ports)
    ]
    return "\n".join(lines)


async def _wait(stop: asyncio.Event, duration: float | None) -> None:
    """Until `stop` is set or `duration` seconds passed, whichever comes first."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), duration)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulators",
        description="Simulated Modbus TCP PLCs: serve a plant file, or generate a scale load.",
    )
    parser.add_argument("-c", "--config", type=Path, metavar="PLANT", help="plant file to serve")
    parser.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    scale = commands.add_parser(
        "scale",
        help="N slaves x M float32 holding registers, a fraction changing per tick",
        description="Serve generated slaves for benchmarks; prints every slave's address.",
    )
    scale.add_argument("--slaves", type=int, required=True, metavar="N")
    scale.add_argument("--registers", type=int, required=True, metavar="M")
    scale.add_argument("--change", type=float, default=0.1, metavar="F")
    scale.add_argument("--tick", type=float, default=1.0, metavar="S")
    scale.add_argument("--host", default="127.0.0.1")
    scale.add_argument("--base-port", type=int, default=0, metavar="P", help="0: free ports")
    scale.add_argument("--unit-id", type=int, default=1)
    scale.add_argument("--pattern", choices=("spread", "clustered"), default="spread")
    scale.add_argument(
        "--toggle",
        type=float,
        metavar="V",
        help="changed floats alternate between 0 and V each tick (flapping alarms)",
    )
    scale.add_argument("--duration", type=float, metavar="S", dest="scale_duration")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m simulators`; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "scale":
        try:
            spec = ScaleSpec(
                slaves=args.slaves,
                registers=args.registers,
                change=args.change,
                tick=args.tick,
                host=args.host,
                base_port=args.base_port,
                unit_id=args.unit_id,
                pattern=args.pattern,
                toggle=args.toggle,
            )
        except ValueError as exc:
            parser.error(str(exc))
        return run_scale_command(spec, args.scale_duration or args.duration)
    if args.config is None:
        parser.error("give a plant file with -c PLANT, or the scale command")
    return run_plant_file(args.config, args.duration)

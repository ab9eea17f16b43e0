"""Start-up benchmark, kept as `python -m gateway.opcua.bench_startup 10000 100000`.

The measurement now lives in gateway/bench/startup.py (`gateway bench
startup`): it times the real `gateway run` process (historian included) from
spawn to the first Good value an OPC UA client reads, and its peak RSS. This
entry point runs the same code so older instructions keep working.
"""

from __future__ import annotations

import argparse
import logging

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    from gateway.bench.startup import bench_startup  # noqa: PLC0415 - --help stays instant
    from gateway.loop import run  # noqa: PLC0415

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tags", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    print(run(bench_startup(args.tags, runs=args.runs)).table())


if __name__ == "__main__":
    main()

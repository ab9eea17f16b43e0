"""`gateway run` under tracemalloc, with a memory profile written on each SIGUSR1.

Run by `gateway bench gateway --profile DIR` as
`python -X tracemalloc=DEPTH -m gateway.bench.memtrace DIR run -c FILE`: the
interpreter traces from its first allocation, so the imports are counted,
and the gateway runs exactly as `python -m gateway run` does.
Each SIGUSR1 writes DIR/profile-N.txt: the traced total and the RSS, the
memory by the package that allocated it (the innermost frame), by the part
of the gateway whose code led to it (the innermost frame under gateway/),
and the live objects by type (shallow sizes, from the garbage collector).

The profile is taken in the signal handler, on the event loop's thread: the
gateway stands still for the seconds it takes, which only a profile run pays.
"""

from __future__ import annotations

import gc
import runpy
import signal
import sys
import tracemalloc
from collections import Counter
from pathlib import Path
from types import FrameType

__all__ = ["main", "package_of"]

_TOP = 40
_MB = 1024 * 1024


def package_of(filename: str) -> str:
    """A readable owner for a source file: `asyncua.ua`, `gateway.opcua.stack`, `stdlib:json`."""
    path = filename.replace("\\", "/")
    for marker in ("/site-packages/", "/dist-packages/"):
        if marker in path:
            parts = path.split(marker, 1)[1].split("/")
            return ".".join(p for p in parts[:2] if not p.endswith(".py")) or parts[0]
    if "/gateway/" in path:
        parts = path.rsplit("/gateway/", 1)[1].split("/")
        return ".".join(["gateway", *(p for p in parts[:2] if not p.endswith(".py"))])
    if path.startswith("<"):
        return path  # <frozen importlib._bootstrap>, <string> (generated code), <unknown>
    if "/lib/python" in path:
        rest = path.split("/lib/python", 1)[1].split("/")[1:]
        return "stdlib:" + (rest[0].removesuffix(".py") if rest else "?")
    return path


def _gateway_part(frames: tuple[tuple[str, int], ...]) -> str:
    """The innermost frame under gateway/ (frames: most recent first)."""
    for filename, _ in frames:
        if "/gateway/" in filename and "/site-packages/" not in filename:
            return package_of(filename)
    return "(no gateway frame: imports, interpreter)"


def _table(title: str, sizes: Counter[str], counts: Counter[str] | None = None) -> list[str]:
    lines = [f"## {title}", ""]
    for name, size in sizes.most_common(_TOP):
        count = f"  {counts[name]:>10,}" if counts is not None else ""
        lines.append(f"{size / _MB:9.2f} MB{count}  {name}")
    return [*lines, ""]


def _by_type() -> tuple[Counter[str], Counter[str]]:
    sizes: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for obj in gc.get_objects():
        name = type(obj).__qualname__
        module = getattr(type(obj), "__module__", "")
        key = f"{module}.{name}" if module not in ("builtins", "") else name
        sizes[key] += sys.getsizeof(obj)
        counts[key] += 1
    return sizes, counts


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def profile() -> str:
    """The profile of this process now, as text."""
    snapshot = tracemalloc.take_snapshot()
    by_package: Counter[str] = Counter()
    by_part: Counter[str] = Counter()
    packages: dict[str, str] = {}
    parts: dict[tuple[tuple[str, int], ...], str] = {}
    # The raw (domain, size, frames, nframes) tuples: a Trace object per allocation
    # would take minutes at 100k tags.
    for _, size, frames, *_ in snapshot.traces._traces:  # type: ignore[attr-defined]
        filename = frames[0][0]
        package = packages.get(filename)
        if package is None:
            package = packages[filename] = package_of(filename)
        by_package[package] += size
        part = parts.get(frames)
        if part is None:
            part = parts[frames] = _gateway_part(frames)
        by_part[part] += size
    traced, peak = tracemalloc.get_traced_memory()
    sizes, counts = _by_type()
    lines = [
        f"RSS {_rss_mb():.1f} MB (with tracemalloc's own overhead: "
        f"{tracemalloc.get_tracemalloc_memory() / _MB:.1f} MB)",
        f"traced {traced / _MB:.1f} MB now, {peak / _MB:.1f} MB at the peak",
        "",
        *_table("by the package that allocated it (innermost frame)", by_package),
        *_table("by the gateway code that led to it (innermost gateway/ frame)", by_part),
        *_table("live objects tracked by the collector, by type (shallow sizes)", sizes, counts),
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if not tracemalloc.is_tracing():
        tracemalloc.start(1)
    folder = Path(argv[0])
    folder.mkdir(parents=True, exist_ok=True)
    taken = 0

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        nonlocal taken
        taken += 1
        partial = folder / f".profile-{taken}.partial"
        partial.write_text(profile() + "\n", encoding="utf-8")
        partial.rename(folder / f"profile-{taken}.txt")  # complete when it appears

    signal.signal(signal.SIGUSR1, on_signal)
    sys.argv = ["gateway", *argv[1:]]
    try:  # exactly `python -m gateway ARGS` (the CLI is a layer above the bench)
        runpy.run_module("gateway", run_name="__main__", alter_sys=True)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

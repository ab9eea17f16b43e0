"""Median and min–max over runs; a readable table and a JSON document."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Figure", "Report", "percentile", "write_reports"]


@dataclass(slots=True)
class Figure:
    """One measured quantity over several runs, with its target if any."""

    name: str
    unit: str
    runs: list[float]
    target: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "unit": self.unit,
            "median": self.median,
            "min": min(self.runs),
            "max": max(self.runs),
            "runs": self.runs,
            "target": self.target,
        }


@dataclass(slots=True)
class Report:
    workload: str
    parameters: dict[str, object]
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was skipped, and why

    def add(self, name: str, unit: str, runs: Sequence[float], target: str = "") -> None:
        self.figures.append(Figure(name, unit, [float(run) for run in runs], target))

    def table(self) -> str:
        params = ", ".join(f"{key}={value}" for key, value in self.parameters.items())
        lines = [f"workload {self.workload} ({params})"]
        width = max((len(f.name) for f in self.figures), default=10)
        lines.append(f"  {'figure':<{width}}  {'median':>12}  {'min–max':>21}  target")
        for f in self.figures:
            spread = f"{min(f.runs):.3g}–{max(f.runs):.3g}"
            target = f"{f.target} {f.unit}".rstrip()
            lines.append(f"  {f.name:<{width}}  {f.median:>12.4g}  {spread:>21}  {target}")
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        return {
            "workload": self.workload,
            "parameters": self.parameters,
            "figures": [figure.as_dict() for figure in self.figures],
            "notes": self.notes,
        }

    def write_json(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_dict(), indent=2) + "\n", encoding="utf-8")


def write_reports(reports: Sequence[Report], path: Path, **extra: object) -> None:
    """Several workloads' reports in one JSON document (`bench all`)."""
    document = {**extra, "reports": [report.as_dict() for report in reports]}
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (`fraction` 0.99 → p99); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]

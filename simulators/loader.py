"""`load_plant`: a plant file read, validated and checked across its items.

Each item is validated by its model (plant.py), what needs several items at
once by plant_checks.py; every problem is reported at once as
`file:line: key.path: message`, like the gateway's configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from gateway.config.loader import load_model
from simulators.plant import Plant
from simulators.plant_checks import check_plant

__all__ = ["load_plant"]


def load_plant(path: str | Path, *, environ: Mapping[str, str] | None = None) -> Plant:
    """Load and check a plant file, or raise ConfigError listing every located issue."""
    plant, _warnings = load_model(Path(path), Plant, checks=check_plant, environ=environ)
    return plant

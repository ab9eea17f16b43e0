"""The worked example of docs/analysis.md: a day of the demo boiler, hourly min/max/mean.

Samples the demo plant's boiler signals (simulators/plants/demo.yaml) every
10 s over one day, stores them in a fresh SQLite historian the way the gateway
does, then reads them back with `gateway.analysis.read_history` (hourly
Minimum, Maximum and Average, computed in SQL) and draws the chart shown in
the docs. Needs the `analysis` extra and matplotlib:

    pip install -e '.[analysis]' matplotlib
    python examples/analysis_boiler_day.py docs/images/analysis-boiler-day.png
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

from gateway.analysis import read_history
from gateway.config import load_config
from gateway.model import Status
from gateway.storage.database import Database
from gateway.storage.rows import to_us
from gateway.storage.tagsync import tag_infos
from simulators.loader import load_plant

ROOT = Path(__file__).resolve().parents[1]
DAY = 1_735_689_600.0  # 2025-01-01T00:00:00Z
STEP = 10.0  # seconds between stored readings
CONFIG = """\
gateway: {name: boiler-day}
opcua: {anonymous: true}
storage: {url: "sqlite:///history.db"}
devices:
  - name: boiler
    host: 127.0.0.1
    port: 5020
    enabled: false
    tags:
      - {name: drum_level, table: input_register, address: 8, type: int16, scale: 0.1, unit: "%"}
      - {name: feedwater_flow, table: input_register, address: 6, type: float32, unit: m3/h}
"""


def store_day(config_path: Path) -> None:
    """A day of the demo boiler's drum level and feedwater flow, every STEP seconds."""
    plant = load_plant(ROOT / "simulators" / "plants" / "demo.yaml")
    boiler = plant.slave("boiler")
    assert boiler is not None
    unit = boiler.units[0]
    config = load_config(config_path, serve_opcua=False).config
    database = Database(config.storage, tag_infos(config))
    database.prepare()
    for name in ("drum_level", "feedwater_flow"):
        point = unit.point(name)
        assert point is not None and point.signal is not None
        sample = point.signal.sampler()
        rows = []
        for number in range(int(86_400 / STEP)):
            t = number * STEP
            rows.append(
                (f"boiler.{name}", to_us(DAY + t), round(sample(t), 2), None, int(Status.GOOD))
            )
        database.write(rows)
    database.dispose()


def main(chart: Path) -> None:
    with tempfile.TemporaryDirectory() as folder:
        config_path = Path(folder) / "gateway.yaml"
        config_path.write_text(CONFIG, encoding="utf-8")
        store_day(config_path)
        hourly = read_history(
            config_path,
            "boiler.drum_level",
            since="2025-01-01T00:00Z",
            until="2025-01-02T00:00Z",
            interval="1h",
            aggregates="minimum,maximum,average",
        )
    print(hourly[["time", "minimum", "maximum", "average", "average_status"]].head(6))
    figure, axes = plt.subplots(figsize=(9, 3.2), dpi=100)
    hours = hourly.time.dt.hour
    axes.fill_between(hours, hourly.minimum, hourly.maximum, alpha=0.3, label="min–max")
    axes.plot(hours, hourly.average, marker="o", markersize=3, label="mean")
    axes.set_xlabel("hour of 2025-01-01 (UTC)")
    axes.set_ylabel("drum level (%)")
    axes.set_title("Demo boiler: drum level per hour (Part 13 Minimum, Maximum, Average)")
    axes.set_xlim(0, 23)
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    figure.tight_layout()
    figure.savefig(chart)
    print(f"chart: {chart}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("analysis-boiler-day.png"))

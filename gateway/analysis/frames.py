"""The pandas adapter: records into a DataFrame. The only module that imports pandas."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from gateway.analysis.records import Record

__all__ = ["to_frame"]

try:
    import pandas as pd
except ImportError:  # the `analysis` extra is not installed
    pd = None


def to_frame(records: Iterable[Record], columns: Sequence[str]) -> Any:
    """A DataFrame with `columns`; `time` and `*_time` as UTC datetimes."""
    if pd is None:
        raise RuntimeError(
            "read_history needs pandas: pip install 'modbus-opcua-gateway[analysis]'"
        )
    frame = pd.DataFrame.from_records(list(records), columns=list(columns))
    for name in columns:
        if name == "time" or name.endswith("_time"):
            frame[name] = pd.to_datetime(frame[name], unit="s", utc=True)
    return frame

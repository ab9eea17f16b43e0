"""Analysis of stored history: flat records for many tags, exports, pandas DataFrames.

    records.py   tag patterns, ranges, one record per value or per interval
    export.py    `gateway export`: CSV or Parquet, streamed
    parquet.py   the pyarrow adapter (optional `analysis` extra)
    frames.py    the pandas adapter (optional `analysis` extra)
    api.py       `read_history(...)` → DataFrame

The aggregates themselves are gateway/aggregates/ (the engine) and
gateway/storage/aggregates.py (SQL pushdown).
"""

from gateway.analysis.api import read_history

__all__ = ["read_history"]

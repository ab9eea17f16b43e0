"""Times typed by people: ISO 8601, relative to now (`-1h` or `1h`), `now`, POSIX seconds (pure).

ISO 8601 without an offset is local time, as in `journalctl --since`; with
`Z` or an offset it is exact. Relative times use the configuration's
duration syntax, the minus being optional: `-90s`, `-15m`, `1h30m`, `-7d`.
A plain number is POSIX seconds, so `-5` or `90` alone are not durations.
"""

from __future__ import annotations

import math
from datetime import datetime

from gateway.config import parse_duration

__all__ = ["parse_time"]

_HELP = (
    "expected ISO 8601 (2024-05-01T08:00, 2024-05-01T06:00Z), -1h / -30m / -7d, now, "
    "or POSIX seconds"
)


def parse_time(text: str, now: float) -> float:
    """POSIX seconds for `text`; ValueError saying what is accepted otherwise."""
    stripped = text.strip()
    if stripped == "now":
        return now
    try:
        seconds = float(stripped)
    except ValueError:
        pass
    else:
        if math.isfinite(seconds):
            return seconds
        raise ValueError(f"{_HELP}, got {text!r}")
    try:
        return now - parse_duration(stripped.removeprefix("-"))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(stripped)
    except ValueError:
        raise ValueError(f"{_HELP}, got {text!r}") from None
    return moment.timestamp()  # naive: local time

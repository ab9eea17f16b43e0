"""Client-caused faults as one rate-limited log line each, never a traceback.

Malformed frames, refused requests and abandoned connections are the
client's business: 2,000 malformed frames used to write 2.2 MB of asyncua
tracebacks. `FaultLog.report` logs a fault of a kind the first
`lines_per_window` times in a window, then counts silently, and says how many
were left out when the next line of that kind is logged. Kinds are a small
fixed vocabulary chosen by the caller (never text from the peer), so the
table stays small.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

__all__ = ["FaultLog"]


@dataclass(slots=True)
class _Window:
    start: float
    logged: int = 0
    suppressed: int = 0


class FaultLog:
    """Rate-limited WARNING lines per fault kind."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        lines_per_window: int = 5,
        window: float = 60.0,
        level: int = logging.WARNING,
    ) -> None:
        self._logger = logger
        self._lines = lines_per_window
        self._window = window
        self._level = level
        self._kinds: dict[str, _Window] = {}
        #: Faults reported per kind since the start, logged or left out.
        self.totals: dict[str, int] = {}

    def report(self, kind: str, now: float, message: str, *args: object) -> bool:
        """Log `message % args` unless this kind already used its lines; True if logged."""
        self.totals[kind] = self.totals.get(kind, 0) + 1
        window = self._kinds.get(kind)
        if window is None or now - window.start >= self._window:
            left_out = window.suppressed if window is not None else 0
            window = self._kinds[kind] = _Window(now)
            if left_out:
                message += " (%d more like it left out of the log before)"
                args = (*args, left_out)
        if window.logged >= self._lines:
            window.suppressed += 1
            return False
        window.logged += 1
        self._logger.log(self._level, message, *args)
        return True

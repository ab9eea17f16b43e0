"""Progress of long work on stderr, for a person watching a terminal.

Shown only when stderr is a terminal and stdout is not: during
`gateway history … > out.csv` the count of rows so far is redrawn in place and
a summary ends it. When the rows scroll past on the terminal they are their
own progress, and a pipe or a log file gets no carriage-return noise. The
clock is read once per `CHECK_EVERY` items, so the cost per row is one
addition and one comparison.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["CHECK_EVERY", "Progress"]

#: Items between two looks at the clock.
CHECK_EVERY = 1000


def _interactive(stream: TextIO) -> bool:
    return stream.isatty() and not sys.stdout.isatty()


class Progress:
    """Counts items; redraws `N what…` every `interval` seconds, then `N what in X s`."""

    def __init__(
        self,
        what: str,
        *,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self.stream = sys.stderr if stream is None else stream
        self.enabled = _interactive(self.stream) if enabled is None else enabled
        self.count = 0
        self._interval = interval
        self._clock = clock
        self._started = self._shown = clock()
        self._next_check = CHECK_EVERY

    def advance(self, items: int = 1) -> None:
        self.count += items
        if self.count < self._next_check or not self.enabled:
            return
        self._next_check = self.count + CHECK_EVERY
        now = self._clock()
        if now - self._shown >= self._interval:
            self._shown = now
            self._write(f"\r{self.count:,} {self.what}…")

    def close(self) -> None:
        """Replace the running count with the total and the time taken."""
        if self.enabled:
            elapsed = self._clock() - self._started
            self._write(f"\r\x1b[K{self.count:,} {self.what} in {elapsed:.1f} s\n")

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

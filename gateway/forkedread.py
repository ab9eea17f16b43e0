"""A large configuration file parsed in a forked child, which can start before the imports.

Why a child at all (memory) is told in gateway.config.yamlsource. This module
holds only the fork and the pipe, and imports nothing heavy, so `gateway run`
can fork the reader first and import the gateway (asyncua, SQLAlchemy,
pydantic: 0.5–0.7 s of CPU) while the child parses; on two cores the two
overlap (docs/performance.md, "Start-up: the configuration read while the
gateway is imported"). The child runs the `answer` it is given
(`yamlsource.child_answer`, which the CLI's caller imports in the child only)
and sends back its bytes; the parent decides what they mean.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "ISOLATE_FROM_BYTES",
    "Answer",
    "ForkedRead",
    "fork_read",
    "reading_early",
    "worth_forking",
]

#: Files at least this large are parsed in a forked child.
ISOLATE_FROM_BYTES = 512 * 1024

#: Run in the child: (path, environ, deferred) → the bytes sent to the parent.
Answer = Callable[[Path, Mapping[str, str] | None, frozenset[str]], bytes]


def worth_forking(path: Path, threshold: int) -> bool:
    """Fork only where it is safe (no other thread) and worth it (a large file)."""
    if not hasattr(os, "fork") or threading.active_count() != 1:
        return False
    try:
        return path.stat().st_size >= threshold
    except OSError:
        return False  # the in-process read reports it


class ForkedRead:
    """A child reading `path`; `answer()` waits for its bytes (None: read in-process).

    `matches` tells whether it reads what a caller asks for (same file, variables
    and deferred sections).
    """

    def __init__(
        self,
        path: Path,
        environ: Mapping[str, str] | None,
        deferred: frozenset[str],
        pid: int,
        reader: int,
    ) -> None:
        self._asked = (path, environ, deferred)
        self._pid = pid
        self._reader = reader
        self._collected = False

    def matches(
        self, path: Path, environ: Mapping[str, str] | None, deferred: frozenset[str]
    ) -> bool:
        asked_path, asked_environ, asked_deferred = self._asked
        return (
            not self._collected
            and asked_path == path
            and asked_environ is environ
            and asked_deferred == deferred
        )

    def answer(self) -> bytes | None:
        """The child's bytes once it exited cleanly; None if it failed or was asked before.

        The bytes are not kept: the caller that holds this object for the whole run
        (`gateway run`) must not hold the file's pickle too (14 MB at 100k tags).
        """
        if self._collected:
            return None
        self._collected = True
        with os.fdopen(self._reader, "rb") as pipe:
            payload = pipe.read()
        _, status = os.waitpid(self._pid, 0)
        return payload if status == 0 and payload else None


def fork_read(
    path: Path, environ: Mapping[str, str] | None, deferred: frozenset[str], answer: Answer
) -> ForkedRead:
    """Fork a child that runs `answer` on the request and sends its bytes back."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns, whatever happens (it must not run on)
        code = 1
        try:
            os.close(reader)
            payload = answer(path, environ, deferred)
            with os.fdopen(writer, "wb") as pipe:
                pipe.write(payload)
            code = 0
        finally:
            os._exit(code)
    os.close(writer)
    return ForkedRead(path, environ, deferred, pid, reader)


@contextmanager
def reading_early(path: Path, answer: Answer) -> Iterator[ForkedRead | None]:
    """`gateway run`'s file read in a child from now on, if it is large enough to fork
    for (None otherwise); a child never asked for its answer is reaped at the end."""
    worth = worth_forking(path, ISOLATE_FROM_BYTES)
    started = fork_read(path, None, frozenset(), answer) if worth else None
    try:
        yield started
    finally:
        if started is not None:
            started.answer()

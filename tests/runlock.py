"""Tests that must not share the machine with the suite's other tests (pytest-xdist).

The suite runs in four workers (docs/testing.md, "Four workers"). Most tests
only wait and take company in their stride; the attack tests measure that the
gateway stays responsive while it is attacked (tests/security/healthkit.py:
every healthy read answered within 2 s), and other workers starting gateways,
browsers and virtual environments beside them would make that a test of the
machine instead. So:

- every test holds a shared lock while it runs (`shared()`, an autouse fixture
  in tests/conftest.py);
- `alone()` trades the test's shared lock for the exclusive one: tests about to
  start wait at a turnstile, running ones finish, and the block has the
  machine to itself (a soak's busy loop aside, which is the point of a soak);
- in one process (`pytest -n 0`) both do nothing.

The locks are `flock`s on two files named after the run (xdist's test run
id), so two suites running at once (a soak beside a developer's run) do not
wait for each other. Every wait is bounded by WAIT_SECONDS.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gateway.filemodes import lock_within

__all__ = ["WAIT_SECONDS", "alone", "shared"]

#: The longest a test waits for the others (the longest test takes about a minute).
WAIT_SECONDS = 300.0
_POLL_SECONDS = 0.02
_RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID")


class _Held:
    """The running test's shared lock (a worker runs one test at a time)."""

    main: int | None = None


def _path(kind: str) -> Path:
    return Path(tempfile.gettempdir()) / f"gateway-tests-{_RUN}.{kind}"


def _open(kind: str) -> int:
    return os.open(_path(kind), os.O_RDWR | os.O_CREAT, 0o600)


def _lock(descriptor: int, operation: int, waiting_for: str) -> None:
    if not lock_within(descriptor, operation, WAIT_SECONDS, _POLL_SECONDS):
        raise TimeoutError(f"waited {WAIT_SECONDS:g} s for {waiting_for} (tests/runlock.py)")


@contextmanager
def shared() -> Iterator[None]:
    """Run beside other tests, unless one of them runs alone."""
    if _RUN is None:
        yield
        return
    turnstile = _open("turnstile")
    try:
        _lock(turnstile, fcntl.LOCK_SH, "a test that runs alone to finish")
    finally:
        os.close(turnstile)
    main = _open("lock")
    try:
        _lock(main, fcntl.LOCK_SH, "a test that runs alone to finish")
        _Held.main = main
        yield
    finally:
        _Held.main = None
        os.close(main)  # releases the lock, whatever it was by then


@contextmanager
def alone() -> Iterator[None]:
    """Run the block with no other test of the suite running."""
    main = _Held.main
    if _RUN is None or main is None:
        yield
        return
    # Let go first: two tests that both want to run alone would otherwise each hold the
    # shared lock the other waits for.
    fcntl.flock(main, fcntl.LOCK_UN)
    turnstile = _open("turnstile")
    try:
        _lock(turnstile, fcntl.LOCK_EX, "another test that runs alone")
        _lock(main, fcntl.LOCK_EX, "the other workers' running tests to finish")
    finally:
        os.close(turnstile)
    try:
        yield
    finally:
        fcntl.flock(main, fcntl.LOCK_UN)
        _lock(main, fcntl.LOCK_SH, "a test that runs alone to finish")

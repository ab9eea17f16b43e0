"""The suite's lock between workers (tests/runlock.py), with real processes and flocks.

Each process writes a line to a shared log when it enters or leaves a block,
so the order of the lines is the order of the events: what must wait comes
after what it waits for, whatever the machine's speed.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import runlock

TESTS = Path(__file__).resolve().parents[1]

#: A worker running one test (shared) or one attack (alone): it logs, waits for a line
#: on stdin, logs again and exits.
WORKER = """
import sys
import runlock
name, mode, log = sys.argv[1], sys.argv[2], sys.argv[3]
def note(text):
    with open(log, "a") as out:
        out.write(f"{name} {text}\\n")
with runlock.shared():
    if mode == "alone":
        print("shared", flush=True)
        sys.stdin.readline()
        with runlock.alone():
            note("in")
            print("ready", flush=True)
            sys.stdin.readline()
            note("out")
    else:
        note("in")
        print("ready", flush=True)
        sys.stdin.readline()
        note("out")
"""


@pytest.fixture
def run_id(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    run = f"unit-{uuid.uuid4().hex[:12]}"
    monkeypatch.setattr(runlock, "_RUN", run)
    yield run
    for kind in ("lock", "turnstile"):
        runlock._path(kind).unlink(missing_ok=True)


def _worker(name: str, mode: str, log: Path, run: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTEST_XDIST_TESTRUNUID": run, "PYTHONPATH": str(TESTS)}
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, name, mode, str(log)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def _tell(worker: subprocess.Popen[str]) -> None:
    assert worker.stdin is not None
    worker.stdin.write("go\n")
    worker.stdin.flush()


def _release(worker: subprocess.Popen[str]) -> None:
    _tell(worker)
    assert worker.wait(timeout=60) == 0


def _until(worker: subprocess.Popen[str], line: str) -> None:
    """Read the worker's output up to `line` (it exits with an error otherwise)."""
    assert worker.stdout is not None
    for said in worker.stdout:
        if said == line + "\n":
            return
    pytest.fail(f"the worker ended without saying {line!r}: exit {worker.wait(timeout=60)}")


def _ready(worker: subprocess.Popen[str]) -> None:
    _until(worker, "ready")


def _lines(log: Path) -> list[str]:
    return log.read_text().splitlines()


def test_alone_waits_for_running_tests_and_new_ones_wait_for_it(
    run_id: str, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    running = _worker("running", "shared", log, run_id)
    _ready(running)
    entered = threading.Event()

    def attack() -> None:
        with runlock.shared(), runlock.alone():
            with log.open("a") as out:
                out.write("attack in\n")
            entered.set()
            later = _worker("later", "shared", log, run_id)  # starts while we run alone
            with log.open("a") as out:
                out.write("attack out\n")
        _ready(later)
        _release(later)

    thread = threading.Thread(target=attack)
    thread.start()
    _release(running)
    thread.join(timeout=120)
    assert entered.is_set()
    assert _lines(log) == [
        "running in",
        "running out",
        "attack in",
        "attack out",
        "later in",
        "later out",
    ]


def test_two_tests_that_ask_to_run_alone_at_once_take_turns(run_id: str, tmp_path: Path) -> None:
    log = tmp_path / "log"
    workers = [_worker(name, "alone", log, run_id) for name in ("one", "two")]
    for worker in workers:
        _until(worker, "shared")  # both hold their shared lock...
    for worker in workers:
        _tell(worker)  # ...and both ask to run alone
    first = _first_ready(workers)
    _release(first)
    (second,) = [worker for worker in workers if worker is not first]
    _ready(second)
    _release(second)
    one, two = (worker.args[3] for worker in (first, second))  # type: ignore[index]
    assert _lines(log) == [f"{one} in", f"{one} out", f"{two} in", f"{two} out"]


def _first_ready(workers: list[subprocess.Popen[str]]) -> subprocess.Popen[str]:
    """The worker that says "ready" first (the other waits for it to leave)."""
    pipes = {worker.stdout: worker for worker in workers}
    readable, _, _ = select.select(list(pipes), [], [], 60)
    assert readable, "neither worker got to run alone within 60 s (a deadlock?)"
    worker = pipes[readable[0]]
    _ready(worker)
    return worker


def test_outside_the_workers_nothing_is_locked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runlock, "_RUN", None)
    held = runlock._Held.main  # this test's own lock, when it runs in a worker
    with runlock.shared(), runlock.alone():
        assert runlock._Held.main is held
        assert not runlock._path("lock").exists()

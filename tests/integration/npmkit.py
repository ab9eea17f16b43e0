"""The Node.js interop projects under tests/interop: node found, packages installed once.

Each project pins its packages in package-lock.json; `npm ci` installs them
into its node_modules the first time, and a stamp there (the lock file's
hash) says which lock was installed, so a changed lock installs again.
Without node and npm a test skips on a laptop and fails in CI (the CI env
var): CI must run the interop tests.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from gateway.filemodes import exclusive_lock

__all__ = ["INTEROP", "node_with_packages"]

INTEROP = Path(__file__).resolve().parents[1] / "interop"
#: Seconds `npm ci` may take (it downloads from the registry on a new machine).
NPM_TIMEOUT = 300


def _lock_hash(project: Path) -> str:
    return hashlib.sha256((project / "package-lock.json").read_bytes()).hexdigest()


def _stamp(project: Path) -> Path:
    return project / "node_modules" / ".gateway-lock-sha256"


def node_with_packages(project: Path) -> str:
    """The node executable, with `project`'s packages installed (`npm ci`, once per lock)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        message = "node and npm are not installed (Node.js 20 or newer)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run this test")
        pytest.skip(message)
    # The suite's workers (pytest-xdist) may reach here at once: one installs, the
    # others wait for it and find the stamp.
    with exclusive_lock(_lock_path(project), NPM_TIMEOUT):
        _install(project, npm)
    return node


def _lock_path(project: Path) -> Path:
    digest = hashlib.sha256(str(project).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"gateway-npm-{digest}.lock"


def _install(project: Path, npm: str) -> None:
    """`npm ci` in `project` unless its stamp names the current lock file."""
    stamp = _stamp(project)
    if not (stamp.is_file() and stamp.read_text() == _lock_hash(project)):
        started = time.monotonic()
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"npm ci failed in {project}:\n{done.stdout}\n{done.stderr}")
        stamp.write_text(_lock_hash(project))
        print(f"npm ci in {project.name}: {time.monotonic() - started:.1f} s")

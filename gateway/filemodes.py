"""Files that hold readings or secrets are their owner's alone: 0600, their folders 0700.

The history database (and SQLite's -wal and -shm files next to it) holds the
plant's data; the demo's configuration holds passwords. Created with the
process umask they would be world-readable (0644 under the usual 022), so they
are created with explicit modes, set with chmod so no umask changes them.
Existing files and folders the user made are left as they are.

Files that processes starting together make once (certificates) are made
under an exclusive lock and written whole: `exclusive_lock`, `write_whole`.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

__all__ = [
    "PRIVATE_DIR",
    "PRIVATE_FILE",
    "create_private_file",
    "exclusive_lock",
    "lock_within",
    "make_private_dirs",
    "write_private_text",
    "write_whole",
]

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def make_private_dirs(path: Path) -> None:
    """Create `path` and its missing parents, each 0700; OSError when that fails."""
    missing: list[Path] = []
    while not path.exists():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:  # made meanwhile by someone else: theirs
            continue
        os.chmod(folder, PRIVATE_DIR)


def create_private_file(path: Path) -> bool:
    """Create `path` empty with mode 0600 unless it exists; True when it was created."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return False
    try:
        os.fchmod(descriptor, PRIVATE_FILE)
    finally:
        os.close(descriptor)
    return True


def write_private_text(path: Path, text: str) -> None:
    """Write `text` to `path`, which ends up 0600 whether it existed or not."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        os.fchmod(descriptor, PRIVATE_FILE)
        file.write(text)


@contextmanager
def exclusive_lock(path: Path, timeout: float) -> Iterator[None]:
    """Hold an exclusive lock on `path` (made 0600 if missing) for the block.

    Blocking: call it from a worker thread in async code. TimeoutError after
    `timeout` seconds of another process holding it; OSError when `path`
    cannot be opened. The lock goes with the process if it dies.
    """
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
    try:
        if not lock_within(descriptor, fcntl.LOCK_EX, timeout):
            raise TimeoutError(f"{path} held by another process")
        yield
    finally:
        os.close(descriptor)  # releases the lock


def lock_within(descriptor: int, operation: int, timeout: float, poll: float = 0.05) -> bool:
    """`flock(descriptor, operation)` (LOCK_SH or LOCK_EX), retried every `poll` seconds
    for at most `timeout`; False if another process still holds a conflicting lock.

    Blocking: call it from a worker thread in async code.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(descriptor, operation | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll)


def write_whole(path: Path, data: bytes, mode: int = PRIVATE_FILE) -> None:
    """Write `path` under a temporary name beside it, then rename: a reader sees the
    old file or the whole new one, never a part (nor a part after a crash)."""
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary)
        raise

"""asyncua's standard address space served from a file instead of memory (issue 21).

asyncua keeps its 6,174 namespace-0 nodes in memory, about 40 MB of RSS at
every size. asyncua offers a shelf for them (`Server.init(shelf_file)`), but it
writes the file in place (a crash or a second gateway starting at the same
time leaves a torn file that the next start loads), needs a `dbm` backend
(with only `dbm.dumb`, as in python.org's builds without gdbm, it never finds
the file it wrote and rebuilds every time) and looks up every node through
three Python calls. So the adapter keeps the idea and replaces the storage:

- the nodes, pickled as asyncua pickles them and compressed, in one SQLite
  file written to a temporary name and renamed into place (atomic: a reader
  sees the old file or the new one, concurrent writers each write a whole
  file);
- `ShelvedNodes`, the address space's node map: a dict of the nodes in
  memory that reads a namespace-0 node from the file the first time it is
  asked for and keeps it (a node once read is changed in memory: the
  gateway's references below ObjectsFolder, ServerStatus, limits). Hits are
  plain dict lookups; namespaces ≥ 1 (the gateway's nodes) never touch the
  file.

Pickles run code when loaded, so the file is only read from a directory the
user owns and nobody else can write (`ShelfPlace`). Any problem (no such
directory, read-only or full disk, a file of another asyncua) means the
standard address space is built in memory as before, with one log line.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pickle
import sqlite3
import stat
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast
from urllib.parse import quote

from asyncua import ua
from asyncua.server.address_space import NodeData

from gateway.opcua.stack import gate
from gateway.opcua.stack.properties import NodeMap, install, nodes_of

__all__ = [
    "ENV_SWITCH",
    "FORMAT",
    "ShelfPlace",
    "ShelvedNodes",
    "default_directory",
    "install",
    "nodes_of",
]

log = logging.getLogger(__name__)

#: The file's layout; a change makes every gateway write a new file.
FORMAT = 2  # 2: the nodes' checksum in the identity table
#: GATEWAY_OPCUA_SHELF=0 keeps the standard address space in memory.
ENV_SWITCH = "GATEWAY_OPCUA_SHELF"
_PREFIX = "opcua-standard-space-"
#: A file of another asyncua, Python or format is removed once unused this long (seconds).
STALE_AFTER = 30 * 86400.0
#: A temporary file this old is a crashed writer's (seconds; a write takes about 1 s).
_TEMPORARY_AFTER = 3600.0
#: The identity table's key of the nodes' checksum (`_checksum`).
_CHECKSUM = "checksum"
#: zlib level of each pickled node: 18 MB of pickles take 6 MB.
_COMPRESSION = 1
#: SQLite's page cache for the file, in KiB (read once per node, then kept as a node).
_CACHE_KIB = 256


def default_directory() -> Path | None:
    """`$XDG_CACHE_HOME/modbus-opcua-gateway` (by default under ~/.cache); None when
    GATEWAY_OPCUA_SHELF=0, off POSIX, or there is no home directory."""
    if os.environ.get(ENV_SWITCH, "1") == "0" or not hasattr(os, "geteuid"):
        return None  # switched off, or no POSIX owner to check the directory against
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no HOME and no passwd entry
            return None
    return Path(base) / "modbus-opcua-gateway"


def _identity() -> dict[str, str]:
    """What the pickles depend on: the file is used only when all of it matches."""
    return {
        "format": str(FORMAT),
        "asyncua": gate.INSTALLED,
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "pickle": str(pickle.HIGHEST_PROTOCOL),
    }


def _file_name() -> str:
    identity = _identity()
    versions = f"asyncua{identity['asyncua']}-py{identity['python']}-f{identity['format']}"
    return f"{_PREFIX}{versions}.sqlite3"


class ShelvedNodes(NodeMap):
    """The node map: nodes in memory, namespace-0 nodes read from the file when first used
    (and, as every `NodeMap`, variables' properties made when asked for).

    `[]` is dict's own lookup (a miss calls `__missing__`); `get` and `in`
    add one Python call. Iterating and `len` see the nodes in memory only,
    as with asyncua's own shelf.
    """

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        super().__init__()
        self.path = path
        self._connection = connection
        self._lock = threading.Lock()  # asyncua runs some node code on worker threads
        self._deleted: set[ua.NodeId] = set()
        self._closed = False
        #: Lookups that went to the file, and the nodes they found.
        self.reads = 0
        self.loaded = 0

    def __delitem__(self, key: ua.NodeId) -> None:
        if not dict.__contains__(self, key):
            self[key]  # read from the file, or KeyError
        dict.__delitem__(self, key)
        if key.NamespaceIndex == 0:
            self._deleted.add(key)  # not read back from the file

    def _load(self, key: object) -> NodeData | None:
        if not isinstance(key, ua.NodeId) or key.NamespaceIndex != 0:
            return super()._load(key)
        if key in self._deleted:
            return None
        with self._lock:
            node = dict.get(self, key)  # another thread may have read it meanwhile
            if node is not None or self._closed:
                return node
            self.reads += 1
            row = self._connection.execute(
                "SELECT node FROM nodes WHERE id = ?", (key.to_string(),)
            ).fetchone()
            if row is None:
                return None
            node = cast(NodeData, pickle.loads(zlib.decompress(row[0])))
            dict.__setitem__(self, key, node)
            self.loaded += 1
            return node

    def close(self) -> None:
        """Close the file: the nodes read so far stay, no more are read."""
        with self._lock:
            self._closed = True
            self._connection.close()


@dataclass(frozen=True)
class ShelfPlace:
    """Where the file lives: a directory of this user's that nobody else can write."""

    directory: Path

    @property
    def path(self) -> Path:
        return self.directory / _file_name()

    def open(self) -> ShelvedNodes | None:
        """The file's nodes if it exists, is safe to load and was written for this asyncua."""
        path = self.path
        try:
            if not path.exists() or not _private(self.directory) or not _private(path):
                return None
            connection = sqlite3.connect(
                f"file:{quote(str(path))}?mode=ro&immutable=1", uri=True, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as error:
            log.warning("OPC UA: cannot read %s (%s): standard nodes kept in memory", path, error)
            return None
        try:
            connection.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
            identity = dict(connection.execute("SELECT key, value FROM identity").fetchall())
            checksum = identity.pop(_CHECKSUM, None)
            if identity != _identity():
                connection.close()
                return None
            if checksum != _checksum(connection):  # a node damaged since it was written
                connection.close()
                log.warning("OPC UA: %s is damaged: standard nodes built again", path)
                return None
        except sqlite3.Error as error:
            connection.close()
            log.warning("OPC UA: %s is unreadable (%s): standard nodes kept in memory", path, error)
            return None
        return ShelvedNodes(connection, path)

    def write(self, nodes: dict[ua.NodeId, NodeData]) -> bool:
        """Write `nodes` (the standard address space as built) to the file; False on failure.

        Written under a temporary name in the same directory and renamed into
        place: concurrent gateways each rename a whole file. Files of other
        asyncua or Python versions are removed once the new one is in place.
        """
        directory = self.directory
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not _private(directory):
                log.warning(
                    "OPC UA: %s is not a directory only this user can write: standard nodes "
                    "kept in memory",
                    directory,
                )
                return False
            descriptor, temporary = tempfile.mkstemp(
                prefix=f".{_PREFIX}", suffix=".tmp", dir=directory
            )
            os.close(descriptor)
        except OSError as error:
            log.warning(
                "OPC UA: cannot write in %s (%s): standard nodes kept in memory", directory, error
            )
            return False
        try:
            _write_file(Path(temporary), nodes)
            os.replace(temporary, self.path)
            _sync_directory(directory)
        except Exception as error:
            # Any failure, a node that will not pickle too: the nodes are built already,
            # and a file that could not be written must never fail the start.
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            log.warning(
                "OPC UA: cannot write %s (%s): standard nodes kept in memory", self.path, error
            )
            return False
        self._remove_stale()
        return True

    def _remove_stale(self) -> None:
        """Files of other versions unused for `STALE_AFTER` (two installs of different
        asyncua under one user keep theirs), and temporary files a crash left."""
        now = time.time()
        current = _file_name()
        for old in self.directory.glob(f"{_PREFIX}*.sqlite3"):
            _remove_older(old, now - STALE_AFTER, keep=old.name == current)
        for temporary in self.directory.glob(f".{_PREFIX}*.tmp"):
            _remove_older(temporary, now - _TEMPORARY_AFTER, keep=False)


def _remove_older(path: Path, than: float, *, keep: bool) -> None:
    """Remove `path` unless kept or used (read or written) since `than` (a time.time())."""
    with contextlib.suppress(OSError):
        info = path.stat()
        if not keep and max(info.st_atime, info.st_mtime) < than:
            path.unlink()


def _write_file(path: Path, nodes: dict[ua.NodeId, NodeData]) -> None:
    connection = sqlite3.connect(path)
    try:
        with connection:
            connection.execute("PRAGMA journal_mode = OFF")
            connection.execute("CREATE TABLE identity (key TEXT PRIMARY KEY, value TEXT)")
            connection.execute("CREATE TABLE nodes (id TEXT PRIMARY KEY, node BLOB)")
            connection.executemany("INSERT INTO nodes VALUES (?, ?)", _rows(nodes))
            identity = {**_identity(), _CHECKSUM: _checksum(connection)}
            connection.executemany("INSERT INTO identity VALUES (?, ?)", identity.items())
    finally:
        connection.close()
    with open(path, "rb") as written:
        os.fsync(written.fileno())


def _rows(nodes: dict[ua.NodeId, NodeData]) -> Iterator[tuple[str, bytes]]:
    for nodeid, node in nodes.items():
        if nodeid.NamespaceIndex == 0:
            pickled = pickle.dumps(node, pickle.HIGHEST_PROTOCOL)
            yield nodeid.to_string(), zlib.compress(pickled, _COMPRESSION)


def _private(path: Path) -> bool:
    """Owned by this user and writable by nobody else, nor any folder above it that
    another user could rename it in (a pickle runs code when loaded).

    The path itself must not be a symbolic link. Each folder above it must
    belong to this user or to root, and be writable by no one else unless it
    is sticky (as /tmp is: there nobody renames what another user owns).
    """
    me = os.geteuid()
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        return False
    if info.st_uid != me or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return False
    for folder in path.resolve().parents:
        above = folder.stat()
        if above.st_uid not in (me, 0):
            return False
        if above.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not above.st_mode & stat.S_ISVTX:
            return False
    return True


def _checksum(connection: sqlite3.Connection) -> str:
    """SHA-256 of every node row, in id order: a damaged node fails it, not the start."""
    digest = hashlib.sha256()
    for nodeid, node in connection.execute("SELECT id, node FROM nodes ORDER BY id"):
        digest.update(nodeid.encode())
        digest.update(b"\0")
        digest.update(node)
    return digest.hexdigest()


def _sync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)

"""Certificate folders for the test kits' configs: in pytest's temporary folder, never /tmp.

The kits used `tempfile.mkdtemp(prefix="gateway-pki-")` for every config they
built, and nothing removed those folders: each run of the suite left dozens
of empty /tmp/gateway-pki-* behind. Now each config names a folder of its own
under this session's temporary folder (pytest keeps the last few sessions'
and removes older ones); the OPC UA server creates it only when it starts.
"""

from __future__ import annotations

import itertools
from pathlib import Path

__all__ = ["pki_dir", "use_root"]

_root: list[Path] = []
_numbers = itertools.count()


def use_root(root: Path) -> None:
    """Called once per session by conftest's `_pki_root` fixture."""
    _root[:] = [root]


def pki_dir() -> str:
    """A certificate folder for one config: not made here, and so never left empty."""
    if not _root:
        raise RuntimeError("no root for certificate folders: conftest's _pki_root sets it")
    return str(_root[0] / f"pki-{next(_numbers)}")

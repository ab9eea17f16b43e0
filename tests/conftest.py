"""Shared by every test folder: this folder is on sys.path, so its kits import by name.

fakeclock.py (a fake Clock, and a loop that jumps to the next timer when every
task waits) and memorymodbus.py (an in-memory Modbus transport) serve the
deterministic poller tests in unit/ and the TCP client tests in integration/.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
from hypothesis import settings
from runlock import shared

# Property tests draw the same examples on every run (seeded by the test's name) and keep
# no example database: a failure is reproducible, and no run passes or fails by luck.
settings.register_profile("deterministic", derandomize=True, database=None)
settings.load_profile("deterministic")


def pytest_configure(config: pytest.Config) -> None:
    """Tests that press Ctrl-C on a child process need the child to hear it.

    A shell starts background jobs (`pytest &`, a soak loop run with `&`)
    with SIGINT ignored, and a child inherits an ignored signal: `gateway
    watch` or `gateway demo` would then rightly ignore the tests' SIGINT
    too, and those tests hang until their timeout. A handled signal is reset
    to the default in a child, so the suite runs alike in the foreground and
    in the background.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


#: Workers of a whole run with `-n auto`: the suite mostly waits on processes, sockets
#: and browsers, so more workers than cores (docs/testing.md, "Four workers").
WORKERS = 4


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """Four workers for folders (the suite, a folder of it); none for files and single
    tests, which the workers' start (several seconds) would only slow down."""
    paths = config.args or ["tests"]
    if all("::" in arg or arg.endswith(".py") for arg in paths):
        return 0
    return WORKERS


@pytest.fixture(autouse=True)
def _beside_the_others() -> Iterator[None]:
    """Every test runs beside the other workers' tests, unless one runs alone (runlock.py)."""
    with shared():
        yield


@pytest.fixture(autouse=True, scope="session")
def _own_cache_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The session's own XDG_CACHE_HOME (inherited by the processes the tests start).

    The OPC UA server keeps asyncua's standard address space in a file in the
    user's cache (gateway/opcua/stack/shelf.py): the suite builds its own
    once, and neither reads nor leaves one in the home folder of whoever runs it.
    """
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if previous is None:
        del os.environ["XDG_CACHE_HOME"]
    else:
        os.environ["XDG_CACHE_HOME"] = previous

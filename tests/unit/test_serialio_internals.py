"""The serial adapter's reliance on pyserial-asyncio-fast's private transport methods.

gateway/serialio.py subclasses the library's SerialTransport and replaces its
reads and writes with calls straight on the descriptor; the subclass calls or
overrides the private methods below and uses the attributes `_write_buffer`,
`_closing` and `_protocol`. When an upgrade changes one of them,
`test_serial_transport_internals_are_unchanged[<name>]` fails and names it:
re-read that method, adapt `_direct_transport_class`, then update its digest.
"""

from __future__ import annotations

import hashlib
import inspect
from importlib.metadata import version

import pytest

serial_asyncio_fast = pytest.importorskip("serial_asyncio_fast")

from gateway import serialio  # noqa: E402 - after the optional import

#: sha256 (first 16 hex digits) of each method's source in pyserial-asyncio-fast 0.16.
DIGESTS: dict[str, str] = {
    "__init__": "4476ee21cff2648a",
    "_read_ready": "84e0ae1031af7553",
    "_write_data": "d1ab281468fddb94",
    "_write_ready": "fa9da2e41c893713",
    "_close": "82fbc89991462512",
    "_fatal_error": "9506a54a79ddf30d",
    "_ensure_writer": "ef155328833ce964",
    "_remove_writer": "d76901d96913a68b",
    "_maybe_pause_protocol": "efaad18e9b130f3f",
    "_maybe_resume_protocol": "c11ef02a175db1ce",
    "write": "5215f30e2831ca65",
}


@pytest.mark.parametrize("name", sorted(DIGESTS))
def test_serial_transport_internals_are_unchanged(name: str) -> None:
    method = getattr(serial_asyncio_fast.SerialTransport, name, None)
    assert method is not None, f"SerialTransport.{name} is gone in {_installed()}"
    digest = hashlib.sha256(inspect.getsource(method).encode()).hexdigest()[:16]
    assert digest == DIGESTS[name], f"SerialTransport.{name} changed in {_installed()}"


def test_the_direct_transport_is_the_one_in_use() -> None:
    """The fallback to the library's own transport is for other platforms only."""
    import serial

    cls = serialio._direct_transport_class(serial_asyncio_fast, serial)
    assert cls is not serial_asyncio_fast.SerialTransport
    assert issubclass(cls, serial_asyncio_fast.SerialTransport)


def _installed() -> str:
    return f"pyserial-asyncio-fast {version('pyserial-asyncio-fast')}"

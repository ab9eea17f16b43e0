"""gateway.memory: the one call that hands freed heap pages back, and where it is made."""

from __future__ import annotations

import sys

import pytest

from gateway import collector, memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_the_c_library_is_reached_on_linux() -> None:
    blocks = [bytearray(1000) for _ in range(20_000)]  # heap pages, then freed
    del blocks
    # True when pages were released, False when none were free; never an error.
    assert isinstance(memory.return_free_memory(), bool)


def test_elsewhere_it_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert memory.return_free_memory() is False


def test_the_gateway_returns_memory_once_running(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(collector, "return_free_memory", lambda: calls.append("trim") or True)
    with collector.collector_paused_until_running() as running:
        assert calls == []
        running()
        assert calls == ["trim"]

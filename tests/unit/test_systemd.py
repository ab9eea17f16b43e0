"""systemd's notify protocol over a local datagram socket standing in for systemd."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.systemd import Notifier, systemd_notifier


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.setblocking(False)
        yield path, sock


async def _receive(sock: socket.socket, count: int) -> list[str]:
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(5):
        return [(await loop.sock_recv(sock, 4096)).decode() for _ in range(count)]


async def test_ready_and_stopping(listener: tuple[str, socket.socket]) -> None:
    path, sock = listener
    async with systemd_notifier({"NOTIFY_SOCKET": path}) as notifier:
        notifier.ready("3 device(s)")
        notifier.stopping()
    assert await _receive(sock, 2) == ["READY=1\nSTATUS=3 device(s)", "STOPPING=1"]


async def test_the_watchdog_is_pinged_every_half_period(
    listener: tuple[str, socket.socket],
) -> None:
    path, sock = listener
    environ = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "20000", "WATCHDOG_PID": str(os.getpid())}
    async with systemd_notifier(environ):
        assert await _receive(sock, 3) == ["WATCHDOG=1"] * 3


async def test_a_watchdog_meant_for_another_process_is_not_pinged(
    listener: tuple[str, socket.socket],
) -> None:
    path, sock = listener
    environ = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "20000", "WATCHDOG_PID": "1"}
    async with systemd_notifier(environ) as notifier:
        notifier.ready()
    assert await _receive(sock, 1) == ["READY=1"]
    with pytest.raises(BlockingIOError):
        sock.recv(4096)


async def test_the_abstract_namespace() -> None:
    name = f"gateway-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.setblocking(False)
        async with systemd_notifier({"NOTIFY_SOCKET": "@" + name}) as notifier:
            notifier.ready()
        assert await _receive(sock, 1) == ["READY=1"]


async def test_without_systemd_nothing_is_sent_and_a_gone_systemd_is_not_fatal(
    tmp_path: Path,
) -> None:
    async with systemd_notifier({}) as notifier:
        assert not notifier.enabled
        notifier.ready()
    gone = Notifier(str(tmp_path / "nobody"))
    gone.ready()
    gone.stopping()
    assert gone.failures == 2
    gone.close()


async def test_an_error_of_the_block_leaves_as_itself(listener: tuple[str, socket.socket]) -> None:
    path, _ = listener
    environ = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"}
    with pytest.raises(KeyError):
        async with systemd_notifier(environ):
            raise KeyError("not wrapped in an ExceptionGroup")

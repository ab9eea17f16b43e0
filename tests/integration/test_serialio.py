"""gateway/serialio.py on a real pseudo-terminal: bytes both ways, a full port buffer, a lost line.

The transport takes its reads and writes straight to the descriptor; these
check that what the library would have done still happens: every byte in
order, a write the port cannot take at once finished by the library's writer,
and a line that goes away reported through connection_lost.
"""

from __future__ import annotations

import asyncio
import os
import tty

import pytest

from gateway.serialio import PortSettings, SerialPortError, open_serial


class Collector(asyncio.Protocol):
    def __init__(self) -> None:
        self.data = bytearray()
        self.arrived = asyncio.Event()
        self.lost: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.data += data
        self.arrived.set()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(exc)


async def received(protocol: Collector, size: int) -> bytes:
    """What the protocol got, once it is `size` bytes (5 s at most)."""
    async with asyncio.timeout(5):
        while len(protocol.data) < size:
            protocol.arrived.clear()
            await protocol.arrived.wait()
    return bytes(protocol.data)


async def read_from(fd: int, size: int) -> bytes:
    """`size` bytes from the pseudo-terminal's other end, as they come (5 s at most)."""
    loop = asyncio.get_running_loop()
    got = bytearray()
    enough = loop.create_future()

    def readable() -> None:
        got.extend(read_all(fd))
        if len(got) >= size and not enough.done():
            enough.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await asyncio.wait_for(enough, 5)
    finally:
        loop.remove_reader(fd)
    return bytes(got)


def pty_pair() -> tuple[int, str]:
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    path = os.ttyname(slave)
    os.close(slave)
    os.set_blocking(master, False)
    return master, path


def read_all(fd: int) -> bytes:
    out = bytearray()
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return bytes(out)
        out += chunk


def test_bytes_go_both_ways_in_order() -> None:
    async def main() -> None:
        master, path = pty_pair()
        protocol = Collector()
        transport = await open_serial(PortSettings(path, 115200, "none", 1, 8), lambda: protocol)
        try:
            transport.write(b"\x01\x03\x00\x00\x00\x14\x45\xc5")
            assert await read_from(master, 8) == b"\x01\x03\x00\x00\x00\x14\x45\xc5"
            os.write(master, b"answer part 1,")
            os.write(master, b" part 2")
            assert await received(protocol, 21) == b"answer part 1, part 2"
        finally:
            transport.close()
            await asyncio.wait_for(protocol.lost, 5)
            os.close(master)

    asyncio.run(main())


def test_a_write_larger_than_the_port_takes_is_finished_by_the_library() -> None:
    async def main() -> None:
        master, path = pty_pair()
        protocol = Collector()
        transport = await open_serial(PortSettings(path, 115200, "none", 1, 8), lambda: protocol)
        payload = bytes(range(256)) * 1024  # 256 KiB: far more than a pty buffers
        try:
            transport.write(payload)
            transport.write(b"after")  # queued behind the rest, not written ahead of it
            assert transport.get_write_buffer_size() > 0
            assert await read_from(master, len(payload) + 5) == payload + b"after"
        finally:
            transport.close()
            await asyncio.wait_for(protocol.lost, 5)
            os.close(master)

    asyncio.run(main())


def test_a_line_that_goes_away_is_reported_lost() -> None:
    async def main() -> None:
        master, path = pty_pair()
        protocol = Collector()
        transport = await open_serial(PortSettings(path, 115200, "none", 1, 8), lambda: protocol)
        os.close(master)  # the other end is gone: reads fail (EIO)
        exc = await asyncio.wait_for(protocol.lost, 5)
        assert exc is not None
        assert "read failed" in str(exc) or "gone" in str(exc)
        transport.close()

    asyncio.run(main())


def test_a_missing_port_is_an_error_in_words() -> None:
    async def main() -> None:
        missing = r"cannot open /dev/nonexistent-rtu: no such file"
        with pytest.raises(SerialPortError, match=missing):
            await open_serial(PortSettings("/dev/nonexistent-rtu"), asyncio.Protocol)

    asyncio.run(main())

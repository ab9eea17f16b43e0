"""Serial ports: the one module that imports pyserial and pyserial-asyncio-fast.

Both come with the `serial` extra (`pip install 'modbus-opcua-gateway[serial]'`);
a gateway or a plant without serial devices never imports them. The gateway's
RTU lines and the simulators' RTU slaves on a device path open ports here and
get an asyncio transport whose protocol receives the bytes: no thread per port
(pyserial-asyncio-fast opens and closes the port in the loop's executor, since
pyserial's open and close block; every read and write is event-driven).

The transport is pyserial-asyncio-fast's with its reads and writes taken
straight to the port's descriptor: a read is one `os.read` instead of
pyserial's select-then-read with its timeout objects, a write one `os.write`
(what the port does not take waits in the library's buffer for its writer).
An RTU exchange runs both once after each idle wait on the line, when the
caches are cold: measured under load, that saved 30 µs of the ~300 µs an
exchange cost (docs/performance.md, RTU lines).

Failures come out as `SerialPortError` (an OSError, so a simulator reports it
like a busy TCP port), worded for a person: which port, and why.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

__all__ = ["PortSettings", "SerialPortError", "open_serial"]

log = logging.getLogger(__name__)

try:  # pyserial's POSIX backend lets termios' own error (not an OSError) through
    from termios import error as _TermiosError
except ImportError:  # pragma: no cover - Windows
    _TermiosError = OSError  # type: ignore[assignment,misc]

_PARITY = {"none": "N", "even": "E", "odd": "O"}
_READ_SIZE = 4096  # a frame is at most 256 bytes; a burst of noise takes more reads
_INSTALL = "serial ports need the serial extra: pip install 'modbus-opcua-gateway[serial]'"


class SerialPortError(OSError):
    """A serial port could not be opened or configured."""


@dataclass(frozen=True, slots=True)
class PortSettings:
    """A port and its character format, as set on the devices."""

    path: str
    baudrate: int = 19200
    parity: str = "even"  # none | even | odd
    stop_bits: int = 1
    data_bits: int = 8


async def open_serial(
    settings: PortSettings, protocol_factory: Callable[[], asyncio.Protocol]
) -> asyncio.Transport:
    """Open the port for exclusive use, its input flushed; bytes go to the factory's protocol.

    Low-latency mode is asked for (on Linux it sets an FTDI adapter's latency
    timer to 1 ms instead of 16); ports that do not support it, such as
    pseudo-terminals, go on without it.
    """
    try:  # here, not at the top: a gateway without serial devices needs neither
        import serial  # noqa: PLC0415
        import serial_asyncio_fast  # noqa: PLC0415
    except ImportError:  # pragma: no cover - the test extra installs both
        raise SerialPortError(f"cannot open {settings.path}: {_INSTALL}") from None
    loop = asyncio.get_running_loop()
    opening = functools.partial(
        serial.Serial,
        settings.path,
        baudrate=settings.baudrate,
        parity=_PARITY[settings.parity],
        stopbits=settings.stop_bits,
        bytesize=settings.data_bits,
        exclusive=True,
    )
    failures = (serial.SerialException, OSError, ValueError, _TermiosError)
    try:
        port: Any = await loop.run_in_executor(None, opening)
    except failures as exc:
        raise SerialPortError(f"cannot open {settings.path}: {_reason(exc)}") from exc
    transport_class = _direct_transport_class(serial_asyncio_fast, serial)
    try:  # the transport sets non-blocking timeouts: pyserial applies the settings again
        transport = transport_class(loop, protocol_factory(), port)
    except failures as exc:
        with contextlib.suppress(*failures):
            port.close()
        raise SerialPortError(f"cannot open {settings.path}: {_reason(exc)}") from exc
    with contextlib.suppress(serial.SerialException, OSError, ValueError):
        port.reset_input_buffer()  # whatever waited in the driver belongs to nobody
    try:
        port.set_low_latency_mode(True)
    except (serial.SerialException, OSError, ValueError, AttributeError) as exc:
        log.debug("%s: no low-latency mode (%s)", settings.path, exc)
    return cast(asyncio.Transport, transport)


_DIRECT: list[Any] = []  # the class, made on first use


def _direct_transport_class(library: Any, serial: Any) -> Any:
    """pyserial-asyncio-fast's SerialTransport with reads and writes on the descriptor
    (POSIX: on Windows the library polls, and its own paths stay)."""
    if _DIRECT:
        return _DIRECT[0]
    base: Any = library.SerialTransport
    needs = ("_read_ready", "_write_data", "_write_ready", "_close", "_fatal_error")
    if os.name == "nt" or not all(hasattr(base, name) for name in needs):  # pragma: no cover
        _DIRECT.append(base)
        return base

    class DirectSerialTransport(base):  # type: ignore[misc]
        def __init__(self, loop: Any, protocol: asyncio.Protocol, port: Any) -> None:
            super().__init__(loop, protocol, port)
            self._fd: int = port.fileno()

        def _read_ready(self) -> None:
            try:
                data = os.read(self._fd, _READ_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # as pyserial words it, and the library closes
                self._close(exc=serial.SerialException(f"read failed: {exc}"))
                return
            if not data:  # pyserial's case too: a port unplugged reads as ready and empty
                self._close(exc=serial.SerialException("the device is gone (read nothing)"))
                return
            self._protocol.data_received(data)

        def _write_data(self, data: bytes | bytearray | memoryview) -> None:
            """The library's `write` calls this when nothing is queued, its writer when the
            port can take more; what the port does not take waits in the library's buffer."""
            try:
                sent = os.write(self._fd, data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:
                self._fatal_error(exc, "Fatal write error on serial transport")
                return
            if sent < len(data):
                self._write_buffer.append(memoryview(data)[sent:])
                self._maybe_pause_protocol()
                self._ensure_writer()
            elif self._closing:
                self._close()

        def _write_ready(self) -> None:
            """The port can take more. pyserial's own write would spin on EAGAIN with the
            zero write timeout the library sets, and the library leaves its writer on once
            the buffer is empty (0.16): both done here instead."""
            data = b"".join(self._write_buffer)
            self._write_buffer.clear()
            self._remove_writer()
            if data:
                self._write_data(data)
            self._maybe_resume_protocol()

    _DIRECT.append(DirectSerialTransport)
    return DirectSerialTransport


def _reason(exc: BaseException) -> str:
    """pyserial's message without its repetition of the path, or the OS's words."""
    errno = getattr(exc, "errno", None)
    if errno is None and exc.args and isinstance(exc.args[0], int):  # termios.error
        errno = exc.args[0]
    if isinstance(errno, int) and errno > 0:
        if errno == 22:  # EINVAL from tcsetattr: a pseudo-terminal refuses parity
            return "the port refuses these settings (pseudo-terminals accept parity none only)"
        return os.strerror(errno).lower()
    text = str(exc)
    return text.split(": ", 1)[-1] if text.startswith("[Errno") else text or type(exc).__name__

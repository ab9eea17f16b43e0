"""Serial ports: the one module that imports pyserial and pyserial-asyncio-fast.

Both come with the `serial` extra (`pip install 'modbus-opcua-gateway[serial]'`);
a gateway or a plant without serial devices never imports them. The gateway's
RTU lines and the simulators' RTU slaves on a device path open ports here and
get an asyncio transport whose protocol receives the bytes: no thread per port
(pyserial-asyncio-fast opens and closes the port in the loop's executor, since
pyserial's open and close block; every read and write is event-driven).

Failures come out as `SerialPortError` (an OSError, so a simulator reports it
like a busy TCP port), worded for a person: which port, and why.
"""

from __future__ import annotations

import asyncio
import contextlib
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
    try:
        transport, _ = await serial_asyncio_fast.create_serial_connection(
            loop,
            protocol_factory,
            settings.path,
            baudrate=settings.baudrate,
            parity=_PARITY[settings.parity],
            stopbits=settings.stop_bits,
            bytesize=settings.data_bits,
            exclusive=True,
        )
    except (serial.SerialException, OSError, ValueError, _TermiosError) as exc:
        raise SerialPortError(f"cannot open {settings.path}: {_reason(exc)}") from exc
    port: Any = transport.serial
    with contextlib.suppress(serial.SerialException, OSError, ValueError):
        port.reset_input_buffer()  # whatever waited in the driver belongs to nobody
    try:
        port.set_low_latency_mode(True)
    except (serial.SerialException, OSError, ValueError, AttributeError) as exc:
        log.debug("%s: no low-latency mode (%s)", settings.path, exc)
    return cast(asyncio.Transport, transport)


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

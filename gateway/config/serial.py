"""How a device is reached: the transport kind and a serial line's settings.

`transport: tcp` is Modbus TCP; `rtu` is a serial line (RS-485 or RS-232) on
a port of this machine; `rtu_over_tcp` is RTU frames carried over TCP by a
serial converter in its transparent ("raw", "RTU over TCP") mode. Devices on
one serial port or one converter share its line (gateway/modbus/lines.py).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, field_validator

from gateway.config.types import ConfigModel

__all__ = ["BAUD_RATES", "Parity", "SerialConfig", "Transport"]

#: Rates a Modbus device offers; anything else is almost always a typo.
BAUD_RATES = (1200, 2400, 4800, 9600, 14400, 19200, 38400, 57600, 115200, 230400)


class Transport(StrEnum):
    """How the gateway reaches a device."""

    TCP = "tcp"
    RTU_OVER_TCP = "rtu_over_tcp"
    RTU = "rtu"

    @property
    def is_rtu(self) -> bool:
        """RTU frames (on a serial port or over TCP): units share a line, ids 1..247."""
        return self is not Transport.TCP


class Parity(StrEnum):
    NONE = "none"
    EVEN = "even"
    ODD = "odd"


class SerialConfig(ConfigModel):
    """`serial:` of an RTU device: its port and the character format set on the device."""

    port: str | None = Field(
        default=None,
        min_length=1,
        description="Serial port: `/dev/ttyUSB0`, `/dev/serial/by-id/…` (stable across "
        "replugging), `COM3`. Required for `transport: rtu`; not used by `rtu_over_tcp`, "
        "whose converter owns the port.",
    )
    baudrate: int = Field(
        default=19200,
        description="Line speed as set on the devices: "
        + ", ".join(str(rate) for rate in BAUD_RATES)
        + ". For `rtu_over_tcp`, the converter's line speed (for the line plan of "
        "`gateway check`).",
    )
    parity: Parity = Field(
        default=Parity.EVEN,
        description="none | even | odd, as set on the devices (the Modbus default is even; "
        "with none, devices usually want 2 stop bits).",
    )
    stop_bits: int = Field(default=1, ge=1, le=2, description="1 or 2.")
    data_bits: int = Field(default=8, ge=8, le=8, description="8: RTU frames carry whole bytes.")
    echo: bool = Field(
        default=False,
        description="The adapter hears its own transmission (some half-duplex RS-485 "
        "adapters without echo cancellation): each request's echo is checked and dropped.",
    )

    @field_validator("baudrate")
    @classmethod
    def _known_rate(cls, value: int) -> int:
        if value not in BAUD_RATES:
            rates = ", ".join(str(rate) for rate in BAUD_RATES)
            raise ValueError(f"{value} is not a serial line speed: expected one of {rates}")
        return value

    @property
    def line_key(self) -> tuple[int, str, int, int]:
        """The settings every device on one port must agree on."""
        return (self.baudrate, self.parity, self.stop_bits, self.data_bits)

    def describe(self) -> str:
        """`19200 8E1`: speed and character format, as printed on devices."""
        return f"{self.baudrate} {self.data_bits}{self.parity.value[0].upper()}{self.stop_bits}"

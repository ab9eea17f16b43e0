"""How a simulated slave is reached: Modbus TCP, RTU on a serial line, or RTU over TCP.

In a plant file:

    slaves:
      - name: meters
        transport: rtu               # tcp (default) | rtu_over_tcp | rtu
        serial: {port: pty, baudrate: 19200, parity: none, stop_bits: 1}
        units: [...]

`port: pty` (the default) makes a pseudo-terminal pair: the simulator holds
one end and prints the other's path (`/dev/pts/N`) for the gateway's
`serial.port`; `link: /tmp/plant-meters` also puts a symlink there, a path
that stays the same from run to run. Any other `port` is a device path the
simulator opens: one end of a `socat` pair, or a real adapter wired to the
gateway's. `rtu_over_tcp` listens on `host:port` like a TCP slave and speaks
RTU frames there, like a serial converter in its transparent mode; `serial`
then says how fast the converter's line is.

Answers are paced at the line's speed (a pseudo-terminal or TCP delivers at
once): request on the wire, t3.5, answer on the wire, then the bytes arrive.
Pseudo-terminals refuse even and odd parity: use `parity: none` on them
(2 stop bits keep the usual 11 bits per character).
"""

from __future__ import annotations

from pydantic import Field, field_validator

from gateway.config.serial import BAUD_RATES, Parity
from gateway.config.types import ConfigModel

__all__ = ["PTY", "LineConfig"]

#: `port: pty`: the simulator makes a pseudo-terminal pair.
PTY = "pty"


class LineConfig(ConfigModel):
    """`serial:` of a simulated RTU slave."""

    port: str = Field(default=PTY, min_length=1)
    link: str | None = Field(default=None, min_length=1)  # pty only: a symlink to its path
    baudrate: int = 19200
    parity: Parity = Parity.NONE
    stop_bits: int = Field(default=1, ge=1, le=2)
    data_bits: int = Field(default=8, ge=8, le=8)

    @field_validator("baudrate")
    @classmethod
    def _known_rate(cls, value: int) -> int:
        if value not in BAUD_RATES:
            rates = ", ".join(str(rate) for rate in BAUD_RATES)
            raise ValueError(f"{value} is not a serial line speed: expected one of {rates}")
        return value

    @property
    def bits_per_char(self) -> int:
        return 1 + self.data_bits + (self.parity is not Parity.NONE) + self.stop_bits

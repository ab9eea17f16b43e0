"""Errors the gateway raises, one tree so callers can catch by concern.

    GatewayError
    ├── ConfigError          a configuration or plant file is invalid (carries every issue)
    ├── CodecError           a value cannot be encoded/decoded for its data type
    ├── DeviceError          talking to a PLC failed
    │   ├── DeviceTimeout        no answer in time (a write's outcome is unknown)
    │   ├── DeviceUnreachable    connection refused, reset or lost
    │   ├── ModbusException      the PLC answered with a Modbus exception code
    │   └── MalformedResponse    the answer does not fit the request
    ├── WriteRejected        a write failed validation before reaching the PLC
    ├── AlarmError           an alarm operation was refused
    │   ├── UnknownAlarm         no alarm of that name
    │   └── AlarmAlreadyAcked    nothing to acknowledge (normal, or acknowledged already)
    ├── StorageError         the database refused or is unavailable
    ├── BrokerError          an MQTT broker refused, dropped or did not answer
    └── ClientError          an OPC UA client command failed (connect, login, node, value)

Foreign exceptions (pymodbus, asyncua, SQLAlchemy, aiomqtt) are mapped to these at the
adapter that imports the library, never further in.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.model import Status

__all__ = [
    "AlarmAlreadyAcked",
    "AlarmError",
    "BrokerError",
    "ClientError",
    "CodecError",
    "ConfigError",
    "ConfigIssue",
    "DeviceError",
    "DeviceTimeout",
    "DeviceUnreachable",
    "GatewayError",
    "MalformedResponse",
    "ModbusException",
    "StorageError",
    "UnknownAlarm",
    "WriteRejected",
]


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose."""


class BrokerError(GatewayError):
    """An MQTT broker refused the connection, dropped it, or did not answer in time."""


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem in a configuration file, located for a human."""

    file: str
    line: int | None
    path: str
    message: str
    warning: bool = False

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        prefix = "warning: " if self.warning else ""
        path = f"{self.path}: " if self.path else ""
        return f"{where}: {prefix}{path}{self.message}"


class ConfigError(GatewayError):
    """A configuration file is invalid; `issues` lists every problem found."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(issue) for issue in issues))


class CodecError(GatewayError, ValueError):
    """A value does not fit its data type (wrong type, out of range, bad BCD digit)."""


class DeviceError(GatewayError):
    """Talking to a PLC failed; `status` is the OPC UA result of a failed write."""

    status = Status.BAD_COMMUNICATION_ERROR


class DeviceTimeout(DeviceError):
    """The PLC did not answer in time; for a write the outcome is unknown."""

    status = Status.BAD_TIMEOUT


class DeviceUnreachable(DeviceError):
    """The connection was refused, reset or lost."""


class ModbusException(DeviceError):
    """The PLC answered with a Modbus exception response."""

    def __init__(self, code: int, message: str | None = None) -> None:
        self.code = code
        super().__init__(message or f"Modbus exception {code:#04x}")


class MalformedResponse(DeviceError):
    """The response does not match the request (ids, function, byte count, length)."""


class WriteRejected(GatewayError):
    """A write was refused before it reached the PLC (not writable, type, range)."""

    def __init__(self, status: Status, message: str) -> None:
        self.status = status
        super().__init__(message)


class AlarmError(GatewayError):
    """An alarm operation (acknowledge) was refused."""


class UnknownAlarm(AlarmError, KeyError):
    """No alarm of that name is configured."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "unknown alarm"


class AlarmAlreadyAcked(AlarmError):
    """The alarm has nothing to acknowledge: it is normal or acknowledged already."""


class AlarmShelvingRefused(AlarmError):
    """A shelve, unshelve, enable or disable that does not apply in the alarm's state
    (`reason`: already shelved, not shelved, already disabled, already enabled, bad time)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class StorageError(GatewayError):
    """The database refused an operation or is unavailable."""


class ClientError(GatewayError):
    """An OPC UA client command (browse, read, write, watch) failed; the message says why."""

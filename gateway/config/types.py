"""Small value types of the configuration: durations, names, Modicon references.

Each parser raises ValueError with a message that says what was expected, so
the loader can show it next to the file, line and key path unchanged.
"""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationInfo

from gateway.model import Table

__all__ = [
    "FILE_CONTEXT",
    "NAME_PATTERN",
    "ConfigModel",
    "Duration",
    "Name",
    "NonNegativeDuration",
    "none_as_empty_list",
    "none_as_empty_mapping",
    "parse_duration",
    "parse_modicon_ref",
    "validate_host",
    "validate_name",
]

#: Device, tag, alarm and gateway names: they become OPC UA NodeIds and
#: "<device>.<tag>" references, so dots and spaces are kept out.
NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]+")


class ConfigModel(BaseModel):
    """Base of every config model: immutable once loaded, and strict about keys.

    extra="forbid" turns a misspelled key into an error instead of a silently
    ignored setting; numbers are accepted where text is expected because a YAML
    password like 1234 or a unit like 1 is plainly meant as text.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", coerce_numbers_to_str=True)


def none_as_empty_mapping(value: Any) -> Any:
    """`storage:` with every key commented out means "all defaults", not an error."""
    return {} if value is None else value


def none_as_empty_list(value: Any) -> Any:
    """`tags:` with every item commented out means "none", not an error."""
    return () if value is None else value


_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d)\s*")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_DURATION_HELP = "expected a duration like 250ms, 1s, 5m, 2h, 30d"

#: The validation context of a file: there a duration must carry its unit.
#: (Python callers pass plain seconds, which a float annotation makes unambiguous.)
UNITS_REQUIRED = "durations_need_units"
FILE_CONTEXT: dict[str, object] = {UNITS_REQUIRED: True}


def parse_duration(value: object, *, unit_required: bool = False) -> float:
    """Seconds from `250ms`, `1s`, `5m`, `2h`, `30d`, `1h30m`, or a plain number of seconds.

    With `unit_required` (in a file) a plain number other than 0 is refused: `500`
    could mean 500 ms as easily as the 500 s it would be, so the file must say.
    """
    if isinstance(value, bool):
        raise ValueError(f"{_DURATION_HELP}, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
        bare: str | None = f"{value:g}" if isinstance(value, float) else str(value)
    elif isinstance(value, str):
        seconds, bare = _parse_duration_text(value)
    else:
        raise ValueError(f"{_DURATION_HELP}, got {type(value).__name__}")
    if not math.isfinite(seconds):
        raise ValueError(f"{_DURATION_HELP}, got {value!r}")
    if unit_required and bare is not None and seconds != 0:
        raise ValueError(f"a duration needs its unit: write {bare}ms or {bare}s, got {bare}")
    return seconds


def _parse_duration_text(text: str) -> tuple[float, str | None]:
    """Seconds, and the text itself when it was a plain number (no unit)."""
    stripped = text.strip()
    if _NUMBER.fullmatch(stripped):
        return float(stripped), stripped
    parts = list(_DURATION_PART.finditer(stripped))
    if not stripped or "".join(p.group(0) for p in parts) != stripped:
        raise ValueError(f"{_DURATION_HELP}, got {text!r}")
    return sum(float(p.group(1)) * _UNIT_SECONDS[p.group(2)] for p in parts), None


def _duration(value: object, info: ValidationInfo) -> float:
    return parse_duration(value, unit_required=bool((info.context or {}).get(UNITS_REQUIRED)))


def _positive(seconds: float) -> float:
    if seconds <= 0:
        raise ValueError(f"must be longer than 0, got {seconds:g}s")
    return seconds


def _non_negative(seconds: float) -> float:
    if seconds < 0:
        raise ValueError(f"must not be negative, got {seconds:g}s")
    return seconds


#: Seconds, > 0 (scan intervals, timeouts, retention).
Duration = Annotated[float, BeforeValidator(_duration), AfterValidator(_positive)]
#: Seconds, ≥ 0 (alarm delays, where 0 means "at once").
NonNegativeDuration = Annotated[float, BeforeValidator(_duration), AfterValidator(_non_negative)]


def validate_name(value: str) -> str:
    """Names end up in NodeIds and dotted tag references: keep them plain."""
    if not NAME_PATTERN.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid name (letters, digits, '_' and '-' only, not empty)"
        )
    return value


Name = Annotated[str, AfterValidator(validate_name)]

_HOST_AND_PORT = re.compile(r"\[(?P<v6>[^\]]*)\]:(?P<v6port>\d+)|(?P<host>[^:]*):(?P<port>\d+)")


def validate_host(value: str) -> str:
    """A host name or IP address as the resolver takes it, without a port or a scheme.

    `127.0.0.1:502` passes a resolver's syntax but never resolves: refused here
    with the fix, instead of a device that retries "Name or service not known"
    forever. Other misspellings are left to the resolver, which names them.
    """
    if any(char.isspace() for char in value):
        raise ValueError(f"{value!r} is not a host name: it contains a space")
    _, separator, rest = value.partition("://")
    if separator:
        host = rest.split("/", 1)[0]
        raise ValueError(
            f"{value!r} is a URL, not a host name: write the host alone ({_host_and_port(host)})"
        )
    try:
        ipaddress.ip_address(value)  # IPv6 addresses have colons of their own
    except ValueError:
        pass
    else:
        return value
    if _HOST_AND_PORT.fullmatch(value):
        raise ValueError(f"{value!r} has a port in it: write {_host_and_port(value)}")
    if value.startswith("[") and value.endswith("]"):
        raise ValueError(f"{value!r}: write an IPv6 address without brackets: host: {value[1:-1]}")
    return value


def _host_and_port(text: str) -> str:
    match = _HOST_AND_PORT.fullmatch(text)
    if match is None:
        return f"host: {text}"
    host = match["v6"] if match["v6"] is not None else match["host"]
    port = match["v6port"] or match["port"]
    return f"host: {host} and port: {port}"


_REF_TABLES = {
    "0": Table.COIL,
    "1": Table.DISCRETE_INPUT,
    "3": Table.INPUT_REGISTER,
    "4": Table.HOLDING_REGISTER,
}
_REF_TABLES_HELP = "0xxxx coil, 1xxxx discrete input, 3xxxx input register, 4xxxx holding register"
_REF_HELP = f"expected a 5- or 6-digit Modicon reference like 40001 or 400001 ({_REF_TABLES_HELP})"


def parse_modicon_ref(value: Any) -> tuple[Table, int]:
    """(table, 0-based address) from a Modicon reference such as 40001 or 400001.

    The first digit names the table and the rest is the 1-based register number:
    4 digits (1..9999) in the 5-digit form, 5 digits (1..65536) in the 6-digit form.
    Short integers are refused rather than guessed: `1` could be coil 1 or a typo.
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{_REF_HELP}, got {value!r}")
    text = str(value).strip()
    if not text.isdigit() or len(text) not in (5, 6):
        raise ValueError(f"{_REF_HELP}, got {value!r}")
    table = _REF_TABLES.get(text[0])
    if table is None:
        raise ValueError(
            f"{text!r} starts with {text[0]}, not a Modicon table ({_REF_TABLES_HELP})"
        )
    number = int(text[1:])
    if number < 1:
        raise ValueError(f"register numbers in a Modicon reference start at 1, got {value!r}")
    return table, number - 1

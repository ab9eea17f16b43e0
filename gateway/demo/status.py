"""The demo's live status: devices and their state, values/s, the alarms not normal.

On a terminal the block is redrawn in place (ANSI cursor movement) about once
a second, and log records are written above it so they do not tear it; its
first lines (`header`: the endpoint and the credentials) stay on screen
however much the banner and the log scroll. When stdout is not a terminal (a
pipe, a log file, CI) one plain line is printed every few seconds instead:
readable in a log, no escape codes.

The alarms shown are those `gateway alarms --active` lists: not normal, that
is active, or cleared and not yet acknowledged (docs/alarms.md). "Active"
means what it means everywhere else (OPC UA's ActiveState): the condition holds.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TextIO

from gateway.alarms.model import AlarmState
from gateway.app import Gateway
from gateway.model import Status, Value
from gateway.present.values import format_status

__all__ = ["DeviceLine", "Sampler", "StatusOutput", "StatusSample", "logs_above"]

#: Seconds between two redraws on a terminal, and between two lines otherwise.
LIVE_INTERVAL = 1.0
LINE_INTERVAL = 5.0

_UP_AND_CLEAR = "\x1b[{n}F\x1b[J"  # cursor to the start of the line n up; clear below


@dataclass(frozen=True, slots=True)
class DeviceLine:
    name: str
    state: str
    values: str  # a few of its tags, e.g. "water_temperature 84.21 degC"


@dataclass(frozen=True, slots=True)
class StatusSample:
    uptime: float
    devices: tuple[DeviceLine, ...]
    values_per_second: float
    #: The alarms not normal, (name, state) in config order; state as the journal
    #: writes it (active_unacked, active_acked, rtn_unacked).
    alarms: tuple[tuple[str, str], ...] = ()

    @property
    def active_alarms(self) -> tuple[str, ...]:
        return tuple(name for name, state in self.alarms if state in _ACTIVE_STATES)

    @property
    def unacknowledged_alarms(self) -> tuple[str, ...]:
        """Cleared, but not acknowledged yet."""
        return tuple(name for name, state in self.alarms if state == _RTN_UNACKED)


_ACTIVE_STATES = frozenset({"active_unacked", "active_acked"})
_RTN_UNACKED = "rtn_unacked"
#: How the block words each state not normal.
_STATE_WORDS = {
    "active_unacked": "active, unacknowledged",
    "active_acked": "active, acknowledged",
    _RTN_UNACKED: "cleared, unacknowledged",
}


def _format_value(value: Value | None, status: Status, unit: str | None) -> str:
    if status != Status.GOOD:
        return format_status(status)
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        # About four significant digits, never an exponent: a status line, not a report.
        decimals = 0 if abs(value) >= 1000 else 1 if abs(value) >= 100 else 2
        text = f"{value:.{decimals}f}"
    else:
        text = str(value)
    return f"{text} {unit}" if unit else text


class Sampler:
    """Reads the running gateway's state; values/s is measured between two samples."""

    def __init__(self, gateway: Gateway, highlights: Mapping[str, tuple[str, ...]]) -> None:
        self._gateway = gateway
        self._highlights = highlights
        self._started = self._last_time = time.monotonic()
        self._last_count = gateway.bus.published_values

    def sample(self) -> StatusSample:
        gateway = self._gateway
        now, count = time.monotonic(), gateway.bus.published_values
        rate = (count - self._last_count) / max(now - self._last_time, 1e-6)
        self._last_time, self._last_count = now, count
        values = {value.tag: value for value in gateway.acquisition.snapshot()}
        tags = gateway.acquisition.tags
        devices = []
        for health in gateway.acquisition.healths:
            shown = []
            for name in self._highlights.get(health.device, ()):
                key = f"{health.device}.{name}"
                if key in values and key in tags:
                    value = values[key]
                    text = _format_value(value.value, value.status, tags[key].unit)
                    shown.append(f"{name} {text}")
            devices.append(DeviceLine(health.device, str(health.state), "  ".join(shown)))
        alarms = tuple(
            (alarm.name, str(alarm.state))
            for alarm in gateway.alarms.snapshots()
            if alarm.state is not AlarmState.NORMAL
        )
        return StatusSample(now - self._started, tuple(devices), rate, alarms)


def _uptime(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def _counted(count: int, what: str) -> str:
    return f"{count} {what}" + ("" if count == 1 else "s")


def _alarm_counts(sample: StatusSample) -> str:
    """`1 active alarm`, and `1 cleared, unacknowledged` when there are such."""
    text = _counted(len(sample.active_alarms), "active alarm")
    if sample.unacknowledged_alarms:
        text += f", {len(sample.unacknowledged_alarms)} cleared, unacknowledged"
    return text


def render_block(sample: StatusSample) -> list[str]:
    """The in-place block: a summary line, one line per device, one per alarm not normal."""
    width = max((len(device.name) for device in sample.devices), default=0)
    lines = [
        f"up {_uptime(sample.uptime)}   {sample.values_per_second:.0f} values/s   "
        f"{_alarm_counts(sample)}"
    ]
    lines += [
        f"  {device.name:<{width}}  {device.state:<8}  {device.values}".rstrip()
        for device in sample.devices
    ]
    lines += [f"  alarm {name}: {_STATE_WORDS.get(state, state)}" for name, state in sample.alarms]
    return lines


def render_line(sample: StatusSample) -> str:
    """The one-line form for logs: `status …: boiler ok, …; 62 values/s; 0 active alarms`."""
    devices = ", ".join(f"{device.name} {device.state}" for device in sample.devices)
    alarms = _counted(len(sample.active_alarms), "active alarm")
    if sample.active_alarms:
        alarms += f": {', '.join(sample.active_alarms)}"
    if sample.unacknowledged_alarms:
        alarms += (
            f"; {len(sample.unacknowledged_alarms)} cleared, unacknowledged: "
            f"{', '.join(sample.unacknowledged_alarms)}"
        )
    rate = f"{sample.values_per_second:.0f} values/s"
    return f"status {_uptime(sample.uptime)}: {devices}; {rate}; {alarms}"


class StatusOutput:
    """Writes samples: redrawn in place under `header` when `live`, else one line each."""

    def __init__(self, out: TextIO, *, live: bool, header: tuple[str, ...] = ()) -> None:
        self.out = out
        self.live = live
        self.header = header
        self.interval = LIVE_INTERVAL if live else LINE_INTERVAL
        self._block: list[str] = []

    def show(self, sample: StatusSample) -> None:
        if not self.live:
            print(render_line(sample), file=self.out, flush=True)
            return
        columns = shutil.get_terminal_size().columns
        # A wrapped line would make the cursor arithmetic of the next redraw wrong.
        lines = [*self.header, *render_block(sample)]
        block = [line[: max(columns - 1, 20)] for line in lines]
        self._write(self._erase() + "".join(f"{line}\n" for line in block))
        self._block = block

    def message(self, text: str) -> None:
        """A line printed above the live block (which is then drawn again below it)."""
        block = "".join(f"{line}\n" for line in self._block)
        self._write(self._erase() + text + "\n" + block)

    def _erase(self) -> str:
        return _UP_AND_CLEAR.format(n=len(self._block)) if self._block else ""

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()


class _AboveStatus(logging.Handler):
    def __init__(self, output: StatusOutput) -> None:
        super().__init__()
        self._output = output

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._output.message(self.format(record))
        except Exception:  # logging must never take the demo down
            self.handleError(record)


@contextmanager
def logs_above(output: StatusOutput) -> Iterator[None]:
    """While the block is live, log records go above it instead of straight to stderr."""
    if not output.live:
        yield
        return
    root = logging.getLogger()
    saved = root.handlers[:]
    handler = _AboveStatus(output)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.handlers = [handler]
    try:
        yield
    finally:
        root.handlers = saved

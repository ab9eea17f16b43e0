"""Storage modes per tag: which published values become rows, and when (pure).

The bus carries changes only (the poller applies the deadband and skips
identical blocks), so:

- on_change: every value the bus delivers is a row, at the gateway's time.
- every_scan: as on_change, plus, for each scan interval in which no change
  arrived, the last value repeated at the slot's time. The history then has
  a row at least every scan interval without the pollers publishing
  unchanged values; a repeated row's time is the writer's slot, not the time
  a PLC answered (a missed scan is not visible in it; the tag's status is).
- sampled: only the last value (and status) at each multiple of the sample
  interval on the wall clock; changes in between are not stored.

Slots are wall-clock multiples of the interval, so samples of different tags
line up; slots missed while the writer was busy are skipped, not replayed.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field

from gateway.bus import Batch
from gateway.config import GatewayConfig, StorageMode
from gateway.model import TagValue
from gateway.storage.rows import Row, row_of, to_us

__all__ = ["Recorder", "TagPolicy", "tag_policies"]


@dataclass(frozen=True, slots=True)
class TagPolicy:
    """How one tag is stored; `interval` is the scan or sample interval (seconds)."""

    key: str
    mode: StorageMode = StorageMode.ON_CHANGE
    interval: float | None = None


def tag_policies(config: GatewayConfig) -> list[TagPolicy]:
    """Each configured tag's storage policy."""
    policies = []
    for device in config.devices:
        for tag in device.tags:
            interval: float | None = None
            if tag.storage is StorageMode.EVERY_SCAN:
                interval = device.resolve(tag).scan_interval
            elif tag.storage is StorageMode.SAMPLED:
                interval = tag.sample_interval
            key = sys.intern(f"{device.name}.{tag.name}")  # the string gateway.tags holds
            policies.append(TagPolicy(key, tag.storage, interval))
    return policies


def _next_slot(now: float, interval: float) -> int:
    """The index of the first slot after `now` (slot n starts at n × interval)."""
    return math.floor(now / interval) + 1


@dataclass(slots=True)
class _Group:
    mode: StorageMode
    interval: float
    #: Slots are counted, not summed: adding the interval to a float time
    #: drifts by microseconds after a few steps, and samples must sit on slots.
    slot: int
    keys: list[str] = field(default_factory=list)

    @property
    def due(self) -> float:
        return self.slot * self.interval


class Recorder:
    """Turns published batches and clock ticks into rows per the tags' modes."""

    def __init__(self, policies: Iterable[TagPolicy], now: float) -> None:
        self._mode: dict[str, StorageMode] = {}
        groups: dict[tuple[StorageMode, float], _Group] = {}
        for policy in policies:
            self._mode[policy.key] = policy.mode
            if policy.mode is not StorageMode.ON_CHANGE:
                if policy.interval is None or policy.interval <= 0:
                    raise ValueError(f"{policy.key}: {policy.mode} needs an interval")
                slot = (policy.mode, policy.interval)
                if slot not in groups:
                    groups[slot] = _Group(
                        policy.mode, policy.interval, _next_slot(now, policy.interval)
                    )
                groups[slot].keys.append(policy.key)
        self._groups = list(groups.values())
        self._last: dict[str, TagValue] = {}
        self._last_row_us: dict[str, int] = {}
        #: Values of tags without a policy (not in the configuration): ignored.
        self.unknown = 0

    def accept(self, batch: Batch, out: list[Row]) -> None:
        """Append the rows `batch` produces now; remember what ticks will need."""
        mode_of = self._mode.get
        for value in batch:
            mode = mode_of(value.tag)
            if mode is StorageMode.ON_CHANGE:
                out.append(row_of(value))
            elif mode is StorageMode.EVERY_SCAN:
                row = row_of(value)
                out.append(row)
                self._last[value.tag] = value
                self._last_row_us[value.tag] = row[1]
            elif mode is StorageMode.SAMPLED:
                self._last[value.tag] = value
            else:
                self.unknown += 1

    @property
    def next_due(self) -> float:
        """Wall-clock time of the next slot (inf when no tag is sampled)."""
        return min((group.due for group in self._groups), default=math.inf)

    def tick(self, now: float, out: list[Row]) -> None:
        """Append the rows of every slot due at `now`."""
        for group in self._groups:
            if group.due > now:
                continue
            slot = group.due
            if group.mode is StorageMode.SAMPLED:
                self._sample(group, slot, out)
            else:
                self._repeat(group, slot, out)
            group.slot = max(_next_slot(now, group.interval), group.slot + 1)

    def _sample(self, group: _Group, slot: float, out: list[Row]) -> None:
        last = self._last
        for key in group.keys:
            value = last.get(key)
            if value is not None:
                out.append(row_of(value, slot))

    def _repeat(self, group: _Group, slot: float, out: list[Row]) -> None:
        slot_us = to_us(slot)
        since_us = to_us(slot - group.interval)
        last, last_row_us = self._last, self._last_row_us
        for key in group.keys:
            value = last.get(key)
            if value is not None and last_row_us[key] <= since_us:
                out.append(row_of(value, slot))
                last_row_us[key] = slot_us

"""Store and forward without a second buffer: what an outage held back, read from the historian.

After a reconnect (or the primary host's return) the edge node births with
current values, then `replay` publishes the stored readings between the last
acknowledged moment before the outage and the birth as DDATA metrics marked
`is_historical`, a bounded page at a time, while live DDATA goes on between
the pages. Pages walk the tags in order, each tag oldest first. Devices that
are not born (a DDEATH stands) are skipped: a host may not take their data.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from gateway.model import TagValue
from gateway.mqtt.edge import EdgeSession
from gateway.mqtt.state import MqttState
from gateway.storage import ReplayCursor, ReplayPage

__all__ = ["REPLAY_BATCH", "REPLAY_PAGE", "ReplayJob", "ReplaySource", "replay"]

log = logging.getLogger("gateway.mqtt")

#: Rows read from the historian per query: bounds the memory a replay holds.
REPLAY_PAGE = 10_000
#: Metrics per historical DDATA message (about 20 kB).
REPLAY_BATCH = 1000
#: Seconds between two progress lines in the log.
PROGRESS_INTERVAL = 10.0


class ReplaySource(Protocol):
    """The historian, as far as a replay reads it."""

    async def replay_page(
        self,
        keys: Sequence[str],
        start: float,
        end: float,
        *,
        cursor: ReplayCursor,
        limit: int,
    ) -> ReplayPage: ...


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


@dataclass(slots=True)
class ReplayJob:
    """One window to replay, and how far it got: an outage in the middle of a replay
    leaves the job where it was, and the next connection goes on from there."""

    start: float
    end: float
    cursor: ReplayCursor = field(default_factory=ReplayCursor)


async def replay(
    session: EdgeSession,
    source: ReplaySource,
    keys: Sequence[str],
    backlog: list[ReplayJob],
    state: MqttState,
    *,
    settle: float,
) -> None:
    """Publish the backlog's stored values as historical, oldest window first.

    Waits `settle` seconds first: the historian writes what the bus handed it
    within its flush interval, and the newest window ends at the birth."""
    await asyncio.sleep(settle)
    state.replay_active = True
    try:
        while backlog:
            job = backlog[0]
            await _replay_job(session, source, keys, job, state)
            backlog.pop(0)
    finally:
        state.replay_active = False
    log.info("MQTT: store and forward: done, %d value(s) replayed", state.replay_sent)


async def _replay_job(
    session: EdgeSession,
    source: ReplaySource,
    keys: Sequence[str],
    job: ReplayJob,
    state: MqttState,
) -> None:
    state.replay_from, state.replay_to = job.start, job.end
    log.info(
        "MQTT: store and forward: replaying readings from %s to %s",
        _when(job.start),
        _when(job.end),
    )
    last_log = time.monotonic()
    async with asyncio.TaskGroup() as group:
        # The next page is read while this one is published: the database and the
        # broker work at once (the query runs on the storage thread).
        fetch = group.create_task(
            source.replay_page(keys, job.start, job.end, cursor=job.cursor, limit=REPLAY_PAGE)
        )
        while True:
            page = await fetch
            following = page.next
            if following is not None:
                fetch = group.create_task(
                    source.replay_page(
                        keys, job.start, job.end, cursor=following, limit=REPLAY_PAGE
                    )
                )
            await _publish_page(session, page.values, state)
            if following is None:
                return
            job.cursor = following  # published: an outage from here resumes after it
            if time.monotonic() - last_log >= PROGRESS_INTERVAL:
                last_log = time.monotonic()
                log.info("MQTT: store and forward: %d value(s) replayed so far", state.replay_sent)
            await asyncio.sleep(0)  # live data goes first between pages


async def _publish_page(session: EdgeSession, values: list[TagValue], state: MqttState) -> None:
    """One historical DDATA per device and `REPLAY_BATCH` values, yielding after each.

    A QoS 0 publish returns without suspending, so without the yield a whole page
    (ten messages, about 100 ms of encoding) ran in one turn of the event loop and
    the pollers' requests waited behind it: scans were missed during a replay."""
    by_device: dict[str, list[TagValue]] = {}
    for value in values:
        by_device.setdefault(value.tag.partition(".")[0], []).append(value)
    for device, readings in by_device.items():
        for first in range(0, len(readings), REPLAY_BATCH):
            chunk = readings[first : first + REPLAY_BATCH]
            if await session.publish_historical(device, chunk):
                state.replay_sent += len(chunk)
            else:
                state.replay_skipped += len(chunk)
            await asyncio.sleep(0)  # the pollers' and live data's turn

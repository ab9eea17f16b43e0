"""One device's polling task: connection lifecycle, scan schedule, writes in between.

Each scan class runs on a monotonic schedule without drift (due times are
`start + k * interval`); a scan that could not run in its slot is counted as
missed and skipped, never queued. Requests go through the device's `Link`
(its own connection, or one shared with other unit ids) and are serialized
with its lock, so writes (including a bit read-modify-write) interleave
safely with polling; what a write sends is `writer.TagWrite`'s business.
Failures close the connection and wait per the `RetryPolicy` (backoff, then
demotion); tag statuses follow docs/opcua.md through `BlockState`. A scan's
values, including those read before a failure cut it short, are published
as one batch. Time is read and waited on only through the `Clock`, so tests
run the schedule on a fake one.

States (`DeviceHealth.state`, served as `_Status.State`): connecting from the
connect until the device's first answer (data or a Modbus exception) on the
new connection, only then ok (and Connected); a failure before that answer
goes from connecting to backoff or demoted, never through ok. The `Link`'s
free reopen of a connection the peer closed while idle (allowed once per
answer) keeps the state ok: the device answered, and a PLC that drops idle
connections would otherwise flap between ok and connecting at every scan.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Sequence

from gateway.bus import Bus
from gateway.config import DeviceConfig
from gateway.errors import (
    DeviceError,
    DeviceUnreachable,
    MalformedResponse,
    ModbusException,
)
from gateway.modbus.blockstate import BlockState, status_for_exception
from gateway.modbus.clock import LOOP_CLOCK, Clock
from gateway.modbus.deviceplan import plan_device
from gateway.modbus.health import DeviceHealth, DeviceState, RetryPolicy, error_kind
from gateway.modbus.link import Link, LinkDown, wake_future
from gateway.modbus.planner import ReadBlock
from gateway.modbus.wording import describe
from gateway.modbus.writer import TagWrite
from gateway.model import Status, TagValue, Value
from gateway.tags import Tag

__all__ = ["DevicePoller"]

log = logging.getLogger(__name__)


#: Slot number of the first scan after (re)connecting: read at once, off the grid.
_FIRST_SCAN = -1


class _ScanClass:
    """The blocks sharing one scan interval and their schedule."""

    __slots__ = ("blocks", "interval", "k", "start")

    def __init__(self, interval: float, blocks: list[BlockState]) -> None:
        self.interval = interval
        self.blocks = blocks
        self.start = 0.0  # the grid's origin: slot k is due at start + k × interval
        self.k = _FIRST_SCAN

    @property
    def due(self) -> float:
        return self.start + self.k * self.interval


class DevicePoller:
    """Polls one device forever (until cancelled) and publishes changed values."""

    def __init__(
        self,
        device: DeviceConfig,
        tags: Sequence[Tag],
        bus: Bus,
        *,
        link: Link,
        policy: RetryPolicy,
        start_delay: float = 0.0,
        phase: float = 0.0,
        rng: random.Random | None = None,
        clock: Clock = LOOP_CLOCK,
    ) -> None:
        """`start_delay`: seconds before the first connect; `phase` (0 ≤ phase < 1):
        where in each scan interval this device's scans sit after the first one,
        so devices sharing an interval do not all poll in the same instant."""
        self.device = device
        self.bus = bus
        self.link = link
        self.policy = policy
        self.health = DeviceHealth(device.name)
        self._start_delay = start_delay
        self._phase = phase
        self._rng = rng or random.Random()
        self._clock = clock
        blocks: list[ReadBlock[Tag]] = plan_device(device, tuple(tags))
        self.blocks = [BlockState(block) for block in blocks]
        self._classes = [
            _ScanClass(interval, [b for b in self.blocks if b.block.scan_interval == interval])
            for interval in sorted({b.block.scan_interval for b in self.blocks})
        ]
        self._block_of = {state.tag.key: block for block in self.blocks for state in block.states}
        self._reread: set[BlockState] = set()
        self._waker: asyncio.Future[None] | None = None
        self._out: list[TagValue] = []  # the scan in progress; published as one batch
        self._write_failure: DeviceError | None = None

    # -- public API -----------------------------------------------------------------

    def snapshot(self) -> list[TagValue]:
        """Current value and status of every tag (for consumers that start late)."""
        now = self._clock.wall()
        return [state.snapshot(now) for block in self.blocks for state in block.states]

    def current(self, key: str) -> TagValue:
        """One tag's current value and status (a page of the status page, without
        snapshotting every tag); KeyError for a key not polled here."""
        for state in self._block_of[key].states:
            if state.tag.key == key:
                return state.snapshot(self._clock.wall())
        raise KeyError(key)

    async def run(self) -> None:
        """Poll until cancelled. Device faults are handled here, never raised.

        The link is not closed here: it may be shared, and its owner closes it.
        """
        if not self.device.enabled:
            await self._run_disabled()
            return
        await self._clock.sleep(self._start_delay)
        while True:
            try:
                await self._connect()
            except DeviceError as error:
                await self._fail(error, link_level=True)
                continue
            except Exception as error:  # a bug must not stop every other device
                log.exception("device %s: internal error while connecting", self.device.name)
                await self._fail(DeviceError(f"internal error: {error!r}"), link_level=True)
                continue
            try:
                await self._scan_loop()
            except DeviceError as error:
                # A failed write cut the connection: that is the cause worth reporting.
                cause, self._write_failure = self._write_failure or error, None
                await self._fail(cause, link_level=isinstance(cause, LinkDown))
            except Exception as error:  # a bug must not stop every other device
                log.exception("device %s: internal error while polling", self.device.name)
                await self._fail(DeviceError(f"internal error: {error!r}"), link_level=False)

    async def write(self, tag: Tag, value: Value) -> None:
        """Write one tag to the PLC, then re-read its block at once.

        Raises WriteRejected (not writable, type, range) before touching the
        PLC, or a DeviceError when the PLC write failed; a DeviceTimeout means
        the outcome is unknown and the write is not retried. A write that
        broke the connection is also a failure of the device (state, counters).
        """
        write = TagWrite.checked(tag, value)
        if self.health.state is not DeviceState.OK:
            raise DeviceUnreachable(
                f"device {self.device.name} is not connected (state {self.health.state})"
            )
        link = self.link
        if not link.connected:
            await link.ready()
        async with link.lock:
            if not link.connected or self.health.state is not DeviceState.OK:
                # Lost while waiting for the lock: not this write's doing.
                raise DeviceUnreachable(f"device {self.device.name}: connection lost")
            started = self._clock.perf()
            try:
                await write.send(link.transport, self.device.unit_id, timeout=self.device.timeout)
            except ModbusException as error:
                self._record_answer(started)
                self.health.errors += 1
                self.health.last_error = f"write {tag.key}: {error}"
                raise
            except DeviceError as error:
                link.failed(self.device.name, error)
                self._write_failure = error
                self._wake()
                raise
            self._record_answer(started)
        block = self._block_of.get(tag.key)
        if block is not None:  # a broadcast device's tags are never read back
            self._reread.add(block)
        self._wake()

    # -- connection lifecycle -------------------------------------------------------

    async def _run_disabled(self) -> None:
        self._set_state(DeviceState.DISABLED, "disabled in the configuration")
        out: list[TagValue] = []
        now = self._clock.wall()
        for block in self.blocks:
            block.on_disabled(now, out)
        self.bus.publish(out)
        await asyncio.Event().wait()  # until cancelled

    async def _connect(self) -> None:
        """Open the link (at once when another device on it connected it already).

        The state stays connecting until the device answers (`_record_answer`):
        a TCP connect proves only that something listens, and a Modbus TCP
        gateway whose serial device is dead accepts connections all day. A
        device with nothing to read has only the connection to show.
        """
        self._set_state(DeviceState.CONNECTING)
        await self.link.connect()
        if not self._classes:
            self._set_state(DeviceState.OK, "connected (no tags to read)")

    async def _fail(self, error: DeviceError, *, link_level: bool) -> None:
        """Mark tags, record the error, then wait out the backoff or demotion period.

        `link_level`: the connection was refused, or lost through no request
        of this device. Such a backoff ends early once the link answers again
        (another device on it reconnected); after this device's own request
        failed it runs its course, as the fault may be this unit's alone.
        """
        self._write_failure = None  # covered by this failure
        self.link.failed(self.device.name, error)
        await self.link.settle()
        message = describe(error)
        self.health.record_error(message, kind=error_kind(error), request=not link_level)
        out, self._out = self._out, []
        now = self._clock.wall()
        for block in self.blocks:
            block.on_connection_lost(now, out)
        self.bus.publish(out)
        self.health.consecutive_failures += 1
        state, delay = self.policy.after_failure(self.health.consecutive_failures, self._rng)
        self._set_state(state, message)
        if state is DeviceState.BACKOFF and link_level:
            await self.link.wait_usable(delay)
        else:
            await self._clock.sleep(delay)  # writes cannot cut it short: they need state ok

    def _set_state(self, state: DeviceState, reason: str = "") -> None:
        previous = self.health.state
        if self.health.enter(state, at=self._clock.wall()):
            suffix = f": {reason}" if reason else ""
            if state in (DeviceState.BACKOFF, DeviceState.DEMOTED):
                level = logging.WARNING
            elif state is DeviceState.CONNECTING:
                # A retry: its outcome (ok, or backoff with the reason) is the line
                # worth reading; one line per retry during an outage, not two.
                level = logging.DEBUG
            else:
                level = logging.INFO
            log.log(level, "device %s: %s → %s%s", self.device.name, previous, state, suffix)

    # -- scanning ---------------------------------------------------------------------

    async def _scan_loop(self) -> None:
        clock = self._clock
        start = clock.now()
        for scan_class in self._classes:
            # Slot -1 (the first scan) is due at once; the grid starts `phase` in.
            scan_class.start = start + self._phase * scan_class.interval
            scan_class.k = _FIRST_SCAN
        while True:
            if self._write_failure is not None:  # run() reports the write's own error
                raise DeviceUnreachable("a write failed")
            out = self._out
            if self._reread:
                rereads, self._reread = self._reread, set()
                for block in rereads:
                    await self._read_block(block, out)
            now = clock.now()
            for scan_class in self._classes:
                if scan_class.due <= now:
                    for block in scan_class.blocks:
                        await self._read_block(block, out)
                    self._advance(scan_class, clock.now())
            self._out = []
            self.bus.publish(out)
            if not self._reread and self._write_failure is None:
                await self._sleep_until(
                    min(c.due for c in self._classes) if self._classes else math.inf
                )

    def _advance(self, scan_class: _ScanClass, done: float) -> None:
        """Next slot after a finished scan; slots that already passed are missed."""
        slot = math.floor((done - scan_class.start) / scan_class.interval) + 1
        if scan_class.k == _FIRST_SCAN:
            following = max(0, slot)  # nothing was due before the grid's first slot
        else:
            following = max(scan_class.k + 1, slot)
            self.health.missed_scans += following - scan_class.k - 1
        self.health.scans += 1
        scan_class.k = following

    async def _read_block(self, block: BlockState, out: list[TagValue]) -> None:
        spec = block.block
        link = self.link
        if not link.connected:
            await link.ready()
        clock = self._clock
        started = clock.perf()
        try:
            async with link.lock:
                if not link.connected:  # lost while waiting for the lock
                    raise link.down()
                started = clock.perf()  # the round trip, not the wait for the lock
                payload = await link.transport.read(
                    spec.table,
                    self.device.unit_id,
                    spec.start,
                    spec.count,
                    timeout=self.device.timeout,
                )
        except ModbusException as error:
            self._record_answer(started)
            self.health.errors += 1
            self.health.last_error = f"{spec.table} {spec.start}..{spec.end - 1}: {error}"
            block.on_error(status_for_exception(error.code), clock.wall(), out)
            return
        except MalformedResponse:
            block.on_error(Status.BAD_COMMUNICATION_ERROR, clock.wall(), out)
            raise
        now = self._record_answer(started)
        block.on_payload(payload, now, out)

    def _record_answer(self, started: float) -> float:
        """A well-formed answer (data or a Modbus exception): the device is reachable.

        The first answer since connecting is what makes the device ok.
        """
        now = self._clock.wall()
        elapsed = self._clock.perf() - started
        self.health.record_response(now, elapsed)
        self.health.consecutive_failures = 0
        self.link.answered()
        if self.health.state is not DeviceState.OK:
            self._set_state(DeviceState.OK, f"answered in {elapsed * 1000:.1f} ms")
        return now

    # -- waiting ----------------------------------------------------------------------

    def _wake(self) -> None:
        """Cut the scan loop's sleep short (a re-read or a write failure is waiting)."""
        if self._waker is not None:
            wake_future(self._waker)

    async def _sleep_until(self, deadline: float) -> None:
        """Sleep until `deadline` (clock time) or until `_wake`."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waker = future
        clock = self._clock
        handle = (
            clock.call_later(deadline - clock.now(), wake_future, future)
            if math.isfinite(deadline)
            else None
        )
        try:
            await future
        finally:
            if handle is not None:
                handle.cancel()
            self._waker = None

"""The alarm engine: one state machine per configured alarm, fed from the bus.

The engine subscribes to the bus when it is built, so it sees every value the
pollers publish once they start (the gateway enters it before the
acquisition). Entering restores each alarm's state from the journal, then
starts one TaskGroup (a Part: gateway.lifecycle) with two tasks: the bus
consumer, and a timer that fires the delays of alarms whose input stopped
changing (the bus publishes only changes). Every journaled transition goes
to `journal.record_alarm`; every change goes to the listeners, synchronously,
in order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Self

from gateway.alarms.journal import (
    AlarmJournal,
    event_of,
    journaled_shelving,
    journaled_state,
    typed_value,
)
from gateway.alarms.machine import AlarmMachine, Change
from gateway.alarms.model import AlarmListener, AlarmSnapshot, Shelving, Transition
from gateway.bus import Bus, OverflowPolicy, Subscription
from gateway.config import GatewayConfig
from gateway.errors import UnknownAlarm
from gateway.lifecycle import Part, task_group
from gateway.model import DataType
from gateway.storage.errors import StorageError
from gateway.storage.rows import from_us, to_us

if TYPE_CHECKING:  # the notifications load only for a configuration that routes them
    from gateway.alarms.notify.routes import Router

__all__ = ["SUBSCRIPTION_BATCHES", "AlarmEngine"]

log = logging.getLogger("gateway.alarms")

#: Transitions an operator makes (or the gateway for them): logged with who and why.
_BY_USER = frozenset(
    {Transition.SHELVED, Transition.UNSHELVED, Transition.DISABLED, Transition.ENABLED}
)

#: Bus batches queued for the engine; only a starved event loop fills it, and
#: then the oldest go (the newest value is what decides an alarm's state).
SUBSCRIPTION_BATCHES = 10_000


class AlarmEngine(Part):
    """Evaluates every alarm of the config on the values the pollers publish.

    Entering restores each alarm's state from the journal (active and
    unacknowledged alarms come back as they were, not re-raised), subscribes to
    the bus and starts the TaskGroup that consumes it and fires delay timers.
    Every journaled transition goes to `journal.record_alarm`.
    """

    def __init__(
        self,
        config: GatewayConfig,
        bus: Bus,
        *,
        journal: AlarmJournal | None = None,
        clock: Callable[[], float] = time.time,
        router: Router | None = None,
    ) -> None:
        self._clock = clock
        self._journal = journal
        self._router = router  # notifications, written to the outbox with the journal event
        self._machines: dict[str, AlarmMachine] = {}
        self._by_tag: dict[str, list[AlarmMachine]] = {}
        self._by_reference: dict[str, list[AlarmMachine]] = {}  # deviation alarms' `from`
        self._types: dict[str, DataType | None] = {}
        self._listeners: list[AlarmListener] = []
        now = self._now()
        for alarm in config.alarms:
            device = config.device(alarm.device_name)
            tag = None if device is None else device.tag(alarm.tag_name)
            if tag is None:
                log.warning("alarm %s: no tag %s in the configuration", alarm.name, alarm.tag)
            data_type = None if tag is None else tag.type
            machine = AlarmMachine(
                alarm,
                now=now,
                unit=None if tag is None else tag.unit,
                data_type=data_type,
                scan_interval=None
                if tag is None or device is None
                else device.resolve(tag).scan_interval,
            )
            self._machines[alarm.name] = machine
            self._types[alarm.name] = data_type
            self._by_tag.setdefault(alarm.tag, []).append(machine)
            if alarm.deviation is not None:
                self._by_reference.setdefault(alarm.deviation.from_tag, []).append(machine)
        self._subscription: Subscription | None = None
        if self._machines:
            self._subscription = bus.subscribe(
                "alarms", maxsize=SUBSCRIPTION_BATCHES, policy=OverflowPolicy.DROP_OLDEST
            )
        self._timer: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._next_due: float | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Self]:
        """Restore the journaled states, then evaluate until the block ends."""
        subscription = self._subscription
        try:
            await self._restore()
            async with task_group() as group:
                if subscription is not None:
                    group.create_task(self._consume(subscription), name="alarms consumer")
                    self._timer = group.create_task(self._run_timer(), name="alarms timer")
                try:
                    yield self
                finally:
                    if self._timer is not None:
                        self._timer.cancel()
                    if subscription is not None:
                        subscription.close()  # the consumer drains what is queued, then ends
        finally:
            if subscription is not None:
                subscription.close()  # also when restoring failed

    # -- the contract -----------------------------------------------------------------------

    def snapshots(self) -> list[AlarmSnapshot]:
        """Every alarm's current snapshot, in config order."""
        return [machine.snapshot for machine in self._machines.values()]

    def snapshot(self, name: str) -> AlarmSnapshot:
        """One alarm's current snapshot; UnknownAlarm if there is none of that name."""
        return self._machine(name).snapshot

    def add_listener(self, listener: AlarmListener) -> None:
        """Call `listener.alarm_changed` on every change from now on."""
        self._listeners.append(listener)

    def remove_listener(self, listener: AlarmListener) -> None:
        """Stop telling `listener` (a listener not added is ignored)."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def acknowledge(self, name: str, *, user: str, comment: str = "") -> AlarmSnapshot:
        """Acknowledge an alarm (journaled with user and comment); the new snapshot.

        UnknownAlarm for a wrong name; AlarmAlreadyAcked when in NORMAL or ACKED.
        """
        change = self._machine(name).acknowledge(user, comment, self._now())
        self._emit([change])
        return change.snapshot

    def shelve(
        self,
        name: str,
        *,
        user: str,
        reason: str = "",
        duration: float | None = None,
    ) -> AlarmSnapshot:
        """Shelve an alarm: timed for `duration` seconds, else one-shot (until it clears).

        AlarmShelvingRefused when it is shelved already or the duration is not positive.
        """
        machine = self._machine(name)
        now = self._now()
        kind = Shelving.ONESHOT if duration is None else Shelving.TIMED
        until = None if duration is None else now + duration
        change = machine.shelve(kind, until=until, user=user, reason=reason, now=now)
        self._emit([change])
        self._schedule(machine.deadline)
        return change.snapshot

    def unshelve(self, name: str, *, user: str, reason: str = "") -> AlarmSnapshot:
        """Unshelve an alarm; AlarmShelvingRefused when it is not shelved."""
        change = self._machine(name).unshelve(user=user, reason=reason, now=self._now())
        self._emit([change])
        return change.snapshot

    def set_enabled(
        self, name: str, enabled: bool, *, user: str, reason: str = ""
    ) -> AlarmSnapshot:
        """Enable or disable (out of service) an alarm; AlarmShelvingRefused if so already."""
        machine = self._machine(name)
        changes = machine.set_enabled(enabled, user=user, reason=reason, now=self._now())
        self._emit(changes)
        self._schedule(machine.deadline)
        return machine.snapshot

    # -- additions --------------------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        """The configured alarm names, in config order."""
        return tuple(self._machines)

    def tick(self) -> None:
        """Apply the delayed changes due at `clock()` (the timer task calls this;
        a test with a fake clock may call it after moving the clock on)."""
        now = self._now()
        for machine in self._machines.values():
            due = machine.deadline
            if due is not None and due <= now:
                self._step(machine, partial(machine.tick, now))

    # -- internals --------------------------------------------------------------------------

    def _now(self) -> float:
        """The clock at the journal's resolution (µs): a restored time equals the original."""
        return from_us(to_us(self._clock()))

    def _machine(self, name: str) -> AlarmMachine:
        try:
            return self._machines[name]
        except KeyError:
            raise UnknownAlarm(f"no alarm named {name!r}") from None

    async def _consume(self, subscription: Subscription) -> None:
        async for batch in subscription:
            now = self._now()
            for value in batch:
                for machine in self._by_tag.get(value.tag, ()):
                    self._step(machine, partial(machine.update, value.value, value.status, now))
                    self._schedule(machine.deadline)
                for machine in self._by_reference.get(value.tag, ()):
                    step = partial(machine.update_reference, value.value, value.status, now)
                    self._step(machine, step)
                    self._schedule(machine.deadline)

    def _step(self, machine: AlarmMachine, step: Callable[[], list[Change]]) -> None:
        """Run one machine's step and emit its changes; a failure is logged and
        stays with that alarm (the others, and the gateway, go on)."""
        try:
            changes = step()
        except Exception:
            log.exception("alarm %s: evaluation failed; its state is kept", machine.alarm.name)
            machine.cancel_pending()  # a failing delay must not make the timer spin
            return
        self._emit(changes)

    def _schedule(self, due: float | None) -> None:
        """Wake the timer when a deadline comes before the one it waits for."""
        if due is not None and (self._next_due is None or due < self._next_due):
            self._next_due = due
            self._wake.set()

    async def _run_timer(self) -> None:
        while True:
            deadlines = [m.deadline for m in self._machines.values() if m.deadline is not None]
            self._next_due = min(deadlines, default=None)
            self._wake.clear()
            timeout = None if self._next_due is None else max(0.0, self._next_due - self._now())
            try:
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self.tick()

    def _emit(self, changes: Iterable[Change]) -> None:
        for snapshot, transition in changes:
            if transition in _BY_USER:
                log.info(
                    "alarm %s %s by %s: %s",
                    snapshot.name,
                    transition.value,
                    snapshot.user or "the gateway",
                    snapshot.comment or "no reason given",
                )
            elif transition.journaled:
                log.info(
                    "alarm %s %s: %s (%s) %s",
                    snapshot.name,
                    transition.value,
                    snapshot.state.value,
                    snapshot.limit or "-",
                    snapshot.message,
                )
            else:
                log.debug("alarm %s %s: %s", snapshot.name, transition.value, snapshot.quality)
            if transition.journaled and self._journal is not None:
                router = self._router
                messages = () if router is None else router.messages(snapshot, transition)
                self._journal.record_alarm(event_of(snapshot, transition, messages))
            for listener in list(self._listeners):
                try:
                    listener.alarm_changed(snapshot, transition)
                except Exception:
                    log.exception("alarm listener %r failed on %s", listener, snapshot.name)

    async def _restore(self) -> None:
        """Take back each alarm's journaled state (active ones are not re-raised)."""
        if self._journal is None or not self._machines:
            return
        try:
            latest = await self._journal.alarm_states(self._machines)
        except StorageError as error:
            log.warning("alarms: states not restored (every alarm starts normal): %s", error)
            return
        restored = 0
        for name, event in latest.items():
            machine = self._machines.get(name)
            if machine is None:
                continue
            state = journaled_state(event)
            change = machine.restore(
                state,
                event.limit,
                value=typed_value(event.value, self._types[name]),
                message=event.message,
                time=event.time,
                shelving=journaled_shelving(event),
                shelved_until=event.shelved_until,
                enabled=event.enabled is not False,
            )
            if change is None:
                continue
            restored += 1
            if event.limit is not None and change.snapshot.limit != event.limit:
                log.warning(
                    "alarm %s: restored as %s, but its limit %s is no longer configured: "
                    "restored on %s; the next value decides",
                    name,
                    state.value,
                    event.limit,
                    change.snapshot.limit or "its condition",
                )
            self._emit([change])
        if restored:
            log.info("alarms: %d alarm(s) restored from the journal", restored)

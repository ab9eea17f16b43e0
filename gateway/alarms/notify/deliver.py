"""Deliverer: takes due rows from the outbox, sends them, retries, marks them.

At least once: a row is marked sent only after its channel delivered it, so a
gateway killed in between sends it again after the restart (the receiver
drops the duplicate by its stable id). A failed attempt waits 1 s, 2 s, 4 s…
up to `retry_max`, each with jitter (×0.5 to ×1), so receivers coming back
are not hit by every gateway at once; a message not delivered within
`give_up_after` of its transition is marked failed. One channel's outage does
not hold up another's. Beyond a channel's rate limit, held messages go as one
digest when the window has room again (ratelimit.py).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol, Self

from gateway.alarms.notify.channels import (
    LogSender,
    MqttSender,
    MqttSink,
    Outgoing,
    PermanentError,
    Sender,
    TransientError,
)
from gateway.alarms.notify.ratelimit import DIGEST_DETAILS, SlidingWindow, digest_body
from gateway.config import GatewayConfig
from gateway.config.notifications import EmailChannel, LogChannel, MqttChannel, WebhookChannel
from gateway.lifecycle import Part, task_group
from gateway.storage.errors import StorageError
from gateway.storage.rows import OutboxMessage, PendingMessage

__all__ = ["POLL_INTERVAL", "Deliverer", "Outbox", "backoff"]

log = logging.getLogger("gateway.notifications")

#: Longest wait between two looks at the outbox: a commit of new rows wakes it at once,
#: this only bounds how late a due retry is tried.
POLL_INTERVAL = 1.0
#: Pending rows read per look.
BATCH = 1000


class Outbox(Protocol):
    """What the deliverer needs of the historian."""

    async def pending_notifications(self, limit: int) -> list[PendingMessage]: ...
    async def notifications_sent(
        self, ids: list[int], now: float, note: str | None = None
    ) -> None: ...
    async def notifications_retry(self, ids: list[int], next_try: float, error: str) -> None: ...
    async def notifications_failed(self, ids: list[int], error: str) -> None: ...
    async def notification_digest(
        self, channel: str, details: int
    ) -> tuple[int, dict[str, int], list[OutboxMessage]] | None: ...
    async def notifications_sent_through(
        self, channel: str, last: int, now: float, note: str
    ) -> int: ...
    def add_outbox_listener(self, listener: Callable[[], None]) -> None: ...


def backoff(attempts: int, retry_max: float, rng: random.Random) -> float:
    """Seconds before the next try after `attempts` failed ones: capped, jittered."""
    return min(retry_max, 2.0 ** min(attempts, 30)) * rng.uniform(0.5, 1.0)


@dataclass
class _Channel:
    sender: Sender
    window: SlidingWindow
    blocked_until: float = 0.0  # after a transient failure: the channel's backoff
    failures: int = 0  # consecutive transient failures
    held: bool = False  # the rate limit held messages back: while more than one waits,
    # they go as one digest per window; a pass with at most one waiting ends it
    last_digest: float = float("-inf")

    def free_at(self, now: float) -> float:
        """When this channel may send next: its backoff, its window, one digest per window."""
        free = max(self.blocked_until, self.window.reopens(now))
        if self.held:
            free = max(free, self.last_digest + self.window.per)
        return free

    sent: int = 0
    errors: list[str] = field(default_factory=list)


def _senders(config: GatewayConfig, mqtt: MqttSink | None) -> list[Sender]:
    agent = f"modbus-opcua-gateway ({config.gateway.name})"
    domain = f"{config.gateway.name}.gateway.invalid"
    senders: list[Sender] = []
    for channel in config.notifications.channels:
        if isinstance(channel, WebhookChannel):
            from gateway.alarms.notify.webhook import WebhookSender  # noqa: PLC0415 - the alerts extra

            senders.append(WebhookSender(channel, user_agent=agent))
        elif isinstance(channel, EmailChannel):
            from gateway.alarms.notify.email import EmailSender  # noqa: PLC0415 - the alerts extra

            senders.append(EmailSender(channel, domain=domain))
        elif isinstance(channel, LogChannel):
            senders.append(LogSender(channel))
        elif isinstance(channel, MqttChannel):
            senders.append(MqttSender(channel, mqtt))
    return senders


class Deliverer(Part):
    """Delivers the outbox of one gateway; entered after the historian."""

    def __init__(
        self,
        config: GatewayConfig,
        outbox: Outbox,
        *,
        mqtt: MqttSink | None = None,
        senders: Sequence[Sender] | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        settings = config.notifications
        limit = settings.limit
        self._outbox = outbox
        self._gateway = config.gateway.name
        self._retry_max = settings.retry_max
        self._give_up_after = settings.give_up_after
        self._clock = clock
        self._rng = rng or random.Random()
        chosen = _senders(config, mqtt) if senders is None else senders
        self._channels = {
            s.name: _Channel(s, SlidingWindow(limit.count, limit.per)) for s in chosen
        }
        self._wake = asyncio.Event()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Self]:
        """The delivery loop in its own task group (gateway.lifecycle's rules); the
        channels' connections are closed when it stops."""
        self._outbox.add_outbox_listener(self.wake)  # new rows: look at once, not at the poll
        try:
            async with task_group() as group:
                task = group.create_task(self._run(), name="notifications")
                try:
                    yield self
                finally:
                    task.cancel()  # what is pending stays in the outbox for the next start
        finally:
            for channel in self._channels.values():
                await channel.sender.close()

    def wake(self) -> None:
        """Look at the outbox now (new rows were committed)."""
        self._wake.set()

    # -- the loop ---------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            wait = POLL_INTERVAL
            self._wake.clear()  # before the pass: a commit during it wakes the next one
            quiet = self._quiet_until(self._clock())
            if quiet is not None:
                # Every channel is held (rate limit) or backing off: new rows cannot go
                # before then, so the outbox is not read at every commit of a flood.
                await asyncio.sleep(max(0.0, quiet - self._clock()))
                continue
            try:
                wait = min(wait, await self.deliver_due())
            except StorageError as error:
                log.warning("notifications: the outbox cannot be read now: %s", error)
                wait = 5.0
            try:
                async with asyncio.timeout(max(0.0, wait)):
                    await self._wake.wait()
            except TimeoutError:
                pass

    def _quiet_until(self, now: float) -> float | None:
        """When the first channel may send again, if none may now; else None."""
        if not self._channels:
            return None
        first = min(channel.free_at(now) for channel in self._channels.values())
        return first if first > now else None

    async def deliver_due(self) -> float:
        """One pass: deliver what is due; the seconds until something else falls due."""
        rows = await self._outbox.pending_notifications(BATCH)
        now = self._clock()
        by_channel: dict[str, list[PendingMessage]] = {}
        for row in rows:
            by_channel.setdefault(row.message.channel, []).append(row)
        next_due = float("inf")
        for name, pending in by_channel.items():
            next_due = min(next_due, await self._channel_pass(name, pending, now))
        return next_due - now

    async def _channel_pass(self, name: str, rows: list[PendingMessage], now: float) -> float:
        channel = self._channels.get(name)
        if channel is None:
            ids = [row.id for row in rows]
            await self._outbox.notifications_failed(ids, f"no channel {name!r} is configured")
            return float("inf")
        expired = [r for r in rows if now - r.message.time > self._give_up_after]
        if expired:
            reason = expired[-1].last_error or "no attempt succeeded"
            await self._outbox.notifications_failed(
                [r.id for r in expired], f"not delivered in {self._give_up_after:g} s: {reason}"
            )
        due = [r for r in rows if r not in expired and r.next_try <= now]
        later = min((r.next_try for r in rows if r.next_try > now), default=float("inf"))
        if not due:
            return later
        if channel.blocked_until > now:
            return min(later, channel.blocked_until)
        room = channel.window.room(now)
        if room <= 0:
            channel.held = True
            return min(later, channel.window.reopens(now))
        if channel.held and len(due) > 1:
            if channel.free_at(now) > now:
                return min(later, channel.free_at(now))
            await self._send_digest(channel, due, now)  # held stays: one digest per window
        else:
            channel.held = len(due) > room
            await self._send_each(channel, due[:room], now)
        return min(later, channel.window.reopens(self._clock()), channel.blocked_until or later)

    async def _send_each(self, channel: _Channel, rows: list[PendingMessage], now: float) -> None:
        for row in rows:
            outgoing = Outgoing(row.message.message_id, row.message.payload)
            if not await self._attempt(channel, outgoing, [row]):
                return  # the receiver is down: the rest wait for the channel's backoff

    async def _send_digest(self, channel: _Channel, rows: list[PendingMessage], now: float) -> None:
        """Every pending message of the channel (not only this pass's) in one digest."""
        name = channel.sender.name
        found = await self._outbox.notification_digest(name, DIGEST_DETAILS)
        if found is None:
            return
        last, per_alarm, newest = found
        # Stable across retries: the same held messages make the same digest id.
        digest_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{self._gateway}/{name}/{last}").hex
        outgoing = Outgoing(digest_id, digest_body(digest_id, self._gateway, per_alarm, newest))
        try:
            await channel.sender.send(outgoing)
        except TransientError as error:
            await self._transient(channel, outgoing, [r.id for r in rows], error)
            return
        except PermanentError as error:
            log.warning("notification digest %s via %s refused: %s", digest_id, name, error)
            await self._outbox.notifications_failed([r.id for r in rows], str(error))
            return
        sent_at = self._delivered(channel)
        channel.last_digest = sent_at
        count = sum(per_alarm.values())
        note = f"in digest {digest_id} of {count}"
        await self._outbox.notifications_sent_through(name, last, sent_at, note)

    async def _attempt(
        self,
        channel: _Channel,
        outgoing: Outgoing,
        rows: list[PendingMessage],
    ) -> bool:
        """Send one message for `rows` and mark them; True when delivered (or refused)."""
        ids = [row.id for row in rows]
        try:
            await channel.sender.send(outgoing)
        except TransientError as error:
            await self._transient(channel, outgoing, ids, error)
            return False
        except PermanentError as error:
            log.warning(
                "notification %s via %s refused: %s",
                outgoing.message_id,
                channel.sender.name,
                error,
            )
            await self._outbox.notifications_failed(ids, str(error))
            return True  # the channel works; this message will not
        sent_at = self._delivered(channel)
        await self._outbox.notifications_sent(ids, sent_at)
        return True

    def _delivered(self, channel: _Channel) -> float:
        sent_at = self._clock()
        channel.failures, channel.blocked_until = 0, 0.0
        channel.window.sent(sent_at)
        channel.sent += 1
        return sent_at

    async def _transient(
        self, channel: _Channel, outgoing: Outgoing, ids: list[int], error: TransientError
    ) -> None:
        channel.failures += 1
        wait = backoff(channel.failures - 1, self._retry_max, self._rng)
        channel.blocked_until = self._clock() + wait
        log.warning(
            "notification %s via %s not delivered (retry in %.1f s): %s",
            outgoing.message_id,
            channel.sender.name,
            wait,
            error,
        )
        await self._outbox.notifications_retry(ids, channel.blocked_until, str(error))

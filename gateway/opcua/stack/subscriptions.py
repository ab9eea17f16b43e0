"""Subscriptions owned by sessions: checked on every call, clamped, bounded; orphans short-lived.

asyncua let any session act on any subscription id (ids are sequential): a
viewer disabled or deleted an operator's subscription, which then looked
alive and delivered nothing. A loop of CreateSession, CreateSubscription
with a publishing interval of 0 (never expires) and CloseSession without
deleting filled the server-wide cap and locked everyone out for minutes.
Here every subscription has an `Owner` (its session and identity): each
service checks it (Bad_SubscriptionIdInvalid for anyone else), transfers
go only to a session of the same identity, publishing interval, keep-alive
and lifetime are clamped so every subscription expires without Publish
requests, subscriptions are bounded per session, per identity and in
total, and those left by a closed session (orphans) are bounded per
identity, oldest deleted first. Monitored items are counted here too
(`_Quota`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asyncua import ua
from asyncua.common.utils import ServiceError
from asyncua.server.address_space import AddressSpace
from asyncua.server.internal_subscription import InternalSubscription
from asyncua.server.subscription_service import SubscriptionService

from gateway.opcua.guards.limits import ServerLimits
from gateway.opcua.stack import gate
from gateway.opcua.stack.monitored import Items, encode_datachanges
from gateway.opcua.stack.publishing import PendingPublish
from gateway.opcua.stack.sessions import Session
from gateway.opcua.users import Identity
from gateway.ua.wire import StatusCodes, status_code

__all__ = ["Owner", "Subscription", "Subscriptions", "answer_timed_out"]

log = logging.getLogger(__name__)
_SUBSCRIPTION_LOG = logging.getLogger("asyncua.server.internal_subscription")
#: Keep-alive count granted when a client asks for none.
_DEFAULT_KEEPALIVE = 10
#: Where subscription ids start.
_FIRST_ID = 1_000


@dataclass(eq=False, slots=True)
class Owner:
    """Who a subscription belongs to; `session` is None for an orphan."""

    identity: Identity
    session: Session | None
    created: float
    orphaned_at: float | None = None
    items: int = 0

    def request(self, subscription_id: int) -> PendingPublish | None:
        """InternalSubscription's request callback: a Publish request of the owning session."""
        session = self.session
        if session is None or session.connection is None:
            return None
        return session.publish.take(subscription_id, time.monotonic(), answer_timed_out)

    async def forward(self, result: ua.PublishResult, request: PendingPublish) -> None:
        """InternalSubscription's result callback: answer `request` on its own connection."""
        result.Results = request.results
        response = ua.PublishResponse()
        response.Parameters = result
        request.connection.send_response(request.request_handle, request.request_id, response)


class Subscription(InternalSubscription):
    """asyncua's subscription with our monitored items and the pre-encoded data changes."""

    def __init__(
        self,
        data: ua.CreateSubscriptionResult,
        aspace: AddressSpace,
        owner: Owner,
        *,
        limits: ServerLimits,
        quota: _Quota,
        session_id: ua.NodeId,
        publishing_enabled: bool,
        on_expired: Callable[[], None],
    ) -> None:
        # InternalSubscription.__init__, with our Items instead of its MonitoredItemService.
        self.logger = _SUBSCRIPTION_LOG
        self.data = data
        # asyncua annotates its own PublishRequestData; ours is passed through untouched.
        self.pub_result_callback = owner.forward
        self.pub_request_callback = owner.request  # type: ignore[assignment]
        self.monitored_item_srv = Items(self, aspace, limits, quota)
        self.delete_callback = on_expired
        self.session_id = session_id
        self._triggered_datachanges: dict[int, list[ua.MonitoredItemNotification]] = {}
        self._triggered_events: dict[int, list[ua.EventFieldList]] = {}
        self._triggered_statuschanges: list[ua.StatusCode] = []
        self._notification_seq = 1
        self._no_acks_limit = limits.max_retransmission_queue
        self.max_queue_size = limits.max_data_queue_size
        self._not_acknowledged_results: dict[int, ua.PublishResult] = {}
        self._startup = True
        self._publishing_enabled = publishing_enabled
        self._keep_alive_count = 0
        self._publish_cycles_count = 0
        self._task = None
        self._closing = False
        self.owner = owner

    @property
    def items(self) -> Items:
        items = self.monitored_item_srv
        assert isinstance(items, Items)
        return items

    def _pop_triggered_datachanges(self, result: ua.PublishResult) -> None:
        if not gate.FAST:
            super()._pop_triggered_datachanges(result)
            return
        queued = self._triggered_datachanges
        if queued:
            self._triggered_datachanges = {}
            encode_datachanges(queued, result)

    def acknowledge(self, sequence_number: int) -> bool:
        """Forget an acknowledged notification message; False if it is not held."""
        return self._not_acknowledged_results.pop(sequence_number, None) is not None

    def available(self) -> list[int]:
        return sorted(self._not_acknowledged_results)


class _Quota:
    """Monitored items one subscription may still create (ItemQuota of monitored.py)."""

    def __init__(self, guard: Subscriptions, owner: Owner) -> None:
        self._guard = guard
        self._owner = owner

    def take(self, wanted: int) -> int:
        granted = self._guard.grant_items(self._owner, wanted)
        self._owner.items += granted
        self._guard.count_items(self._owner.identity, granted)
        return granted

    def give_back(self, count: int) -> None:
        self._owner.items -= count
        self._guard.count_items(self._owner.identity, -count)


def answer_timed_out(request: PendingPublish) -> None:
    """A Publish request that waited past its TimeoutHint is answered Bad_Timeout."""
    request.connection.send_fault(
        request.request_handle, request.request_id, StatusCodes.BadTimeout
    )


def _fault(code: int) -> ServiceError:
    return ServiceError(code)


class Subscriptions:
    """Every client subscription of one server, in asyncua's SubscriptionService."""

    def __init__(self, service: SubscriptionService, aspace: AddressSpace, limits: ServerLimits):
        self._service = service
        self._aspace = aspace
        self._limits = limits
        self._owned: dict[int, Subscription] = {}
        self._items_by_identity: dict[Identity, int] = {}
        self._items_total = 0
        self._next_id = _FIRST_ID

    def __len__(self) -> int:
        return len(self._owned)

    @property
    def items_total(self) -> int:
        return self._items_total

    # -- lookups --------------------------------------------------------------------------

    def owned(self, session: Session, subscription_id: object) -> Subscription | None:
        """The subscription if `session` owns it, else None (never another session's)."""
        found = self._owned.get(subscription_id) if isinstance(subscription_id, int) else None
        if found is None or found.owner.session is not session:
            return None
        return found

    def owned_by_session_id(
        self, session_id: ua.NodeId, subscription_id: object
    ) -> Subscription | None:
        found = self._owned.get(subscription_id) if isinstance(subscription_id, int) else None
        owner = found.owner.session if found is not None else None
        return found if owner is not None and owner.session_id == session_id else None

    async def trigger_event(self, event: Any) -> None:
        """An event to every subscription's event items (asyncua's, so retained conditions
        are remembered the way asyncua does)."""
        await self._service.trigger_event(event)

    def of_session(self, session: Session) -> list[Subscription]:
        return [s for s in self._owned.values() if s.owner.session is session]

    def _of_identity(self, identity: Identity) -> list[Subscription]:
        return [s for s in self._owned.values() if s.owner.identity == identity]

    # -- create, modify, delete --------------------------------------------------------

    async def create(
        self, session: Session, params: ua.CreateSubscriptionParameters
    ) -> ua.CreateSubscriptionResult:
        identity = session.identity
        assert identity is not None  # activated
        limits = self._limits
        if len(self._owned) >= limits.max_subscriptions:
            await self._delete_oldest_orphan(None)
        mine = self.of_session(session)
        if (
            len(self._owned) >= limits.max_subscriptions
            or len(mine) >= limits.max_subscriptions_per_session
            or len(self._of_identity(identity)) >= limits.max_subscriptions_per_identity
        ):
            raise _fault(StatusCodes.BadTooManySubscriptions)
        result = self.revise(
            params.RequestedPublishingInterval,
            params.RequestedLifetimeCount,
            params.RequestedMaxKeepAliveCount,
        )
        result.SubscriptionId = self._next_id
        self._next_id += 1
        now = time.monotonic()
        owner = Owner(identity, session, now)
        subscription = Subscription(
            result,
            self._aspace,
            owner,
            limits=self._limits,
            quota=_Quota(self, owner),
            session_id=session.session_id,
            publishing_enabled=bool(params.PublishingEnabled),
            on_expired=lambda: self._forget(result.SubscriptionId),
        )
        await subscription.start()
        self._owned[result.SubscriptionId] = subscription
        self._service.subscriptions[result.SubscriptionId] = subscription
        return result

    def revise(
        self, interval_ms: float, lifetime_count: int, keepalive_count: int
    ) -> ua.CreateSubscriptionResult:
        """Publishing interval, lifetime and keep-alive within the limits (OPC 10000-4 §5.13.2).

        The interval has a minimum, so every subscription runs a publishing cycle and
        expires after lifetime × interval without Publish requests.
        """
        limits = self._limits
        longest_interval = min(
            limits.max_publishing_interval_ms,
            limits.max_keepalive_ms,
            limits.max_subscription_lifetime_ms / 3,
        )
        interval = 0.0 if math.isnan(interval_ms) else float(interval_ms)
        interval = min(max(interval, limits.min_publishing_interval_ms), longest_interval)
        keepalive = int(keepalive_count) or _DEFAULT_KEEPALIVE
        keepalive = max(1, min(keepalive, math.floor(limits.max_keepalive_ms / interval)))
        longest = max(1, math.floor(limits.max_subscription_lifetime_ms / interval))
        lifetime = min(max(int(lifetime_count), 3 * keepalive), longest)
        keepalive = max(1, min(keepalive, lifetime // 3))
        result = ua.CreateSubscriptionResult()
        result.RevisedPublishingInterval = interval
        result.RevisedLifetimeCount = lifetime
        result.RevisedMaxKeepAliveCount = keepalive
        return result

    def modify(
        self, session: Session, params: ua.ModifySubscriptionParameters
    ) -> ua.ModifySubscriptionResult:
        """Answered with the values in force (asyncua's publishing cycle keeps its interval)."""
        subscription = self.owned(session, params.SubscriptionId)
        if subscription is None:
            raise _fault(StatusCodes.BadSubscriptionIdInvalid)
        result = ua.ModifySubscriptionResult()
        result.RevisedPublishingInterval = subscription.data.RevisedPublishingInterval
        result.RevisedLifetimeCount = subscription.data.RevisedLifetimeCount
        result.RevisedMaxKeepAliveCount = subscription.data.RevisedMaxKeepAliveCount
        return result

    async def set_publishing_mode(
        self, session: Session, params: ua.SetPublishingModeParameters
    ) -> list[ua.StatusCode]:
        results: list[ua.StatusCode] = []
        for subscription_id in params.SubscriptionIds:
            subscription = self.owned(session, subscription_id)
            if subscription is None:
                results.append(status_code(StatusCodes.BadSubscriptionIdInvalid))
                continue
            await subscription.set_publishing_mode(bool(params.PublishingEnabled))
            results.append(status_code(StatusCodes.Good))
        return results

    async def delete(self, session: Session, ids: list[int]) -> list[ua.StatusCode]:
        results: list[ua.StatusCode] = []
        for subscription_id in ids:
            subscription = self.owned(session, subscription_id)
            if subscription is None:
                results.append(status_code(StatusCodes.BadSubscriptionIdInvalid))
                continue
            await self._stop(subscription)
            results.append(status_code(StatusCodes.Good))
        return results

    async def close_session(self, session: Session, delete: bool) -> None:
        """The session closed: delete its subscriptions, or leave them as bounded orphans."""
        now = time.monotonic()
        for subscription in self.of_session(session):
            if delete:
                await self._stop(subscription)
            else:
                subscription.owner.session = None
                subscription.owner.orphaned_at = now
        if not delete and session.identity is not None:
            await self._bound_orphans(session.identity)

    async def transfer(
        self, session: Session, params: ua.TransferSubscriptionsParameters
    ) -> list[ua.TransferResult]:
        """TransferSubscriptions: only to a session of the identity that created them."""
        results: list[ua.TransferResult] = []
        for subscription_id in params.SubscriptionIds:
            result = ua.TransferResult()
            subscription = self._owned.get(subscription_id)
            if subscription is None:
                result.StatusCode = status_code(StatusCodes.BadSubscriptionIdInvalid)
            elif subscription.owner.identity != session.identity:
                result.StatusCode = status_code(StatusCodes.BadUserAccessDenied)
            elif (
                subscription.owner.session is not session
                and len(self.of_session(session)) >= self._limits.max_subscriptions_per_session
            ):
                result.StatusCode = status_code(StatusCodes.BadTooManySubscriptions)
            else:
                subscription.owner.session = session
                subscription.owner.orphaned_at = None
                subscription.session_id = session.session_id
                result.AvailableSequenceNumbers = subscription.available()
            results.append(result)
        return results

    async def stop_all(self) -> None:
        for subscription in list(self._owned.values()):
            await self._stop(subscription)

    # -- publishing -----------------------------------------------------------------------

    def acknowledge(
        self, session: Session, acks: list[ua.SubscriptionAcknowledgement]
    ) -> list[ua.StatusCode]:
        results: list[ua.StatusCode] = []
        for ack in acks:
            subscription = self.owned(session, ack.SubscriptionId)
            if subscription is None:
                code = StatusCodes.BadSubscriptionIdInvalid
            elif subscription.acknowledge(ack.SequenceNumber):
                code = StatusCodes.Good
            else:
                code = StatusCodes.BadSequenceNumberUnknown
            results.append(status_code(code))
        return results

    def republish(self, session: Session, params: ua.RepublishParameters) -> ua.NotificationMessage:
        subscription = self.owned(session, params.SubscriptionId)
        if subscription is None:
            raise _fault(StatusCodes.BadSubscriptionIdInvalid)
        if params.RetransmitSequenceNumber not in subscription.available():
            raise _fault(StatusCodes.BadMessageNotAvailable)
        return subscription.republish(params.RetransmitSequenceNumber)

    # -- monitored items ------------------------------------------------------------------

    def items_of(self, session: Session, subscription_id: object) -> Items:
        subscription = self.owned(session, subscription_id)
        if subscription is None:
            raise _fault(StatusCodes.BadSubscriptionIdInvalid)
        return subscription.items

    def grant_items(self, owner: Owner, wanted: int) -> int:
        """How many of `wanted` new items fit every bound of `owner`'s subscription."""
        limits = self._limits
        session_items = (
            sum(s.owner.items for s in self.of_session(owner.session))
            if owner.session is not None
            else owner.items
        )
        room = min(
            limits.max_monitored_items_per_subscription - owner.items,
            limits.max_monitored_items_per_session - session_items,
            limits.max_monitored_items_per_identity
            - self._items_by_identity.get(owner.identity, 0),
            limits.max_monitored_items - self._items_total,
        )
        return max(0, min(wanted, room))

    def count_items(self, identity: Identity, delta: int) -> None:
        self._items_total += delta
        count = self._items_by_identity.get(identity, 0) + delta
        if count:
            self._items_by_identity[identity] = count
        else:
            self._items_by_identity.pop(identity, None)

    # -- internals ------------------------------------------------------------------------

    async def _stop(self, subscription: Subscription) -> None:
        self._forget(subscription.data.SubscriptionId)
        await subscription.stop()  # deletes its items, which gives their quota back

    def _forget(self, subscription_id: int) -> None:
        self._owned.pop(subscription_id, None)
        self._service.subscriptions.pop(subscription_id, None)

    async def _bound_orphans(self, identity: Identity) -> None:
        orphans = sorted(
            (s for s in self._of_identity(identity) if s.owner.session is None),
            key=lambda s: s.owner.orphaned_at or 0.0,
        )
        excess = len(orphans) - self._limits.max_orphans_per_identity
        for subscription in orphans[: max(0, excess)]:
            log.info(
                "OPC UA: orphaned subscription %d of %s deleted (%d kept per identity)",
                subscription.data.SubscriptionId,
                identity,
                self._limits.max_orphans_per_identity,
            )
            await self._stop(subscription)

    async def _delete_oldest_orphan(self, identity: Identity | None) -> None:
        orphans = [
            s
            for s in self._owned.values()
            if s.owner.session is None and (identity is None or s.owner.identity == identity)
        ]
        if orphans:
            await self._stop(min(orphans, key=lambda s: s.owner.orphaned_at or 0.0))

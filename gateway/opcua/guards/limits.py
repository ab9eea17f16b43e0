"""Every bound the OPC UA server enforces, in one frozen record (docs/security.md, "Limits").

Each bound answers one attack of issue 14: a number a client could otherwise
raise without limit (bytes, connections, sessions, subscriptions, monitored
items, queue entries, login guesses) until the gateway stalls or locks
everybody else out. Per-identity and per-peer shares keep one client (or one
anonymous crowd) from taking what the others need.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

__all__ = ["ServerLimits"]


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """Bounds of one server. `for_nodes` scales the monitored-item bounds to the address space."""

    # -- transport ------------------------------------------------------------------------
    #: Largest chunk received or sent (bytes); also the largest header accepted before HEL.
    chunk_size: int = 65535
    #: Largest request or response (bytes): a 10k-value Read is about 0.3 MB.
    max_message_size: int = 8 * 1024 * 1024
    #: Largest message of a connection without an activated session: CreateSession and
    #: ActivateSession with certificates fit in one chunk, so nothing is assembled for a
    #: stranger (memory per unauthenticated connection stays at one chunk).
    max_unauthenticated_message_size: int = 65535
    #: Received chunks queued behind a connection's processing before it stops reading.
    max_pending_chunks: int = 16

    # -- connections ----------------------------------------------------------------------
    #: TCP connections at once, authenticated or not.
    max_connections: int = 100
    #: TCP connections from one IP address.
    max_connections_per_peer: int = 20
    #: Seconds a connection may stay open without an activated session.
    activation_window: float = 5.0

    # -- sessions -------------------------------------------------------------------------
    #: Sessions at once (activated, awaiting activation and detached ones).
    max_sessions: int = 100
    #: Sessions of one identity (a user name, or anonymous as one identity).
    max_sessions_per_identity: int = 50
    #: Sessions kept after their connection dropped (for a reconnecting client), per identity;
    #: the oldest is closed first, and any of them when a new session needs room.
    max_detached_per_identity: int = 5
    #: Session timeout range a client may ask for (ms).
    min_session_timeout_ms: float = 10_000.0
    max_session_timeout_ms: float = 300_000.0

    # -- subscriptions --------------------------------------------------------------------
    max_subscriptions: int = 500
    max_subscriptions_per_session: int = 20
    max_subscriptions_per_identity: int = 250
    #: Subscriptions left by a session closed without deleting them, per identity.
    max_orphans_per_identity: int = 10
    #: Publishing interval range (ms); 0 would mean "publish as fast as possible, forever".
    min_publishing_interval_ms: float = 50.0
    max_publishing_interval_ms: float = 60_000.0
    #: Longest time a subscription lives without a Publish request (lifetime), ms.
    max_subscription_lifetime_ms: float = 600_000.0
    #: Longest keep-alive period (ms).
    max_keepalive_ms: float = 60_000.0
    #: Unacknowledged notification messages kept for Republish, per subscription.
    max_retransmission_queue: int = 100
    #: Publish requests queued per session beyond its subscription count.
    max_publish_requests: int = 100

    # -- monitored items ------------------------------------------------------------------
    #: Monitored items per CreateMonitoredItems / ModifyMonitoredItems / ... call.
    max_monitored_items_per_call: int = 10_000
    max_monitored_items_per_subscription: int = 20_000
    max_monitored_items_per_session: int = 20_000
    #: Across every session; one identity may hold three quarters of it.
    max_monitored_items: int = 100_000
    #: Event items per subscription (a few notifiers are all a client needs).
    max_event_items_per_subscription: int = 1_000
    #: Queue sizes are clamped to these (a data change and an event item).
    max_data_queue_size: int = 100
    max_event_queue_size: int = 1_000
    #: Elements of an event filter's WhereClause, and its SelectClauses.
    max_filter_elements: int = 16
    max_select_clauses: int = 256

    # -- operations per request (advertised in ServerCapabilities/OperationLimits) ----------
    max_nodes_per_read: int = 10_000
    max_nodes_per_write: int = 1_000
    max_nodes_per_browse: int = 100
    max_nodes_per_translate: int = 100
    #: Elements of one RelativePath in TranslateBrowsePathsToNodeIds.
    max_browse_path_elements: int = 32
    max_nodes_per_method_call: int = 100
    max_nodes_per_history_read: int = 1_000
    max_nodes_per_register: int = 1_000

    # -- logins ---------------------------------------------------------------------------
    #: Failed logins from one IP address before it is locked out.
    free_failures_per_peer: int = 5
    #: First lock-out (s); it doubles with every further failure, up to the maximum.
    first_lockout: float = 10.0
    max_lockout: float = 900.0
    #: Failed logins for one user name before each attempt for it is delayed.
    free_failures_per_user: int = 5
    #: First delay (s); it doubles with every further failure, up to the maximum.
    first_delay: float = 0.25
    max_delay: float = 2.0
    #: Failures are forgotten after this long without a new one (s).
    failure_memory: float = 900.0
    #: Peers and user names remembered at once (the oldest is forgotten first).
    max_tracked_logins: int = 10_000

    @property
    def max_chunk_count(self) -> int:
        return math.ceil(self.max_message_size / self.chunk_size)

    @property
    def max_monitored_items_per_identity(self) -> int:
        return self.max_monitored_items * 3 // 4

    def for_nodes(self, nodes: int) -> ServerLimits:
        """Monitored-item bounds that let one client monitor every node of the address space.

        A SCADA that monitors all 100k tags of a large gateway needs 100k items in one
        session; the server-wide bound then leaves room for four such clients.
        """
        per_session = max(self.max_monitored_items_per_session, math.ceil(nodes * 1.1))
        return replace(
            self,
            max_monitored_items_per_call=max(self.max_monitored_items_per_call, per_session),
            max_monitored_items_per_subscription=per_session,
            max_monitored_items_per_session=per_session,
            max_monitored_items=max(self.max_monitored_items, 4 * per_session),
        )

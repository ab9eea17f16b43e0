"""Which TCP connections the OPC UA server keeps: per-peer and total caps, idle strangers first.

Reconnecting idle TCP connections used to keep legitimate clients out (1 of
11 connected in 45 s): every slot was held by a socket that never said a
word. Here a connection is a stranger until its session is activated.
A new connection over a cap pushes out the stranger that has been silent
longest (an idle socket, not a client in the middle of its handshake);
connections with an activated session are never pushed out. Strangers also
have `activation_window` seconds to activate a session at all.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from gateway.opcua.guards.limits import ServerLimits

__all__ = ["Admission", "ConnectionTable"]

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Admission(Generic[K]):
    """The answer to a new connection: accept it, and which one to close for it."""

    accepted: bool
    evict: K | None = None
    reason: str = ""


@dataclass(slots=True)
class _Entry:
    peer: str
    opened: float
    last_seen: float
    authenticated: bool = False


class ConnectionTable(Generic[K]):
    """The open connections, keyed by the caller's connection objects."""

    def __init__(self, limits: ServerLimits) -> None:
        self._limits = limits
        self._entries: dict[K, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def admit(self, key: K, peer: str, now: float) -> Admission[K]:
        """Record `key` if it may stay, naming a stranger to close to make room for it."""
        limits = self._limits
        same_peer = [k for k, e in self._entries.items() if e.peer == peer]
        evict: K | None = None
        if len(same_peer) >= limits.max_connections_per_peer:
            evict = self._most_idle_stranger(same_peer)
            if evict is None:
                return Admission(False, reason=f"{len(same_peer)} connections from {peer}")
        elif len(self._entries) >= limits.max_connections:
            evict = self._most_idle_stranger(self._entries)
            if evict is None:
                return Admission(False, reason=f"{len(self._entries)} connections")
        if evict is not None:
            del self._entries[evict]
        self._entries[key] = _Entry(peer, now, now)
        return Admission(True, evict)

    def keys(self) -> list[K]:
        return list(self._entries)

    def seen(self, key: K, now: float) -> None:
        """A message arrived on `key`."""
        entry = self._entries.get(key)
        if entry is not None:
            entry.last_seen = now

    def authenticated(self, key: K, value: bool = True) -> None:
        """`key` has (or no longer has) an activated session."""
        entry = self._entries.get(key)
        if entry is not None:
            entry.authenticated = value

    def remove(self, key: K) -> None:
        self._entries.pop(key, None)

    def expired(self, now: float) -> list[K]:
        """Strangers whose activation window has passed (the caller closes them)."""
        window = self._limits.activation_window
        return [
            k for k, e in self._entries.items() if not e.authenticated and now - e.opened >= window
        ]

    def _most_idle_stranger(self, keys: Iterable[K]) -> K | None:
        best: tuple[float, K] | None = None
        for key in keys:
            entry = self._entries[key]
            if not entry.authenticated and (best is None or entry.last_seen < best[0]):
                best = (entry.last_seen, key)
        return None if best is None else best[1]

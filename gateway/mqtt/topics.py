"""Sparkplug B topics and the Primary Host's STATE message (pure).

Topics are `spBv1.0/<group>/<type>/<edge_node>[/<device>]`; a host's state is
`spBv1.0/STATE/<host_id>` carrying `{"online": bool, "timestamp": ms}`
(Sparkplug 3.0). A STATE older than the last one seen is ignored: after a
host's reconnect its retained birth and a late death could arrive out of order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

__all__ = ["NAMESPACE", "HostState", "SparkplugTopics", "parse_state", "state_topic"]

NAMESPACE = "spBv1.0"
#: A STATE message longer than this is no host's (a host writes about 40 bytes).
MAX_STATE_BYTES = 1024


@dataclass(frozen=True, slots=True)
class SparkplugTopics:
    """The topics of one edge node."""

    group: str
    edge_node: str

    def node(self, kind: str) -> str:
        """NBIRTH, NDEATH, NDATA, NCMD."""
        return f"{NAMESPACE}/{self.group}/{kind}/{self.edge_node}"

    def device(self, kind: str, device: str) -> str:
        """DBIRTH, DDEATH, DDATA, DCMD."""
        return f"{NAMESPACE}/{self.group}/{kind}/{self.edge_node}/{device}"

    @property
    def device_commands(self) -> str:
        return f"{NAMESPACE}/{self.group}/DCMD/{self.edge_node}/+"

    def command_device(self, topic: str) -> str | None:
        """The device of a DCMD topic of this node, else None."""
        prefix = f"{NAMESPACE}/{self.group}/DCMD/{self.edge_node}/"
        if topic.startswith(prefix) and "/" not in topic[len(prefix) :]:
            return topic[len(prefix) :]
        return None


def state_topic(host_id: str) -> str:
    return f"{NAMESPACE}/STATE/{host_id}"


@dataclass(frozen=True, slots=True)
class HostState:
    online: bool
    timestamp: int


def parse_state(payload: bytes) -> HostState:
    """A host's STATE payload; ValueError says what is wrong with it."""
    if len(payload) > MAX_STATE_BYTES:
        raise ValueError(f"a STATE message of {len(payload)} bytes (limit {MAX_STATE_BYTES})")
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"STATE is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise ValueError("STATE is not a JSON object")
    online, timestamp = data.get("online"), data.get("timestamp")
    if not isinstance(online, bool):
        raise ValueError('STATE has no boolean "online"')
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
        raise ValueError('STATE has no "timestamp" in milliseconds')
    return HostState(online, timestamp)

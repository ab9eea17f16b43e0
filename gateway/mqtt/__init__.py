"""North-bound MQTT: a Sparkplug B edge node and a plain-JSON namespace (docs/mqtt.md).

client.py      the adapter: the only aiomqtt import; one client per connection
sparkplug/     the Sparkplug B payload schema, its generated classes, encode/decode
topics.py      Sparkplug topics and the Primary Host's STATE message (pure)
metrics.py     the metric catalog: aliases, datatypes, Quality, `_Status` fields (pure)
hostgate.py    publishing gated on the Primary Host's STATE, timestamps compared
edge.py        one connection's Sparkplug conversation: births, DDATA, deaths, commands
jsonns.py      the JSON namespace: a topic and a payload per tag (pure)
plant.py       the small interface to the running gateway the publisher reads and writes
state.py       the publisher's observable state and counters
replay.py      store and forward: stored readings replayed as historical DDATA
forward.py     what reached the broker (SUBACK behind the data), the replay backlog
publisher.py   the lifecycle: servers in order, reconnects, the bus subscription

Only this file is imported when the package is: the rest loads protobuf.
"""

from importlib.util import find_spec

from gateway.errors import GatewayError

__all__ = ["MISSING_EXTRA", "require_mqtt"]

MISSING_EXTRA = (
    "the mqtt section needs aiomqtt and protobuf: pip install 'modbus-opcua-gateway[mqtt]'"
)


def require_mqtt() -> None:
    """GatewayError naming the extra when aiomqtt or protobuf is missing (found, not imported)."""
    if not all(find_spec(name) is not None for name in ("aiomqtt", "google.protobuf")):
        raise GatewayError(MISSING_EXTRA)

"""Sparkplug B payloads: the schema, its generated classes, and the one module that uses them.

sparkplug_b.proto    the payload schema, written from the Sparkplug 3.0 payload chapter
sparkplug_b_pb2.py   classes generated from it by protoc (committed; regenerate after an edit)
payload.py           our metrics ⇄ protobuf bytes (the only import of the generated classes)
"""

from gateway.mqtt.sparkplug.payload import (
    DecodedMetric,
    DecodedPayload,
    MetricType,
    OutMetric,
    PayloadError,
    decode_payload,
    encode_payload,
    live_timestamps,
)

__all__ = [
    "DecodedMetric",
    "DecodedPayload",
    "MetricType",
    "OutMetric",
    "PayloadError",
    "decode_payload",
    "encode_payload",
    "live_timestamps",
]

"""What the HTTP side reads of the running gateway: its parts, as a protocol.

`gateway.app.Gateway` is one; tests may pass anything with the same shape.
Everything here is read, never changed, except an alarm's acknowledgement and
shelving. The MQTT publisher is seen through mqttview.py's protocols.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from gateway.alarms import AlarmEngine
from gateway.bus import Bus
from gateway.config import GatewayConfig
from gateway.http.mqttview import MqttView
from gateway.modbus.acquisition import Acquisition
from gateway.opcua import OpcUaServer
from gateway.storage import Historian

__all__ = ["Parts"]


class Parts(Protocol):
    """The running gateway's parts and which of them have started."""

    @property
    def config(self) -> GatewayConfig: ...
    @property
    def bus(self) -> Bus: ...
    @property
    def acquisition(self) -> Acquisition: ...
    @property
    def historian(self) -> Historian: ...
    @property
    def alarms(self) -> AlarmEngine: ...
    @property
    def opcua(self) -> OpcUaServer: ...
    @property
    def mqtt(self) -> MqttView | None:
        """The MQTT publisher, with `mqtt:` configured; else None."""
        ...

    def started(self) -> Mapping[str, bool]:
        """Each part by name (storage, alarms, acquisition, opcua, …): has it started?"""
        ...

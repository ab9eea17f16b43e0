"""Pure rules that keep hostile OPC UA clients in bounds (no I/O, no asyncua).

limits.py     ServerLimits: every bound the server enforces, with the reason for each
throttle.py   LoginThrottle: lock-out per peer and a growing delay per user after failures
admission.py  ConnectionTable: who may connect, and which idle unauthenticated one goes first
faultlog.py   FaultLog: one rate-limited line per kind of client-caused fault, no traceback

The OPC UA adapter (gateway/opcua/stack/) applies them; they take the time
as an argument, so tests drive them with a fake clock.
"""

from gateway.opcua.guards.admission import Admission, ConnectionTable
from gateway.opcua.guards.faultlog import FaultLog
from gateway.opcua.guards.limits import ServerLimits
from gateway.opcua.guards.throttle import LoginThrottle, LoginVerdict

__all__ = [
    "Admission",
    "ConnectionTable",
    "FaultLog",
    "LoginThrottle",
    "LoginVerdict",
    "ServerLimits",
]

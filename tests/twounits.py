"""Two units behind one Modbus TCP gateway: the tags and values the shared-link tests use.

Shared by integration/test_shared_connection.py (real TCP to a simulator) and
unit/test_shared_link.py (in memory, on a fake clock).
"""

from __future__ import annotations

from typing import Any

__all__ = ["EXPECTED", "FAST", "TAGS", "UNIT_VALUES"]

TAGS: list[dict[str, Any]] = [
    {"name": "temp", "table": "holding_register", "address": 0, "type": "float32"},
    {"name": "run", "table": "holding_register", "address": 4, "type": "bool", "bit": 0},
    {"name": "fault", "table": "holding_register", "address": 4, "bit": 1, "type": "bool",
     "writable": True},
    {"name": "pump", "table": "coil", "address": 0, "type": "bool", "writable": True},
]  # fmt: skip
#: Per unit id: (temp at holding 0, status word at holding 4, pump coil 0).
UNIT_VALUES: dict[int, tuple[float, int, bool]] = {1: (21.5, 0b101, False), 2: (80.0, 0b010, True)}
#: What devices d1 (unit 1) and d2 (unit 2) read.
EXPECTED = {
    "d1.temp": 21.5,
    "d1.run": True,
    "d1.fault": False,
    "d1.pump": False,
    "d2.temp": 80.0,
    "d2.run": False,
    "d2.fault": True,
    "d2.pump": True,
}
FAST: dict[str, Any] = {
    "scan_interval": "30ms",
    "timeout": "150ms",
    "reconnect_min": "20ms",
    "reconnect_max": "100ms",
    "demote_after": 0,
}

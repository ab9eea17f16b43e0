"""Alarms: ISA-18.2 state machines on tag values, journaled and served over OPC UA.

model.py     AlarmState, Transition, AlarmSnapshot, AlarmListener (the interface)
rules.py     which condition a value calls for: limits with hysteresis, equals (pure)
messages.py  message templates filled in, readable numbers (pure)
machine.py   one alarm's ISA-18.2 state machine with delays and quality (pure)
journal.py   snapshots ⇄ journal events; what the engine needs of a journal
engine.py    AlarmEngine: state per alarm, fed from the bus, journal, restore
"""

from gateway.alarms.engine import AlarmEngine
from gateway.alarms.model import AlarmListener, AlarmSnapshot, AlarmState, Transition

__all__ = ["AlarmEngine", "AlarmListener", "AlarmSnapshot", "AlarmState", "Transition"]

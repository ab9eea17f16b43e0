"""Alarms: ISA-18.2 state machines on tag values, journaled and served over OPC UA.

model.py     AlarmState, Transition, AlarmSnapshot, AlarmListener (the interface)
engine.py    AlarmEngine: state per alarm, fed from the bus, journal, restore
"""

from gateway.alarms.engine import AlarmEngine
from gateway.alarms.model import AlarmListener, AlarmSnapshot, AlarmState, Transition

__all__ = ["AlarmEngine", "AlarmListener", "AlarmSnapshot", "AlarmState", "Transition"]

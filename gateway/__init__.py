"""Modbus TCP → OPC UA gateway."""

__version__ = "0.1.0"

"""Shared by every test folder: this folder is on sys.path, so its kits import by name.

fakeclock.py (a fake Clock, and a loop that jumps to the next timer when every
task waits) and memorymodbus.py (an in-memory Modbus transport) serve the
deterministic poller tests in unit/ and the TCP client tests in integration/.
"""

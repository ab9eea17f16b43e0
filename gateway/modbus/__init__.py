"""South-bound: polling Modbus devices and writing to them, in the order data flows.

- deviceplan, planner: a device's tags → the fewest read requests (pure)
- acquisition: every device's poller in one TaskGroup, the tag index, writes
- poller: one device's connection lifecycle and drift-free scan schedule
- writer: one tag's write checked, encoded and sent (FC05/06/16)
- link: one connection, shared by devices with the same `connection`
- lines: which devices share a link (a connection, a serial port, a converter)
- transport: the interface every connection offers (TCP, RTU, RTU over TCP)
- client: Modbus TCP; pdu: requests built and answers checked (pure)
- rtuline: Modbus RTU on a serial line or over TCP; lineplan: a line's load (pure)
- blockstate, blockcodec: raw bytes → changed tag values with their status
- health: device state, counters, retry policy; wording: a device error in words
- clock: where pollers, links and the client read time and wait
"""

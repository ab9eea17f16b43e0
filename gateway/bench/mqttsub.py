"""The subscriber of `gateway bench mqtt`, in its own process: when each Sparkplug message arrived.

Run as `python -m gateway.bench.mqttsub URL GROUP`; prints `ready` once
subscribed, then one line per message: `KIND ARRIVAL_S` for births, and
`DDATA ARRIVAL_S LATENCY_MS…` with each live metric's latency (arrival minus
the metric's timestamp, which the benchmark's driver sets to the change time).
"""

from __future__ import annotations

import asyncio
import sys
import time

from gateway.config import parse_server
from gateway.mqtt.client import connect
from gateway.mqtt.sparkplug import live_timestamps


async def _main(url: str, group: str) -> None:
    broker = parse_server(url)
    async with connect(
        broker, client_id=f"bench-sub-{time.time_ns()}", keepalive=30, timeout=10
    ) as c:
        await c.subscribe([f"spBv1.0/{group}/#"], qos=0)
        print("ready", flush=True)
        async for message in c.messages():
            arrival = time.time()
            kind = message.topic.split("/")[2]
            if kind != "DDATA":
                print(kind, f"{arrival:.6f}", flush=True)
                continue
            late = [f"{arrival * 1000 - ms:.2f}" for ms in live_timestamps(message.payload)]
            print("DDATA", f"{arrival:.6f}", *late, flush=True)


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1], sys.argv[2]))

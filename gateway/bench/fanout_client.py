"""One fan-out client process: subscribes to every benchmark tag and counts what arrives.

Run by `gateway bench fanout` (one process per client, so the clients' work
is not the gateway's). Protocol on stdin/stdout, one line each:

    → READY                       once every monitored item exists
    ← START T0                    count changes whose SourceTimestamp ≥ T0
    ← STOP T1                     … and < T1 (late notifications still count)
    ← REPORT                      once caught up (a change stamped CATCH_UP after T1
                                  arrived: the pipeline is FIFO, so every earlier one
                                  has too) or after REPORT_TIMEOUT, answer with one
                                  JSON line and stop counting:
    → {"values": {...}, ...}      per item index the values received, and counters
    (stdin closed)                exit

The values let the bench compare clients with each other: the gateway serves
one sequence of values per tag, so every client must receive the same set.
Counters are the loss indicators OPC UA and asyncua expose: a data message
whose SequenceNumber skips one (a lost publish response), StatusChange
notifications (e.g. a subscription timing out), and the Overflow info bit on
a value (a monitored item's queue discarded one; asyncua does not set it,
but a conformant server would).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from asyncua import ua
from asyncua.client.client import Client

from gateway.bench.report import percentile
from gateway.bench.uaclient import posix, subscribe, tag_nodes

__all__ = ["main", "tag_keys"]

#: StatusCode bits: InfoType = DataValue (0x400) and Overflow (0x80).
_OVERFLOW = 0x480
#: Seconds after the window a change must be stamped to show the client caught up
#: (devices publish a scan's values together, so stamps are ordered only roughly).
CATCH_UP = 0.5
#: Longest wait for catching up before reporting anyway (then "caught_up" is false).
REPORT_TIMEOUT = 30.0


def tag_keys(devices: int, tags: int) -> list[str]:
    """Every benchmark tag in subscription order: item index = device * tags + tag."""
    return [f"d{d:03d}.t{t}" for d in range(devices) for t in range(tags)]


class _Counter:
    """Records every value received with its stamps; a window is cut out when asked.

    Recording is not gated by the START/STOP lines: they reach each client
    at a slightly different moment than its notifications, and a window cut
    by arrival would differ between clients by what was in flight. Cut by
    SourceTimestamp, every client's window holds the same changes.
    """

    def __init__(self) -> None:
        self.first_handle = 0
        self.start = float("-inf")
        self.stop = float("inf")
        # Per item index: (SourceTimestamp, value, age at arrival), in arrival order.
        self.records: defaultdict[int, list[tuple[float, Any, float]]] = defaultdict(list)
        self.overflow = 0
        self.bad = 0
        self.sequence_gaps = 0
        self.status_changes = 0
        self.caught_up = asyncio.Event()
        self._last_sequence = 0

    def begin(self, start: float) -> None:
        """A new window from `start`: forget what came before it, and the counters."""
        self.start, self.stop = start, float("inf")
        self.caught_up.clear()
        self._forget_before(start)
        self.overflow = self.bad = self.sequence_gaps = self.status_changes = 0

    def _forget_before(self, moment: float) -> None:
        for index, kept in list(self.records.items()):
            self.records[index] = [r for r in kept if r[0] >= moment]

    def on_publish(self, result: ua.PublishResult, now: float) -> None:
        message = result.NotificationMessage
        data = message.NotificationData
        if not data:
            return  # a keep-alive: it carries the next number without using it
        sequence = message.SequenceNumber
        if self._last_sequence and sequence != self._last_sequence + 1:
            self.sequence_gaps += 1
        self._last_sequence = sequence
        for notification in data:
            if isinstance(notification, ua.StatusChangeNotification):
                self.status_changes += 1
            elif isinstance(notification, ua.DataChangeNotification):
                self._items(notification.MonitoredItems, now)

    def _items(self, items: Sequence[ua.MonitoredItemNotification], now: float) -> None:
        records, first, caught_up = self.records, self.first_handle, self.stop + CATCH_UP
        for item in items:
            value = item.Value
            source = posix(value.SourceTimestamp)
            if source >= caught_up:
                self.caught_up.set()
            code = value.StatusCode.value if value.StatusCode is not None else 0
            if code & _OVERFLOW == _OVERFLOW:
                self.overflow += 1
            if code >> 30:
                self.bad += 1
                continue
            records[item.ClientHandle - first].append((source, value.Value.Value, now - source))

    def report(self) -> dict[str, object]:
        """The window's values per item and counters; what follows it is kept."""
        start, stop = self.start, self.stop
        values: dict[str, list[Any]] = {}
        ages: list[float] = []
        for index, kept in self.records.items():
            inside = [r for r in kept if start <= r[0] < stop]
            if inside:
                values[str(index)] = [r[1] for r in inside]
                ages.extend(r[2] for r in inside)
        self._forget_before(stop)
        return {
            "values": values,
            "received": len(ages),
            "age_p50_ms": 1000 * percentile(ages, 0.5),
            "age_p99_ms": 1000 * percentile(ages, 0.99),
            "overflow": self.overflow,
            "bad": self.bad,
            "sequence_gaps": self.sequence_gaps,
            "status_changes": self.status_changes,
            "caught_up": self.caught_up.is_set(),
        }


async def _serve(url: str, devices: int, tags: int, publishing_ms: float) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    counter = _Counter()
    async with Client(url, timeout=60, watchdog_intervall=30) as client:
        nodes = await tag_nodes(client, tag_keys(devices, tags))
        subscription = await subscribe(
            client, nodes, publishing_ms=publishing_ms, handler=counter.on_publish
        )
        counter.first_handle = subscription.first_handle
        print("READY", flush=True)
        while line := (await reader.readline()).decode():
            command, _, argument = line.strip().partition(" ")
            if command == "START":
                counter.begin(float(argument))
            elif command == "STOP":
                counter.stop = float(argument)
            elif command == "REPORT":
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(counter.caught_up.wait(), REPORT_TIMEOUT)
                print(json.dumps(counter.report()), flush=True)
        await subscription.delete()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--devices", type=int, required=True)
    parser.add_argument("--tags", type=int, required=True, help="tags per device")
    parser.add_argument("--publishing", type=float, default=100.0, metavar="MS")
    args = parser.parse_args(argv)
    import logging  # noqa: PLC0415

    logging.basicConfig(level=logging.ERROR)
    from gateway.loop import run  # noqa: PLC0415

    run(_serve(args.url, args.devices, args.tags, args.publishing))


if __name__ == "__main__":
    main()

"""Staying responsive, the part of every attack test: `async with healthy(gateway, identity):`.

A legitimate operator client, connected before the attack starts, reads the
fast-changing tag together with the PLC's `_Status.State` and `_Status.Errors`
once a second for the whole attack, each read bounded by a 2 s timeout. Every
read must be Good, the state `ok`, and the error count must not grow; one more
read at the end checks the same. A failure names each bad read.

The client runs on its own event loop in a thread: the attack's own work in
the test process (encoding 10,000 monitored items, thousands of frames) then
cannot delay the healthy reads, so a missed read is the gateway's doing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from asyncua import ua
from attackkit import Gateway, Identity
from runlock import alone
from uaclients import legit_client, namespace_matches, node

__all__ = ["Health", "healthy"]

#: Seconds between two healthy reads, and the bound of each.
READ_INTERVAL = 1.0
READ_TIMEOUT = 2.0
#: Seconds the monitor may take to connect and see a first Good read.
START_TIMEOUT = 20.0
HEALTH_KEYS = ("plc.wave", "plc._Status.State", "plc._Status.Errors")


@dataclass
class Health:
    """What the healthy client saw: every read, the problems among them."""

    reads: int = 0
    baseline_errors: int | None = None
    problems: list[str] = field(default_factory=list)


class _Monitor:
    def __init__(self, gateway: Gateway, identity: Identity) -> None:
        self.gateway = gateway
        self.identity = identity
        self.health = Health()
        self.ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self.done: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._run, name="healthy client", daemon=True)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # reported to the test, never lost in the thread
            if not self.ready.done():
                self.ready.set_exception(error)
            self.health.problems.append(f"healthy client failed: {error!r}")
        finally:
            self.done.set_result(None)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with legit_client(self.gateway, self.identity, timeout=READ_TIMEOUT) as client:
            namespaces = await client.get_namespace_array()
            assert namespace_matches(namespaces), namespaces
            await self._first_good(client)
            self.ready.set_result(None)
            started = time.monotonic()
            while not self._stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), READ_INTERVAL)
                await self._check(client, f"at {time.monotonic() - started:.1f} s")
            await self._check(client, "at the end")

    async def _read(self, client: object) -> list[ua.DataValue]:
        items = [
            ua.ReadValueId(NodeId=node(k), AttributeId=ua.AttributeIds.Value) for k in HEALTH_KEYS
        ]
        parameters = ua.ReadParameters(NodesToRead=items)
        async with asyncio.timeout(READ_TIMEOUT):
            return list(await client.uaclient.read(parameters))  # type: ignore[attr-defined]

    async def _first_good(self, client: object) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            wave, state, errors = await self._read(client)
            if wave.StatusCode.is_good() and state.Value.Value == "ok":
                self.health.baseline_errors = int(errors.Value.Value)
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the PLC never became healthy: {wave}, {state.Value}")
            await asyncio.sleep(0.1)  # polling the gateway until the PLC is up

    async def _check(self, client: object, when: str) -> None:
        self.health.reads += 1
        try:
            wave, state, errors = await self._read(client)
        except TimeoutError:
            self.health.problems.append(f"{when}: no answer to a read within {READ_TIMEOUT:g} s")
            return
        except Exception as error:
            self.health.problems.append(f"{when}: the read failed: {error!r}")
            return
        if not wave.StatusCode.is_good():
            self.health.problems.append(f"{when}: plc.wave is {wave.StatusCode.name}")
        if state.Value.Value != "ok":
            self.health.problems.append(f"{when}: plc state is {state.Value.Value!r}")
        baseline = self.health.baseline_errors
        if baseline is not None and int(errors.Value.Value) > baseline:
            self.health.problems.append(
                f"{when}: plc errors grew from {baseline} to {errors.Value.Value}"
            )


@asynccontextmanager
async def healthy(gateway: Gateway, identity: Identity) -> AsyncIterator[Health]:
    """While the block runs, the gateway keeps serving a healthy client and its PLC.

    The client connects and sees a first Good read before the block starts;
    when it ends, the test fails with every bad read (unless the block itself
    failed: then they are added as a note).
    """
    # The attack and the healthy reads have the machine to themselves: other workers'
    # tests beside them would measure the machine, not the gateway (runlock.py).
    async with _alone(), _healthy_window(gateway, identity) as health:
        yield health


@asynccontextmanager
async def _alone() -> AsyncIterator[None]:
    """runlock.alone(), its waits in a thread so this loop keeps running."""
    block = alone()
    await asyncio.to_thread(block.__enter__)
    try:
        yield
    finally:
        await asyncio.to_thread(block.__exit__, None, None, None)


@asynccontextmanager
async def _healthy_window(gateway: Gateway, identity: Identity) -> AsyncIterator[Health]:
    monitor = _Monitor(gateway, identity)
    monitor.thread.start()
    try:
        async with asyncio.timeout(START_TIMEOUT + 10):
            await asyncio.wrap_future(monitor.ready)
    except BaseException:
        monitor.stop()
        monitor.thread.join(10)
        raise
    try:
        yield monitor.health
    except BaseException as error:
        monitor.stop()
        await _finished(monitor)
        if monitor.health.problems:
            error.add_note("healthy client: " + "; ".join(monitor.health.problems))
        raise
    monitor.stop()
    await _finished(monitor)
    problems = monitor.health.problems
    if problems:
        pytest.fail(
            f"the gateway did not stay responsive ({len(problems)} of "
            f"{monitor.health.reads} healthy reads bad): " + "; ".join(problems)
        )


async def _finished(monitor: _Monitor) -> None:
    """Wait for the monitor's last read and disconnect (bounded: read + disconnect)."""
    try:
        async with asyncio.timeout(READ_TIMEOUT + 10):
            await asyncio.wrap_future(monitor.done)
    except TimeoutError:
        monitor.health.problems.append("the healthy client did not stop within 12 s")

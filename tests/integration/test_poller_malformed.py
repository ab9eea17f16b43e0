"""A polled device whose peer misbehaves, over real TCP with the scripted fake slave.

The device has two read blocks: A (holding 0..1) always answers well, B
(holding 100..101) misbehaves in one way per case. Each case checks what
DESIGN.md §7 and §8 promise: B's tags get the case's status, A's tags keep
their last good value and timestamp as Uncertain while the connection is
down, the device's counters and state show it, the connection was reset, no
CPU spins meanwhile, and once the peer behaves the device is back to ok with
Good values. Leaving the acquisition leaks no task and no file descriptor.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import struct
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fakeslave import (
    FakeRequest,
    FakeSlave,
    Reply,
    Script,
    answer,
    frame,
    registers_script,
    tasks_outside_fakeslave,
)
from gatewaykit import Latest, make_config, wait_for

from gateway.bus import Bus
from gateway.errors import DeviceTimeout
from gateway.modbus.acquisition import Acquisition
from gateway.modbus.health import DeviceHealth, DeviceState
from gateway.modbus.link import Link
from gateway.model import Status, TagValue

GOOD = Status.GOOD
UNCERTAIN = Status.UNCERTAIN_NO_COMMUNICATION_LAST_USABLE_VALUE
COMM_ERROR = Status.BAD_COMMUNICATION_ERROR

A = ("fake.a0", "fake.a1")
B = ("fake.b0", "fake.b1")
B_START = 100
TAGS: list[dict[str, Any]] = [
    {"name": "a0", "table": "holding_register", "address": 0, "type": "uint16"},
    {"name": "a1", "table": "holding_register", "address": 1, "type": "uint16", "writable": True},
    {"name": "b0", "table": "holding_register", "address": B_START, "type": "uint16"},
    {"name": "b1", "table": "holding_register", "address": B_START + 1, "type": "uint16"},
]
#: registers_script's register n holds n.
WELL = {"fake.a0": 0, "fake.a1": 1, "fake.b0": B_START, "fake.b1": B_START + 1}
FAST: dict[str, Any] = {
    "scan_interval": "20ms",
    "timeout": "100ms",
    "reconnect_min": "20ms",
    "reconnect_max": "50ms",
    "demote_after": 0,
}
#: Process CPU time per wall second a failing device may cost (a spinning loop costs ~1).
CPU_SHARE = 0.3


def _open_sockets() -> int:
    """Sockets among this process's file descriptors (the loop's own fds, e.g.
    uvloop's lazily opened /dev/null, are not the code under test's)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the fd of the listing itself is gone
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


@dataclass
class Harness:
    slave: FakeSlave
    acquisition: Acquisition
    latest: Latest

    @property
    def health(self) -> DeviceHealth:
        return self.acquisition.health("fake")

    @property
    def link(self) -> Link:
        return self.acquisition.link("fake")

    def misbehave(self, fault: Script) -> None:
        """Block B's reads get `fault`'s answer; everything else is answered well."""
        self.slave.script = lambda r: fault(r) if _is_block_b(r) else registers_script(r)

    def behave(self) -> None:
        self.slave.script = registers_script

    def states_since(self, mark: int) -> list[DeviceState]:
        return [state for _, state in list(self.health.history)[mark:]]

    async def until_seen(
        self, predicate: Callable[[dict[str, TagValue]], bool], *, since: int, message: str
    ) -> tuple[dict[str, TagValue], dict[str, TagValue]]:
        """The first state after a batch (from batch `since` on) that satisfies `predicate`,
        with each tag's last Good value up to then.

        States are replayed batch by batch, so one that lasts a millisecond
        (a short backoff) is seen as surely as a lasting one.
        """
        deadline = time.monotonic() + 5.0
        while True:
            self.latest.pump()
            values: dict[str, TagValue] = {}
            good: dict[str, TagValue] = {}
            for index, batch in enumerate(self.latest.batches):
                for value in batch:
                    values[value.tag] = value
                    if value.status is GOOD:
                        good[value.tag] = value
                if index >= since and predicate(values):
                    return values, good
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {message}: {values}")
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def fake_device(
    script: Script = registers_script, **overrides: Any
) -> AsyncIterator[Harness]:
    """An Acquisition polling one device on a fake slave; checks for leaks on a clean exit."""
    sockets = _open_sockets()
    async with FakeSlave(script) as slave:
        tasks = tasks_outside_fakeslave()
        device = {"name": "fake", "host": "127.0.0.1", "port": slave.port, "tags": TAGS}
        bus = Bus()
        latest = Latest(bus.subscribe("test", maxsize=100_000))
        async with Acquisition(make_config([{**device, **FAST, **overrides}]), bus) as acq:
            yield Harness(slave, acq, latest)
        assert tasks_outside_fakeslave() == tasks  # no poller or helper task outlives it
        await slave.wait_connections_closed()  # the gateway closed its end
    await wait_for(lambda: _open_sockets() <= sockets, timeout=2.0, message="every socket closed")


def _is_block_b(request: FakeRequest) -> bool:
    function, address = struct.unpack_from(">BH", request.pdu)
    return function == 3 and address == B_START


def _pdu(request: FakeRequest) -> bytes:
    """The well-formed answer's PDU."""
    return b"".join(registers_script(request))[7:]


def _registers(*values: int) -> bytes:
    return struct.pack(f">{len(values)}H", *values)


def _all(status: Status, tags: tuple[str, ...]) -> Callable[[dict[str, TagValue]], bool]:
    return lambda v: all(tag in v and v[tag].status is status for tag in tags)


ALL_GOOD = _all(GOOD, A + B)


# ------------------------------------------------------------- failing peers


@dataclass(frozen=True)
class Failing:
    fault: Script
    b_status: Status  # B's status while failing; A's is always Uncertain
    error: str  # pattern in the device's last_error
    timeout: bool = False


FAILING = {
    "wrong transaction id": Failing(
        lambda r: [frame(r.tid + 1, r.unit, _pdu(r))],
        COMM_ERROR,
        r"^malformed response: transaction id \d+ in",
    ),
    "transaction id 0": Failing(
        lambda r: [frame(0, r.unit, _pdu(r))], COMM_ERROR, "transaction id 0 in"
    ),
    "wrong unit id": Failing(lambda r: [frame(r.tid, 9, _pdu(r))], COMM_ERROR, "unit id 9"),
    "wrong function code": Failing(
        lambda r: [frame(r.tid, r.unit, b"\x04" + _pdu(r)[1:])], COMM_ERROR, "function code 0x04"
    ),
    "byte count inconsistent with the data": Failing(
        lambda r: answer(r, b"\x03\x04" + _registers(1, 2, 3)), COMM_ERROR, "byte count 4"
    ),
    "more registers than asked": Failing(
        lambda r: answer(r, b"\x03\x06" + _registers(1, 2, 3)), COMM_ERROR, "3 registers"
    ),
    "fewer registers than asked": Failing(
        lambda r: answer(r, b"\x03\x02" + _registers(1)), COMM_ERROR, "1 registers"
    ),
    "MBAP length smaller than the frame": Failing(
        lambda r: [frame(r.tid, r.unit, _pdu(r), length=4)], COMM_ERROR, "byte count 4"
    ),
    "MBAP length beyond any frame": Failing(
        lambda r: [frame(r.tid, r.unit, _pdu(r), length=255)], COMM_ERROR, "MBAP length 255"
    ),
    "protocol id not 0": Failing(
        lambda r: [frame(r.tid, r.unit, _pdu(r), protocol=7)], COMM_ERROR, "protocol id 7"
    ),
    "MBAP length larger than the frame, then silence": Failing(
        lambda r: [frame(r.tid, r.unit, _pdu(r), length=20)],
        UNCERTAIN,
        "^no response from",
        timeout=True,
    ),
    "half-open: accepts and never answers": Failing(
        lambda r: None, UNCERTAIN, "^no response from", timeout=True
    ),
    "half-closed before answering": Failing(
        lambda r: Reply([], after="eof"), UNCERTAIN, r"^\S+ closed the connection"
    ),
    "closed in the middle of a frame": Failing(
        lambda r: Reply([b"".join(registers_script(r))[:9]], after="close"),
        UNCERTAIN,
        "^(connection to .* lost|.* closed the connection)",
    ),
}


@pytest.mark.parametrize("case", FAILING)
async def test_failing_block_gets_its_status_and_the_device_recovers(case: str) -> None:
    failing = FAILING[case]
    async with fake_device() as h:
        await h.latest.until(ALL_GOOD, message="first values")
        mark, errors, batches = len(h.health.history), h.health.errors, len(h.latest.batches)
        cpu, started = time.process_time(), time.monotonic()
        h.misbehave(failing.fault)

        got, good = await h.until_seen(
            lambda v: _all(failing.b_status, B)(v) and _all(UNCERTAIN, A)(v),
            since=batches,
            message=f"B {failing.b_status.name}, A Uncertain",
        )
        await wait_for(lambda: h.health.errors >= errors + 3, message="three failed cycles")
        cpu_share = (time.process_time() - cpu) / (time.monotonic() - started)
        assert cpu_share < CPU_SHARE, f"{cpu_share:.0%} of a core while failing"

        # Uncertain keeps the last value consumers saw as Good, with its timestamp.
        for tag in A + (B if failing.b_status is UNCERTAIN else ()):
            last = good[tag]
            assert (got[tag].value, got[tag].source_time) == (last.value, last.source_time)
            assert got[tag].value == WELL[tag]
        if failing.b_status is COMM_ERROR:
            assert all(got[tag].value is None for tag in B)
        health = h.health
        assert re.search(failing.error, health.last_error), health.last_error
        assert (health.timeouts > 0) == failing.timeout
        assert DeviceState.BACKOFF in h.states_since(mark)
        # The connection was reset (the stream may be out of sync) and reopened.
        await h.slave.connections[0].wait_closed()
        assert len(h.slave.connections) >= 2
        assert h.slave.open_connections <= 1

        h.behave()
        got = await h.latest.until(ALL_GOOD, message="Good again")
        await wait_for(lambda: h.health.state is DeviceState.OK, message="state ok")
        assert {tag: got[tag].value for tag in WELL} == WELL
        assert h.states_since(mark)[-3:] == [
            DeviceState.BACKOFF,
            DeviceState.CONNECTING,
            DeviceState.OK,
        ]
        assert h.health.consecutive_failures == 0


async def test_never_read_tags_are_bad_no_communication() -> None:
    async with fake_device(lambda r: None) as h:
        got = await h.latest.until(
            _all(Status.BAD_NO_COMMUNICATION, A + B), message="Bad_NoCommunication"
        )
        assert all(v.value is None and v.source_time is None for v in got.values())
        await wait_for(lambda: h.health.timeouts >= 2, message="two timeouts")
        assert h.health.last_poll_time is None
        assert h.health.state in (DeviceState.BACKOFF, DeviceState.CONNECTING, DeviceState.OK)


# ------------------------------------------------- odd but valid delivery


def _changed(request: FakeRequest) -> bytes:
    """A valid answer to B with new values (7, 8), so a test sees it was taken."""
    return frame(request.tid, request.unit, b"\x03\x04" + _registers(7, 8))


NEW_B = {"fake.b0": 7, "fake.b1": 8}


def _took_new_b(values: dict[str, TagValue]) -> bool:
    return all(
        tag in values and values[tag].value == value and values[tag].status is GOOD
        for tag, value in NEW_B.items()
    )


async def test_frame_split_into_one_byte_segments_is_good() -> None:
    async with fake_device() as h:
        await h.latest.until(ALL_GOOD, message="first values")
        mark = len(h.latest.batches)
        h.misbehave(lambda r: Reply([bytes([b]) for b in _changed(r)], gap=0.001))
        await h.latest.until(_took_new_b, message="B's new values from 1-byte segments")
        assert len(h.slave.connections) == 1  # nothing to reset
        assert h.health.errors == 0
        assert h.health.state is DeviceState.OK
        published = [v for batch in h.latest.batches[mark:] for v in batch]
        assert all(v.status is GOOD for v in published)


REOPENED: dict[str, Callable[[FakeRequest], Reply | list[bytes]]] = {
    "two frames in one segment": lambda r: [_changed(r) + frame(r.tid + 1, r.unit, b"\x03\x00")],
    "trailing garbage": lambda r: [_changed(r) + b"\xde\xad\xbe\xef"],
    "half-closed after answering": lambda r: Reply([_changed(r)], after="eof"),
}


@pytest.mark.parametrize("case", REOPENED)
async def test_valid_answer_then_reset_stays_good_and_reopens(case: str) -> None:
    """The answer itself was fine, so its values are Good; the stream was not, so
    the connection is reset, and reopened at the next request without a backoff."""
    async with fake_device() as h:
        await h.latest.until(ALL_GOOD, message="first values")
        mark, batches = len(h.health.history), len(h.latest.batches)
        cpu, started = time.process_time(), time.monotonic()
        h.misbehave(REOPENED[case])
        await h.latest.until(_took_new_b, message="B's new values")
        await wait_for(lambda: h.link.reopens >= 3, message="three reopened connections")
        assert (time.process_time() - cpu) / (time.monotonic() - started) < CPU_SHARE
        await h.slave.connections[0].wait_closed()
        assert len(h.slave.connections) >= 4
        assert h.slave.open_connections <= 1
        published = [v for batch in h.latest.batches[batches:] for v in batch]
        assert all(v.status is GOOD for v in published)
        assert h.health.errors == 0
        assert h.states_since(mark) == []  # never left ok
        assert h.health.state is DeviceState.OK


async def test_peer_that_closes_before_answering_meets_the_backoff() -> None:
    """The free reopen needs an answer in between: no reconnect storm."""
    async with fake_device() as h:
        await h.latest.until(ALL_GOOD, message="first values")
        batches = len(h.latest.batches)
        h.slave.script = lambda r: Reply([], after="close")
        started, connections = time.monotonic(), len(h.slave.connections)
        await wait_for(lambda: h.health.errors >= 4, message="four failures")
        elapsed = time.monotonic() - started
        # One connection per failure at most (plus the one reopen after the last answer).
        assert len(h.slave.connections) - connections <= h.health.errors + 1
        assert elapsed >= 3 * 0.010  # three backoffs of at least reconnect_min / 2
        await h.until_seen(_all(UNCERTAIN, A + B), since=batches, message="all Uncertain")


# ------------------------------------------------------------ writes and start


async def test_timed_out_write_is_reported_once_never_resent() -> None:
    writes: list[FakeRequest] = []

    def silent_on_writes(request: FakeRequest) -> list[bytes] | None:
        if request.pdu[0] == 6:
            writes.append(request)
            return None
        return registers_script(request)

    async with fake_device(silent_on_writes, scan_interval="50ms") as h:
        await h.latest.until(ALL_GOOD, message="first values")
        mark, errors, batches = len(h.health.history), h.health.errors, len(h.latest.batches)
        with pytest.raises(DeviceTimeout, match="outcome is unknown") as timed_out:
            await h.acquisition.write("fake.a1", 42)
        assert timed_out.value.status is Status.BAD_TIMEOUT
        # The write broke the connection: a failure of the device like any other.
        await h.until_seen(
            _all(UNCERTAIN, A + B), since=batches, message="Uncertain after the write"
        )
        assert h.health.timeouts == 1
        assert h.health.errors == errors + 1
        assert "function 6" in h.health.last_error
        got = await h.latest.until(ALL_GOOD, message="Good again after reconnecting")
        assert got["fake.a1"].value == 1
        await wait_for(lambda: h.health.state is DeviceState.OK, message="state ok")
        assert h.states_since(mark)[-3:] == [
            DeviceState.BACKOFF,
            DeviceState.CONNECTING,
            DeviceState.OK,
        ]
        scans = h.health.scans
        await wait_for(lambda: h.health.scans >= scans + 3, message="three more scans")
        assert len(writes) == 1  # never resent, not even on the new connection

"""A device is ok (and Connected) only once it answered: a TCP connect alone proves nothing.

A Modbus TCP gateway whose serial device is dead accepts connections and never
answers. Over real TCP, against the scripted fake slave (silent, or answering
when the test says so) and the bundled simulator (hung, then answering), the
state seen while a request waits on a fresh connection is connecting, the
first answer makes it ok, and a device that never answers goes connecting →
backoff → connecting … and never through ok, in the state history and the log.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

from fakeslave import FakeRequest, FakeSlave, Script, registers_script
from gatewaykit import PLC_POINTS, make_config, make_plant, wait_for

from gateway.bus import Bus
from gateway.modbus.acquisition import Acquisition
from gateway.modbus.health import DeviceHealth, DeviceState
from simulators.runtime import run_plant

POLLER_LOG = "gateway.modbus.poller"
TAG: list[dict[str, Any]] = [
    {"name": "a", "table": "holding_register", "address": 0, "type": "uint16"}
]
FAST: dict[str, Any] = {
    "scan_interval": "50ms",
    "timeout": "100ms",
    "reconnect_min": "20ms",
    "reconnect_max": "50ms",
    "demote_after": 0,
}


@dataclass(frozen=True, slots=True)
class Seen:
    """The device's health at the moment something happened."""

    state: DeviceState
    connected: bool
    last_answer: float | None  # POSIX time of the last answer (`_Status.LastPollTime`)


def _seen(health: DeviceHealth) -> Seen:
    return Seen(health.state, health.connected, health.last_poll_time)


def _states(health: DeviceHealth) -> list[DeviceState]:
    return [state for _, state in health.history]


class _StateLog(logging.Handler):
    """Each state-transition log line of one device, with the health at that instant."""

    def __init__(self, device: str) -> None:
        super().__init__(logging.INFO)
        self.prefix = f"device {device}: "
        self.health: DeviceHealth | None = None
        self.lines: list[tuple[str, Seen]] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith(self.prefix) and self.health is not None:
            self.lines.append((message, _seen(self.health)))


@contextmanager
def state_log(device: str) -> Iterator[_StateLog]:
    handler = _StateLog(device)
    logger = logging.getLogger(POLLER_LOG)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@asynccontextmanager
async def polled(port: int, **overrides: Any) -> AsyncIterator[Acquisition]:
    device = {"name": "plc", "host": "127.0.0.1", "port": port, "tags": TAG, **FAST, **overrides}
    async with Acquisition(make_config([device]), Bus(), seed=1) as acquisition:
        yield acquisition


async def test_a_peer_that_accepts_and_never_answers_is_never_ok() -> None:
    at_request: list[Seen] = []
    acquisition: Acquisition | None = None

    def silent(request: FakeRequest) -> None:
        assert acquisition is not None
        at_request.append(_seen(acquisition.health("plc")))  # the request waits for its answer

    with state_log("plc") as lines:
        async with FakeSlave(silent) as slave, polled(slave.port) as acquisition:
            health = acquisition.health("plc")
            lines.health = health
            await wait_for(
                lambda: len(slave.connections) >= 3 and health.timeouts >= 3,
                message="three connections, each timing out",
            )
    assert at_request, "the slave saw no request"
    assert {seen.state for seen in at_request} == {DeviceState.CONNECTING}
    assert not any(seen.connected for seen in at_request)
    states = _states(health)
    assert DeviceState.OK not in states
    assert states[:4] == [
        DeviceState.BACKOFF,
        DeviceState.CONNECTING,
        DeviceState.BACKOFF,
        DeviceState.CONNECTING,
    ]
    messages = [message for message, _ in lines.lines]
    assert "device plc: connecting → backoff: no response from 127.0.0.1:" in messages[0]
    assert not [message for message in messages if "→ ok" in message]


async def test_the_first_answer_on_a_new_connection_makes_the_device_ok() -> None:
    held: list[FakeRequest] = []

    def hold_the_first(request: FakeRequest) -> None:
        held.append(request)  # the test answers it below

    script: Script = hold_the_first
    with state_log("plc") as lines:
        async with FakeSlave(script) as slave, polled(slave.port, timeout="5s") as acquisition:
            health = acquisition.health("plc")
            lines.health = health
            await wait_for(lambda: bool(held), message="the first request")
            # Connected at the TCP level and asked; no answer yet.
            assert (health.state, health.connected) == (DeviceState.CONNECTING, False)
            assert lines.lines == []
            slave.script = registers_script
            for segment in registers_script(held[0]):
                slave.connections[0].writer.write(segment)
            await wait_for(lambda: health.state is DeviceState.OK, message="state ok")
            assert health.connected
            assert _states(health) == [DeviceState.OK]
    [(message, seen)] = lines.lines
    assert message.startswith("device plc: connecting → ok: answered in ")
    assert (seen.state, seen.connected) == (DeviceState.OK, True)
    assert seen.last_answer is not None


async def test_the_simulator_hung_then_answering_goes_ok_only_after_an_answer() -> None:
    async with run_plant(make_plant({"plc": PLC_POINTS})) as running:
        slave = running.slave("plc")
        slave.hang()  # accepts connections, never answers: a dead serial device behind it
        with state_log("plc") as lines:
            async with polled(slave.port) as acquisition:
                health = acquisition.health("plc")
                link = acquisition.link("plc")
                lines.health = health
                await wait_for(
                    lambda: link.connects >= 3 and health.timeouts >= 3,
                    message="three connections, each timing out",
                )
                assert DeviceState.OK not in _states(health)
                assert not any("→ ok" in message for message, _ in lines.lines)
                assert health.last_poll_time is None  # asked, never answered
                await slave.clear_faults()
                await wait_for(lambda: health.state is DeviceState.OK, message="state ok")
                slave.hang()  # again: reconnects, and the next ok needs a new answer
                timeouts, connects = health.timeouts, link.connects
                await wait_for(
                    lambda: health.timeouts >= timeouts + 2 and link.connects >= connects + 2,
                    message="two more connections, each timing out",
                )
                await slave.clear_faults()
                await wait_for(lambda: health.state is DeviceState.OK, message="ok again")
    # Every ok line comes after an answer newer than the last connecting line.
    answer_at_connecting: float | None = None
    oks = 0
    for message, seen in lines.lines:
        if "→ connecting" in message:
            answer_at_connecting = seen.last_answer
        if "→ ok" in message:
            oks += 1
            assert seen.last_answer not in (None, answer_at_connecting), message
            assert seen.connected
    assert oks >= 2


async def test_a_silent_unit_on_a_shared_connection_is_not_ok() -> None:
    """Its sibling's answers prove the link, not the silent unit behind it."""

    def script(request: FakeRequest) -> list[bytes] | None:
        return None if request.unit == 2 else registers_script(request)

    async with FakeSlave(script) as slave:
        devices = [
            {
                "name": f"u{unit}",
                "host": "127.0.0.1",
                "port": slave.port,
                "unit_id": unit,
                "connection": "bus",
                "tags": TAG,
                **FAST,
            }
            for unit in (1, 2)
        ]
        async with Acquisition(make_config(devices), Bus(), seed=1) as acquisition:
            answering, silent = acquisition.health("u1"), acquisition.health("u2")
            await wait_for(
                lambda: DeviceState.OK in _states(answering) and silent.timeouts >= 3,
                message="u1 ok at least once, u2 timing out three times",
            )
            assert DeviceState.OK not in _states(silent)

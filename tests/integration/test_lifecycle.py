"""The one lifecycle rule set (gateway.lifecycle), checked once for every long-running part.

Each part is entered and left for real (a SQLite historian, an OPC UA and an
HTTP server on free ports, simulated slaves on TCP). A failure while entering
is injected the same way for all of them: the first task a part asks its
TaskGroup for cannot start. What the part started before must be stopped again
(its own check below), no task may be left behind, and the error leaves as itself.
"""

from __future__ import annotations

import asyncio
import gc
import socket
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from gatewaykit import PLC_POINTS, make_plant
from pkikit import pki_dir

import gateway.lifecycle
from gateway.alarms import AlarmEngine
from gateway.alarms.notify import Deliverer
from gateway.app import Gateway
from gateway.bus import Bus
from gateway.config import GatewayConfig
from gateway.http import HttpServer
from gateway.lifecycle import Part
from gateway.modbus.acquisition import Acquisition
from gateway.opcua import OpcUaServer
from gateway.storage import Historian
from gateway.systemd import Notifier
from simulators.runtime import run_plant


class Refused(Exception):
    """The injected failure: a task that cannot start."""


class _RefusingTaskGroup(asyncio.TaskGroup):
    def create_task(self, coro: Coroutine[Any, Any, Any], **kwargs: Any) -> Any:  # type: ignore[override]
        coro.close()  # never scheduled: no "never awaited" warning
        raise Refused("the first task cannot start")


F32 = {"type": "float32"}


def _config(folder: Path, *, http: bool = False, notify: bool = False) -> GatewayConfig:
    return GatewayConfig.model_validate(
        {
            "gateway": {"name": "lifecycle"},
            "opcua": {
                "anonymous": True,
                "endpoint": "opc.tcp://127.0.0.1:0",
                "security": {"pki_dir": pki_dir()},
            },
            "storage": {"url": f"sqlite:///{folder / 'history.db'}", "flush_interval": "50ms"},
            # Nothing listens on port 1: the poller retries, which is all a lifecycle needs.
            "devices": [
                {
                    "name": "plc",
                    "host": "127.0.0.1",
                    "port": 1,
                    "tags": [
                        {
                            "name": "temp",
                            "table": "holding_register",
                            "address": 0,
                            "type": "float32",
                        }
                    ],
                }
            ],
            "alarms": [{"name": "hot", "tag": "plc.temp", "high": 30}],
            **({"http": {"listen": "127.0.0.1:0"}} if http else {}),
            **({"notifications": NOTIFY} if notify else {}),
        }
    )


def _refused(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


#: A running part, and a check that everything it started is stopped again.
Made = tuple[Part, Callable[[], bool]]


def _tasks_named(prefix: str) -> bool:
    return any(task.get_name().startswith(prefix) for task in asyncio.all_tasks())


def _acquisition(folder: Path) -> Made:
    return Acquisition(_config(folder), Bus()), lambda: not _tasks_named("poll ")


def _alarms(folder: Path) -> Made:
    bus = Bus()
    return AlarmEngine(_config(folder), bus), lambda: all(s.closed for s in bus.subscriptions)


def _historian(folder: Path) -> Made:
    historian = Historian(_config(folder), Bus())
    return historian, lambda: not historian.thread_running


def _opcua(folder: Path) -> Made:
    config, bus = _config(folder), Bus()
    server = OpcUaServer(config, Acquisition(config, bus), bus, config_dir=folder)
    thresholds = gc.get_threshold()

    def stopped() -> bool:
        restored = gc.get_threshold() == thresholds and gc.get_freeze_count() == 0
        return server.server is None and not bus.subscriptions and restored

    return server, stopped


def _http_stopped(http: HttpServer) -> bool:
    try:
        return _refused(http.port)
    except RuntimeError:  # not listening
        return True


def _http(folder: Path) -> Made:
    http = Gateway(_config(folder, http=True), config_dir=folder).http
    assert http is not None
    return http, lambda: _http_stopped(http)


def _systemd(folder: Path) -> Made:
    notifier = Notifier(str(folder / "notify"), watchdog=1.0)
    return notifier, lambda: not notifier.enabled


def _serving(folder: Path) -> Made:
    serving = run_plant(make_plant({"plc": PLC_POINTS, "boiler": PLC_POINTS}))
    return serving, lambda: not any(slave.listening for slave in serving.servers)


def _mqtt(folder: Path) -> Made:
    from gateway.app import plant_of
    from gateway.config import MqttConfig
    from gateway.mqtt.publisher import MqttPublisher

    config, bus = _config(folder), Bus()
    # Nothing listens on port 1: the publisher retries, which is all a lifecycle needs.
    settings = MqttConfig.model_validate(
        {"servers": ["mqtt://127.0.0.1:1"], "sparkplug": {"group": "lifecycle"}}
    )
    publisher = MqttPublisher(
        settings, plant_of(config, Acquisition(config, bus)), bus, config_dir=folder
    )
    return publisher, lambda: not _tasks_named("mqtt") and not bus.subscriptions


#: A log channel every alarm is routed to: the deliverer has a channel to close.
NOTIFY = {
    "channels": [{"name": "console", "type": "log"}],
    "routes": [{"alarms": ["*"], "to": ["console"]}],
}


def _notifications(folder: Path) -> Made:
    config = _config(folder, notify=True)
    deliverer = Deliverer(config, Historian(config, Bus()))
    return deliverer, lambda: not _tasks_named("notifications")


def _gateway(folder: Path) -> Made:
    gateway = Gateway(_config(folder, http=True), config_dir=folder)

    def stopped() -> bool:
        assert gateway.http is not None
        parts = not any(gateway.started().values()) and not gateway.historian.thread_running
        return parts and _http_stopped(gateway.http)

    return gateway, stopped


CASES: dict[str, Callable[[Path], Made]] = {
    "acquisition": _acquisition,
    "alarms": _alarms,
    "historian": _historian,
    "opcua": _opcua,
    "http": _http,
    "mqtt": _mqtt,
    "notifications": _notifications,
    "systemd": _systemd,
    "serving": _serving,
    "gateway": _gateway,
}


@pytest.fixture(params=sorted(CASES))
def made(request: pytest.FixtureRequest, tmp_path: Path) -> Made:
    return CASES[request.param](tmp_path)


@pytest.fixture
def refusing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gateway.lifecycle, "TaskGroup", _RefusingTaskGroup)


def _others() -> set[asyncio.Task[Any]]:
    return asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]


async def test_enters_and_leaves(made: Made) -> None:
    part, stopped = made
    async with part:
        assert _others(), "a running part runs tasks"
        assert not stopped()
    assert stopped()
    assert not _others()


async def test_an_error_in_the_block_leaves_as_itself_after_stopping(made: Made) -> None:
    part, stopped = made
    with pytest.raises(ZeroDivisionError):
        async with part:
            _ = 1 / 0
    assert stopped()
    assert not _others()


async def test_a_failure_while_entering_stops_what_was_started(made: Made, refusing: None) -> None:
    part, stopped = made
    with pytest.raises(Refused):
        async with part:
            pytest.fail("entered although its first task could not start")
    assert stopped()
    assert not _others()


async def test_a_part_runs_once(made: Made) -> None:
    part, _ = made
    async with part:
        with pytest.raises(RuntimeError, match="runs once"):
            async with part:
                pytest.fail("entered twice")
    with pytest.raises(RuntimeError, match="runs once"):
        async with part:
            pytest.fail("entered again after it stopped")

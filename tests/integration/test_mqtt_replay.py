"""Store and forward: a broker outage, then the missed readings replayed from the historian."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from gatewaykit import PLC_POINTS, make_plant, plc_device
from mqttkit import BdSeqCounter, mosquitto, recorder

from gateway.app import plant_of
from gateway.bus import Bus
from gateway.config import GatewayConfig
from gateway.modbus.acquisition import Acquisition
from gateway.mqtt.publisher import MqttPublisher
from gateway.mqtt.state import ConnectionState
from gateway.storage import Historian
from simulators.runtime import RunningPlant, run_plant


async def _until(predicate: Any, message: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {message}")
        await asyncio.sleep(0.01)


async def test_outage_replayed_as_historical_metrics_once(tmp_path: Path) -> None:
    with mosquitto(tmp_path) as broker:
        async with run_plant(make_plant({"plc": PLC_POINTS})) as running:
            config = GatewayConfig.model_validate(
                {
                    "gateway": {"name": "gw"},
                    "storage": {"url": f"sqlite:///{tmp_path / 'gw.db'}", "flush_interval": 0.1},
                    "devices": [plc_device(running)],
                    "mqtt": {
                        "servers": [broker.url],
                        "reconnect_max": 0.3,
                        "sparkplug": {"group": "replay"},
                        "replay": 3600,
                    },
                }
            )
            assert config.mqtt is not None
            bus = Bus()
            historian = Historian(config, bus)
            acquisition = Acquisition(config, bus, seed=1)
            publisher = MqttPublisher(
                config.mqtt,
                plant_of(config, acquisition),
                bus,
                bd_seq=BdSeqCounter(),
                history=historian,
                replay_settle=1.0,  # the recorder subscribes meanwhile
                config_dir=tmp_path,
            )
            state = publisher.state
            unit = running.slave("plc").unit(1)
            level = "plc.level"
            async with historian, acquisition, publisher:
                await _until(lambda: state.acked_until is not None, "a confirmed send")
                unit.set("level", 0.5)
                await _until(lambda: acquisition.current([level])[0].value == 0.5, "0.5 polled")
                confirmed = state.acked_until
                await _until(lambda: state.acked_until != confirmed, "0.5 confirmed")
                before_outage = state.acked_until
                assert before_outage is not None
                broker.kill()
                await _until(lambda: state.state is ConnectionState.BACKOFF, "the outage")
                for missed in (1.0, 2.0, 3.0):
                    unit.set("level", missed)
                    await _until(
                        lambda m=missed: acquisition.current([level])[0].value == m,  # type: ignore[misc]
                        f"{missed} polled",
                    )
                broker.start()
                async with recorder(broker.port, "spBv1.0/replay/#") as record:
                    await _until(
                        lambda: state.replay_sent > 0 and not state.replay_active, "replay"
                    )
                    await asyncio.sleep(0)
                    alias = publisher.catalog.by_key[level].alias
                    await record.until(
                        lambda: _historical(record, alias), message="historical level values"
                    )
                    replayed = _historical(record, alias)
        assert [metric.value for metric in replayed] == [1.0, 2.0, 3.0]
        assert all(metric.timestamp_ms > before_outage * 1000 for metric in replayed)
        assert state.replay_from == before_outage


@asynccontextmanager
async def _replay_rig(
    tmp_path: Path, url: str, **sparkplug: Any
) -> AsyncIterator[tuple[RunningPlant, Acquisition, MqttPublisher]]:
    async with run_plant(make_plant({"plc": PLC_POINTS})) as running:
        config = GatewayConfig.model_validate(
            {
                "gateway": {"name": "gw"},
                "storage": {"url": f"sqlite:///{tmp_path / 'gw.db'}", "flush_interval": 0.1},
                "devices": [plc_device(running)],
                "mqtt": {
                    "servers": [url],
                    "reconnect_max": 0.3,
                    "sparkplug": {"group": "replay", **sparkplug},
                    "replay": 3600,
                },
            }
        )
        assert config.mqtt is not None
        bus = Bus()
        historian = Historian(config, bus)
        acquisition = Acquisition(config, bus, seed=1)
        publisher = MqttPublisher(
            config.mqtt,
            plant_of(config, acquisition),
            bus,
            bd_seq=BdSeqCounter(),
            history=historian,
            replay_settle=0.3,
            config_dir=tmp_path,
        )
        async with historian, acquisition, publisher:
            yield running, acquisition, publisher


async def test_primary_host_return_replays_what_it_missed(tmp_path: Path) -> None:
    level = "plc.level"
    state_topic = "spBv1.0/STATE/scada"
    with mosquitto(tmp_path) as broker:
        async with (
            recorder(broker.port, "spBv1.0/replay/#") as record,
            _replay_rig(tmp_path, broker.url, primary_host="scada") as (running, acquisition, pub),
        ):
            state, unit = pub.state, running.slave("plc").unit(1)
            now = int(time.time() * 1000)
            online = json.dumps({"online": True, "timestamp": now}).encode()
            await record.publish(state_topic, online, retain=True)
            await _until(lambda: state.acked_until is not None, "a confirmed send")
            offline = json.dumps({"online": False, "timestamp": now + 1}).encode()
            await record.publish(state_topic, offline, retain=True)
            await _until(lambda: state.state is ConnectionState.WAITING_FOR_HOST, "host offline")
            for missed in (4.0, 5.0):
                unit.set("level", missed)
                await _until(
                    lambda m=missed: acquisition.current([level])[0].value == m,  # type: ignore[misc]
                    f"{missed} polled",
                )
            back = json.dumps({"online": True, "timestamp": now + 2}).encode()
            await record.publish(state_topic, back, retain=True)
            alias = pub.catalog.by_key[level].alias
            await record.until(lambda: _historical(record, alias), message="the replay")
            await _until(lambda: not state.replay_active and state.replay_sent > 0, "done")
            assert [m.value for m in _historical(record, alias)] == [4.0, 5.0]


def _historical(record: Any, alias: int) -> list[Any]:
    return [
        metric
        for message in record.of("DDATA", "plc")
        for metric in message.sparkplug.metrics
        if metric.historical and metric.alias == alias
    ]

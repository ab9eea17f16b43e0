"""A started gateway keeps none of the per-tag configuration models (docs/performance.md).

The running parts work from their own per-tag records (runtime tags, the
historian's policies, the alarm machines, the OPC UA bindings); at 100k tags
the pydantic `TagConfig`s cost 0.7 KB each. Weak references to every one of
them tell whether anything still holds one once the caller let go of the
configuration: deterministic, since they hold no cycles and are freed at once.
"""

from __future__ import annotations

import gc
import json
import logging
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asyncua import ua
from eventually import eventually
from gatewaykit import FAST_DEVICE, PLC_POINTS, PLC_TAGS, make_plant
from opcuakit import OPEN, connect

import gateway.app
import gateway.cli.plant
from gateway.app import Gateway, run_until_signalled
from gateway.cli import main
from gateway.config import GatewayConfig, LoadedConfig, TagConfig, load_config
from gateway.forkedread import ForkedRead
from gateway.model import Status
from simulators.runtime import run_plant


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    """`gateway run` freezes what start-up built; later tests get a collector as usual."""
    yield
    gc.unfreeze()


def _write_config(folder: Path, port: int) -> Path:
    """Every part that reads per-tag settings: storage modes, an alarm, a ranged writable tag."""
    tags: list[dict[str, Any]] = [dict(tag) for tag in PLC_TAGS]
    tags[0] = {**tags[0], "storage": "sampled", "sample_interval": "1s"}
    config = {
        "gateway": {"name": "released"},
        "opcua": {**OPEN, "security": {**OPEN["security"], "pki_dir": str(folder / "pki")}},
        "storage": {"url": f"sqlite:///{folder / 'history.db'}"},
        "devices": [
            {"name": "plc", "host": "127.0.0.1", "port": port, **FAST_DEVICE, "tags": tags}
        ],
        "alarms": [{"name": "hot", "tag": "plc.temp", "high": 20, "severity": 500}],  # 21.5 degC
    }
    path = folder / "gateway.yaml"
    path.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
    return path


def _tag_models(config: GatewayConfig) -> list[weakref.ref[TagConfig]]:
    models = [weakref.ref(tag) for device in config.devices for tag in device.tags]
    assert models, "the configuration has tags"
    return models


def _alive(models: list[weakref.ref[TagConfig]]) -> list[str]:
    gc.collect()  # not needed today (no cycles); a cycle must not hide a reference either
    return [tag.name for tag in (ref() for ref in models) if tag is not None]


async def test_a_started_gateway_keeps_no_tag_models_and_still_serves_them(
    tmp_path: Path,
) -> None:
    async with run_plant(make_plant({"plc": PLC_POINTS})) as plant:
        loaded: list[LoadedConfig] = [load_config(_write_config(tmp_path, plant.slave("plc").port))]
        models = _tag_models(loaded[0].config)
        gateway = Gateway(loaded.pop().config, config_dir=tmp_path)
        assert _alive(models) == []  # gone once built, before anything started
        async with gateway:
            assert _alive(models) == []
            assert gateway.config.devices[0].tags == ()
            assert len(gateway.acquisition.tags) == len(PLC_TAGS)

            def setpoint_good() -> bool:
                (value,) = gateway.acquisition.current(["plc.setpoint"])
                return value.status is Status.GOOD

            await eventually(setpoint_good, what="plc.setpoint Good")
            # What the models told, from the runtime records: range and writability
            # (OPC UA writes), unit (the alarm), sampled storage (the historian).
            async with connect(f"opc.tcp://127.0.0.1:{gateway.opcua.port}", user="op",
                               password="op-secret") as client:  # fmt: skip
                node = client.get_node(ua.NodeId("plc.setpoint", gateway.opcua.namespace_index))
                with pytest.raises(ua.UaStatusCodeError, match="OutOfRange"):
                    await node.write_value(ua.DataValue(ua.Variant(150.0, ua.VariantType.Float)))
                await node.write_value(ua.DataValue(ua.Variant(42.0, ua.VariantType.Float)))

            def written() -> bool:
                (value,) = gateway.acquisition.current(["plc.setpoint"])
                return value.value == 42.0

            await eventually(written, what="the write read back")
            hot = await eventually(lambda: gateway.alarms.snapshot("hot").active, what="alarm")
            assert hot
            assert "degC" in gateway.alarms.snapshot("hot").message
        assert _alive(models) == []


async def test_run_until_signalled_keeps_no_tag_models(tmp_path: Path) -> None:
    config = load_config(_write_config(tmp_path, 1)).config  # nobody listens on port 1
    models = _tag_models(config)
    alive_when_running: list[list[str]] = []
    configs = [config]
    del config
    await run_until_signalled(
        configs.pop(),
        config_dir=tmp_path,
        duration=0,
        running=lambda: alive_when_running.append(_alive(models)),
    )
    assert alive_when_running == [[]]


def test_gateway_run_keeps_no_tag_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The command itself: its own frames must let go of the configuration too.

    The loader and the ready status are wrapped (not replaced) to see the models
    and to look at them once every part runs.
    """
    path = _write_config(tmp_path, 1)
    models: list[weakref.ref[TagConfig]] = []
    alive_when_running: list[list[str]] = []
    load = gateway.cli.plant.load_with_warnings
    ready = gateway.app._ready_status

    def load_and_see(config: Path, *, started: ForkedRead | None = None) -> LoadedConfig:
        loaded = load(config, started=started)
        models.extend(_tag_models(loaded.config))
        return loaded

    def ready_and_look(running: Gateway) -> str:
        alive_when_running.append(_alive(models))
        return ready(running)

    monkeypatch.setattr(gateway.cli.plant, "load_with_warnings", load_and_see)
    monkeypatch.setattr(gateway.app, "_ready_status", ready_and_look)
    caplog.set_level(logging.INFO)
    assert main(["run", "-c", str(path), "--duration", "0"]) == 0
    assert len(models) == len(PLC_TAGS)
    assert alive_when_running == [[]]

"""The demo's packaged config stays examples/demo.yaml plus demo access: no drift."""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

from gateway.config import load_config

ROOT = Path(__file__).resolve().parents[2]


def test_demo_config_is_the_example_plus_anonymous_access_on_an_unsecured_endpoint() -> None:
    example = load_config(ROOT / "examples" / "demo.yaml", environ={}).config
    with as_file(files("gateway.demo") / "gateway.yaml") as path:
        demo = load_config(path, environ={}).config
    assert demo.devices == example.devices  # the defaults are the plant file's ports
    assert demo.alarms == example.alarms
    assert demo.opcua.users == example.opcua.users
    assert demo.gateway == example.gateway
    assert demo.opcua.endpoint == example.opcua.endpoint == "opc.tcp://127.0.0.1:4840"
    assert demo.opcua.anonymous
    assert demo.opcua.security.allow_none
    assert not example.opcua.anonymous
    assert not example.opcua.security.allow_none
    assert demo.opcua.security.policies == example.opcua.security.policies
    assert demo.opcua.security.modes == example.opcua.security.modes


def test_demo_config_reaches_the_plant_through_its_port_variables() -> None:
    environ = {
        "GATEWAY_DEMO_OPCUA_PORT": "4999",
        "GATEWAY_DEMO_BOILER_PORT": "6001",
        "GATEWAY_DEMO_COMPRESSOR_PORT": "6002",
        "GATEWAY_DEMO_TANK_FARM_PORT": "6003",
    }
    with as_file(files("gateway.demo") / "gateway.yaml") as path:
        demo = load_config(path, environ=environ).config
    assert demo.opcua.endpoint == "opc.tcp://127.0.0.1:4999"
    assert {device.name: device.port for device in demo.devices} == {
        "boiler": 6001,
        "compressor": 6002,
        "compressor_vfd": 6002,
        "tank_farm": 6003,
    }

"""The demo's packaged config stays examples/demo.yaml plus demo access: no drift."""

from __future__ import annotations

import re
from importlib.resources import as_file, files
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.config.published import PUBLISHED_PASSWORDS
from gateway.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
DEMO_PASSWORDS = {
    "GATEWAY_OPERATOR_PASSWORD": "demo-operator",
    "GATEWAY_VIEWER_PASSWORD": "demo-viewer",
}


def test_the_published_passwords_are_the_demo_files_passwords() -> None:
    """`gateway run` warns about exactly the passwords the demo hands out."""
    with as_file(files("gateway.demo") / "gateway.yaml") as path:
        demo = load_config(path, environ={}).config
    assert {u.password.get_secret_value() for u in demo.opcua.users} == PUBLISHED_PASSWORDS
    assert set(DEMO_PASSWORDS.values()) == PUBLISHED_PASSWORDS


@pytest.mark.parametrize(
    "example", sorted((ROOT / "examples").glob("*.yaml")), ids=lambda p: p.name
)
def test_no_example_has_a_default_password(example: Path) -> None:
    """Outside the demo a password comes from the environment or the file is refused."""
    with pytest.raises(ConfigError) as caught:
        load_config(example, environ={})
    issues = caught.value.issues
    assert issues, example
    for issue in issues:
        assert re.fullmatch(r"opcua\.users\[\d+\]\.password", issue.path), issue
        assert "is not set" in issue.message
    users = load_config(example, environ=DEMO_PASSWORDS).config.opcua.users
    assert len(issues) == len(users) >= 1


def test_demo_config_is_the_example_plus_anonymous_access_on_an_unsecured_endpoint() -> None:
    example = load_config(ROOT / "examples" / "demo.yaml", environ=DEMO_PASSWORDS).config
    with as_file(files("gateway.demo") / "gateway.yaml") as path:
        demo = load_config(path, environ={}).config
    assert demo.devices == example.devices  # the defaults are the plant file's ports
    assert demo.alarms == example.alarms
    assert demo.opcua.users == example.opcua.users  # the demo's defaults are the published ones
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
        "GATEWAY_DEMO_METER_PORT": "6004",
    }
    with as_file(files("gateway.demo") / "gateway.yaml") as path:
        demo = load_config(path, environ=environ).config
    assert demo.opcua.endpoint == "opc.tcp://127.0.0.1:4999"
    assert {device.name: device.port for device in demo.devices} == {
        "boiler": 6001,
        "compressor": 6002,
        "compressor_vfd": 6002,
        "tank_farm": 6003,
        "meter": 6004,
    }

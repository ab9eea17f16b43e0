"""The `mqtt:` section: off unless given, servers in order, the password from the environment."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gateway.config import BrokerAddress, GatewayConfig, load_config, parse_server
from gateway.errors import ConfigError


def _load(tmp_path: Path, mqtt: str, environ: dict[str, str] | None = None) -> GatewayConfig:
    path = tmp_path / "gateway.yaml"
    path.write_text("gateway: {name: g}\n" + textwrap.dedent(mqtt), encoding="utf-8")
    return load_config(path, environ=environ or {}).config


def test_off_unless_given_and_the_contract_example(tmp_path: Path) -> None:
    assert _load(tmp_path, "").mqtt is None
    config = _load(
        tmp_path,
        """\
        mqtt:
          servers: [mqtt://127.0.0.1:1883, mqtts://broker2.plant]
          client_id: demo-plant
          username: gw
          password: "${MQTT_PASSWORD}"
          tls: {ca: ca.pem, cert: client.pem, key: client.key}
          keepalive: 30s
          sparkplug:
            group: plant1
            edge_node: demo-plant
            primary_host: scada
            commands: false
          json:
            topic: "{gateway}/{device}/{tag}"
            qos: 1
            retain: true
          replay: 24h
        """,
        {"MQTT_PASSWORD": "s3cret"},
    )
    mqtt = config.mqtt
    assert mqtt is not None
    assert mqtt.brokers == (
        BrokerAddress("127.0.0.1", 1883, False),
        BrokerAddress("broker2.plant", 8883, True),
    )
    assert mqtt.password is not None
    assert mqtt.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(mqtt)
    assert mqtt.keepalive == 30.0
    assert mqtt.replay == 86400.0
    assert mqtt.sparkplug is not None
    assert mqtt.sparkplug.primary_host == "scada"
    assert mqtt.json_ is not None
    assert mqtt.json_.qos == 1


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("http://broker", "expected mqtt://HOST"),
        ("mqtt://", "expected mqtt://HOST"),
        ("mqtt://h:99999", "port"),
        ("mqtt://user:pw@h", "no user"),
        ("mqtt://h/path", "no path"),
    ],
)
def test_server_urls_checked(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_server(text)


@pytest.mark.parametrize(
    ("section", "where"),
    [
        ("mqtt: {servers: []}", "servers"),
        ("mqtt: {sparkplug: {group: a/b}}", "group"),
        ('mqtt: {json: {topic: "{site}/{tag}"}}', "topic"),
        ('mqtt: {json: {topic: "a/#"}}', "topic"),
        ("mqtt: {json: {qos: 3}}", "qos"),
        ("mqtt: {tls: {cert: c.pem}}", "key"),
        ("mqtt: {keepalive: 30}", "keepalive"),
        ("mqtt: {colour: blue}", "colour"),
    ],
)
def test_mistakes_are_located(tmp_path: Path, section: str, where: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, section + "\n")
    assert where in str(caught.value)
    assert "line 2" in str(caught.value) or ":2:" in str(caught.value)

"""The `mqtt:` section: north-bound MQTT, a Sparkplug B edge node and a plain-JSON namespace.

Off unless the section is there. Servers are tried in order (the Sparkplug
failover of chapter 8); `mqtts://` means TLS. The password is best given as
`${VAR}` so it comes from the environment, never from the file itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from gateway.config.types import ConfigModel, Duration
from gateway.config.validation import raise_located

__all__ = [
    "BrokerAddress",
    "JsonConfig",
    "MqttConfig",
    "MqttTlsConfig",
    "SparkplugConfig",
    "parse_server",
]

_SCHEMES = {"mqtt": (1883, False), "tcp": (1883, False), "mqtts": (8883, True), "ssl": (8883, True)}
_SERVER_HELP = "expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT]"
#: Placeholders a JSON topic may use.
_TOPIC_FIELDS = ("gateway", "device", "tag")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
#: Sparkplug topic elements must not hold MQTT wildcards or separators.
_SPARKPLUG_ID = re.compile(r"[^/+#]+")


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """One broker: where it is and whether the connection is TLS."""

    host: str
    port: int
    tls: bool

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'mqtts' if self.tls else 'mqtt'}://{host}:{self.port}"


def parse_server(text: str) -> BrokerAddress:
    """The broker of `mqtt://host:port` or `mqtts://host:port`; ValueError says what is wrong."""
    parts = urlsplit(text.strip())
    if parts.scheme not in _SCHEMES:
        raise ValueError(f"{_SERVER_HELP}, got {text!r}")
    default_port, tls = _SCHEMES[parts.scheme]
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{_SERVER_HELP}: the port must be 1..65535, got {text!r}") from None
    if not parts.hostname or parts.path not in ("", "/") or parts.query or parts.username:
        raise ValueError(
            f"{_SERVER_HELP} (no path, no user: give username and password keys), got {text!r}"
        )
    return BrokerAddress(parts.hostname, port or default_port, tls)


class MqttTlsConfig(ConfigModel):
    """`mqtt.tls:`: certificates for `mqtts://` servers (all optional)."""

    ca: Path | None = Field(
        default=None,
        description="CA certificate(s) (PEM) the broker's certificate is checked against, "
        "relative to the config file; default: the system's trusted CAs.",
    )
    cert: Path | None = Field(
        default=None, description="Client certificate (PEM) for brokers that ask for one."
    )
    key: Path | None = Field(default=None, description="Private key (PEM) of `cert`.")

    @model_validator(mode="after")
    def _pair(self) -> MqttTlsConfig:
        if (self.cert is None) != (self.key is None):
            missing = "key" if self.key is None else "cert"
            raise_located(type(self).__name__, [((missing,), "cert and key go together")], None)
        return self


class SparkplugConfig(ConfigModel):
    """`mqtt.sparkplug:`: a Sparkplug B 3.0 edge node (docs/mqtt.md)."""

    group: str = Field(description="Sparkplug group id (the topic's second element).")
    edge_node: str | None = Field(
        default=None, description="Edge node id; default: the gateway name."
    )
    primary_host: str | None = Field(
        default=None,
        description="Host application id: publish only while spBv1.0/STATE/<id> says it is "
        "online. Default: publish whenever connected.",
    )
    commands: bool = Field(
        default=False,
        description="Accept DCMD writes to writable tags (checked like an OPC UA operator's "
        "write). Off: every DCMD is refused, logged and counted.",
    )

    @field_validator("group", "edge_node", "primary_host")
    @classmethod
    def _topic_safe(cls, value: str | None) -> str | None:
        if value is not None and not _SPARKPLUG_ID.fullmatch(value):
            raise ValueError(f"must not be empty or hold '/', '+' or '#', got {value!r}")
        return value


class JsonConfig(ConfigModel):
    """`mqtt.json:`: one topic per tag with the value, status and time as JSON."""

    topic: str = Field(
        default="{gateway}/{device}/{tag}",
        description="Topic of each tag; placeholders {gateway}, {device} and {tag}.",
    )
    qos: int = Field(default=1, ge=0, le=2, description="MQTT QoS of the messages (0, 1, 2).")
    retain: bool = Field(
        default=True, description="Retained: a new subscriber gets each tag's last value at once."
    )

    @field_validator("topic")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        unknown = [name for name in _PLACEHOLDER.findall(value) if name not in _TOPIC_FIELDS]
        if unknown:
            raise ValueError(
                f"unknown placeholder {{{unknown[0]}}}: use {{gateway}}, {{device}}, {{tag}}"
            )
        if "+" in value or "#" in value or not value.strip("/"):
            raise ValueError(f"a topic to publish to has no wildcard and is not empty: {value!r}")
        return value


class MqttConfig(ConfigModel):
    """`mqtt:`: publish to MQTT brokers (docs/mqtt.md). Off unless the section is given."""

    servers: tuple[str, ...] = Field(
        default=("mqtt://127.0.0.1:1883",),
        min_length=1,
        max_length=16,
        description="Brokers, tried in order until one accepts (`mqtt://HOST:PORT`; "
        "`mqtts://` is TLS, default port 8883).",
    )
    client_id: str | None = Field(
        default=None, description="MQTT client id; default: the gateway name."
    )
    username: str | None = Field(default=None, description="User name for the brokers.")
    password: SecretStr | None = Field(
        default=None,
        description="Password; use `${VAR}` to read it from the environment. Never logged.",
    )
    tls: MqttTlsConfig | None = Field(
        default=None, description="CA and client certificates for `mqtts://` servers (below)."
    )
    keepalive: Duration = Field(
        default=30.0, description="MQTT keepalive: the broker drops a silent client after 1.5×."
    )
    connect_timeout: Duration = Field(
        default=10.0, description="Longest one connection attempt to one server may take."
    )
    reconnect_max: Duration = Field(
        default=30.0,
        description="Longest wait between two rounds over the servers (starts at 0.5 s, "
        "doubles, with jitter).",
    )
    sparkplug: SparkplugConfig | None = Field(
        default=None, description="Sparkplug B edge node (below); off unless given."
    )
    json_: JsonConfig | None = Field(
        default=None,
        alias="json",
        description="Plain JSON namespace (below); off unless given.",
    )
    replay: Duration | None = Field(
        default=None,
        description="Store and forward: after an outage, readings stored in the historian up "
        "to this old are published as historical Sparkplug metrics. Off unless given.",
    )

    @field_validator("servers")
    @classmethod
    def _valid_servers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for server in value:
            parse_server(server)
        return tuple(server.strip() for server in value)

    @field_validator("client_id")
    @classmethod
    def _client_id(cls, value: str | None) -> str | None:
        if value is not None and not 1 <= len(value.encode()) <= 65535:
            raise ValueError("must be 1 to 65535 bytes")
        return value

    @property
    def brokers(self) -> tuple[BrokerAddress, ...]:
        return tuple(parse_server(server) for server in self.servers)

"""Configuration: YAML files → frozen pydantic models, with file:line errors.

yamlsource.py   read a YAML file; map key paths to lines; syntax errors
yamlevents.py   a clean file's data straight from the parser's events (no node tree)
yamlbounds.py   refuse a file whose aliases expand too far or that nests too deep
yamlbuild.py    nodes → plain data: YAML 1.2 scalars, ${VAR}, duplicate keys, x- keys
validation.py   pydantic errors → worded, located issues; Finding
loader.py       load_model (any file kind), load_config (gateway files)
types.py        durations, names, Modicon refs, the frozen base model
tags.py         TagConfig and its single-tag rules
alarms.py       AlarmConfig (limit or discrete)
http.py         HttpConfig: the `http:` section (listen, TLS, insecure, sessions)
notifications.py  the `notifications:` section: channels, routes, rate limit
mqtt.py         MqttConfig: the `mqtt:` section (brokers, Sparkplug B, JSON, replay)
serial.py       how a device is reached: Transport, a serial line's settings
models.py       GatewayConfig and its sections, DeviceConfig
checks.py       cross-item checks: duplicates, overlaps, alarm references
lines.py        shared RTU lines: which devices share one, what cannot work on one
"""

from gateway.config.alarms import LIMIT_KEYS, MESSAGE_FIELDS, AlarmConfig, AlarmKind
from gateway.config.checks import check_config
from gateway.config.http import HttpConfig, TlsConfig
from gateway.config.loader import LoadedConfig, load_config, load_model, resolve_sqlite_url
from gateway.config.models import (
    DeviceConfig,
    GatewayConfig,
    GatewaySection,
    OpcUaConfig,
    OpcUaLimitsConfig,
    ResolvedTag,
    Role,
    SecurityConfig,
    SecurityMode,
    SecurityPolicy,
    StorageConfig,
    Synchronous,
    UserConfig,
)
from gateway.config.mqtt import (
    BrokerAddress,
    JsonConfig,
    MqttConfig,
    MqttTlsConfig,
    SparkplugConfig,
    parse_server,
)
from gateway.config.serial import Parity, SerialConfig, Transport
from gateway.config.tags import LAST_ADDRESS, StorageMode, TagConfig
from gateway.config.types import (
    ConfigModel,
    Duration,
    Name,
    NonNegativeDuration,
    parse_duration,
    parse_modicon_ref,
)
from gateway.config.validation import Finding

__all__ = [
    "LAST_ADDRESS",
    "LIMIT_KEYS",
    "MESSAGE_FIELDS",
    "AlarmConfig",
    "AlarmKind",
    "BrokerAddress",
    "ConfigModel",
    "DeviceConfig",
    "Duration",
    "Finding",
    "GatewayConfig",
    "GatewaySection",
    "HttpConfig",
    "JsonConfig",
    "LoadedConfig",
    "MqttConfig",
    "MqttTlsConfig",
    "Name",
    "NonNegativeDuration",
    "OpcUaConfig",
    "OpcUaLimitsConfig",
    "Parity",
    "ResolvedTag",
    "Role",
    "SecurityConfig",
    "SecurityMode",
    "SecurityPolicy",
    "SerialConfig",
    "SparkplugConfig",
    "StorageConfig",
    "StorageMode",
    "Synchronous",
    "TagConfig",
    "TlsConfig",
    "Transport",
    "UserConfig",
    "check_config",
    "load_config",
    "load_model",
    "parse_duration",
    "parse_modicon_ref",
    "parse_server",
    "resolve_sqlite_url",
]

"""The gateway configuration as frozen models (the reference: docs/configuration.md).

Loaded once and never mutated: runtime state lives in runtime objects, so a
config value can be shared between tasks without copies or locks. Defaults
follow the contract; keys marked "extension" go beyond it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field, SecretStr, field_validator, model_validator

from gateway.config.alarms import AlarmConfig
from gateway.config.http import HttpConfig
from gateway.config.mqtt import MqttConfig
from gateway.config.notifications import NotificationsConfig
from gateway.config.serial import SerialConfig, Transport
from gateway.config.tags import TagConfig
from gateway.config.types import (
    ConfigModel,
    Duration,
    Name,
    NonNegativeDuration,
    none_as_empty_list,
    none_as_empty_mapping,
    validate_host,
)
from gateway.config.validation import MISSING, raise_located
from gateway.config.yamlsource import KeyPath
from gateway.model import MAX_READ_BITS, MAX_READ_REGISTERS, ByteOrder, WordOrder

__all__ = [
    "DeviceConfig",
    "GatewayConfig",
    "GatewaySection",
    "OpcUaConfig",
    "ResolvedTag",
    "Role",
    "SecurityConfig",
    "SecurityMode",
    "SecurityPolicy",
    "StorageConfig",
    "Synchronous",
    "UserConfig",
]

#: Namespace URI used when `opcua.namespace` is not given.
DEFAULT_NAMESPACE_PREFIX = "urn:modbus-opcua-gateway:"


class SecurityPolicy(StrEnum):
    """OPC UA security policies offered; the deprecated Basic128Rsa15/Basic256 are not."""

    BASIC256SHA256 = "Basic256Sha256"
    AES128_SHA256_RSAOAEP = "Aes128_Sha256_RsaOaep"
    AES256_SHA256_RSAPSS = "Aes256_Sha256_RsaPss"


class SecurityMode(StrEnum):
    """Message security modes of the secure endpoints (None is `allow_none`)."""

    SIGN = "Sign"
    SIGN_AND_ENCRYPT = "SignAndEncrypt"


class Role(StrEnum):
    """viewer: read, browse, history; operator: + write tags, ack alarms; admin: all."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"


class Synchronous(StrEnum):
    """SQLite durability: full survives power loss, normal survives a process crash."""

    NORMAL = "normal"
    FULL = "full"


class GatewaySection(ConfigModel):
    """`gateway:`: identity of this gateway."""

    name: Name = Field(
        description="Name of this gateway: the OPC UA root object's BrowseName and NodeId "
        "and, unless `opcua.namespace` is set, part of the namespace URI. It also marks this "
        "gateway's tags and alarm events in the database: gateways sharing one database (a "
        "fleet) need different names, and `gateway history GATEWAY/device.tag` reads "
        "another gateway's tag by it."
    )


class SecurityConfig(ConfigModel):
    """`opcua.security:`: secure by default; the None endpoint only on request."""

    policies: tuple[SecurityPolicy, ...] = Field(
        default=tuple(SecurityPolicy),
        description="Security policies offered; one endpoint per policy and mode. "
        "Must not be empty unless `allow_none` is true.",
    )
    modes: tuple[SecurityMode, ...] = Field(
        default=(SecurityMode.SIGN_AND_ENCRYPT,),
        description="Message security modes offered with each policy. "
        "Must not be empty unless `allow_none` is true.",
    )
    allow_none: bool = Field(
        default=False,
        description="Also offer the unsecured None endpoint (no signing, no encryption). "
        "Without it, sessions on unsecured channels are refused.",
    )
    pki_dir: Path = Field(
        default=Path("pki"),
        description="Certificate folder, relative to the config file: `own/` (the server's "
        "certificate and key, made on first start), `trusted/` (accepted client "
        "certificates or their CAs), `rejected/` (refused clients' certificates).",
    )

    @model_validator(mode="after")
    def _some_endpoint(self) -> SecurityConfig:
        """A server with no endpoint at all would start and accept nobody."""
        if not self.allow_none:
            raise_located(
                type(self).__name__,
                [
                    (
                        (key,),
                        "must not be empty while allow_none is false: no endpoint would be offered",
                    )
                    for key in ("policies", "modes")
                    if not getattr(self, key)
                ],
                None,
            )
        return self


class UserConfig(ConfigModel):
    """One OPC UA user; the password is a SecretStr so it never shows in logs or reprs."""

    name: str = Field(min_length=1, description="User name the client logs in with.")
    password: SecretStr = Field(
        description="Password; not empty. Use `${VAR}` to read it from the environment. "
        "Never logged or shown."
    )
    role: Role = Field(
        default=Role.VIEWER,
        description="viewer: browse, read, subscribe, history; operator: also write tags "
        "and acknowledge alarms; admin: everything an operator may.",
    )

    @field_validator("password")
    @classmethod
    def _not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("must not be empty")
        return value


class OpcUaLimitsConfig(ConfigModel):
    """`opcua.limits:`: the bounds every OPC UA client is held to (docs/security.md, "Limits").

    The defaults suit a gateway serving a few SCADA clients; the bounds not listed
    here are fixed, and the monitored-item bounds grow with the address space.
    """

    max_connections: int = Field(
        default=100, ge=1, le=10_000, description="TCP connections at once."
    )
    max_connections_per_peer: int = Field(
        default=20, ge=1, le=10_000, description="TCP connections from one IP address."
    )
    max_sessions: int = Field(default=100, ge=1, le=10_000, description="Sessions at once.")
    max_subscriptions: int = Field(
        default=500, ge=1, le=100_000, description="Subscriptions across every session."
    )
    max_monitored_items: int = Field(
        default=100_000,
        ge=1,
        le=10_000_000,
        description="Monitored items across every session (at least four sessions' worth "
        "of the address space is always allowed); one identity may hold three quarters.",
    )
    min_publishing_interval: Duration = Field(
        default=0.05,
        description="Shortest publishing interval granted; clients asking for less (or 0) "
        "get this. At least 1ms.",
    )

    @field_validator("min_publishing_interval")
    @classmethod
    def _at_least_a_millisecond(cls, value: float) -> float:
        if value < 0.001:
            raise ValueError(f"must be at least 1ms, got {value * 1000:g}ms")
        return value


class OpcUaConfig(ConfigModel):
    """`opcua:`: the server endpoint, security and users."""

    endpoint: str = Field(
        default="opc.tcp://0.0.0.0:4840",
        description="Listening URL, `opc.tcp://host:port`; host 0.0.0.0 listens on every "
        "interface, port 0 picks a free port.",
    )
    # Filled from the gateway name by GatewayConfig when empty.
    namespace: str = Field(
        default="",
        description="Namespace URI of the gateway's nodes; clients resolve its index by this "
        f"URI. Empty: `{DEFAULT_NAMESPACE_PREFIX}<gateway.name>`.",
    )
    security: SecurityConfig = Field(
        default=SecurityConfig(), description="Endpoints and certificates (below)."
    )
    anonymous: bool = Field(
        default=False, description="Accept anonymous clients, with the viewer role."
    )
    users: tuple[UserConfig, ...] = Field(
        default=(), description="User accounts (below); user names must be unique."
    )
    limits: OpcUaLimitsConfig = Field(
        default=OpcUaLimitsConfig(), description="Bounds every client is held to (below)."
    )

    _limits_may_be_empty = field_validator("limits", mode="before")(none_as_empty_mapping)
    _security_may_be_empty = field_validator("security", mode="before")(none_as_empty_mapping)
    _users_may_be_empty = field_validator("users", mode="before")(none_as_empty_list)

    @field_validator("endpoint")
    @classmethod
    def _opc_tcp(cls, value: str) -> str:
        if not value.startswith("opc.tcp://") or len(value) <= len("opc.tcp://"):
            raise ValueError(f"expected an opc.tcp://host:port URL, got {value!r}")
        return value


class StorageConfig(ConfigModel):
    """`storage:`: where readings go and how long they stay.

    The loader resolves a relative SQLite path against the config file's folder.
    """

    url: str = Field(
        default="sqlite:///gateway.db",
        description="SQLAlchemy database URL: `sqlite:///file.db` (a relative path is "
        "relative to the config file) or `postgresql+psycopg://user:password@host/db` "
        "(install the `postgres` extra).",
    )
    retention: Duration = Field(
        default=30 * 86400.0, description="Readings older than this are deleted."
    )
    synchronous: Synchronous = Field(
        default=Synchronous.NORMAL,
        description="SQLite durability: normal survives a crash of the process, full also "
        "a power loss (slower commits). Ignored by PostgreSQL.",
    )
    # Writer and retention tuning (extensions; docs/storage.md).
    batch_size: int = Field(
        default=50_000, ge=1, le=1_000_000, description="Most rows written in one transaction."
    )
    flush_interval: Duration = Field(
        default=1.0,
        description="Longest a reading waits in memory before it is written, while the "
        "database is available.",
    )
    buffer_limit: int = Field(
        default=1_000_000,
        ge=1,
        description="Rows held in memory while the database is unavailable; beyond it the "
        "oldest are dropped and counted. At least `batch_size`.",
    )
    retry_min: Duration = Field(
        default=0.5,
        description="First delay before retrying a failed write; doubles (with jitter) up to "
        "`retry_max`.",
    )
    retry_max: Duration = Field(
        default=30.0, description="Longest delay between write retries; at least `retry_min`."
    )
    shutdown_timeout: Duration = Field(
        default=10.0,
        description="How long a stop keeps retrying a database that is down before the "
        "remaining rows are dropped (and counted).",
    )
    timeout: Duration = Field(
        default=10.0,
        description="Longest one database call may take (a batch's transaction, a retention "
        "chunk, a history page, the migration at start) before the gateway cuts its "
        "connection and fails it; a write is then retried on a new connection. Catches a "
        "database that stops answering without closing the connection.",
    )
    retention_interval: Duration = Field(
        default=3600.0, description="How often old rows are deleted (also once at start)."
    )
    retention_chunk: int = Field(
        default=10_000, ge=1, description="Rows deleted per transaction by retention."
    )

    @field_validator("url")
    @classmethod
    def _has_scheme(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError(
                "expected a database URL like sqlite:///gateway.db or "
                f"postgresql+psycopg://user@host/db, got {value!r}"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> StorageConfig:
        """A buffer smaller than a batch, or a backoff cap below its start, is a typo."""
        problems: list[tuple[KeyPath, str]] = []
        if self.buffer_limit < self.batch_size:
            problems.append(
                (
                    ("buffer_limit",),
                    f"must be at least batch_size ({self.batch_size}), got {self.buffer_limit}",
                )
            )
        if self.retry_max < self.retry_min:
            problems.append((("retry_max",), f"must be at least retry_min ({self.retry_min:g}s)"))
        raise_located(type(self).__name__, problems, None)
        return self


@dataclass(frozen=True, slots=True)
class ResolvedTag:
    """A tag's settings after the device defaults are applied."""

    scan_interval: float
    byte_order: ByteOrder
    word_order: WordOrder


class DeviceConfig(ConfigModel):
    """One Modbus slave (TCP, RTU on a serial line, or RTU over TCP) and its tags."""

    name: Name = Field(
        description="Device name, unique in the file: the OPC UA device object and the first "
        "part of `<device>.<tag>` references."
    )
    transport: Transport = Field(
        default=Transport.TCP,
        description="tcp: Modbus TCP; rtu: Modbus RTU on the serial port `serial.port`; "
        "rtu_over_tcp: RTU frames through a serial converter at `host:port` in its "
        "transparent (raw, RTU over TCP) mode. Devices on one serial port or one converter "
        "share its line and take turns.",
    )
    # Required, but an rtu device gets "" (no host) before validation: `_no_host_on_serial`.
    host: Annotated[str, AfterValidator(validate_host)] = Field(
        description="Host name or IP address of the Modbus TCP slave or the serial "
        "converter, without the port (that is `port`). Required unless `transport: rtu`.",
    )
    port: int = Field(default=502, ge=1, le=65535, description="TCP port of the slave.")
    unit_id: int = Field(
        default=1,
        ge=0,
        le=255,
        description="Modbus unit identifier (slave id). Plain TCP devices usually ignore it; "
        "behind a TCP-to-serial gateway it selects the serial slave. On an RTU line 1..247, "
        "unique on the line; 0 is broadcast: every slave executes the writes, none answers, "
        "so such a device has writable tags only and is never read.",
    )
    scan_interval: Duration = Field(
        default=1.0, description="Default scan class: how often the device's tags are read."
    )
    timeout: Duration = Field(
        default=1.0,
        description="Longest wait for one response (and for connecting); a timeout counts as "
        "a failure of the device.",
    )
    byte_order: ByteOrder = Field(
        default=ByteOrder.BIG,
        description="Order of the two bytes inside each 16-bit register; big is the Modbus "
        "standard. Tags may override it.",
    )
    word_order: WordOrder = Field(
        default=WordOrder.BIG,
        description="Order of the registers of 32- and 64-bit values; big puts the most "
        "significant register first. Tags may override it.",
    )
    max_read_registers: int = Field(
        default=MAX_READ_REGISTERS,
        ge=1,
        description=f"Most registers in one read request (FC03/FC04), at most "
        f"{MAX_READ_REGISTERS}, the protocol limit. Lower it for PLCs that refuse long reads.",
    )
    max_read_bits: int = Field(
        default=MAX_READ_BITS,
        ge=1,
        description=f"Most bits in one coil or discrete input read (FC01/FC02), at most "
        f"{MAX_READ_BITS}, the protocol limit.",
    )  # extension
    max_read_gap: int = Field(
        default=8,
        ge=0,
        description="Unused addresses bridged to merge two tags into one read request; 0 reads "
        "only addresses that tags use.",
    )
    enabled: bool = Field(
        default=True,
        description="false: the device is never polled and its tags are Bad_OutOfService.",
    )  # extension
    # Reconnect and demotion (extensions; Kepware-style defaults).
    reconnect_min: Duration = Field(
        default=0.5,
        description="Wait after the first failure before reconnecting; doubles with each "
        "further consecutive failure (minus up to 50% jitter).",
    )
    reconnect_max: Duration = Field(
        default=30.0, description="Longest wait between reconnect attempts."
    )
    demote_after: int = Field(
        default=3,
        ge=0,
        description="Every this many consecutive failures the device is demoted for "
        "`demote_for` (no requests at all); 0 never demotes.",
    )
    demote_for: Duration = Field(
        default=10.0, description="How long a demoted device is left alone."
    )
    # Extension: devices naming the same connection (same host:port, distinct
    # unit ids, e.g. behind a Modbus TCP-to-serial gateway) share one TCP
    # connection; their requests are serialized (gateway/modbus/link.py).
    connection: Name | None = Field(
        default=None,
        description="Devices naming the same connection (same host and port, distinct "
        "`unit_id`s, e.g. behind a TCP-to-serial gateway) share one TCP connection and "
        "take turns on it.",
    )
    serial: SerialConfig | None = Field(
        default=None,
        description="The serial line of an `rtu` device (port and settings, below); for "
        "`rtu_over_tcp` optionally the converter's line settings, for the line plan.",
    )
    turnaround: NonNegativeDuration | None = Field(
        default=None,
        description="RTU: pause on the line after each request to this device, for slow "
        "devices; after a broadcast (unit 0) the time the slaves get to act "
        "(default 0, and 100ms after a broadcast).",
    )
    tags: tuple[TagConfig, ...] = Field(
        default=(), repr=False, description="The device's tags (below)."
    )

    _tags_may_be_empty = field_validator("tags", mode="before")(none_as_empty_list)

    @field_validator("max_read_registers")
    @classmethod
    def _register_limit(cls, value: int) -> int:
        if value > MAX_READ_REGISTERS:
            raise ValueError(
                f"must be at most {MAX_READ_REGISTERS} (the Modbus limit of one register read), "
                f"got {value}"
            )
        return value

    @field_validator("max_read_bits")
    @classmethod
    def _bit_limit(cls, value: int) -> int:
        if value > MAX_READ_BITS:
            raise ValueError(
                f"must be at most {MAX_READ_BITS} (the Modbus limit of one coil/input read), "
                f"got {value}"
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def _no_host_on_serial(cls, data: Any) -> Any:
        """A serial device has no host: "" stands for it, so `host` stays required for TCP."""
        if isinstance(data, dict) and data.get("transport") == "rtu" and "host" not in data:
            return {**data, "host": ""}
        return data

    @model_validator(mode="after")
    def _transport_settings(self) -> DeviceConfig:
        """What each transport needs: a host for TCP and converters, a port for serial."""
        problems: list[tuple[KeyPath, str]] = []
        kind = self.transport
        if kind is Transport.RTU:
            if self.host:
                problems.append((("host",), "not used by transport rtu (the port is serial.port)"))
            if self.serial is None:
                problems.append((("serial",), MISSING))
            elif self.serial.port is None:
                problems.append((("serial", "port"), MISSING))
        elif not self.host:
            problems.append((("host",), "must not be empty"))
        if kind is Transport.RTU_OVER_TCP and self.serial and self.serial.port is not None:
            problems.append(
                (("serial", "port"), "not used by rtu_over_tcp: the converter owns the port")
            )
        if kind is Transport.TCP:
            problems.extend(
                ((key,), f"only for transport rtu or rtu_over_tcp, not {kind}")
                for key in ("serial", "turnaround")
                if getattr(self, key) is not None
            )
        elif self.connection is not None:
            problems.append(
                (
                    ("connection",),
                    "not used by RTU devices: devices on one serial port or one converter "
                    "share its line already",
                )
            )
        raise_located(type(self).__name__, problems, None)
        return self

    @property
    def broadcast(self) -> bool:
        """Unit 0 on an RTU line: written to every slave at once, never read."""
        return self.transport.is_rtu and self.unit_id == 0

    @property
    def where(self) -> str:
        """Where the device is, for people: `10.0.0.5:502`, `/dev/ttyUSB0`."""
        if self.transport is Transport.RTU and self.serial is not None:
            return str(self.serial.port)
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def resolve(self, tag: TagConfig) -> ResolvedTag:
        """The tag's scan interval and orders, falling back to this device's."""
        return ResolvedTag(
            scan_interval=tag.scan_interval or self.scan_interval,
            byte_order=tag.byte_order or self.byte_order,
            word_order=tag.word_order or self.word_order,
        )

    def tag(self, name: str) -> TagConfig | None:
        """The tag called `name`, or None."""
        return self._tags_by_name.get(name)

    def without_tags(self) -> DeviceConfig:
        """This device's settings with no tag models: what the running parts keep.

        Once the runtime tags exist (gateway.tags) the per-tag models are
        dead weight: about 0.7 KB a tag, 70 MB at 100k tags
        (docs/performance.md). The copy's `tags` is empty, and so is its
        lookup, which the original may have cached.
        """
        copy = self.model_copy(update={"tags": ()})
        copy.__dict__.pop("_tags_by_name", None)
        return copy

    @cached_property
    def _tags_by_name(self) -> dict[str, TagConfig]:
        # First one wins, as in the duplicate-name check that rejects the rest.
        by_name: dict[str, TagConfig] = {}
        for tag in self.tags:
            by_name.setdefault(tag.name, tag)
        return by_name


class GatewayConfig(ConfigModel):
    """A whole gateway configuration file."""

    gateway: GatewaySection = Field(description="Identity of this gateway (below).")
    opcua: OpcUaConfig = Field(
        default=OpcUaConfig(), description="The OPC UA server: endpoint, security, users."
    )
    storage: StorageConfig = Field(
        default=StorageConfig(), description="The historian's database and retention."
    )
    devices: tuple[DeviceConfig, ...] = Field(
        default=(), description="Modbus TCP devices to poll (below)."
    )
    alarms: tuple[AlarmConfig, ...] = Field(default=(), description="Alarms on tag values (below).")
    notifications: NotificationsConfig = Field(
        default=NotificationsConfig(),
        description="Alarm notifications by webhook, e-mail, log or MQTT (below); none unless "
        "routes are given.",
    )
    http: HttpConfig | None = Field(
        default=None,
        description="Metrics, health and the status page over HTTP (below); off unless the "
        "section is given (an empty `http:` listens on 127.0.0.1:8080).",
    )
    mqtt: MqttConfig | None = Field(
        default=None,
        description="Publish to MQTT brokers: a Sparkplug B edge node and/or plain JSON "
        "topics (below); off unless the section is given.",
    )

    _sections_may_be_empty = field_validator(
        "opcua", "storage", "http", "notifications", "mqtt", mode="before"
    )(none_as_empty_mapping)
    _lists_may_be_empty = field_validator("devices", "alarms", mode="before")(none_as_empty_list)

    @model_validator(mode="before")
    @classmethod
    def _default_namespace(cls, data: Any) -> Any:
        """Derive `opcua.namespace` from the gateway name, so it is always set."""
        if not isinstance(data, dict):
            return data
        gateway = data.get("gateway")
        name = gateway.get("name") if isinstance(gateway, dict) else getattr(gateway, "name", None)
        if not isinstance(name, str):
            return data
        namespace = DEFAULT_NAMESPACE_PREFIX + name
        opcua = data.get("opcua") or {}
        if isinstance(opcua, dict) and not opcua.get("namespace"):
            return {**data, "opcua": {**opcua, "namespace": namespace}}
        if isinstance(opcua, OpcUaConfig) and not opcua.namespace:
            return {**data, "opcua": opcua.model_copy(update={"namespace": namespace})}
        return data

    def device(self, name: str) -> DeviceConfig | None:
        """The device called `name`, or None."""
        return self._devices_by_name.get(name)

    def without_tags(self) -> GatewayConfig:
        """The configuration with every device `without_tags`: what the running parts keep."""
        copy = self.model_copy(
            update={"devices": tuple(device.without_tags() for device in self.devices)}
        )
        copy.__dict__.pop("_devices_by_name", None)
        return copy

    def find_tag(self, reference: str) -> tuple[DeviceConfig, TagConfig] | None:
        """The device and tag of a `"<device>.<tag>"` reference, or None."""
        device_name, _, tag_name = reference.partition(".")
        device = self.device(device_name)
        tag = device.tag(tag_name) if device is not None else None
        return (device, tag) if device is not None and tag is not None else None

    @cached_property
    def _devices_by_name(self) -> dict[str, DeviceConfig]:
        by_name: dict[str, DeviceConfig] = {}
        for device in self.devices:
            by_name.setdefault(device.name, device)
        return by_name

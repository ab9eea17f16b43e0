"""The `notifications:` section: channels (webhook, e-mail, log, mqtt), routes, a rate limit.

Which channel a route names, and which alarms its patterns can match, are
checked across the file in checks.py; what one channel or route alone needs
is checked here.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from gateway.config.types import ConfigModel, Duration, Name

__all__ = [
    "ChannelConfig",
    "EmailChannel",
    "LogChannel",
    "MqttChannel",
    "NotificationsConfig",
    "NotifyOn",
    "RateLimit",
    "RouteConfig",
    "WebhookChannel",
    "parse_rate_limit",
]

#: Placeholders of e-mail subject and body templates.
TEMPLATE_FIELDS = (
    "alarm",
    "tag",
    "transition",
    "state",
    "severity",
    "message",
    "value",
    "time",
    "user",
    "comment",
)


class NotifyOn(StrEnum):
    """Which transitions a route sends: `shelved` stands for shelve, unshelve,
    disable and enable (an operator set the alarm aside or back)."""

    ACTIVE = "active"
    CLEARED = "cleared"
    ACKNOWLEDGED = "acknowledged"
    SHELVED = "shelved"


class WebhookChannel(ConfigModel):
    """POST a JSON body (docs/alarms.md) to `url`; retried on connection errors and 5xx."""

    name: Name = Field(description="Channel name, used by routes.")
    type: Literal["webhook"] = Field(description="`webhook`.")
    url: str = Field(description="http:// or https:// URL the JSON is POSTed to.")
    headers: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='Extra request headers, e.g. `{Authorization: "Bearer ${HOOK_TOKEN}"}`; '
        "their values are never logged.",
    )
    timeout: Duration = Field(default=10.0, description="Time allowed for one request.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected an http:// or https:// URL, got {redact_url(value)!r}")
        return value


class EmailChannel(ConfigModel):
    """Send an e-mail over SMTP: STARTTLS on `smtp://` (unless `starttls: false`),
    implicit TLS on `smtps://`."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", coerce_numbers_to_str=True, populate_by_name=True
    )

    name: Name = Field(description="Channel name, used by routes.")
    type: Literal["email"] = Field(description="`email`.")
    smtp: str = Field(
        description="`smtp://host:587` (STARTTLS) or `smtps://host:465` (implicit TLS)."
    )
    starttls: bool = Field(
        default=True,
        description="Upgrade an `smtp://` connection with STARTTLS; false only for a local "
        "relay that offers no TLS.",
    )
    tls_ca: Path | None = Field(
        default=None,
        description="A CA certificate file (PEM) to trust for the server's certificate, "
        "besides the system's (a plant's own CA); relative to the config file.",
    )
    username: str | None = Field(default=None, description="SMTP login; unset: no login.")
    password: SecretStr | None = Field(
        default=None, description='SMTP password, e.g. "${SMTP_PASSWORD}"; never logged.'
    )
    sender: str = Field(alias="from", description="The From address.")
    to: tuple[str, ...] = Field(min_length=1, description="Recipients.")
    subject: str = Field(
        default="[{severity}] {alarm} {transition}: {message}",
        description="Subject template; placeholders: "
        + ", ".join(f"{{{name}}}" for name in TEMPLATE_FIELDS)
        + ".",
    )
    body: str = Field(
        default="{message}\n\nAlarm: {alarm} ({tag})\nTransition: {transition}\nState: {state}\n"
        "Severity: {severity}\nValue: {value}\nTime: {time}\nUser: {user}\nComment: {comment}\n",
        description="Body template (plain text), with the subject's placeholders.",
    )
    timeout: Duration = Field(default=30.0, description="Time allowed for one delivery.")

    @field_validator("smtp")
    @classmethod
    def _smtp_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(f"expected smtp://host:port or smtps://host:port, got {value!r}")
        return value

    @field_validator("subject", "body")
    @classmethod
    def _template(cls, value: str) -> str:
        for field in re.findall(r"(?<!\{)\{([^{}]*)\}(?!\})", value):
            if field not in TEMPLATE_FIELDS:
                raise ValueError(
                    f"unknown placeholder {{{field}}} (use {', '.join(TEMPLATE_FIELDS)})"
                )
        return value


class LogChannel(ConfigModel):
    """Write one line per notification to the gateway's log (the demo, trying routes)."""

    name: Name = Field(description="Channel name, used by routes.")
    type: Literal["log"] = Field(description="`log`.")


class MqttChannel(ConfigModel):
    """Publish the JSON body on `topic` through the gateway's `mqtt:` connection."""

    name: Name = Field(description="Channel name, used by routes.")
    type: Literal["mqtt"] = Field(description="`mqtt`.")
    topic: str = Field(min_length=1, description="Topic the JSON body is published on.")
    qos: int = Field(default=1, ge=0, le=2, description="MQTT QoS of the message.")


ChannelConfig = Annotated[
    WebhookChannel | EmailChannel | LogChannel | MqttChannel, Field(discriminator="type")
]


class RouteConfig(ConfigModel):
    """Which alarms, how severe, which transitions, to which channels."""

    alarms: tuple[str, ...] = Field(
        default=("*",), description='Alarm name patterns (`*`, `?`, `[ab]`), e.g. ["boiler_*"].'
    )
    min_severity: int = Field(
        default=1, ge=1, le=1000, description="Only alarms at least this severe."
    )
    on: tuple[NotifyOn, ...] = Field(
        default=(NotifyOn.ACTIVE, NotifyOn.CLEARED),
        description="Transitions sent: active, cleared, acknowledged, shelved (shelve, "
        "unshelve, disable, enable).",
    )
    to: tuple[Name, ...] = Field(min_length=1, description="Channel names.")


class RateLimit(ConfigModel):
    """At most `count` messages per `per` seconds and channel."""

    count: int
    per: float


_RATE = re.compile(r"\s*(\d+)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*")
_PER = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0}


def parse_rate_limit(text: str) -> RateLimit:
    """`10/min`, `100/h`, `1/s` → RateLimit; ValueError saying what is expected."""
    match = _RATE.fullmatch(text)
    if match is None or int(match.group(1)) < 1:
        raise ValueError(f"expected a rate like 10/min, 100/h or 1/s, got {text!r}")
    return RateLimit(count=int(match.group(1)), per=_PER.get(match.group(2), 3600.0))


class NotificationsConfig(ConfigModel):
    """Alarm notifications: channels, routes, a per-channel rate limit (docs/alarms.md)."""

    channels: tuple[ChannelConfig, ...] = Field(
        default=(), description="Where notifications go (webhook, email, log, mqtt)."
    )
    routes: tuple[RouteConfig, ...] = Field(
        default=(), description="Which alarm transitions go to which channels."
    )
    rate_limit: str = Field(
        default="10/min",
        description="Per channel; beyond it the held messages go as one digest when the "
        "channel may send again.",
    )
    retry_max: Duration = Field(
        default=300.0,
        description="Longest wait between two delivery attempts (they start at 1 s and "
        "double, with jitter).",
    )
    give_up_after: Duration = Field(
        default=86400.0,
        description="A message not delivered this long after its transition is marked failed.",
    )

    @field_validator("rate_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        parse_rate_limit(value)
        return value

    @model_validator(mode="after")
    def _routes_name_channels(self) -> NotificationsConfig:
        names = [channel.name for channel in self.channels]
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise ValueError(f"duplicate channel name {name!r}")
            seen.add(name)
        for index, route in enumerate(self.routes):
            for name in route.to:
                if name not in seen:
                    known = ", ".join(names) or "none configured"
                    raise ValueError(f"routes[{index}]: no channel {name!r} (channels: {known})")
        return self

    @property
    def limit(self) -> RateLimit:
        return parse_rate_limit(self.rate_limit)


def redact_url(url: str) -> str:
    """A URL safe to log: no user info, no query (tokens travel there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"

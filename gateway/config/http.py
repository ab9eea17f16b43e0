"""The `http:` section: where metrics, health and the status page are served, and how safely.

Off unless the section is there. On a loopback address the page is readable
without a login (this host's users only); any other address carries logins
and session cookies over the network, so it needs TLS (`tls`) or an explicit
`insecure: true` (docs/operations.md, "Security").
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from gateway.config.types import ConfigModel, Duration
from gateway.config.validation import raise_located

__all__ = ["DEFAULT_LISTEN", "HttpConfig", "TlsConfig", "parse_listen"]

DEFAULT_LISTEN = "127.0.0.1:8080"
_LISTEN = re.compile(
    r"\[(?P<v6>[^\]]+)\]:(?P<v6port>\d{1,5})|(?P<host>[^:\[\]\s]+):(?P<port>\d{1,5})"
)
_LISTEN_HELP = "expected HOST:PORT, e.g. 127.0.0.1:8080, 0.0.0.0:8080 or [::1]:8080"


def parse_listen(text: str) -> tuple[str, int]:
    """(host, port) of `HOST:PORT` (IPv6 in brackets); ValueError says what was expected."""
    match = _LISTEN.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{_LISTEN_HELP}, got {text!r}")
    host = match["v6"] if match["v6"] is not None else match["host"]
    port = int(match["v6port"] or match["port"])
    if port > 65535:
        raise ValueError(f"port must be 0..65535 (0: any free port), got {port}")
    if match["v6"] is not None:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{host!r} in brackets is not an IPv6 address") from None
    return host, port


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: whatever it resolves to, it may be reachable from outside


class TlsConfig(ConfigModel):
    """`http.tls:`: HTTPS with a certificate and key in PEM files."""

    cert: Path = Field(
        description="Certificate file (PEM; the chain after the certificate), relative to the "
        "config file."
    )
    key: Path = Field(
        description="Private key file (PEM, unencrypted) of the certificate, relative to the "
        "config file; readable by the gateway's user only."
    )


class HttpConfig(ConfigModel):
    """`http:`: Prometheus metrics, health and readiness, and the live status page."""

    listen: str = Field(
        default=DEFAULT_LISTEN,
        description="Address and port to listen on, `HOST:PORT` (`[::1]:8080` for IPv6; port "
        "0: any free port). A loopback address serves the status page without a login; any "
        "other address needs `tls` or `insecure: true`, and a login to see the page.",
    )
    tls: TlsConfig | None = Field(
        default=None,
        description="Serve HTTPS with this certificate (below); session cookies "
        "are then marked Secure.",
    )
    insecure: bool = Field(
        default=False,
        description="Serve plain HTTP beyond loopback: passwords and session cookies cross "
        "the network in clear text. Only behind a TLS-terminating proxy or on an isolated "
        "network.",
    )
    session_timeout: Duration = Field(
        default=1800.0,
        description="A login ends after this long without a request from its browser.",
    )

    @field_validator("listen")
    @classmethod
    def _valid_listen(cls, value: str) -> str:
        parse_listen(value)
        return value.strip()

    @model_validator(mode="after")
    def _safe_beyond_loopback(self) -> HttpConfig:
        """Logins and cookies never cross a network in clear text unless the file says so."""
        if self.tls is not None and self.insecure:
            raise_located(
                type(self).__name__,
                [(("insecure",), "must not be true together with tls (HTTPS is not insecure)")],
                None,
            )
        if not self.loopback and self.tls is None and not self.insecure:
            raise_located(
                type(self).__name__,
                [
                    (
                        ("listen",),
                        f"{self.host} is reachable beyond this host: add `tls` (cert and key) "
                        "or, behind a TLS proxy or on an isolated network, `insecure: true`",
                    )
                ],
                None,
            )
        return self

    @property
    def host(self) -> str:
        return parse_listen(self.listen)[0]

    @property
    def port(self) -> int:
        return parse_listen(self.listen)[1]

    @property
    def loopback(self) -> bool:
        """Listening on this host only (127.0.0.0/8, ::1 or localhost)."""
        return _is_loopback(self.host)

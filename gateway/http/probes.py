"""Readiness, and whether a Host header names this machine (pure reads of the parts).

Ready means every part has started (and none has begun to stop) and the
historian's database is writable; `/readyz` answers 503 otherwise, with each
check's word, so a probe's log says what is missing.
"""

from __future__ import annotations

import ipaddress

from gateway.http.parts import Parts

__all__ = ["local_host", "readiness"]


def readiness(parts: Parts) -> tuple[bool, dict[str, str]]:
    """Whether the gateway is ready, and each check: a part "started" or "not started",
    `storage_writable` "yes" or "no"."""
    checks = {part: "started" if up else "not started" for part, up in parts.started().items()}
    checks["storage_writable"] = "yes" if parts.historian.writable else "no"
    return all(word in ("started", "yes") for word in checks.values()), checks


def local_host(host: str | None) -> bool:
    """A Host header naming this machine: localhost or a loopback address, any port."""
    if not host:
        return False
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False

"""What the demo prints once it runs: a banner that fits an 80×24 terminal with the status.

The banner says where everything is, what will happen and what to try. Its
endpoint and credentials are also the first lines of the live status
(`access_lines`), which stay on screen however far the banner scrolls. Every
line is wrapped at WIDTH columns so that no terminal of 80 wraps one itself
(which would also spoil the status's cursor arithmetic).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from pathlib import Path

from gateway.config import GatewayConfig
from gateway.config.published import DEMO_PASSWORDS

__all__ = [
    "WIDTH",
    "access_lines",
    "banner_lines",
    "endpoints_text",
    "shown_path",
]

#: Columns of the narrowest terminal the demo is made for, less one.
WIDTH = 79


def _wrapped(text: str, indent: str = "  ") -> list[str]:
    """`text` in lines of at most WIDTH columns, continued with `indent` more than its own."""
    own = text[: len(text) - len(text.lstrip())]
    return textwrap.wrap(
        text,
        WIDTH,
        subsequent_indent=own + indent,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [""]


def shown_path(path: Path, cwd: Path) -> str:
    """`path` relative to `cwd` when it is inside it (short, as the user typed it)."""
    try:
        return str(path.relative_to(cwd))
    except ValueError:
        return str(path)


def _users(config: GatewayConfig, *, roles: bool) -> str:
    shown = []
    for user in config.opcua.users:
        password = user.password.get_secret_value()
        secret = password if password == DEMO_PASSWORDS.get(user.name) else "(your password)"
        shown.append(f"{user.name} / {secret}" + (f" ({user.role})" if roles else ""))
    return ("; " if roles else ", ").join(shown) or "none"


def access_lines(
    config: GatewayConfig, url: str, *, status_page: str | None = None
) -> tuple[str, ...]:
    """The endpoint, the status page and the credentials: the first lines of the live status.

    The status page shares the endpoint's line (both URLs are on 127.0.0.1, so
    the line fits 79 columns even with 5-digit ports).
    """
    anonymous = "; anonymous may read" if config.opcua.anonymous else ""
    first = f"OPC UA {url}   (Ctrl-C stops the demo)"
    if status_page is not None:
        first = f"OPC UA {url}  page {status_page}  Ctrl-C stops"
    return (
        *_wrapped(first),
        *_wrapped(f"  users: {_users(config, roles=False)}{anonymous}"),
    )


def endpoints_text(endpoints: tuple[str, ...]) -> str:
    """`POLICY/MODE` names grouped: `None (unsecured); Basic256Sha256, … with Sign or …`."""
    secured = [endpoint.partition("/") for endpoint in endpoints if endpoint != "None"]
    policies = ", ".join(dict.fromkeys(policy for policy, _, _ in secured))
    modes = " or ".join(dict.fromkeys(mode for _, _, mode in secured))
    parts = ["None (unsecured)"] if "None" in endpoints else []
    if secured:
        parts.append(f"{policies} with {modes}")
    return "; ".join(parts) or "no endpoints"


def banner_lines(
    config: GatewayConfig,
    server: tuple[str, tuple[str, ...], str],
    plcs: Iterable[tuple[str, str, int]],
    data_dir: str,
    *,
    status_page: str | None = None,
) -> list[str]:
    """The banner. `server`: the endpoint URL, its endpoints (`POLICY/MODE`) and the
    certificate's thumbprint; `plcs`: (name, host, port) of the simulated PLCs;
    `status_page`: its URL, or why it is off (on a terminal the URL is in `access_lines`)."""
    url, endpoints, thumbprint = server
    plc_list = list(plcs)
    hosts = sorted({host for _, host, _ in plc_list})
    places = ", ".join(f"{name}:{port}" for name, _, port in plc_list)
    operator = config.opcua.users[0] if config.opcua.users else None
    login = ""
    if operator is not None:
        login = f" -u {operator.name}"
        if operator.password.get_secret_value() == DEMO_PASSWORDS.get(operator.name):
            login += f" -p {DEMO_PASSWORDS[operator.name]}"
    logical = [
        f"PLCs on {', '.join(hosts)}: {places}",
        f"  data in {data_dir}: history demo.db, certificates pki/, config gateway.yaml",
        f"OPC UA endpoint: {url}",
        f"  security: {endpoints_text(endpoints)}",
        f"  certificate thumbprint (SHA-1): {thumbprint}",
        f"  users: {_users(config, roles=True)}",
        *([] if status_page is None else [f"status page: {status_page}"]),
        "WARNING: anonymous access on an unsecured endpoint is for this demo only.",
        "Every minute compressor_high_pressure trips; minute 5 the compressor drops off; "
        "minute 6 compressor_overload trips for ~30 s. Try (docs/quickstart.md):",
    ]
    lines = [line for text in logical for line in _wrapped(text)]
    lines += [
        f"  gateway browse {url}",
        f"  gateway watch {url} compressor.discharge_pressure",
        f"  gateway write {url} boiler.temperature_setpoint 100" + (" \\" if login else ""),
    ]
    if login:
        lines.append(f"   {login}")
    return lines

"""Passwords published with the product: the demo's, known to anyone who read its README.

`gateway demo` serves them on purpose. A real gateway that serves one (a copy
of the demo's configuration, a variable set to the demo's value) lets anyone
in: `gateway run` and `gateway check` say so.
"""

from __future__ import annotations

from gateway.config.models import OpcUaConfig

__all__ = ["DEMO_PASSWORDS", "PUBLISHED_PASSWORDS", "published_password_warning"]

#: The demo's users and the passwords the bundled demo files give them
#: (gateway/demo/gateway.yaml; a test keeps the two equal).
DEMO_PASSWORDS = {"operator": "demo-operator", "viewer": "demo-viewer"}
PUBLISHED_PASSWORDS = frozenset(DEMO_PASSWORDS.values())


def published_password_warning(opcua: OpcUaConfig) -> str | None:
    """One line naming the users whose password is a published one, or None."""
    users = [u.name for u in opcua.users if u.password.get_secret_value() in PUBLISHED_PASSWORDS]
    if not users:
        return None
    names = ", ".join(users)
    return (
        f"OPC UA user(s) {names} log in with a password published with the demo: anyone "
        "can log in as them; set passwords of your own (docs/security.md)"
    )

"""Who may do what: configured users and roles mapped onto asyncua sessions.

asyncua knows three roles (Admin, User, Anonymous) and lets its Admin change
the address space, so every gateway user is an asyncua `User`, never an
Admin, whatever its gateway role; the gateway role (viewer, operator, admin)
rides along on `GatewayUser` and is checked by the write path. Anonymous
sessions exist only when configured and are viewers. Sessions on an
unsecured channel exist only with `allow_none`. Passwords are compared in
constant time and never logged.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.user_managers import UserManager
from cryptography import x509

from gateway.config import Role, UserConfig
from gateway.opcua.pki import TrustList

__all__ = ["ANONYMOUS", "GatewayUser", "GatewayUserManager", "can_write"]

log = logging.getLogger(__name__)

#: Roles allowed to write tags.
_WRITERS = frozenset({Role.OPERATOR, Role.ADMIN})


@dataclass
class GatewayUser(User):
    """An asyncua session user that also carries its gateway role."""

    gateway_role: Role = Role.VIEWER


ANONYMOUS = GatewayUser(role=UserRole.User, name="anonymous", gateway_role=Role.VIEWER)


def can_write(user: object) -> bool:
    """Operators and admins write; viewers, anonymous and unknown sessions do not."""
    return isinstance(user, GatewayUser) and user.gateway_role in _WRITERS


class GatewayUserManager(UserManager):
    """asyncua user manager over the configured users (`opcua.users`, `opcua.anonymous`)."""

    def __init__(
        self,
        users: Iterable[UserConfig],
        *,
        anonymous: bool,
        allow_none: bool,
        trust: TrustList | None = None,
    ) -> None:
        """`trust`: checks the channel certificate at every activation (see get_user)."""
        self._users = {user.name: user for user in users}
        self._anonymous = anonymous
        self._allow_none = allow_none
        self._trust = trust

    def get_user(
        self,
        iserver: Any,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        """The session's user, or None to reject the activation (Bad_UserAccessDenied).

        `certificate` is the client's channel certificate, empty on an unsecured
        channel: asyncua opens one for any client (discovery needs it) and would
        let it activate a session even without a None endpoint.
        """
        if not certificate and not self._allow_none:
            log.warning("OPC UA: session on an unsecured channel refused (allow_none is off)")
            return None
        if certificate and not self._channel_trusted(certificate):
            return None
        if username is None and password is None:
            if self._anonymous:
                return ANONYMOUS
            log.warning("OPC UA: anonymous login rejected (anonymous access is off)")
            return None
        user = self._users.get(username or "")
        given = (password or "").encode()
        # Compare even for unknown users so timing does not reveal which names exist.
        expected = user.password.get_secret_value().encode() if user is not None else b"\0"
        if user is None or not hmac.compare_digest(given, expected):
            log.warning("OPC UA: login rejected for user %r", username)
            return None
        return GatewayUser(role=UserRole.User, name=user.name, gateway_role=user.role)

    def _channel_trusted(self, certificate: Any) -> bool:
        """The secure channel's certificate must be trusted, whatever CreateSession said.

        asyncua validates only the certificate a client puts into CreateSession,
        which a client may leave empty; activation is the one step every session
        (and every re-activation on a new channel) passes with the channel's own.
        """
        if self._trust is None:
            return True
        try:
            parsed = (
                certificate
                if isinstance(certificate, x509.Certificate)
                else x509.load_der_x509_certificate(bytes(certificate))
            )
        except ValueError:
            log.warning("OPC UA: session refused: unreadable client certificate")
            return False
        if self._trust.is_trusted(parsed):
            return True
        path = self._trust.reject(parsed)
        log.warning(
            "OPC UA: session refused: untrusted client certificate, saved as %s "
            "(move it to trusted/ to accept it)",
            path,
        )
        return False

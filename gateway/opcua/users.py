"""Who may do what: the configured users and roles, and anonymous (no asyncua here).

A session's `Identity` is its user name and gateway role (viewer, operator,
admin), or anonymous (a viewer, only when configured). The write path and
Acknowledge check `Identity.can_write`; per-identity limits and
TransferSubscriptions compare identities. Passwords are compared in constant
time, also for unknown names (timing does not reveal which names exist), and
never logged.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.config import Role, UserConfig
from gateway.ua.wire import StatusCodes

__all__ = ["ANONYMOUS", "Identity", "Refusal", "Users"]

#: Roles allowed to write tags and acknowledge alarms.
_WRITERS = frozenset({Role.OPERATOR, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a session acts as."""

    name: str
    role: Role
    anonymous: bool = False

    @property
    def can_write(self) -> bool:
        """Operators and admins write tags and acknowledge alarms; viewers do not."""
        return self.role in _WRITERS

    def __str__(self) -> str:
        return "anonymous" if self.anonymous else repr(self.name)


ANONYMOUS = Identity("anonymous", Role.VIEWER, anonymous=True)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refused login: the status code for the client, the reason for the log."""

    status: int
    reason: str


class Users:
    """The configured users (`opcua.users`) and whether anonymous clients are let in."""

    def __init__(self, users: Iterable[UserConfig], *, anonymous: bool) -> None:
        self._users = {user.name: user for user in users}
        self._anonymous = anonymous

    @property
    def anonymous(self) -> bool:
        return self._anonymous

    @property
    def has_users(self) -> bool:
        return bool(self._users)

    def known(self, name: str) -> bool:
        return name in self._users

    def anonymous_login(self) -> Identity | Refusal:
        if self._anonymous:
            return ANONYMOUS
        return Refusal(StatusCodes.BadIdentityTokenRejected, "anonymous access is off")

    def login(self, name: str, password: str) -> Identity | Refusal:
        user = self._users.get(name)
        given = password.encode("utf-8", "surrogateescape")
        expected = user.password.get_secret_value().encode() if user is not None else b"\0"
        matches = hmac.compare_digest(given, expected)
        if user is None or not matches:
            return Refusal(StatusCodes.BadUserAccessDenied, "wrong user name or password")
        return Identity(user.name, user.role)

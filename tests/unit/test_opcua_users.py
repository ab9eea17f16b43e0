"""Who may do what (gateway/opcua/users.py): configured users, roles and anonymous.

Pure: no server. The adapter asks `Users` for an `Identity` at ActivateSession
(or gets a `Refusal` with the status code for the client), and the write path
and Acknowledge ask `Identity.can_write`. Certificate trust is checked by the
adapter when the secure channel opens (test_opcua_pki.py).
"""

from __future__ import annotations

import pytest
from asyncua import ua
from pydantic import SecretStr

from gateway.config import Role, UserConfig
from gateway.opcua.users import ANONYMOUS, Identity, Refusal, Users

USERS = [
    UserConfig(name="op", password=SecretStr("op-pass"), role=Role.OPERATOR),
    UserConfig(name="view", password=SecretStr("view-pass"), role=Role.VIEWER),
    UserConfig(name="boss", password=SecretStr("bôss-pass"), role=Role.ADMIN),
]
DENIED = ua.StatusCodes.BadUserAccessDenied


def test_the_right_password_gives_the_users_identity_and_role() -> None:
    users = Users(USERS, anonymous=False)
    op = users.login("op", "op-pass")
    assert op == Identity("op", Role.OPERATOR)
    assert isinstance(op, Identity)
    assert (op.name, op.role, op.anonymous, op.can_write) == ("op", Role.OPERATOR, False, True)
    view = users.login("view", "view-pass")
    assert view == Identity("view", Role.VIEWER)
    assert isinstance(view, Identity)
    assert not view.can_write
    assert users.login("boss", "bôss-pass") == Identity("boss", Role.ADMIN)


@pytest.mark.parametrize(
    ("name", "password"),
    [
        ("op", "view-pass"),  # another user's password
        ("op", "op-pass "),
        ("op", "OP-PASS"),
        ("op", ""),
        ("view", "op-pass"),
        ("boss", "boss-pass"),  # ô is not o
        ("op", "op-pass\udcff"),  # undecodable bytes from the wire
    ],
)
def test_a_wrong_password_is_refused(name: str, password: str) -> None:
    refused = Users(USERS, anonymous=True).login(name, password)
    assert refused == Refusal(DENIED, "wrong user name or password")


@pytest.mark.parametrize("name", ["ghost", "", "OP", "op ", "\0"])
def test_an_unknown_user_gets_the_same_refusal_as_a_wrong_password(name: str) -> None:
    """The answer and the log line do not reveal which user names exist."""
    users = Users(USERS, anonymous=True)
    for password in ("op-pass", "", "\0"):
        assert users.login(name, password) == Refusal(DENIED, "wrong user name or password")


def test_no_users_configured_refuses_every_login() -> None:
    users = Users((), anonymous=True)
    assert not users.has_users
    assert users.login("op", "op-pass") == Refusal(DENIED, "wrong user name or password")


def test_anonymous_only_when_configured() -> None:
    open_users = Users(USERS, anonymous=True)
    assert open_users.anonymous
    anonymous = open_users.anonymous_login()
    assert anonymous is ANONYMOUS
    assert isinstance(anonymous, Identity)
    assert anonymous.anonymous
    assert anonymous.role is Role.VIEWER
    assert not anonymous.can_write
    assert str(anonymous) == "anonymous"
    strict = Users(USERS, anonymous=False)
    assert not strict.anonymous
    refused = strict.anonymous_login()
    assert isinstance(refused, Refusal)
    assert refused.status == ua.StatusCodes.BadIdentityTokenRejected
    assert "anonymous" in refused.reason


def test_known_tells_configured_names_apart() -> None:
    users = Users(USERS, anonymous=False)
    assert users.has_users
    assert users.known("op")
    assert users.known("view")
    assert not users.known("ghost")
    assert not users.known("OP")


@pytest.mark.parametrize(
    ("role", "writes"), [(Role.VIEWER, False), (Role.OPERATOR, True), (Role.ADMIN, True)]
)
def test_can_write_per_role(role: Role, writes: bool) -> None:
    assert Identity("someone", role).can_write is writes
    assert Identity("anonymous", role, anonymous=True).can_write is writes


def test_identities_compare_by_name_role_and_anonymous() -> None:
    """Per-identity limits and TransferSubscriptions rely on this."""
    op = Identity("op", Role.OPERATOR)
    assert op == Identity("op", Role.OPERATOR)
    assert hash(op) == hash(Identity("op", Role.OPERATOR))
    assert op != Identity("op", Role.VIEWER)  # the role changed in the config
    assert op != Identity("op2", Role.OPERATOR)
    assert Identity("anonymous", Role.VIEWER) != ANONYMOUS  # a user called anonymous
    assert len({op, Identity("op", Role.OPERATOR), ANONYMOUS, Identity("view", Role.VIEWER)}) == 3
    users = Users(USERS, anonymous=True)
    assert users.login("op", "op-pass") == users.login("op", "op-pass")
    assert users.anonymous_login() == users.anonymous_login()


def test_an_identity_is_immutable() -> None:
    op = Identity("op", Role.OPERATOR)
    with pytest.raises(AttributeError):
        op.role = Role.ADMIN  # type: ignore[misc]


def test_names_show_in_logs_but_passwords_never() -> None:
    users = Users(USERS, anonymous=False)
    op = users.login("op", "op-pass")
    assert str(op) == "'op'"
    refused = users.login("op", "secret-guess")
    assert isinstance(refused, Refusal)
    assert "secret-guess" not in repr(refused)
    assert "op-pass" not in repr(users.__dict__)

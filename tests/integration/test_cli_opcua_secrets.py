"""Commands that do not serve OPC UA need neither its secrets nor its warnings.

`gateway history`, `alarms` and `db upgrade` read the database only: a shell
without the OPC UA users' password variables must be able to run them, and
the "no client can log in" warning is for `run` (and `check`, which says what
`run` would do), not for them. Real files, a real SQLite database.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main

USERS = """\
opcua:
  users:
    - {name: operator, password: "${GW_TEST_UNSET_OPERATOR_PASSWORD}", role: operator}
    - {name: viewer, password: "${GW_TEST_UNSET_VIEWER_PASSWORD}"}
"""
NOBODY = "opcua: {anonymous: false}\n"


def config_file(tmp_path: Path, opcua: str) -> str:
    path = tmp_path / "plant.yaml"
    path.write_text(
        "gateway: {name: g}\n"
        + opcua
        + "storage: {url: 'sqlite:///plant.db'}\n"
        + "devices:\n  - name: d\n    host: 127.0.0.1\n"
        + "    tags: [{name: t, table: holding_register, address: 0, type: int16}]\n"
        + "alarms: [{name: hot, tag: d.t, high: 10}]\n",
        encoding="utf-8",
    )
    return str(path)


@pytest.fixture(autouse=True)
def _unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GW_TEST_UNSET_OPERATOR_PASSWORD", raising=False)
    monkeypatch.delenv("GW_TEST_UNSET_VIEWER_PASSWORD", raising=False)


@pytest.mark.parametrize("opcua", [USERS, NOBODY], ids=["unset-passwords", "no-users"])
def test_database_commands_run_without_the_opcua_secrets_and_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], opcua: str
) -> None:
    config = config_file(tmp_path, opcua)
    assert main(["db", "upgrade", "-c", config]) == 0
    out, err = capsys.readouterr()
    assert "schema upgraded from revision (empty)" in out
    assert err == ""
    # It reaches the database (whose tags table the gateway fills when it runs).
    assert main(["history", "-c", config, "d.t"]) == 1
    assert capsys.readouterr().err == (
        "error: no history for tag 'd.t': it is not in the database's tags table\n"
    )
    assert main(["alarms", "-c", config]) == 0
    out, err = capsys.readouterr()
    assert out.split()[:3] == ["time", "alarm", "transition"]  # the header of an empty journal
    assert len(out.splitlines()) == 1
    assert err == ""
    assert main(["alarms", "-c", config, "--active"]) == 0
    assert capsys.readouterr().err == ""


def test_check_still_needs_the_passwords_run_will_serve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_file(tmp_path, USERS)
    assert main(["check", "-c", config]) == 1
    err = capsys.readouterr().err
    assert (
        "opcua.users[0].password: environment variable GW_TEST_UNSET_OPERATOR_PASSWORD is not set:"
        " export it (a password has no default)" in err
    )
    assert "opcua.users[1].password: environment variable GW_TEST_UNSET_VIEWER_PASSWORD" in err


def test_check_warns_that_no_client_can_log_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_file(tmp_path, NOBODY)
    assert main(["check", "-c", config]) == 0
    err = capsys.readouterr().err
    assert (
        err
        == f"{config}:2: warning: opcua: no users and anonymous is false: no client can log in\n"
    )

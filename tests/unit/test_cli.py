"""The command-line contract: exit codes, help for every command, the check report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway import __version__
from gateway.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
ALL_TYPES = ROOT / "examples" / "all-types.yaml"


def test_check_prints_devices_and_planned_requests(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_OPERATOR_PASSWORD", "a password of its own")
    assert main(["check", "-c", str(ALL_TYPES)]) == 0
    out = capsys.readouterr().out
    assert "4 device(s), 35 tag(s), 2 alarm(s)" in out
    assert "device plc_abcd: 127.0.0.1:5020 unit 1, 18 tags" in out
    # Scan classes are planned apart: the 250ms tag gets its own request.
    assert "scan class 250ms: 1 request" in out
    assert "FC03 holding_register     0..30      31 registers   11 tag(s)" in out
    # max_read_gap 2 on plc_dcba keeps the far tags in separate requests.
    assert "FC03 holding_register   100..100      1 register " in out


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert {"check", "simulate"} <= set(commands)
    for name in commands:
        with pytest.raises(SystemExit) as exited:
            main([name, "--help"])
        assert exited.value.code == 0
        assert f"usage: gateway {name}" in capsys.readouterr().out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"gateway {__version__}"


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["check"])
    assert exited.value.code == 2
    assert "-c/--config" in capsys.readouterr().err


def test_python_m_gateway_reports_a_bad_file_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("gateway: {name: g}\ndevices:\n  - {name: d, host: h, prot: 502}\n")
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "check", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{path}:3: devices[0].prot: unknown key 'prot'" in result.stderr
    assert result.stdout == ""


#: Ctrl-C at a chosen point of the start: the import of the interface, or argument parsing.
_INTERRUPTED = """
import builtins, sys
from gateway.__main__ import main
if sys.argv[1] == "import":
    real = builtins.__import__
    def interrupted(name, *args, **kwargs):
        if name == "gateway.cli":
            raise KeyboardInterrupt
        return real(name, *args, **kwargs)
    builtins.__import__ = interrupted
else:
    import argparse
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    argparse.ArgumentParser.parse_args = interrupted
sys.argv = ["gateway", "--help"]
raise SystemExit(main())
"""


@pytest.mark.parametrize("when", ["import", "parse"])
def test_ctrl_c_while_the_command_starts_is_exit_130_without_traceback(when: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _INTERRUPTED, when],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (130, "", "")


def test_missing_file_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "-c", str(tmp_path / "nope.yaml")]) == 1
    err = capsys.readouterr().err
    assert "nope.yaml" in err
    assert "cannot read" in err


def test_check_warns_about_a_password_published_with_the_demo(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_OPERATOR_PASSWORD", "demo-operator")
    assert main(["check", "-c", str(ALL_TYPES)]) == 0
    assert capsys.readouterr().err == (
        f"{ALL_TYPES}: warning: OPC UA user(s) operator log in with a password published "
        "with the demo: anyone can log in as them; set passwords of your own (docs/security.md)\n"
    )

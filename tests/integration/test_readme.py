"""The README's demo, followed to the letter in a fresh virtual environment.

The install command is read from README.md's "Run the demo" section, so the
test fails when the README drifts from what works. A copy of the repository
(without caches, virtual environments and tests) is installed non-editable
into a new venv, then `gateway demo --duration 20` runs from an unrelated
working directory, an OPC UA client reads a Good value, and the demo must
exit 0 by itself. pip uses whatever index this machine is configured with.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
from demokit import ENDPOINT, killed_at_exit, read_good_value, rest_and_code

ROOT = Path(__file__).resolve().parents[2]
DURATION = 20
README_URL = "opc.tcp://127.0.0.1:4840"

#: Not needed to install, and large or machine-specific.
_NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", ".ci-venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache",
    ".hypothesis", "tests", "gateway-demo", "*.db", "*.db-*", "pki", "node_modules",
)  # fmt: skip


def _demo_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Run the demo\n(.*?)^## ", readme, re.MULTILINE | re.DOTALL)
    assert section, "README.md has no '## Run the demo' section"
    return section[1]


def _demo_command() -> tuple[str, str]:
    """(install, demo) from the first shell block of README.md's "Run the demo"."""
    block = re.search(r"```sh\n(.*?)```", _demo_section(), re.DOTALL)
    assert block, "the 'Run the demo' section has no ```sh block"
    command = block[1].strip().splitlines()[0]
    install, sep, demo = command.partition(" && ")
    assert sep, f"expected 'INSTALL && gateway demo', got {command!r}"
    assert install.startswith("pip install "), install
    assert demo == "gateway demo", demo
    return install, demo


#: The demo's fixed ports: OPC UA and the status page.
README_PORTS = (4840, 8080)


def _readme_port_is_free() -> bool:
    for port in README_PORTS:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


async def _start_demo(
    args: list[str], work: Path, env: dict[str, str], stderr: Path
) -> tuple[asyncio.subprocess.Process, str, list[str]] | None:
    """Start the demo, read its output up to the endpoint: (process, url, lines so far).

    None when it exited 1 because port 4840 was taken (by another process since
    the probe); any other early end fails the test.
    """
    with stderr.open("wb") as errors:
        process = await asyncio.create_subprocess_exec(
            *args, cwd=work, env=env, stdout=asyncio.subprocess.PIPE, stderr=errors
        )
    assert process.stdout is not None
    seen: list[str] = []
    try:
        async with asyncio.timeout(60):
            while line := (await process.stdout.readline()).decode():
                seen.append(line)
                if match := ENDPOINT.match(line.rstrip("\n")):
                    return process, match[1], seen
            code = await process.wait()
    except BaseException:
        process.kill()
        await process.wait()
        raise
    _port_was_taken(code, seen, stderr, retry=("--port" not in args))
    return None


def _port_was_taken(code: int, seen: list[str], stderr: Path, *, retry: bool) -> None:
    """Return if the demo's early end was port 4840 or 8080 in use (and we may retry), else fail."""
    text = stderr.read_text()
    if not (retry and code == 1 and any(f"port {port} " in text for port in README_PORTS)):
        pytest.fail(f"the demo ended early (exit {code}):\n{''.join(seen)}\n--- stderr:\n{text}")


async def _run(*args: str, log: Path, timeout: float, **kwargs: Any) -> int:
    """Run a command to completion, its output into `log`; its exit code."""
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            *args, stdout=out, stderr=asyncio.subprocess.STDOUT, **kwargs
        )
        try:
            async with asyncio.timeout(timeout):
                return await process.wait()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


def _venv_env(venv: Path) -> dict[str, str]:
    """The environment of a shell with `venv` activated."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.mark.slow
@pytest.mark.timeout(330)
async def test_readme_install_and_demo_in_a_fresh_venv_serve_a_good_value(tmp_path: Path) -> None:
    install, demo = _demo_command()
    repo = tmp_path / "repo"
    shutil.copytree(ROOT, repo, ignore=_NOT_COPIED)
    log, venv = tmp_path / "install.log", tmp_path / "venv"
    code = await _run(sys.executable, "-m", "venv", str(venv), log=log, timeout=120)
    assert code == 0, log.read_text()
    env = _venv_env(venv)
    code = await _run("bash", "-c", install, log=log, timeout=240, cwd=repo, env=env)
    assert code == 0, f"{install!r} failed:\n{log.read_text()[-4000:]}"

    work = tmp_path / "work"  # a user's directory: no sources anywhere near
    work.mkdir()
    shutil.rmtree(repo)  # whatever runs now comes from the venv, not the sources
    program, *demo_args = demo.split()
    executable = shutil.which(program, path=env["PATH"])
    assert executable == str(venv / "bin" / program), executable  # the venv's, not ours
    args = [executable, *demo_args, "--duration", str(DURATION)]
    stderr = tmp_path / "stderr.txt"
    started = None
    if _readme_port_is_free():  # the README's command exactly, as in CI
        started = await _start_demo(args, work, env, stderr)
        if started is not None:
            assert started[1] == README_URL  # where the README tells users to connect
    if started is None:  # 4840 or 8080 is someone else's on this machine: any free ports
        started = await _start_demo([*args, "--port", "0", "--http-port", "0"], work, env, stderr)
    assert started is not None
    process, url, seen = started
    assert process.stdout is not None
    async with killed_at_exit(process):
        value = await read_good_value(url, "boiler.water_temperature")
        assert isinstance(value.Value.Value, float)
        rest, code = await rest_and_code(process, DURATION + 30)  # it stops by itself
    errors = stderr.read_text()
    assert code == 0, "".join(seen) + rest + errors
    assert rest.rstrip().endswith("gateway demo stopped")
    assert "Traceback" not in errors
    assert (work / "gateway-demo" / "demo.db").is_file()  # the default data directory
    # The credentials the README promises are the ones the demo prints.
    for user, password in (("operator", "demo-operator"), ("viewer", "demo-viewer")):
        assert f"`{user}` / `{password}`" in _demo_section()
        assert f"{user} / {password} " in "".join(seen) + rest

"""`gateway browse|read|write|watch` against the real gateway OPC UA server and a simulated PLC.

The commands run through `gateway.cli.main` in a worker thread (each starts
its own event loop, as from a shell) while the server keeps running in the
test's loop; one test runs them as real `python -m gateway` processes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from clientkit import gateway
from gatewaykit import FAST_DEVICE, PLC_POINTS, PLC_TAGS, plc_device
from opcuakit import OpcRig, opc_rig, until

from gateway.cli import main
from simulators.runtime import RunningPlant

pytestmark = pytest.mark.asyncio(loop_scope="module")


def _devices(running: RunningPlant) -> list[dict[str, Any]]:
    flaky = running.slave("flaky")
    return [
        plc_device(running),
        {
            "name": "flaky",
            "host": flaky.host,
            "port": flaky.port,
            "unit_id": 1,
            "tags": PLC_TAGS,
            **FAST_DEVICE,
        },
    ]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[OpcRig]:
    pki: Path = tmp_path_factory.mktemp("client") / "pki"
    async with opc_rig({"plc": PLC_POINTS, "flaky": PLC_POINTS}, _devices, pki) as running:
        await until(lambda: _connected(running), message="devices connected")
        yield running


async def _connected(rig: OpcRig) -> bool:
    return all(health.connected for health in rig.acquisition.healths)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- browse ---------------------------------------------------------------------------


async def test_browse_shows_the_device_tree_with_values(
    rig: OpcRig, capsys: pytest.CaptureFixture[str]
) -> None:
    run = await gateway(capsys, "browse", rig.url)
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[0] == "test  Object  test"
    assert "  Devices  Object  Devices" in lines
    assert "    plc  Object  plc" in lines
    assert "      temp  Variable  plc.temp  = 21.5 °C  Good" in lines
    assert "      setpoint  Variable  plc.setpoint  = 50.0  Good" in lines
    assert "        State  Variable  plc._Status.State  = ok  Good" in lines
    assert "  Alarms  Object  Alarms" in run.out
    assert not any("EngineeringUnits" in line for line in lines)  # shown as the unit


async def test_browse_from_a_node_with_a_depth(
    rig: OpcRig, capsys: pytest.CaptureFixture[str]
) -> None:
    run = await gateway(capsys, "browse", rig.url, "--depth", "1", f"ns={rig.ns};s=Devices")
    assert run.code == 0, run.err
    assert run.out.splitlines() == [
        "Devices  Object  Devices",
        "  plc  Object  plc  …",
        "  flaky  Object  flaky  …",
    ]


async def test_browse_of_an_unknown_node_says_where_to_look(
    rig: OpcRig, capsys: pytest.CaptureFixture[str]
) -> None:
    run = await gateway(capsys, "browse", rig.url, "plc.nope")
    assert run.code == 1
    assert run.err.strip() == (
        f"error: unknown node plc.nope: the server has no such node "
        f"(`gateway browse {rig.url}` lists them)"
    )


# -- read -----------------------------------------------------------------------------


async def test_read_prints_value_status_time_and_type(
    rig: OpcRig, capsys: pytest.CaptureFixture[str]
) -> None:
    run = await gateway(
        capsys, "read", rig.url,
        "plc.temp", f"ns={rig.ns};s=plc.mode", "nsu=urn:test:gateway;s=plc.label", "i=2259",
    )  # fmt: skip
    assert run.code == 0, run.err
    header, temp, mode, label, state = run.out.splitlines()
    assert header.split() == ["NODE", "VALUE", "UNIT", "STATUS", "SOURCE", "TIME", "TYPE"]
    assert temp.split()[:4] == ["plc.temp", "21.5", "°C", "Good"]
    assert temp.split()[5] == "Float"
    assert temp.split()[4].endswith("Z")
    assert mode.split()[1:4] == ["1", "-", "Good"]
    assert mode.split()[5] == "UInt16"
    assert label.split()[1:4] == ["AB12", "-", "Good"]
    assert label.split()[5] == "String"
    assert state.split()[0] == "i=2259"  # Server.ServerStatus.State, an enumeration


async def test_read_shows_the_status_of_a_faulty_device(
    rig: OpcRig, capsys: pytest.CaptureFixture[str]
) -> None:
    slave = rig.plant.slave("flaky")

    async def read_status(node: str, status: str) -> str | None:
        run = await gateway(capsys, "read", rig.url, node)
        assert run.code == 0, run.err
        row = run.out.splitlines()[1]
        return row if row.split()[3] == status else None  # NODE VALUE UNIT STATUS

    slave.exception(0x04, 100, 101)
    try:
        row = await until(
            lambda: read_status("flaky.level", "Bad_DeviceFailure"), message="Bad_DeviceFailure"
        )
        assert row.split()[1] == "-"  # a Bad status carries no value
    finally:
        await slave.clear_faults()
    await slave.go_offline()
    try:
        uncertain = "Uncertain_NoCommunicationLastUsableValue"
        row = await until(lambda: read_status("flaky.temp", uncertain), message=uncertain)
        assert row.split()[1] == "21.5"  # the last usable value
    finally:
        await slave.go_online()
    await until(lambda: read_status("flaky.temp", "Good"), message="Good again")


async def test_read_of_an_unknown_node_names_it_and_exits_1(
    rig: OpcRig, capsys: pytest.CaptureFixture[str]
) -> None:
    run = await gateway(capsys, "read", rig.url, "plc.temp", "plc.nope")
    assert run.code == 1
    assert "plc.temp" in run.out  # the known node is still shown
    assert "error: unknown node plc.nope" in run.err
    assert "Traceback" not in run.err


async def test_a_malformed_node_id_is_a_clear_error(
    rig: OpcRig, capsys: pytest.CaptureFixture[str]
) -> None:
    run = await gateway(capsys, "read", rig.url, "ns=x;s=a")
    assert run.code == 1
    assert "'ns=x;s=a' is not a node id" in run.err


# -- write ----------------------------------------------------------------------------


async def test_operator_write_reaches_the_plc(
    rig: OpcRig, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    unit = rig.plant.slave("plc").unit(1)
    monkeypatch.setenv("GATEWAY_PASSWORD", "op-secret")  # instead of -p
    try:
        run = await gateway(capsys, "write", rig.url, "-u", "op", "plc.setpoint", "62.5")
        assert run.code == 0, run.err
        assert run.out.strip() == "plc.setpoint ← 62.5 (Float): Good"
        assert unit.get("setpoint") == 62.5
        run = await gateway(capsys, "write", rig.url, "-u", "op", "plc.pump", "true")
        assert run.code == 0, run.err
        assert unit.get("pump") is True
        run = await gateway(capsys, "write", rig.url, "-u", "op", "plc.fault", "1")
        assert run.code == 0, run.err
        assert unit.get("status") == 0b111
    finally:
        unit.set("setpoint", 50.0)
        unit.set("pump", False)
        unit.set("status", 5)


async def test_viewer_write_is_refused_with_the_reason(
    rig: OpcRig, capsys: pytest.CaptureFixture[str]
) -> None:
    run = await gateway(
        capsys, "write", rig.url, "-u", "view", "-p", "view-secret", "plc.setpoint", "10"
    )
    assert run.code == 1
    assert "Bad_UserAccessDenied" in run.err
    assert "the user has no write right (user view, a viewer); log in as an operator" in run.err
    assert rig.plant.slave("plc").unit(1).get("setpoint") == 50.0
    anonymous = await gateway(capsys, "write", rig.url, "plc.setpoint", "10")
    assert anonymous.code == 1
    assert "(anonymous, a viewer)" in anonymous.err


@pytest.mark.parametrize(
    ("node", "value", "message"),
    [
        ("plc.mode", "70000", "70000 is outside the UInt16 range 0..65535"),
        ("plc.mode", "1.5", "expected a whole number (UInt16), got '1.5'"),
        ("plc.setpoint", "warm", "expected a number (Float), got 'warm'"),
        ("plc.pump", "maybe", "expected a Boolean (true/false, 1/0), got 'maybe'"),
        ("plc.setpoint", "150", "Bad_OutOfRange: the value is outside the tag's range [0, 100]"),
        ("plc.temp", "20", "Bad_NotWritable"),
        ("plc", "1", "plc is not a variable (NodeClass Object)"),
        ("plc.nope", "1", "unknown node plc.nope"),
    ],
)
async def test_bad_write_values_are_refused_and_not_written(
    rig: OpcRig, capsys: pytest.CaptureFixture[str], node: str, value: str, message: str
) -> None:
    unit = rig.plant.slave("plc").unit(1)
    before = (unit.get("mode"), unit.get("setpoint"), unit.get("pump"))
    run = await gateway(capsys, "write", rig.url, "-u", "op", "-p", "op-secret", node, value)
    assert run.code == 1
    assert message in run.err
    assert "Traceback" not in run.err
    assert (unit.get("mode"), unit.get("setpoint"), unit.get("pump")) == before


# -- connection errors ----------------------------------------------------------------


async def test_wrong_password_is_rejected(rig: OpcRig, capsys: pytest.CaptureFixture[str]) -> None:
    run = await gateway(capsys, "read", rig.url, "-u", "op", "-p", "wrong", "plc.temp")
    assert run.code == 1
    assert run.err.strip() == f"error: {rig.url}: user or password rejected (Bad_UserAccessDenied)"


async def test_a_user_without_a_password_off_a_terminal_is_told_how_to_give_one(
    rig: OpcRig, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GATEWAY_PASSWORD", raising=False)
    run = await gateway(capsys, "read", rig.url, "-u", "op", "plc.temp")  # stdin: not a tty
    assert run.code == 1
    assert run.err.strip() == (
        "error: no password for user op: give -p PASSWORD or set $GATEWAY_PASSWORD "
        "(it is asked for only on a terminal)"
    )


async def test_unreachable_endpoint(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"opc.tcp://127.0.0.1:{_free_port()}"
    run = await gateway(capsys, "browse", url)
    assert run.code == 1
    assert run.err.strip() == f"error: cannot connect to {url}: connection refused"


async def test_not_an_opc_url(capsys: pytest.CaptureFixture[str]) -> None:
    run = await gateway(capsys, "read", "http://127.0.0.1:4840", "i=2259")
    assert run.code == 1
    assert "is not an OPC UA URL: expected opc.tcp://HOST:PORT" in run.err


# -- watch ----------------------------------------------------------------------------


async def test_watch_prints_a_change_of_the_plc_register(
    rig: OpcRig, capsys: pytest.CaptureFixture[str]
) -> None:
    unit = rig.plant.slave("plc").unit(1)
    # Options between URL and NODE, as people type them.
    argv = ["watch", rig.url, "--count", "1", "--duration", "20", "--interval", "50", "plc.mode"]
    command = asyncio.create_task(asyncio.to_thread(main, argv))
    out: list[str] = []

    async def initial_value_shown() -> bool:
        out.append(capsys.readouterr().out)
        return "  plc.mode  1  Good" in "".join(out)

    try:
        await until(initial_value_shown, timeout=10, message="the initial value")
        unit.set("mode", 7)
        async with asyncio.timeout(20):
            code = await command
    finally:
        unit.set("mode", 1)
        await asyncio.wait_for(command, 30)
    captured = capsys.readouterr()
    lines = ("".join(out) + captured.out).splitlines()
    assert code == 0, captured.err
    assert lines[-1].endswith("  plc.mode  7  Good")
    assert lines[-1][:4].isdigit()
    assert "Z  plc.mode" in lines[-1]


async def test_watch_stops_after_its_duration(
    rig: OpcRig, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    run = await gateway(capsys, "watch", rig.url, "--duration", "1")
    assert run.code == 0, run.err
    assert 1.0 <= time.monotonic() - started < 10
    assert "watching 20 node(s) and events" in run.err  # every tag of both devices
    assert "  plc.temp  21.5  Good" in run.out
    assert "  flaky.label  AB12  Good" in run.out


async def test_watch_ends_with_an_error_when_the_server_goes_away(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out: list[str] = []

    async def watching() -> bool:
        out.append(capsys.readouterr().out)
        return "  plc.mode  1  Good" in "".join(out)

    async with opc_rig({"plc": PLC_POINTS}, lambda r: [plc_device(r)], tmp_path / "pki") as rig:
        url = rig.url
        argv = ["watch", url, "plc.mode", "--duration", "30"]
        command = asyncio.create_task(asyncio.to_thread(main, argv))
        await until(watching, timeout=10, message="the initial value")
    async with asyncio.timeout(20):  # not the 30 s of --duration
        code = await command
    assert code == 1
    assert capsys.readouterr().err.strip().endswith(f"error: lost the connection to {url}")


# -- as a user runs them ----------------------------------------------------------------


async def test_read_and_watch_as_processes(rig: OpcRig) -> None:
    read = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "read", rig.url, "plc.level",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(read.communicate(), 30)
    assert read.returncode == 0, err.decode()
    assert out.decode().splitlines()[1].split()[:4] == ["plc.level", "7.0", "-", "Good"]

    watch = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "watch", rig.url, "plc.temp",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert watch.stdout is not None
    try:
        first = await asyncio.wait_for(watch.stdout.readline(), 30)
        assert first.decode().rstrip().endswith("  plc.temp  21.5  Good")
        watch.send_signal(signal.SIGINT)  # Ctrl-C
        _rest, err = await asyncio.wait_for(watch.communicate(), 30)
    finally:
        if watch.returncode is None:
            watch.kill()
            await watch.wait()
    assert watch.returncode == 0, err.decode()
    assert "Traceback" not in err.decode()


async def test_ctrl_c_while_watch_connects_stops_it_at_once() -> None:
    """A server that accepts the TCP connection and never answers: Ctrl-C must not wait."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"opc.tcp://127.0.0.1:{silent.getsockname()[1]}"
        watch = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "watch", url, "--timeout", "60",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await asyncio.sleep(2)  # connecting: imports done, the Hello unanswered
            started = time.monotonic()
            watch.send_signal(signal.SIGINT)
            _, err = await asyncio.wait_for(watch.communicate(), 30)
        finally:
            if watch.returncode is None:
                watch.kill()
                await watch.wait()
    assert time.monotonic() - started < 10  # not the 60 s of --timeout
    assert watch.returncode == 130, err.decode()
    assert "Traceback" not in err.decode()


async def test_watch_stops_quietly_when_its_reader_goes_away(rig: OpcRig) -> None:
    """`gateway watch … | head -1`: the next line finds the pipe closed."""
    unit = rig.plant.slave("plc").unit(1)
    read_end, write_end = os.pipe()
    watch = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "watch", rig.url, "plc.mode", "--duration", "60",
        stdout=write_end, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as reader:
            first = await asyncio.wait_for(asyncio.to_thread(reader.readline), 30)
        assert first.decode().rstrip().endswith("  plc.mode  1  Good")
        unit.set("mode", 9)  # a change to print into the closed pipe
        _, err = await asyncio.wait_for(watch.communicate(), 30)  # well before --duration
    finally:
        unit.set("mode", 1)
        if watch.returncode is None:
            watch.kill()
            await watch.wait()
    assert watch.returncode == 0, err.decode()
    assert "Traceback" not in err.decode()


async def test_a_server_that_is_not_opc_ua_is_named_as_such(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Something answers on the port but hangs up on the OPC UA Hello (a web server, say)."""

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    url = f"opc.tcp://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    async with server:
        run = await gateway(capsys, "read", url, "i=2258")
    assert run.code == 1
    assert run.err.strip() == (
        f"error: cannot connect to {url}: the server closed the connection during the "
        "handshake (is it an OPC UA server on that port?)"
    )

"""RTU devices in a gateway file: settings, what `gateway check` refuses (file:line) and prints."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.config import load_config
from gateway.errors import ConfigError

HEAD = """\
gateway: {name: rtu}
opcua: {anonymous: true}
devices:
"""
TAG = "[{name: t, ref: 40001, type: float32}]"


def write(tmp_path: Path, devices: str) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(HEAD + textwrap.dedent(devices), encoding="utf-8")
    return path


def issues(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [f"{issue.line}: {issue.path}: {issue.message}" for issue in caught.value.issues]


def test_an_rtu_device_needs_a_port_and_no_host(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""\
        - {{name: a, transport: rtu, host: 10.0.0.1, serial: {{baudrate: 19200}}, tags: {TAG}}}
        - {{name: b, transport: rtu_over_tcp, serial: {{port: /dev/ttyS0}}, tags: {TAG}}}
        - {{name: c, host: plc, turnaround: 10ms, tags: {TAG}}}
        - {{name: d, transport: rtu, serial: {{port: /dev/ttyS0, baudrate: 19000}}, tags: {TAG}}}
        - {{name: e, transport: rtu, connection: x, serial: {{port: /dev/ttyS1}}, tags: {TAG}}}
        """,
    )
    found = issues(path)
    assert "4: devices[0].host: not used by transport rtu (the port is serial.port)" in found
    assert "4: devices[0].serial: missing required key 'port'" in found
    assert "5: devices[1]: missing required key 'host'" in found
    assert "6: devices[2].turnaround: only for transport rtu or rtu_over_tcp, not tcp" in found
    assert any(i.startswith("7: devices[3].serial.baudrate: 19000 is not a serial") for i in found)
    assert any(i.startswith("8: devices[4].connection: not used by RTU devices") for i in found)


def test_what_cannot_work_on_a_line_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""\
        - {{name: a, transport: rtu, unit_id: 1, serial: {{port: /dev/ttyS0}}, tags: {TAG}}}
        - {{name: b, transport: rtu, unit_id: 1, serial: {{port: /dev/ttyS0}}, tags: {TAG}}}
        - name: c
          transport: rtu
          unit_id: 2
          serial: {{port: /dev/ttyS0, parity: none}}
          tags: {TAG}
        - {{name: d, transport: rtu_over_tcp, host: gw, unit_id: 248, tags: {TAG}}}
        - name: e
          transport: rtu
          unit_id: 0
          serial: {{port: /dev/ttyS0}}
          tags:
            - {{name: setpoint, ref: 40001, type: uint16, writable: true}}
            - {{name: status, ref: 40002, type: uint16}}
            - {{name: flag, ref: 40003, type: bool, bit: 2, writable: true}}
        - {{name: f, host: gw, unit_id: 1, tags: {TAG}}}
        - {{name: g, transport: rtu_over_tcp, host: gw, unit_id: 1, tags: {TAG}}}
        """,
    )
    found = issues(path)
    assert found == [
        "5: devices[1].unit_id: unit id 1 is already used on serial port /dev/ttyS0 by device 'a'",
        "9: devices[2].serial.parity: parity none differs from even of device 'a' on serial "
        "port /dev/ttyS0: every device on a port uses the same settings",
        "11: devices[3].unit_id: unit id 248 is not a serial slave address: use 1..247 "
        "(0 is broadcast)",
        "11: devices[3].transport: device 'f' reaches gw:502 by Modbus TCP: one converter "
        "speaks one of the two (check its mode)",
        "18: devices[4].tags[1].writable: unit 0 is broadcast: nobody answers, so tag 'status' "
        "cannot be read; a broadcast device has writable tags only (read each unit by its own id)",
        "19: devices[4].tags[2].bit: unit 0 is broadcast: writing one bit of a register reads "
        "the register first, which nobody answers; write tag 'flag' as a whole register",
        "21: devices[6].transport: device 'f' reaches gw:502 by Modbus TCP: one converter "
        "speaks one of the two (check its mode)",
    ]


def test_check_prints_each_lines_plan_and_warns_when_it_cannot_keep_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        """\
        - name: m1
          transport: rtu
          unit_id: 1
          scan_interval: 100ms
          serial: {port: /dev/ttyUSB0, baudrate: 9600, parity: even}
          tags: [{name: t, ref: 40001, type: string, length: 100}]
        - name: m2
          transport: rtu
          unit_id: 2
          turnaround: 20ms
          serial: {port: /dev/ttyUSB0, baudrate: 9600, parity: even}
          tags: [{name: t, ref: 30001, type: float32}, {name: u, ref: 30101, type: float32}]
        - name: all
          transport: rtu
          unit_id: 0
          serial: {port: /dev/ttyUSB0, baudrate: 9600, parity: even}
          tags: [{name: reset, ref: 40001, type: uint16, writable: true}]
        - name: c
          transport: rtu_over_tcp
          host: 10.0.0.9
          unit_id: 3
          tags: [{name: t, ref: 40001, type: uint16}]
        """,
    )
    assert main(["check", "-c", str(path)]) == 0
    out = capsys.readouterr().out
    assert "device m1: /dev/ttyUSB0 unit 1, 1 tags" in out
    assert "device all: /dev/ttyUSB0 unit 0, 1 tags" in out
    assert "[broadcast: written, never read]" in out
    # 100 registers at 9600 8E1: (8 + 205) × 11 / 9600 + 2 × t3.5 = 252 ms in every 100 ms.
    assert "line serial port /dev/ttyUSB0 at 9600 8E1: 3 device(s) m1, m2, all" in out
    assert (
        "  scan class 100ms: 1 request(s), about 252 ms of line time (252% of the interval)" in out
    )
    # Two float32 reads: 2 × ((8 + 9) × 11 / 9600 + 2 × 4.01 ms + 20 ms turnaround) = 95 ms.
    assert "  scan class 1s: 2 request(s), about 95 ms of line time (10% of the interval)" in out
    assert "  warning: the line needs 262% of its time: scans will run late" in out
    assert "line converter 10.0.0.9:502 at 19200 8E1 (assumed: set serial.baudrate)" in out
    assert "  line busy 1% of the time" in out


def test_an_rtu_over_tcp_device_without_a_port_problem_reports_it(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"- {{name: b, transport: rtu_over_tcp, host: gw, serial: {{port: x}}, tags: {TAG}}}\n",
    )
    assert issues(path) == [
        "4: devices[0].serial.port: not used by rtu_over_tcp: the converter owns the port"
    ]

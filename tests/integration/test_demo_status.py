"""The demo's live status: redrawn in place on a terminal, one line per sample otherwise."""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

import pytest

from gateway.demo import DemoOptions, run_demo
from gateway.demo.status import (
    DeviceLine,
    StatusOutput,
    StatusSample,
    logs_above,
    render_line,
)

SAMPLE = StatusSample(
    uptime=3723.0,
    devices=(
        DeviceLine("boiler", "ok", "water_temperature 84.21 degC"),
        DeviceLine("tank_farm", "backoff", ""),
    ),
    values_per_second=61.6,
    alarms=(("compressor_high_pressure", "active_unacked"), ("boiler_overtemp", "rtn_unacked")),
)


def test_a_line_per_sample_when_not_a_terminal() -> None:
    out = io.StringIO()
    output = StatusOutput(out, live=False)
    output.show(SAMPLE)
    output.show(SAMPLE)
    line = (
        "status 1:02:03: boiler ok, tank_farm backoff; 62 values/s; "
        "1 active alarm: compressor_high_pressure; 1 cleared, unacknowledged: boiler_overtemp\n"
    )
    assert out.getvalue() == line * 2
    assert "\x1b" not in out.getvalue()
    assert render_line(StatusSample(0, (), 0, ())).endswith("; 0 values/s; 0 active alarms")


def test_on_a_terminal_the_block_is_redrawn_in_place_and_logs_go_above_it() -> None:
    out = io.StringIO()
    output = StatusOutput(out, live=True, header=("OPC UA opc.tcp://127.0.0.1:4840",))
    output.show(SAMPLE)
    first = out.getvalue()
    assert first.splitlines() == [
        "OPC UA opc.tcp://127.0.0.1:4840",
        "up 1:02:03   62 values/s   1 active alarm, 1 cleared, unacknowledged",
        "  boiler     ok        water_temperature 84.21 degC",
        "  tank_farm  backoff",
        "  alarm compressor_high_pressure: active, unacknowledged",
        "  alarm boiler_overtemp: cleared, unacknowledged",
    ]
    output.show(SAMPLE)
    assert out.getvalue() == first + "\x1b[6F\x1b[J" + first  # up 6 lines, clear, redraw
    logger = logging.getLogger("test.demo.status")
    logger.setLevel(logging.WARNING)
    handlers = logging.getLogger().handlers[:]
    with logs_above(output):
        logger.warning("device tank_farm: ok → backoff")
    assert logging.getLogger().handlers == handlers  # restored
    after = out.getvalue()[len(first) * 2 + len("\x1b[6F\x1b[J") :]
    assert after.startswith("\x1b[6F\x1b[J")
    assert after.endswith("device tank_farm: ok → backoff\n" + first)


def test_the_banner_groups_the_endpoints_by_policy_and_mode() -> None:
    from gateway.demo.banner import endpoints_text as _endpoints_text

    endpoints = (
        "Basic256Sha256/Sign", "Basic256Sha256/SignAndEncrypt",
        "Aes256_Sha256_RsaPss/Sign", "Aes256_Sha256_RsaPss/SignAndEncrypt", "None",
    )  # fmt: skip
    assert _endpoints_text(endpoints) == (
        "None (unsecured); Basic256Sha256, Aes256_Sha256_RsaPss with Sign or SignAndEncrypt"
    )
    assert _endpoints_text(("None",)) == "None (unsecured)"
    assert _endpoints_text(("Basic256Sha256/SignAndEncrypt",)) == (
        "Basic256Sha256 with SignAndEncrypt"
    )


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_the_banner_and_the_status_fit_an_80_by_24_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new user's first screen: nothing they need has scrolled away when the status starts.

    The real demo (free ports, so 5-digit ones) on a terminal of 80 columns.
    """
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("LINES", "24")
    out = _Terminal()
    options = DemoOptions(data_dir=Path("gateway-demo"), port=0, duration=2.5, http_port=0)
    await run_demo(options, out)
    first_screen, *redraws = re.split(r"\x1b\[\d+F\x1b\[J", out.getvalue())
    lines = first_screen.splitlines()
    assert all(len(line) < 80 for line in lines), [line for line in lines if len(line) >= 80]
    assert len(lines) <= 23, "\n".join(lines)  # the 24th row is the cursor's
    endpoint = next(line for line in lines if line.startswith("OPC UA endpoint: "))
    url = endpoint.removeprefix("OPC UA endpoint: ")
    assert "  users: operator / demo-operator (operator); viewer / demo-viewer (viewer)" in lines
    # The redrawn status keeps the endpoint and the credentials on screen, whatever scrolls.
    assert redraws
    for redraw in redraws:
        block = redraw.splitlines()
        assert re.fullmatch(
            rf"OPC UA {url}  page http://127\.0\.0\.1:\d+/  Ctrl-C stops", block[0]
        ), block[0]
        assert block[1].startswith("  users: operator / demo-operator, viewer / demo-viewer")

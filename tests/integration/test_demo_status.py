"""The demo's live status: redrawn in place on a terminal, one line per sample otherwise."""

from __future__ import annotations

import io
import logging

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
    active_alarms=("compressor_high_pressure",),
)


def test_a_line_per_sample_when_not_a_terminal() -> None:
    out = io.StringIO()
    output = StatusOutput(out, live=False)
    output.show(SAMPLE)
    output.show(SAMPLE)
    line = (
        "status 1:02:03: boiler ok, tank_farm backoff; 62 values/s; "
        "1 active alarm(s): compressor_high_pressure\n"
    )
    assert out.getvalue() == line * 2
    assert "\x1b" not in out.getvalue()
    assert render_line(StatusSample(0, (), 0, ())).endswith("; 0 values/s; 0 active alarms")


def test_on_a_terminal_the_block_is_redrawn_in_place_and_logs_go_above_it() -> None:
    out = io.StringIO()
    output = StatusOutput(out, live=True)
    output.show(SAMPLE)
    first = out.getvalue()
    assert first.splitlines() == [
        "up 1:02:03   62 values/s   1 active alarm(s): compressor_high_pressure",
        "  boiler     ok        water_temperature 84.21 degC",
        "  tank_farm  backoff",
    ]
    output.show(SAMPLE)
    assert out.getvalue() == first + "\x1b[3F\x1b[J" + first  # up 3 lines, clear, redraw
    logger = logging.getLogger("test.demo.status")
    logger.setLevel(logging.WARNING)
    handlers = logging.getLogger().handlers[:]
    with logs_above(output):
        logger.warning("device tank_farm: ok → backoff")
    assert logging.getLogger().handlers == handlers  # restored
    after = out.getvalue()[len(first) * 2 + len("\x1b[3F\x1b[J") :]
    assert after.startswith("\x1b[3F\x1b[J")
    assert after.endswith("device tank_farm: ok → backoff\n" + first)


def test_the_banner_groups_the_endpoints_by_policy_and_mode() -> None:
    from gateway.demo.runner import _endpoints_text

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

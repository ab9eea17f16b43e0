"""The status page in a real headless Chromium (Debian's, driven by Playwright for Python).

What a user does: open the page, watch a value change, filter and page the
tags, chart one, log in, acknowledge an alarm as an operator (and find no
way to as a viewer), shelve and unshelve it. Screenshots at 1280×800 and 390×844 go to
$GATEWAY_SCREENSHOTS (docs/images/ when regenerating the docs), else to the
test's temporary folder.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import WaitUntil
from httpkit import http_rig
from mqttkit import SHARED_BROKER, broker_reachable, free_port

from gateway.alarms import AlarmState
from gateway.alarms.model import Shelving

playwright_api = pytest.importorskip("playwright.async_api")

CHROMIUM = Path("/usr/bin/chromium")
#: What Chromium needs to run headless in a container, without phoning home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
#: Milliseconds Playwright waits for a condition on the page.
WAIT_MS = 10_000

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install -y chromium"
)


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


def _screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("GATEWAY_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def _login(page: Any, user: str, password: str) -> None:
    await page.fill("#login-user", user)
    await page.fill("#login-password", password)
    await page.click("#login-button")
    await page.wait_for_selector("#user-name", timeout=WAIT_MS)


async def test_the_page_updates_filters_pages_and_charts(
    tmp_path: Path, eventually: WaitUntil
) -> None:
    expect = playwright_api.expect
    async with http_rig(tmp_path) as rig, chromium() as browser:
        page = await browser.new_page(viewport=DESKTOP)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(rig.url)
        await expect(page.locator("h1")).to_have_text("web-test")
        await expect(page.locator("#ready")).to_have_text("ready", timeout=WAIT_MS)
        devices = page.locator("#devices tbody tr")
        await expect(devices).to_have_count(2)
        await expect(page.locator('tr[data-device="big"] .state')).to_have_text("ok")

        # A value changes on the PLC: the page shows it without a reload.
        temp = page.locator('tr[data-tag="plc.temp"] .value')
        await expect(temp).to_have_text("21.5", timeout=WAIT_MS)
        rig.set_point("temp", 23.25)
        await expect(temp).to_have_text("23.25", timeout=WAIT_MS)

        # 130 tags, 50 a page: three pages; never all at once.
        rows = page.locator("#tags tbody tr")
        await expect(rows).to_have_count(50)
        info = page.locator("#tag-pager .info")
        await expect(info).to_have_text("page 1 of 3 · 130 tags")
        await page.click("#tag-pager .next")
        await expect(info).to_have_text("page 2 of 3 · 130 tags", timeout=WAIT_MS)
        await expect(rows.first).to_have_attribute("data-tag", "big.r040")
        await page.fill("#tag-filter", "R11")
        await expect(info).to_contain_text("page 1 of 1 · 10 tags matching", timeout=WAIT_MS)
        await expect(rows).to_have_count(10)
        await expect(page.locator('tr[data-tag="big.r117"] .value')).to_have_text("117")
        await page.fill("#tag-filter", "temp")
        await expect(rows).to_have_count(1, timeout=WAIT_MS)

        # The chart of the tag's last hour: the stored readings, as a line.
        rig.set_point("temp", 26.5)
        await expect(temp).to_have_text("26.5", timeout=WAIT_MS)
        await page.click('tr[data-tag="plc.temp"]')
        await expect(page.locator("#chart-title")).to_have_text("Last hour: plc.temp")
        await expect(page.locator("#chart-note")).to_contain_text(
            re.compile(r"^[3-9] readings in the last hour \(degC\)"), timeout=WAIT_MS
        )
        line = page.locator("#chart polyline")
        points = (await line.get_attribute("points") or "").split()
        assert len(points) >= 3
        await expect(page.locator("#chart text.label").first).to_have_text("26.5")

        # What a user sees, on a desktop and on a phone: an operator with an alarm to handle.
        rig.set_point("temp", 35.0)
        await _login(page, "op", "op-secret")
        await expect(page.locator('#alarms tr[data-alarm="temp_alarm"] button.ack')).to_have_count(
            1, timeout=WAIT_MS
        )
        await expect(page.locator("#chart-title")).to_have_text("Last hour: plc.temp")
        await expect(page.locator("#chart-note")).to_contain_text("readings", timeout=WAIT_MS)
        await expect(rows).to_have_count(50)
        folder = _screenshots(tmp_path)
        await page.evaluate("window.scrollTo(0, 0)")
        await page.screenshot(path=str(folder / "status-desktop.png"))
        await page.set_viewport_size(PHONE)
        await expect(page.locator("#chart polyline")).to_have_count(1)
        overflow = await page.evaluate("document.documentElement.scrollWidth - innerWidth")
        assert overflow <= 0, f"the page is {overflow} px wider than a phone"
        await page.screenshot(path=str(folder / "status-phone.png"))
        assert (folder / "status-desktop.png").stat().st_size > 10_000
        assert errors == []


async def test_an_operator_acknowledges_and_a_viewer_cannot(
    tmp_path: Path, eventually: WaitUntil
) -> None:
    expect = playwright_api.expect
    async with http_rig(tmp_path) as rig, chromium() as browser:
        rig.set_point("temp", 35.0)
        await eventually(
            lambda: rig.gateway.alarms.snapshot("temp_alarm").active, message="the alarm"
        )
        alarm_row = '#alarms tr[data-alarm="temp_alarm"]'

        viewer = await browser.new_page(viewport=DESKTOP)
        await viewer.goto(rig.url)
        await expect(viewer.locator(alarm_row)).to_have_count(1)
        await expect(viewer.locator("button.ack")).to_have_count(0)  # anonymous: no button
        await _login(viewer, "view", "view-secret")
        await expect(viewer.locator("#user-name")).to_have_text("view (viewer)")
        await expect(viewer.locator(f"{alarm_row} .state")).to_have_text("active unacked")
        await expect(viewer.locator("button.ack")).to_have_count(0)
        await expect(viewer.locator("#alarms button")).to_have_count(0)  # no Shelve either
        await expect(viewer.locator("#shelve-dialog")).to_have_count(0)
        # Even a hand-made request from the viewer's page, with its token, is refused.
        status = await viewer.evaluate(
            """async () => (await fetch("/api/alarms/acknowledge", {
                method: "POST",
                headers: {
                    "Content-Type": "application/json",
                    "X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content,
                },
                body: JSON.stringify({alarm: "temp_alarm"}),
            })).status"""
        )
        assert status == 403
        assert rig.gateway.alarms.snapshot("temp_alarm").state is AlarmState.UNACK

        # A wrong password is refused with a message.
        operator_context = await browser.new_context(viewport=DESKTOP)
        operator = await operator_context.new_page()
        await operator.goto(rig.url)
        await operator.fill("#login-user", "op")
        await operator.fill("#login-password", "wrong")
        await operator.click("#login-button")
        await expect(operator.locator("#message")).to_have_text(
            "Login failed: wrong user name or password", timeout=WAIT_MS
        )
        await _login(operator, "op", "op-secret")
        await expect(operator.locator("#user-name")).to_have_text("op (operator)")
        cookies = {c["name"]: c for c in await operator_context.cookies()}
        session = cookies["gateway_session"]
        assert (session["httpOnly"], session["sameSite"]) == (True, "Strict")
        button = operator.locator(f"{alarm_row} button.ack")
        await button.click()
        await expect(operator.locator(f"{alarm_row} .state")).to_have_text(
            "active acked", timeout=WAIT_MS
        )
        await expect(button).to_have_count(0)
        snapshot = rig.gateway.alarms.snapshot("temp_alarm")
        assert (snapshot.state, snapshot.user) == (AlarmState.ACKED, "op")
        # The viewer's page follows.
        await expect(viewer.locator(f"{alarm_row} .state")).to_have_text(
            "active acked", timeout=WAIT_MS
        )

        # Shelve for 8 hours with a reason: the row says so, Unshelve takes Shelve's place.
        folder = _screenshots(tmp_path)
        await operator.locator(f"{alarm_row} button.shelve").click()
        dialog = operator.locator("#shelve-dialog")
        await expect(dialog).to_be_visible()
        await expect(operator.locator("#shelve-title")).to_have_text("Shelve temp_alarm")
        await operator.select_option("#shelve-duration", label="8 hours")
        await operator.fill("#shelve-reason", "pump swap")
        await operator.screenshot(path=str(folder / "shelve-dialog-desktop.png"))
        await operator.click("#shelve-confirm")
        await expect(dialog).to_be_hidden(timeout=WAIT_MS)
        badge = f"{alarm_row} .badge.silenced"
        await expect(operator.locator(badge)).to_contain_text("shelved until", timeout=WAIT_MS)
        await expect(operator.locator(f"{alarm_row} button.unshelve")).to_have_count(1)
        await expect(operator.locator(f"{alarm_row} button.shelve")).to_have_count(0)
        snapshot = rig.gateway.alarms.snapshot("temp_alarm")
        assert (snapshot.shelving, snapshot.user, snapshot.comment) == (
            Shelving.TIMED,
            "op",
            "pump swap",
        )
        assert snapshot.shelved_until is not None
        assert snapshot.shelved_until - snapshot.time == pytest.approx(8 * 3600, abs=1)
        await expect(viewer.locator(badge)).to_contain_text("shelved until", timeout=WAIT_MS)
        await expect(viewer.locator("#alarms button")).to_have_count(0)
        await operator.screenshot(path=str(folder / "shelved-desktop.png"))
        await operator.set_viewport_size(PHONE)
        overflow = await operator.evaluate("document.documentElement.scrollWidth - innerWidth")
        assert overflow <= 0, f"the page is {overflow} px wider than a phone"
        await operator.screenshot(path=str(folder / "shelved-phone.png"))

        # Unshelve (the dialog asks only for a reason), then a one-shot shelve.
        await operator.locator(f"{alarm_row} button.unshelve").click()
        await expect(operator.locator("#shelve-title")).to_have_text("Unshelve temp_alarm")
        await expect(operator.locator("#shelve-duration")).to_be_hidden()
        await operator.screenshot(path=str(folder / "unshelve-dialog-phone.png"))
        await operator.click("#shelve-confirm")
        await expect(operator.locator(badge)).to_have_count(0, timeout=WAIT_MS)
        await operator.locator(f"{alarm_row} button.shelve").click()
        await operator.select_option("#shelve-duration", label="until it clears (one-shot)")
        await operator.click("#shelve-confirm")
        await expect(operator.locator(badge)).to_have_text(
            "shelved until it clears", timeout=WAIT_MS
        )
        assert rig.gateway.alarms.snapshot("temp_alarm").shelving is Shelving.ONESHOT
        # Cancel changes nothing.
        await operator.locator(f"{alarm_row} button.unshelve").click()
        await operator.click("#shelve-dialog button.secondary")
        await expect(operator.locator("#shelve-dialog")).to_be_hidden()
        assert rig.gateway.alarms.snapshot("temp_alarm").shelving is Shelving.ONESHOT

        await operator.click("#logout-button")
        await expect(operator.locator("#login-form")).to_have_count(1, timeout=WAIT_MS)
        assert "gateway_session" not in {c["name"] for c in await operator_context.cookies()}


@pytest.mark.skipif(not broker_reachable(*SHARED_BROKER), reason="needs Mosquitto on 1883")
async def test_the_mqtt_line_follows_the_publisher(tmp_path: Path) -> None:
    """With `mqtt:` the devices section has the publisher's line; the script keeps it live:
    online on the machine's broker, backing off with the last error where none answers."""
    expect = playwright_api.expect
    group = f"http-page-{time.monotonic_ns()}"
    dead = f"mqtt://127.0.0.1:{free_port()}"
    folder = _screenshots(tmp_path)
    brokers = {"online": "mqtt://127.0.0.1:1883", "backoff": dead}
    errors: list[str] = []
    async with chromium() as browser:
        for state, server in brokers.items():
            mqtt = {"servers": [server], "sparkplug": {"group": group}, "reconnect_max": "1s"}
            async with http_rig(tmp_path / state, mqtt=mqtt) as rig:
                page = await browser.new_page(viewport=DESKTOP)
                page.on("pageerror", lambda error: errors.append(str(error)))
                await page.goto(rig.url)
                line = page.locator("#mqtt")
                await expect(line.locator(".badge")).to_have_text(state, timeout=WAIT_MS)
                await expect(line.locator(".server")).to_have_text(server)
                detail = line.locator(".detail")
                if state == "online":
                    await expect(detail).to_contain_text("1 connection · nothing to replay")
                    await expect(detail).not_to_contain_text("last error")
                else:
                    await expect(detail).to_contain_text("0 connections")
                    await expect(detail).to_contain_text("last error:")
                section = page.locator("#devices-section")
                await section.screenshot(path=str(folder / f"mqtt-{state}-desktop.png"))
                await page.set_viewport_size(PHONE)
                overflow = await page.evaluate("document.documentElement.scrollWidth - innerWidth")
                assert overflow <= 0, f"the page is {overflow} px wider than a phone"
                await section.screenshot(path=str(folder / f"mqtt-{state}-phone.png"))
                await page.close()
                assert errors == []

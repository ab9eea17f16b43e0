"""Alarm notifications with real receivers started by the tests: a webhook receiver
that is down and then up, a 4xx, a shelved alarm, the rate limit and its digest,
e-mail to a local SMTP server (aiosmtpd)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from gatewaykit import PLC_POINTS, make_plant, plc_device
from notifykit import Hook, free_port, mailbox, self_signed, webhook_receiver
from opcuakit import OPEN, until

from gateway.alarms.model import AlarmState
from gateway.app import Gateway
from gateway.config import GatewayConfig
from gateway.storage.rows import PendingMessage
from simulators.runtime import RunningPlant, run_plant

pytestmark = pytest.mark.asyncio

ALARMS: list[dict[str, Any]] = [
    {"name": "temp_high", "tag": "plc.temp", "high": 80, "severity": 700},
    {"name": "plc_fault", "tag": "plc.fault", "equals": True, "severity": 900},
]
SECRET = "hook-secret-123"


def _config(running: RunningPlant, home: Path, notifications: dict[str, Any]) -> GatewayConfig:
    return GatewayConfig.model_validate(
        {
            "gateway": {"name": "notify-test"},
            "opcua": {**OPEN, "security": {**OPEN["security"], "pki_dir": "pki"}},
            "storage": {"url": f"sqlite:///{home / 'g.db'}", "flush_interval": "50ms"},
            "devices": [plc_device(running)],
            "alarms": ALARMS,
            "notifications": notifications,
        }
    )


def _hook_channel(hook: Hook) -> dict[str, Any]:
    return {
        "name": "ops-hook",
        "type": "webhook",
        "url": hook.url,
        "headers": {"Authorization": f"Bearer {SECRET}"},
        "timeout": "2s",
    }


def _rows(gateway: Gateway) -> Callable[[], Awaitable[list[PendingMessage]]]:
    async def rows() -> list[PendingMessage]:
        return await gateway.historian.notification_rows(100)

    return rows


async def _state(gateway: Gateway, name: str, state: AlarmState) -> bool:
    return gateway.alarms.snapshot(name).state is state


async def test_receiver_down_then_up_gets_each_message_once_with_its_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    hook = Hook(free_port())  # not listening yet: the receiver is down
    notifications = {
        "channels": [_hook_channel(hook), {"name": "log", "type": "log"}],
        "routes": [{"alarms": ["temp_*"], "on": ["active", "cleared"], "to": ["ops-hook", "log"]}],
        "retry_max": "1s",
    }
    async with run_plant(make_plant({"plc": PLC_POINTS}), autotick=False) as running:
        config = _config(running, tmp_path, notifications)
        async with Gateway(config, config_dir=tmp_path) as gateway:
            rows = _rows(gateway)
            running.slave("plc").unit(1).set("temp", 85.0)

            async def retried() -> list[PendingMessage]:
                return [
                    r
                    for r in await rows()
                    if r.message.channel == "ops-hook" and r.attempts >= 2 and r.status == "pending"
                ]

            [waiting] = await until(retried, timeout=15, message="the webhook retried")
            assert waiting.last_error is not None
            assert waiting.last_error.startswith(f"POST {hook.url}: ")
            async with webhook_receiver(hook):
                await hook.wait_for(1)
                headers, body = hook.received[0]
                assert headers["Idempotency-Key"] == body["id"] == waiting.message.message_id
                assert headers["Authorization"] == f"Bearer {SECRET}"
                assert headers["Content-Type"] == "application/json"
                assert (body["alarm"], body["transition"], body["on"]) == (
                    "temp_high",
                    "activated",
                    "active",
                )
                assert (body["state"], body["severity"], body["gateway"]) == (
                    "active_unacked",
                    700,
                    "notify-test",
                )
                assert body["value"] == 85.0

                async def all_sent() -> bool:
                    return all(r.status == "sent" for r in await rows())

                await until(all_sent, timeout=10, message="every message sent")
                running.slave("plc").unit(1).set("temp", 20.0)
                await hook.wait_for(2)
                assert hook.bodies()[1]["transition"] == "cleared"
            assert len({body["id"] for body in hook.bodies()}) == 2  # each once
    logged = caplog.text
    assert "notification" in logged
    assert "via log: [700] temp_high activated" in logged
    assert SECRET not in logged


async def test_a_4xx_is_not_retried_and_says_why(tmp_path: Path) -> None:
    hook = Hook(free_port(), status=404)
    notifications = {"channels": [_hook_channel(hook)], "routes": [{"to": ["ops-hook"]}]}
    async with (
        webhook_receiver(hook),
        run_plant(make_plant({"plc": PLC_POINTS}), autotick=False) as running,
        Gateway(_config(running, tmp_path, notifications), config_dir=tmp_path) as gateway,
    ):
        rows = _rows(gateway)
        running.slave("plc").unit(1).set("temp", 85.0)

        async def failed() -> list[PendingMessage]:
            return [r for r in await rows() if r.status == "failed"]

        [row] = await until(failed, timeout=10, message="the message marked failed")
        assert row.last_error == f"POST {hook.url}: HTTP 404 Not Found"
        assert row.attempts == 1
        assert len(hook.received) == 1


async def test_a_shelved_or_disabled_alarm_notifies_no_one(tmp_path: Path) -> None:
    hook = Hook(free_port())
    notifications = {"channels": [_hook_channel(hook)], "routes": [{"to": ["ops-hook"]}]}
    async with (
        webhook_receiver(hook),
        run_plant(make_plant({"plc": PLC_POINTS}), autotick=False) as running,
        Gateway(_config(running, tmp_path, notifications), config_dir=tmp_path) as gateway,
    ):
        gateway.alarms.shelve("temp_high", user="op", reason="known", duration=3600)
        gateway.alarms.set_enabled("plc_fault", False, user="op", reason="out")
        unit = running.slave("plc").unit(1)
        unit.set("temp", 85.0)
        unit.set("status", 7)  # the fault bit
        await until(lambda: _state(gateway, "temp_high", AlarmState.UNACK), message="active")
        unit.set("temp", 20.0)
        await until(lambda: _state(gateway, "temp_high", AlarmState.RTN_UNACK), message="cleared")
        # Back in service: plc_fault is evaluated afresh and notifies (the barrier that
        # proves the pipeline ran while the others sent nothing).
        gateway.alarms.set_enabled("plc_fault", True, user="op", reason="back")
        await hook.wait_for(1)
        assert [(b["alarm"], b["transition"]) for b in hook.bodies()] == [
            ("plc_fault", "activated")
        ]
        assert all(r.message.alarm == "plc_fault" for r in await _rows(gateway)())


async def test_beyond_the_rate_limit_one_digest_goes(tmp_path: Path) -> None:
    hook = Hook(free_port())
    notifications = {
        "channels": [_hook_channel(hook)],
        "routes": [{"on": ["shelved"], "to": ["ops-hook"]}],
        "rate_limit": "2/s",
    }
    async with (
        webhook_receiver(hook),
        run_plant(make_plant({"plc": PLC_POINTS}), autotick=False) as running,
        Gateway(_config(running, tmp_path, notifications), config_dir=tmp_path) as gateway,
    ):
        engine = gateway.alarms
        for _ in range(4):  # eight transitions in a burst: a flapping operator
            engine.shelve("temp_high", user="op", reason="flap")
            engine.unshelve("temp_high", user="op", reason="flap")
        await hook.wait_for(3)
        first, second, digest = hook.bodies()[:3]
        assert "digest" not in first
        assert "digest" not in second
        assert digest["digest"] is True
        assert digest["count"] == 6
        assert digest["alarms"] == {"temp_high": 6}
        assert len(digest["messages"]) == 6
        assert hook.received[2][0]["Idempotency-Key"] == digest["id"]

        async def settled() -> list[PendingMessage]:
            rows = await _rows(gateway)()
            return rows if all(r.status == "sent" for r in rows) else []

        rows = await until(settled, message="every message sent")
        notes = [r.last_error for r in rows if r.last_error]
        assert len(notes) == 6
        assert all(note.startswith(f"in digest {digest['id']} of 6") for note in notes)
        assert len(hook.received) == 3


# The local test server takes a login without TLS (aiosmtpd warns of it).
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_email_over_smtp_with_login_templates_and_message_id(tmp_path: Path) -> None:
    async with mailbox() as box:
        notifications = {
            "channels": [
                {
                    "name": "shift-mail",
                    "type": "email",
                    "smtp": f"smtp://127.0.0.1:{box.port}",
                    "starttls": False,
                    "username": "gw",
                    "password": "mail-secret",
                    "from": "gateway@plant.example",
                    "to": ["shift@plant.example", "boss@plant.example"],
                    "subject": "{alarm} is {state} ({severity})",
                }
            ],
            "routes": [{"alarms": ["plc_*"], "min_severity": 800, "to": ["shift-mail"]}],
        }
        async with (
            run_plant(make_plant({"plc": PLC_POINTS}), autotick=False) as running,
            Gateway(_config(running, tmp_path, notifications), config_dir=tmp_path) as gateway,
        ):
            unit = running.slave("plc").unit(1)
            unit.set("temp", 85.0)  # temp_high: not routed (name, severity)
            unit.set("status", 7)
            await box.wait_for(1)
            [mail] = box.messages
            assert mail["Subject"] == "plc_fault is active_unacked (900)"
            assert mail["From"] == "gateway@plant.example"
            assert mail["To"] == "shift@plant.example, boss@plant.example"
            [row] = await _rows(gateway)()
            assert mail["Message-ID"] == f"<{row.message.message_id}@notify-test.gateway.invalid>"
            assert "Alarm: plc_fault (plc.fault)" in mail.get_payload()
            assert box.logins == ["gw"]


# Implicit TLS is below aiosmtpd's SMTP session, which then warns of AUTH without TLS.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "implicit-tls"])
async def test_email_over_tls_trusting_the_configured_ca(tmp_path: Path, implicit: bool) -> None:
    ca, context = self_signed(tmp_path)
    async with mailbox(context, implicit=implicit) as box:
        scheme = "smtps" if implicit else "smtp"
        notifications = {
            "channels": [
                {
                    "name": "shift-mail",
                    "type": "email",
                    "smtp": f"{scheme}://localhost:{box.port}",
                    "tls_ca": str(ca),
                    "username": "gw",
                    "password": "mail-secret",
                    "from": "gateway@plant.example",
                    "to": ["shift@plant.example"],
                }
            ],
            "routes": [{"alarms": ["plc_fault"], "to": ["shift-mail"]}],
        }
        async with (
            run_plant(make_plant({"plc": PLC_POINTS}), autotick=False) as running,
            Gateway(_config(running, tmp_path, notifications), config_dir=tmp_path),
        ):
            running.slave("plc").unit(1).set("status", 7)
            await box.wait_for(1)
            assert box.messages[0]["Subject"].startswith("[900] plc_fault activated")
            assert box.logins == ["gw"]


async def test_the_mqtt_channel_publishes_through_the_gateways_mqtt_connection(
    tmp_path: Path,
) -> None:
    """The `mqtt` channel uses the `mqtt:` section's connection (the edge node's)."""
    import json
    import time

    from mqttkit import broker_reachable, recorder

    if not broker_reachable("127.0.0.1", 1883):
        pytest.fail("the machine's Mosquitto on 127.0.0.1:1883 is not running")
    topic = f"alerts-test/{time.monotonic_ns()}"
    notifications = {
        "channels": [{"name": "bus", "type": "mqtt", "topic": topic, "qos": 1}],
        "routes": [{"alarms": ["temp_*"], "on": ["active"], "to": ["bus"]}],
    }
    async with (
        run_plant(make_plant({"plc": PLC_POINTS}), autotick=False) as running,
        recorder(1883, topic) as received,
    ):
        config = _config(running, tmp_path, notifications).model_copy(
            update={
                "mqtt": GatewayConfig.model_validate(
                    {
                        "gateway": {"name": "notify-test"},
                        "mqtt": {
                            "servers": ["mqtt://127.0.0.1:1883"],
                            "sparkplug": {"group": f"alerts-{time.monotonic_ns()}"},
                        },
                    }
                ).mqtt
            }
        )
        async with Gateway(config, config_dir=tmp_path) as gateway:
            running.slave("plc").unit(1).set("temp", 85.0)
            await received.until(
                lambda: any(m.topic == topic for m in received.messages),
                timeout=15,
                message="the notification on its topic",
            )

            async def sent() -> bool:
                rows = await gateway.historian.notification_rows(10)
                return any(r.status == "sent" and r.message.channel == "bus" for r in rows)

            await until(sent, timeout=10, message="the outbox row marked sent")
    [message] = [m for m in received.messages if m.topic == topic]
    body = json.loads(message.payload)
    assert (body["alarm"], body["on"], body["gateway"]) == ("temp_high", "active", "notify-test")

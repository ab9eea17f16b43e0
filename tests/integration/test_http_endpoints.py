"""/metrics, /healthz, /readyz and the status page's JSON, from a real gateway over real HTTP."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from conftest import WaitUntil, wait_until
from httpkit import http_rig, web_client
from mqttkit import SHARED_BROKER, broker_reachable, free_port, recorder
from prometheus_client.parser import text_string_to_metric_families

from gateway.http.families import PREFIX

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
MQTT_PREFIX = "gateway_mqtt_"


def _documented() -> set[str]:
    """Every metric docs/operations.md explains (a table row per metric)."""
    return set(re.findall(r"^\| `(gateway_\w+)` \|", OPERATIONS.read_text(), re.MULTILINE))


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_health_readiness_and_status(tmp_path: Path, eventually: WaitUntil) -> None:
    async with http_rig(tmp_path) as rig, web_client(rig.url) as web:
        assert await web.get("/healthz") == (200, "ok\n")
        status, ready = await web.get("/readyz")
        assert status == 200, ready
        assert ready["ready"] is True
        assert set(ready["checks"]) == {
            "storage",
            "alarms",
            "acquisition",
            "opcua",
            "storage_writable",
        }

        async def polled() -> bool:
            _, data = await web.get("/api/status")
            return all(row["state"] == "ok" for row in data["devices"]["rows"])

        await eventually(polled, timeout=10, message="both devices ok")
        rig.set_point("temp", 35.0)  # trips temp_alarm (high 30)
        await eventually(
            lambda: rig.gateway.alarms.snapshot("temp_alarm").active, message="the alarm"
        )

        async with web.session.get(rig.url + "metrics") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            text = await response.text()
        families = list(text_string_to_metric_families(text))
        names = {family.name for family in families}
        for family in families:
            assert family.name.startswith(PREFIX), family.name
            for sample in family.samples:
                assert not {"tag", "key"} & set(sample.labels), sample
            if family.type == "counter":
                assert all(s.name.endswith(("_total", "_created")) for s in family.samples)
        assert {
            "gateway_device_up",
            "gateway_device_requests",  # the parser strips _total from a counter's family
            "gateway_modbus_errors",
            "gateway_modbus_response_time_seconds",
            "gateway_device_scan_overruns",
            "gateway_bus_queue_depth",
            "gateway_bus_dropped_values",
            "gateway_storage_rows_written",
            "gateway_storage_rows_buffered",
            "gateway_storage_rows_dropped",
            "gateway_alarms_active",
            "gateway_opcua_sessions",
            "gateway_http_responses",
            "gateway_process_cpu_seconds",
            "gateway_ready",
        } <= names
        # docs/operations.md explains every metric exposed, and no metric that is not.
        exposed = set(re.findall(r"^# TYPE (\S+) ", text, re.MULTILINE))
        documented = _documented()
        assert exposed - documented == set(), "metrics missing from docs/operations.md"
        # The MQTT publisher's metrics appear with `mqtt:` only (test_mqtt_in_metrics_and_status).
        unknown = {name for name in documented - exposed if not name.startswith(MQTT_PREFIX)}
        assert unknown == set(), "docs/operations.md names metrics that do not exist"
        values = _samples(text)
        assert values[("gateway_device_up", (("device", "plc"),))] == 1.0
        assert values[("gateway_device_requests_total", (("device", "big"),))] > 0
        assert values[("gateway_alarms_active", ())] == 1.0
        assert values[("gateway_alarms", (("state", "active_unacked"),))] == 1.0
        assert values[("gateway_ready", ())] == 1.0
        assert values[("gateway_tags", ())] == 130.0
        answered = values[("gateway_modbus_response_time_seconds_count", ())]
        assert (
            answered == values[("gateway_modbus_response_time_seconds_bucket", (("le", "+Inf"),))]
        )
        assert answered > 0
        consumers = {labels[0][1] for name, labels in values if name == "gateway_bus_queue_depth"}
        assert {"storage", "opcua", "alarms"} <= consumers

        status, data = await web.get("/api/status?filter=R00&size=5&page=2")
        assert status == 200
        tags = data["tags"]
        assert (tags["total"], tags["page"], tags["pages"], tags["all"]) == (10, 2, 2, 130)
        assert [row["key"] for row in tags["rows"]] == [f"big.r00{i}" for i in range(5, 10)]
        assert tags["rows"][0]["value"] == 5
        assert tags["rows"][0]["status"] == "Good"
        assert [alarm["name"] for alarm in data["alarms"]["rows"]] == ["temp_alarm"]
        assert data["user"] is None  # loopback: readable without a login

        async def charted() -> bool:
            _, chart = await web.get("/api/history?tag=plc.temp")
            return [point[1] for point in chart["points"]][-2:] == [21.5, 35.0]

        await eventually(charted, message="the new value in the stored history")
        assert (await web.get("/api/history?tag=nope"))[0] == 404
        assert (await web.get("/api/status?page=x"))[0] == 400
        assert (await web.get("/api/status?size=100000"))[1]["tags"]["size"] == 200
        assert (await web.get("/nothing"))[0] == 404
        assert (await web.get("/api/status", allow_redirects=False))[0] == 200


async def test_readiness_fails_while_storage_is_not_writable(tmp_path: Path) -> None:
    """A database that refuses connections: the gateway runs (readings are buffered),
    /healthz says alive, /readyz 503 naming storage."""
    pytest.importorskip("psycopg")
    storage = {"url": "postgresql+psycopg://postgres@127.0.0.1:1/none", "shutdown_timeout": "100ms"}
    async with http_rig(tmp_path, storage=storage) as rig, web_client(rig.url) as web:
        assert (await web.get("/healthz"))[0] == 200
        status, ready = await web.get("/readyz")
        assert status == 503
        assert ready["ready"] is False
        assert ready["checks"]["storage_writable"] == "no"
        assert ready["checks"]["opcua"] == "started"
        _, metrics = await web.get("/metrics")
        assert "gateway_storage_writable 0.0" in metrics
        assert "gateway_ready 0.0" in metrics


@pytest.mark.skipif(not broker_reachable(*SHARED_BROKER), reason="needs Mosquitto on 1883")
async def test_mqtt_in_metrics_and_status(tmp_path: Path, eventually: WaitUntil) -> None:
    """With `mqtt:` (the machine's Mosquitto, a Sparkplug group of this test's own), /metrics
    and the status page show the publisher's connection, messages and replay backlog;
    /readyz is as without it (the part started: a broker outage does not make it unready)."""
    group = f"http-{time.monotonic_ns()}"
    mqtt = {"servers": ["mqtt://127.0.0.1:1883"], "sparkplug": {"group": group}, "replay": "1h"}
    async with (
        recorder(SHARED_BROKER[1], f"spBv1.0/{group}/#") as seen,
        http_rig(tmp_path, mqtt=mqtt) as rig,
        web_client(rig.url) as web,
    ):
        await seen.until(lambda: seen.of("NBIRTH"), message="the gateway's NBIRTH")
        rig.set_point("temp", 24.0)
        await seen.until(lambda: seen.of("DDATA", "plc"), message="a DDATA of plc")

        async def published() -> bool:
            _, text = await web.get("/metrics")
            return _samples(text)[("gateway_mqtt_messages_published_total", ())] >= 2

        await eventually(published, message="messages counted")
        _, text = await web.get("/metrics")
        values = _samples(text)
        assert values[("gateway_mqtt_connected", ())] == 1.0
        assert values[("gateway_mqtt_state", (("state", "online"),))] == 1.0
        assert values[("gateway_mqtt_state", (("state", "backoff"),))] == 0.0
        assert values[("gateway_mqtt_connects_total", ())] == 1.0
        assert values[("gateway_mqtt_births_total", ())] >= 1.0
        assert values[("gateway_mqtt_replay_backlog_windows", ())] == 0.0
        assert values[("gateway_mqtt_replay_backlog_seconds", ())] == 0.0
        assert values[("gateway_mqtt_replayed_values_total", ())] == 0.0
        exposed = set(re.findall(r"^# TYPE (gateway_mqtt_\w+) ", text, re.MULTILINE))
        mqtt_documented = {name for name in _documented() if name.startswith(MQTT_PREFIX)}
        # The confirmation time appears once the broker confirmed data (within a second or so).
        assert exposed - {"gateway_mqtt_confirmed_timestamp_seconds"} == mqtt_documented - {
            "gateway_mqtt_confirmed_timestamp_seconds"
        }
        assert exposed <= mqtt_documented

        status, data = await web.get("/api/status")
        assert status == 200
        block = data["mqtt"]
        assert (block["state"], block["connected"], block["server"]) == (
            "online",
            True,
            "mqtt://127.0.0.1:1883",
        )
        assert block["messages"] >= 2
        assert block["backlog_windows"] == 0
        page = await web.page()
        assert '<p id="mqtt" class="mqtt">' in page
        assert '<span class="badge online">online</span>' in page
        assert "nothing to replay" in page

        status, ready = await web.get("/readyz")
        assert (status, ready["checks"]["mqtt"]) == (200, "started")


async def test_mqtt_without_a_broker_is_not_connected_and_still_ready(tmp_path: Path) -> None:
    """No broker at the address: the publisher backs off, /metrics says so, /readyz is 200."""
    dead = f"mqtt://127.0.0.1:{free_port()}"
    mqtt = {"servers": [dead], "sparkplug": {"group": "http-dead"}}
    async with http_rig(tmp_path, mqtt=mqtt) as rig, web_client(rig.url) as web:
        assert rig.gateway.mqtt is not None
        state = rig.gateway.mqtt.state

        async def backing_off() -> bool:
            return str(state.state) == "backoff"

        await wait_until(backing_off, message="the publisher backing off")
        _, text = await web.get("/metrics")
        values = _samples(text)
        assert values[("gateway_mqtt_connected", ())] == 0.0
        assert values[("gateway_mqtt_state", (("state", "backoff"),))] == 1.0
        assert values[("gateway_mqtt_connects_total", ())] == 0.0
        assert ("gateway_mqtt_confirmed_timestamp_seconds", ()) not in values
        _, data = await web.get("/api/status")
        assert data["mqtt"]["connected"] is False
        assert data["mqtt"]["last_error"]
        page = await web.page()
        assert "last error:" in page
        status, ready = await web.get("/readyz")
        assert status == 200, ready

"""The routes without a socket: requests as values into a gateway that was built, not started."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.app import Gateway
from gateway.config import GatewayConfig, Role
from gateway.http.page import render_page
from gateway.http.routes import MAX_SHELVE, SECURITY_HEADERS, Routes, shelve_duration
from gateway.http.wire import Request, Response
from gateway.opcua.users import Identity


def _gateway(tmp_path: Path, **http: object) -> Gateway:
    config = GatewayConfig.model_validate(
        {
            "gateway": {"name": "unit"},
            "opcua": {"users": [{"name": "op", "password": "op-secret", "role": "operator"}]},
            "storage": {"url": f"sqlite:///{tmp_path / 'unit.db'}"},
            "devices": [
                {
                    "name": "plc",
                    "host": "127.0.0.1",
                    "port": 1,
                    "tags": [
                        {
                            "name": f"t{i}",
                            "table": "holding_register",
                            "address": i,
                            "type": "int16",
                        }
                        for i in range(3)
                    ],
                }
            ],
            "http": {"listen": "127.0.0.1:0", **http},
        }
    )
    return Gateway(config, config_dir=tmp_path)


def _routes(gateway: Gateway) -> Routes:
    assert gateway.http is not None
    return gateway.http.routes


async def _get(routes: Routes, path: str, **query: str) -> Response:
    headers = {"host": "127.0.0.1:8080"}
    return await routes.handle(Request("GET", path, query=query, headers=headers))


def _json(response: Response) -> dict[str, object]:
    data = json.loads(response.body)
    assert isinstance(data, dict)
    return data


async def test_not_ready_until_every_part_started(tmp_path: Path) -> None:
    routes = _routes(_gateway(tmp_path))
    response = await _get(routes, "/readyz")
    assert response.status == 503
    checks = _json(response)["checks"]
    assert checks == {
        "storage": "not started",
        "alarms": "not started",
        "acquisition": "not started",
        "opcua": "not started",
        "storage_writable": "no",
    }
    assert (await _get(routes, "/healthz")).status == 200


async def test_every_answer_carries_the_security_headers(tmp_path: Path) -> None:
    routes = _routes(_gateway(tmp_path))
    for path in ("/", "/api/status", "/nothing", "/metrics", "/static/app.js"):
        response = await _get(routes, path)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, path
    assert "script-src 'self'" in SECURITY_HEADERS["Content-Security-Policy"]


async def test_methods_and_paths(tmp_path: Path) -> None:
    routes = _routes(_gateway(tmp_path))
    assert (await _get(routes, "/login")).status == 405
    assert (await _get(routes, "/static/../app.py")).status == 404
    head = await routes.handle(Request("HEAD", "/healthz", headers={"host": "localhost"}))
    assert head.status == 200
    assert (await _get(routes, "/static/app.css")).content_type.startswith("text/css")
    assert routes.counters.responses[405] == 1


async def test_a_page_of_waiting_tags_without_a_login_on_loopback(tmp_path: Path) -> None:
    routes = _routes(_gateway(tmp_path))
    data = _json(await _get(routes, "/api/status", size="2", page="2"))
    tags = data["tags"]
    assert isinstance(tags, dict)
    assert (tags["total"], tags["page"], tags["pages"]) == (3, 2, 2)
    assert tags["rows"] == [
        {
            "key": "plc.t2",
            "value": None,
            "unit": "",
            "status": "Bad_WaitingForInitialData",
            "quality": "bad",
            "time": None,
        }
    ]


def test_the_page_escapes_what_it_shows() -> None:
    hostile = "<script>alert(1)</script>"
    data = {
        "ready": True,
        "alarms": {"configured": 1, "total": 0, "rows": []},
        "devices": {
            "total": 0,
            "page": 1,
            "pages": 1,
            "size": 50,
            "states": {"ok": 0},
            "rows": [],
        },
        "tags": {
            "total": 1,
            "page": 1,
            "pages": 1,
            "size": 50,
            "rows": [
                {
                    "key": "plc.label",
                    "value": hostile,
                    "unit": '"><b>',
                    "status": "Good",
                    "quality": "good",
                    "time": 0.0,
                }
            ],
        },
    }
    page = render_page(
        "unit",
        csrf='"x',
        identity=Identity("<op>", Role.OPERATOR),
        login_required=False,
        data=data,
    )
    assert hostile not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '"><b>' not in page
    assert "&lt;op&gt; (operator)" in page
    assert 'content="&quot;x"' in page
    assert 'name="can-write" content="true"' in page


def _alarm(name: str, **fields: object) -> dict[str, object]:
    row: dict[str, object] = {
        "name": name,
        "tag": "plc.temp",
        "state": "active_acked",
        "shelving": "unshelved",
        "shelved_until": None,
        "enabled": True,
        "active": True,
        "acked": True,
        "severity": 500,
        "message": "hot",
        "limit": "high",
        "value": 35.0,
        "time": 0.0,
    }
    return {**row, **fields}


def _page_data(alarms: list[dict[str, object]], mqtt: object = None) -> dict[str, object]:
    empty = {"total": 0, "page": 1, "pages": 1, "size": 50, "rows": []}
    return {
        "ready": True,
        "alarms": {"configured": len(alarms), "total": len(alarms), "rows": alarms},
        "devices": {**empty, "states": {}},
        "tags": empty,
        "mqtt": mqtt,
    }


def test_the_page_marks_shelved_alarms_and_offers_an_operator_shelve_and_unshelve() -> None:
    rows = [
        _alarm("<timed>", shelving="timed", shelved_until=3600.0),
        _alarm("oneshot", shelving="oneshot", acked=False, state="active_unacked"),
        _alarm("plain"),
        _alarm("off", enabled=False, state="normal", active=False),
    ]
    operator = render_page(
        "unit",
        csrf="t",
        identity=Identity("op", Role.OPERATOR),
        login_required=False,
        data=_page_data(rows),
    )
    assert '<span class="badge silenced">shelved until 01:00:00 UTC</span>' in operator
    assert '<span class="badge silenced">shelved until it clears</span>' in operator
    assert '<span class="badge silenced">disabled</span>' in operator
    assert "<timed>" not in operator
    assert 'class="unshelve" data-alarm="&lt;timed&gt;">Unshelve</button>' in operator
    assert 'class="ack" data-alarm="oneshot">Acknowledge</button>' in operator
    assert 'class="unshelve" data-alarm="oneshot">Unshelve</button>' in operator
    assert 'class="shelve" data-alarm="plain">Shelve</button>' in operator
    assert '<tr data-alarm="off" class="normal silenced">' in operator
    assert 'class="shelve" data-alarm="off"' not in operator  # disabled: nothing to shelve
    assert operator.count('<dialog id="shelve-dialog"') == 1
    assert '<option value="">until it clears (one-shot)</option>' in operator
    viewer = render_page(
        "unit",
        csrf="t",
        identity=Identity("view", Role.VIEWER),
        login_required=False,
        data=_page_data(rows),
    )
    assert "shelved until it clears" in viewer
    assert '<td class="action"></td>' in viewer
    assert 'data-alarm="plain">' not in viewer  # no button names an alarm
    assert "shelve-dialog" not in viewer
    assert 'id="mqtt"' not in viewer  # no `mqtt:`: no line


def test_the_mqtt_line_says_what_the_publisher_does() -> None:
    mqtt = {
        "state": "backoff",
        "connected": False,
        "server": "mqtt://<broker>:1883",
        "since": 0.0,
        "last_error": "refused",
        "connects": 1,
        "messages": 5,
        "replay_active": False,
        "replay_sent": 0,
        "backlog_windows": 2,
        "backlog_seconds": 750.0,
        "acked_until": None,
    }
    page = render_page(
        "unit", csrf="t", identity=None, login_required=False, data=_page_data([], mqtt)
    )
    assert '<span class="badge backoff">backoff</span>' in page
    assert "mqtt://&lt;broker&gt;:1883" in page
    assert (
        "5 messages · 1 connection · replay pending: 2 outage(s), 12.5 min · last error: refused"
        in page
    )
    online = {**mqtt, "state": "online", "connected": True, "replay_active": True}
    page = render_page(
        "unit", csrf="t", identity=None, login_required=False, data=_page_data([], online)
    )
    assert "replaying stored data (0 values sent)" in page
    assert "last error" not in page


@pytest.mark.parametrize(
    ("duration", "seconds"), [(None, None), (1, 1.0), (3600.5, 3600.5), (MAX_SHELVE, MAX_SHELVE)]
)
def test_a_shelve_duration_is_seconds_or_one_shot(duration: object, seconds: object) -> None:
    assert shelve_duration(duration) == seconds


@pytest.mark.parametrize(
    "duration", [0, -1, MAX_SHELVE + 1, float("nan"), float("inf"), "1h", True, [3600]]
)
def test_a_shelve_duration_out_of_bounds_is_refused(duration: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        shelve_duration(duration)


@pytest.mark.parametrize("path", ["/api/status", "/api/history"])
async def test_beyond_loopback_data_needs_a_login(tmp_path: Path, path: str) -> None:
    gateway = _gateway(tmp_path, listen="0.0.0.0:0", insecure=True)
    routes = _routes(gateway)
    response = await routes.handle(Request("GET", path, query={"tag": "plc.t0"}))
    assert response.status == 401
    page = (await routes.handle(Request("GET", "/"))).body.decode()
    assert 'id="login-needed"' in page
    assert 'id="tags"' not in page


def test_without_the_http_extra_the_section_is_refused_with_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.errors import GatewayError
    from gateway.http import server

    monkeypatch.setattr(server, "find_spec", lambda name: None)
    with pytest.raises(GatewayError, match=r"pip install 'modbus-opcua-gateway\[http\]'"):
        _gateway(tmp_path)

"""The routes without a socket: requests as values into a gateway that was built, not started."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.app import Gateway
from gateway.config import GatewayConfig, Role
from gateway.http.page import render_page
from gateway.http.routes import SECURITY_HEADERS, Routes
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

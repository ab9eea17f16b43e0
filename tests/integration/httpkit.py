"""Test kit for the HTTP side: a simulated plant and a whole Gateway serving http on a free port.

Everything is real: the Modbus slaves, the pollers, SQLite, the OPC UA server
and the aiohttp server on 127.0.0.1:0. `WebClient` is a plain HTTP client
that behaves like the page's script (CSRF header from the cookie, JSON).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from alarmkit import TEMP_ALARM
from gatewaykit import FAST_DEVICE, PLC_POINTS, PLC_TAGS, make_plant
from pkikit import pki_dir

from gateway.app import Gateway
from gateway.config import GatewayConfig
from simulators.runtime import RunningPlant, run_plant

USERS = [
    {"name": "op", "password": "op-secret", "role": "operator"},
    {"name": "view", "password": "view-secret", "role": "viewer"},
]
#: A second PLC with 120 registers r000..r119 (value = index): enough tags to page.
BIG_POINTS = [
    {"name": f"r{i:03d}", "table": "holding_register", "address": i, "type": "uint16", "value": i}
    for i in range(120)
]
BIG_TAGS = [
    {"name": f"r{i:03d}", "table": "holding_register", "address": i, "type": "uint16"}
    for i in range(120)
]


def http_config(
    running: RunningPlant,
    folder: Path,
    *,
    http: Mapping[str, Any] | None = None,
    storage: Mapping[str, Any] | None = None,
    mqtt: Mapping[str, Any] | None = None,
) -> GatewayConfig:
    devices = [
        {
            "name": name,
            "host": running.slave(name).host,
            "port": running.slave(name).port,
            "tags": tags,
            **FAST_DEVICE,
        }
        for name, tags in (("plc", PLC_TAGS), ("big", BIG_TAGS))
    ]
    return GatewayConfig.model_validate(
        {
            "gateway": {"name": "web-test"},
            "opcua": {
                "endpoint": "opc.tcp://127.0.0.1:0",
                "security": {"allow_none": True, "policies": [], "modes": [], "pki_dir": pki_dir()},
                "users": USERS,
            },
            "storage": {
                "url": f"sqlite:///{folder / 'web.db'}",
                "flush_interval": "50ms",
                "timeout": "2s",
                **(storage or {}),
            },
            "devices": devices,
            "alarms": [TEMP_ALARM],
            "http": {"listen": "127.0.0.1:0", **(http or {})},
            **({} if mqtt is None else {"mqtt": dict(mqtt)}),
        }
    )


@dataclass
class HttpRig:
    plant: RunningPlant
    gateway: Gateway

    @property
    def url(self) -> str:
        assert self.gateway.http is not None
        return self.gateway.http.url

    def set_point(self, name: str, value: Any, slave: str = "plc") -> None:
        self.plant.slave(slave).unit(1).set(name, value)


@asynccontextmanager
async def http_rig(
    folder: Path,
    *,
    http: Mapping[str, Any] | None = None,
    storage: Mapping[str, Any] | None = None,
    mqtt: Mapping[str, Any] | None = None,
) -> AsyncIterator[HttpRig]:
    plant = make_plant({"plc": PLC_POINTS, "big": BIG_POINTS})
    async with run_plant(plant, autotick=False) as running:
        config = http_config(running, folder, http=http, storage=storage, mqtt=mqtt)
        async with Gateway(config, config_dir=folder) as gateway:
            yield HttpRig(running, gateway)


class WebClient:
    """An HTTP client with a cookie jar that posts as the page does (CSRF header, JSON)."""

    def __init__(self, base: str, session: aiohttp.ClientSession) -> None:
        self.base = base.rstrip("/")
        self.session = session

    def cookie(self, name: str) -> str | None:
        for cookie in self.session.cookie_jar:
            if cookie.key == name:
                return cookie.value
        return None

    async def get(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.session.get(self.base + path, **kwargs) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.text()

    async def page(self) -> str:
        status, text = await self.get("/")
        assert status == 200, text
        return str(text)

    async def post(
        self, path: str, body: Any, *, csrf: bool = True, headers: Mapping[str, str] | None = None
    ) -> tuple[int, Any]:
        sent = {"Content-Type": "application/json", **(headers or {})}
        if csrf:
            sent.setdefault("X-CSRF-Token", self.cookie("gateway_csrf") or "")
        async with self.session.post(self.base + path, json=body, headers=sent) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.text()

    async def login(self, user: str, password: str) -> tuple[int, Any]:
        if self.cookie("gateway_csrf") is None:
            await self.page()  # the page hands out the CSRF cookie
        return await self.post("/login", {"user": user, "password": password})


@asynccontextmanager
async def web_client(base: str, **session: Any) -> AsyncIterator[WebClient]:
    # unsafe: keep cookies of an IP address host (127.0.0.1), as browsers do
    async with aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True), **session
    ) as client:
        yield WebClient(base, client)

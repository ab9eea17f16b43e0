"""Every HTTP client is hostile until it logs in: CSRF, cookies, roles, sizes, time, throttling.

A real gateway serves on 127.0.0.1 (or every address, or HTTPS); the attacks
come over real sockets, some of them raw where a polite client would not
misbehave. Attacks that change nothing lasting share one gateway (`shared`);
the others (a lock-out, an acknowledgement, other settings) get their own.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from conftest import WaitUntil
from httpkit import HttpRig, http_rig, web_client
from tlskit import localhost_certificate

from gateway.alarms import AlarmState
from gateway.alarms.model import Shelving
from gateway.http import aioserver

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[HttpRig]:
    async with http_rig(tmp_path_factory.mktemp("shared")) as rig:
        yield rig


def _port(rig: HttpRig) -> int:
    assert rig.gateway.http is not None
    return rig.gateway.http.port


async def _raw(rig: HttpRig, data: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", _port(rig))
    writer.write(data)
    await writer.drain()
    return reader, writer


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything the server sends until it closes the connection (fails after `seconds`)."""
    async with asyncio.timeout(seconds):
        return await reader.read()


async def _trip(rig: HttpRig, eventually: WaitUntil) -> None:
    rig.set_point("temp", 35.0)
    await eventually(lambda: rig.gateway.alarms.snapshot("temp_alarm").active, message="alarm")


async def test_posts_need_the_csrf_token_and_the_same_origin(shared: HttpRig) -> None:
    rig = shared
    async with web_client(rig.url) as web:
        page = await web.page()
        token = web.cookie("gateway_csrf")
        assert token
        assert f'<meta name="csrf-token" content="{token}">' in page
        login = {"user": "op", "password": "op-secret"}
        status, body = await web.post("/login", login, csrf=False)
        assert (status, web.cookie("gateway_session")) == (403, None)
        assert "CSRF token" in body["error"]
        status, _ = await web.post("/login", login, headers={"X-CSRF-Token": "guess"})
        assert status == 403
        evil = {"Origin": "http://evil.example"}
        status, body = await web.post("/login", login, headers=evil)
        assert status == 403
        assert "cross-origin" in body["error"]
        status, _ = await web.post("/login", login, headers={"Referer": "http://evil.example/x"})
        assert status == 403
        same = {"Origin": rig.url.rstrip("/")}
        status, body = await web.post("/login", login, headers=same)
        assert status == 200, body
        assert body["role"] == "operator"
        assert body["csrf"] == web.cookie("gateway_csrf") != token  # a new token per login
        assert web.cookie("gateway_session")


async def test_cookies_are_httponly_and_samesite_strict(shared: HttpRig) -> None:
    rig = shared
    async with web_client(rig.url) as web:
        async with web.session.get(rig.url) as response:
            first = response.headers.getall("Set-Cookie")
        await web.login("view", "view-secret")
        async with web.session.post(
            rig.url + "login",
            json={"user": "view", "password": "view-secret"},
            headers={"X-CSRF-Token": web.cookie("gateway_csrf") or ""},
        ) as response:
            assert response.status == 200
            cookies = response.headers.getall("Set-Cookie")
    for header in [*first, *cookies]:
        assert "HttpOnly" in header, header
        assert "SameSite=Strict" in header, header
        assert "Path=/" in header, header
        assert "Secure" not in header, header  # plain HTTP on loopback
    assert any(header.startswith("gateway_session=") for header in cookies)


async def test_acknowledge_needs_an_operator(tmp_path: Path, eventually: WaitUntil) -> None:
    async with http_rig(tmp_path) as rig:
        await _trip(rig, eventually)
        ack = {"alarm": "temp_alarm", "comment": "seen"}
        async with web_client(rig.url) as anonymous:
            await anonymous.page()
            status, body = await anonymous.post("/api/alarms/acknowledge", ack)
            assert status == 401, body
        async with web_client(rig.url) as viewer:
            assert (await viewer.login("view", "view-secret"))[0] == 200
            status, body = await viewer.post("/api/alarms/acknowledge", ack)
            assert status == 403
            assert "viewer" in body["error"]
        assert rig.gateway.alarms.snapshot("temp_alarm").state is AlarmState.UNACK
        async with web_client(rig.url) as operator:
            assert (await operator.login("op", "op-secret"))[0] == 200
            status, body = await operator.post("/api/alarms/acknowledge", ack)
            assert (status, body["state"]) == (200, "active_acked")
            assert (await operator.post("/api/alarms/acknowledge", ack))[0] == 409
            missing = {"alarm": "nope"}
            assert (await operator.post("/api/alarms/acknowledge", missing))[0] == 404
            assert (await operator.post("/api/alarms/acknowledge", ["x"]))[0] == 400
            # Logged out, the old session cookie is worth nothing.
            session = operator.cookie("gateway_session")
            assert (await operator.post("/logout", {}))[0] == 200
            rig.gateway.alarms.acknowledge  # noqa: B018 - the engine is still there
            operator.session.cookie_jar.update_cookies({"gateway_session": session or ""})
            status, _ = await operator.post("/api/alarms/acknowledge", ack)
            assert status == 401
        snapshot = rig.gateway.alarms.snapshot("temp_alarm")
        assert (snapshot.state, snapshot.user, snapshot.comment) == (
            AlarmState.ACKED,
            "op",
            "seen",
        )


async def test_oversized_and_slow_requests_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aioserver, "IDLE_TIMEOUT", 0.5)
    monkeypatch.setattr(aioserver, "BODY_TIMEOUT", 0.5)
    monkeypatch.setattr(aioserver, "LINGER", 0.2)
    async with http_rig(tmp_path) as rig, web_client(rig.url) as web:
        await web.page()
        huge = {"user": "op", "password": "x" * (aioserver.MAX_BODY + 1)}
        status, _ = await web.post("/login", huge)
        assert status == 413
        # A declared length over the bound is refused before a byte of the body is read.
        reader, writer = await _raw(
            rig,
            b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000000\r\n\r\n",
        )
        answer = await _closed_within(reader, 5)
        assert answer.startswith(b"HTTP/1.1 413"), answer
        writer.close()
        # A chunked body that grows past the bound.
        reader, writer = await _raw(
            rig,
            b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            + (b"4000\r\n" + b"y" * 0x4000 + b"\r\n") * 2,
        )
        answer = await _closed_within(reader, 5)
        assert answer.startswith(b"HTTP/1.1 413"), answer
        writer.close()
        # A body that never finishes: 408 after BODY_TIMEOUT.
        reader, writer = await _raw(
            rig, b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{"
        )
        answer = await _closed_within(reader, 5)
        assert answer.startswith(b"HTTP/1.1 408"), answer
        writer.close()
        # A request head that never finishes, and a connection that never speaks.
        reader, writer = await _raw(rig, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        silent_reader, silent_writer = await _raw(rig, b"")
        assert await _closed_within(reader, 5) == b""
        assert await _closed_within(silent_reader, 5) == b""
        writer.close()
        silent_writer.close()
        _, metrics = await web.get("/metrics")
        assert 'gateway_http_requests_refused_total{reason="too_large"} 3.0' in metrics
        assert 'gateway_http_requests_refused_total{reason="slow_body"} 1.0' in metrics


async def test_connections_over_the_per_address_cap_push_out_the_most_idle(
    shared: HttpRig,
) -> None:
    idle = [await _raw(shared, b"") for _ in range(aioserver.MAX_CONNECTIONS_PER_PEER)]
    newest = await _raw(shared, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert await _closed_within(idle[0][0], 5) == b""  # the longest silent one went
    assert (await newest[0].readline()).startswith(b"HTTP/1.1 200")
    for _, writer in [*idle, newest]:
        writer.close()


async def test_logins_are_throttled_per_address(tmp_path: Path) -> None:
    async with http_rig(tmp_path) as rig, web_client(rig.url) as web:
        for _ in range(5):
            status, body = await web.login("op", "wrong")
            assert (status, body["error"]) == (401, "wrong user name or password")
        status, body = await web.login("op", "op-secret")  # right, but locked out
        assert status == 429
        assert "try again in 10 s" in body["error"]
        _, metrics = await web.get("/metrics")
        assert "gateway_http_logins_refused_total 6.0" in metrics


async def test_a_foreign_host_name_is_refused_on_loopback(shared: HttpRig) -> None:
    """DNS rebinding: another site's name pointed at 127.0.0.1 gets nothing."""
    async with web_client(shared.url) as web:
        status, body = await web.get("/api/status", headers={"Host": "evil.example:8080"})
        assert status == 421, body
        assert (await web.get("/healthz", headers={"Host": "localhost:1"}))[0] == 200
        assert (await web.get("/healthz", headers={"Host": "[::1]:1"}))[0] == 200


async def test_beyond_loopback_the_page_needs_a_login(tmp_path: Path) -> None:
    async with http_rig(tmp_path, http={"listen": "0.0.0.0:0", "insecure": True}) as rig:
        base = f"http://127.0.0.1:{_port(rig)}/"
        async with web_client(base) as web:
            page = await web.page()
            assert 'id="login-needed"' in page
            assert 'id="tags"' not in page
            assert (await web.get("/api/status"))[0] == 401
            assert (await web.get("/api/history?tag=plc.temp"))[0] == 401
            assert (await web.get("/metrics"))[0] == 200  # Prometheus has no browser session
            assert (await web.get("/healthz"))[0] == 200
            assert (await web.login("view", "view-secret"))[0] == 200
            status, data = await web.get("/api/status")
            assert status == 200
            assert data["user"] == {"name": "view", "role": "viewer", "can_write": False}
            assert 'id="tags"' in await web.page()


async def test_https_marks_cookies_secure(tmp_path: Path) -> None:
    cert, key = localhost_certificate(tmp_path, "web")
    tls = {"listen": "127.0.0.1:0", "tls": {"cert": cert.name, "key": key.name}}
    async with http_rig(tmp_path, http=tls) as rig:
        assert rig.url.startswith("https://127.0.0.1:")
        trust = ssl.create_default_context(cafile=str(cert))
        trust.check_hostname = False  # the certificate names localhost, the URL 127.0.0.1
        connector = aiohttp.TCPConnector(ssl=trust)
        async with web_client(rig.url, connector=connector) as web:
            async with web.session.get(rig.url) as response:
                assert response.status == 200
                assert all("Secure" in h for h in response.headers.getall("Set-Cookie"))
            assert (await web.login("op", "op-secret"))[0] == 200
        plain = aiohttp.TCPConnector()
        async with web_client(rig.url.replace("https", "http"), connector=plain) as web:
            with pytest.raises(aiohttp.ClientError):
                await web.get("/healthz")


async def test_shelve_and_unshelve_need_an_operator(tmp_path: Path, eventually: WaitUntil) -> None:
    async with http_rig(tmp_path) as rig:
        await _trip(rig, eventually)
        shelve = {"alarm": "temp_alarm", "reason": "sensor swap", "duration": 3600}
        async with web_client(rig.url) as anonymous:
            await anonymous.page()
            assert (await anonymous.post("/api/alarms/shelve", shelve))[0] == 401
        async with web_client(rig.url) as viewer:
            assert (await viewer.login("view", "view-secret"))[0] == 200
            for path in ("/api/alarms/shelve", "/api/alarms/unshelve"):
                status, body = await viewer.post(path, shelve)
                assert status == 403, body
                assert "view is a viewer: only operators and admins" in body["error"]
        assert rig.gateway.alarms.snapshot("temp_alarm").shelving is Shelving.UNSHELVED
        async with web_client(rig.url) as operator:
            assert (await operator.login("op", "op-secret"))[0] == 200
            status, body = await operator.post("/api/alarms/shelve", shelve, csrf=False)
            assert status == 403
            assert "CSRF token" in body["error"]
            for duration in (0, -5, 31 * 24 * 3600, "1h", True):
                status, body = await operator.post(
                    "/api/alarms/shelve", {**shelve, "duration": duration}
                )
                assert status == 400, (duration, body)
                assert "duration" in body["error"]
            long_reason = {**shelve, "reason": "x" * 501}
            assert (await operator.post("/api/alarms/shelve", long_reason))[0] == 400
            for missing in ({"alarm": "nope"}, {"alarm": "n" * 5000}):
                status, body = await operator.post("/api/alarms/shelve", missing)
                assert status == 404, body
                assert (await operator.post("/api/alarms/unshelve", missing))[0] == 404
            status, body = await operator.post("/api/alarms/shelve", shelve)
            assert (status, body["shelving"]) == (200, "timed"), body
            assert body["shelved_until"] > time.time() + 3500
            status, body = await operator.post("/api/alarms/shelve", shelve)
            assert status == 409
            assert "shelved already" in body["error"]
            status, page = await operator.get("/api/status")
            (row,) = page["alarms"]["rows"]
            assert (row["name"], row["shelving"]) == ("temp_alarm", "timed")
            unshelve = {"alarm": "temp_alarm", "reason": "back"}
            status, body = await operator.post("/api/alarms/unshelve", unshelve)
            assert (status, body["shelving"]) == (200, "unshelved"), body
            assert (await operator.post("/api/alarms/unshelve", unshelve))[0] == 409
            status, body = await operator.post("/api/alarms/shelve", {"alarm": "temp_alarm"})
            assert (status, body["shelving"]) == (200, "oneshot"), body
        snapshot = rig.gateway.alarms.snapshot("temp_alarm")
        assert (snapshot.shelving, snapshot.user) == (Shelving.ONESHOT, "op")
        expected = [
            ("shelved", "op", "sensor swap"),
            ("unshelved", "op", "back"),
            ("shelved", "op", ""),
        ]

        async def journaled() -> bool:
            page = await rig.gateway.historian.alarm_journal(alarm="temp_alarm")
            events = [(e.transition, e.user, e.comment) for e in page.events]
            return [e for e in events if "shelved" in e[0]] == expected

        await eventually(journaled, message="the journal names the operator")

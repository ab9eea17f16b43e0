"""The CSRF locks of every POST (pure)."""

from __future__ import annotations

import pytest

from gateway.http.csrf import csrf_problem
from gateway.http.wire import Request

TOKEN = "t" * 43


def _post(headers: dict[str, str], cookie: str | None = TOKEN, secure: bool = False) -> Request:
    cookies = {} if cookie is None else {"gateway_csrf": cookie}
    base = {"host": "gw.local:8080", "x-csrf-token": TOKEN}
    return Request("POST", "/login", headers={**base, **headers}, cookies=cookies, secure=secure)


def test_a_post_with_the_token_from_the_same_origin_passes() -> None:
    assert csrf_problem(_post({})) is None  # a non-browser client: no Origin, no Referer
    assert csrf_problem(_post({"origin": "http://gw.local:8080"})) is None
    assert csrf_problem(_post({"referer": "http://GW.local:8080/?x"})) is None
    assert csrf_problem(_post({"origin": "https://gw.local:8080"}, secure=True)) is None


@pytest.mark.parametrize(
    ("headers", "cookie", "problem"),
    [
        ({"x-csrf-token": ""}, TOKEN, "CSRF token"),
        ({"x-csrf-token": "u" * 43}, TOKEN, "CSRF token"),
        ({}, None, "CSRF token"),
        ({"x-csrf-token": ""}, "", "CSRF token"),
        ({"origin": "http://evil.example"}, TOKEN, "cross-origin"),
        ({"origin": "null"}, TOKEN, "cross-origin"),
        ({"origin": "https://gw.local:8080"}, TOKEN, "cross-origin"),  # scheme differs
        ({"referer": "http://gw.local:9999/"}, TOKEN, "cross-origin"),
    ],
)
def test_forgeries_are_named(headers: dict[str, str], cookie: str | None, problem: str) -> None:
    assert problem in (csrf_problem(_post(headers, cookie)) or "")

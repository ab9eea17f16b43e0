"""Requests and responses as plain values: the routes never see the HTTP library.

The adapter (aioserver.py) turns each aiohttp request into a `Request` whose
body is already read and bounded, and each `Response` back; the routes are
plain functions of `Request`, so unit tests call them without a socket
(the idea of httpx's MockTransport).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "HTML",
    "JSON",
    "TEXT",
    "Cookie",
    "HttpCounters",
    "Request",
    "Response",
    "error",
    "json_response",
]

HTML = "text/html; charset=utf-8"
JSON = "application/json"
TEXT = "text/plain; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request: headers by lower-case name, the body read in full (bounded)."""

    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    peer: str = ""  # the client's IP address
    secure: bool = False  # arrived over TLS

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json_body(self) -> Any:
        """The body as JSON; ValueError when it is not (the route answers 400)."""
        return json.loads(self.body.decode("utf-8"))


@dataclass(frozen=True, slots=True)
class Cookie:
    """A cookie to set: always HttpOnly and SameSite=Strict; Secure over TLS."""

    name: str
    value: str
    max_age: int | None = None  # seconds; None: until the browser closes; 0: delete


@dataclass(slots=True)
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = TEXT
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[Cookie] = field(default_factory=list)


def json_response(data: object, status: int = 200) -> Response:
    body = json.dumps(data, separators=(",", ":"), allow_nan=False).encode()
    return Response(status, body, JSON, {"Cache-Control": "no-store"})


def error(status: int, message: str) -> Response:
    """A JSON error the page shows as it is: `{"error": message}`."""
    return json_response({"error": message}, status)


@dataclass(slots=True)
class HttpCounters:
    """What the HTTP server did, for its own metrics (the adapter and the routes count)."""

    responses: Counter[int] = field(default_factory=Counter)  # by status code
    connections: int = 0  # open now
    connections_refused: int = 0  # over the total or per-address cap
    requests_refused: Counter[str] = field(default_factory=Counter)  # by reason

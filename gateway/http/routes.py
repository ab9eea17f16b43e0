"""The HTTP routes: who may see and do what, answered from the parts (no HTTP library here).

    GET  /                    the status page (server-rendered; app.js refreshes it)
    GET  /static/app.js|.css  its script and style
    GET  /api/status          devices, a page of tags (?filter=&page=&size=), alarms: JSON
    GET  /api/history?tag=    one tag's last hour for the chart: JSON
    POST /login               {"user", "password"} → a session cookie
    POST /logout
    POST /api/alarms/acknowledge   {"alarm", "comment"}: operators and admins
    POST /api/alarms/shelve        {"alarm", "reason", "duration"}: seconds, or null for
                                   one-shot (until the alarm clears): operators and admins
    POST /api/alarms/unshelve      {"alarm", "reason"}: operators and admins
    GET  /metrics             Prometheus text
    GET  /healthz             200 while the process serves
    GET  /readyz              200 once every part started and storage is writable, else 503

On a loopback address the page and its data need no login; elsewhere they
do. /metrics, /healthz and /readyz never do (a probe or Prometheus has no
browser session; they show counts, never a value). Every POST passes the
CSRF locks of csrf.py before anything else.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from importlib.resources import files
from typing import TYPE_CHECKING

from gateway.alarms.model import AlarmSnapshot
from gateway.errors import AlarmAlreadyAcked, AlarmShelvingRefused, UnknownAlarm
from gateway.http.chart import CHART_ROWS, CHART_SPAN, thin
from gateway.http.csrf import CSRF_COOKIE, csrf_problem
from gateway.http.families import Family
from gateway.http.login import LoginGuard, LoginRefused
from gateway.http.page import render_page
from gateway.http.paging import MAX_FILTER, MAX_PAGE_SIZE, parse_page
from gateway.http.parts import Parts
from gateway.http.probes import local_host, readiness
from gateway.http.sessions import Session, SessionStore, new_token
from gateway.http.sources import gateway_families, http_metrics
from gateway.http.status import StatusQuery, StatusView
from gateway.http.wire import (
    HTML,
    Cookie,
    HttpCounters,
    Request,
    Response,
    error,
    json_response,
)
from gateway.opcua.users import Identity, Users
from gateway.storage import StorageError

if TYPE_CHECKING:
    from gateway.http.prometheus import MetricsExporter

__all__ = ["SESSION_COOKIE", "Routes"]

log = logging.getLogger("gateway.http")

SESSION_COOKIE = "gateway_session"
#: Characters of a user name, a password and an acknowledgement comment or shelving reason.
MAX_NAME, MAX_PASSWORD, MAX_COMMENT = 256, 1024, 500
#: Characters of an alarm name (longer names are no alarm's).
MAX_ALARM_NAME = 200
#: The longest timed shelve, in seconds: 30 days, as the OPC UA server's MaxTimeShelved.
MAX_SHELVE = 30 * 24 * 3600.0
#: History reads at once (each holds the storage thread for a moment).
CHART_SLOTS = 2
#: Every page and answer: no framing, no sniffing, no referrer, scripts only from here.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
_STATIC = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}

Route = Callable[[Request], Awaitable[Response]]


class Routes:
    """Dispatches requests; one per HTTP server, holding its sessions and counters."""

    def __init__(
        self,
        parts: Parts,
        *,
        loopback: bool,
        session_timeout: float,
        counters: HttpCounters | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._parts = parts
        self._loopback = loopback
        self.counters = counters or HttpCounters()
        self.sessions = SessionStore(idle_timeout=session_timeout, clock=clock)
        self.logins = LoginGuard(Users(parts.config.opcua.users, anonymous=False), clock=clock)
        self.view = StatusView(parts)
        self._exporter: MetricsExporter | None = None  # made at the first scrape
        self._chart_slots = asyncio.Semaphore(CHART_SLOTS)
        folder = files("gateway.http") / "static"
        self._static = {name: (folder / name).read_bytes() for name in _STATIC}
        self._routes: dict[tuple[str, str], Route] = {
            ("GET", "/"): self._page,
            ("GET", "/api/status"): self._status,
            ("GET", "/api/history"): self._history,
            ("POST", "/login"): self._login,
            ("POST", "/logout"): self._logout,
            ("POST", "/api/alarms/acknowledge"): self._acknowledge,
            ("POST", "/api/alarms/shelve"): self._shelve,
            ("POST", "/api/alarms/unshelve"): self._unshelve,
            ("GET", "/metrics"): self._metrics,
            ("GET", "/healthz"): self._healthz,
            ("GET", "/readyz"): self._readyz,
        }
        for name in _STATIC:
            self._routes[("GET", f"/static/{name}")] = self._static_file

    # -- dispatch --------------------------------------------------------------------------

    async def handle(self, request: Request) -> Response:
        """The response to `request`; never raises (a bug answers 500 and is logged)."""
        method = "GET" if request.method == "HEAD" else request.method
        try:
            response = await self._dispatch(method, request)
        except Exception:
            log.exception("HTTP: internal error answering %s %s", request.method, request.path)
            response = error(500, "internal error (logged by the gateway)")
        response.headers.update(SECURITY_HEADERS)
        self.counters.responses[response.status] += 1
        return response

    async def _dispatch(self, method: str, request: Request) -> Response:
        if self._loopback and not local_host(request.header("host")):
            # A page of another site whose name was pointed at 127.0.0.1 (DNS rebinding).
            self.counters.requests_refused["host"] += 1
            return error(421, "this gateway answers only to localhost names on a loopback address")
        route = self._routes.get((method, request.path))
        if route is None:
            if any(path == request.path for _, path in self._routes):
                return error(405, f"{request.method} is not allowed on {request.path}")
            return error(404, f"nothing at {request.path[:200]}")
        if method == "POST" and (problem := csrf_problem(request)) is not None:
            self.counters.requests_refused["csrf"] += 1
            return error(403, f"refused: {problem}")
        return await route(request)

    # -- who is asking -------------------------------------------------------------------------

    def _session(self, request: Request) -> Session | None:
        return self.sessions.get(request.cookies.get(SESSION_COOKIE))

    def _identity(self, request: Request) -> Identity | None:
        session = self._session(request)
        return None if session is None else session.identity

    def _may_view(self, identity: Identity | None) -> bool:
        return self._loopback or identity is not None

    # -- the page ------------------------------------------------------------------------------

    async def _page(self, request: Request) -> Response:
        identity = self._identity(request)
        token = request.cookies.get(CSRF_COOKIE) or new_token()
        data = None
        if self._may_view(identity):
            data = self.view.status(StatusQuery(), identity, self.ready()[0])
        body = render_page(
            self._parts.config.gateway.name,
            csrf=token,
            identity=identity,
            login_required=not self._loopback,
            data=data,
        )
        response = Response(200, body.encode(), HTML, {"Cache-Control": "no-store"})
        if request.cookies.get(CSRF_COOKIE) != token:
            response.cookies.append(Cookie(CSRF_COOKIE, token))
        return response

    async def _static_file(self, request: Request) -> Response:
        name = request.path.rsplit("/", 1)[1]
        return Response(200, self._static[name], _STATIC[name], {"Cache-Control": "no-cache"})

    async def _status(self, request: Request) -> Response:
        identity = self._identity(request)
        if not self._may_view(identity):
            return error(401, "log in to see the gateway's status")
        query = request.query
        try:
            status_query = StatusQuery(
                tag_filter=query.get("filter", "")[:MAX_FILTER],
                tag_page=parse_page(query.get("page")),
                tag_page_size=parse_page(query.get("size"), 50, limit=MAX_PAGE_SIZE),
                device_page=parse_page(query.get("devices")),
            )
        except ValueError as problem:
            return error(400, f"page, size and devices: {problem}")
        return json_response(self.view.status(status_query, identity, self.ready()[0]))

    async def _history(self, request: Request) -> Response:
        if not self._may_view(self._identity(request)):
            return error(401, "log in to see the gateway's history")
        key = request.query.get("tag", "")
        tag = self._parts.acquisition.tags.get(key)
        if tag is None:
            return error(404, f"no tag {key[:200]!r}")
        if self._chart_slots.locked():
            return error(429, "other charts are being read: try again in a moment")
        async with self._chart_slots:
            end = time.time()
            start = end - CHART_SPAN
            try:
                page = await self._parts.historian.read_raw(
                    key, start, end, limit=CHART_ROWS, reverse=True
                )
            except StorageError as problem:
                return error(503, f"the history cannot be read: {problem}")
        chart = thin(page.values, start, end, truncated=page.continuation is not None)
        return json_response(chart.as_json(key, tag.unit or "", start, end))

    # -- logins and actions ----------------------------------------------------------------------

    async def _login(self, request: Request) -> Response:
        try:
            body = request.json_body()
            name, password = body["user"], body["password"]
        except (ValueError, TypeError, KeyError):
            return error(400, 'expected JSON {"user": "...", "password": "..."}')
        if not isinstance(name, str) or not isinstance(password, str):
            return error(400, "user and password must be text")
        if len(name) > MAX_NAME or len(password) > MAX_PASSWORD:
            return error(400, "user name or password too long")
        outcome = await self.logins.login(name, password, request.peer)
        if isinstance(outcome, LoginRefused):
            response = error(outcome.status, outcome.message)
            if outcome.retry_after:
                response.headers["Retry-After"] = str(outcome.retry_after)
            return response
        self.sessions.drop(request.cookies.get(SESSION_COOKIE))  # no session fixation
        session = self.sessions.create(outcome)
        token = new_token()  # a new CSRF token with every login
        response = json_response({"user": outcome.name, "role": outcome.role.value, "csrf": token})
        response.cookies += [Cookie(SESSION_COOKIE, session.token), Cookie(CSRF_COOKIE, token)]
        return response

    async def _logout(self, request: Request) -> Response:
        self.sessions.drop(request.cookies.get(SESSION_COOKIE))
        token = new_token()
        response = json_response({"csrf": token})
        response.cookies += [Cookie(SESSION_COOKIE, "", max_age=0), Cookie(CSRF_COOKIE, token)]
        return response

    def _operator(self, request: Request, doing: str) -> Identity | Response:
        """The logged-in operator or admin, or the refusal (401, 403) to answer."""
        identity = self._identity(request)
        if identity is None:
            return error(401, f"log in as an operator to {doing} alarms")
        if not identity.can_write:
            return error(
                403,
                f"{identity.name} is a {identity.role.value}: only operators "
                f"and admins {doing} alarms",
            )
        return identity

    @staticmethod
    def _alarm_body(request: Request, text: str) -> tuple[str, str, dict[str, object]] | Response:
        """The alarm name and the `text` field (comment or reason) of an alarm action's body."""
        usage = f'expected JSON {{"alarm": "...", "{text}": "..."}}'
        try:
            body = request.json_body()
            name, words = body["alarm"], body.get(text, "")
        except (ValueError, TypeError, KeyError, AttributeError):
            return error(400, usage)
        if not isinstance(name, str) or not isinstance(words, str) or len(words) > MAX_COMMENT:
            return error(400, f"alarm must be a name and {text} text of at most {MAX_COMMENT}")
        if len(name) > MAX_ALARM_NAME:
            return error(404, f"no alarm {name[:MAX_ALARM_NAME]!r}…")
        return name, words, body

    async def _alarm_action(
        self,
        request: Request,
        doing: str,
        text: str,
        action: Callable[[Identity, str, str, dict[str, object]], AlarmSnapshot],
    ) -> Response:
        """Who may, what the body says, then `action`; the engine's refusals as 404 and 409."""
        identity = self._operator(request, doing)
        if isinstance(identity, Response):
            return identity
        parsed = self._alarm_body(request, text)
        if isinstance(parsed, Response):
            return parsed
        name, words, body = parsed
        try:
            snapshot = action(identity, name, words, body)
        except ValueError as problem:
            return error(400, str(problem))
        except UnknownAlarm:
            return error(404, f"no alarm {name!r}")
        except AlarmAlreadyAcked:
            return error(409, f"alarm {name!r} needs no acknowledgement")
        except AlarmShelvingRefused as refused:
            return error(409, str(refused))
        log.info("HTTP: alarm %s: %s by %s", name, doing, identity)
        return json_response(
            {
                "alarm": snapshot.name,
                "state": snapshot.state.value,
                "shelving": snapshot.shelving.value,
                "shelved_until": snapshot.shelved_until,
            }
        )

    async def _acknowledge(self, request: Request) -> Response:
        def acknowledge(who: Identity, name: str, comment: str, _: object) -> AlarmSnapshot:
            return self._parts.alarms.acknowledge(name, user=who.name, comment=comment)

        return await self._alarm_action(request, "acknowledge", "comment", acknowledge)

    async def _shelve(self, request: Request) -> Response:
        def shelve(who: Identity, name: str, reason: str, body: dict[str, object]) -> AlarmSnapshot:
            duration = shelve_duration(body.get("duration"))
            return self._parts.alarms.shelve(name, user=who.name, reason=reason, duration=duration)

        return await self._alarm_action(request, "shelve", "reason", shelve)

    async def _unshelve(self, request: Request) -> Response:
        def unshelve(who: Identity, name: str, reason: str, _: object) -> AlarmSnapshot:
            return self._parts.alarms.unshelve(name, user=who.name, reason=reason)

        return await self._alarm_action(request, "unshelve", "reason", unshelve)

    # -- probes and metrics ------------------------------------------------------------------------

    def ready(self) -> tuple[bool, dict[str, str]]:
        return readiness(self._parts)

    async def _healthz(self, request: Request) -> Response:
        return Response(200, b"ok\n", headers={"Cache-Control": "no-store"})

    async def _readyz(self, request: Request) -> Response:
        ok, checks = self.ready()
        return json_response({"ready": ok, "checks": checks}, 200 if ok else 503)

    async def _metrics(self, request: Request) -> Response:
        # prometheus_client is imported at the first scrape: a gateway nobody scrapes
        # never loads it (tests/integration/test_deferred_imports.py).
        from gateway.http.prometheus import CONTENT_TYPE, MetricsExporter  # noqa: PLC0415

        if self._exporter is None:
            self._exporter = MetricsExporter(self.families)
        return Response(200, self._exporter.render(), CONTENT_TYPE, {"Cache-Control": "no-store"})

    def families(self) -> Iterator[Family]:
        """Every part's metrics, then readiness and the HTTP server's own."""
        yield from gateway_families(self._parts)
        yield Family("gateway_ready", "1 when /readyz answers 200.").add(self.ready()[0])
        yield from http_metrics(self.counters, len(self.sessions), self.logins.refused)


def shelve_duration(value: object) -> float | None:
    """A shelve's `duration`: None (one-shot), or seconds in (0, MAX_SHELVE]; ValueError else."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("duration must be seconds (a number) or null for a one-shot shelve")
    if not 0 < value <= MAX_SHELVE:
        raise ValueError(f"duration must be more than 0 and at most {MAX_SHELVE:.0f} s (30 days)")
    return float(value)

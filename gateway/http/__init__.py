"""Operations over HTTP: Prometheus metrics, health and readiness, the live status page.

server.py      HttpServer: the part's lifecycle (serving() owns a TaskGroup and the socket)
aioserver.py   aiohttp's low-level server with connection, size and time bounds (the only
               aiohttp import)
routes.py      the routes: who may see and do what
probes.py      readiness; does a Host header name this machine (DNS rebinding)
wire.py        Request/Response as plain values (routes are tested without a socket)
csrf.py        the CSRF locks on every POST
login.py       logins with the OPC UA users and the OPC UA login throttle
sessions.py    browser sessions: random tokens, expiry, bounded
status.py      the page's data: devices, a page of tags, the alarms not normal
paging.py      filtering and paging (pure)
chart.py       one tag's last hour, thinned for the chart (pure)
page.py        the server-rendered HTML; static/app.js and app.css refresh and style it
families.py    metric families as plain values (pure)
sources.py     every part's metrics (the HTTP server's too), read at scrape time
prometheus.py  families → the Prometheus text format (the only prometheus-client import)
parts.py       the running gateway's parts as the HTTP side sees them (a Protocol)
mqttview.py    the MQTT publisher as the HTTP side reads it (protocols: no gateway.mqtt import)

aiohttp and prometheus-client are the `http` extra; without them a configuration
with `http:` is refused with the install command (docs/operations.md).
"""

from gateway.http.server import HttpServer, http_available

__all__ = ["HttpServer", "http_available"]

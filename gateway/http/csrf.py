"""Cross-site request forgery: three locks on every POST, any one of which stops it.

1. Cookies are SameSite=Strict: a browser sends none with a request another
   site started, so such a POST arrives logged out.
2. A POST must carry the `X-CSRF-Token` header equal to the `gateway_csrf`
   cookie (compared in constant time). A form on another site cannot set a
   header, and script there cannot read the cookie (HttpOnly) or the page.
   The page gets the token in a meta tag; it changes at every login and logout.
3. A POST whose `Origin` (or, without one, `Referer`) names another origin is
   refused, whatever it carries.

Requests from non-browser clients (no Origin, no Referer) pass lock 3 and are
held by lock 2.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from gateway.http.wire import Request

__all__ = ["CSRF_COOKIE", "CSRF_HEADER", "csrf_problem"]

CSRF_COOKIE = "gateway_csrf"
CSRF_HEADER = "x-csrf-token"


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def csrf_problem(request: Request) -> str | None:
    """Why this POST may be forged, or None when it is safe to act on."""
    host = request.header("host")
    scheme = "https" if request.secure else "http"
    claimed = request.header("origin")
    if claimed is None and (referer := request.header("referer")) is not None:
        claimed = _origin_of(referer)
    if claimed is not None and (host is None or claimed.lower() != f"{scheme}://{host}".lower()):
        return f"cross-origin request (from {claimed[:100]!r})"
    expected = request.cookies.get(CSRF_COOKIE, "")
    given = request.header(CSRF_HEADER) or ""
    if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
        return "missing or wrong CSRF token (reload the page)"
    return None

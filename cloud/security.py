"""Response headers every page and API answer carries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

# Pages load only their own scripts and styles (no CDN, no inline script), may not be framed,
# and send nothing to other origins.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


SESSION_COOKIE = "madoguchi_session"  # the browser's copy of the session token

# FastAPI's interactive API pages load Swagger/ReDoc assets with inline scripts; they carry
# no staff data and keep the other headers.
API_EXPLORER = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})


def install_security_headers(app: FastAPI, *, hsts: bool) -> None:
    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        headers = response.headers
        if request.url.path not in API_EXPLORER:
            headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        # same-origin: nothing leaves for other sites, and our own form posts keep their
        # Origin header (with no-referrer browsers send `Origin: null`), which the CSRF
        # guard checks.
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Cache-Control", "no-store")
        if hsts:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response


UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def install_csrf_guard(app: FastAPI) -> None:
    """Cross-site request forgery: a state-changing request that carries the session cookie
    must come from our own pages. Browsers send `Origin` on such requests; a foreign one is
    refused (a second line behind the SameSite=Strict cookie). Bearer-token clients (the CLI)
    send no cookie and are not affected."""

    @app.middleware("http")
    async def csrf_guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.method in UNSAFE_METHODS and SESSION_COOKIE in request.cookies:
            origin = request.headers.get("origin")
            # The host only: behind a TLS proxy the scheme seen here is http.
            if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
                return JSONResponse(
                    {"detail": "cross-site request refused (Origin does not match)"},
                    status_code=403,
                )
        return await call_next(request)

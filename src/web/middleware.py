"""Request ids, access logs and security headers.

The middleware runs for routed requests (binding the id to every log line they write); the
`before_send` hook runs for every response, 404s for unknown paths included.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("kaquan.access")

_ID = "kaquan.request_id"
_STARTED = "kaquan.started"
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
}


def request_id(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    return _assign_id(connection.scope)


def _assign_id(scope: Scope) -> str:
    state = scope.setdefault("state", {})  # type: ignore[typeddict-item]
    if _ID not in state:
        incoming = dict(scope.get("headers", [])).get(b"x-request-id", b"").decode("latin-1")
        state[_ID] = incoming if _VALID_ID.match(incoming) else secrets.token_hex(8)
    return str(state[_ID])


class RequestContext(ASGIMiddleware):
    """Binds the request id to the logging context and starts the clock for the access log."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=_assign_id(scope))
        scope["state"][_STARTED] = time.perf_counter()  # type: ignore[index]
        await next_app(scope, receive, send)


# Pages that show staff or reseller data, or one-time links, are never kept by browsers or proxies.
_PRIVATE_PATHS = ("/admin", "/portal", "/invite", "/login", "/r/", "/o/", "/lookup", "/sandbox")
# Path segments that are secrets themselves (invite and redemption tokens) are not written to the log.
_SECRET_PATHS = re.compile(r"^(/invite/|/r/)[^/]+")


def loggable_path(path: str) -> str:
    """The path with any secret segment (an invite or redemption token) replaced by an ellipsis."""
    return _SECRET_PATHS.sub(r"\1…", path)


def response_finisher(
    *, https: bool, form_targets: tuple[str, ...] = ()
) -> Callable[[Message, Scope], Awaitable[None]]:
    """`before_send`: request id and security headers on every response, and one access-log line.

    `form_targets`: origins a form may end up at besides ours (checkout redirects to the payment gateway).
    """
    security = dict(SECURITY_HEADERS)
    if form_targets:
        csp = security["content-security-policy"]
        security["content-security-policy"] = csp.replace(
            "form-action 'self'", "form-action 'self' " + " ".join(form_targets)
        )

    async def finish_response(message: Message, scope: Scope) -> None:
        if scope["type"] != "http" or message["type"] != "http.response.start":
            return
        rid = _assign_id(scope)
        headers = MutableScopeHeaders.from_message(message)
        headers["x-request-id"] = rid
        for name, value in security.items():
            if name not in headers:
                headers[name] = value
        if https:
            headers["strict-transport-security"] = "max-age=31536000; includeSubDomains"
        if scope["path"].startswith(_PRIVATE_PATHS) and "cache-control" not in headers:
            headers["cache-control"] = "no-store"
        started = scope["state"].get(_STARTED)  # type: ignore[union-attr]
        log.info(
            "request",
            request_id=rid,
            method=scope["method"],
            path=loggable_path(scope["path"]),
            status=message["status"],
            ms=round((time.perf_counter() - started) * 1000, 1) if started else None,
        )

    return finish_response

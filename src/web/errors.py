"""One mapping from errors to responses: domain codes to HTTP statuses and translated text, pages
for browsers, fragments for htmx. No internals ever reach the client; 500s carry a request id."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

from domain.errors import DomainError, NotFound, ValidationFailed
from domain.imports import BadCodeFile
from domain.risk import ChallengeRequired
from domain.staff import LoginThrottled
from web.i18n import catalog, locale_of, translate
from web.middleware import loggable_path, request_id

log = structlog.get_logger(__name__)

STATUS_BY_CODE = {
    "invalid_invite": 404,
    "validation_error": 422,
    "invalid_credentials": 401,
    "wrong_password": 403,
    "login_throttled": 429,
    "too_large": 413,
    "no_code_pool": 422,
    "not_a_voucher_product": 422,
    "not_for_sale": 404,
    "payment_rejected": 400,
    "reseller_disabled": 403,
    "risk_blocked": 403,
    "challenge_required": 403,
    "review": 403,
    "mail_not_sent": 502,
}
CONFLICT = 409
CSRF_FAILED = "CSRF token verification failed"


def domain_error(request: Request[Any, Any, Any], error: DomainError) -> Response[Any]:
    locale = locale_of(request)
    if isinstance(error, NotFound):  # whatever its own code (no_such_order, shop_closed …), nothing is there
        status = 404
    else:
        status = STATUS_BY_CODE.get(error.code, 422 if isinstance(error, BadCodeFile) else CONFLICT)
    fields: dict[str, str] = {}
    if isinstance(error, ValidationFailed):
        fields = {field: translate(locale, f"error.{problem}") for field, problem in error.errors.items()}
        message = translate(locale, "error.validation_error")
    else:
        message = translate(locale, f"error.{error.code}", **error.params)
    if status >= 500:  # something outside failed (the mail server, say): what it said is for the log, not the page
        log.error("outside failure", code=error.code, exc_info=error.__cause__ or error)
    headers = (
        {"Retry-After": str(int(error.retry_after.total_seconds()) + 1)} if isinstance(error, LoginThrottled) else {}
    )
    # The risk rules want proof of a person: the widget comes with the message, into the form that was sent, and
    # solves at once; sending the form again carries its solution (the field `altcha`).
    challenge = isinstance(error, ChallengeRequired)
    return _render(request, status, message, fields=fields, headers=headers, challenge=challenge)


def http_error(request: Request[Any, Any, Any], error: HTTPException) -> Response[Any]:
    if isinstance(error, NotAuthorizedException):
        return _to_login(request)
    status = error.status_code
    key = f"http.{status}" if f"http.{status}" in catalog("en") else ("http.500" if status >= 500 else "http.400")
    if isinstance(error, PermissionDeniedException) and error.detail == CSRF_FAILED:
        key = "http.csrf"
    if status >= 500:
        log.error("http error", status=status)
    message = translate(locale_of(request), key, request_id=request_id(request))
    return _render(request, status, message, headers=error.headers or {})


def unexpected_error(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    log.exception("unhandled error", path=loggable_path(request.url.path))
    message = translate(locale_of(request), "http.500", request_id=request_id(request))
    return _render(request, HTTP_500_INTERNAL_SERVER_ERROR, message)


def _render(
    request: Request[Any, Any, Any],
    status: int,
    message: str,
    *,
    fields: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    challenge: bool = False,
) -> Response[Any]:
    htmx = request.headers.get("hx-request") == "true"
    if request.url.path.startswith(("/healthz", "/readyz")) or request.headers.get("accept") == "application/json":
        return Response({"error": {"message": message}}, status_code=status, headers=headers)
    return Template(
        "_errors.html" if htmx else "errors/error.html",
        context={"status": status, "message": message, "fields": fields or {}, "challenge": challenge and htmx},
        status_code=status,
        headers=headers,
    )


def _to_login(request: Request[Any, Any, Any]) -> Response[Any]:
    target = "/login"
    # For htmx, come back to the page the fragment belonged to, not to the fragment itself.
    current = urlsplit(request.headers.get("hx-current-url", ""))
    back = (current.path + (f"?{current.query}" if current.query else "")) if current.path else ""
    if not back and request.method == "GET":
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if back and back not in ("/", "/login") and back.startswith("/") and not back.startswith("//"):
        target += "?next=" + quote(back)
    if request.headers.get("hx-request") == "true":
        return Response(None, status_code=204, headers={"HX-Redirect": target})
    return Redirect(target, status_code=303)


exception_handlers: ExceptionHandlersMap = {
    DomainError: domain_error,
    HTTPException: http_error,
    Exception: unexpected_error,
}

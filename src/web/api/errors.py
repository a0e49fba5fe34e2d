"""Errors under /api/v1 in the API's one format — HTTP status + {"error": {"code", "message", "fields"?}} — for
everything that can go wrong there: domain rules, bad signatures, and Litestar's own answers (no such route or
method, a body too large, a parameter it could not read). The rest of the app keeps its pages and fragments.
"""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.types import ExceptionHandler, ExceptionHandlersMap

from domain.api import ApiAuthFailed, RateLimited
from domain.errors import DomainError, NotFound, ValidationFailed
from domain.risk import HeldForReview
from web.api.schemas import Error, ErrorDetail
from web.i18n import catalog, locale_of, translate
from web.middleware import loggable_path, request_id

API_PATH = "/api/v1"
log = structlog.get_logger(__name__)

# Domain codes whose status is not 409 (a rule said no to this request as it stands).
STATUS_BY_CODE = {
    "insufficient_balance": 402,  # top up, then the same request (same out_trade_no) goes through
    "ip_not_allowed": 403,
    "reseller_disabled": 403,
    "risk_blocked": 403,  # the merchant's risk rules refused the order; nothing was made or charged
    "review": 403,  # held for the merchant's review: charged and delivered (and called back) once approved
    "rate_limited": 429,
}
# Litestar's own refusals, by status.
CODE_BY_STATUS = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    429: "rate_limited",
    503: "unavailable",
}


def is_api(path: str) -> bool:
    return path == API_PATH or path.startswith(API_PATH + "/")


def with_api_errors(handlers: ExceptionHandlersMap) -> ExceptionHandlersMap:
    """The app's handlers, each answering in the API's format for requests under /api/v1 (including those no
    route matched, which only app-level handlers see)."""

    def for_both(site: ExceptionHandler) -> ExceptionHandler:
        def handle(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
            return api_error(request, error) if is_api(request.scope["path"]) else site(request, error)

        return handle

    return {kind: for_both(handler) for kind, handler in handlers.items()}


def api_error(request: Request[Any, Any, Any], error: Exception) -> Response[Error]:
    if isinstance(error, DomainError):
        return _domain_error(request, error)
    if isinstance(error, HTTPException):
        return _http_error(request, error)
    log.exception("unhandled error", path=loggable_path(request.url.path))
    message = translate(locale_of(request), "http.500", request_id=request_id(request))
    return _answer(500, "internal_error", message)


def _domain_error(request: Request[Any, Any, Any], error: DomainError) -> Response[Error]:
    locale = locale_of(request)
    if isinstance(error, ValidationFailed):
        message = translate(locale, "api.validation_error", fields=", ".join(error.errors))
        return _answer(422, error.code, message, fields=error.errors)
    if isinstance(error, ApiAuthFailed):
        status, code = 401, error.code
    elif isinstance(error, NotFound):  # whatever its own code: there is nothing there for this caller
        status, code = 404, NotFound.code
    else:
        status, code = STATUS_BY_CODE.get(error.code, 409), error.code
    headers = {"Retry-After": str(error.params["seconds"])} if isinstance(error, RateLimited) else {}
    order_no = error.params["order_no"] if isinstance(error, HeldForReview) else None
    message = translate(locale, f"error.{code}", **error.params)
    return _answer(status, code, message, headers=headers, order_no=order_no)


def _http_error(request: Request[Any, Any, Any], error: HTTPException) -> Response[Error]:
    status = error.status_code
    if status >= 500:
        log.error("http error", status=status, path=loggable_path(request.url.path))
    code = CODE_BY_STATUS.get(status, "internal_error" if status >= 500 else "bad_request")
    key = f"http.{status}" if f"http.{status}" in catalog("en") else ("http.500" if status >= 500 else "http.400")
    message = translate(locale_of(request), key, request_id=request_id(request))
    return _answer(status, code, message, headers=error.headers or {})


def _answer(
    status: int,
    code: str,
    message: str,
    *,
    fields: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    order_no: str | None = None,
) -> Response[Error]:
    return Response(
        Error(ErrorDetail(code=code, message=message, fields=fields, order_no=order_no)),
        status_code=status,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )

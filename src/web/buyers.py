"""The device cookie: a long-lived id per browser that the unpaid-units cap (and later risk rules) count by."""

from __future__ import annotations

import re
import secrets
from typing import Any

from litestar import Request, Response
from litestar.datastructures import Cookie

DEVICE_COOKIE = "kaquan_device"
DEVICE_MAX_AGE = 2 * 365 * 24 * 3600
_DEVICE = re.compile(r"^[A-Za-z0-9_-]{22}$")


def device_of(request: Request[Any, Any, Any]) -> str | None:
    value = request.cookies.get(DEVICE_COOKIE, "")
    return value if _DEVICE.match(value) else None


def with_device(request: Request[Any, Any, Any], response: Response[Any]) -> Response[Any]:
    """A long-lived random id for this browser, set on first visit (not a secret: a counting key)."""
    if device_of(request) is None:
        response.cookies.append(
            Cookie(
                key=DEVICE_COOKIE,
                value=secrets.token_urlsafe(16),
                max_age=DEVICE_MAX_AGE,
                httponly=True,
                samesite="lax",
                secure=request.url.scheme == "https",
            )
        )
    return response

"""Buyers as the shop sees them: the device cookie (a long-lived id per browser that the unpaid-units cap and the
risk rules count by), the checkout form turned into an order request, and where a placed order sends the buyer."""

from __future__ import annotations

import re
import secrets
from typing import Any

from litestar import Request, Response
from litestar.datastructures import Cookie

from domain.orders import Channel, Order, OrderRequest, OrderStatus
from domain.services.ordering import Ordering
from web.auth import base_url, client_ip
from web.controllers.auth import go
from web.controllers.forms import CheckoutForm

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


def checkout_request(request: Request[Any, Any, Any], sku: str, form: CheckoutForm) -> OrderRequest:
    """A shop checkout (the merchant's or a reseller's), with what the caps and risk rules count by (address and
    device) and the solved challenge, if the rules asked for one."""
    return OrderRequest(
        sku=sku,
        quantity=form.quantity,
        contact=form.contact,
        recharge_account=form.recharge_account,
        channel=Channel.SHOP,
        ip=client_ip(request),
        device=device_of(request),
        challenge=form.altcha,
    )


def after_checkout(request: Request[Any, Any, Any], ordering: Ordering, order: Order) -> Response[Any]:
    """Off to the payment gateway; an order the risk rules hold for review has nothing to pay yet, so its page
    instead (it shows the payment button once staff approve)."""
    if order.status is OrderStatus.HELD:
        return go(request, f"/o/{order.number}?k={ordering.page_key(order)}")
    return go(request, ordering.payment_url(order, base_url(request)))

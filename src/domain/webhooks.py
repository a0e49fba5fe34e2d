"""Callbacks to API callers, per the Standard Webhooks specification (standardwebhooks.com), so a reseller
verifies them with any Standard Webhooks library: headers `webhook-id`, `webhook-timestamp` and
`webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` under the key's `whsec_` secret.

A message is written with the order's change, in the same transaction (nothing is announced that did not
happen); sending it is the workers' job, retried with backoff for more than a day. The body names the order
and its state — never its codes: the caller fetches those with a signed GET.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.orders import Order, OrderStatus

EVENTS = {
    OrderStatus.DELIVERED: "order.delivered",
    OrderStatus.PARTIALLY_DELIVERED: "order.partially_delivered",
    OrderStatus.FAILED: "order.failed",
    OrderStatus.REFUNDED: "order.refunded",
    OrderStatus.CANCELLED: "order.cancelled",  # held for review, then rejected (or not reviewed in time)
}
SECRET_PREFIX = "whsec_"  # noqa: S105 — the format's prefix, not a secret
TOLERANCE_SECONDS = 300  # a received webhook's timestamp may be this far from our clock, either way


class MessageStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # retried for more than a day without a 2xx; staff or the reseller may send it again


@dataclass(frozen=True, slots=True)
class WebhookMessage:
    msg_id: str
    order_id: int
    api_key_id: int
    event: str
    url: str
    payload: dict[str, Any]
    created_at: datetime
    status: MessageStatus = MessageStatus.PENDING
    attempts: int = 0
    last_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    id: int | None = None

    @classmethod
    def for_order(cls, order: Order, status: OrderStatus, now: datetime) -> WebhookMessage:
        assert order.api is not None and order.id is not None
        payload = {"type": EVENTS[status], "timestamp": now.isoformat(), "data": order_summary(order)}
        return cls(
            "msg_" + secrets.token_urlsafe(18), order.id, order.api.api_key_id, EVENTS[status],
            order.api.callback_url, payload, now,
        )  # fmt: skip

    @property
    def body(self) -> bytes:
        """The exact bytes sent (and signed): the same for every attempt."""
        return json.dumps(self.payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()

    def headers(self, secret: str, now: datetime) -> dict[str, str]:
        timestamp = str(int(now.timestamp()))
        return {
            "content-type": "application/json",
            "webhook-id": self.msg_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": signature(secret, self.msg_id, timestamp, self.body),
        }


@dataclass(frozen=True, slots=True)
class WebhookAttempt:
    message_id: int
    at: datetime
    status_code: int | None  # None: no HTTP answer (refused, timed out, not allowed)
    error: str
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and the base64 of 24 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """`v1,` and the base64 HMAC-SHA256, keyed by the secret's base64-decoded bytes (after `whsec_`)."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def is_secret(text: str) -> bool:
    """A Standard Webhooks secret's shape: `whsec_` and base64 key bytes."""
    if not text.startswith(SECRET_PREFIX):
        return False
    try:
        return bool(base64.b64decode(text.removeprefix(SECRET_PREFIX), validate=True))
    except ValueError:
        return False


def verify(secret: str, msg_id: str, timestamp: str, signatures: str, body: bytes, now: float) -> bool:
    """A webhook we receive, checked as the specification says: its timestamp (unix seconds) within five minutes
    of `now`, and one of its space-separated `v1,<base64>` signatures ours (compared in constant time; a sender
    rotating its secret signs with both)."""
    if not (timestamp.isascii() and timestamp.isdigit()) or abs(int(timestamp) - now) > TOLERANCE_SECONDS:
        return False
    expected = signature(secret, msg_id, timestamp, body).encode()
    return any(hmac.compare_digest(expected, given.encode()) for given in signatures.split())


def order_summary(order: Order) -> dict[str, Any]:
    """The order as API callers see it, without its codes: ids, state, quantities and money (amounts as decimal
    strings in yuan, exact)."""
    return {
        "order_no": order.number,
        "out_trade_no": order.api.out_trade_no if order.api else None,
        "status": order.status.value,
        "product_name": order.product_name,
        "quantity": order.quantity,
        "delivered_units": order.delivered_units,
        "unit_price": str(order.unit_price.amount),
        "total": str(order.total.amount),
        "currency": order.unit_price.currency,
        "created_at": order.created_at.isoformat(),
        "paid_at": order.paid_at.isoformat() if order.paid_at else None,
    }

"""Payments as the order sees them: a request sent to a gateway, and the gateway's notice that money arrived."""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import DomainError
from domain.money import Money


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    order_number: str
    amount: Money
    subject: str
    notify_url: str
    return_url: str


@dataclass(frozen=True, slots=True)
class PaymentNotice:
    """A verified (signature, merchant) notice from a gateway that `amount` was paid for an order."""

    gateway: str
    order_number: str
    trade_no: str
    amount: Money


class PaymentRejected(DomainError):
    """A notice we do not act on: bad signature, another merchant, not a success, unknown order, wrong amount."""

    code = "payment_rejected"

"""Delivered units and the redemption links (/r/<token>) through which buyers see their codes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from domain.codepool import Sealed

TOKEN_BYTES = 24  # 192 random bits; the issue asks for at least 128


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> bytes:
    """What the database keeps to find a link: its SHA-256, so a copy of the table opens nothing."""
    return hashlib.sha256(token.encode()).digest()


def token_binding(order_number: str, unit: int) -> str:
    return f"redemption:{order_number}:{unit}"


def content_binding(order_number: str, unit: int) -> str:
    return f"fulfilment:{order_number}:{unit}"


@dataclass(frozen=True, slots=True)
class DeliveredUnit:
    """One delivered unit of an order. Unique per (order, unit): a unit is never delivered twice.

    A pool code is referenced by `code_id`; what an operator typed in by hand is sealed in `content`.
    The link token is sealed too (the order page and mails show it again) and found by its hash.
    """

    order_id: int
    unit: int
    token_hash: bytes
    token: Sealed
    delivered_at: datetime
    delivered_by: str
    code_id: int | None = None
    content: Sealed | None = None
    reveals: int = 0
    id: int | None = None

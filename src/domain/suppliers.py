"""Upstream suppliers: other kaquan instances (or anything speaking Open API v1) where the merchant is itself a
reseller. Their catalog is synced into a mapping; a product lists its fulfilment sources in order — its own
code pool, then upstream A, then upstream B — and delivery falls through to the next source when one is out of
stock, failing, or dearer than the ceiling the merchant set for it.

An upstream order is named by our order number and the source's position (its out_trade_no), so asking again —
after a timeout, a crash, a lost answer — is the same order upstream, never a second purchase.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit

from domain.codepool import CardSecret, Sealed
from domain.errors import DomainError, ValidationFailed
from domain.money import CURRENCY, Money
from domain.pricing import parse_price

NAME_MAX = 64
URL_MAX = 255
SKU_MAX = 40
MAX_SOURCES = 5
# Reasons an upstream order failed that are acted on later: the upstream had no order by our name once it had time
# to make it (asked about again if it calls back); it charged in another currency than ours (never booked here).
NOT_MADE = "not_made"
OTHER_CURRENCY = "other_currency"
# Where an upstream calls back about our orders there (the web layer serves it; verified by its webhook secret).
WEBHOOK_PATH = "/suppliers/{upstream_id}/webhook"


class UpstreamUnavailable(DomainError):
    """No usable answer: a timeout, a refused connection, a 5xx. `in_flight`: the request may still be running
    there (sent, then no answer), so whether an order was made is unknown until it is asked again later."""

    code = "upstream_unavailable"

    def __init__(self, message: str, *, in_flight: bool = False) -> None:
        super().__init__(message)
        self.in_flight = in_flight


class UpstreamOrderOpen(DomainError):
    """An order placed upstream for this order may still deliver (placed, not settled): refunding the buyer or
    delivering by hand now could pay twice for the same units. Staff abandon it first."""

    code = "upstream_order_open"


class UpstreamOrderClosed(DomainError):
    """Only an open upstream order (placed, not settled, not abandoned) can be abandoned."""

    code = "upstream_order_closed"


class NotSourcedAgain(DomainError):
    """Only an order of a product with upstream sources that failed at every source (failed or partially
    delivered, owing units) can be sent to its sources again."""

    code = "cannot_source_again"


class UpstreamRefused(DomainError):
    """The upstream said no, with its stable error code (out_of_stock, insufficient_balance, …)."""

    code = "upstream_refused"

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(message or reason, reason=reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Upstream:
    name: str
    base_url: str  # e.g. https://upstream.example.com (the API lives under /api/v1)
    key_id: str
    secret: Sealed
    webhook_secret: Sealed | None
    created_at: datetime
    synced_at: datetime | None = None
    id: int | None = None

    def callback_url(self, our_base_url: str) -> str:
        """Where its webhooks reach us ("" — none asked for — without a webhook secret to check them by, or
        without our own address): then its orders are polled."""
        if self.webhook_secret is None or self.id is None or not our_base_url:
            return ""
        return our_base_url.rstrip("/") + WEBHOOK_PATH.format(upstream_id=self.id)

    @staticmethod
    def check(name: str, base_url: str, key_id: str, secret: str) -> tuple[str, str]:
        """The name and base URL, checked along with the credentials' shape; ValidationFailed names each field."""
        errors: dict[str, str] = {}
        name = name.strip()
        if not name:
            errors["name"] = "required"
        elif len(name) > NAME_MAX:
            errors["name"] = "too_long"
        url = base_url.strip().rstrip("/")
        parts = urlsplit(url)
        bad = parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment
        if bad or parts.username or parts.password or len(url) > URL_MAX:  # no credentials in an address we store
            errors["base_url"] = "invalid_url"
        if not re.match(r"^kq_[A-Za-z0-9]{16}$", key_id.strip()):
            errors["key_id"] = "invalid_key_id"
        if not secret.strip():
            errors["secret"] = "required"  # noqa: S105 — a form error's code, not a secret
        if errors:
            raise ValidationFailed(errors)
        return name, url


@dataclass(frozen=True, slots=True)
class Listing:
    """A product in an upstream's catalog, as last synced: what it costs us there, and whether it has stock."""

    upstream_id: int
    sku: str
    name: str
    price: Money
    delivery_kind: str
    in_stock: bool
    available: int | None
    synced_at: datetime


@dataclass(frozen=True, slots=True)
class Source:
    """One fulfilment source of a product, in the product's order: the own pool, or an upstream's product
    (with an optional ceiling: dearer than this per unit, the source is passed over)."""

    position: int
    upstream_id: int | None = None  # None: the merchant's own code pool
    upstream_sku: str = ""
    cost_ceiling: Money | None = None

    @property
    def is_pool(self) -> bool:
        return self.upstream_id is None

    def out_trade_no(self, order_number: str, round_: int = 1) -> str:
        """Our name for the order placed at this source: the same on every try of a round. Staff sending the order
        to its sources again start a new round: a new name, since the old one names an order settled there."""
        return f"{order_number}-{self.position}" if round_ <= 1 else f"{order_number}-{self.position}-{round_}"

    def above_ceiling(self, unit_price: Money) -> bool:
        return self.cost_ceiling is not None and unit_price > self.cost_ceiling


class UpstreamStatus(StrEnum):
    """An order placed upstream, as its answer leaves it."""

    ORDERING = "ordering"  # asked; no answer yet (a timeout leaves it here until it is asked again)
    PROCESSING = "processing"  # accepted, not delivered yet: its webhook or a later query completes it
    # Ended short there (its `failed` or `partially_delivered`): it holds our money for the units it did not
    # deliver until its staff deliver or refund them. Codes that came are taken; it is asked about again (backing
    # off), and our order waits for staff meanwhile — buying the rest elsewhere could pay twice.
    STALLED = "stalled"
    DELIVERED = "delivered"
    FAILED = "failed"  # refused, never made, or refunded there: nothing more comes, the next source is tried


# Placed upstream and not settled: codes may still come, so no other source buys those units meanwhile.
OPEN = frozenset({UpstreamStatus.ORDERING, UpstreamStatus.PROCESSING, UpstreamStatus.STALLED})


@dataclass(frozen=True, slots=True)
class UpstreamOrder:
    """An upstream's answer about one of our orders there."""

    out_trade_no: str
    order_no: str
    status: UpstreamStatus
    unit_price: Money
    codes: tuple[CardSecret, ...] = ()


def parse_sources(rows: Sequence[tuple[str, str, str]], known: set[int | None]) -> list[Source]:
    """A product's sources from the merchant's rows, in order: ("pool" | an upstream's id among `known`, its SKU
    there, a cost ceiling or ""). Empty rows are dropped; ValidationFailed names what is wrong."""
    sources: list[Source] = []
    for which, sku, ceiling in rows:
        if not which.strip():
            continue
        if which.strip() == "pool":
            sources.append(Source(len(sources) + 1))
            continue
        if not which.strip().isdecimal() or int(which) not in known:
            raise ValidationFailed({"upstream_id": "invalid_choice"})
        if not sku.strip():
            raise ValidationFailed({"upstream_sku": "required"})
        if len(sku.strip()) > SKU_MAX:
            raise ValidationFailed({"upstream_sku": "too_long"})
        limit = parse_price(ceiling, "cost_ceiling") if ceiling.strip() else None
        sources.append(Source(len(sources) + 1, int(which), sku.strip().upper(), limit))
    if len(sources) > MAX_SOURCES:
        raise ValidationFailed({"upstream_id": "too_many"})
    if len({(s.upstream_id, s.upstream_sku) for s in sources}) < len(sources):
        raise ValidationFailed({"upstream_id": "duplicate_source"})
    return sources


def buyable(listings: Sequence[Listing]) -> list[Listing]:
    """What of an upstream's catalog can be bought: products priced in our currency. A cost in another could never
    be booked against a sale here, so the rest are left out of the sync — as if not in its catalog."""
    return [listing for listing in listings if listing.price.currency == CURRENCY]


def passed_over(source: Source, listing: Listing | None) -> str | None:
    """Why a source is skipped before it is even asked (None: ask it): not in the upstream's catalog at the last
    sync, or dearer than the product's ceiling for it. Stock is not judged from the sync: it may have changed,
    and an upstream out of stock says so when asked."""
    if listing is None:
        return "not_in_upstream_catalog"
    if source.above_ceiling(listing.price):
        return "above_cost_ceiling"
    return None


@dataclass(frozen=True, slots=True)
class PlacedUpstream:
    """One of our orders placed at an upstream, as far as we know: what the timeline shows, and what a retry
    asks about before it orders anything."""

    order_id: int
    upstream_id: int
    out_trade_no: str
    units: int
    status: UpstreamStatus
    created_at: datetime
    updated_at: datetime
    upstream_order_no: str = ""
    unit_cost: Money | None = None
    error: str = ""
    received: int = 0  # codes taken from its answers so far (a partial delivery sends the rest later)
    abandoned_at: datetime | None = None  # staff stopped waiting for it: codes it sends after all go to the pool
    id: int | None = None

    @property
    def is_open(self) -> bool:
        """Placed, not settled, and still waited for: it blocks refunds, delivery by hand and other sources."""
        return self.status in OPEN and self.abandoned_at is None

    @property
    def believed_unmade(self) -> bool:
        """Failed because the upstream had no order by our name (`NOT_MADE`): one it made very late after all is
        still ours — when it calls back about it, it is asked about again."""
        return self.status is UpstreamStatus.FAILED and self.error == NOT_MADE and self.abandoned_at is None

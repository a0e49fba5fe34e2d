"""An order's life: placed, paid, delivered — and every way it can go otherwise.

placed → awaiting_payment → paid → delivering → delivered | partially_delivered | failed → refunded,
plus cancelled and expired. A payment that arrives after expiry or cancellation is never lost: the
order becomes paid again (补单). Every change of status keeps its reason, time and who made it.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from domain.catalog import DeliveryKind, Product
from domain.errors import DomainError, ValidationFailed
from domain.money import Money


class OrderStatus(StrEnum):
    PLACED = "placed"
    HELD = "held"  # the merchant's risk rules want a person to look first (review queue)
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    PARTIALLY_DELIVERED = "partially_delivered"
    FAILED = "failed"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


S = OrderStatus
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PLACED: frozenset({S.AWAITING_PAYMENT, S.HELD, S.CANCELLED}),
    # Approved: on to payment (a wallet pays at once); rejected: cancelled. A held order holds no stock.
    S.HELD: frozenset({S.AWAITING_PAYMENT, S.CANCELLED}),
    S.AWAITING_PAYMENT: frozenset({S.PAID, S.CANCELLED, S.EXPIRED}),
    S.PAID: frozenset({S.DELIVERING, S.REFUNDED}),
    S.DELIVERING: frozenset({S.DELIVERED, S.PARTIALLY_DELIVERED, S.FAILED, S.REFUNDED}),
    # Staff finish what delivery could not (manual fulfil, or stock that arrived later).
    S.PARTIALLY_DELIVERED: frozenset({S.DELIVERING, S.REFUNDED}),
    S.FAILED: frozenset({S.DELIVERING, S.REFUNDED}),
    S.DELIVERED: frozenset({S.REFUNDED}),
    # 补单: the money arrived after all.
    S.EXPIRED: frozenset({S.PAID}),
    S.CANCELLED: frozenset({S.PAID}),
    S.REFUNDED: frozenset(),
}
UNPAID = frozenset({S.PLACED, S.AWAITING_PAYMENT})
FINAL = frozenset({S.DELIVERED, S.REFUNDED, S.CANCELLED, S.EXPIRED})
# Statuses in which the buyer's money is with the merchant and not (yet) fully turned into goods.
OWED = frozenset({S.PAID, S.DELIVERING, S.PARTIALLY_DELIVERED, S.FAILED})
# Outcomes an API caller is called back about (its callback_url), each time the order reaches one.
# (Cancelled: an order the risk rules held was rejected before it was charged.)
CALLBACK_STATUSES = frozenset({S.DELIVERED, S.PARTIALLY_DELIVERED, S.FAILED, S.REFUNDED, S.CANCELLED})


NOTIFICATION_STATES = ("pending", "sent", "failed", "not_applicable")


class Attention(StrEnum):
    """Why an order waits for a person: the staff queue "needs action"."""

    FULFIL = "fulfil"  # manual or top-up product: an operator enters the result
    OUT_OF_STOCK = "out_of_stock"  # paid (often late), but no codes to deliver
    SHORT_DELIVERY = "short_delivery"  # fewer codes than units could be delivered
    REVIEW = "review"  # held by the risk rules: approve or reject


class Channel(StrEnum):
    SHOP = "shop"
    ADMIN = "admin"
    API = "api"
    PORTAL = "portal"  # a reseller buying for itself, paid from its wallet


# Channels where the one ordering has signed in (staff, a reseller in its portal, a reseller's API key); the last
# two pay from the reseller's wallet.
WALLET_CHANNELS = frozenset({Channel.API, Channel.PORTAL})
SIGNED_CHANNELS = WALLET_CHANNELS | {Channel.ADMIN}


class IllegalOrderTransition(DomainError):
    code = "illegal_order_transition"


class TooManyUnpaid(DomainError):
    """A buyer (by contact, address or device) already holds the allowed number of unpaid units."""

    code = "too_many_unpaid"


class NothingOwedBack(DomainError):
    code = "nothing_owed_back"


class OutTradeNoTaken(DomainError):
    """The seller already has an order with this out_trade_no (raised by the repository's unique key)."""

    code = "duplicate_out_trade_no"


class NotForSale(DomainError):
    code = "not_for_sale"


class ContactKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"


_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}$")
_PHONE = re.compile(r"^\+?\d{7,15}$")
CONTACT_MAX, RECHARGE_ACCOUNT_MAX = 254, 128


@dataclass(frozen=True, slots=True)
class Contact:
    """How a buyer is reached and how they find their order again: an email address or a phone number."""

    kind: ContactKind
    value: str

    @classmethod
    def parse(cls, text: str) -> Contact:
        raw = (text or "").strip()
        if not raw:
            raise ValidationFailed({"contact": "required"})
        if len(raw) <= CONTACT_MAX and "@" in raw and _EMAIL.match(raw):
            return cls(ContactKind.EMAIL, raw.lower())  # buyers do not remember how they capitalised it
        phone = re.sub(r"[\s()-]", "", raw)
        if _PHONE.match(phone):
            return cls(ContactKind.PHONE, phone)
        raise ValidationFailed({"contact": "invalid_contact"})

    @property
    def masked(self) -> str:
        if self.kind is ContactKind.EMAIL:
            local, _, domain = self.value.partition("@")
            return f"{local[:1]}***@{domain}"
        return f"{self.value[:3]}****{self.value[-4:]}"


@dataclass(frozen=True, slots=True)
class OrderPolicy:
    """The merchant's limits on ordering."""

    max_quantity: int = 10
    unpaid_units_per_buyer: int = 10
    payment_window: timedelta = timedelta(minutes=15)
    review_window: timedelta = timedelta(days=3)  # held for review longer, nobody deciding: cancelled


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A buyer's checkout form, as typed."""

    sku: str
    quantity: str
    contact: str
    recharge_account: str = ""
    channel: Channel = Channel.SHOP
    ip: str | None = None
    device: str | None = None
    challenge: str = ""  # a solved bot challenge (ALTCHA payload), sent when the risk rules asked for one


@dataclass(frozen=True, slots=True)
class SellerTerms:
    """An order placed in a reseller's shop: the shop's price, the seller, and its chain's unit costs."""

    seller_id: int
    unit_price: Money
    chain: tuple[tuple[int, Money], ...]


@dataclass(frozen=True, slots=True)
class ApiPlacement:
    """An order placed through the Open API: the key, the caller's own id for it and the request's fingerprint
    (a repeated id is the same order only with the same fingerprint), and where to call back."""

    api_key_id: int
    out_trade_no: str
    request_hash: str
    callback_url: str = ""


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One line of an order's timeline. `details` never holds a code or a token."""

    at: datetime
    kind: str
    actor: str = "system"
    details: dict[str, Any] = field(default_factory=dict)
    id: int | None = None


@dataclass(slots=True)
class Order:
    number: str
    product_id: int
    product_name: str
    delivery_kind: DeliveryKind
    quantity: int
    unit_price: Money
    contact: Contact
    channel: Channel
    status: OrderStatus
    created_at: datetime
    expires_at: datetime
    recharge_account: str = ""
    buyer_ip: str | None = None
    device: str | None = None
    attention: Attention | None = None
    paid_at: datetime | None = None
    paid: Money | None = None
    payment_method: str = ""
    delivered_units: int = 0
    # Money received beyond the order's price (a second, different payment): staff return it.
    refund_due: Money | None = None
    notification: str = "pending"
    # Sold through a reseller's shop: the seller, and what each level of its chain pays per unit (from the
    # merchant's own reseller down to the seller), fixed at placement for the sale's split.
    seller_id: int | None = None
    chain: tuple[tuple[int, Money], ...] = ()
    api: ApiPlacement | None = None
    # What the merchant's risk rules matched when the order was placed (domain.risk.Match.as_dict) and their score.
    risk_reasons: tuple[dict[str, Any], ...] = ()
    risk_score: int = 0
    updated_at: datetime | None = None
    id: int | None = None
    # Events raised since the order was loaded; the repository appends them to the timeline.
    new_events: list[OrderEvent] = field(default_factory=list, repr=False)
    # Outcomes reached since then that the API caller is to be called back about (stored with the order).
    new_callbacks: list[OrderStatus] = field(default_factory=list, repr=False)

    @classmethod
    def place(
        cls,
        request: OrderRequest,
        product: Product,
        policy: OrderPolicy,
        now: datetime,
        *,
        seller: SellerTerms | None = None,
        api: ApiPlacement | None = None,
        placed_by: str = "buyer",
    ) -> Order:
        """A valid new order for `product`, at retail or at a reseller shop's price; raises ValidationFailed or
        NotForSale. `placed_by`: who the timeline names as placing it (a staff member taking it for a buyer)."""
        if not product.on_sale:
            raise NotForSale(f"{product.sku} is not on sale")
        errors: dict[str, str] = {}
        quantity = 0
        try:
            quantity = int(request.quantity.strip())
        except ValueError:
            errors["quantity"] = "invalid_quantity"
        else:
            if quantity < 1:
                errors["quantity"] = "must_be_positive"
            elif quantity > policy.max_quantity:
                errors["quantity"] = "too_many"
        contact: Contact | None = None
        try:
            contact = Contact.parse(request.contact)
        except ValidationFailed as problem:
            errors.update(problem.errors)
        account = request.recharge_account.strip()
        if product.delivery_kind is DeliveryKind.TOPUP and not account:
            errors["recharge_account"] = "required"
        elif len(account) > RECHARGE_ACCOUNT_MAX:
            errors["recharge_account"] = "too_long"
        if errors or contact is None:
            raise ValidationFailed(errors)
        assert product.id is not None
        order = cls(
            number=new_order_number(now),
            product_id=product.id,
            product_name=product.name,
            delivery_kind=product.delivery_kind,
            quantity=quantity,
            unit_price=seller.unit_price if seller else product.retail_price,
            contact=contact,
            channel=request.channel,
            status=S.PLACED,
            created_at=now,
            expires_at=now + policy.payment_window,
            recharge_account=account,
            buyer_ip=request.ip,
            device=request.device,
            seller_id=seller.seller_id if seller else None,
            chain=seller.chain if seller else (),
            api=api,
            notification="pending" if api is None else "not_applicable",  # API callers fetch or are called back
            updated_at=now,
        )
        details = {"quantity": quantity, "total": order.total.minor} | ({"seller": seller.seller_id} if seller else {})
        order.record(now, "placed", placed_by, details)
        return order

    @property
    def total(self) -> Money:
        return self.unit_price * self.quantity

    @property
    def calls_back(self) -> bool:
        """Placed through the API with a callback URL: its outcomes are posted there."""
        return self.api is not None and bool(self.api.callback_url)

    def unit_cost_to(self, reseller_id: int) -> Money | None:
        """What the reseller pays per unit for this order: its level's cost when it sold it in its shop, the
        price itself when it bought for itself (the chain then holds only the levels above it)."""
        level = dict(self.chain).get(reseller_id)
        if level is not None:
            return level
        return self.unit_price if self.seller_id == reseller_id else None

    def chain_costs(self, units: int) -> list[tuple[int, Money]]:
        """What each reseller of the chain paid for `units` delivered units: the split's input."""
        return [(reseller_id, unit_cost * units) for reseller_id, unit_cost in self.chain]

    @property
    def holder(self) -> str:
        """How the code pool knows the codes this order holds."""
        return f"order:{self.number}"

    @property
    def pooled(self) -> bool:
        return self.delivery_kind.pooled

    @property
    def undelivered_units(self) -> int:
        return self.quantity - self.delivered_units

    def holding_keys(self) -> dict[str, str]:
        """The keys the unpaid-units cap counts by: contact, and the address and device when known. An order staff
        placed has the staff member's address, shared by every buyer they take orders for: only its contact counts."""
        ip = "" if self.channel is Channel.ADMIN else self.buyer_ip or ""
        keys = {"contact": self.contact.value, "ip": ip, "device": self.device or ""}
        return {kind: value for kind, value in keys.items() if value}

    @property
    def is_final(self) -> bool:
        return self.status in FINAL

    def move(self, target: OrderStatus, now: datetime, reason: str, actor: str = "system") -> None:
        if target not in TRANSITIONS[self.status]:
            raise IllegalOrderTransition(f"a {self.status} order cannot become {target}", status=self.status)
        self.record(now, "status", actor, {"from": self.status.value, "to": target.value, "reason": reason})
        self.status = target
        self.updated_at = now
        if self.calls_back and target in CALLBACK_STATUSES:
            self.new_callbacks.append(target)

    def record(self, now: datetime, kind: str, actor: str = "system", details: dict[str, Any] | None = None) -> None:
        self.new_events.append(OrderEvent(now, kind, actor, details or {}))

    def await_payment(self, now: datetime) -> None:
        self.move(S.AWAITING_PAYMENT, now, "stock_reserved" if self.pooled else "placed")

    def weighed(self, reasons: list[dict[str, Any]], score: int) -> None:
        """Keep what the risk rules matched (if anything): staff read it on the order and in the review queue."""
        self.risk_reasons, self.risk_score = tuple(reasons), score

    def hold_for_review(self, now: datetime) -> None:
        self.move(S.HELD, now, "risk_review")
        self.attention = Attention.REVIEW

    def approve(self, now: datetime, actor: str, payment_window: timedelta) -> None:
        """Staff let a held order go on: its payment window starts now (the caller reserves stock, then
        `await_payment`)."""
        if self.status is not S.HELD:
            raise IllegalOrderTransition(f"a {self.status} order is not held for review", status=self.status)
        self.attention = None
        self.expires_at = now + payment_window
        self.record(now, "risk_approved", actor)

    def is_unreviewed(self, now: datetime, review_window: timedelta) -> bool:
        """Held for review longer than the merchant's window, nobody approving or rejecting it."""
        return self.status is S.HELD and now >= self.created_at + review_window

    def review_lapsed(self, now: datetime) -> None:
        """Nobody decided in time: cancelled, as a rejection is (a held order holds no stock, nothing was charged)."""
        self.end(S.CANCELLED, now, "not_reviewed_in_time", "system")

    def is_due_to_expire(self, now: datetime) -> bool:
        return self.status in UNPAID and now >= self.expires_at

    def expire(self, now: datetime) -> None:
        self.move(S.EXPIRED, now, "payment_window_passed")

    def paid_again(self, amount: Money, now: datetime) -> None:
        """Another, different payment for an order already paid: it does not change the order, it is owed back."""
        self.refund_due = (self.refund_due or Money(0, amount.currency)) + amount
        self.record(now, "paid_again", details={"amount": amount.minor})

    def extra_payment_returned(self, now: datetime, reason: str, actor: str) -> Money:
        if not self.refund_due:
            raise NothingOwedBack(f"order {self.number} owes no extra payment back")
        returned, self.refund_due = self.refund_due, None
        self.record(now, "extra_payment_returned", actor, {"amount": returned.minor, "reason": reason})
        return returned

    @property
    def needs_action(self) -> bool:
        return self.attention is not None or bool(self.refund_due)

    def end(self, status: OrderStatus, now: datetime, reason: str, actor: str) -> None:
        """Cancelled (unpaid) or refunded (paid): the order is over, and nobody needs to act on it."""
        if status not in (S.CANCELLED, S.REFUNDED):
            raise IllegalOrderTransition(f"an order does not end as {status}", status=self.status)
        self.move(status, now, reason, actor)
        self.attention = None

    def confirm_payment(self, amount: Money, method: str, now: datetime, *, reserved: bool) -> None:
        """Money arrived (amount already checked). Late payments need `reserved` stock, else staff act."""
        late = self.status in (S.EXPIRED, S.CANCELLED)
        self.move(S.PAID, now, "late_payment" if late else "payment_confirmed")
        self.paid_at, self.paid, self.payment_method = now, amount, method
        if self.pooled and not reserved:
            self.attention = Attention.OUT_OF_STOCK
        elif not self.pooled:
            self.attention = None

    def start_delivery(self, now: datetime, actor: str = "system") -> None:
        self.move(S.DELIVERING, now, "delivery_started", actor)

    def units_delivered(self, count: int, now: datetime, actor: str = "system", *, more_to_come: bool = False) -> None:
        """`count` more units went out; the order ends delivered, partially delivered or failed — unless other
        sources are still to be asked for the rest (`more_to_come`): then it stays delivering."""
        self.delivered_units += count
        if count and self.api is None:
            self.notification = "pending"  # the buyer is told about every delivery
        if more_to_come and self.delivered_units < self.quantity:
            return
        if self.delivered_units >= self.quantity:
            self.attention = None
            self.move(S.DELIVERED, now, "all_units_delivered", actor)
        elif self.delivered_units > 0:
            self.attention = Attention.SHORT_DELIVERY
            self.move(S.PARTIALLY_DELIVERED, now, "some_units_delivered", actor)
        else:
            self.attention = Attention.SHORT_DELIVERY
            self.move(S.FAILED, now, "no_units_delivered", actor)

    def wait_for_fulfilment(self, now: datetime) -> None:
        """Manual and top-up products: an operator delivers from the staff queue."""
        self.start_delivery(now)
        self.attention = Attention.FULFIL

    def can_be_fulfilled_by_hand(self) -> bool:
        return self.status in OWED and self.undelivered_units > 0


def new_order_number(now: datetime) -> str:
    """Date plus ten random digits: short enough to read out on the phone, and not a counter to walk."""
    return f"{now:%y%m%d}{secrets.randbelow(10**10):010d}"


def quantity_to_price(text: str, policy: OrderPolicy) -> int:
    """The quantity a quote is made for before the order is checked; a bad one is refused by `Order.place`
    with the form's error, so anything unreadable is priced as one unit."""
    try:
        return min(max(1, int(text.strip())), policy.max_quantity)
    except ValueError:
        return 1


def check_unpaid_cap(held: dict[str, int], quantity: int, policy: OrderPolicy) -> None:
    """`held` is the unpaid units per holding key (contact, ip, device); adding `quantity` must stay in the cap."""
    for key, units in held.items():
        if units + quantity > policy.unpaid_units_per_buyer:
            raise TooManyUnpaid(f"{key} holds {units} unpaid units", key=key, limit=policy.unpaid_units_per_buyer)


@dataclass(frozen=True, slots=True)
class OrderQuery:
    """The order list's filters; `needs_action` keeps only orders waiting for a person."""

    status: OrderStatus | None = None
    sku: str = ""
    placed_from: datetime | None = None
    placed_before: datetime | None = None
    contact: str = ""
    number: str = ""
    channel: Channel | None = None
    needs_action: bool = False
    seller_id: int | None = None  # a reseller's own orders (its portal)
    riskiest_first: bool = False  # the review queue: highest risk score first, then the longest waiting

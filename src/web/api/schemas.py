"""What the Open API answers, as typed structures: they are the answers and, through Litestar, their OpenAPI
schemas and examples. Amounts are decimal strings in major units ("19.80") next to their currency: exact, and
what a reseller's system shows its own buyers.

An order is shown from `order_summary` (the same fields the webhooks carry), with its SKU, a stable status and,
once delivered, its codes.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct

from domain.catalog import DeliveryKind
from domain.ledger import Wallet
from domain.orders import OrderStatus
from domain.services.api_orders import ApiOrder, Listing
from domain.webhooks import order_summary

Amount = Annotated[
    str,
    Meta(
        pattern=r"^-?\d+\.\d{2}$",
        description="An amount in major units (yuan) as a decimal string with two decimals.",
        examples=["19.80"],
    ),
]
Currency = Annotated[str, Meta(description="ISO 4217 currency code.", examples=["CNY"])]


class Stock(StrEnum):
    IN_STOCK = "in_stock"
    OUT_OF_STOCK = "out_of_stock"


class Product(Struct, kw_only=True):
    """A product the caller may order, at the caller's own price."""

    sku: Annotated[str, Meta(description="What an order names.", examples=["IQIYI-VIP-M"])]
    name: Annotated[str, Meta(examples=["爱奇艺黄金会员 月卡"])]
    brand: str
    category: str
    delivery: Annotated[
        DeliveryKind,
        Meta(
            description="code: card codes from the pool, in the answer; voucher: the merchant's own vouchers, "
            "likewise; topup: the merchant tops up `recharge_account` (required in the order); manual: delivered "
            "by the merchant's staff. Anything but code and voucher ends `processing` and is completed later."
        ),
    ]
    face_value: Amount
    price: Annotated[
        str,
        Meta(
            pattern=r"^\d+\.\d{2}$",
            description="What the caller pays for one unit (its own cost); quantity breaks can lower it per unit.",
            examples=["17.82"],
        ),
    ]
    currency: Currency
    stock: Annotated[Stock, Meta(description="Whether an order can be delivered now.")]
    available: Annotated[
        int | None, Meta(description="Units in stock for pool products (code, voucher); null where not counted.")
    ]
    usage_instructions: Annotated[str, Meta(description="How a buyer uses what it gets (plain text).")]


class ProductList(Struct):
    products: list[Product]


class Balance(Struct, kw_only=True):
    """The caller's prepaid wallet. Orders are paid from it; the balance may go below zero down to minus the
    credit limit."""

    balance: Annotated[str, Meta(pattern=r"^-?\d+\.\d{2}$", examples=["230.40"])]
    credit_limit: Annotated[str, Meta(pattern=r"^\d+\.\d{2}$", examples=["100.00"])]
    available: Annotated[
        str, Meta(pattern=r"^-?\d+\.\d{2}$", description="balance + credit_limit: what can still be spent.")
    ]
    currency: Currency


class Status(StrEnum):
    """An order's status as the API reports it: a small, stable set over the merchant's internal states."""

    PROCESSING = "processing"
    REVIEW = "review"
    DELIVERED = "delivered"
    PARTIALLY_DELIVERED = "partially_delivered"
    FAILED = "failed"
    REFUNDED = "refunded"


STATUS_DESCRIPTION = (
    "review: held by the merchant's risk rules, not charged yet (the order request answered 403 `review`); once "
    "approved it is charged and goes on, once rejected it ends failed; "
    "processing: paid, being delivered (top-up and manual products stay here until the merchant completes "
    "them); delivered: every unit delivered, codes in `codes`; partially_delivered: some units delivered (their "
    "codes are in `codes`), the merchant completes or refunds the rest; failed: nothing could be delivered yet, "
    "the merchant delivers later or refunds; refunded: the money went back to the balance (final, no codes). "
    "delivered and refunded are final; a callback is sent on delivered, partially_delivered, failed (a rejected "
    "review too) and refunded."
)
_STATUSES = {
    OrderStatus.HELD: Status.REVIEW,
    OrderStatus.DELIVERED: Status.DELIVERED,
    OrderStatus.PARTIALLY_DELIVERED: Status.PARTIALLY_DELIVERED,
    OrderStatus.FAILED: Status.FAILED,
    OrderStatus.REFUNDED: Status.REFUNDED,
    # An order that never got paid did not happen. API orders are paid as they are placed, so never end so.
    OrderStatus.CANCELLED: Status.FAILED,
    OrderStatus.EXPIRED: Status.FAILED,
}


def status_of(status: OrderStatus) -> Status:
    """placed, awaiting payment, paid and delivering are all `processing` for the caller."""
    return _STATUSES.get(status, Status.PROCESSING)


class Code(Struct, kw_only=True):
    """One delivered unit."""

    number: Annotated[str, Meta(description="The card number or voucher code.", examples=["IQ8F3K2M9Q"])]
    pin: Annotated[str | None, Meta(description="The card's password / PIN, if it has one.", examples=["613205"])]
    expires_at: Annotated[datetime | None, Meta(description="When the code stops working, if known.")]
    redeem_url: Annotated[
        str,
        Meta(
            description="A page showing this code (with a QR code) for an end buyer.",
            examples=["https://shop.example.com/r/Jx1d9kQ2hWc8yT0pLr3a5A"],
        ),
    ]


class Order(Struct, kw_only=True):
    """An order placed through the API. Its `data` in webhook callbacks carries the same fields, without `sku`
    and `codes`: fetch the order to get the codes."""

    order_no: Annotated[str, Meta(description="The merchant's order number.", examples=["2604171234567890"])]
    out_trade_no: Annotated[str, Meta(description="The caller's own id for the order.", examples=["R-10001"])]
    status: Annotated[Status, Meta(description=STATUS_DESCRIPTION)]
    sku: Annotated[str, Meta(examples=["IQIYI-VIP-M"])]
    product_name: str
    quantity: Annotated[int, Meta(ge=1, examples=[2])]
    delivered_units: Annotated[int, Meta(ge=0, examples=[2])]
    unit_price: Annotated[str, Meta(pattern=r"^\d+\.\d{2}$", examples=["17.82"])]
    total: Annotated[str, Meta(pattern=r"^\d+\.\d{2}$", description="unit_price × quantity", examples=["35.64"])]
    currency: Currency
    created_at: datetime
    paid_at: datetime | None
    codes: Annotated[
        list[Code],
        Meta(description="The delivered units' codes; empty until something is delivered and once refunded."),
    ]


class ErrorDetail(Struct, kw_only=True, omit_defaults=True):
    code: Annotated[
        str, Meta(description="Stable, snake_case: what programs check.", examples=["insufficient_balance"])
    ]
    message: Annotated[str, Meta(description="For people; in the Accept-Language's language (zh-CN or en).")]
    fields: Annotated[
        dict[str, str] | None,
        Meta(description="validation_error only: each invalid field and a code for what is wrong with it."),
    ] = None
    order_no: Annotated[
        str | None,
        Meta(description="review only: the order held for the merchant's review (GET it to follow it)."),
    ] = None


class Error(Struct):
    """Every error: an HTTP status and this body."""

    error: ErrorDetail


def product_of(listing: Listing) -> Product:
    product, price = listing.offer.product, listing.offer.cost.unit
    return Product(
        sku=product.sku,
        name=product.name,
        brand=product.brand,
        category=product.category,
        delivery=product.delivery_kind,
        face_value=product.face_value.amount,
        price=price.amount,
        currency=price.currency,
        stock=Stock.OUT_OF_STOCK if listing.available == 0 else Stock.IN_STOCK,
        available=listing.available,
        usage_instructions=product.usage_instructions,
    )


def balance_of(wallet: Wallet) -> Balance:
    return Balance(
        balance=wallet.balance.amount,
        credit_limit=wallet.credit_limit.amount,
        available=wallet.spendable.amount,
        currency=wallet.balance.currency,
    )


def order_of(answer: ApiOrder, base_url: str) -> Order:
    codes: list[dict[str, Any]] = [
        {
            "number": delivered.code.number,
            "pin": delivered.code.pin or None,
            "expires_at": delivered.expires_at,
            "redeem_url": f"{base_url}/r/{delivered.token}",
        }
        for delivered in answer.codes
    ]
    fields = order_summary(answer.order) | {
        "status": status_of(answer.order.status),
        "sku": answer.sku,
        "codes": codes,
    }
    return msgspec.convert(fields, Order)

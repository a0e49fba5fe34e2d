"""The merchant's catalog: what can be sold, at what retail price, delivered how."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from domain.errors import ValidationFailed
from domain.money import InvalidAmount, Money

_SKU = re.compile(r"^[A-Z0-9][A-Z0-9._-]{1,39}$")
NAME_MAX, LABEL_MAX, INSTRUCTIONS_MAX = 120, 60, 4000


class DeliveryKind(StrEnum):
    CODE = "code"  # 卡密 from the code pool
    TOPUP = "topup"  # 直充: a supplier tops up the buyer's account
    VOUCHER = "voucher"  # own codes, redeemed and verified here
    MANUAL = "manual"  # staff fulfil by hand

    @property
    def pooled(self) -> bool:
        """Delivered from the code pool: stock is counted, reserved and sold."""
        return self in POOLED_KINDS


POOLED_KINDS = frozenset({DeliveryKind.CODE, DeliveryKind.VOUCHER})


class SkuTaken(ValidationFailed):
    def __init__(self, sku: str) -> None:
        super().__init__({"sku": "sku_taken"})
        self.sku = sku


@dataclass(frozen=True, slots=True)
class ProductDraft:
    """What a merchant types into the product form; `Product.create`/`revise` turn it into a valid product."""

    sku: str
    name: str
    face_value: str
    retail_price: str
    delivery_kind: str = DeliveryKind.CODE.value
    brand: str = ""
    category: str = ""
    usage_instructions: str = ""
    on_sale: bool = False


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    name: str
    brand: str
    category: str
    face_value: Money
    retail_price: Money
    delivery_kind: DeliveryKind
    usage_instructions: str
    on_sale: bool
    created_at: datetime
    updated_at: datetime
    id: int | None = None
    floor_price: Money | None = None  # the merchant's floor for resellers (set on the price page); None: 0

    @classmethod
    def create(cls, draft: ProductDraft, now: datetime) -> Product:
        return cls(id=None, created_at=now, updated_at=now, **_checked(draft))

    def revise(self, draft: ProductDraft, now: datetime) -> Product:
        """New values from the form; the SKU is the product's identity and stays."""
        values = _checked(replace(draft, sku=self.sku))
        return replace(self, updated_at=now, **values)

    def put_on_sale(self, on_sale: bool, now: datetime) -> Product:
        return replace(self, on_sale=on_sale, updated_at=now)


def normalize_sku(raw: str) -> str:
    return raw.strip().upper()


def _checked(draft: ProductDraft) -> dict[str, object]:
    """Every field checked at once, so the form can show all problems together."""
    errors: dict[str, str] = {}
    sku = normalize_sku(draft.sku)
    if not _SKU.match(sku):
        errors["sku"] = "invalid_sku"
    name = draft.name.strip()
    if not name:
        errors["name"] = "required"
    elif len(name) > NAME_MAX:
        errors["name"] = "too_long"
    brand, category = draft.brand.strip(), draft.category.strip()
    if len(brand) > LABEL_MAX:
        errors["brand"] = "too_long"
    if len(category) > LABEL_MAX:
        errors["category"] = "too_long"
    instructions = draft.usage_instructions.strip()
    if len(instructions) > INSTRUCTIONS_MAX:
        errors["usage_instructions"] = "too_long"
    try:
        kind = DeliveryKind(draft.delivery_kind)
    except ValueError:
        errors["delivery_kind"] = "invalid_choice"
    prices: dict[str, Money] = {}
    for field in ("face_value", "retail_price"):
        try:
            prices[field] = Money.parse(getattr(draft, field))
        except InvalidAmount:
            errors[field] = "invalid_amount"
    if "retail_price" in prices and prices["retail_price"].minor == 0:
        errors["retail_price"] = "must_be_positive"
    if errors:
        raise ValidationFailed(errors)
    return {
        "sku": sku,
        "name": name,
        "brand": brand,
        "category": category,
        "face_value": prices["face_value"],
        "retail_price": prices["retail_price"],
        "delivery_kind": kind,
        "usage_instructions": instructions,
        "on_sale": draft.on_sale,
    }


@dataclass(frozen=True, slots=True)
class ProductQuery:
    """The product list's search box and filters."""

    text: str = ""
    category: str = ""
    delivery_kind: DeliveryKind | None = None
    on_sale: bool | None = None

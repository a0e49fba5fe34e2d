"""Form bodies, parsed from urlencoded posts. Validation itself is the domain's job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, TypeVar

from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body

from domain.catalog import ProductDraft

T = TypeVar("T")
Form = Annotated[T, Body(media_type=RequestEncodingType.URL_ENCODED)]


@dataclass
class LoginForm:
    username: str = ""
    password: str = ""
    next: str = ""


@dataclass
class InviteForm:
    username: str = ""
    display_name: str = ""
    role: str = ""


@dataclass
class RoleForm:
    role: str = ""


@dataclass
class PasswordForm:
    password: str = ""
    password_again: str = ""


@dataclass
class LocaleForm:
    locale: str = ""
    next: str = "/"


@dataclass
class ProductForm:
    sku: str = ""
    name: str = ""
    brand: str = ""
    category: str = ""
    face_value: str = ""
    retail_price: str = ""
    delivery_kind: str = "code"
    usage_instructions: str = ""
    on_sale: str = ""  # a checkbox: present ("on") or absent

    def to_draft(self) -> ProductDraft:
        return ProductDraft(
            sku=self.sku,
            name=self.name,
            face_value=self.face_value,
            retail_price=self.retail_price,
            delivery_kind=self.delivery_kind,
            brand=self.brand,
            category=self.category,
            usage_instructions=self.usage_instructions,
            on_sale=bool(self.on_sale),
        )


@dataclass
class OnSaleForm:
    on_sale: str = ""


@dataclass
class ImportForm:
    source: str = ""
    unit_cost: str = ""
    expires_on: str = ""  # a date, yyyy-mm-dd; codes expire at its end in the shop's time zone
    codes: str = ""  # pasted text, used when no file is chosen
    file: UploadFile | None = None


@dataclass
class ExportForm:
    password: str = ""
    format: str = "csv"


@dataclass
class GenerateForm:
    count: str = ""  # numbers arrive as text; the domain says what is wrong with them
    length: str = "12"
    source: str = "generated"
    unit_cost: str = ""
    expires_on: str = ""


@dataclass
class CheckoutForm:
    quantity: str = "1"
    contact: str = ""
    recharge_account: str = ""


@dataclass
class LookupForm:
    number: str = ""
    contact: str = ""


@dataclass
class ReasonForm:
    reason: str = ""


@dataclass
class FulfilForm:
    lines: str = ""


@dataclass
class ResellerForm:
    name: str = ""
    contact: str = ""
    credit_limit: str = "0"
    parent_id: str = ""


@dataclass
class TopUpForm:
    amount: str = ""
    note: str = ""

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
    altcha: str = ""  # a solved bot challenge, posted by the widget once the risk rules asked for one


@dataclass
class StaffOrderForm(CheckoutForm):
    """A staff member taking an order for a buyer: the checkout's fields plus the product chosen."""

    sku: str = ""


@dataclass
class LookupForm:
    number: str = ""
    contact: str = ""
    altcha: str = ""  # as the checkout's


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


@dataclass
class NewResellerForm(ResellerForm):
    tier_id: str = ""
    username: str = ""  # optional: the reseller's first login, set up through a one-time invite link


@dataclass
class TermsForm:
    status: str = ""
    credit_limit: str = "0"
    tier_id: str = ""  # the merchant's own resellers
    markup: str = "0"  # sub-resellers


@dataclass
class TierForm:
    name: str = ""


@dataclass
class FloorForm:
    floor: str = ""


@dataclass
class TierPriceForm:
    price: str = ""
    discount: str = ""


Many = list[str] | str  # a field sent once arrives as a string; sent more than once, as a list


def many(value: Many) -> list[str]:
    return [value] if isinstance(value, str) else value


@dataclass
class BreaksForm:
    min_quantity: Many = ""  # one per table row, blank rows included
    discount: Many = ""

    def lines(self) -> list[tuple[str, str]]:
        """(from quantity, discount) per row; a row missing one of them (a hand-made post) has it blank."""
        mins, discounts = many(self.min_quantity), many(self.discount)
        rows = max(len(mins), len(discounts))
        return list(zip(mins + [""] * (rows - len(mins)), discounts + [""] * (rows - len(discounts)), strict=True))


@dataclass
class ResellerPriceForm:
    reseller_id: str = ""
    price: str = ""  # empty: back to the reseller's tier


@dataclass
class AudienceForm:
    tier_ids: Many = ""  # checkboxes; none ticked: every reseller may sell the product
    reseller_ids: Many = ""


@dataclass
class SubResellerForm:
    """A reseller invites a sub-reseller from its portal: credit and tier are the merchant's to give."""

    name: str = ""
    contact: str = ""
    markup: str = "0"
    username: str = ""


@dataclass
class SubTermsForm:
    status: str = ""
    markup: str = "0"


@dataclass
class SubPriceForm:
    price: str = ""  # empty: the sub-reseller's markup over its parent's cost


@dataclass
class ShopSettingsForm:
    enabled: str = ""  # a checkbox: present ("on") or absent
    slug: str = ""
    notice: str = ""
    theme: str = ""
    markup: str = ""


@dataclass
class LogoForm:
    logo: UploadFile | None = None


@dataclass
class ApiKeyForm:
    label: str = ""
    allowed_ips: str = ""  # addresses or networks, one a line or separated by commas


@dataclass
class UpstreamForm:
    name: str = ""
    base_url: str = ""
    key_id: str = ""
    secret: str = ""
    webhook_secret: str = ""  # optional: without it the upstream is polled instead of calling back


@dataclass
class SourcesForm:
    source: Many = ""  # one per row, in order: "pool", "<upstream id>:<its SKU>", or "" for an unused row
    cost_ceiling: Many = ""

    def rows(self) -> list[tuple[str, str, str]]:
        """("pool" | an upstream's id, its SKU there, the ceiling) per row, as Upstreams.set_sources takes them."""
        sources, ceilings = many(self.source), many(self.cost_ceiling)
        ceilings = ceilings + [""] * (len(sources) - len(ceilings))
        rows = []
        for value, ceiling in zip(sources, ceilings, strict=False):
            which, _, sku = value.partition(":")
            rows.append((which, sku, ceiling))
        return rows

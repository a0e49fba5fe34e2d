"""Reseller prices in the merchant admin: the tiers, and per product its floor, tier prices, quantity breaks,
single resellers' prices and who may sell it — shown with the quotes they yield and how each was reached."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.plugins.flash import flash
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from domain.errors import ValidationFailed
from domain.services.price_rules import PriceRules
from domain.staff import Permission
from web.auth import actor, requires
from web.controllers.auth import go
from web.controllers.forms import (
    AudienceForm,
    BreaksForm,
    FloorForm,
    Form,
    Many,
    ResellerPriceForm,
    TierForm,
    TierPriceForm,
    many,
)
from web.controllers.params import RowId
from web.controllers.resellers import chosen_id
from web.i18n import locale_of, translate

BLANK_BREAKS = 3  # empty rows under the breaks already set, to add more
MANAGE = [requires(Permission.MANAGE_RESELLERS)]
PRICES = "/products/{product_id:int}/prices"


class PriceRuleController(Controller):
    path = "/admin"
    include_in_schema = False
    guards = [requires(Permission.VIEW_RESELLERS)]  # noqa: RUF012 — Litestar reads this class attribute

    @post("/tiers", guards=MANAGE, status_code=200)
    async def add_tier(
        self, request: HTMXRequest, data: Form[TierForm], price_rules: NamedDependency[PriceRules]
    ) -> Response[Any]:
        tier = await price_rules.add_tier(data.name, actor(request))
        flash(request, translate(locale_of(request), "tier.created", name=tier.name), "success")
        return go(request, "/admin/resellers#tiers")

    @get(PRICES)
    async def prices(self, product_id: RowId, price_rules: NamedDependency[PriceRules]) -> Template:
        context = {"rules": await price_rules.of_product(product_id), "blank_breaks": BLANK_BREAKS}
        return Template("prices/product.html", context=context)

    @post(f"{PRICES}/floor", guards=MANAGE, status_code=200)
    async def set_floor(
        self,
        request: HTMXRequest,
        product_id: RowId,
        data: Form[FloorForm],
        price_rules: NamedDependency[PriceRules],
    ) -> Response[Any]:
        await price_rules.set_floor(product_id, data.floor, actor(request))
        return _saved(request, product_id)

    @post(f"{PRICES}/tiers/{{tier_id:int}}", guards=MANAGE, status_code=200)
    async def set_tier_price(
        self,
        request: HTMXRequest,
        product_id: RowId,
        tier_id: RowId,
        data: Form[TierPriceForm],
        price_rules: NamedDependency[PriceRules],
    ) -> Response[Any]:
        await price_rules.set_tier_price(product_id, tier_id, data.price, data.discount, actor(request))
        return _saved(request, product_id)

    @post(f"{PRICES}/breaks", guards=MANAGE, status_code=200)
    async def set_breaks(
        self,
        request: HTMXRequest,
        product_id: RowId,
        data: Form[BreaksForm],
        price_rules: NamedDependency[PriceRules],
    ) -> Response[Any]:
        await price_rules.set_breaks(product_id, data.lines(), actor(request))
        return _saved(request, product_id)

    @post(f"{PRICES}/resellers", guards=MANAGE, status_code=200)
    async def set_reseller_price(
        self,
        request: HTMXRequest,
        product_id: RowId,
        data: Form[ResellerPriceForm],
        price_rules: NamedDependency[PriceRules],
    ) -> Response[Any]:
        reseller_id = chosen_id(data.reseller_id, "reseller_id")
        if reseller_id is None:
            raise ValidationFailed({"reseller_id": "required"})
        await price_rules.set_reseller_price(product_id, reseller_id, data.price, actor(request))
        return _saved(request, product_id)

    @post(f"{PRICES}/audience", guards=MANAGE, status_code=200)
    async def set_audience(
        self,
        request: HTMXRequest,
        product_id: RowId,
        data: Form[AudienceForm],
        price_rules: NamedDependency[PriceRules],
    ) -> Response[Any]:
        tiers, resellers = _ids(data.tier_ids, "tier_ids"), _ids(data.reseller_ids, "reseller_ids")
        await price_rules.set_audience(product_id, tiers, resellers, actor(request))
        return _saved(request, product_id)


def _saved(request: HTMXRequest, product_id: int) -> Response[Any]:
    """Back to the page, whose previews now show what the change does."""
    flash(request, translate(locale_of(request), "price.saved"), "success")
    return go(request, f"/admin/products/{product_id}/prices")


def _ids(values: Many, field: str) -> list[int]:
    return [found for value in many(values) if (found := chosen_id(value, field)) is not None]

"""A reseller's one-click shop at /s/<slug>, as buyers see it: its look, its products at its prices with live
stock, checkout (then the same payment and order page as the merchant's shop), and a lookup of its own orders.

A closed, unknown or switched-off shop is a missing page, whatever is asked of it.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from domain.services.ordering import Ordering
from domain.services.shops import Shops
from domain.shops import ShopItem
from web.auth import client_ip
from web.buyers import after_checkout, checkout_request, device_of, with_device
from web.controllers.auth import go
from web.controllers.forms import CheckoutForm, Form, LookupForm

# Look and logo change rarely; the theme's address carries the colour, so a new colour is a new address.
THEME_CACHE = "public, max-age=86400"
LOGO_CACHE = "public, max-age=300"
LIGHT = 150  # perceived brightness (0-255) above which text on the accent colour is dark


class ResellerShopController(Controller):
    path = "/s/{slug:str}"
    include_in_schema = False
    opt = {"exclude_from_auth": True}  # noqa: RUF012 — Litestar reads this class attribute

    @get("/")
    async def storefront(
        self, request: Request[Any, Any, Any], slug: FromPath[str], shops: NamedDependency[Shops]
    ) -> Response[Any]:
        shop, items = await shops.storefront(slug)
        return with_device(request, Template("storefront/shop.html", context={"shop": shop, "items": items}))

    @get("/stock")
    async def stock(self, slug: FromPath[str], shops: NamedDependency[Shops]) -> Template:
        """The product grid alone, polled by the storefront so "sold out" shows without a reload."""
        shop, items = await shops.storefront(slug)
        return Template("storefront/_items.html", context={"shop": shop, "items": items})

    @get("/logo")
    async def logo(self, slug: FromPath[str], shops: NamedDependency[Shops]) -> Response[bytes]:
        media_type, image = await shops.logo(slug)
        return Response(image, media_type=media_type, headers={"Cache-Control": LOGO_CACHE})

    @get("/theme.css")
    async def theme(self, slug: FromPath[str], shops: NamedDependency[Shops]) -> Response[str]:
        """The shop's colour as the stylesheet's accent (the CSP allows no inline style)."""
        shop = await shops.open_shop(slug)
        return Response(_theme_css(shop.theme), media_type="text/css", headers={"Cache-Control": THEME_CACHE})

    @get("/p/{sku:str}")
    async def product(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        sku: FromPath[str],
        shops: NamedDependency[Shops],
        ordering: NamedDependency[Ordering],
    ) -> Response[Any]:
        context = await _product_context(shops, ordering, slug, sku)
        return with_device(request, Template("storefront/product.html", context=context))

    @get("/p/{sku:str}/stock")
    async def product_stock(
        self,
        slug: FromPath[str],
        sku: FromPath[str],
        shops: NamedDependency[Shops],
        ordering: NamedDependency[Ordering],
        sold_out: FromQuery[bool] = False,
    ) -> Template:
        """The product page's stock line, polled; the buy box comes along only when it changed (sold out, or back
        in stock: `sold_out` is what the page shows now), so a buyer's half-typed form is left alone."""
        context = await _product_context(shops, ordering, slug, sku)
        context["oob"] = context["item"].sold_out != sold_out
        return Template("storefront/_stock.html", context=context)

    @post("/p/{sku:str}/orders", status_code=200)
    async def checkout(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        sku: FromPath[str],
        data: Form[CheckoutForm],
        shops: NamedDependency[Shops],
        ordering: NamedDependency[Ordering],
    ) -> Response[Any]:
        """Place the order at the shop's price (stock reserved), then off to the payment gateway (or, held for
        review, to its page)."""
        order = await shops.place(slug, checkout_request(request, sku, data))
        return after_checkout(request, ordering, order)


class ShopLookupController(Controller):
    """The shop's order lookup: only its own orders are found. Rate limited by the app with the merchant's."""

    path = "/s/{slug:str}/lookup"
    include_in_schema = False
    opt = {"exclude_from_auth": True}  # noqa: RUF012 — Litestar reads this class attribute

    @get("/")
    async def lookup_page(self, slug: FromPath[str], shops: NamedDependency[Shops]) -> Template:
        return Template("storefront/lookup.html", context={"shop": await shops.open_shop(slug)})

    @post("/", status_code=200)
    async def look_up(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        data: Form[LookupForm],
        shops: NamedDependency[Shops],
    ) -> Response[Any]:
        order, key = await shops.look_up(
            slug, data.number, data.contact, ip=client_ip(request), device=device_of(request), solution=data.altcha
        )
        return go(request, f"/o/{order.number}?k={key}")


async def _product_context(shops: Shops, ordering: Ordering, slug: str, sku: str) -> dict[str, Any]:
    shop, item, product = await shops.item(slug, sku)
    return {"shop": shop, "item": item, "product": product, "most": _most(item, ordering.policy.max_quantity)}


def _most(item: ShopItem, max_quantity: int) -> int:
    """The quantity field's upper bound: what is left, within one order's cap."""
    return max_quantity if item.available is None else min(item.available, max_quantity)


def _theme_css(theme: str) -> str:
    """The accent colour, with dark or light text on it so buttons stay readable whatever colour was chosen."""
    red, green, blue = (int(theme[i : i + 2], 16) for i in (1, 3, 5))
    ink = "#1d2330" if (299 * red + 587 * green + 114 * blue) // 1000 > LIGHT else "#ffffff"
    return f":root {{ --accent: {theme}; --accent-ink: {ink}; }}\n"

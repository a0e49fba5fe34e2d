"""The buyer's side: the shop, a product's checkout, the order page that follows delivery, order lookup."""

from __future__ import annotations

import contextlib
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from domain.catalog import POOLED_KINDS, ProductQuery
from domain.errors import NotFound
from domain.paging import PageRequest
from domain.payments import PaymentRejected
from domain.services.catalog import Catalog
from domain.services.ordering import Ordering
from domain.services.shops import Shops
from domain.services.stock import Stock
from web.auth import base_url, client_ip
from web.buyers import after_checkout, checkout_request, device_of, with_device
from web.controllers.auth import go
from web.controllers.forms import CheckoutForm, Form, LookupForm
from web.controllers.params import PageNumber

SHOP_PAGE_SIZE = 48


class ShopController(Controller):
    include_in_schema = False
    opt = {"exclude_from_auth": True}  # noqa: RUF012 — Litestar reads this class attribute

    @get("/shop")
    async def shop(
        self,
        request: Request[Any, Any, Any],
        catalog: NamedDependency[Catalog],
        stock: NamedDependency[Stock],
        page: PageNumber = 1,
    ) -> Response[Any]:
        products = await catalog.search(ProductQuery(on_sale=True), PageRequest(page, SHOP_PAGE_SIZE))
        available = await stock.sellable([p.id for p in products.items if p.id is not None])
        context = {"products": products, "available": available, "pooled": POOLED_KINDS}
        return with_device(request, Template("shop/list.html", context=context))

    @get("/p/{sku:str}")
    async def product(
        self,
        request: Request[Any, Any, Any],
        sku: FromPath[str],
        catalog: NamedDependency[Catalog],
        stock: NamedDependency[Stock],
        ordering: NamedDependency[Ordering],
    ) -> Response[Any]:
        product = await catalog.by_sku(sku)
        if not product.on_sale:
            raise NotFound(f"{sku} is not on sale")
        left = (await stock.sellable([product.id or 0])).get(product.id or 0, 0)
        pooled = product.delivery_kind.pooled
        most = min(left, ordering.policy.max_quantity) if pooled else ordering.policy.max_quantity
        context = {"product": product, "left": left, "pooled": pooled, "most": most}
        return with_device(request, Template("shop/product.html", context=context))

    @post("/p/{sku:str}/orders", status_code=200)
    async def checkout(
        self,
        request: Request[Any, Any, Any],
        sku: FromPath[str],
        data: Form[CheckoutForm],
        ordering: NamedDependency[Ordering],
    ) -> Response[Any]:
        """Place the order (stock reserved), then off to the payment gateway (or, held for review, to its page)."""
        order = await ordering.place(checkout_request(request, sku, data))
        return after_checkout(request, ordering, order)

    @get(["/o/{number:str}", "/o/{number:str}/status"])
    async def order(
        self,
        request: Request[Any, Any, Any],
        number: FromPath[str],
        ordering: NamedDependency[Ordering],
        shops: NamedDependency[Shops],
        k: FromQuery[str] = "",
    ) -> Template:
        """The order page, reached from the gateway or a lookup; its /status fragment polls until the order settles.

        Gateways send the buyer back with the payment's signed result: taken as a notice (idempotent), so the
        page never offers to pay again while the gateway's own notify is still on its way. An order sold in a
        reseller's shop wears that shop's look and leads back to it.
        """
        returned = {name: value for name, value in request.query_params.items() if name != "k"}
        if "sign" in returned:
            with contextlib.suppress(PaymentRejected):
                await ordering.pay(returned)
        page = await ordering.view(number, k)
        base = base_url(request)
        context = {
            "order": page.order,
            "key": k,
            "links": [f"{base}/r/{token}" for token in page.tokens],
            "payment_url": ordering.payment_url(page.order, base),
        }
        fragment = request.url.path.endswith("/status")
        if not fragment:
            context["shop"] = await shops.of_order(page.order)
        return Template("shop/_order_status.html" if fragment else "shop/order.html", context=context)


class LookupController(Controller):
    """Rate limited by the app (per address): an order number plus its contact opens the order page."""

    include_in_schema = False
    opt = {"exclude_from_auth": True}  # noqa: RUF012 — Litestar reads this class attribute

    @get("/lookup")
    async def lookup_page(self) -> Template:
        return Template("shop/lookup.html")

    @post("/lookup", status_code=200)
    async def look_up(
        self, request: Request[Any, Any, Any], data: Form[LookupForm], ordering: NamedDependency[Ordering]
    ) -> Response[Any]:
        order, key = await ordering.look_up(
            data.number, data.contact, ip=client_ip(request), device=device_of(request), solution=data.altcha
        )
        return go(request, f"/o/{order.number}?k={key}")

"""The product catalog in the merchant admin: list with search and filters, create, edit, on/off sale."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.plugins.flash import flash
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from domain.catalog import DeliveryKind, ProductQuery
from domain.paging import PageRequest
from domain.services.catalog import Catalog
from domain.services.imports import CodeImports
from domain.services.stock import Stock
from domain.staff import Permission
from web.auth import actor, requires
from web.controllers.auth import go
from web.controllers.forms import Form, OnSaleForm, ProductForm
from web.controllers.params import PageNumber, RowId
from web.i18n import locale_of, translate

PAGE_SIZE = 25


class ProductController(Controller):
    path = "/admin/products"
    include_in_schema = False
    guards = [requires(Permission.VIEW_CATALOG)]  # noqa: RUF012 — Litestar reads this class attribute

    @get("/")
    async def products(
        self,
        request: Request[Any, Any, Any],
        catalog: NamedDependency[Catalog],
        stock: NamedDependency[Stock],
        q: FromQuery[str] = "",
        category: FromQuery[str] = "",
        kind: FromQuery[str] = "",
        on_sale: FromQuery[str] = "",
        page: PageNumber = 1,
    ) -> Template:
        query = ProductQuery(
            text=q,
            category=category,
            delivery_kind=DeliveryKind(kind) if kind in DeliveryKind._value2member_map_ else None,
            on_sale={"1": True, "0": False}.get(on_sale),
        )
        results = await catalog.search(query, PageRequest(page, PAGE_SIZE))
        context = {
            "results": results,
            "available": await stock.available([p.id for p in results.items if p.id is not None]),
            "filters": {"q": q, "category": category, "kind": kind, "on_sale": on_sale},
            "categories": await catalog.categories(),
            "kinds": list(DeliveryKind),
        }
        partial = request.headers.get("hx-request") == "true" and request.headers.get("hx-target") == "product-table"
        return Template("products/_table.html" if partial else "products/list.html", context=context)

    @get("/{product_id:int}")
    async def product(
        self, product_id: RowId, stock: NamedDependency[Stock], imports: NamedDependency[CodeImports]
    ) -> Template:
        """The product with its code pool: stock per state, batches, imports."""
        context = {"stock": await stock.of_product(product_id), "imports": await imports.of_product(product_id)}
        return Template("stock/detail.html", context=context)

    @get("/new", guards=[requires(Permission.MANAGE_CATALOG)])
    async def new_product(self) -> Template:
        return Template("products/form.html", context={"product": None, "kinds": list(DeliveryKind)})

    @post("/", guards=[requires(Permission.MANAGE_CATALOG)])
    async def create(
        self, request: HTMXRequest, data: Form[ProductForm], catalog: NamedDependency[Catalog]
    ) -> Response[Any]:
        product = await catalog.create(data.to_draft(), actor(request))
        flash(request, translate(locale_of(request), "product.created", sku=product.sku), "success")
        return go(request, "/admin/products")

    @get("/{product_id:int}/edit", guards=[requires(Permission.MANAGE_CATALOG)])
    async def edit(self, product_id: RowId, catalog: NamedDependency[Catalog]) -> Template:
        product = await catalog.get(product_id)
        return Template("products/form.html", context={"product": product, "kinds": list(DeliveryKind)})

    @post("/{product_id:int}", guards=[requires(Permission.MANAGE_CATALOG)], status_code=200)
    async def revise(
        self,
        request: HTMXRequest,
        product_id: RowId,
        data: Form[ProductForm],
        catalog: NamedDependency[Catalog],
    ) -> Response[Any]:
        product = await catalog.revise(product_id, data.to_draft(), actor(request))
        flash(request, translate(locale_of(request), "product.updated", sku=product.sku), "success")
        return go(request, "/admin/products")

    @post("/{product_id:int}/on-sale", guards=[requires(Permission.MANAGE_CATALOG)], status_code=200)
    async def set_on_sale(
        self,
        request: HTMXRequest,
        product_id: RowId,
        data: Form[OnSaleForm],
        catalog: NamedDependency[Catalog],
        stock: NamedDependency[Stock],
    ) -> Template:
        product = await catalog.set_on_sale(product_id, data.on_sale == "1", actor(request))
        available = await stock.available([product_id])
        return Template("products/_row.html", context={"product": product, "available": available})

"""Upstream suppliers in the merchant admin: other kaquan instances (or anything speaking Open API v1) where the
merchant holds a reseller's API key — added, synced, their catalogs at our prices there — and each product's
fulfilment sources in order (own pool, then upstreams, each with an optional cost ceiling)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.plugins.flash import flash
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from domain.services.catalog import Catalog
from domain.services.upstreams import Upstreams
from domain.staff import Permission
from domain.suppliers import MAX_SOURCES
from web.auth import actor, requires
from web.controllers.auth import go
from web.controllers.forms import Form, SourcesForm, UpstreamForm
from web.controllers.params import RowId
from web.i18n import locale_of, translate

MANAGE = [requires(Permission.MANAGE_CATALOG)]


class SupplierController(Controller):
    path = "/admin"
    include_in_schema = False
    guards = [requires(Permission.VIEW_CATALOG)]  # noqa: RUF012 — Litestar reads this class attribute

    @get("/suppliers")
    async def upstreams(self, upstreams: NamedDependency[Upstreams]) -> Template:
        listed = Counter(listing.upstream_id for listing in await upstreams.listings())
        return Template("suppliers/list.html", context={"upstreams": await upstreams.all(), "listed": listed})

    @post("/suppliers", guards=MANAGE, status_code=200)
    async def add(
        self, request: HTMXRequest, data: Form[UpstreamForm], upstreams: NamedDependency[Upstreams]
    ) -> Response[Any]:
        """An upstream where the merchant holds an API key; its catalog is synced next, on its page."""
        upstream = await upstreams.add(
            data.name, data.base_url, data.key_id, data.secret, data.webhook_secret, actor(request)
        )
        flash(request, translate(locale_of(request), "supplier.added", name=upstream.name), "success")
        return go(request, f"/admin/suppliers/{upstream.id}")

    @get("/suppliers/{upstream_id:int}")
    async def upstream(self, upstream_id: RowId, upstreams: NamedDependency[Upstreams]) -> Template:
        context = {"upstream": await upstreams.get(upstream_id), "listings": await upstreams.listings(upstream_id)}
        return Template("suppliers/detail.html", context=context)

    @post("/suppliers/{upstream_id:int}/sync", guards=MANAGE, status_code=200)
    async def sync(
        self, request: HTMXRequest, upstream_id: RowId, upstreams: NamedDependency[Upstreams]
    ) -> Response[Any]:
        """The upstream's catalog now; an upstream that does not answer, or refuses, says so in place."""
        listings = await upstreams.sync(upstream_id, actor(request))
        flash(request, translate(locale_of(request), "supplier.synced", count=len(listings)), "success")
        return go(request, f"/admin/suppliers/{upstream_id}")

    @get("/products/{product_id:int}/sources")
    async def sources(
        self, product_id: RowId, catalog: NamedDependency[Catalog], upstreams: NamedDependency[Upstreams]
    ) -> Template:
        """The product's sources in order, each row chosen from the upstreams' synced catalogs."""
        sources = await upstreams.sources(product_id)
        context = {
            "product": await catalog.get(product_id),
            "sources": sources,
            "rows": [*sources, *[None] * (MAX_SOURCES - len(sources))],
            "upstreams": {u.id: u for u in await upstreams.all()},
            "listings": await upstreams.listings(),
        }
        return Template("suppliers/sources.html", context=context)

    @post("/products/{product_id:int}/sources", guards=MANAGE, status_code=200)
    async def set_sources(
        self, request: HTMXRequest, product_id: RowId, data: Form[SourcesForm], upstreams: NamedDependency[Upstreams]
    ) -> Response[Any]:
        await upstreams.set_sources(product_id, data.rows(), actor(request))
        flash(request, translate(locale_of(request), "sources.saved"), "success")
        return go(request, f"/admin/products/{product_id}/sources")

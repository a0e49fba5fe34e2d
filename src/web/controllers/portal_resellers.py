"""A reseller's sub-resellers: the list with their balances, inviting one with its login, its terms, and the
prices it pays. Only the signed-in reseller's own sub-resellers are found; any other id is a 404."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.plugins.flash import flash
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from domain.paging import PageRequest
from domain.resellers import ResellerDraft, ResellerStatus
from domain.services.portal import Portal
from domain.staff import normalize_username
from web.auth import actor
from web.controllers.auth import go
from web.controllers.forms import Form, SubPriceForm, SubResellerForm, SubTermsForm
from web.controllers.params import PageNumber, RowId
from web.controllers.portal import PAGE_SIZE, PORTAL_GUARDS, reseller_of
from web.controllers.resellers import invite_url
from web.i18n import locale_of, translate


class PortalResellerController(Controller):
    path = "/portal/resellers"
    include_in_schema = False
    guards = PORTAL_GUARDS

    @get("/")
    async def sub_resellers(
        self, request: Request[Any, Any, Any], portal: NamedDependency[Portal], page: PageNumber = 1
    ) -> Template:
        results = await portal.sub_resellers(reseller_of(request), PageRequest(page, PAGE_SIZE))
        return Template("portal/resellers.html", context={"results": results})

    @post("/", status_code=200)
    async def invite(
        self, request: HTMXRequest, data: Form[SubResellerForm], portal: NamedDependency[Portal]
    ) -> Template:
        """A new sub-reseller with its login; the invite link is shown this once, with the list brought up to date."""
        me = reseller_of(request)
        draft = ResellerDraft(data.name, data.contact, markup=data.markup)
        child, token = await portal.invite(me, draft, data.username, actor(request))
        context = {
            "child": child,
            "username": normalize_username(data.username),
            "invite_url": invite_url(request, token),
            "results": await portal.sub_resellers(me, PageRequest(1, PAGE_SIZE)),
        }
        return Template("portal/_invited.html", context=context)

    @get("/{child_id:int}")
    async def sub_reseller(
        self, request: Request[Any, Any, Any], child_id: RowId, portal: NamedDependency[Portal], page: PageNumber = 1
    ) -> Template:
        """Its terms, and per product what the reseller pays, the price it set and what the sub-reseller pays."""
        me = reseller_of(request)
        context = {
            "child": await portal.sub_reseller(me, child_id),
            "prices": await portal.sub_prices(me, child_id, PageRequest(page, PAGE_SIZE)),
            "statuses": list(ResellerStatus),
        }
        return Template("portal/reseller.html", context=context)

    @post("/{child_id:int}/terms", status_code=200)
    async def set_terms(
        self, request: HTMXRequest, child_id: RowId, data: Form[SubTermsForm], portal: NamedDependency[Portal]
    ) -> Response[Any]:
        """Status and markup; the page comes again, since a new markup changes every price without its own."""
        child = await portal.set_sub_terms(reseller_of(request), child_id, data.status, data.markup, actor(request))
        flash(request, translate(locale_of(request), "portal.terms_saved", name=child.name), "success")
        return go(request, f"/portal/resellers/{child_id}")

    @post("/{child_id:int}/prices/{product_id:int}", status_code=200)
    async def set_price(
        self,
        request: HTMXRequest,
        child_id: RowId,
        product_id: RowId,
        data: Form[SubPriceForm],
        portal: NamedDependency[Portal],
    ) -> Template:
        row = await portal.set_sub_price(reseller_of(request), child_id, product_id, data.price, actor(request))
        return Template("portal/_sub_price.html", context={"row": row, "child_id": child_id})

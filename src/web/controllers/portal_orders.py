"""The orders buyers placed in the reseller's shop: the list with the admin's filters, and one order's file.

Contacts are masked, there is no search by contact (a masked phone plus a few thousand guesses would give it
back whole), and codes or redemption links never appear: order number plus contact opens a buyer's codes at
the lookup, so a reseller's login must not hold both.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Template

from domain.orders import OrderQuery, OrderStatus
from domain.paging import PageRequest
from domain.services.portal import Portal
from web.controllers.params import PageNumber
from web.controllers.portal import PAGE_SIZE, PORTAL_GUARDS, reseller_of
from web.days import day_after, day_start


class PortalOrderController(Controller):
    path = "/portal/orders"
    include_in_schema = False
    guards = PORTAL_GUARDS

    @get("/")
    async def orders(
        self,
        request: Request[Any, Any, Any],
        portal: NamedDependency[Portal],
        display_zone: NamedDependency[ZoneInfo],
        status: FromQuery[str] = "",
        number: FromQuery[str] = "",
        placed_from: FromQuery[str] = "",
        placed_to: FromQuery[str] = "",
        page: PageNumber = 1,
    ) -> Template:
        query = OrderQuery(
            status=OrderStatus(status) if status in OrderStatus._value2member_map_ else None,
            number=number,
            placed_from=day_start(placed_from, display_zone, "placed_from"),
            placed_before=day_after(placed_to, display_zone, "placed_to"),
        )
        filters = {
            "status": status,
            "number": number,
            "placed_from": placed_from,
            "placed_to": placed_to,
        }
        context = {
            "results": await portal.orders(reseller_of(request), query, PageRequest(page, PAGE_SIZE)),
            "filters": filters,
            "statuses": list(OrderStatus),
        }
        partial = request.headers.get("hx-request") == "true" and request.headers.get("hx-target") == "order-table"
        return Template("portal/_orders.html" if partial else "portal/orders.html", context=context)

    @get("/{number:str}")
    async def order(self, request: Request[Any, Any, Any], number: str, portal: NamedDependency[Portal]) -> Template:
        order, events = await portal.order(reseller_of(request), number)
        return Template("portal/order.html", context={"order": order, "events": events})

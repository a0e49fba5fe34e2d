"""A reseller's portal: the same sign-in as staff, role reseller, and only its own business in view.

Every handler works on `request.user.reseller_id` and nothing else; services answer NotFound (404) for
another reseller's objects, so an id in a URL cannot reach them. Orders and sub-resellers have their own
controllers (portal_orders, portal_resellers).
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Template

from domain.paging import PageRequest
from domain.services.portal import Portal
from domain.services.resellers import Resellers
from domain.staff import Permission, StaffMember
from web.auth import requires
from web.controllers.params import PageNumber
from web.statements import StatementRequest

PAGE_SIZE = 25
PORTAL_GUARDS = [requires(Permission.USE_PORTAL)]  # every portal controller: reseller logins only


def reseller_of(request: Request[Any, Any, Any]) -> int:
    """The signed-in reseller (the portal's guard let only reseller logins in)."""
    member: StaffMember = request.user
    assert member.reseller_id is not None
    return member.reseller_id


class PortalController(Controller):
    path = "/portal"
    include_in_schema = False
    guards = PORTAL_GUARDS

    @get("/")
    async def overview(
        self,
        request: Request[Any, Any, Any],
        portal: NamedDependency[Portal],
        resellers: NamedDependency[Resellers],
        display_zone: NamedDependency[ZoneInfo],
        start: FromQuery[str] = "",
        end: FromQuery[str] = "",
        account: FromQuery[str] = "wallet",
    ) -> Template:
        """Balance, earnings and shop at a glance, then the statement of either account for any days."""
        me = reseller_of(request)
        statement = await StatementRequest(me, account, start, end).context(resellers, display_zone, "/portal")
        context = {"overview": await portal.overview(me), **statement}
        return Template("portal/overview.html", context=context)

    @get(["/statement.csv", "/statement.xlsx"])
    async def statement_file(
        self,
        request: Request[Any, Any, Any],
        resellers: NamedDependency[Resellers],
        display_zone: NamedDependency[ZoneInfo],
        start: FromQuery[str] = "",
        end: FromQuery[str] = "",
        account: FromQuery[str] = "wallet",
    ) -> Response[bytes]:
        """The same statement as the page, to the fen, for a spreadsheet."""
        asked = StatementRequest(reseller_of(request), account, start, end)
        return await asked.download(request, resellers, display_zone, f"statement-{account}")

    @get("/catalog")
    async def catalog(
        self, request: Request[Any, Any, Any], resellers: NamedDependency[Resellers], page: PageNumber = 1
    ) -> Template:
        """What the reseller may sell, at what cost, and how that cost was reached."""
        results = await resellers.catalog(reseller_of(request), PageRequest(page, PAGE_SIZE))
        return Template("portal/catalog.html", context={"results": results})

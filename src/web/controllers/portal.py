"""A reseller's portal: the same sign-in as staff, role reseller, and only its own business in view.

Every handler works on `request.user.reseller_id` and nothing else; services answer NotFound (404) for
another reseller's objects, so an id in a URL cannot reach them.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from domain.services.portal import Portal
from domain.staff import Permission, StaffMember
from web.auth import requires


def reseller_of(request: Request[Any, Any, Any]) -> int:
    """The signed-in reseller (the portal's guard let only reseller logins in)."""
    member: StaffMember = request.user
    assert member.reseller_id is not None
    return member.reseller_id


class PortalController(Controller):
    path = "/portal"
    include_in_schema = False
    guards = [requires(Permission.USE_PORTAL)]  # noqa: RUF012 — Litestar reads this class attribute

    @get("/")
    async def overview(self, request: Request[Any, Any, Any], portal: NamedDependency[Portal]) -> Template:
        return Template("portal/overview.html", context={"overview": await portal.overview(reseller_of(request))})

"""Owner-only staff management: invite, change role, disable and enable."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from domain.services.staff import StaffAdmin
from domain.staff import STAFF_ROLES, Permission, StaffMember
from web.auth import actor, base_url, requires
from web.controllers.forms import Form, InviteForm, RoleForm
from web.controllers.params import RowId


class StaffController(Controller):
    path = "/admin/staff"
    include_in_schema = False
    guards = [requires(Permission.MANAGE_STAFF)]  # noqa: RUF012 — Litestar reads this class attribute

    @get("/")
    async def team(self, staff_admin: NamedDependency[StaffAdmin]) -> Template:
        return Template("staff/list.html", context={"team": await staff_admin.team(), "roles": STAFF_ROLES})

    @post("/")
    async def invite(
        self, request: HTMXRequest, data: Form[InviteForm], staff_admin: NamedDependency[StaffAdmin]
    ) -> Template:
        member, token = await staff_admin.invite(data.username, data.display_name, data.role, actor(request))
        return self._row(request, member, invite_url=self._invite_url(request, token))

    @post("/{staff_id:int}/reinvite", status_code=200)
    async def reinvite(
        self, request: HTMXRequest, staff_id: RowId, staff_admin: NamedDependency[StaffAdmin]
    ) -> Template:
        member, token = await staff_admin.reinvite(staff_id, actor(request))
        return self._row(request, member, invite_url=self._invite_url(request, token))

    @post("/{staff_id:int}/role", status_code=200)
    async def change_role(
        self,
        request: HTMXRequest,
        staff_id: RowId,
        data: Form[RoleForm],
        staff_admin: NamedDependency[StaffAdmin],
    ) -> Template:
        return self._row(request, await staff_admin.change_role(staff_id, data.role, actor(request)))

    @post("/{staff_id:int}/disable", status_code=200)
    async def disable(
        self, request: HTMXRequest, staff_id: RowId, staff_admin: NamedDependency[StaffAdmin]
    ) -> Template:
        return self._row(request, await staff_admin.disable(staff_id, actor(request)))

    @post("/{staff_id:int}/enable", status_code=200)
    async def enable(self, request: HTMXRequest, staff_id: RowId, staff_admin: NamedDependency[StaffAdmin]) -> Template:
        return self._row(request, await staff_admin.enable(staff_id, actor(request)))

    @staticmethod
    def _invite_url(request: HTMXRequest, token: str) -> str:
        """From the configured public address: a Host header sent by a client must not shape a link."""
        return f"{base_url(request)}/invite/{token}"

    @staticmethod
    def _row(request: HTMXRequest, member: StaffMember, *, invite_url: str | None = None) -> Template:
        context = {"member": member, "roles": STAFF_ROLES, "invite_url": invite_url, "me": request.user}
        return Template("staff/_row.html", context=context)

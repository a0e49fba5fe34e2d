"""The merchant admin's home and its audit log."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from domain.orders import OrderQuery
from domain.paging import PageRequest
from domain.services.operations import Operations
from domain.services.order_desk import OrderDesk
from domain.services.stock import LOW_STOCK, Stock
from domain.staff import Permission, StaffMember
from web.auth import requires
from web.controllers.params import OptionalRowId

AUDIT_PAGE = 50


class AdminController(Controller):
    path = "/admin"
    include_in_schema = False
    guards = [requires(Permission.USE_ADMIN)]  # noqa: RUF012 — Litestar reads this class attribute

    @get("/")
    async def dashboard(
        self,
        request: Request[Any, Any, Any],
        operations: NamedDependency[Operations],
        stock: NamedDependency[Stock],
        order_desk: NamedDependency[OrderDesk],
    ) -> Template:
        health, beats = await operations.worker_status()
        member: StaffMember = request.user
        low = await stock.running_low() if member.can(Permission.VIEW_CATALOG) else []
        waiting = (
            await order_desk.search(OrderQuery(needs_action=True), PageRequest(1, 5))
            if member.can(Permission.VIEW_ORDERS)
            else None
        )
        context = {
            "worker_health": health,
            "beats": beats[:5],
            "running_low": low,
            "low_stock": LOW_STOCK,
            "needs_action": waiting,
        }
        return Template("admin/dashboard.html", context=context)

    @get("/audit", guards=[requires(Permission.VIEW_AUDIT)])
    async def audit(
        self,
        request: Request[Any, Any, Any],
        operations: NamedDependency[Operations],
        before: OptionalRowId = None,
    ) -> Template:
        entries = await operations.audit_page(before, AUDIT_PAGE + 1)
        more = len(entries) > AUDIT_PAGE
        entries = entries[:AUDIT_PAGE]
        template = "admin/_audit_rows.html" if request.headers.get("hx-request") == "true" else "admin/audit.html"
        return Template(
            template, context={"entries": entries, "next_before": entries[-1].id if more and entries else None}
        )

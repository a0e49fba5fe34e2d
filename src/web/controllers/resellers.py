"""The merchant's resellers: list with wallet balances, create, record top-ups, read a wallet statement."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.plugins.flash import flash
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from adapters.codefiles import table_csv
from domain.errors import ValidationFailed
from domain.ledger import Statement
from domain.paging import PageRequest
from domain.resellers import ResellerDraft
from domain.services.resellers import Resellers
from domain.staff import Permission
from web.auth import actor, requires
from web.controllers.auth import go
from web.controllers.forms import Form, ResellerForm, TopUpForm
from web.controllers.params import PageNumber, RowId
from web.i18n import locale_of, translate

PAGE_SIZE = 50


class ResellerController(Controller):
    path = "/admin/resellers"
    include_in_schema = False
    guards = [requires(Permission.VIEW_RESELLERS)]  # noqa: RUF012 — Litestar reads this class attribute

    @get("/")
    async def resellers(self, resellers: NamedDependency[Resellers], page: PageNumber = 1) -> Template:
        return Template("resellers/list.html", context={"results": await resellers.page(PageRequest(page, PAGE_SIZE))})

    @post("/", guards=[requires(Permission.MANAGE_RESELLERS)], status_code=200)
    async def create(
        self, request: HTMXRequest, data: Form[ResellerForm], resellers: NamedDependency[Resellers]
    ) -> Response[Any]:
        parent = _optional_id(data.parent_id)
        made = await resellers.create(ResellerDraft(data.name, data.contact, data.credit_limit, parent), actor(request))
        flash(request, translate(locale_of(request), "reseller.created", name=made.name), "success")
        return go(request, f"/admin/resellers/{made.id}")

    @get("/{reseller_id:int}")
    async def reseller(
        self,
        reseller_id: RowId,
        resellers: NamedDependency[Resellers],
        display_zone: NamedDependency[ZoneInfo],
        start: FromQuery[str] = "",
        end: FromQuery[str] = "",
    ) -> Template:
        statement = await _statement(resellers, reseller_id, start, end, display_zone)
        context = {
            "reseller": await resellers.get(reseller_id),
            "balance": await resellers.balance(reseller_id),
            "statement": statement,
            "days": _days(statement, display_zone),
        }
        return Template("resellers/detail.html", context=context)

    @get("/{reseller_id:int}/statement.csv")
    async def statement_csv(
        self,
        reseller_id: RowId,
        resellers: NamedDependency[Resellers],
        display_zone: NamedDependency[ZoneInfo],
        start: FromQuery[str] = "",
        end: FromQuery[str] = "",
    ) -> Response[bytes]:
        """The same statement as the page, to the fen, for a spreadsheet."""
        statement = await _statement(resellers, reseller_id, start, end, display_zone)
        rows = [("", "opening", "", "", "", statement.opening.amount)]
        rows += [
            (line.at.astimezone(display_zone).isoformat(timespec="seconds"), line.kind, line.reference, line.memo,
             line.amount.amount, line.balance.amount)
            for line in statement.lines
        ]  # fmt: skip
        rows.append(("", "closing", "", "", "", statement.closing.amount))
        first, last = _days(statement, display_zone)
        name = f"reseller-{reseller_id}-statement-{first}-{last}.csv"
        return Response(
            table_csv(("at", "kind", "reference", "memo", "amount", "balance"), rows),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
        )

    @post("/{reseller_id:int}/top-ups", guards=[requires(Permission.MANAGE_RESELLERS)], status_code=200)
    async def top_up(
        self, request: HTMXRequest, reseller_id: RowId, data: Form[TopUpForm], resellers: NamedDependency[Resellers]
    ) -> Response[Any]:
        balance = await resellers.top_up(reseller_id, data.amount, data.note, actor(request))
        flash(request, translate(locale_of(request), "reseller.topped_up", balance=balance.amount), "success")
        return go(request, f"/admin/resellers/{reseller_id}")


async def _statement(resellers: Resellers, reseller_id: int, start: str, end: str, zone: ZoneInfo) -> Statement:
    """Days in the shop's time zone, both included; by default the current month so far."""
    today = datetime.now(zone).date()
    first = _day(start, "start") or today.replace(day=1)
    last = _day(end, "end") or today
    begins = datetime.combine(first, time.min, zone)
    return await resellers.statement(reseller_id, begins, datetime.combine(last + timedelta(days=1), time.min, zone))


def _days(statement: Statement, zone: ZoneInfo) -> tuple[date, date]:
    return statement.start.astimezone(zone).date(), (statement.end.astimezone(zone) - timedelta(days=1)).date()


def _day(text: str, field: str) -> date | None:
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed({field: "invalid_date"}) from None


def _optional_id(text: str) -> int | None:
    if not text.strip():
        return None
    try:
        return int(text.strip())
    except ValueError:
        raise ValidationFailed({"parent_id": "invalid_choice"}) from None

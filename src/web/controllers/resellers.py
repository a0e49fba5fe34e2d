"""The merchant's resellers: list with wallet balances, create, record top-ups, read a wallet statement."""

from __future__ import annotations

from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.plugins.flash import flash
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from domain.errors import ValidationFailed
from domain.ledger import AccountKind
from domain.paging import PageRequest
from domain.resellers import ResellerDraft
from domain.services.resellers import Resellers
from domain.staff import Permission
from web.auth import actor, requires
from web.controllers.auth import go
from web.controllers.forms import Form, ResellerForm, TopUpForm
from web.controllers.params import PageNumber, RowId
from web.i18n import locale_of, translate
from web.statements import account_kind, days, read_statement, statement_file

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
        account: FromQuery[str] = "wallet",
    ) -> Template:
        kind = account_kind(account)
        statement = await read_statement(partial(resellers.statement, reseller_id, kind=kind), start, end, display_zone)
        context = {
            "reseller": await resellers.get(reseller_id),
            "balance": await resellers.balance(reseller_id),
            "earnings": await resellers.balance(reseller_id, AccountKind.RESELLER_COMMISSION),
            "statement": statement,
            "account": account,
            "days": days(statement, display_zone),
            "statement_url": f"/admin/resellers/{reseller_id}",
        }
        return Template("resellers/detail.html", context=context)

    @get(["/{reseller_id:int}/statement.csv", "/{reseller_id:int}/statement.xlsx"])
    async def statement_file(
        self,
        request: HTMXRequest,
        reseller_id: RowId,
        resellers: NamedDependency[Resellers],
        display_zone: NamedDependency[ZoneInfo],
        start: FromQuery[str] = "",
        end: FromQuery[str] = "",
        account: FromQuery[str] = "wallet",
    ) -> Response[bytes]:
        """The same statement as the page, to the fen, for a spreadsheet."""
        kind = account_kind(account)
        statement = await read_statement(partial(resellers.statement, reseller_id, kind=kind), start, end, display_zone)
        fmt = request.url.path.rsplit(".", 1)[-1]
        return statement_file(statement, fmt, display_zone, f"reseller-{reseller_id}-{account}")

    @post("/{reseller_id:int}/top-ups", guards=[requires(Permission.MANAGE_RESELLERS)], status_code=200)
    async def top_up(
        self, request: HTMXRequest, reseller_id: RowId, data: Form[TopUpForm], resellers: NamedDependency[Resellers]
    ) -> Response[Any]:
        balance = await resellers.top_up(reseller_id, data.amount, data.note, actor(request))
        flash(request, translate(locale_of(request), "reseller.topped_up", balance=balance.amount), "success")
        return go(request, f"/admin/resellers/{reseller_id}")


def _optional_id(text: str) -> int | None:
    if not text.strip():
        return None
    try:
        return int(text.strip())
    except ValueError:
        raise ValidationFailed({"parent_id": "invalid_choice"}) from None

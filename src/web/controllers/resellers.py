"""The merchant's resellers: list with wallet balances, create (with a first login), record top-ups, set terms,
invite logins, and read what each may sell and at what cost, and its statements."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.plugins.flash import flash
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from domain.errors import ValidationFailed
from domain.ledger import AccountKind
from domain.paging import PageRequest
from domain.resellers import ResellerDraft, ResellerStatus
from domain.services.resellers import Resellers
from domain.staff import Permission, normalize_username
from web.auth import actor, base_url, requires
from web.controllers.auth import go
from web.controllers.forms import Form, InviteForm, NewResellerForm, TermsForm, TopUpForm
from web.controllers.params import PageNumber, RowId
from web.i18n import locale_of, translate
from web.statements import StatementRequest

PAGE_SIZE = 50
CATALOG_PAGE_SIZE = 25


class ResellerController(Controller):
    path = "/admin/resellers"
    include_in_schema = False
    guards = [requires(Permission.VIEW_RESELLERS)]  # noqa: RUF012 — Litestar reads this class attribute

    @get("/")
    async def resellers(self, resellers: NamedDependency[Resellers], page: PageNumber = 1) -> Template:
        context = {"results": await resellers.page(PageRequest(page, PAGE_SIZE)), "tiers": await resellers.tiers()}
        return Template("resellers/list.html", context=context)

    @post("/", guards=[requires(Permission.MANAGE_RESELLERS)], status_code=200)
    async def create(
        self, request: HTMXRequest, data: Form[NewResellerForm], resellers: NamedDependency[Resellers]
    ) -> Response[Any]:
        """A new reseller; with a username also its first login, whose invite link is shown here, once."""
        draft = ResellerDraft(
            data.name,
            data.contact,
            data.credit_limit,
            parent_id=chosen_id(data.parent_id, "parent_id"),
            tier_id=chosen_id(data.tier_id, "tier_id"),
        )
        made, token = await resellers.create_with_login(draft, data.username, actor(request))
        if token is None:
            flash(request, translate(locale_of(request), "reseller.created", name=made.name), "success")
            return go(request, f"/admin/resellers/{made.id}")
        context = {
            "reseller": made,
            "username": normalize_username(data.username),
            "invite_url": invite_url(request, token),
        }
        return Template("resellers/_created.html", context=context)

    @get("/{reseller_id:int}")
    async def reseller(
        self,
        reseller_id: RowId,
        resellers: NamedDependency[Resellers],
        display_zone: NamedDependency[ZoneInfo],
        start: FromQuery[str] = "",
        end: FromQuery[str] = "",
        account: FromQuery[str] = "wallet",
        catalog_page: PageNumber = 1,
    ) -> Template:
        asked = StatementRequest(reseller_id, account, start, end)
        statement = await asked.context(resellers, display_zone, f"/admin/resellers/{reseller_id}")
        reseller = await resellers.get(reseller_id)
        tiers = await resellers.tiers()
        context = {
            "reseller": reseller,
            "tiers": tiers,
            "tier": next((t for t in tiers if t.id == reseller.tier_id), None),
            "statuses": list(ResellerStatus),
            "logins": await resellers.logins(reseller_id),
            "catalog": await resellers.catalog(reseller_id, PageRequest(catalog_page, CATALOG_PAGE_SIZE)),
            "balance": await resellers.balance(reseller_id),
            "earnings": await resellers.balance(reseller_id, AccountKind.RESELLER_COMMISSION),
            **statement,
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
        asked = StatementRequest(reseller_id, account, start, end)
        return await asked.download(request, resellers, display_zone, f"reseller-{reseller_id}-{account}")

    @post("/{reseller_id:int}/top-ups", guards=[requires(Permission.MANAGE_RESELLERS)], status_code=200)
    async def top_up(
        self, request: HTMXRequest, reseller_id: RowId, data: Form[TopUpForm], resellers: NamedDependency[Resellers]
    ) -> Response[Any]:
        balance = await resellers.top_up(reseller_id, data.amount, data.note, actor(request))
        flash(request, translate(locale_of(request), "reseller.topped_up", balance=balance.amount), "success")
        return go(request, f"/admin/resellers/{reseller_id}")

    @post("/{reseller_id:int}/terms", guards=[requires(Permission.MANAGE_RESELLERS)], status_code=200)
    async def set_terms(
        self, request: HTMXRequest, reseller_id: RowId, data: Form[TermsForm], resellers: NamedDependency[Resellers]
    ) -> Response[Any]:
        tier_id = chosen_id(data.tier_id, "tier_id")
        await resellers.set_terms(reseller_id, data.status, data.credit_limit, tier_id, data.markup, actor(request))
        flash(request, translate(locale_of(request), "reseller.terms_saved"), "success")
        return go(request, f"/admin/resellers/{reseller_id}")

    @post("/{reseller_id:int}/logins", guards=[requires(Permission.MANAGE_RESELLERS)], status_code=200)
    async def invite_login(
        self, request: HTMXRequest, reseller_id: RowId, data: Form[InviteForm], resellers: NamedDependency[Resellers]
    ) -> Template:
        """Another login for the reseller; its invite link is shown with the new row, once."""
        member, token = await resellers.invite_login(reseller_id, data.username, actor(request))
        return Template("resellers/_login.html", context={"login": member, "invite_url": invite_url(request, token)})

    @post(
        "/{reseller_id:int}/logins/{login_id:int}/invite",
        guards=[requires(Permission.MANAGE_RESELLERS)],
        status_code=200,
    )
    async def reinvite_login(
        self, request: HTMXRequest, reseller_id: RowId, login_id: RowId, resellers: NamedDependency[Resellers]
    ) -> Template:
        """A new link for a login whose invite expired or got lost; its row comes back with the link, once."""
        member, token = await resellers.reinvite_login(reseller_id, login_id, actor(request))
        return Template("resellers/_login.html", context={"login": member, "invite_url": invite_url(request, token)})


def invite_url(request: Request[Any, Any, Any], token: str) -> str:
    """From the configured public address, as on the staff page: a client's Host header must not shape a link."""
    return base_url(request) + request.app.route_reverse("invite_page", token=token)


def chosen_id(text: str, field: str) -> int | None:
    """The id picked in a select or a checkbox (empty: none); anything but a row id is an error on `field`."""
    text = text.strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) < 2**63:
        raise ValidationFailed({field: "invalid_choice"})
    return int(text)

"""A reseller buys for itself in its portal, at its own cost, paid from its wallet; the codes then wait on the
order's page, as a buyer's would."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Template

from domain.audit import Actor
from domain.ledger import Wallet
from domain.services.balance_payments import BalancePayments
from domain.services.ordering import Ordering
from domain.services.portal import Portal
from web.auth import actor
from web.controllers.auth import go
from web.controllers.forms import CheckoutForm, Form
from web.controllers.portal import PORTAL_GUARDS, reseller_of


class PortalPurchaseController(Controller):
    path = "/portal/buy"
    include_in_schema = False
    guards = PORTAL_GUARDS

    @get("/")
    async def buy_page(
        self,
        request: Request[Any, Any, Any],
        balance_payments: NamedDependency[BalancePayments],
        portal: NamedDependency[Portal],
        sku: FromQuery[str],
    ) -> Template:
        reseller_id = reseller_of(request)
        overview = await portal.overview(reseller_id)
        context = {
            "offer": await balance_payments.offer(reseller_id, sku),
            "overview": overview,
            "spendable": Wallet(overview.balance, overview.reseller.credit_limit).spendable,
            "most": balance_payments.policy.max_quantity,
        }
        return Template("portal/buy.html", context=context)

    @post("/", status_code=200)
    async def buy(
        self,
        request: Request[Any, Any, Any],
        data: Form[CheckoutForm],
        balance_payments: NamedDependency[BalancePayments],
        ordering: NamedDependency[Ordering],
        sku: FromQuery[str],
    ) -> Response[Any]:
        """Charged and paid at once; delivery follows in seconds on the order's page."""
        who: Actor = actor(request)
        order = await balance_payments.buy(reseller_of(request), sku, data.quantity, who, data.recharge_account)
        return go(request, f"/o/{order.number}?k={ordering.page_key(order)}")

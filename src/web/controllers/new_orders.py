"""Staff take an order for a buyer (by phone, chat): the new-order form, placing it, and the links to send."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.plugins.flash import flash
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from domain.catalog import Product, ProductQuery, normalize_sku
from domain.errors import NotFound
from domain.orders import Channel, Order, OrderRequest, OrderStatus
from domain.paging import PageRequest
from domain.services.catalog import Catalog
from domain.services.notifications import NothingToPay, Notifications
from domain.services.order_desk import OrderDesk
from domain.services.ordering import Ordering
from domain.services.stock import Stock
from domain.staff import Permission, StaffMember
from web.auth import actor, base_url, requires
from web.controllers.auth import go
from web.controllers.forms import Form, StaffOrderForm
from web.controllers.params import RowId
from web.i18n import locale_of, translate

PICKER_SIZE = 50  # products listed in the picker; the search box narrows the rest down
PRODUCT_PART = "order-product"  # the part of the form that follows the product chosen


@dataclass(frozen=True, slots=True)
class BuyerLinks:
    payment: str  # the gateway's checkout, coming back to the order page
    page: str  # the buyer's order page, with its key


def buyer_links(request: Request[Any, Any, Any], order: Order, ordering: Ordering) -> BuyerLinks | None:
    """For an order staff took that waits for its payment, to a member who may take orders: the links to send the
    buyer. Never for shop orders: an order page's key opens the codes once they are delivered."""
    member: StaffMember = request.user
    if order.channel is not Channel.ADMIN or order.status is not OrderStatus.AWAITING_PAYMENT:
        return None
    if not member.can(Permission.PLACE_ORDERS):
        return None
    base = base_url(request)
    payment = urljoin(f"{base}/", ordering.payment_url(order, base))  # the dev sandbox gateway is a path on this app
    return BuyerLinks(payment, f"{base}/o/{order.number}?k={ordering.page_key(order)}")


class NewOrderController(Controller):
    path = "/admin/orders"
    include_in_schema = False
    guards = [requires(Permission.PLACE_ORDERS)]  # noqa: RUF012 — Litestar reads this class attribute

    @get("/new")
    async def new_order(
        self,
        request: Request[Any, Any, Any],
        catalog: NamedDependency[Catalog],
        stock: NamedDependency[Stock],
        ordering: NamedDependency[Ordering],
        q: FromQuery[str] = "",
        sku: FromQuery[str] = "",
        quantity: FromQuery[str] = "1",
    ) -> Template:
        """The form; its product part alone when the picker changes (search, choice), keeping the quantity."""
        q, quantity = q.strip()[:60], quantity.strip()[:6] or "1"
        products = (await catalog.search(ProductQuery(text=q, on_sale=True), PageRequest(1, PICKER_SIZE))).items
        chosen = await _on_sale(catalog, products, sku)
        if chosen is not None and all(p.id != chosen.id for p in products):
            products = [chosen, *products]  # a narrower search keeps the product already chosen
        left = await stock.sellable([p.id for p in products if p.id is not None])
        most = ordering.policy.max_quantity
        if chosen is not None and chosen.delivery_kind.pooled:
            most = max(1, min(left.get(chosen.id or 0, 0), most))
        context = {"products": products, "chosen": chosen, "left": left, "most": most, "q": q, "quantity": quantity}
        partial = request.headers.get("hx-request") == "true" and request.headers.get("hx-target") == PRODUCT_PART
        return Template("orders/_new_product.html" if partial else "orders/new.html", context=context)

    @post("/new", status_code=200)
    async def place(
        self, request: HTMXRequest, data: Form[StaffOrderForm], ordering: NamedDependency[Ordering]
    ) -> Response[Any]:
        """Placed as the shop places it (same checks, stock held, same payment window); then the order's page."""
        staff = actor(request)
        wanted = OrderRequest(
            sku=data.sku,
            quantity=data.quantity,
            contact=data.contact,
            recharge_account=data.recharge_account,
            channel=Channel.ADMIN,
            ip=staff.ip,
            device=None,
        )
        order = await ordering.place_for_buyer(wanted, staff)
        flash(request, translate(locale_of(request), "orders.placed_for_buyer", number=order.number), "success")
        return go(request, f"/admin/orders/{order.id}")

    @post("/{order_id:int}/payment-link/mail", status_code=200)
    async def mail_payment_link(
        self,
        request: HTMXRequest,
        order_id: RowId,
        ordering: NamedDependency[Ordering],
        order_desk: NamedDependency[OrderDesk],
        notifications: NamedDependency[Notifications],
    ) -> Template:
        links = buyer_links(request, (await order_desk.file(order_id)).order, ordering)
        if links is None:
            raise NothingToPay(f"order #{order_id} has no payment link to send")
        await notifications.mail_payment_link(order_id, links.payment, links.page, actor(request))
        context = {"file": await order_desk.file(order_id), "links": links, "link_mailed": True}
        return Template("orders/_file.html", context=context)


async def _on_sale(catalog: Catalog, listed: list[Product], sku: str) -> Product | None:
    """The product chosen, if it is on sale (whether or not the current search lists it)."""
    if not sku.strip():
        return None
    wanted = normalize_sku(sku)
    found = next((p for p in listed if p.sku == wanted), None)
    if found is None:
        try:
            found = await catalog.by_sku(wanted)
        except NotFound:
            return None
    return found if found.on_sale else None

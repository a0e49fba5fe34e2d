"""The review queue: orders the merchant's risk rules held, with every reason in the merchant's words, and staff's
approve or reject — from the queue or from the order's own page. Every staff member who sees orders sees the queue;
those who manage orders (owner, operator, support) decide."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from domain.orders import Order
from domain.paging import PageRequest
from domain.services.order_desk import OrderDesk
from domain.services.resellers import Resellers
from domain.services.reviews import Reviews
from domain.staff import Permission
from web.auth import actor, requires
from web.controllers.forms import Form, ReasonForm
from web.controllers.params import PageNumber, RowId

PAGE_SIZE = 25
DECIDE = [requires(Permission.MANAGE_ORDERS)]
DECIDED = "review-decided"  # the event a decision triggers: the nav's count refreshes itself on it
ORDER_FILE = "order-file"  # the order's page swaps its whole file; the queue swaps one row


class ReviewController(Controller):
    path = "/admin/reviews"
    include_in_schema = False
    guards = [requires(Permission.VIEW_ORDERS)]  # noqa: RUF012 — Litestar reads this class attribute

    @get("/")
    async def queue(
        self, reviews: NamedDependency[Reviews], resellers: NamedDependency[Resellers], page: PageNumber = 1
    ) -> Template:
        held = await reviews.queue(PageRequest(page, PAGE_SIZE))
        sellers = {
            seller_id: (await resellers.get(seller_id)).name
            for seller_id in {order.seller_id for order in held.items if order.seller_id is not None}
        }
        return Template("reviews/queue.html", context={"results": held, "sellers": sellers})

    @get("/count")
    async def count(self, reviews: NamedDependency[Reviews]) -> Template:
        """The nav's badge: how many orders wait (nothing when none)."""
        waiting = (await reviews.queue(PageRequest(1, 1))).total
        return Template("reviews/_count.html", context={"waiting": waiting})

    @post("/{order_id:int}/approve", guards=DECIDE, status_code=200)
    async def approve(
        self,
        request: HTMXRequest,
        order_id: RowId,
        reviews: NamedDependency[Reviews],
        order_desk: NamedDependency[OrderDesk],
    ) -> Response[Any]:
        """On to payment (a reseller's wallet is charged now); short stock or balance is told in place and the order
        stays held."""
        order = await reviews.approve(order_id, actor(request))
        return await _decided(request, order, order_desk)

    @post("/{order_id:int}/reject", guards=DECIDE, status_code=200)
    async def reject(
        self,
        request: HTMXRequest,
        order_id: RowId,
        data: Form[ReasonForm],
        order_desk: NamedDependency[OrderDesk],
    ) -> Response[Any]:
        """Cancelled with the reason given (required); nothing was charged or reserved for it."""
        order = await order_desk.reject(order_id, data.reason, actor(request))
        return await _decided(request, order, order_desk)


async def _decided(request: Request[Any, Any, Any], order: Order, order_desk: OrderDesk) -> Response[Any]:
    """The order's file again on its own page; in the queue, its row says what became of it."""
    headers = {"HX-Trigger": DECIDED}
    if request.headers.get("hx-target") == ORDER_FILE:
        file = await order_desk.file(order.id or 0)
        return Template("orders/_file.html", context={"file": file}, headers=headers)
    return Template("reviews/_decided.html", context={"order": order}, headers=headers)

"""The merchant's orders: list with filters, the order's file with its timeline, and the staff actions."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from domain.orders import Channel, OrderQuery, OrderStatus
from domain.paging import PageRequest
from domain.services.delivery import Delivery
from domain.services.order_desk import OrderDesk
from domain.services.ordering import Ordering
from domain.services.upstream_desk import UpstreamDesk
from domain.staff import Permission
from web.auth import actor, requires
from web.controllers.forms import Form, FulfilForm, ReasonForm
from web.controllers.new_orders import buyer_links
from web.controllers.params import PageNumber, RowId
from web.days import day_after, day_start

PAGE_SIZE = 25


class OrderController(Controller):
    path = "/admin/orders"
    include_in_schema = False
    guards = [requires(Permission.VIEW_ORDERS)]  # noqa: RUF012 — Litestar reads this class attribute

    @get("/")
    async def orders(
        self,
        request: Request[Any, Any, Any],
        order_desk: NamedDependency[OrderDesk],
        display_zone: NamedDependency[ZoneInfo],
        status: FromQuery[str] = "",
        sku: FromQuery[str] = "",
        placed_from: FromQuery[str] = "",
        placed_to: FromQuery[str] = "",
        contact: FromQuery[str] = "",
        number: FromQuery[str] = "",
        channel: FromQuery[str] = "",
        needs_action: FromQuery[str] = "",
        page: PageNumber = 1,
    ) -> Template:
        query = OrderQuery(
            status=OrderStatus(status) if status in OrderStatus._value2member_map_ else None,
            sku=sku,
            placed_from=day_start(placed_from, display_zone, "placed_from"),
            placed_before=day_after(placed_to, display_zone, "placed_to"),
            contact=contact,
            number=number,
            channel=Channel(channel) if channel in Channel._value2member_map_ else None,
            needs_action=needs_action == "1",
        )
        filters = {
            "status": status,
            "sku": sku,
            "placed_from": placed_from,
            "placed_to": placed_to,
            "contact": contact,
            "number": number,
            "channel": channel,
            "needs_action": needs_action,
        }
        context = {
            "results": await order_desk.search(query, PageRequest(page, PAGE_SIZE)),
            "filters": filters,
            "statuses": list(OrderStatus),
            "channels": list(Channel),
        }
        partial = request.headers.get("hx-request") == "true" and request.headers.get("hx-target") == "order-table"
        return Template("orders/_table.html" if partial else "orders/list.html", context=context)

    @get("/{order_id:int}")
    async def order(
        self,
        request: Request[Any, Any, Any],
        order_id: RowId,
        order_desk: NamedDependency[OrderDesk],
        ordering: NamedDependency[Ordering],
    ) -> Template:
        """The order's file; for an order staff took that waits for payment, the links to send the buyer."""
        file = await order_desk.file(order_id)
        links = buyer_links(request, file.order, ordering)
        return Template("orders/detail.html", context={"file": file, "links": links})

    @post("/{order_id:int}/fulfil", guards=[requires(Permission.MANAGE_ORDERS)], status_code=200)
    async def fulfil(
        self,
        request: HTMXRequest,
        order_id: RowId,
        data: Form[FulfilForm],
        delivery: NamedDependency[Delivery],
        order_desk: NamedDependency[OrderDesk],
    ) -> Template:
        await delivery.fulfil(order_id, data.lines.splitlines(), actor(request))
        return await self._file(order_id, order_desk)

    @post("/{order_id:int}/retry", guards=[requires(Permission.MANAGE_ORDERS)], status_code=200)
    async def retry(
        self,
        request: HTMXRequest,
        order_id: RowId,
        delivery: NamedDependency[Delivery],
        order_desk: NamedDependency[OrderDesk],
    ) -> Template:
        await delivery.retry_from_stock(order_id, actor(request))
        return await self._file(order_id, order_desk)

    @post(
        "/{order_id:int}/upstream/{upstream_order_id:int}/abandon",
        guards=[requires(Permission.MANAGE_ORDERS)],
        status_code=200,
    )
    async def abandon_upstream(
        self,
        request: HTMXRequest,
        order_id: RowId,
        upstream_order_id: RowId,
        data: Form[ReasonForm],
        upstream_desk: NamedDependency[UpstreamDesk],
        order_desk: NamedDependency[OrderDesk],
    ) -> Template:
        """Stop waiting for an order placed upstream: then the order can be refunded, delivered by hand or sent to
        its sources again; codes it sends after all go to the pool."""
        await upstream_desk.abandon(order_id, upstream_order_id, data.reason, actor(request))
        return await self._file(order_id, order_desk)

    @post("/{order_id:int}/source-again", guards=[requires(Permission.MANAGE_ORDERS)], status_code=200)
    async def source_again(
        self,
        request: HTMXRequest,
        order_id: RowId,
        upstream_desk: NamedDependency[UpstreamDesk],
        order_desk: NamedDependency[OrderDesk],
    ) -> Template:
        await upstream_desk.source_again(order_id, actor(request))
        return await self._file(order_id, order_desk)

    @post("/{order_id:int}/resend", guards=[requires(Permission.MANAGE_ORDERS)], status_code=200)
    async def resend(self, request: HTMXRequest, order_id: RowId, order_desk: NamedDependency[OrderDesk]) -> Template:
        await order_desk.resend_notification(order_id, actor(request))
        return await self._file(order_id, order_desk)

    @post("/{order_id:int}/cancel", guards=[requires(Permission.MANAGE_ORDERS)], status_code=200)
    async def cancel(
        self, request: HTMXRequest, order_id: RowId, data: Form[ReasonForm], order_desk: NamedDependency[OrderDesk]
    ) -> Template:
        await order_desk.cancel(order_id, data.reason, actor(request))
        return await self._file(order_id, order_desk)

    @post("/{order_id:int}/refund", guards=[requires(Permission.REFUND_ORDERS)], status_code=200)
    async def refund(
        self, request: HTMXRequest, order_id: RowId, data: Form[ReasonForm], order_desk: NamedDependency[OrderDesk]
    ) -> Template:
        await order_desk.refund(order_id, data.reason, actor(request))
        return await self._file(order_id, order_desk)

    @post("/{order_id:int}/extra-payment-returned", guards=[requires(Permission.REFUND_ORDERS)], status_code=200)
    async def extra_payment_returned(
        self, request: HTMXRequest, order_id: RowId, data: Form[ReasonForm], order_desk: NamedDependency[OrderDesk]
    ) -> Template:
        await order_desk.return_extra_payment(order_id, data.reason, actor(request))
        return await self._file(order_id, order_desk)

    @staticmethod
    async def _file(order_id: int, order_desk: OrderDesk) -> Template:
        """After an action: the order's file again, swapped in place of the old one."""
        return Template("orders/_file.html", context={"file": await order_desk.file(order_id)})

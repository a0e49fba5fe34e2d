"""The Open API v1's endpoints (DESIGN.md §4). Every one is behind the signature guard; each reads the signed
caller, asks ApiOrders and answers a schema struct. Errors leave through web.api.errors."""

from __future__ import annotations

import json
from typing import Any

from litestar import Controller, Request, Response, Router, get, post
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency, Provide

from domain.errors import ValidationFailed
from domain.services.api_keys import ApiKeys
from domain.services.api_orders import ApiOrders
from web.api.auth import Caller, caller, signed_by
from web.api.docs import BAD_REQUEST, LOOKUP, NOT_FOUND, PLACING, SECURITY, SIGNED, OrderRequestOperation
from web.api.errors import API_PATH
from web.api.schemas import Balance, Order, ProductList, balance_of, order_of, product_of
from web.auth import base_url

MAX_BODY = 64 * 1024


class OpenApiController(Controller):
    path = "/"

    @get("/products", operation_id="listProducts", tags=["Catalog"], summary="The caller's catalog", responses=SIGNED)
    async def products(self, caller: Caller, api_orders: NamedDependency[ApiOrders]) -> ProductList:
        """Every product the caller may order, with the price it pays for one unit and its stock."""
        return ProductList([product_of(listing) for listing in await api_orders.catalog(caller.reseller)])

    @post(
        "/orders",
        operation_id="placeOrder",
        tags=["Orders"],
        summary="Place an order",
        operation_class=OrderRequestOperation,
        responses=SIGNED | PLACING,
    )
    async def place(
        self, request: Request[Any, Any, Any], caller: Caller, api_orders: NamedDependency[ApiOrders]
    ) -> Response[Order]:
        """Paid from the balance (and credit) and, for codes in stock, delivered within the request: the answer is
        201 with the order delivered and its codes. Products delivered later answer processing; their outcome is
        called back (callback_url) and can be polled. The same request again answers 200 with the same order."""
        made, created = await api_orders.place(caller.key, caller.reseller, _json(caller.body), caller.actor)
        answer = order_of(made, base_url(request))
        if not created:
            return Response(answer, status_code=200)
        return Response(answer, status_code=201, headers={"Location": f"{API_PATH}/orders/{answer.order_no}"})

    @get(
        "/orders/{order_no:str}",
        operation_id="getOrder",
        tags=["Orders"],
        summary="An order by its number",
        responses=SIGNED | BAD_REQUEST | NOT_FOUND,
    )
    async def order(
        self,
        request: Request[Any, Any, Any],
        order_no: str,
        caller: Caller,
        api_orders: NamedDependency[ApiOrders],
    ) -> Order:
        """Its status and, once delivered, its codes."""
        return order_of(await api_orders.get(caller.reseller_id, order_no, caller.actor), base_url(request))

    @get(
        "/orders",
        operation_id="findOrder",
        tags=["Orders"],
        summary="An order by out_trade_no",
        responses=SIGNED | BAD_REQUEST | NOT_FOUND | LOOKUP,
    )
    async def order_by_out_trade_no(
        self,
        request: Request[Any, Any, Any],
        caller: Caller,
        api_orders: NamedDependency[ApiOrders],
        out_trade_no: str = "",
    ) -> Order:
        """The order the caller placed under its own id: what to ask after a timeout left the answer unknown."""
        if not out_trade_no:
            raise ValidationFailed({"out_trade_no": "required"})
        found = await api_orders.by_out_trade_no(caller.reseller_id, out_trade_no, caller.actor)
        return order_of(found, base_url(request))

    @get("/balance", operation_id="getBalance", tags=["Balance"], summary="The caller's balance", responses=SIGNED)
    async def balance(self, caller: Caller, api_orders: NamedDependency[ApiOrders]) -> Balance:
        """What the caller has in its wallet, its credit limit, and what it can still spend."""
        return balance_of(await api_orders.balance(caller.reseller))


def _json(body: bytes) -> Any:
    """The body as JSON; ApiOrderRequest.parse says what is wrong with its fields."""
    try:
        return json.loads(body)
    except ValueError:
        raise ValidationFailed({"body": "invalid_json"}) from None


def api_router(api_keys: ApiKeys) -> Router:
    """/api/v1: signed (no session, no CSRF token: the signature covers the request), documented in the schema,
    never cached (answers hold codes)."""
    return Router(
        API_PATH,
        route_handlers=[OpenApiController],
        guards=[signed_by(api_keys)],
        dependencies={"caller": Provide(caller, sync_to_thread=False)},
        include_in_schema=True,
        security=SECURITY,
        cache_control=CacheControlHeader(no_store=True),
        request_max_body_size=MAX_BODY,
        opt={"exclude_from_auth": True, "exclude_from_csrf": True},
    )

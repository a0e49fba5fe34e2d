"""Orders, their timeline and their gateway payments in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, insert, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db.engine import inserts_by_dialect
from adapters.db.tables import order_events, order_payments, orders, products, webhook_messages
from domain.catalog import DeliveryKind
from domain.money import Money
from domain.orders import (
    UNPAID,
    ApiPlacement,
    Attention,
    Channel,
    Contact,
    ContactKind,
    Order,
    OrderEvent,
    OrderQuery,
    OrderStatus,
    OutTradeNoTaken,
)
from domain.paging import Page, PageRequest
from domain.payments import PaymentNotice
from domain.webhooks import WebhookMessage

ADVISORY_BUYER = 0x4B52  # advisory lock namespace: placements by one contact, address or device, one at a time
HOLDING_COLUMNS = {"contact": orders.c.contact, "ip": orders.c.buyer_ip, "device": orders.c.device}


class SqlOrders:
    def __init__(self, connection: AsyncConnection, *, lock: bool) -> None:
        self._db = connection
        # Row locks on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers.
        self._lock = lock

    async def add(self, order: Order) -> Order:
        """Raises OutTradeNoTaken when the seller already has an order with the same out_trade_no (the
        transaction stays usable: the insert did nothing — no savepoint needed, nor its two round trips)."""
        if order.api is None:
            new_id = (await self._db.execute(_INSERT, _values(order))).scalar_one()
        else:
            statement = _INSERT_UNLESS_TAKEN[self._db.dialect.name]
            new_id = (await self._db.execute(statement, _values(order))).scalar_one_or_none()
            if new_id is None:  # a concurrent insert of the same out_trade_no waited for, and committed
                raise OutTradeNoTaken(order.api.out_trade_no)
        order.id = new_id
        await self._append(order)
        return order

    async def get(self, order_id: int) -> Order | None:
        return await self._one(_BY_ID, {"b_id": order_id})

    async def by_number(self, number: str) -> Order | None:
        return await self._one(_BY_NUMBER, {"b_number": number})

    async def save(self, order: Order) -> None:
        await self._db.execute(_UPDATE, _values(order) | {"saved_order_id": order.id})
        await self._append(order)

    async def by_out_trade_no(self, seller_id: int, out_trade_no: str) -> Order | None:
        return await self._one(_BY_OUT_TRADE_NO, {"b_seller": seller_id, "b_out_trade_no": out_trade_no})

    async def _append(self, order: Order) -> None:
        """What the order raised since it was loaded: timeline events, and callbacks owed to its API caller."""
        await self.add_events(order.id or 0, order.new_events)
        order.new_events.clear()
        if order.new_callbacks:
            now = order.updated_at or order.created_at
            messages = [WebhookMessage.for_order(order, status, now) for status in order.new_callbacks]
            await self._db.execute(insert(webhook_messages), [_message_values(m) for m in messages])
            order.new_callbacks.clear()

    async def lock_buyer(self, keys: dict[str, str]) -> None:
        if self._db.dialect.name != "postgresql":
            return  # SQLite: BEGIN IMMEDIATE serialises every writer already
        for key in sorted(f"{kind}:{value}" for kind, value in keys.items()):  # one order: no deadlocks
            await self._db.execute(select(func.pg_advisory_xact_lock(ADVISORY_BUYER, func.hashtext(key))))

    async def unpaid_units(self, keys: dict[str, str]) -> dict[str, int]:
        held: dict[str, int] = {}
        for kind, value in keys.items():
            column = HOLDING_COLUMNS[kind]
            held[kind] = (
                await self._db.execute(
                    select(func.coalesce(func.sum(orders.c.quantity), 0)).where(
                        column == value, orders.c.status.in_([status.value for status in (*UNPAID, OrderStatus.HELD)])
                    )
                )
            ).scalar_one()
        return held

    async def paid_orders_of_contact(self, contact: str) -> int:
        paid = select(func.count()).where(orders.c.contact == contact, orders.c.paid_at.is_not(None))
        return (await self._db.execute(paid)).scalar_one()

    async def recent(self, limit: int) -> list[Order]:
        rows = await self._db.execute(
            select(orders).order_by(orders.c.created_at.desc(), orders.c.id.desc()).limit(limit)
        )
        return [_order(row) for row in rows.mappings()]

    async def first_paid(self, contacts: Sequence[str]) -> dict[str, datetime]:
        wanted = sorted(set(contacts))
        if not wanted:
            return {}
        first = (
            select(orders.c.contact, func.min(orders.c.paid_at))
            .where(orders.c.contact.in_(wanted), orders.c.paid_at.is_not(None))
            .group_by(orders.c.contact)
        )
        return {contact: paid_at for contact, paid_at in (await self._db.execute(first)).all()}

    async def due_to_expire(self, now: datetime, limit: int) -> list[int]:
        unpaid = orders.c.status.in_([status.value for status in UNPAID])
        return await self._ids(orders.c.expires_at, limit, unpaid, orders.c.expires_at <= now)

    async def waiting_for_delivery(self, paid_before: datetime, limit: int) -> list[int]:
        paid = orders.c.status == OrderStatus.PAID.value
        return await self._ids(
            orders.c.paid_at, limit, paid, orders.c.attention.is_(None), orders.c.paid_at <= paid_before
        )

    async def waiting_for_notification(self, updated_before: datetime, limit: int) -> list[int]:
        pending = orders.c.notification == "pending"
        delivered = orders.c.delivered_units > 0
        return await self._ids(orders.c.updated_at, limit, pending, delivered, orders.c.updated_at <= updated_before)

    async def record_payment(self, order_id: int, notice: PaymentNotice, now: datetime) -> bool:
        recorded = await self._db.execute(
            _RECORD_PAYMENT[self._db.dialect.name],
            {
                "order_id": order_id,
                "gateway": notice.gateway,
                "trade_no": notice.trade_no,
                "amount_minor": notice.amount.minor,
                "currency": notice.amount.currency,
                "received_at": now,
            },
        )
        return recorded.first() is not None

    async def search(self, query: OrderQuery, page: PageRequest) -> Page[Order]:
        conditions = _conditions(query)
        total = (await self._db.execute(select(func.count()).select_from(orders).where(*conditions))).scalar_one()
        order = (orders.c.risk_score.desc(), orders.c.id) if query.riskiest_first else (orders.c.id.desc(),)
        rows = await self._db.execute(
            select(orders).where(*conditions).order_by(*order).limit(page.size).offset(page.offset)
        )
        return Page([_order(row) for row in rows.mappings()], total, page)

    async def events(self, order_id: int) -> list[OrderEvent]:
        rows = await self._db.execute(
            select(order_events).where(order_events.c.order_id == order_id).order_by(order_events.c.id)
        )
        return [OrderEvent(row.at, row.kind, row.actor, dict(row.details), row.id) for row in rows]

    async def add_events(self, order_id: int, events: Sequence[OrderEvent]) -> None:
        if events:  # one statement, its compilation cached (a multi-row VALUES is built anew for each call)
            rows = [
                {"order_id": order_id, "at": e.at, "kind": e.kind, "actor": e.actor, "details": e.details}
                for e in events
            ]
            await self._db.execute(_INSERT_EVENTS, rows if len(rows) > 1 else rows[0])

    async def _ids(self, oldest_first: ColumnElement[Any], limit: int, *conditions: ColumnElement[bool]) -> list[int]:
        rows = await self._db.execute(select(orders.c.id).where(*conditions).order_by(oldest_first).limit(limit))
        return list(rows.scalars())

    async def _one(self, lookup: tuple[Select[Any], Select[Any]], params: dict[str, Any]) -> Order | None:
        row = (await self._db.execute(lookup[self._lock], params)).mappings().first()
        return _order(row) if row else None


# Statements built once, executed with parameters: their compilation is cached, and nothing is constructed per call.
_INSERT = insert(orders).returning(orders.c.id)
_INSERT_UNLESS_TAKEN = {
    name: insert_.on_conflict_do_nothing(index_elements=[orders.c.seller_id, orders.c.out_trade_no]).returning(
        orders.c.id
    )
    for name, insert_ in inserts_by_dialect(orders).items()
}
_UPDATE = update(orders).where(orders.c.id == bindparam("saved_order_id"))
_RECORD_PAYMENT = {  # a payment notified again is recorded once
    name: insert_.on_conflict_do_nothing(
        index_elements=[order_payments.c.gateway, order_payments.c.trade_no]
    ).returning(order_payments.c.id)
    for name, insert_ in inserts_by_dialect(order_payments).items()
}
_INSERT_EVENTS = insert(order_events)


def _lookup(condition: ColumnElement[bool]) -> tuple[Select[Any], Select[Any]]:
    """One order by `condition`: as read (index False) and locked FOR UPDATE (True)."""
    query = select(orders).where(condition)
    return query, query.with_for_update()


_BY_ID = _lookup(orders.c.id == bindparam("b_id"))
_BY_NUMBER = _lookup(orders.c.number == bindparam("b_number"))
_BY_OUT_TRADE_NO = _lookup(
    (orders.c.seller_id == bindparam("b_seller")) & (orders.c.out_trade_no == bindparam("b_out_trade_no"))
)


def _conditions(query: OrderQuery) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if query.status is not None:
        conditions.append(orders.c.status == query.status.value)
    if sku := query.sku.strip().upper():
        conditions.append(orders.c.product_id.in_(select(products.c.id).where(products.c.sku == sku)))
    if query.placed_from is not None:
        conditions.append(orders.c.created_at >= query.placed_from)
    if query.placed_before is not None:
        conditions.append(orders.c.created_at < query.placed_before)
    if contact := query.contact.strip():
        conditions.append(or_(orders.c.contact == contact, orders.c.contact == contact.lower()))
    if number := query.number.strip():
        conditions.append(orders.c.number == number)
    if query.channel is not None:
        conditions.append(orders.c.channel == query.channel.value)
    if query.seller_id is not None:
        conditions.append(orders.c.seller_id == query.seller_id)
    if query.needs_action:
        conditions.append(or_(orders.c.attention.is_not(None), orders.c.refund_due_minor > 0))
    return conditions


def _values(order: Order) -> dict[str, Any]:
    return {
        "number": order.number,
        "product_id": order.product_id,
        "product_name": order.product_name,
        "delivery_kind": order.delivery_kind.value,
        "quantity": order.quantity,
        "unit_price_minor": order.unit_price.minor,
        "currency": order.unit_price.currency,
        "contact_kind": order.contact.kind.value,
        "contact": order.contact.value,
        "recharge_account": order.recharge_account,
        "channel": order.channel.value,
        "buyer_ip": order.buyer_ip,
        "device": order.device,
        "status": order.status.value,
        "attention": order.attention.value if order.attention else None,
        "created_at": order.created_at,
        "expires_at": order.expires_at,
        "paid_at": order.paid_at,
        "paid_minor": order.paid.minor if order.paid else None,
        "payment_method": order.payment_method,
        "delivered_units": order.delivered_units,
        "refund_due_minor": order.refund_due.minor if order.refund_due else None,
        "notification": order.notification,
        "seller_id": order.seller_id,
        "chain": [[reseller_id, cost.minor] for reseller_id, cost in order.chain] or None,
        "api_key_id": order.api.api_key_id if order.api else None,
        "out_trade_no": order.api.out_trade_no if order.api else None,
        "request_hash": order.api.request_hash if order.api else None,
        "callback_url": order.api.callback_url if order.api else None,
        "risk_reasons": list(order.risk_reasons) or None,
        "risk_score": order.risk_score,
        "updated_at": order.updated_at or order.created_at,
    }


def _order(row: RowMapping) -> Order:
    return Order(
        id=row["id"],
        number=row["number"],
        product_id=row["product_id"],
        product_name=row["product_name"],
        delivery_kind=DeliveryKind(row["delivery_kind"]),
        quantity=row["quantity"],
        unit_price=Money(row["unit_price_minor"], row["currency"]),
        contact=Contact(ContactKind(row["contact_kind"]), row["contact"]),
        channel=Channel(row["channel"]),
        status=OrderStatus(row["status"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        recharge_account=row["recharge_account"],
        buyer_ip=row["buyer_ip"],
        device=row["device"],
        attention=Attention(row["attention"]) if row["attention"] else None,
        paid_at=row["paid_at"],
        paid=Money(row["paid_minor"], row["currency"]) if row["paid_minor"] is not None else None,
        payment_method=row["payment_method"],
        delivered_units=row["delivered_units"],
        refund_due=Money(row["refund_due_minor"], row["currency"]) if row["refund_due_minor"] else None,
        notification=row["notification"],
        seller_id=row["seller_id"],
        chain=tuple((reseller_id, Money(cost, row["currency"])) for reseller_id, cost in row["chain"] or ()),
        api=(
            ApiPlacement(row["api_key_id"], row["out_trade_no"], row["request_hash"], row["callback_url"] or "")
            if row["api_key_id"] is not None
            else None
        ),
        risk_reasons=tuple(row["risk_reasons"] or ()),
        risk_score=row["risk_score"],
        updated_at=row["updated_at"],
    )


def _message_values(message: WebhookMessage) -> dict[str, Any]:
    return {
        "msg_id": message.msg_id,
        "order_id": message.order_id,
        "api_key_id": message.api_key_id,
        "event": message.event,
        "url": message.url,
        "payload": message.payload,
        "status": message.status.value,
        "attempts": message.attempts,
        "created_at": message.created_at,
    }

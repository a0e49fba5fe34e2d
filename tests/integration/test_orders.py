"""Orders on real SQLite and PostgreSQL: reservation at placement, expiry, idempotent payment notices under
a real race, late payments, exactly-once delivery under concurrent workers, the sweeper, staff actions."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.pool import NullPool

from adapters.db.engine import create_engine
from adapters.db.tables import codes, deliveries, order_payments
from adapters.db.uow import SqlUnitOfWorkFactory
from domain.audit import Actor
from domain.codepool import BatchDetails, CodeState, OutOfStock
from domain.ledger import Account, AccountKind
from domain.money import Money
from domain.orders import Attention, OrderQuery, OrderStatus, TooManyUnpaid
from domain.paging import PageRequest
from domain.payments import PaymentRejected
from domain.services.ordering import NoSuchOrder
from tests.integration.shopping import RecordedJobs, assert_ledger_consistent, buy, notice, stocked


class ShiftedClock:
    """The system clock, shifted: what the sweeper sees some time from now."""

    def __init__(self, ahead: timedelta) -> None:
        self.ahead = ahead

    def now(self) -> datetime:
        return datetime.now(UTC) + self.ahead


@dataclass
class Shop:
    """The order services of one container, with their queue recorded instead of sent."""

    container: object
    jobs: RecordedJobs

    def __getattr__(self, name: str):
        return replace(getattr(self.container, name), jobs=self.jobs)


@pytest.fixture
def shop(container) -> Shop:
    return Shop(container, RecordedJobs())


async def count(container, table, **where) -> int:
    async with container.engine.connect() as connection:
        query = select(func.count()).select_from(table)
        for column, value in where.items():
            query = query.where(table.c[column] == value)
        return (await connection.execute(query)).scalar_one()


async def _bare(container, number: str):
    async with container.ordering.uow(read_only=True) as uow:
        return await uow.orders.by_number(number)


async def test_placing_reserves_stock_and_expiry_gives_it_back(shop, container):
    product_id = await stocked(container, count=3)
    order = await shop.ordering.place(buy(2))
    assert order.status is OrderStatus.AWAITING_PAYMENT
    assert await count(container, codes, state=CodeState.RESERVED.value, holder=order.holder) == 2
    assert await shop.ordering.expire_due() == 0, "not yet"
    later = replace(shop.ordering, clock=ShiftedClock(timedelta(minutes=16)))
    assert await later.expire_due() == 1
    assert (await _bare(container, order.number)).status is OrderStatus.EXPIRED
    assert (await container.stock.available([product_id]))[product_id] == 3


async def test_stock_is_reserved_all_or_none(shop, container):
    await stocked(container, count=2)
    with pytest.raises(OutOfStock):
        await shop.ordering.place(buy(3))
    assert await count(container, codes, state=CodeState.RESERVED.value) == 0
    found = await container.order_desk.search(OrderQuery(), PageRequest(1, 50))
    assert found.total == 0, "an order that could not reserve is not kept"


async def test_a_buyer_cannot_hold_more_than_the_unpaid_cap(shop, container):
    await stocked(container, count=30)
    await shop.ordering.place(buy(6, "a@example.com", ip="10.0.0.1", device="dev-a"))
    await shop.ordering.place(buy(4, "a@example.com", ip="10.0.0.2"))
    with pytest.raises(TooManyUnpaid) as by_contact:
        await shop.ordering.place(buy(1, "a@example.com", ip="10.0.0.3"))
    assert by_contact.value.params["key"] == "contact"
    await shop.ordering.place(buy(4, "b@example.com", ip="10.0.0.1"))
    with pytest.raises(TooManyUnpaid) as by_ip:
        await shop.ordering.place(buy(1, "c@example.com", ip="10.0.0.1"))
    assert by_ip.value.params["key"] == "ip"
    with pytest.raises(TooManyUnpaid) as by_device:
        await shop.ordering.place(buy(5, "d@example.com", ip="10.0.0.9", device="dev-a"))
    assert by_device.value.params["key"] == "device"
    await shop.ordering.place(buy(4, "d@example.com", ip="10.0.0.9", device="dev-a"))  # 6 + 4 = the cap


async def test_ten_concurrent_identical_notices_confirm_once(shop, container, settings):
    await stocked(container, count=3)
    order = await shop.ordering.place(buy(2))
    params = notice(container, order)
    engines = [create_engine(settings.effective_database_url, poolclass=NullPool) for _ in range(10)]
    racers = [replace(shop.ordering, uow=SqlUnitOfWorkFactory(engine)) for engine in engines]
    try:
        paid = await asyncio.gather(*(racer.pay(dict(params)) for racer in racers))
    finally:
        for engine in engines:
            await engine.dispose()
    assert {o.status for o in paid} == {OrderStatus.PAID}
    assert await count(container, order_payments) == 1
    assert shop.jobs.delivered == [order.id], "one delivery is queued, however many notices came"
    assert [e.kind for e in await _events(container, order.id)].count("payment_received") == 1


async def test_rejected_notices_change_nothing(shop, container):
    await stocked(container)
    order = await shop.ordering.place(buy(1))
    rejected = {
        "bad_signature": notice(container, order, key="not-the-merchant-key"),
        "wrong_merchant": notice(container, order, pid="9999"),
        "not_success": notice(container, order, trade_status="WAIT_BUYER_PAY"),
        "unknown_order": notice(container, order, out_trade_no="2611010000000000"),
        "wrong_amount": notice(container, order, money="0.01"),
    }
    tampered = notice(container, order)
    tampered["money"] = "0.01"  # changed after signing
    rejected["tampered"] = tampered
    for params in rejected.values():
        with pytest.raises(PaymentRejected):
            await shop.ordering.pay(params)
    assert (await _bare(container, order.number)).status is OrderStatus.AWAITING_PAYMENT
    assert await count(container, order_payments) == 0 and shop.jobs.delivered == []
    async with container.ordering.uow(read_only=True) as uow:
        entries = [e for e in await uow.audit.page(before_id=None, limit=50) if e.action == "payment.rejected"]
    # Signed but refused notices are audited; unsigned ones (anyone can send them) are only logged.
    assert sorted(e.details["reason"] for e in entries) == ["unknown_order", "wrong_amount"]


async def test_concurrent_deliveries_deliver_each_unit_once(shop, container, settings):
    await stocked(container, count=4)
    order = await shop.ordering.place(buy(3))
    await shop.ordering.pay(notice(container, order))
    engines = [create_engine(settings.effective_database_url, poolclass=NullPool) for _ in range(6)]
    workers = [replace(shop.delivery, uow=SqlUnitOfWorkFactory(engine)) for engine in engines]
    try:
        await asyncio.gather(*(worker.deliver(order.id) for worker in workers))
    finally:
        for engine in engines:
            await engine.dispose()
    assert (await _bare(container, order.number)).status is OrderStatus.DELIVERED
    assert await count(container, deliveries, order_id=order.id) == 3
    assert await count(container, codes, state=CodeState.SOLD.value) == 3
    assert shop.jobs.notified == [order.id], "one mail"
    await shop.delivery.deliver(order.id)  # and once more, later: nothing happens
    assert await count(container, deliveries) == 3


async def test_a_lost_delivery_message_is_swept_up(shop, container):
    await stocked(container)
    order = await shop.ordering.place(buy(1))
    await shop.ordering.pay(notice(container, order))
    shop.jobs.delivered.clear()  # the message is lost
    assert await shop.delivery.sweep() == 0, "a fresh payment is left to its own message"
    later = replace(shop.delivery, clock=ShiftedClock(timedelta(seconds=10)))
    assert await later.sweep() == 1 and shop.jobs.delivered == [order.id]
    assert await later.sweep() == 0, "not again at every sweep: a lagging queue is not flooded with copies"
    much_later = replace(later, clock=ShiftedClock(timedelta(seconds=25)))
    assert await much_later.sweep() == 1, "but again while it stays undelivered"
    await shop.delivery.deliver(order.id)
    assert await replace(later, clock=ShiftedClock(timedelta(minutes=5))).sweep() == 0, "delivered: never again"


async def test_a_late_payment_is_delivered_when_stock_allows(shop, container):
    await stocked(container, count=1)
    order = await shop.ordering.place(buy(1))
    await replace(shop.ordering, clock=ShiftedClock(timedelta(minutes=16))).expire_due()
    paid = await shop.ordering.pay(notice(container, order))
    assert paid.status is OrderStatus.PAID and paid.attention is None
    await shop.delivery.deliver(order.id)
    assert (await _bare(container, order.number)).status is OrderStatus.DELIVERED
    kinds = [e.kind for e in await _events(container, order.id)]
    assert "stock_reserved_again" in kinds


async def test_a_late_payment_without_stock_waits_for_staff_then_is_delivered_from_new_stock(shop, container):
    product_id = await stocked(container, count=1)
    order = await shop.ordering.place(buy(1))
    await replace(shop.ordering, clock=ShiftedClock(timedelta(minutes=16))).expire_due()
    await shop.ordering.place(buy(1, "other@example.com"))  # someone else takes the last code
    paid = await shop.ordering.pay(notice(container, order))
    assert paid.status is OrderStatus.PAID and paid.attention is Attention.OUT_OF_STOCK
    assert shop.jobs.delivered == [], "nothing for a worker: staff decide"
    queue = await container.order_desk.search(OrderQuery(needs_action=True), PageRequest(1, 50))
    assert [o.number for o in queue.items] == [order.number]
    with pytest.raises(OutOfStock):
        await shop.delivery.retry_from_stock(order.id, Actor.cli())
    await container.stock.add_codes(product_id, [(1, "NEW-STOCK-1", "")], BatchDetails("t", Money(1)), Actor.cli())
    done = await shop.delivery.retry_from_stock(order.id, Actor.cli())
    assert done.status is OrderStatus.DELIVERED and done.attention is None


async def test_a_second_different_payment_is_owed_back_and_does_not_hold_up_delivery(shop, container):
    await stocked(container)
    order = await shop.ordering.place(buy(1))
    await shop.ordering.pay(notice(container, order, trade_no="T-1"))
    again = await shop.ordering.pay(notice(container, order, trade_no="T-2"))
    assert again.status is OrderStatus.PAID and again.attention is None and again.refund_due == Money(1980)
    assert await count(container, order_payments) == 2
    await shop.delivery.deliver(order.id)
    delivered = await _bare(container, order.number)
    assert delivered.status is OrderStatus.DELIVERED and delivered.refund_due == Money(1980)
    queue = await container.order_desk.search(OrderQuery(needs_action=True), PageRequest(1, 50))
    assert [o.number for o in queue.items] == [order.number], "still waiting for staff to return the money"
    settled = await container.order_desk.return_extra_payment(order.id, "returned in the gateway", Actor.cli())
    assert settled.refund_due is None and settled.status is OrderStatus.DELIVERED
    assert (await container.order_desk.search(OrderQuery(needs_action=True), PageRequest(1, 50))).total == 0
    async with container.ordering.uow(read_only=True) as uow:
        assert await uow.ledger.balance(Account(AccountKind.GATEWAY_RECEIPTS)) == -1980, "one payment kept"
        assert await uow.ledger.balance(Account(AccountKind.BUYER_CLEARING)) == 0
    await assert_ledger_consistent(container)


async def test_every_delivery_is_mailed_and_lost_mails_are_swept_up(shop, container, settings):
    await stocked(container, sku="HAND-2", count=0, kind="manual")
    order = await shop.ordering.place(buy(2, "twice@example.com", sku="HAND-2"))
    await shop.ordering.pay(notice(container, order))
    await shop.delivery.deliver(order.id)
    notifications = replace(container.notifications, jobs=shop.jobs)
    await shop.delivery.fulfil(order.id, ["FIRST-CODE"], Actor.cli())
    await notifications.notify(order.id)
    await shop.delivery.fulfil(order.id, ["SECOND-CODE"], Actor.cli())
    assert (await _bare(container, order.number)).notification == "pending", "the second delivery is news too"
    shop.jobs.notified.clear()  # its message is lost
    assert await notifications.sweep() == 0, "a fresh delivery is left to its own message"
    later = replace(notifications, clock=ShiftedClock(timedelta(minutes=1)))
    assert await later.sweep() == 1 and shop.jobs.notified == [order.id]
    await notifications.notify(order.id)
    assert len(list((settings.var_dir / "mail").glob("*.eml"))) == 2
    assert await replace(later, clock=ShiftedClock(timedelta(minutes=5))).sweep() == 0


async def test_manual_products_are_fulfilled_by_hand_and_refunds_withdraw_the_links(shop, container):
    await stocked(container, sku="HAND-1", count=0, kind="manual")
    order = await shop.ordering.place(buy(2, sku="HAND-1"))
    await shop.ordering.pay(notice(container, order))
    await shop.delivery.deliver(order.id)
    waiting = await _bare(container, order.number)
    assert waiting.status is OrderStatus.DELIVERING and waiting.attention is Attention.FULFIL
    half = await shop.delivery.fulfil(order.id, ["TYPED-CODE-1,PIN-1", ""], Actor.cli())
    assert half.status is OrderStatus.PARTIALLY_DELIVERED
    done = await shop.delivery.fulfil(order.id, ["TYPED-CODE-2"], Actor.cli())
    assert done.status is OrderStatus.DELIVERED
    tokens = await tokens_of(container, done)
    first = await container.redemption.view(tokens[0])
    assert (first.secret.number, first.secret.pin) == ("TYPED-CODE-1", "PIN-1")
    await container.order_desk.refund(order.id, "buyer changed their mind", Actor.cli())
    assert (await container.redemption.view(tokens[0])).withdrawn
    assert await tokens_of(container, await _bare(container, order.number)) == []


async def test_reveals_are_counted_and_logged(shop, container):
    await stocked(container)
    order = await shop.ordering.place(buy(1))
    await shop.ordering.pay(notice(container, order))
    await shop.delivery.deliver(order.id)
    delivered = await _bare(container, order.number)
    (token,) = await tokens_of(container, delivered)
    view = await container.redemption.view(token)
    assert view.secret.number == "IQ-M-CODE-0000" and view.unit.reveals == 0
    await container.redemption.reveal(token, "10.1.2.3")
    assert (await container.redemption.view(token)).unit.reveals == 1
    revealed = [e for e in await _events(container, order.id) if e.kind == "revealed"]
    assert revealed[0].details == {"unit": 1, "ip": "10.1.2.3"}
    with pytest.raises(Exception) as unknown:
        await container.redemption.view(token[:-2] + "xx")
    assert unknown.value.code == "not_found"


async def test_the_buyer_is_mailed_the_links_and_phone_buyers_are_not(shop, container, settings):
    await stocked(container)
    by_mail = await shop.ordering.place(buy(1, "mail@example.com"))
    by_phone = await shop.ordering.place(buy(1, "13800138000"))
    for order in (by_mail, by_phone):
        await shop.ordering.pay(notice(container, order, trade_no=f"T-{order.number}"))
        await shop.delivery.deliver(order.id)
        await container.notifications.notify(order.id)
    assert (await _bare(container, by_mail.number)).notification == "sent"
    assert (await _bare(container, by_phone.number)).notification == "not_applicable"
    (mail,) = (settings.var_dir / "mail").glob("*.eml")
    (token,) = await tokens_of(container, await _bare(container, by_mail.number))
    text = mail.read_text()
    assert "To: mail@example.com" in text and f"/r/{token}" in text
    assert "IQ-M-CODE" not in text, "the mail carries links, never codes"


async def test_lookup_answers_the_same_for_an_unknown_order_and_a_wrong_contact(shop, container):
    await stocked(container)
    order = await shop.ordering.place(buy(1, "Mixed@Example.com"))
    found, key = await shop.ordering.look_up(f" {order.number} ", "mixed@example.com")
    assert found.number == order.number
    assert (await shop.ordering.view(order.number, key)).order.number == order.number
    for number, contact in ((order.number, "other@example.com"), ("2611010000000000", "mixed@example.com")):
        with pytest.raises(NoSuchOrder):
            await shop.ordering.look_up(number, contact)
    with pytest.raises(NoSuchOrder):
        await shop.ordering.view(order.number, key[:-1] + ("A" if key[-1] != "A" else "B"))


async def tokens_of(container, order) -> list[str]:
    """The link tokens the buyer's order page shows."""
    return (await container.ordering.view(order.number, container.ordering.page_key(order))).tokens


async def _events(container, order_id: int):
    async with container.ordering.uow(read_only=True) as uow:
        return await uow.orders.events(order_id)


async def test_the_ledger_follows_the_money_of_a_paid_delivered_and_refunded_order(shop, container):
    await stocked(container)  # codes cost 15.00 each, sold at 19.80
    order = await shop.ordering.place(buy(2))
    await shop.ordering.pay(notice(container, order))
    await shop.delivery.deliver(order.id)
    kinds = (AccountKind.GATEWAY_RECEIPTS, AccountKind.BUYER_CLEARING, AccountKind.SUPPLIER_PAYABLE)
    accounts = {kind: Account(kind) for kind in (*kinds, AccountKind.PLATFORM_REVENUE)}

    async def balances() -> dict[AccountKind, int]:
        async with container.ordering.uow(read_only=True) as uow:
            return {kind: await uow.ledger.balance(account) for kind, account in accounts.items()}

    assert await balances() == {
        AccountKind.GATEWAY_RECEIPTS: -3960,
        AccountKind.BUYER_CLEARING: 0,
        AccountKind.SUPPLIER_PAYABLE: 3000,
        AccountKind.PLATFORM_REVENUE: 960,
    }
    await assert_ledger_consistent(container)
    await container.order_desk.refund(order.id, "faulty codes", Actor.cli())
    assert set((await balances()).values()) == {0}
    await assert_ledger_consistent(container)

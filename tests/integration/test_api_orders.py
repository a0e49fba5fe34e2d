"""API orders on the real databases (SQLite and PostgreSQL): duplicates of one out_trade_no racing each other,
each on its own connection, make one order charged once — the same request answered with that order, another
request under the same id refused — and the ledger balances afterwards."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any

import pytest
from sqlalchemy.pool import NullPool

from adapters.db.engine import create_engine
from adapters.db.uow import SqlUnitOfWorkFactory
from domain.api import ApiKey
from domain.audit import Actor
from domain.codepool import OutOfStock
from domain.errors import ValidationFailed
from domain.ledger import InsufficientBalance
from domain.money import Money
from domain.orders import OrderQuery, OrderStatus, OutTradeNoTaken
from domain.paging import PageRequest
from domain.resellers import Reseller, ResellerDraft
from domain.services.api_orders import ApiOrders
from domain.services.delivery import NothingToFulfil
from tests.integration.shopping import RecordedJobs, assert_ledger_consistent, stocked

CLI = Actor.cli()
RACERS = 20


@dataclass
class Caller:
    reseller: Reseller
    key: ApiKey
    actor: Actor
    product_id: int


@pytest.fixture
async def caller(container) -> Caller:
    product_id = await stocked(container, sku="API-CARD", count=5)  # 19.80 each
    reseller = await container.resellers.create(ResellerDraft("Api Co", "api@example.com"), CLI)
    await container.resellers.top_up(reseller.id, "100", "", CLI)
    made = await container.api_keys.create(reseller.id, "race", "", CLI)
    return Caller(reseller, made.key, Actor.api(made.key.key_id, "127.0.0.1"), product_id)


def racer(container, engine) -> ApiOrders:
    """ApiOrders on a connection of its own, with its queue recorded instead of sent."""
    uow, jobs = SqlUnitOfWorkFactory(engine), RecordedJobs()
    return replace(
        container.api_orders,
        uow=uow,
        jobs=jobs,
        payments=replace(container.api_orders.payments, uow=uow, jobs=jobs),
        delivery=replace(container.api_orders.delivery, uow=uow, jobs=jobs),
    )


async def race(container, settings, bodies: list[dict[str, Any]], caller: Caller) -> list[Any]:
    """Every body placed at once, each by its own racer; each outcome is (order number, created) or the error."""
    engines = [create_engine(settings.effective_database_url, poolclass=NullPool) for _ in bodies]

    async def place(api_orders: ApiOrders, body: dict[str, Any]) -> Any:
        try:
            answer, created = await api_orders.place(caller.key, caller.reseller, body, caller.actor)
        except OutTradeNoTaken as refused:
            return refused.code
        return answer.order.number, created

    try:
        return await asyncio.gather(
            *(place(racer(container, engine), body) for engine, body in zip(engines, bodies, strict=True))
        )
    finally:
        for engine in engines:
            await engine.dispose()


async def orders_of(container, caller: Caller) -> list[Any]:
    return (await container.portal.orders(caller.reseller.id, OrderQuery(), PageRequest(1, 100))).items


@pytest.mark.parametrize("extra_top_up", ["0", "100"], ids=["wallet_for_one", "stock_for_one"])
async def test_racing_duplicates_of_one_request_make_one_order_charged_once(container, settings, caller, extra_top_up):
    """The order takes all the stock, and (without the top-up) all but 1.00 of the wallet: a duplicate that
    comes second finds neither enough balance nor enough codes left, and still answers with the order."""
    if extra_top_up != "0":
        await container.resellers.top_up(caller.reseller.id, extra_top_up, "", CLI)
    body = {"sku": "API-CARD", "quantity": 5, "out_trade_no": "RACE-1"}
    outcomes = await race(container, settings, [dict(body) for _ in range(RACERS)], caller)
    assert sorted(created for _, created in outcomes) == [False] * (RACERS - 1) + [True], outcomes
    assert len({number for number, _ in outcomes}) == 1
    (order,) = await orders_of(container, caller)
    assert (order.number, order.quantity, order.total) == (outcomes[0][0], 5, Money(9900))
    assert order.status is OrderStatus.DELIVERED, "the winner delivered it within its request"
    balance = await container.resellers.balance(caller.reseller.id)
    assert balance == Money(10000 + int(extra_top_up) * 100 - 9900)
    assert (await container.stock.available([caller.product_id])).get(caller.product_id, 0) == 0
    await assert_ledger_consistent(container)

    again, created = await container.api_orders.place(caller.key, caller.reseller, body, caller.actor)
    assert (again.order.number, created, len(again.codes)) == (order.number, False, 5)
    assert await container.resellers.balance(caller.reseller.id) == balance


async def test_racing_different_requests_under_one_id_make_one_order_and_refuse_the_others(container, settings, caller):
    bodies = [{"sku": "API-CARD", "quantity": 1 + n % 2, "out_trade_no": "RACE-2"} for n in range(RACERS)]
    outcomes = await race(container, settings, bodies, caller)
    made = [
        (body, outcome) for body, outcome in zip(bodies, outcomes, strict=True) if outcome != "duplicate_out_trade_no"
    ]
    (order,) = await orders_of(container, caller)
    quantity = order.quantity
    assert [outcome[0] for _, outcome in made] == [order.number] * len(made)
    assert [body["quantity"] for body, _ in made] == [quantity] * (RACERS // 2), "every same request got the order"
    assert sum(created for _, (_, created) in made) == 1
    assert await container.resellers.balance(caller.reseller.id) == Money(10000) - order.total
    await assert_ledger_consistent(container)


async def test_what_is_refused_leaves_no_order_no_charge_and_no_held_code(container, caller):
    place = container.api_orders.place
    for body, fields in (
        ({"sku": "NOPE", "out_trade_no": "X-1"}, {"sku": "unknown_sku"}),
        ({"sku": "API-CARD", "quantity": 99, "out_trade_no": "X-2"}, {"quantity": "too_many"}),
    ):
        with pytest.raises(ValidationFailed) as refused:
            await place(caller.key, caller.reseller, body, caller.actor)
        assert refused.value.errors == fields
    with pytest.raises(InsufficientBalance):  # 6 × 19.80 > 100.00
        await place(
            caller.key, caller.reseller, {"sku": "API-CARD", "quantity": 6, "out_trade_no": "X-3"}, caller.actor
        )
    await container.resellers.top_up(caller.reseller.id, "100", "", CLI)
    with pytest.raises(OutOfStock):  # 5 codes
        await place(
            caller.key, caller.reseller, {"sku": "API-CARD", "quantity": 6, "out_trade_no": "X-3"}, caller.actor
        )
    assert await orders_of(container, caller) == []
    assert await container.resellers.balance(caller.reseller.id) == Money(20000)
    assert (await container.stock.available([caller.product_id]))[caller.product_id] == 5
    await assert_ledger_consistent(container)


class RefusingDelivery:
    """A delivery a rule refuses inside the request (a race with staff, say): the queue finishes it later."""

    async def hand_over(self, order_id: int, reader: Actor) -> None:
        raise NothingToFulfil("not now")

    async def deliver(self, order_id: int) -> None:
        raise NothingToFulfil("not now")


async def test_an_order_made_and_paid_is_answered_even_when_its_delivery_in_the_request_fails(container, caller):
    jobs = RecordedJobs()
    api_orders = replace(
        container.api_orders,
        jobs=jobs,
        payments=replace(container.api_orders.payments, jobs=jobs),
        delivery=RefusingDelivery(),
    )
    body = {"sku": "API-CARD", "quantity": 1, "out_trade_no": "R-REFUSED"}
    answer, created = await api_orders.place(caller.key, caller.reseller, body, caller.actor)
    assert created and answer.order.status is OrderStatus.PAID and answer.codes == []
    assert jobs.delivered == [answer.order.id], "the queue delivers it"
    assert await container.resellers.balance(caller.reseller.id) == Money(10000 - 1980)


async def test_an_order_delivered_within_its_request_is_answered_as_stored_written_down_once_and_not_queued(
    container, caller
):
    jobs = RecordedJobs()
    api_orders = replace(
        container.api_orders,
        jobs=jobs,
        payments=replace(container.api_orders.payments, jobs=jobs),
        delivery=replace(container.api_orders.delivery, jobs=jobs),
    )
    body = {"sku": "api-card", "quantity": 2, "out_trade_no": "IN-REQUEST"}
    answer, created = await api_orders.place(caller.key, caller.reseller, body, caller.actor)
    assert created and answer.order.status is OrderStatus.DELIVERED and answer.sku == "API-CARD"
    assert jobs.delivered == [], "nothing left for the queue"
    audit = await container.operations.audit_page(None, 10)
    assert [(e.action, e.target, e.details) for e in audit if e.action == "code.api_read"] == [
        ("code.api_read", answer.order.number, {"units": 2, "key": caller.actor.name})
    ]
    stored = await api_orders.get(caller.reseller.id, answer.order.number, caller.actor)
    assert [(c.code, c.expires_at, c.token) for c in answer.codes] == [
        (c.code, c.expires_at, c.token) for c in stored.codes
    ]
    assert len({c.code.number for c in answer.codes}) == 2
    assert await container.resellers.balance(caller.reseller.id) == Money(10000 - 2 * 1980)
    await assert_ledger_consistent(container)

"""Reseller wallets on the real ledger (SQLite and PostgreSQL): top-ups and charges post balanced entries,
the cached balance always equals the sum of the entries, and racing charges never spend past the credit."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.pool import NullPool

from adapters.db.engine import create_engine
from adapters.db.uow import SqlUnitOfWorkFactory
from domain.audit import Actor
from domain.errors import ValidationFailed
from domain.ledger import Account, AccountKind, InsufficientBalance
from domain.money import Money
from domain.resellers import ResellerDraft
from domain.services.resellers import charge_wallet
from tests.integration.shopping import RecordedJobs, assert_ledger_consistent, buy, stocked

REVENUE = Account(AccountKind.PLATFORM_REVENUE)


async def charge(uow_factory, reseller_id: int, amount: Money, reference: str) -> None:
    """A wallet charge in its own transaction, as an order payment makes one."""
    async with uow_factory() as uow:
        reseller = await uow.resellers.get(reseller_id)
        await charge_wallet(uow, reseller, amount, REVENUE, now=datetime.now(UTC), actor="test", reference=reference)
        await uow.commit()


async def test_a_top_up_fills_the_wallet_and_a_charge_empties_it(container):
    reseller = await container.resellers.create(ResellerDraft("Shop A", "a@example.com", "50"), Actor.cli())
    assert await container.resellers.top_up(reseller.id, "100", "bank transfer 2611", Actor.cli()) == Money(10000)
    await charge(container.resellers.uow, reseller.id, Money(12000), "order-1")
    assert await container.resellers.balance(reseller.id) == Money(-2000), "into the credit"
    with pytest.raises(InsufficientBalance):
        await charge(container.resellers.uow, reseller.id, Money(3001), "order-2")
    assert await container.resellers.balance(reseller.id) == Money(-2000), "a refused charge changes nothing"
    await assert_ledger_consistent(container)


async def test_resellers_nest_only_as_deep_as_allowed(container):
    top = await container.resellers.create(ResellerDraft("L1", "l1@example.com"), Actor.cli())
    second = await container.resellers.create(ResellerDraft("L2", "l2@example.com", parent_id=top.id), Actor.cli())
    third = await container.resellers.create(ResellerDraft("L3", "l3@example.com", parent_id=second.id), Actor.cli())
    assert (top.depth, second.depth, third.depth) == (1, 2, 3)
    with pytest.raises(ValidationFailed) as caught:
        await container.resellers.create(ResellerDraft("L4", "l4@example.com", parent_id=third.id), Actor.cli())
    assert caught.value.errors == {"parent_id": "too_deep"}


async def test_fifty_racing_charges_against_a_balance_for_ten_spend_exactly_ten(container, settings):
    reseller = await container.resellers.create(ResellerDraft("Racer", "racer@example.com"), Actor.cli())
    await container.resellers.top_up(reseller.id, "100", "covers ten", Actor.cli())
    engines = [create_engine(settings.effective_database_url, poolclass=NullPool) for _ in range(50)]
    racers = [SqlUnitOfWorkFactory(engine) for engine in engines]

    async def race(racer, n: int) -> str:
        try:
            await charge(racer, reseller.id, Money(1000), f"order-{n}")
        except InsufficientBalance as refused:
            return refused.code
        return "charged"

    try:
        outcomes = await asyncio.gather(*(race(racer, n) for n, racer in enumerate(racers)))
    finally:
        for engine in engines:
            await engine.dispose()
    assert outcomes.count("charged") == 10 and outcomes.count("insufficient_balance") == 40
    assert await container.resellers.balance(reseller.id) == Money(0)
    await assert_ledger_consistent(container)


async def test_an_order_paid_from_a_wallet_is_charged_once_and_refunded_through_the_ledger(container, settings):
    await stocked(container, count=3)
    jobs = RecordedJobs()
    ordering, payments = replace(container.ordering, jobs=jobs), replace(container.balance_payments, jobs=jobs)
    reseller = await container.resellers.create(ResellerDraft("Buyer", "buyer@example.com"), Actor.cli())
    await container.resellers.top_up(reseller.id, "30", "", Actor.cli())
    order = await ordering.place(buy(2))  # 2 × 19.80 = 39.60 > 30.00
    with pytest.raises(InsufficientBalance):
        await payments.pay(order.id, reseller.id, Actor.cli())
    await container.resellers.top_up(reseller.id, "10", "", Actor.cli())
    engines = [create_engine(settings.effective_database_url, poolclass=NullPool) for _ in range(8)]
    racers = [replace(payments, uow=SqlUnitOfWorkFactory(engine)) for engine in engines]
    try:
        paid = await asyncio.gather(*(racer.pay(order.id, reseller.id, Actor.cli()) for racer in racers))
    finally:
        for engine in engines:
            await engine.dispose()
    assert {o.payment_method for o in paid} == {"balance"} and jobs.delivered == [order.id]
    assert await container.resellers.balance(reseller.id) == Money(40), "charged once: 40.00 - 39.60"
    clearing = Account(AccountKind.BUYER_CLEARING)
    async with container.ordering.uow(read_only=True) as uow:
        assert await uow.ledger.balance(clearing) == 3960
    await container.order_desk.refund(order.id, "buyer changed their mind", Actor.cli())
    assert await container.resellers.balance(reseller.id) == Money(4000)
    async with container.ordering.uow(read_only=True) as uow:
        assert await uow.ledger.balance(clearing) == 0
        assert [p.kind for p in await uow.ledger.postings(order.number)] == ["purchase", "reversal"]
    await assert_ledger_consistent(container)


async def test_a_statement_opens_with_what_came_before_and_closes_equal_to_the_ledger(container):
    reseller = await container.resellers.create(ResellerDraft("Statement", "s@example.com"), Actor.cli())
    await container.resellers.top_up(reseller.id, "100", "first", Actor.cli())
    await charge(container.resellers.uow, reseller.id, Money(3000), "o-1")
    now = datetime.now(UTC)
    whole = await container.resellers.statement(reseller.id, now - timedelta(hours=1), now + timedelta(hours=1))
    assert (whole.opening, [line.amount for line in whole.lines], whole.closing) == (
        Money(0),
        [Money(10000), Money(-3000)],
        Money(7000),
    )
    later = await container.resellers.statement(reseller.id, now + timedelta(hours=1), now + timedelta(hours=2))
    assert (later.opening, later.lines, later.closing) == (Money(7000), (), Money(7000))
    assert whole.closing == await container.resellers.balance(reseller.id)
    with pytest.raises(ValidationFailed):
        await container.resellers.statement(reseller.id, now, now)

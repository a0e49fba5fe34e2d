"""Fulfilment from upstream suppliers, on SQLite and PostgreSQL, with the upstream's API played by a scripted
fake: the pool first, then each upstream source in order, falling through on refusals, failures and ceilings —
and never buying twice after a timeout."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from domain.audit import Actor
from domain.codepool import CardSecret
from domain.ledger import Account, AccountKind
from domain.money import Money
from domain.orders import Attention, OrderStatus
from domain.suppliers import (
    Listing,
    Upstream,
    UpstreamOrder,
    UpstreamRefused,
    UpstreamStatus,
    UpstreamUnavailable,
)
from tests.integration.shopping import RecordedJobs, assert_ledger_consistent, buy, notice, stocked

CLI = Actor.cli()


@dataclass
class FakeUpstreams:
    """Each upstream (by name) answers orders from a script: a list of outcomes, used up one call at a time —
    "deliver", "process", "out_of_stock", "5xx", "timeout" — and remembers what it made under which id. A find
    can be refused too (`find_refused`: e.g. rate limited)."""

    scripts: dict[str, list[str]] = field(default_factory=dict)
    made: dict[tuple[str, str], UpstreamOrder] = field(default_factory=dict)
    calls: list[tuple[str, str, str]] = field(default_factory=list)  # (upstream, "order"|"find", out_trade_no)
    price: Money = field(default_factory=lambda: Money(1600))
    down: set[str] = field(default_factory=set)  # upstreams that cannot be reached at all (connection refused)
    find_refused: set[str] = field(default_factory=set)

    async def catalog(self, upstream: Upstream, secret: str) -> list[Listing]:
        raise AssertionError("not used here")

    async def order(self, upstream, secret, out_trade_no, sku, quantity, recharge_account, callback_url):
        self.calls.append((upstream.name, "order", out_trade_no))
        if upstream.name in self.down:
            raise UpstreamUnavailable("ConnectError")
        if (upstream.name, out_trade_no) in self.made:
            return self.made[(upstream.name, out_trade_no)]  # idempotent, like the real API
        outcome = self.scripts[upstream.name].pop(0)
        if outcome == "out_of_stock":
            raise UpstreamRefused("out_of_stock")
        if outcome == "5xx":  # it got there and failed: as far as we can tell, it may have made the order
            raise UpstreamUnavailable("HTTP 502", in_flight=True)
        status = UpstreamStatus.PROCESSING if outcome in ("process", "timeout") else UpstreamStatus.DELIVERED
        codes = (
            tuple(CardSecret.of(f"{upstream.name}-{out_trade_no}-{n}", "PIN") for n in range(quantity))
            if status is UpstreamStatus.DELIVERED
            else ()
        )
        self.made[(upstream.name, out_trade_no)] = UpstreamOrder(out_trade_no, "U1", status, self.price, codes)
        if outcome == "timeout":  # made there, but the answer never arrived
            raise UpstreamUnavailable("ReadTimeout", in_flight=True)
        return self.made[(upstream.name, out_trade_no)]

    async def find(self, upstream, secret, out_trade_no) -> UpstreamOrder | None:
        self.calls.append((upstream.name, "find", out_trade_no))
        if upstream.name in self.down:
            raise UpstreamUnavailable("ConnectError")
        if upstream.name in self.find_refused:
            raise UpstreamRefused("rate_limited")
        return self.made.get((upstream.name, out_trade_no))

    def finish(self, name: str, out_trade_no: str, quantity: int) -> None:
        """The upstream delivers an order it had been processing."""
        made = self.made[(name, out_trade_no)]
        codes = tuple(CardSecret.of(f"{name}-late-{n}", "") for n in range(quantity))
        self.made[(name, out_trade_no)] = replace(made, status=UpstreamStatus.DELIVERED, codes=codes)


@dataclass
class Setup:
    product_id: int
    fake: FakeUpstreams
    jobs: RecordedJobs
    ordering: object
    delivery: object
    sourcing: object


@pytest.fixture
async def setup(container) -> Setup:
    product_id = await stocked(container, count=1)  # retail 19.80, one code in the pool at 15.00
    fake, jobs = FakeUpstreams(), RecordedJobs()
    sourcing = replace(container.sourcing, client=fake, jobs=jobs)
    for name in ("alpha", "beta"):
        upstream = await sourcing.add_upstream(name, f"https://{name}.example.com", "kq_" + "A" * 16, "sk_x", "", CLI)
        listing = Listing(upstream.id, "UP-IQ", "iQIYI", Money(1600), "code", True, 100, upstream.created_at)
        async with container.ordering.uow() as uow:
            await uow.suppliers.replace_listings(upstream.id, [listing], upstream.created_at)
            await uow.commit()
    ids = {u.name: str(u.id) for u in await sourcing.upstreams()}
    await sourcing.set_sources(
        product_id, [("pool", "", ""), (ids["alpha"], "UP-IQ", "17.00"), (ids["beta"], "up-iq", "")], CLI
    )
    ordering = replace(container.ordering, jobs=jobs)
    delivery = replace(container.delivery, jobs=jobs, sourcing=sourcing)
    return Setup(product_id, fake, jobs, ordering, delivery, sourcing)


async def paid_order(container, s: Setup, quantity: int):
    order = await s.ordering.place(buy(quantity))
    await s.ordering.pay(notice(container, order, trade_no=f"T-{order.number}"))
    return order


async def current(container, order):
    async with container.ordering.uow(read_only=True) as uow:
        return await uow.orders.get(order.id), await uow.orders.events(order.id)


async def test_the_pool_goes_first_and_the_first_upstream_delivers_the_rest(container, setup):
    setup.fake.scripts = {"alpha": ["deliver"]}
    order = await paid_order(container, setup, 3)  # the pool has one: placed all the same
    await setup.delivery.deliver(order.id)
    done, events = await current(container, order)
    assert (done.status, done.delivered_units) == (OrderStatus.DELIVERED, 3)
    sources = [e.details for e in events if e.kind == "delivered_by_source"]
    assert sources == [{"source": "pool", "units": 1}, {"source": "alpha", "units": 2}]
    assert setup.fake.calls == [("alpha", "order", f"{order.number}-2")]
    async with container.ordering.uow(read_only=True) as uow:
        assert await uow.ledger.balance(Account(AccountKind.SUPPLIER_PAYABLE)) == 1500 + 2 * 1600
    await assert_ledger_consistent(container)


async def test_out_of_stock_and_failing_upstreams_fall_through_to_the_next(container, setup):
    setup.fake.scripts = {"alpha": ["out_of_stock"], "beta": ["deliver"]}
    first = await paid_order(container, setup, 1)  # takes the pool's only code
    second = await paid_order(container, setup, 2)
    await setup.delivery.deliver(second.id)
    done, events = await current(container, second)
    assert done.status is OrderStatus.DELIVERED
    assert [e.details.get("reason") for e in events if e.kind == "source_failed"] == ["out_of_stock"]
    assert [e.details["source"] for e in events if e.kind == "delivered_by_source"] == ["beta"]
    setup.fake.scripts = {"alpha": ["5xx"], "beta": ["deliver"]}
    third = await paid_order(container, setup, 1)
    await setup.delivery.deliver(third.id)
    assert (await current(container, third))[0].status is OrderStatus.DELIVERING, "a 5xx may have made it: wait"
    await setup.delivery.deliver(third.id)  # the sweeper comes back: alpha has none, so beta may buy
    assert (await current(container, third))[0].status is OrderStatus.DELIVERED
    assert ("alpha", "find", f"{third.number}-2") in setup.fake.calls, "asked whether the failed call made it"
    assert (await current(container, first))[0].status is OrderStatus.PAID, "the queue delivers it (recorded here)"


async def test_a_timeout_never_buys_twice(container, setup):
    setup.fake.scripts = {"alpha": ["timeout"], "beta": ["deliver"]}
    await paid_order(container, setup, 1)  # empties the pool
    order = await paid_order(container, setup, 1)
    await setup.delivery.deliver(order.id)
    held, _ = await current(container, order)
    assert held.status is OrderStatus.DELIVERING, "no answer: wait, do not buy elsewhere"
    setup.fake.calls.clear()
    await setup.delivery.deliver(order.id)  # the sweeper (or a webhook) brings it back
    done, events = await current(container, order)
    assert setup.fake.calls == [("alpha", "find", f"{order.number}-2")], "asked, not ordered again; beta untouched"
    assert done.status is OrderStatus.DELIVERING, "still processing there"
    setup.fake.finish("alpha", f"{order.number}-2", 1)
    await setup.delivery.deliver(order.id)
    done, events = await current(container, order)
    assert (done.status, [e.details["source"] for e in events if e.kind == "delivered_by_source"]) == (
        OrderStatus.DELIVERED,
        ["alpha"],
    )


async def test_an_upstream_that_may_have_the_order_is_waited_for_while_it_cannot_be_reached(container, setup):
    setup.fake.scripts = {"alpha": ["timeout"], "beta": ["deliver"]}
    await paid_order(container, setup, 1)  # empties the pool
    order = await paid_order(container, setup, 1)
    await setup.delivery.deliver(order.id)  # alpha made it, but its answer was lost
    setup.fake.down.add("alpha")
    await setup.delivery.deliver(order.id)
    waiting, _ = await current(container, order)
    assert waiting.status is OrderStatus.DELIVERING
    assert [c for c in setup.fake.calls if c[0] == "beta"] == [], "not bought elsewhere while alpha may have it"
    setup.fake.down.clear()
    setup.fake.finish("alpha", f"{order.number}-2", 1)
    await setup.delivery.deliver(order.id)
    done, events = await current(container, order)
    assert done.status is OrderStatus.DELIVERED
    assert [e.details["source"] for e in events if e.kind == "delivered_by_source"] == ["alpha"]


async def test_a_source_above_its_ceiling_is_passed_over_and_when_all_fail_staff_are_asked(container, setup):
    setup.fake.price = Money(1800)
    async with container.ordering.uow() as uow:  # alpha now lists it at 18.00, above its 17.00 ceiling
        alpha = next(u for u in await uow.suppliers.all() if u.name == "alpha")
        dear = Listing(alpha.id, "UP-IQ", "iQIYI", Money(1800), "code", True, 5, alpha.created_at)
        await uow.suppliers.replace_listings(alpha.id, [dear], alpha.created_at)
        await uow.commit()
    setup.fake.scripts = {"beta": ["out_of_stock"]}
    order = await paid_order(container, setup, 2)
    await setup.delivery.deliver(order.id)
    done, events = await current(container, order)
    assert [e.details["reason"] for e in events if e.kind == "source_skipped"] == ["above_cost_ceiling"]
    assert (done.status, done.delivered_units, done.attention) == (
        OrderStatus.PARTIALLY_DELIVERED,
        1,
        Attention.SHORT_DELIVERY,
    )
    assert [c[0] for c in setup.fake.calls] == ["beta"]


async def test_a_product_is_for_sale_while_an_upstream_has_it_though_the_pool_is_empty(container, setup):
    await setup.ordering.place(buy(1))  # holds the pool's only code
    assert (await container.stock.available([setup.product_id])).get(setup.product_id, 0) == 0, "the pool, for staff"
    assert (await container.stock.sellable([setup.product_id]))[setup.product_id] == 200, "alpha's and beta's 100"
    assert (await setup.ordering.place(buy(2))).status is OrderStatus.AWAITING_PAYMENT


async def test_trouble_asking_about_an_order_never_lets_another_source_buy(container, setup):
    setup.fake.scripts = {"alpha": ["timeout"], "beta": ["deliver"]}
    await paid_order(container, setup, 1)  # empties the pool
    order = await paid_order(container, setup, 1)
    await setup.delivery.deliver(order.id)  # alpha made it, but the answer was lost
    setup.fake.find_refused.add("alpha")  # and asking about it is refused (rate limited) for a while
    await setup.delivery.deliver(order.id)
    assert (await current(container, order))[0].status is OrderStatus.DELIVERING
    assert not [c for c in setup.fake.calls if c[0] == "beta"], "beta is not asked while alpha may hold it"
    setup.fake.find_refused.clear()
    setup.fake.finish("alpha", f"{order.number}-2", 1)
    await setup.delivery.deliver(order.id)
    assert (await current(container, order))[0].status is OrderStatus.DELIVERED


async def test_changing_the_sources_meanwhile_does_not_buy_again(container, setup):
    setup.fake.scripts = {"alpha": ["timeout"], "beta": ["deliver"]}
    await paid_order(container, setup, 1)  # empties the pool
    order = await paid_order(container, setup, 1)
    await setup.delivery.deliver(order.id)  # alpha, source 2, made it; the answer was lost
    ids = {u.name: str(u.id) for u in await setup.sourcing.upstreams()}
    await setup.sourcing.set_sources(setup.product_id, [(ids["alpha"], "UP-IQ", ""), (ids["beta"], "UP-IQ", "")], CLI)
    setup.fake.finish("alpha", f"{order.number}-2", 1)
    setup.fake.calls.clear()
    await setup.delivery.deliver(order.id)  # alpha is now source 1: its order is settled by what it was placed as
    assert setup.fake.calls == [("alpha", "find", f"{order.number}-2")]
    assert (await current(container, order))[0].status is OrderStatus.DELIVERED


async def test_an_order_a_dying_worker_left_between_steps_is_picked_up_again(container, setup):
    await paid_order(container, setup, 1)  # empties the pool
    order = await paid_order(container, setup, 1)
    async with container.ordering.uow() as uow:  # the worker set it delivering, then died before asking anyone
        stranded = await uow.orders.get(order.id)
        stranded.start_delivery(stranded.updated_at)
        await uow.orders.save(stranded)
        await uow.commit()
    setup.jobs.delivered.clear()
    assert await setup.sourcing.sweep() == 0, "not yet: it may be in a worker's hands"
    later = replace(setup.sourcing, clock=Later(timedelta(seconds=30)))
    assert await later.sweep() == 1 and setup.jobs.delivered == [order.id]
    assert await later.sweep() == 0, "backing off: not sent again at once"
    setup.fake.scripts = {"alpha": ["deliver"]}
    await setup.delivery.deliver(order.id)
    assert (await current(container, order))[0].status is OrderStatus.DELIVERED


class Later:
    """The system clock, some time ahead: what the sweeper sees later."""

    def __init__(self, ahead: timedelta) -> None:
        self.ahead = ahead

    def now(self) -> datetime:
        return datetime.now(UTC) + self.ahead

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
from domain.resellers import ResellerDraft
from domain.suppliers import (
    Listing,
    NotSourcedAgain,
    Upstream,
    UpstreamOrder,
    UpstreamOrderClosed,
    UpstreamOrderOpen,
    UpstreamRefused,
    UpstreamStatus,
    UpstreamUnavailable,
)
from tests.integration.shopping import RecordedJobs, assert_ledger_consistent, buy, notice, stocked
from tests.integration.test_callbacks import CallbackJobs
from tests.unit.fakes import KnownHosts

CLI = Actor.cli()


@dataclass
class FakeUpstreams:
    """Each upstream (by name) answers orders from a script: a list of outcomes, used up one call at a time —
    "deliver", "process", "out_of_stock", "5xx", "timeout", "partial" (all but one unit delivered, then it stalls),
    "fail" (nothing delivered, it stalls), "slow" (no answer in time, and not made there yet: `finish_slow` makes
    it) — and remembers what it made under which id. A find can be refused too (`find_refused`: e.g. rate limited),
    or lose its answer while something else happens meanwhile (`lost_finds`, one each time). Its catalog lists UP-IQ
    at `price` (in the currency `currencies` names for it, if any), with 100 in stock; `meanwhile`: what happens while
    a catalog is read (another run of the same delivery, say), one each time."""

    scripts: dict[str, list[str]] = field(default_factory=dict)
    made: dict[tuple[str, str], UpstreamOrder] = field(default_factory=dict)
    calls: list[tuple[str, str, str]] = field(default_factory=list)  # (upstream, "order"|"find", out_trade_no)
    catalogs: list[str] = field(default_factory=list)  # whose catalog was read (a price checked before buying)
    price: Money = field(default_factory=lambda: Money(1600))
    down: set[str] = field(default_factory=set)  # upstreams that cannot be reached at all (connection refused)
    find_refused: set[str] = field(default_factory=set)
    meanwhile: list = field(default_factory=list)
    slow: dict[tuple[str, str], int] = field(default_factory=dict)  # still being made there: its quantity
    lost_finds: list = field(default_factory=list)
    currencies: dict[str, str] = field(default_factory=dict)  # upstreams pricing in another currency than ours

    async def catalog(self, upstream: Upstream, secret: str) -> list[Listing]:
        self.catalogs.append(upstream.name)
        if self.meanwhile:
            await self.meanwhile.pop(0)()
        if upstream.name in self.down:
            raise UpstreamUnavailable("ConnectError")
        return [
            Listing(upstream.id, "UP-IQ", "iQIYI", self.price_at(upstream.name), "code", True, 100, datetime.now(UTC))
        ]

    def price_at(self, name: str) -> Money:
        return Money(self.price.minor, self.currencies.get(name, self.price.currency))

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
        if outcome == "slow":  # our request gave up; the upstream is still at it, and has nothing to show yet
            self.slow[(upstream.name, out_trade_no)] = quantity
            raise UpstreamUnavailable("ReadTimeout", in_flight=True)
        status = {"process": UpstreamStatus.PROCESSING, "timeout": UpstreamStatus.PROCESSING}.get(
            outcome, UpstreamStatus.STALLED if outcome in ("partial", "fail") else UpstreamStatus.DELIVERED
        )
        sent = {"deliver": quantity, "partial": quantity - 1}.get(outcome, 0)
        codes = tuple(CardSecret.of(f"{upstream.name}-{out_trade_no}-{n}", "PIN") for n in range(sent))
        price = self.price_at(upstream.name)
        self.made[(upstream.name, out_trade_no)] = UpstreamOrder(out_trade_no, "U1", status, price, codes)
        if outcome == "timeout":  # made there, but the answer never arrived
            raise UpstreamUnavailable("ReadTimeout", in_flight=True)
        return self.made[(upstream.name, out_trade_no)]

    async def find(self, upstream, secret, out_trade_no) -> UpstreamOrder | None:
        self.calls.append((upstream.name, "find", out_trade_no))
        if upstream.name in self.down:
            raise UpstreamUnavailable("ConnectError")
        if upstream.name in self.find_refused:
            raise UpstreamRefused("rate_limited")
        if self.lost_finds:
            await self.lost_finds.pop(0)()
            raise UpstreamUnavailable("ReadTimeout", in_flight=True)
        return self.made.get((upstream.name, out_trade_no))

    def finish_slow(self, name: str, out_trade_no: str) -> None:
        """The slow request ends there: the order is made, and delivered."""
        quantity = self.slow.pop((name, out_trade_no))
        codes = tuple(CardSecret.of(f"{name}-{out_trade_no}-{n}", "PIN") for n in range(quantity))
        price = self.price_at(name)
        self.made[(name, out_trade_no)] = UpstreamOrder(out_trade_no, "U1", UpstreamStatus.DELIVERED, price, codes)

    def finish(self, name: str, out_trade_no: str, quantity: int) -> None:
        """The upstream delivers (the rest of) an order it had been processing, or that had stalled there."""
        made = self.made[(name, out_trade_no)]
        late = tuple(CardSecret.of(f"{name}-late-{n}", "") for n in range(len(made.codes), quantity))
        self.made[(name, out_trade_no)] = replace(made, status=UpstreamStatus.DELIVERED, codes=made.codes + late)

    def refund(self, name: str, out_trade_no: str) -> None:
        """The upstream's staff refund an order that stalled there: no codes any more (its links stop working)."""
        made = self.made[(name, out_trade_no)]
        self.made[(name, out_trade_no)] = replace(made, status=UpstreamStatus.FAILED, codes=())


@dataclass
class Setup:
    product_id: int
    fake: FakeUpstreams
    jobs: RecordedJobs
    ordering: object
    delivery: object
    sourcing: object
    upstreams: object
    desk: object


@pytest.fixture
async def setup(container) -> Setup:
    product_id = await stocked(container, count=1)  # retail 19.80, one code in the pool at 15.00
    fake, jobs = FakeUpstreams(), RecordedJobs()
    hosts = KnownHosts({"alpha.example.com": ["93.184.215.14"], "beta.example.com": ["93.184.215.15"]})
    upstreams = replace(container.upstreams, client=fake, resolver=hosts)
    sourcing = replace(container.sourcing, upstreams=upstreams, jobs=jobs)
    for name in ("alpha", "beta"):
        upstream = await upstreams.add(name, f"https://{name}.example.com", "kq_" + "A" * 16, "sk_x", "", CLI)
        listing = Listing(upstream.id, "UP-IQ", "iQIYI", Money(1600), "code", True, 100, upstream.created_at)
        async with container.ordering.uow() as uow:
            await uow.suppliers.replace_listings(upstream.id, [listing], upstream.created_at)
            await uow.commit()
    ids = {u.name: str(u.id) for u in await upstreams.all()}
    await upstreams.set_sources(
        product_id, [("pool", "", ""), (ids["alpha"], "UP-IQ", "17.00"), (ids["beta"], "up-iq", "")], CLI
    )
    ordering = replace(container.ordering, jobs=jobs)
    delivery = replace(container.delivery, jobs=jobs, sourcing=sourcing)
    desk = replace(container.upstream_desk, sourcing=sourcing, outlet=delivery, jobs=jobs)
    return Setup(product_id, fake, jobs, ordering, delivery, sourcing, upstreams, desk)


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
    await later(setup, setup.sourcing.made_within).deliver(third.id)  # the sweeper: alpha has none, so beta may buy
    assert (await current(container, third))[0].status is OrderStatus.DELIVERED
    assert ("alpha", "find", f"{third.number}-2") in setup.fake.calls, "asked whether the failed call made it"
    assert (await current(container, first))[0].status is OrderStatus.PAID, "the queue delivers it (recorded here)"


def later(s: Setup, ahead: timedelta):
    """The delivery as a worker runs it some time from now."""
    return replace(s.delivery, sourcing=replace(s.sourcing, clock=Later(ahead)))


async def test_an_upstream_still_making_the_order_is_not_taken_at_its_word_that_it_has_none(container, setup):
    """Our request gave up while alpha goes on making the order: asked about it at once (the sweeper came back), it
    has none yet. That is believed only once it had time to finish: buying at beta now would buy twice."""
    setup.fake.scripts = {"alpha": ["slow"], "beta": ["deliver"]}
    await paid_order(container, setup, 1)  # empties the pool
    order = await paid_order(container, setup, 1)
    await setup.delivery.deliver(order.id)
    await later(setup, setup.sourcing.made_within / 2).deliver(order.id)
    waiting, _ = await current(container, order)
    assert waiting.status is OrderStatus.DELIVERING
    assert ("alpha", "find", f"{order.number}-2") in setup.fake.calls, "asked, and alpha had none yet"
    assert not [c for c in setup.fake.calls if c[0] == "beta"], "not bought elsewhere while alpha may be making it"
    assert (await placed_upstream(container, order, "alpha")).is_open
    setup.fake.finish_slow("alpha", f"{order.number}-2")
    await setup.delivery.deliver(order.id)
    done, events = await current(container, order)
    assert (done.status, [e.details["source"] for e in events if e.kind == "delivered_by_source"]) == (
        OrderStatus.DELIVERED,
        ["alpha"],
    )
    assert not [c for c in setup.fake.calls if c[0] == "beta"]


async def test_two_runs_of_one_delivery_never_both_buy(container, setup):
    """A worker reads the order, then (checking alpha's price) is overtaken by another run — the sweeper's nudge —
    which finds alpha out of stock and has beta deliver. The first run then reaches alpha: nothing is sent there, as
    the order owes nothing any more (before, it ordered again under the same name, and alpha had stock by then)."""
    setup.fake.scripts = {"alpha": ["out_of_stock", "deliver"], "beta": ["deliver"]}
    await paid_order(container, setup, 1)  # empties the pool
    order = await paid_order(container, setup, 1)

    overtaking(setup, order)
    await setup.delivery.deliver(order.id)
    done, events = await current(container, order)
    assert (done.status, [e.details["source"] for e in events if e.kind == "delivered_by_source"]) == (
        OrderStatus.DELIVERED,
        ["beta"],
    )
    assert [c for c in setup.fake.calls if c[1] == "order"] == [
        ("alpha", "order", f"{order.number}-2"),
        ("beta", "order", f"{order.number}-3"),
    ], "alpha was asked once, beta bought once"
    assert [e.kind for e in events].count("source_ordered") == 2
    await assert_ledger_consistent(container)


def overtaking(s: Setup, order, then=lambda: None):
    """What happens while a worker waits for alpha's price: another run of the delivery (the sweeper's nudge)
    orders there, and alpha is processing it; then `then`."""

    async def overtaken() -> None:
        await s.delivery.deliver(order.id)
        then()

    s.fake.meanwhile = [overtaken]


async def test_a_source_open_in_another_run_is_waited_for_not_bought_around(container, setup):
    """The first run, back from alpha's price (unreadable now), would ask beta: alpha has the order in hand, so
    nothing is bought there."""
    setup.fake.scripts = {"alpha": ["process"], "beta": ["deliver"]}
    await paid_order(container, setup, 1)  # empties the pool
    order = await paid_order(container, setup, 1)
    overtaking(setup, order, then=lambda: setup.fake.down.add("alpha"))
    await setup.delivery.deliver(order.id)
    waiting, events = await current(container, order)
    assert (waiting.status, waiting.attention) == (OrderStatus.DELIVERING, None)
    assert [e.details["reason"] for e in events if e.kind == "source_skipped"] == ["price_unknown"]
    assert not [c for c in setup.fake.calls if c[0] == "beta"], "beta is not asked while alpha has the order"
    setup.fake.down.clear()
    setup.fake.finish("alpha", f"{order.number}-2", 1)
    await setup.delivery.deliver(order.id)
    assert (await current(container, order))[0].status is OrderStatus.DELIVERED
    assert not [c for c in setup.fake.calls if c[0] == "beta"]


async def test_an_order_another_run_just_placed_upstream_is_not_given_up_for_staff(container, setup):
    """alpha is the only source besides the empty pool: the first run, unable to read alpha's price, has tried
    every source — but alpha has the order in hand: it stays delivering, not failed for staff."""
    alpha = next(u for u in await setup.upstreams.all() if u.name == "alpha")
    await setup.upstreams.set_sources(setup.product_id, [("pool", "", ""), (str(alpha.id), "UP-IQ", "17.00")], CLI)
    setup.fake.scripts = {"alpha": ["process"]}
    await paid_order(container, setup, 1)  # empties the pool
    order = await paid_order(container, setup, 1)
    overtaking(setup, order, then=lambda: setup.fake.down.add("alpha"))
    await setup.delivery.deliver(order.id)
    waiting, _ = await current(container, order)
    assert (waiting.status, waiting.attention) == (OrderStatus.DELIVERING, None)
    setup.fake.down.clear()
    setup.fake.finish("alpha", f"{order.number}-2", 1)
    await setup.delivery.deliver(order.id)
    assert (await current(container, order))[0].status is OrderStatus.DELIVERED


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
    ids = {u.name: str(u.id) for u in await setup.upstreams.all()}
    await setup.upstreams.set_sources(setup.product_id, [(ids["alpha"], "UP-IQ", ""), (ids["beta"], "UP-IQ", "")], CLI)
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


async def placed_upstream(container, order, name: str):
    """The order's upstream order at `name` (there is one here), as the order page lists it."""
    file = await container.order_desk.file(order.id)
    return next(placed for placed, at in file.upstream_orders if at == name)


async def audited(container) -> list[str]:
    async with container.ordering.uow(read_only=True) as uow:
        return [entry.action for entry in await uow.audit.page(before_id=None, limit=100)]


async def test_an_open_upstream_order_blocks_refund_and_delivery_by_hand_until_staff_abandon_it(container, setup):
    setup.fake.scripts = {"alpha": ["timeout"]}
    await paid_order(container, setup, 1)  # empties the pool
    order = await paid_order(container, setup, 1)
    await setup.delivery.deliver(order.id)  # alpha took it; its answer was lost: it may still deliver
    with pytest.raises(UpstreamOrderOpen):
        await container.order_desk.refund(order.id, "the buyer asked", CLI)
    with pytest.raises(UpstreamOrderOpen):
        await setup.delivery.fulfil(order.id, ["HAND-0001"], CLI)
    placed = await placed_upstream(container, order, "alpha")
    assert placed.is_open and (await current(container, order))[0].status is OrderStatus.DELIVERING
    await setup.desk.abandon(order.id, placed.id, "alpha is too slow", CLI)
    parked, events = await current(container, order)
    assert (parked.status, parked.attention) == (OrderStatus.FAILED, Attention.SHORT_DELIVERY), "staff's now"
    assert [e.details["reason"] for e in events if e.kind == "source_abandoned"] == ["alpha is too slow"]
    assert "order.abandon_upstream" in await audited(container)
    assert setup.fake.calls[-1] == ("alpha", "find", placed.out_trade_no), "asked one last time (still processing)"
    with pytest.raises(UpstreamOrderClosed):
        await setup.desk.abandon(order.id, placed.id, "again", CLI)
    assert await replace(setup.sourcing, clock=Later(timedelta(minutes=5))).sweep() == 0, "not asked about any more"
    assert (await setup.delivery.fulfil(order.id, ["HAND-0001"], CLI)).status is OrderStatus.DELIVERED
    # alpha delivers after all, and calls back: the code was paid for, so it goes into the pool — once.
    setup.fake.finish("alpha", placed.out_trade_no, 1)
    alpha = next(u for u in await setup.upstreams.all() if u.name == "alpha")
    for _ in range(2):
        await setup.delivery.upstream_called_back(alpha.id, placed.out_trade_no)
    done, events = await current(container, order)
    assert done.delivered_units == 1, "the hand-typed code stays the buyer's"
    pooled = [e.details for e in events if e.kind == "upstream_codes_pooled"]
    assert pooled == [{"source": "alpha", "units": 1, "out_trade_no": placed.out_trade_no}]
    assert (await container.stock.available([setup.product_id]))[setup.product_id] == 1
    assert not [c for c in setup.fake.calls if c[0] == "beta"]


async def test_a_refund_is_allowed_once_the_open_upstream_order_is_abandoned(container, setup):
    setup.fake.scripts = {"alpha": ["process"]}
    await paid_order(container, setup, 1)  # empties the pool
    order = await paid_order(container, setup, 1)
    await setup.delivery.deliver(order.id)
    placed = await placed_upstream(container, order, "alpha")
    await setup.desk.abandon(order.id, placed.id, "refunding the buyer", CLI)
    assert (await container.order_desk.refund(order.id, "the buyer asked", CLI)).status is OrderStatus.REFUNDED
    setup.fake.finish("alpha", placed.out_trade_no, 1)  # a late delivery: no webhook, so nobody asks; nothing lost
    assert await replace(setup.sourcing, clock=Later(timedelta(minutes=5))).sweep() == 0


async def test_an_upstream_that_ends_short_gives_what_it_has_and_is_asked_about_the_rest(container, setup):
    setup.fake.scripts = {"alpha": ["partial"]}
    order = await paid_order(container, setup, 3)  # the pool has one; alpha sends one of two, then stalls
    await setup.delivery.deliver(order.id)
    parked, events = await current(container, order)
    assert (parked.status, parked.delivered_units, parked.attention) == (
        OrderStatus.PARTIALLY_DELIVERED,
        2,
        Attention.SHORT_DELIVERY,
    )
    assert [e.details["source"] for e in events if e.kind == "source_stalled"] == ["alpha"]
    assert not [c for c in setup.fake.calls if c[0] == "beta"], "alpha keeps our money for the rest: not bought twice"
    with pytest.raises(UpstreamOrderOpen):
        await container.order_desk.refund(order.id, "the buyer asked", CLI)
    setup.jobs.delivered.clear()
    assert await replace(setup.sourcing, clock=Later(timedelta(seconds=30))).sweep() == 1, "asked about again"
    assert setup.jobs.delivered == [order.id]
    await setup.delivery.deliver(order.id)  # still stalled there: nothing changes, nothing is taken twice
    assert (await current(container, order))[0].delivered_units == 2
    setup.fake.finish("alpha", f"{order.number}-2", 2)  # its staff deliver the rest
    await setup.delivery.deliver(order.id)
    done, events = await current(container, order)
    assert (done.status, done.delivered_units, done.attention) == (OrderStatus.DELIVERED, 3, None)
    assert [(e.details["source"], e.details["units"]) for e in events if e.kind == "delivered_by_source"] == [
        ("pool", 1),
        ("alpha", 1),
        ("alpha", 1),
    ]
    async with container.ordering.uow(read_only=True) as uow:
        units = await uow.deliveries.of_order(order.id)
    assert len(units) == 3
    await assert_ledger_consistent(container)


async def test_an_upstream_that_failed_is_waited_for_and_after_its_refund_staff_try_the_suppliers_again(
    container, setup
):
    setup.fake.scripts = {"alpha": ["fail"]}
    await paid_order(container, setup, 1)  # empties the pool
    order = await paid_order(container, setup, 1)
    await setup.delivery.deliver(order.id)
    parked, _ = await current(container, order)
    assert (parked.status, parked.attention) == (OrderStatus.FAILED, Attention.SHORT_DELIVERY)
    assert not [c for c in setup.fake.calls if c[0] == "beta"], "failed there is not refunded: it may deliver yet"
    with pytest.raises(UpstreamOrderOpen):
        await setup.desk.source_again(order.id, CLI)  # never buys again while alpha has it
    setup.fake.refund("alpha", f"{order.number}-2")
    await setup.delivery.deliver(order.id)  # the sweeper asks: refunded there
    assert (await placed_upstream(container, order, "alpha")).status is UpstreamStatus.FAILED
    assert (await current(container, order))[0].status is OrderStatus.FAILED, "staff decide what comes next"
    setup.fake.scripts = {"alpha": ["deliver"]}
    setup.jobs.delivered.clear()
    again = await setup.desk.source_again(order.id, CLI)
    assert (again.status, again.attention, setup.jobs.delivered) == (OrderStatus.DELIVERING, None, [order.id])
    await setup.delivery.deliver(order.id)
    done, events = await current(container, order)
    assert done.status is OrderStatus.DELIVERED
    assert ("alpha", "order", f"{order.number}-2-2") in setup.fake.calls, "a new round: a new name there"
    assert [e.details["round"] for e in events if e.kind == "sent_to_sources_again"] == [2]
    assert "order.source_again" in await audited(container)
    with pytest.raises(NotSourcedAgain):
        await setup.desk.source_again(order.id, CLI)


async def test_the_pool_takes_its_turn_where_it_stands_among_the_sources(container, setup):
    ids = {u.name: str(u.id) for u in await setup.upstreams.all()}
    await setup.upstreams.set_sources(
        setup.product_id, [(ids["alpha"], "UP-IQ", ""), ("pool", "", ""), (ids["beta"], "UP-IQ", "")], CLI
    )
    setup.fake.scripts = {"alpha": ["deliver", "out_of_stock"], "beta": ["deliver"]}
    first = await paid_order(container, setup, 2)
    assert (await container.stock.available([setup.product_id]))[setup.product_id] == 1, "nothing held: alpha first"
    await setup.delivery.deliver(first.id)
    done, events = await current(container, first)
    assert (done.status, [e.details for e in events if e.kind == "delivered_by_source"]) == (
        OrderStatus.DELIVERED,
        [{"source": "alpha", "units": 2}],
    )
    assert (await container.stock.available([setup.product_id]))[setup.product_id] == 1, "the pool's code is left"
    second = await paid_order(container, setup, 3)
    await setup.delivery.deliver(second.id)  # alpha refuses: the pool gives its one, beta the other two
    done, events = await current(container, second)
    assert (done.status, [e.details for e in events if e.kind == "delivered_by_source"]) == (
        OrderStatus.DELIVERED,
        [{"source": "pool", "units": 1}, {"source": "beta", "units": 2}],
    )
    assert [c[2] for c in setup.fake.calls] == [f"{first.number}-1", f"{second.number}-1", f"{second.number}-3"]
    await assert_ledger_consistent(container)


async def test_a_late_payment_of_an_upstream_sourced_product_goes_to_its_sources(container, setup):
    setup.fake.scripts = {"alpha": ["deliver"]}
    await paid_order(container, setup, 1)  # empties the pool
    order = await setup.ordering.place(buy(2))
    assert await replace(setup.ordering, clock=Later(timedelta(minutes=20))).expire_due() == 1
    setup.jobs.delivered.clear()
    paid = await setup.ordering.pay(notice(container, order, trade_no="T-LATE"))
    assert (paid.status, paid.attention, setup.jobs.delivered) == (OrderStatus.PAID, None, [order.id])
    await setup.delivery.deliver(order.id)
    done, events = await current(container, order)
    assert (done.status, [e.details for e in events if e.kind == "delivered_by_source"]) == (
        OrderStatus.DELIVERED,
        [{"source": "alpha", "units": 2}],
    )
    assert "sources_asked_again" in [e.kind for e in events]


async def test_the_price_is_checked_with_the_upstream_before_buying_and_dearer_listings_are_not_for_sale(
    container, setup
):
    async with container.ordering.uow() as uow:  # synced at 18.00, above alpha's 17.00 ceiling: not for sale
        alpha = next(u for u in await uow.suppliers.all() if u.name == "alpha")
        dear = Listing(alpha.id, "UP-IQ", "iQIYI", Money(1800), "code", True, 50, alpha.created_at)
        await uow.suppliers.replace_listings(alpha.id, [dear], alpha.created_at)
        await uow.commit()
    assert (await container.stock.sellable([setup.product_id]))[setup.product_id] == 1 + 100, "the pool's, beta's"
    async with container.ordering.uow() as uow:  # synced at 16.00 — but alpha asks 18.00 by now
        cheap = Listing(alpha.id, "UP-IQ", "iQIYI", Money(1600), "code", True, 50, alpha.created_at)
        await uow.suppliers.replace_listings(alpha.id, [cheap], alpha.created_at)
        await uow.commit()
    setup.fake.price = Money(1800)
    setup.fake.scripts = {"beta": ["deliver"]}
    await paid_order(container, setup, 1)  # empties the pool
    order = await paid_order(container, setup, 1)
    await setup.delivery.deliver(order.id)
    done, events = await current(container, order)
    assert done.status is OrderStatus.DELIVERED
    assert [e.details["reason"] for e in events if e.kind == "source_skipped"] == ["above_cost_ceiling"]
    assert [c[0] for c in setup.fake.calls] == ["beta"], "nothing bought at alpha"
    assert setup.fake.catalogs == ["alpha"], "beta has no ceiling: no price to check"
    assert [item.price for item in await setup.upstreams.listings(alpha.id)] == [Money(1800)], "kept as read"
    setup.fake.down.add("alpha")  # its price cannot be read: nothing is bought there either
    setup.fake.scripts = {"beta": ["deliver"]}
    another = await paid_order(container, setup, 1)
    await setup.delivery.deliver(another.id)
    _, events = await current(container, another)
    assert [e.details["reason"] for e in events if e.kind == "source_skipped"] == ["price_unknown"]


async def test_catalogs_are_synced_when_due(container, setup):
    assert await setup.upstreams.sync_due() == [], "synced at setup: not due yet"
    assert setup.fake.catalogs == []
    later = replace(setup.upstreams, clock=Later(setup.upstreams.sync_every + timedelta(minutes=1)))
    setup.fake.down.add("beta")
    assert await later.sync_due() == ["beta"], "an unreachable upstream is tried again next time"
    assert sorted(setup.fake.catalogs) == ["alpha", "beta"]
    setup.fake.down.clear()
    assert await later.sync_due() == []
    assert sorted(setup.fake.catalogs) == ["alpha", "beta", "beta"], "only beta was still due"


async def test_an_order_an_upstream_made_very_late_is_delivered_when_it_calls_back(container, setup):
    """alpha had no order by our name once it had time to make it: believed never made, beta was asked (out of stock)
    and the order failed, for staff. Then alpha finishes it after all and calls back: it is asked about once more,
    and its code delivered."""
    setup.fake.scripts = {"alpha": ["slow"], "beta": ["out_of_stock"]}
    await paid_order(container, setup, 1)  # empties the pool
    order = await paid_order(container, setup, 1)
    await setup.delivery.deliver(order.id)
    await later(setup, setup.sourcing.made_within).deliver(order.id)
    assert (await current(container, order))[0].status is OrderStatus.FAILED
    placed = await placed_upstream(container, order, "alpha")
    assert (placed.status, placed.error) == (UpstreamStatus.FAILED, "not_made")
    setup.fake.finish_slow("alpha", placed.out_trade_no)
    alpha = next(u for u in await setup.upstreams.all() if u.name == "alpha")
    setup.jobs.delivered.clear()
    await setup.delivery.upstream_called_back(alpha.id, placed.out_trade_no)
    assert setup.jobs.delivered == [order.id]
    await setup.delivery.deliver(order.id)  # the worker the webhook nudged
    done, events = await current(container, order)
    assert (done.status, done.attention) == (OrderStatus.DELIVERED, None)
    assert [e.details["source"] for e in events if e.kind == "delivered_by_source"] == ["alpha"]
    assert (await placed_upstream(container, order, "alpha")).status is UpstreamStatus.DELIVERED
    await assert_ledger_consistent(container)


async def test_codes_an_upstream_made_very_late_go_to_the_pool_when_the_order_needs_them_no_more(container, setup):
    setup.fake.scripts = {"alpha": ["slow"], "beta": ["deliver"]}
    await paid_order(container, setup, 1)  # empties the pool
    order = await paid_order(container, setup, 1)
    await setup.delivery.deliver(order.id)
    await later(setup, setup.sourcing.made_within).deliver(order.id)  # alpha has none by then: beta delivers
    assert (await current(container, order))[0].status is OrderStatus.DELIVERED
    placed = await placed_upstream(container, order, "alpha")
    setup.fake.finish_slow("alpha", placed.out_trade_no)
    alpha = next(u for u in await setup.upstreams.all() if u.name == "alpha")
    setup.fake.calls.clear()
    for _ in range(2):  # it calls back twice: asked about once
        await setup.delivery.upstream_called_back(alpha.id, placed.out_trade_no)
        await setup.delivery.deliver(order.id)
    assert setup.fake.calls == [("alpha", "find", placed.out_trade_no)]
    done, events = await current(container, order)
    assert done.delivered_units == 1, "beta's code stays the buyer's"
    pooled = [e.details for e in events if e.kind == "upstream_codes_pooled"]
    assert pooled == [{"source": "alpha", "units": 1, "out_trade_no": placed.out_trade_no}]
    assert (await container.stock.available([setup.product_id]))[setup.product_id] == 1
    await assert_ledger_consistent(container)


async def test_a_late_no_answer_does_not_reopen_an_upstream_order_seen_failed_meanwhile(container, setup):
    """A run asks alpha about an order whose answer was lost, and loses this answer too; meanwhile another run (a
    webhook's) learns alpha refunded it, and has beta deliver. The first run's "no answer" is recorded last: alpha's
    order stays failed — not open again, blocking refunds and asked about on and on."""
    setup.fake.scripts = {"alpha": ["timeout"], "beta": ["deliver"]}
    await paid_order(container, setup, 1)  # empties the pool
    order = await paid_order(container, setup, 1)
    await setup.delivery.deliver(order.id)  # alpha made it; its answer was lost
    setup.fake.refund("alpha", f"{order.number}-2")
    setup.fake.lost_finds = [lambda: setup.delivery.deliver(order.id)]
    await setup.delivery.deliver(order.id)
    assert (await current(container, order))[0].status is OrderStatus.DELIVERED
    placed = await placed_upstream(container, order, "alpha")
    assert (placed.status, placed.is_open) == (UpstreamStatus.FAILED, False)


async def test_an_upstream_pricing_in_another_currency_is_not_bought_from(container, setup):
    """Its cost could never be booked against our sale. Listed so at a sync: left out, as if not in its catalog —
    alpha, its price checked before buying, is passed over; answering so when ordered (beta, synced before it
    changed): that source failed, with the reason on the timeline."""
    setup.fake.currencies = {"alpha": "USD", "beta": "USD"}
    alpha = next(u for u in await setup.upstreams.all() if u.name == "alpha")
    assert await setup.upstreams.sync(alpha.id, CLI) == []
    assert await setup.upstreams.listings(alpha.id) == []
    assert (await container.stock.sellable([setup.product_id]))[setup.product_id] == 1 + 100, "the pool's, beta's"
    setup.fake.scripts = {"beta": ["deliver"]}
    order = await paid_order(container, setup, 2)  # the pool has one
    await setup.delivery.deliver(order.id)
    done, events = await current(container, order)
    assert [e.details["reason"] for e in events if e.kind == "source_skipped"] == ["not_in_upstream_catalog"]
    assert [e.details["reason"] for e in events if e.kind == "source_failed"] == ["other_currency"]
    assert (done.status, done.delivered_units) == (OrderStatus.PARTIALLY_DELIVERED, 1)
    assert not (await placed_upstream(container, order, "beta")).is_open
    await assert_ledger_consistent(container)


async def test_an_api_order_an_upstream_holds_is_called_back_about_its_outcome_only(container, setup):
    """While alpha is still making it, the sweeper sends the order back to the workers again and again: nothing is
    queued to call the API caller back about (there is nothing to tell). Delivered, it is."""
    jobs = CallbackJobs()
    delivery = replace(setup.delivery, jobs=jobs, sourcing=replace(setup.sourcing, jobs=jobs))
    hosts = KnownHosts({"hooks.example.com": ["93.184.215.20"]})
    api_orders = replace(
        container.api_orders,
        jobs=jobs,
        payments=replace(container.balance_payments, jobs=jobs),
        delivery=delivery,
        callbacks=replace(container.callbacks, resolver=hosts, jobs=jobs),
    )
    reseller = await container.resellers.create(ResellerDraft("Api Co", "api@example.com"), CLI)
    await container.resellers.top_up(reseller.id, "100", "", CLI)
    made = await container.api_keys.create(reseller.id, "order server", "", CLI)
    setup.fake.scripts = {"alpha": ["timeout"]}
    await paid_order(container, setup, 1)  # empties the pool
    body = {"sku": "IQ-M", "quantity": 1, "out_trade_no": "API-1", "callback_url": "https://hooks.example.com/kq"}
    placed, _ = await api_orders.place(made.key, reseller, body, Actor.api(made.key.key_id, None))
    for _ in range(3):  # the worker, then the sweeper's nudges: alpha has it, without an answer yet
        await delivery.deliver(placed.order.id)
    assert (await current(container, placed.order))[0].status is OrderStatus.DELIVERING
    assert jobs.called_back == []
    setup.fake.finish("alpha", f"{placed.order.number}-2", 1)
    await delivery.deliver(placed.order.id)
    assert (await current(container, placed.order))[0].status is OrderStatus.DELIVERED
    assert jobs.called_back == [placed.order.id]

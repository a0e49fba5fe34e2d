"""What an order holds in the pool when it is placed (or paid late), by where the pool stands among the product's
sources: all or none from the pool alone; what there is when the pool comes first; nothing when an upstream comes
before it (the pool's codes are taken when its turn comes) or when it is not a source at all."""

from __future__ import annotations

import pytest

from domain.audit import Actor
from domain.catalog import ProductDraft
from domain.codepool import BatchDetails, CodeState, OutOfStock
from domain.money import Money
from domain.orders import Order, OrderPolicy, OrderRequest
from domain.services.sourced_stock import hold_stock, hold_stock_again, sellable_counts
from domain.suppliers import Source

POOL, ALPHA, BETA = Source(1), Source(2, 7, "UP-A"), Source(3, 8, "UP-B")


async def product_with_codes(world, count: int) -> int:
    draft = ProductDraft(
        sku="IQ-M", name="Card", face_value="20", retail_price="18", delivery_kind="code", on_sale=True
    )
    product = await world.catalog.create(draft, Actor.cli())
    lines = [(n, f"CODE-{n:04d}", "") for n in range(count)]
    await world.stock.add_codes(product.id, lines, BatchDetails("supplier A", Money(1500)), Actor.cli())
    return product.id


async def with_sources(world, product_id: int, *sources: Source) -> None:
    async with world.db() as uow:
        await uow.suppliers.set_sources(
            product_id, [Source(n, s.upstream_id, s.upstream_sku) for n, s in enumerate(sources, 1)]
        )
        await uow.commit()


async def place(world, product_id: int, quantity: int) -> Order:
    async with world.db(read_only=True) as uow:
        product = await uow.products.get(product_id)
    order = Order.place(
        OrderRequest("IQ-M", str(quantity), "buyer@example.com"), product, OrderPolicy(), world.clock.now()
    )
    async with world.db() as uow:
        await hold_stock(uow, order, world.clock.now())
        await uow.commit()
    return order


def held(world, order: Order) -> int:
    return sum(
        1 for c in world.db.committed.codes.values() if c.holder == order.holder and c.state is CodeState.RESERVED
    )


async def test_from_the_pool_alone_an_order_holds_all_its_units_or_none(world):
    pid = await product_with_codes(world, 2)
    with pytest.raises(OutOfStock):
        await place(world, pid, 3)
    assert sum(1 for c in world.db.committed.codes.values() if c.state is CodeState.RESERVED) == 0
    assert held(world, await place(world, pid, 2)) == 2


async def test_with_the_pool_first_an_order_holds_what_the_pool_has_and_upstreams_are_asked_for_the_rest(world):
    pid = await product_with_codes(world, 1)
    await with_sources(world, pid, POOL, ALPHA)
    assert held(world, await place(world, pid, 3)) == 1, "the one code there is, not all or none"
    assert held(world, await place(world, pid, 2)) == 0, "an empty pool still lets the upstream sell"


@pytest.mark.parametrize("sources", [(ALPHA, POOL, BETA), (ALPHA, BETA)], ids=["pool-second", "no-pool"])
async def test_with_an_upstream_before_the_pool_or_no_pool_at_all_nothing_is_held_at_placement(world, sources):
    pid = await product_with_codes(world, 3)
    await with_sources(world, pid, *sources)
    assert held(world, await place(world, pid, 2)) == 0
    async with world.db(read_only=True) as uow:
        shown = (await sellable_counts(uow, [pid])).get(pid, 0)
    assert shown == (3 if POOL in sources else 0), "the pool's codes are for sale only where the pool is a source"


async def test_a_late_payment_of_an_upstream_sourced_product_is_deliverable_without_pool_stock(world):
    pid = await product_with_codes(world, 1)
    await with_sources(world, pid, POOL, ALPHA)
    order = await place(world, pid, 3)
    async with world.db() as uow:  # expired meanwhile: its code went back
        await uow.codes.release(order.holder, world.clock.now())
        assert await hold_stock_again(uow, order, world.clock.now()) is True
        await uow.commit()
    assert held(world, order) == 1
    assert [e.kind for e in order.new_events][-1] == "sources_asked_again"

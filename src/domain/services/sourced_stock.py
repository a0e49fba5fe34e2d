"""Stock of a product that has upstream sources: what an order holds in the pool at placement (or when paid late),
what buyers may order, codes an upstream sent that no order waits for, and the check that keeps staff from paying
twice while an upstream may still deliver."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.codepool import Batch, CardSecret, OutOfStock, binding
from domain.money import Money
from domain.orders import Order
from domain.ports import CodeVault, UnitOfWork
from domain.suppliers import UpstreamOrderOpen


async def hold_stock(uow: UnitOfWork, order: Order, now: datetime) -> None:
    """At placement: the order's codes are reserved in the pool, all or none (OutOfStock) — unless the product
    has upstream sources: then what the pool has is held if the pool is the first source (else its codes are
    taken when its turn comes, and not at all when it is not one of the sources), and the others are asked for
    the rest."""
    if not order.pooled:
        return
    sources = await uow.suppliers.sources(order.product_id)
    if not any(not source.is_pool for source in sources):
        await uow.codes.reserve(order.product_id, order.quantity, order.holder, now)
    elif sources[0].is_pool:
        await uow.codes.reserve_up_to(order.product_id, order.quantity, order.holder, now)


async def hold_stock_again(uow: UnitOfWork, order: Order, now: datetime) -> bool:
    """补单 (paid after it expired or was cancelled): whether the order can be delivered. From the pool alone: all
    units reserved again, or none. With upstream sources: it can — they are asked for what the pool (held as at
    placement) does not have."""
    sources = await uow.suppliers.sources(order.product_id)
    if any(not source.is_pool for source in sources):
        held = await uow.codes.reserve_up_to(order.product_id, order.quantity, order.holder, now) if (
            order.pooled and sources[0].is_pool
        ) else []  # fmt: skip
        order.record(now, "sources_asked_again", details={"units": len(held)} if held else {})
        return True
    try:
        await uow.codes.reserve(order.product_id, order.quantity, order.holder, now)
    except OutOfStock:
        await uow.codes.release(order.holder, now)
        return False
    order.record(now, "stock_reserved_again")
    return True


async def sellable_counts(uow: UnitOfWork, product_ids: Sequence[int]) -> dict[int, int]:
    """Units buyers may order now: the pool's (when the pool is one of the product's sources), plus what its
    upstream sources had at their last sync within their cost ceilings (a product with an empty pool is not sold
    out while an upstream has it)."""
    if not product_ids:
        return {}
    pool = await uow.codes.available_counts(product_ids)
    for product_id in await uow.suppliers.pool_unlisted(product_ids):
        pool.pop(product_id, None)
    upstream = await uow.suppliers.upstream_stock(product_ids)
    return {pid: pool.get(pid, 0) + upstream.get(pid, 0) for pid in set(pool) | set(upstream)}


async def pool_codes(
    uow: UnitOfWork,
    vault: CodeVault,
    order: Order,
    out_trade_no: str,
    codes: Sequence[CardSecret],
    unit_cost: Money,
    source: str,
    now: datetime,
) -> int:
    """Codes an upstream sent that no order waits for (its order there was abandoned, or ours owes nothing more):
    bought all the same, so they go into the product's pool as available stock, a batch at the price paid; the
    order's timeline says so. Returns how many went in (one the pool has already is not added twice)."""
    by = f"upstream:{source}"
    batch = await uow.codes.add_batch(Batch(order.product_id, by[:60], unit_cost, by[:64], now, None, len(codes)))
    sealed = []
    for code in codes:
        fingerprint = vault.fingerprint(code.number)
        sealed.append((fingerprint, vault.seal(code.plaintext(), binding=binding(order.product_id, fingerprint))))
    added = await uow.codes.add_codes(batch, sealed, now)
    await uow.codes.set_batch_total(batch.id or 0, added)
    details = {"source": source, "units": added, "out_trade_no": out_trade_no}
    order.record(now, "upstream_codes_pooled", by[:64], details)
    return added


async def check_nothing_open_upstream(uow: UnitOfWork, order_id: int) -> None:
    """Raises UpstreamOrderOpen while an order placed upstream for it may still deliver (staff abandon it first)."""
    still_open = [placed for placed in await uow.suppliers.upstream_orders(order_id) if placed.is_open]
    if still_open:
        raise UpstreamOrderOpen(
            f"{still_open[0].out_trade_no} is still open upstream", out_trade_no=still_open[0].out_trade_no
        )

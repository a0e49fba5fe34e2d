"""The code pool on real SQLite and PostgreSQL: encrypted at rest, counts that always add up, and
allocation that never sells a code twice when processes and threads race for the last codes."""

from __future__ import annotations

import asyncio
import multiprocessing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.pool import NullPool

from adapters.db.engine import create_engine
from domain.audit import Actor
from domain.catalog import ProductDraft
from domain.codepool import BatchDetails, CodeState, OutOfStock
from domain.money import Money
from tests.integration.racing import race_in_threads

KNOWN_NUMBER = "KNOWN-PLAINTEXT-4242-SECRET"
KNOWN_PIN = "PIN-NEVER-STORED-7777"


async def new_product(container, sku: str = "POOL-1") -> int:
    draft = ProductDraft(sku=sku, name="Pool card", face_value="10", retail_price="9")
    return (await container.catalog.create(draft, Actor.cli())).id


async def stock_up(container, product_id: int, count: int, prefix: str = "CODE") -> None:
    lines = [(n, f"{prefix}-{n:06d}", f"P{n}") for n in range(count)]
    result = await container.stock.add_codes(product_id, lines, BatchDetails("test", Money(800)), Actor.cli())
    assert result.imported == count


async def assert_batches_balance(container, product_id: int) -> None:
    """available + reserved + sold + frozen + void = imported, for every batch."""
    stock = await container.stock.of_product(product_id)
    for batch, counts in stock.batches:
        assert counts.total == batch.total, (batch, counts)


async def test_no_plaintext_reaches_the_database_files(container, settings):
    pid = await new_product(container)
    await container.stock.add_codes(pid, [(1, KNOWN_NUMBER, KNOWN_PIN)], BatchDetails("test", Money(1)), Actor.cli())
    await container.engine.dispose()
    url = settings.effective_database_url
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        stored = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert b"Pool card" in stored, "sanity: we are reading the right file"
    else:
        stored = await _postgres_table_bytes(url, "codes")
        assert container.stock.vault.active_key.encode() in stored, "sanity: we are reading the codes table"
    for secret in (KNOWN_NUMBER, KNOWN_PIN):
        assert secret.encode() not in stored and secret.encode("utf-16-le") not in stored


async def _postgres_table_bytes(url: str, table: str) -> bytes:
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("CHECKPOINT"))
            data_dir = (await connection.execute(text("SHOW data_directory"))).scalar_one()
            toast = await connection.execute(
                text("SELECT reltoastrelid::regclass::text FROM pg_class WHERE relname = :t AND reltoastrelid <> 0"),
                {"t": table},
            )
            relations = [table, *toast.scalars()]
            paths = [
                (await connection.execute(text("SELECT pg_relation_filepath(:r)"), {"r": r})).scalar_one()
                for r in relations
            ]
    finally:
        await engine.dispose()
    files = [Path(data_dir) / path for path in paths]
    if not all(f.exists() for f in files):
        pytest.skip("the PostgreSQL data directory is not readable from here (a remote server)")
    return b"".join(f.read_bytes() for f in files)


async def test_released_codes_below_the_allocation_hint_are_sold_again(container):
    pid = await new_product(container)
    await stock_up(container, pid, 10)
    first = await container.stock.reserve(pid, 3, "order-a")
    later = await container.stock.reserve(pid, 6, "order-b")
    assert min(later) > max(first)
    await container.stock.release("order-a")
    left = await _available(container, pid)
    assert len(left) == 4 and set(first) < set(left)
    assert await container.stock.reserve(pid, 4, "order-c") == sorted(left)
    with pytest.raises(OutOfStock):
        await container.stock.reserve(pid, 1, "order-d")
    await assert_batches_balance(container, pid)


async def _available(container, product_id: int) -> list[int]:
    async with container.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT id FROM codes WHERE product_id = :p AND state = 'available'"), {"p": product_id}
        )
        return list(rows.scalars())


async def test_a_short_reservation_takes_nothing(container):
    pid = await new_product(container)
    await stock_up(container, pid, 2)
    with pytest.raises(OutOfStock):
        await container.stock.reserve(pid, 3, "greedy")
    counts = (await container.stock.of_product(pid)).counts
    assert (counts.available, counts.reserved) == (2, 0)


async def test_reserving_up_to_takes_what_there_is_never_more_and_racers_never_share_a_code(container):
    pid = await new_product(container)
    await stock_up(container, pid, 10)

    async def up_to(quantity: int, holder: str) -> list[int]:
        async with container.ordering.uow() as uow:
            taken = await uow.codes.reserve_up_to(pid, quantity, holder, datetime.now(UTC))
            await uow.commit()
        return taken

    assert len(await up_to(3, "first")) == 3
    racers = await asyncio.gather(*(up_to(4, f"racer-{n}") for n in range(4)))  # 16 wanted, 7 left
    taken = [code for codes in racers for code in codes]
    assert len(taken) == 7 and len(set(taken)) == 7, "each code once, what there was and no more"
    assert await up_to(2, "late") == []
    counts = (await container.stock.of_product(pid)).counts
    assert (counts.available, counts.reserved) == (0, 10)
    await assert_batches_balance(container, pid)


async def test_processes_and_threads_racing_for_the_last_100_codes_get_exactly_100(container, settings):
    pid = await new_product(container)
    await stock_up(container, pid, 300)
    for n in range(200):  # sell the first 200 through the allocation path: the race is for the last 100
        await container.stock.reserve(pid, 1, f"early-{n}")
        await container.stock.sell(f"early-{n}")
    processes, threads, attempts = 4, 4, 25  # 400 attempts for 100 codes
    context = multiprocessing.get_context("spawn")
    url = settings.effective_database_url
    with context.Pool(processes) as pool:
        tallies = await asyncio.to_thread(
            pool.starmap, race_in_threads, [(url, pid, threads, attempts, p) for p in range(processes)]
        )
    reserved = [code for tally in tallies for code in tally.reserved]
    assert [error for tally in tallies for error in tally.errors] == []
    assert len(reserved) == 100 and len(set(reserved)) == 100, "every code exactly once"
    assert sum(tally.out_of_stock for tally in tallies) == processes * threads * attempts - 100
    counts = (await container.stock.of_product(pid)).counts
    assert (counts.available, counts.reserved, counts.sold) == (0, 100, 200)
    await assert_batches_balance(container, pid)
    assert set(reserved).isdisjoint(await _sold_ids(container, pid))


async def _sold_ids(container, product_id: int) -> set[int]:
    async with container.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT id FROM codes WHERE product_id = :p AND state = :s"),
            {"p": product_id, "s": CodeState.SOLD.value},
        )
        return set(rows.scalars())


async def test_expired_batches_are_not_sold_and_the_sweep_freezes_them(container):
    pid = await new_product(container)
    now = datetime.now(UTC)
    expiring = BatchDetails("test", Money(1), now + timedelta(hours=1))
    await container.stock.add_codes(pid, [(n, f"EXP-{n}", "") for n in range(3)], expiring, Actor.cli())
    await container.stock.add_codes(pid, [(1, "FRESH-1", "")], BatchDetails("test", Money(1)), Actor.cli())
    later = replace(container.stock, clock=Shifted(timedelta(hours=2)))
    assert len(await later.reserve(pid, 1, "after-expiry")) == 1
    with pytest.raises(OutOfStock):
        await later.reserve(pid, 1, "too-late")
    assert await later.freeze_expired() == 3 and await later.freeze_expired() == 0
    counts = (await container.stock.of_product(pid)).counts
    assert (counts.frozen, counts.reserved, counts.available) == (3, 1, 0)
    await assert_batches_balance(container, pid)


class Shifted:
    def __init__(self, ahead: timedelta) -> None:
        self.ahead = ahead

    def now(self) -> datetime:
        return datetime.now(UTC) + self.ahead


async def test_running_low_counts_on_the_database(container):
    low = await container.catalog.create(
        ProductDraft(sku="LOW-DB", name="Low", face_value="1", retail_price="1", on_sale=True), Actor.cli()
    )
    full = await container.catalog.create(
        ProductDraft(sku="FULL-DB", name="Full", face_value="1", retail_price="1", on_sale=True), Actor.cli()
    )
    await stock_up(container, low.id, 3, prefix="LOWDB")
    await stock_up(container, full.id, 15, prefix="FULLDB")
    await container.stock.reserve(low.id, 1, "someone")
    assert [(p.sku, left) for p, left in await container.stock.running_low()] == [("LOW-DB", 2)]

"""Allocation throughput as the pool drains (PostgreSQL, 16 concurrent workers).

Prints allocations/s on a fresh pool and at 50 % and 90 % drained, drained through the allocation
path itself (no VACUUM in between), with the allocation hint and without it (every scan from the
product's first code, the naive way). Goal: the 90 %-drained rate is at least 80 % of the fresh rate.

Run: KAQUAN_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1/test .venv/bin/python -m bench.allocation
(it creates and drops its own database). Options: --codes N (default 200000), --workers N (16).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

from sqlalchemy import text
from tests.services import throwaway_postgres

from adapters.clock import SystemClock
from adapters.db import migrate
from adapters.db.codes import AllocationHints
from adapters.db.engine import create_engine
from adapters.db.uow import SqlUnitOfWorkFactory
from domain.services.stock import Stock

PRODUCTS = 10
MEASURE_SECONDS = 8


class NoHints(AllocationHints):
    """The naive allocation: always scan from the product's first available code."""

    def start(self, product_id: int) -> int:
        return 0


async def fill(engine, codes: int) -> None:
    """Insert the pool with set-based SQL (encryption cost is the import benchmark's business)."""
    per_product = codes // PRODUCTS
    async with engine.begin() as connection:
        for product in range(1, PRODUCTS + 1):
            await connection.execute(
                text(
                    "INSERT INTO products (id, sku, name, face_value_minor, retail_price_minor, delivery_kind,"
                    " created_at, updated_at) VALUES (:id, :sku, 'bench', 100, 100, 'code', now(), now())"
                ),
                {"id": product, "sku": f"BENCH-{product}"},
            )
            await connection.execute(
                text(
                    "INSERT INTO code_batches (product_id, source, unit_cost_minor, imported_by, imported_at, total)"
                    " VALUES (:p, 'bench', 1, 'bench', now(), :n)"
                ),
                {"p": product, "n": per_product},
            )
        await connection.execute(
            text(
                "INSERT INTO codes (product_id, batch_id, state, fingerprint, key_id, nonce, ciphertext,"
                " state_changed_at)"
                " SELECT p, p, 'available', sha256((p || ':' || n)::bytea), 'k1', '\\x00'::bytea,"
                " gen_random_bytes(48), now()"
                " FROM generate_series(1, :products) p, generate_series(1, :per) n ORDER BY n, p"
            ),
            {"products": PRODUCTS, "per": per_product},
        )
        await connection.execute(text("ANALYZE"))


async def allocation_rate(stock: Stock, budget: int, workers: int, label: str) -> float:
    """Allocations/s by `workers` concurrent workers, one code each time, for `budget` codes or 8 s."""
    done = 0
    started = time.perf_counter()
    deadline = started + MEASURE_SECONDS

    async def worker(number: int) -> None:
        nonlocal done
        product, n = number % PRODUCTS + 1, 0
        while done < budget and time.perf_counter() < deadline:
            n += 1
            await stock.reserve(product, 1, f"{label}-{number}-{n}")
            done += 1

    await asyncio.gather(*(worker(w) for w in range(workers)))
    return done / (time.perf_counter() - started)


async def drain_to(stock: Stock, engine, fraction: float, total: int) -> None:
    """Reserve codes, 100 at a time and one worker per product, until `fraction` of each product is gone."""
    target = int(total / PRODUCTS * fraction)
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT product_id, count(*) FROM codes WHERE state <> 'available' GROUP BY product_id")
        )
        taken = dict(rows.all())

    async def worker(product: int) -> None:
        left, n = target - taken.get(product, 0), 0
        while left > 0:
            n += 1
            step = min(100, left)
            await stock.reserve(product, step, f"drain-{product}-{fraction}-{n}")
            left -= step

    await asyncio.gather(*(worker(p) for p in range(1, PRODUCTS + 1)))


async def run(url: str, codes: int, workers: int, hints: AllocationHints, label: str) -> None:
    engine = create_engine(url, pool_size=workers, max_overflow=0)
    stock = Stock(SqlUnitOfWorkFactory(engine, hints), vault=None, clock=SystemClock())  # type: ignore[arg-type]
    rates = []
    try:
        for fraction in (0.0, 0.5, 0.9):
            await drain_to(stock, engine, fraction, codes)
            # Each measurement takes at most 4 % of the pool, so the next drain level is still reachable.
            rates.append(await allocation_rate(stock, int(codes * 0.04), workers, f"{label}{fraction}"))
            print(f"  {label:<10} {int(fraction * 100):>3} % drained: {rates[-1]:8.0f} allocations/s", flush=True)
        print(f"  {label:<10} 90 %-drained rate = {rates[2] / rates[0]:.0%} of the fresh rate", flush=True)
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codes", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()
    if not os.environ.get("KAQUAN_TEST_POSTGRES_URL"):
        sys.exit("set KAQUAN_TEST_POSTGRES_URL (a PostgreSQL server where a throwaway database may be created)")
    print(f"pool: {args.codes} codes over {PRODUCTS} products, {args.workers} concurrent workers, PostgreSQL")
    for label, hints in (("hinted", AllocationHints()), ("naive", NoHints())):
        with throwaway_postgres() as url:
            migrate.upgrade(url)
            engine = create_engine(url)
            asyncio.run(_fill_and_close(engine, args.codes))
            asyncio.run(run(url, args.codes, args.workers, hints, label))


async def _fill_and_close(engine, codes: int) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("CREATE EXTENSION IF NOT EXISTS pgcrypto"))
    await fill(engine, codes)
    await engine.dispose()


if __name__ == "__main__":
    main()

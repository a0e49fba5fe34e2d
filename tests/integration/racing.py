"""Racers for concurrency tests: run in separate processes (spawned), each with several threads,
each thread with its own event loop and database connection, all competing for the same codes."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy.pool import NullPool

from adapters.clock import SystemClock
from adapters.db.engine import create_engine
from adapters.db.uow import SqlUnitOfWorkFactory
from domain.codepool import OutOfStock
from domain.services.stock import Stock


@dataclass
class Tally:
    reserved: list[int] = field(default_factory=list)
    out_of_stock: int = 0
    errors: list[str] = field(default_factory=list)


async def _race(database_url: str, product_id: int, attempts: int, name: str) -> Tally:
    engine = create_engine(database_url, poolclass=NullPool)
    stock = Stock(SqlUnitOfWorkFactory(engine), vault=None, clock=SystemClock())  # type: ignore[arg-type]
    tally = Tally()
    try:
        for attempt in range(attempts):
            try:
                tally.reserved += await stock.reserve(product_id, 1, f"{name}-{attempt}")
            except OutOfStock:
                tally.out_of_stock += 1
            except Exception as error:  # every other outcome is a failure the test reports
                tally.errors.append(f"{type(error).__name__}: {error}")
    finally:
        await engine.dispose()
    return tally


def race_in_threads(database_url: str, product_id: int, threads: int, attempts: int, process: int) -> Tally:
    """One process's share: `threads` threads, each making `attempts` reservations of one code."""

    def thread(number: int) -> Tally:
        return asyncio.run(_race(database_url, product_id, attempts, f"p{process}t{number}"))

    with ThreadPoolExecutor(threads) as pool:
        tallies = list(pool.map(thread, range(threads)))
    total = Tally()
    for tally in tallies:
        total.reserved += tally.reserved
        total.out_of_stock += tally.out_of_stock
        total.errors += tally.errors
    return total

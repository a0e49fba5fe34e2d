"""The code pool in SQL. Allocation is one statement: row locks with SKIP LOCKED on PostgreSQL, and
SQLite's BEGIN IMMEDIATE (taken by every writing unit of work) serialises writers there."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db.tables import code_batches, codes
from domain.codepool import Batch, CodeState, OutOfStock, Sealed, StockCounts
from domain.money import Money


class AllocationHints:
    """Per process, the highest code id each product last allocated.

    Allocation starts its index scan just below that id instead of at the product's first code, so
    its cost does not grow with the number of codes already sold (on PostgreSQL their index entries
    linger until vacuum). Only a hint: when nothing is found above it, the scan starts over from the
    beginning, so codes released below it are still sold.
    """

    def __init__(self) -> None:
        self._last: dict[int, int] = {}

    def start(self, product_id: int) -> int:
        return self._last.get(product_id, 0)

    def advance(self, product_id: int, code_id: int) -> None:
        self._last[product_id] = max(code_id, self._last.get(product_id, 0))

    def forget(self, product_id: int) -> None:
        self._last.pop(product_id, None)


class SqlCodes:
    def __init__(self, connection: AsyncConnection, hints: AllocationHints) -> None:
        self._db = connection
        self._hints = hints

    async def add_batch(self, batch: Batch) -> Batch:
        new_id = (
            await self._db.execute(
                insert(code_batches)
                .values(
                    product_id=batch.product_id,
                    source=batch.source,
                    unit_cost_minor=batch.unit_cost.minor,
                    currency=batch.unit_cost.currency,
                    expires_at=batch.expires_at,
                    imported_by=batch.imported_by,
                    imported_at=batch.imported_at,
                    total=batch.total,
                )
                .returning(code_batches.c.id)
            )
        ).scalar_one()
        return replace(batch, id=new_id)

    async def discard_batch(self, batch_id: int) -> None:
        """Remove a batch that ended up with no codes (every row was already in the pool)."""
        await self._db.execute(delete(code_batches).where(code_batches.c.id == batch_id))

    async def set_batch_total(self, batch_id: int, total: int) -> None:
        await self._db.execute(update(code_batches).where(code_batches.c.id == batch_id).values(total=total))

    async def add_codes(self, batch: Batch, sealed: Sequence[tuple[bytes, Sealed]], now: datetime) -> int:
        """Insert available codes, skipping fingerprints the product already has; returns how many went in."""
        if not sealed:
            return 0
        dialect = postgresql if self._db.dialect.name == "postgresql" else sqlite
        statement = (
            dialect.insert(codes)
            .on_conflict_do_nothing(index_elements=[codes.c.product_id, codes.c.fingerprint])
            .returning(codes.c.id)
        )
        params = [
            {
                "product_id": batch.product_id,
                "batch_id": batch.id,
                "state": CodeState.AVAILABLE.value,
                "fingerprint": fingerprint,
                "key_id": item.key_id,
                "nonce": item.nonce,
                "ciphertext": item.ciphertext,
                "state_changed_at": now,
            }
            for fingerprint, item in sealed
        ]
        return len((await self._db.execute(statement, params)).all())

    async def reserve(self, product_id: int, quantity: int, holder: str, now: datetime) -> list[int]:
        """Reserve `quantity` available codes for `holder`, all or none (raises OutOfStock)."""
        taken = await self._take(product_id, quantity, holder, now, after=self._hints.start(product_id))
        if len(taken) < quantity:
            taken += await self._take(product_id, quantity - len(taken), holder, now, after=0)
        if len(taken) < quantity:
            self._hints.forget(product_id)
            raise OutOfStock(f"only {len(taken)} of {quantity} available", available=len(taken))
        self._hints.advance(product_id, max(taken))
        return sorted(taken)

    async def release(self, holder: str, now: datetime) -> int:
        """Reserved codes go back to the pool (an order expired or was cancelled)."""
        return await self._from_reserved(holder, CodeState.AVAILABLE, now)

    async def sell(self, holder: str, now: datetime) -> int:
        return await self._from_reserved(holder, CodeState.SOLD, now)

    async def counts(self, product_id: int) -> dict[int, StockCounts]:
        """Per batch of the product, how many codes are in each state."""
        rows = await self._db.execute(
            select(code_batches.c.id, codes.c.state, func.count(codes.c.id))
            .select_from(code_batches.outerjoin(codes, codes.c.batch_id == code_batches.c.id))
            .where(code_batches.c.product_id == product_id)
            .group_by(code_batches.c.id, codes.c.state)
        )
        tallies: dict[int, dict[str, int]] = {}
        for batch_id, state, count in rows:
            tallies.setdefault(batch_id, {})
            if state is not None:
                tallies[batch_id][state] = count
        return {batch_id: StockCounts(**tally) for batch_id, tally in tallies.items()}

    async def batches(self, product_id: int) -> list[Batch]:
        rows = await self._db.execute(
            select(code_batches).where(code_batches.c.product_id == product_id).order_by(code_batches.c.id.desc())
        )
        return [
            Batch(
                id=row.id,
                product_id=row.product_id,
                source=row.source,
                unit_cost=Money(row.unit_cost_minor, row.currency),
                imported_by=row.imported_by,
                imported_at=row.imported_at,
                expires_at=row.expires_at,
                total=row.total,
            )
            for row in rows
        ]

    async def _take(self, product_id: int, quantity: int, holder: str, now: datetime, *, after: int) -> list[int]:
        # The candidates are chosen once, in a materialised CTE: as an IN (subquery), PostgreSQL may run a
        # SKIP LOCKED subquery again for every row it updates and take more codes than asked for.
        picked = (
            select(codes.c.id)
            .where(codes.c.product_id == product_id, codes.c.state == CodeState.AVAILABLE.value, codes.c.id > after)
            .order_by(codes.c.id)
            .limit(quantity)
            .with_for_update(skip_locked=True)  # PostgreSQL only; SQLite renders no locking clause
            .cte("picked")
            .prefix_with("MATERIALIZED", dialect="postgresql")
        )
        taken = await self._db.execute(
            update(codes)
            .where(codes.c.id == picked.c.id)
            .values(state=CodeState.RESERVED.value, holder=holder, state_changed_at=now)
            .returning(codes.c.id)
        )
        return list(taken.scalars())

    async def _from_reserved(self, holder: str, target: CodeState, now: datetime) -> int:
        moved = await self._db.execute(
            update(codes)
            .where(codes.c.holder == holder, codes.c.state == CodeState.RESERVED.value)
            .values(state=target.value, holder=holder if target is CodeState.SOLD else None, state_changed_at=now)
            .returning(codes.c.id)
        )
        return len(moved.all())

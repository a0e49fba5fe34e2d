"""The code pool in SQL. Allocation is one statement: row locks with SKIP LOCKED on PostgreSQL, and
SQLite's BEGIN IMMEDIATE (taken by every writing unit of work) serialises writers there."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Label, bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db.engine import insert_for
from adapters.db.tables import (
    api_keys,
    code_batches,
    code_import_chunks,
    code_import_rows,
    codes,
    deliveries,
    products,
    upstreams,
)
from domain.codepool import (
    UNSOLD,
    Batch,
    CodeAction,
    CodeState,
    OutOfStock,
    Sealed,
    SoldCode,
    StockCounts,
    StoredCode,
)
from domain.money import Money
from domain.paging import Page, PageRequest


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


# Which key sealed each value that key rotation re-seals (a NULL: nothing sealed there).
RESEALED = (
    codes.c.key_id,
    deliveries.c.token_key_id,
    deliveries.c.content_key_id,
    api_keys.c.secret_key_id,
    api_keys.c.webhook_key_id,
    upstreams.c.secret_key_id,
    upstreams.c.webhook_key_id,
)


class SqlCodes:
    def __init__(self, connection: AsyncConnection, hints: AllocationHints, *, lock: bool) -> None:
        self._db = connection
        self._hints = hints
        self._lock = lock

    async def get(self, code_id: int) -> StoredCode | None:
        query = select(codes).where(codes.c.id == code_id)
        row = (await self._db.execute(query.with_for_update() if self._lock else query)).first()
        return _code(row) if row else None

    async def batch(self, batch_id: int) -> Batch | None:
        row = (await self._db.execute(select(code_batches).where(code_batches.c.id == batch_id))).first()
        return _batch(row) if row else None

    async def of_batch(self, batch_id: int, page: PageRequest) -> Page[StoredCode]:
        total = (
            await self._db.execute(select(func.count()).select_from(codes).where(codes.c.batch_id == batch_id))
        ).scalar_one()
        rows = await self._db.execute(
            select(codes).where(codes.c.batch_id == batch_id).order_by(codes.c.id).limit(page.size).offset(page.offset)
        )
        return Page([_code(row) for row in rows], total, page)

    async def apply(
        self, action: CodeAction, now: datetime, *, code_id: int | None = None, batch_id: int | None = None
    ) -> int:
        """Move the code (or every code of the batch) that is in one of the action's source states."""
        which = codes.c.id == code_id if code_id is not None else codes.c.batch_id == batch_id
        moved = await self._db.execute(
            update(codes)
            .where(which, codes.c.state.in_([state.value for state in action.sources]))
            .values(state=action.target.value, state_changed_at=now)
            .returning(codes.c.id)
        )
        return len(moved.all())

    async def available_counts(self, product_ids: Sequence[int]) -> dict[int, int]:
        rows = await self._db.execute(
            select(codes.c.product_id, func.count())
            .where(codes.c.product_id.in_(product_ids), codes.c.state == CodeState.AVAILABLE.value)
            .group_by(codes.c.product_id)
        )
        return {product_id: count for product_id, count in rows.all()}

    async def running_low(self, kinds: Sequence[str], below: int, limit: int) -> list[tuple[int, int]]:
        left = func.count(codes.c.id)
        rows = await self._db.execute(
            select(products.c.id, left)
            .select_from(
                products.outerjoin(
                    codes, (codes.c.product_id == products.c.id) & (codes.c.state == CodeState.AVAILABLE.value)
                )
            )
            .where(products.c.on_sale.is_(True), products.c.delivery_kind.in_(kinds))
            .group_by(products.c.id)
            .having(left < below)
            .order_by(left, products.c.id)
            .limit(limit)
        )
        return [(product_id, count) for product_id, count in rows.all()]

    async def sealed_by_another_key(self, active: str) -> bool:
        for column in RESEALED:
            if (await self._db.execute(select(column).where(column != active).limit(1))).first() is not None:
                return True
        return False

    async def count_by_key(self) -> dict[str, int]:
        """Everything sealed, per key: what a re-seal renews, and uploads and staged rows of imports not yet
        finished (they go once the import ends)."""
        totals: dict[str, int] = {}
        for column in (*RESEALED, code_import_chunks.c.key_id, code_import_rows.c.key_id):
            rows = await self._db.execute(select(column, func.count()).where(column.is_not(None)).group_by(column))
            for key_id, count in rows.all():
                totals[key_id] = totals.get(key_id, 0) + count
        return totals

    async def sealed_by_other_keys(self, active: str, after_id: int, limit: int) -> list[StoredCode]:
        rows = await self._db.execute(
            select(codes).where(codes.c.key_id != active, codes.c.id > after_id).order_by(codes.c.id).limit(limit)
        )
        return [_code(row) for row in rows]

    async def reseal(self, resealed: Sequence[tuple[int, Sealed]]) -> None:
        if not resealed:
            return
        statement = (
            update(codes)
            .where(codes.c.id == bindparam("code_id"))
            .values(key_id=bindparam("new_key"), nonce=bindparam("new_nonce"), ciphertext=bindparam("new_ciphertext"))
        )
        await self._db.execute(
            statement,
            [
                {"code_id": code_id, "new_key": s.key_id, "new_nonce": s.nonce, "new_ciphertext": s.ciphertext}
                for code_id, s in resealed
            ],
        )

    async def unsold(self, batch_id: int) -> AsyncIterator[StoredCode]:
        """The batch's unsold codes in id order, streamed from the database rather than loaded at once."""
        result = await self._db.stream(
            select(codes)
            .where(codes.c.batch_id == batch_id, codes.c.state.in_([state.value for state in UNSOLD]))
            .order_by(codes.c.id)
            .execution_options(yield_per=2000)
        )
        async for row in result:
            yield _code(row)

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
        statement = (
            insert_for(self._db, codes)
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

    async def reserve_up_to(self, product_id: int, quantity: int, holder: str, now: datetime) -> list[int]:
        """Reserve what the pool has for `holder`, at most `quantity`: the same atomic statement as `reserve`, without
        its all-or-none (what is taken is kept)."""
        if quantity < 1:
            return []
        taken = await self._take(product_id, quantity, holder, now, after=self._hints.start(product_id))
        if len(taken) < quantity:
            taken += await self._take(product_id, quantity - len(taken), holder, now, after=0)
        if len(taken) < quantity:
            self._hints.forget(product_id)
        elif taken:
            self._hints.advance(product_id, max(taken))
        return sorted(taken)

    async def release(self, holder: str, now: datetime) -> int:
        """Reserved codes go back to the pool (an order expired or was cancelled)."""
        return len(await self._from_reserved(holder, CodeState.AVAILABLE, now))

    async def sell(self, holder: str, now: datetime) -> list[SoldCode]:
        sold = await self._db.execute(
            _SELL,
            {"b_holder": holder, "b_reserved": CodeState.RESERVED.value, "b_sold": CodeState.SOLD.value, "b_now": now},
        )
        return sorted(
            (
                SoldCode(_code(row), Money(row.batch_unit_cost_minor, row.batch_currency), row.batch_expires_at)
                for row in sold
            ),
            key=lambda s: s.code.id,
        )

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
        return [_batch(row) for row in rows]

    async def freeze_expired(self, now: datetime) -> int:
        """Available codes of batches past their expiry become frozen: out of the pool, still counted."""
        expired = select(code_batches.c.id).where(code_batches.c.expires_at <= now)
        moved = await self._db.execute(
            update(codes)
            .where(codes.c.state == CodeState.AVAILABLE.value, codes.c.batch_id.in_(expired))
            .values(state=CodeState.FROZEN.value, state_changed_at=now)
            .returning(codes.c.id)
        )
        return len(moved.all())

    async def _take(self, product_id: int, quantity: int, holder: str, now: datetime, *, after: int) -> list[int]:
        taken = await self._db.execute(
            _TAKE,
            {
                "b_product": product_id,
                "b_now": now,
                "b_available": CodeState.AVAILABLE.value,
                "b_after": after,
                "b_quantity": quantity,
                "b_reserved": CodeState.RESERVED.value,
                "b_holder": holder,
            },
        )
        return list(taken.scalars())

    async def _from_reserved(self, holder: str, target: CodeState, now: datetime) -> list[int]:
        moved = await self._db.execute(
            update(codes)
            .where(codes.c.holder == holder, codes.c.state == CodeState.RESERVED.value)
            .values(state=target.value, holder=holder if target is CodeState.SOLD else None, state_changed_at=now)
            .returning(codes.c.id)
        )
        return sorted(moved.scalars())


# The candidates are chosen once, in a materialised CTE: as an IN (subquery), PostgreSQL may run a SKIP LOCKED
# subquery again for every row it updates and take more codes than asked for. Codes of an expired batch are never
# sold, even in the minute before the sweeper freezes them. Built once (every order allocates): compilation cached.
_EXPIRED = select(code_batches.c.id).where(
    code_batches.c.product_id == bindparam("b_product"), code_batches.c.expires_at <= bindparam("b_now")
)
_PICKED = (
    select(codes.c.id)
    .where(
        codes.c.product_id == bindparam("b_product"),
        codes.c.state == bindparam("b_available"),
        codes.c.id > bindparam("b_after"),
        codes.c.batch_id.not_in(_EXPIRED),
    )
    .order_by(codes.c.id)
    .limit(bindparam("b_quantity"))
    .with_for_update(skip_locked=True)  # PostgreSQL only; SQLite renders no locking clause
    .cte("picked")
    .prefix_with("MATERIALIZED", dialect="postgresql")
)
_TAKE = (
    update(codes)
    .where(codes.c.id == _PICKED.c.id)
    .values(state=bindparam("b_reserved"), holder=bindparam("b_holder"), state_changed_at=bindparam("b_now"))
    .returning(codes.c.id)
)


def _of_batch(column: Column[Any], label: str) -> Label[Any]:
    return select(column).where(code_batches.c.id == codes.c.batch_id).scalar_subquery().label(label)


# Built once (a cached compilation, no per-call construction). The batch's columns come back by correlated
# subqueries: SQLite's RETURNING may not name another table, as an UPDATE … FROM would need.
_SELL = (
    update(codes)
    .where(codes.c.holder == bindparam("b_holder"), codes.c.state == bindparam("b_reserved"))
    .values(state=bindparam("b_sold"), state_changed_at=bindparam("b_now"))
    .returning(
        *codes.c,
        _of_batch(code_batches.c.unit_cost_minor, "batch_unit_cost_minor"),
        _of_batch(code_batches.c.currency, "batch_currency"),
        _of_batch(code_batches.c.expires_at, "batch_expires_at"),
    )
)


def _batch(row: Row[Any]) -> Batch:
    return Batch(
        id=row.id,
        product_id=row.product_id,
        source=row.source,
        unit_cost=Money(row.unit_cost_minor, row.currency),
        imported_by=row.imported_by,
        imported_at=row.imported_at,
        expires_at=row.expires_at,
        total=row.total,
    )


def _code(row: Row[Any]) -> StoredCode:
    return StoredCode(
        id=row.id,
        product_id=row.product_id,
        batch_id=row.batch_id,
        state=CodeState(row.state),
        fingerprint=bytes(row.fingerprint),
        sealed=Sealed(row.key_id, bytes(row.nonce), bytes(row.ciphertext)),
        state_changed_at=row.state_changed_at,
        holder=row.holder,
    )

"""The ledger in SQL: postings and entries appended, balances moved in the same transaction."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import ColumnElement, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db.engine import insert_for
from adapters.db.tables import account_balances, ledger_entries, ledger_postings
from domain.ledger import Account, Entry, Posting
from domain.money import Money


class SqlLedger:
    def __init__(self, connection: AsyncConnection) -> None:
        self._db = connection

    async def open(self, account: Account) -> None:
        await self._db.execute(
            insert_for(self._db, account_balances)
            .values(account=account.code, balance_minor=0)
            .on_conflict_do_nothing(index_elements=[account_balances.c.account])
        )

    async def balance(self, account: Account, *, lock: bool = False) -> int:
        if not account.keeps_running_balance:
            return await self.entries_total(account)
        query = select(account_balances.c.balance_minor).where(account_balances.c.account == account.code)
        found = (await self._db.execute(query.with_for_update() if lock else query)).scalar_one_or_none()
        return found or 0

    async def entries_total(self, account: Account) -> int:
        total = select(func.coalesce(func.sum(ledger_entries.c.amount_minor), 0)).where(
            ledger_entries.c.account == account.code
        )
        return (await self._db.execute(total)).scalar_one()

    async def post(self, posting: Posting) -> Posting:
        posting_id = (
            await self._db.execute(
                insert(ledger_postings)
                .values(
                    at=posting.at,
                    kind=posting.kind,
                    memo=posting.memo,
                    actor=posting.actor,
                    reference=posting.reference,
                    reverses=posting.reverses,
                )
                .returning(ledger_postings.c.id)
            )
        ).scalar_one()
        lines = [
            {"posting_id": posting_id, "account": e.account.code, "amount_minor": e.amount.minor,
             "currency": e.amount.currency}
            for e in posting.entries
        ]  # fmt: skip
        await self._db.execute(insert(ledger_entries).values(lines))
        moves: dict[Account, int] = {}
        for entry in posting.entries:
            if entry.account.keeps_running_balance:
                moves[entry.account] = moves.get(entry.account, 0) + entry.amount.minor
        if moves:  # one statement, one row per account
            currency = posting.entries[0].amount.currency
            moved = insert_for(self._db, account_balances).values(
                [{"account": a.code, "balance_minor": m, "currency": currency} for a, m in sorted(moves.items())]
            )
            await self._db.execute(
                moved.on_conflict_do_update(
                    index_elements=[account_balances.c.account],
                    set_={"balance_minor": account_balances.c.balance_minor + moved.excluded.balance_minor},
                )
            )
        return replace(posting, id=posting_id)

    async def postings(self, reference: str) -> list[Posting]:
        return await self._load(ledger_postings.c.reference == reference)

    async def total_before(self, account: Account, moment: datetime) -> int:
        total = (
            select(func.coalesce(func.sum(ledger_entries.c.amount_minor), 0))
            .select_from(ledger_entries.join(ledger_postings, ledger_entries.c.posting_id == ledger_postings.c.id))
            .where(ledger_entries.c.account == account.code, ledger_postings.c.at < moment)
        )
        return (await self._db.execute(total)).scalar_one()

    async def postings_of(self, account: Account, start: datetime, end: datetime) -> list[Posting]:
        touching = select(ledger_entries.c.posting_id).where(ledger_entries.c.account == account.code)
        return await self._load(
            ledger_postings.c.id.in_(touching), ledger_postings.c.at >= start, ledger_postings.c.at < end
        )

    async def _load(self, *conditions: ColumnElement[bool]) -> list[Posting]:
        heads = (
            await self._db.execute(select(ledger_postings).where(*conditions).order_by(ledger_postings.c.id))
        ).all()
        if not heads:
            return []
        lines = await self._db.execute(
            select(ledger_entries)
            .where(ledger_entries.c.posting_id.in_([head.id for head in heads]))
            .order_by(ledger_entries.c.id)
        )
        entries: dict[int, list[Entry]] = {}
        for line in lines:
            entries.setdefault(line.posting_id, []).append(
                Entry(Account.parse(line.account), Money(line.amount_minor, line.currency))
            )
        return [
            Posting(h.at, h.kind, h.memo, tuple(entries.get(h.id, [])), h.actor, h.reference, h.reverses, h.id)
            for h in heads
        ]

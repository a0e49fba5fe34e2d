"""The ledger in SQL: postings and entries appended, balances moved in the same transaction."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import ColumnElement, bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import Insert
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db.engine import insert_for, inserts_by_dialect
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
        found = await self._db.execute(_BALANCE_LOCKED if lock else _BALANCE, {"b_account": account.code})
        return found.scalar_one_or_none() or 0

    async def entries_total(self, account: Account) -> int:
        total = select(func.coalesce(func.sum(ledger_entries.c.amount_minor), 0)).where(
            ledger_entries.c.account == account.code
        )
        return (await self._db.execute(total)).scalar_one()

    async def post(self, posting: Posting) -> Posting:
        return (await self._post(posting))[0]

    async def post_and_balance(self, posting: Posting, account: Account) -> tuple[Posting, int]:
        posted, balances = await self._post(posting)
        return posted, balances[account] if account in balances else await self.balance(account, lock=True)

    async def _post(self, posting: Posting) -> tuple[Posting, dict[Account, int]]:
        """The posting with its id, and the kept balances it moved, as they stand after it."""
        head = {
            "at": posting.at,
            "kind": posting.kind,
            "memo": posting.memo,
            "actor": posting.actor,
            "reference": posting.reference,
            "reverses": posting.reverses,
        }
        posting_id = (await self._db.execute(_POST, head)).scalar_one()
        lines = [
            {"posting_id": posting_id, "account": e.account.code, "amount_minor": e.amount.minor,
             "currency": e.amount.currency}
            for e in posting.entries
        ]  # fmt: skip
        await self._db.execute(_ENTRIES, lines)
        moves: dict[Account, int] = {}
        for entry in posting.entries:
            if entry.account.keeps_running_balance:
                moves[entry.account] = moves.get(entry.account, 0) + entry.amount.minor
        balances: dict[Account, int] = {}
        if moves:  # one statement, one row per account, in the accounts' order (no deadlock between two postings)
            currency = posting.entries[0].amount.currency
            rows = [{"account": a.code, "balance_minor": m, "currency": currency} for a, m in sorted(moves.items())]
            moved = await self._db.execute(_MOVE[self._db.dialect.name], rows if len(rows) > 1 else rows[0])
            now_at = {code: balance for code, balance in moved}
            balances = {account: now_at[account.code] for account in moves}
        return replace(posting, id=posting_id), balances

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


# Statements built once, executed with parameters: their compilation is cached, and nothing is constructed per call.
_BALANCE = select(account_balances.c.balance_minor).where(account_balances.c.account == bindparam("b_account"))
_BALANCE_LOCKED = _BALANCE.with_for_update()
_POST = insert(ledger_postings).returning(ledger_postings.c.id)
_ENTRIES = insert(ledger_entries)


def _move(moved: Insert) -> Insert:
    """Add to running balances (a row each), opening those not kept yet; returns each as it now stands."""
    return moved.on_conflict_do_update(
        index_elements=[account_balances.c.account],
        set_={"balance_minor": account_balances.c.balance_minor + moved.excluded.balance_minor},
    ).returning(account_balances.c.account, account_balances.c.balance_minor)


_MOVE = {name: _move(moved) for name, moved in inserts_by_dialect(account_balances).items()}

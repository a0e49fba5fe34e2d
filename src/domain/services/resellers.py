"""Resellers and their prepaid wallets: open one, top it up, charge it — never past its credit limit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.audit import Actor, AuditEntry
from domain.errors import NotFound, ValidationFailed
from domain.ledger import Account, AccountKind, Posting, Statement, Wallet
from domain.money import InvalidAmount, Money
from domain.paging import Page, PageRequest
from domain.ports import Clock, UnitOfWork, UnitOfWorkFactory
from domain.resellers import Reseller, ResellerDraft

NOTE_MAX = 200


@dataclass(frozen=True, slots=True)
class Resellers:
    uow: UnitOfWorkFactory
    clock: Clock
    max_depth: int

    async def create(self, draft: ResellerDraft, actor: Actor) -> Reseller:
        """A new reseller with an empty wallet, under the merchant or under another reseller."""
        async with self.uow() as uow:
            parent = await _reseller(uow, draft.parent_id) if draft.parent_id is not None else None
            reseller = await uow.resellers.add(Reseller.create(draft, parent, self.clock.now(), self.max_depth))
            await uow.ledger.open(reseller.wallet)
            await uow.audit.record(
                AuditEntry(self.clock.now(), actor, "reseller.create", reseller.name, {"reseller": reseller.id})
            )
            await uow.commit()
        return reseller

    async def top_up(self, reseller_id: int, amount: str, note: str, actor: Actor) -> Money:
        """Money the merchant received from the reseller goes into its wallet; returns the new balance."""
        try:
            paid = Money.parse(amount)
        except InvalidAmount:
            raise ValidationFailed({"amount": "invalid_amount"}) from None
        if not paid.minor:
            raise ValidationFailed({"amount": "must_be_positive"})
        if len(note.strip()) > NOTE_MAX:
            raise ValidationFailed({"note": "too_long"})
        now = self.clock.now()
        async with self.uow() as uow:
            reseller = await _reseller(uow, reseller_id)
            posting = Posting.of(
                now,
                "top_up",
                [(reseller.wallet, paid), (Account(AccountKind.TOP_UPS), Money(-paid.minor, paid.currency))],
                memo=note.strip(),
                actor=actor.name,
            )
            await uow.ledger.post(posting)
            balance = Money(await uow.ledger.balance(reseller.wallet), paid.currency)
            details = {"reseller": reseller_id, "amount": paid.minor, "balance": balance.minor}
            await uow.audit.record(AuditEntry(now, actor, "reseller.top_up", reseller.name, details))
            await uow.commit()
        return balance

    async def page(self, page: PageRequest) -> Page[tuple[Reseller, Money]]:
        """Resellers with their wallet balances, newest first."""
        async with self.uow(read_only=True) as uow:
            found = await uow.resellers.page(page)
            items = [(r, Money(await uow.ledger.balance(r.wallet), r.credit_limit.currency)) for r in found.items]
        return Page(items, found.total, found.request)

    async def get(self, reseller_id: int) -> Reseller:
        async with self.uow(read_only=True) as uow:
            return await _reseller(uow, reseller_id)

    async def statement(self, reseller_id: int, start: datetime, end: datetime) -> Statement:
        """The wallet between two instants, read from the ledger: opening balance, each posting, closing."""
        if end <= start:
            raise ValidationFailed({"end": "before_start"})
        async with self.uow(read_only=True) as uow:
            reseller = await _reseller(uow, reseller_id)
            opening = Money(await uow.ledger.total_before(reseller.wallet, start), reseller.credit_limit.currency)
            postings = await uow.ledger.postings_of(reseller.wallet, start, end)
        return Statement.of(reseller.wallet, start, end, opening, postings)

    async def balance(self, reseller_id: int) -> Money:
        async with self.uow(read_only=True) as uow:
            reseller = await _reseller(uow, reseller_id)
            return Money(await uow.ledger.balance(reseller.wallet))


async def charge_wallet(
    uow: UnitOfWork,
    reseller: Reseller,
    amount: Money,
    to: Account,
    *,
    now: datetime,
    actor: str,
    reference: str,
    memo: str = "",
) -> Posting:
    """Take `amount` from the reseller's wallet for `to` inside the caller's transaction, or raise
    InsufficientBalance. The wallet stays locked until commit, so concurrent charges queue and together
    never spend past the credit limit."""
    balance = await uow.ledger.balance(reseller.wallet, lock=True)
    Wallet(Money(balance, amount.currency), reseller.credit_limit).check_can_spend(amount)
    return await uow.ledger.post(
        Posting.of(
            now,
            "purchase",
            [(reseller.wallet, Money(-amount.minor, amount.currency)), (to, amount)],
            memo=memo,
            actor=actor,
            reference=reference,
        )
    )


async def _reseller(uow: UnitOfWork, reseller_id: int) -> Reseller:
    reseller = await uow.resellers.get(reseller_id)
    if reseller is None:
        raise NotFound(f"no reseller #{reseller_id}")
    return reseller

"""Resellers and their prepaid wallets: open one, top it up, charge it — never past its credit limit; the
terms the merchant sets (status, credit, tier), their logins, their statements and what they pay."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from domain.audit import Actor, AuditEntry
from domain.errors import NotFound, ValidationFailed
from domain.ledger import Account, AccountKind, Posting, Statement, Wallet
from domain.money import InvalidAmount, Money
from domain.paging import Page, PageRequest
from domain.ports import Clock, UnitOfWork, UnitOfWorkFactory
from domain.pricing import Tier
from domain.resellers import Reseller, ResellerDraft, check_active
from domain.services.offers import Offer, chain_of, offers_on_sale
from domain.staff import Role, StaffMember, StaffStatus

NOTE_MAX = 200


@dataclass(frozen=True, slots=True)
class Resellers:
    uow: UnitOfWorkFactory
    clock: Clock
    max_depth: int

    async def create(self, draft: ResellerDraft, actor: Actor) -> Reseller:
        """A new reseller with an empty wallet, under the merchant or under another reseller."""
        reseller, _ = await self.create_with_login(draft, "", actor)
        return reseller

    async def create_with_login(self, draft: ResellerDraft, login: str, actor: Actor) -> tuple[Reseller, str | None]:
        """As `create`; with `login` (a username) also the reseller's login, and the one-time invite token with
        which it sets its password."""
        now = self.clock.now()
        async with self.uow() as uow:
            parent = await find_reseller(uow, draft.parent_id) if draft.parent_id is not None else None
            if draft.tier_id is not None and draft.tier_id not in {t.id for t in await uow.prices.tiers()}:
                raise ValidationFailed({"tier_id": "invalid_choice"})
            reseller = Reseller.create(draft, parent, now, self.max_depth)
            member = _login(login, reseller, now) if login.strip() else None  # checked before anything is written
            reseller = await uow.resellers.add(reseller)
            await uow.ledger.open(reseller.wallet)
            await uow.audit.record(AuditEntry(now, actor, "reseller.create", reseller.name, {"reseller": reseller.id}))
            token = await self._invite(uow, member, reseller, actor) if member else None
            await uow.commit()
        return reseller, token

    async def invite_login(self, reseller_id: int, username: str, actor: Actor) -> tuple[StaffMember, str]:
        """Another login for the reseller (role reseller), set up through a one-time invite link."""
        now = self.clock.now()
        async with self.uow() as uow:
            reseller = await find_reseller(uow, reseller_id)
            check_active(await chain_of(uow, reseller))  # no way in for a switched-off reseller
            member = _login(username, reseller, now)
            token = await self._invite(uow, member, reseller, actor)
            await uow.commit()
        return member, token

    async def reinvite_login(self, reseller_id: int, login_id: int, actor: Actor) -> tuple[StaffMember, str]:
        """A fresh invite link for one of the reseller's logins that has not set its password (the old link
        stops working)."""
        async with self.uow() as uow:
            reseller = await find_reseller(uow, reseller_id)
            check_active(await chain_of(uow, reseller))
            member = next((m for m in await uow.staff.of_reseller(reseller_id) if m.id == login_id), None)
            if member is None:
                raise NotFound(f"no login #{login_id} for reseller #{reseller_id}")
            member, token = member.invited(self.clock.now())
            await uow.staff.save(member)
            details = {"reseller": reseller_id, "login": member.username}
            await uow.audit.record(
                AuditEntry(self.clock.now(), actor, "reseller.reinvite_login", reseller.name, details)
            )
            await uow.commit()
        return member, token

    async def logins(self, reseller_id: int) -> list[StaffMember]:
        async with self.uow(read_only=True) as uow:
            return await uow.staff.of_reseller(reseller_id)

    async def set_terms(
        self, reseller_id: int, status: str, credit_limit: str, tier_id: int | None, markup: str, actor: Actor
    ) -> Reseller:
        """The merchant changes a reseller's status, credit limit and tier (or a sub-reseller's markup)."""
        async with self.uow() as uow:
            if tier_id is not None and tier_id not in {t.id for t in await uow.prices.tiers()}:
                raise ValidationFailed({"tier_id": "invalid_choice"})
            before = await find_reseller(uow, reseller_id)
            reseller = before.with_terms(status, credit_limit, tier_id, markup)
            await save_terms(uow, reseller)
            details = {
                "reseller": reseller_id,
                "status": reseller.status.value,
                "credit_limit": reseller.credit_limit.minor,
                "tier": reseller.tier_id,
                "markup_bp": reseller.markup_bp,
            }
            await uow.audit.record(AuditEntry(self.clock.now(), actor, "reseller.terms", reseller.name, details))
            await uow.commit()
        return reseller

    async def tiers(self) -> list[Tier]:
        async with self.uow(read_only=True) as uow:
            return await uow.prices.tiers()

    async def catalog(self, reseller_id: int, page: PageRequest) -> Page[Offer]:
        """The products on sale this reseller may sell, with its cost and how it was reached (explain)."""
        async with self.uow(read_only=True) as uow:
            chain = await chain_of(uow, await find_reseller(uow, reseller_id))
            return Page.of(await offers_on_sale(uow, chain), page)

    async def _invite(self, uow: UnitOfWork, member: StaffMember, reseller: Reseller, actor: Actor) -> str:
        member, token = replace(member, reseller_id=reseller.id).invited(self.clock.now())
        member = await uow.staff.add(member)
        details = {"reseller": reseller.id, "login": member.username}
        await uow.audit.record(AuditEntry(self.clock.now(), actor, "reseller.invite_login", reseller.name, details))
        return token

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
            reseller = await find_reseller(uow, reseller_id)
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
            return await find_reseller(uow, reseller_id)

    async def statement(
        self, reseller_id: int, start: datetime, end: datetime, kind: AccountKind = AccountKind.RESELLER_WALLET
    ) -> Statement:
        """The wallet (or the commission account: earnings) between two instants, read from the ledger:
        opening balance, each posting, closing."""
        if end <= start:
            raise ValidationFailed({"end": "before_start"})
        if kind not in (AccountKind.RESELLER_WALLET, AccountKind.RESELLER_COMMISSION):
            raise ValidationFailed({"account": "invalid_choice"})
        async with self.uow(read_only=True) as uow:
            reseller = await find_reseller(uow, reseller_id)
            account = Account(kind, reseller_id)
            opening = Money(await uow.ledger.total_before(account, start), reseller.credit_limit.currency)
            postings = await uow.ledger.postings_of(account, start, end)
        return Statement.of(account, start, end, opening, postings)

    async def balance(self, reseller_id: int, kind: AccountKind = AccountKind.RESELLER_WALLET) -> Money:
        async with self.uow(read_only=True) as uow:
            await find_reseller(uow, reseller_id)
            return Money(await uow.ledger.balance(Account(kind, reseller_id)))


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
    InsufficientBalance — the caller's transaction then ends without commit. The charge is written, then checked:
    the wallet stays locked from that write until commit, so concurrent charges queue and together never spend past
    the credit limit."""
    posting, balance = await uow.ledger.post_and_balance(
        Posting.of(
            now,
            "purchase",
            [(reseller.wallet, Money(-amount.minor, amount.currency)), (to, amount)],
            memo=memo,
            actor=actor,
            reference=reference,
        ),
        reseller.wallet,
    )
    Wallet(Money(balance + amount.minor, amount.currency), reseller.credit_limit).check_can_spend(amount)
    return posting


async def save_terms(uow: UnitOfWork, reseller: Reseller) -> None:
    """Store the reseller's terms; its logins follow its status (disabled with it — their sessions end — and
    enabled again with it)."""
    await uow.resellers.save(reseller)
    for member in await uow.staff.of_reseller(reseller.id or 0):
        if not reseller.is_active and member.status is not StaffStatus.DISABLED:
            await uow.staff.save(member.disabled(active_owners=0))
        elif reseller.is_active and member.status is StaffStatus.DISABLED:
            await uow.staff.save(member.enabled())


def _login(username: str, reseller: Reseller, now: datetime) -> StaffMember:
    """A login for the reseller (its id is filled in once the reseller is stored)."""
    return StaffMember.register(username, reseller.name, Role.RESELLER, now, reseller_id=reseller.id or 0)


async def find_reseller(uow: UnitOfWork, reseller_id: int) -> Reseller:
    """The reseller, or NotFound."""
    reseller = await uow.resellers.get(reseller_id)
    if reseller is None:
        raise NotFound(f"no reseller #{reseller_id}")
    return reseller

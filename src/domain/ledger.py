"""The double-entry ledger: every movement of money is a posting whose entries sum to zero.

Balances are never stored as the truth: an account's balance is the sum of its entries. Postings are
append-only; a correction is a new posting that reverses the old one. Amounts are integer minor units.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from domain.errors import DomainError
from domain.money import Money


class AccountKind(StrEnum):
    """What an account holds. Per-party kinds are owned by one reseller; the rest are the merchant's."""

    RESELLER_WALLET = "reseller_wallet"  # prepaid balance a reseller spends on orders
    RESELLER_COMMISSION = "reseller_commission"  # what a reseller earned from its sub-resellers and shop
    SUPPLIER_PAYABLE = "supplier_payable"  # what the merchant owes suppliers for codes sold (one per supplier later)
    PLATFORM_REVENUE = "platform_revenue"  # the merchant's margin
    GATEWAY_RECEIPTS = "gateway_receipts"  # the other side of buyer payments: money at the payment gateway
    BUYER_CLEARING = "buyer_clearing"  # buyer money received (gateway or wallet), not yet split by a sale
    REFUNDS = "refunds"  # money returned to buyers
    TOP_UPS = "top_ups"  # the other side of reseller top-ups: cash the merchant received


PER_PARTY = frozenset({AccountKind.RESELLER_WALLET, AccountKind.RESELLER_COMMISSION})


@dataclass(frozen=True, slots=True, order=True)
class Account:
    kind: AccountKind
    owner: int | None = None  # the reseller's id for per-party accounts

    def __post_init__(self) -> None:
        if (self.kind in PER_PARTY) != (self.owner is not None):
            raise ValueError(f"{self.kind} accounts {'need' if self.kind in PER_PARTY else 'have no'} owner")

    @property
    def keeps_running_balance(self) -> bool:
        """A reseller's accounts keep their balance beside the entries (a wallet is locked and checked on every
        charge). The merchant's own accounts, touched by every order, do not: one row updated by every
        payment and delivery would queue them all behind each other. Their balance is summed when asked."""
        return self.kind in PER_PARTY

    @property
    def code(self) -> str:
        """Stable text form, e.g. `reseller_wallet:12` or `platform_revenue`."""
        return self.kind.value if self.owner is None else f"{self.kind.value}:{self.owner}"

    @classmethod
    def parse(cls, code: str) -> Account:
        kind, _, owner = code.partition(":")
        return cls(AccountKind(kind), int(owner) if owner else None)


class UnbalancedPosting(DomainError):
    code = "unbalanced_posting"


class InsufficientBalance(DomainError):
    code = "insufficient_balance"


@dataclass(frozen=True, slots=True)
class Entry:
    """One side of a posting. Positive adds to the account's balance, negative takes from it."""

    account: Account
    amount: Money


@dataclass(frozen=True, slots=True)
class Posting:
    at: datetime
    kind: str  # top_up, purchase, commission, refund, reversal, …
    memo: str
    entries: tuple[Entry, ...]
    actor: str = "system"
    reference: str = ""  # what caused it, e.g. an order number
    reverses: int | None = None  # the posting this one undoes (each is undone at most once)
    id: int | None = None

    @classmethod
    def of(
        cls,
        at: datetime,
        kind: str,
        entries: Iterable[tuple[Account, Money]],
        *,
        memo: str = "",
        actor: str = "system",
        reference: str = "",
    ) -> Posting:
        """A balanced posting, or UnbalancedPosting: two or more non-zero entries, one currency, summing to zero."""
        lines = tuple(Entry(account, amount) for account, amount in entries)
        if len(lines) < 2 or any(line.amount.minor == 0 for line in lines):
            raise UnbalancedPosting("a posting moves money between at least two accounts")
        if len({line.amount.currency for line in lines}) != 1:
            raise UnbalancedPosting("a posting is in one currency")
        if sum(line.amount.minor for line in lines) != 0:
            raise UnbalancedPosting(f"entries sum to {sum(line.amount.minor for line in lines)}, not 0")
        return cls(at, kind, memo, lines, actor, reference)

    def reversal(self, at: datetime, actor: str, memo: str = "") -> Posting:
        """The posting that undoes this one (append-only: nothing is ever edited or deleted)."""
        undo = Posting.of(
            at,
            "reversal",
            ((line.account, Money(-line.amount.minor, line.amount.currency)) for line in self.entries),
            memo=memo or f"reverses #{self.id} ({self.kind})",
            actor=actor,
            reference=self.reference,
        )
        return replace(undo, reverses=self.id)

    def amount_for(self, account: Account) -> int:
        return sum(line.amount.minor for line in self.entries if line.account == account)


def not_yet_reversed(postings: Iterable[Posting], kinds: frozenset[str]) -> list[Posting]:
    """Of these postings, those of the given kinds that no reversal among them undoes yet."""
    postings = list(postings)
    undone = {posting.reverses for posting in postings if posting.reverses is not None}
    return [posting for posting in postings if posting.kind in kinds and posting.id not in undone]


@dataclass(frozen=True, slots=True)
class Wallet:
    """A reseller's prepaid balance with the credit the merchant allows it."""

    balance: Money
    credit_limit: Money = field(default_factory=lambda: Money(0))

    @property
    def spendable(self) -> Money:
        """What can still be spent: the balance plus the credit."""
        return self.balance + self.credit_limit

    def check_can_spend(self, amount: Money) -> None:
        """A balance may go negative down to minus the credit limit, never further."""
        if self.balance.minor - amount.minor < -self.credit_limit.minor:
            raise InsufficientBalance(
                f"balance {self.balance} with credit {self.credit_limit} does not cover {amount}",
                balance=self.balance.amount,
                amount=amount.amount,
            )


@dataclass(frozen=True, slots=True)
class StatementLine:
    at: datetime
    kind: str
    memo: str
    reference: str
    amount: Money
    balance: Money  # after this line
    posting_id: int


@dataclass(frozen=True, slots=True)
class Statement:
    """An account between two instants: opening balance, each posting, closing balance."""

    account: Account
    start: datetime
    end: datetime
    opening: Money
    lines: tuple[StatementLine, ...]

    @property
    def closing(self) -> Money:
        return self.lines[-1].balance if self.lines else self.opening

    @classmethod
    def of(
        cls, account: Account, start: datetime, end: datetime, opening: Money, postings: Iterable[Posting]
    ) -> Statement:
        running, lines = opening, []
        for posting in postings:
            amount = Money(posting.amount_for(account), opening.currency)
            running = running + amount
            lines.append(
                StatementLine(
                    posting.at, posting.kind, posting.memo, posting.reference, amount, running, posting.id or 0
                )
            )
        return cls(account, start, end, opening, tuple(lines))

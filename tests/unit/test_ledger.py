"""The ledger's rules: postings balance, balances are sums, corrections are new postings, credit has a floor."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from domain.ledger import (
    Account,
    AccountKind,
    InsufficientBalance,
    Posting,
    UnbalancedPosting,
    Wallet,
)
from domain.money import Money

NOW = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def balance(account: Account, postings: list[Posting]) -> Money:
    """What the ledger's balance of an account is: the sum of its entries (as the repository sums them)."""
    return Money(sum(posting.amount_for(account) for posting in postings))


WALLET = Account(AccountKind.RESELLER_WALLET, 12)
TOP_UPS = Account(AccountKind.TOP_UPS)
REVENUE = Account(AccountKind.PLATFORM_REVENUE)
SUPPLIER = Account(AccountKind.SUPPLIER_PAYABLE)


def test_a_top_up_and_a_purchase_balance_and_move_the_wallet():
    top_up = Posting.of(NOW, "top_up", [(WALLET, Money(10000)), (TOP_UPS, Money(-10000))], memo="bank transfer")
    purchase = Posting.of(NOW, "purchase", [(WALLET, Money(-1980)), (REVENUE, Money(480)), (SUPPLIER, Money(1500))])
    assert balance(WALLET, [top_up, purchase]) == Money(8020)
    assert balance(REVENUE, [top_up, purchase]) == Money(480)
    assert balance(TOP_UPS, [top_up, purchase]) == Money(-10000)


@pytest.mark.parametrize(
    "entries",
    [
        [(WALLET, Money(100)), (TOP_UPS, Money(-99))],  # off by one fen
        [(WALLET, Money(100))],  # one-sided
        [(WALLET, Money(100)), (TOP_UPS, Money(-100)), (REVENUE, Money(0))],  # an empty line
        [(WALLET, Money(100)), (TOP_UPS, Money(-100, "USD"))],  # two currencies
    ],
)
def test_unbalanced_postings_are_refused(entries):
    with pytest.raises(UnbalancedPosting):
        Posting.of(NOW, "top_up", entries)


def test_a_reversal_is_a_new_posting_that_brings_every_account_back():
    purchase = Posting.of(NOW, "purchase", [(WALLET, Money(-1980)), (REVENUE, Money(480)), (SUPPLIER, Money(1500))])
    purchase = Posting(purchase.at, purchase.kind, purchase.memo, purchase.entries, purchase.actor, "2611", id=7)
    undo = purchase.reversal(NOW, "finance")
    assert (undo.reference, undo.reverses, undo.kind) == ("2611", 7, "reversal")
    for account in (WALLET, REVENUE, SUPPLIER):
        assert balance(account, [purchase, undo]) == Money(0)


def test_random_postings_always_sum_to_zero_across_all_accounts():
    rng = random.Random(20261122)
    accounts = [WALLET, TOP_UPS, REVENUE, SUPPLIER, Account(AccountKind.RESELLER_COMMISSION, 5)]
    postings = []
    for _ in range(500):
        chosen = rng.sample(accounts, rng.randint(2, len(accounts)))
        amounts = [rng.randint(1, 10**7) * rng.choice((1, -1)) for _ in chosen[:-1]]
        if sum(amounts) == 0:
            continue
        lines = [Money(a) for a in amounts] + [Money(-sum(amounts))]
        postings.append(Posting.of(NOW, "test", zip(chosen, lines, strict=True)))
    assert sum(balance(account, postings).minor for account in accounts) == 0


def test_accounts_name_their_owner_exactly_when_they_belong_to_a_party():
    assert Account.parse("reseller_wallet:12") == WALLET and WALLET.code == "reseller_wallet:12"
    assert Account.parse("platform_revenue") == REVENUE
    with pytest.raises(ValueError):
        Account(AccountKind.RESELLER_WALLET)
    with pytest.raises(ValueError):
        Account(AccountKind.PLATFORM_REVENUE, 3)


def test_a_wallet_spends_down_to_its_credit_limit_and_no_further():
    wallet = Wallet(Money(1000), credit_limit=Money(500))
    wallet.check_can_spend(Money(1500))
    with pytest.raises(InsufficientBalance) as caught:
        wallet.check_can_spend(Money(1501))
    assert caught.value.code == "insufficient_balance"
    with pytest.raises(InsufficientBalance):
        Wallet(Money(0)).check_can_spend(Money(1))

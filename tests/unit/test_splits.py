"""Splits of a sale between supplier, platform and each reseller level — properties over many chains."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.ledger import Account, AccountKind
from domain.money import Money
from domain.splits import PLATFORM, SUPPLIER, BelowCost, split

fen = st.integers(min_value=0, max_value=10**9)
chains = st.lists(st.tuples(st.integers(min_value=1, max_value=10**6), fen), max_size=5, unique_by=lambda c: c[0])


def test_a_two_level_sale_pays_everyone_their_difference():
    shares = split(Money(3000), Money(1500), [(1, Money(2000)), (2, Money(2400))])
    assert {(s.account, s.amount.minor) for s in shares} == {
        (SUPPLIER, 1500),
        (PLATFORM, 500),
        (Account(AccountKind.RESELLER_COMMISSION, 1), 400),
        (Account(AccountKind.RESELLER_COMMISSION, 2), 600),
    }


def test_a_direct_sale_is_supplier_and_platform_only():
    assert [(s.account, s.amount.minor) for s in split(Money(1980), Money(1500))] == [(SUPPLIER, 1500), (PLATFORM, 480)]


def test_below_cost_is_refused_unless_the_merchant_allows_it():
    with pytest.raises(BelowCost):
        split(Money(1800), Money(1500), [(1, Money(2000))])
    shares = split(Money(1800), Money(1500), [(1, Money(2000))], allow_below_cost=True)
    assert (Account(AccountKind.RESELLER_COMMISSION, 1), -200) in {(s.account, s.amount.minor) for s in shares}


@given(sale=fen, supplier=fen, chain=chains)
def test_the_shares_always_add_up_to_the_sale(sale, supplier, chain):
    shares = split(Money(sale), Money(supplier), [(rid, Money(cost)) for rid, cost in chain], allow_below_cost=True)
    assert sum(share.amount.minor for share in shares) == sale
    assert all(share.amount.minor != 0 for share in shares)


@given(sale=fen, supplier=fen, chain=chains)
def test_no_level_earns_a_negative_amount_unless_allowed(sale, supplier, chain):
    prices = [supplier] + [cost for _, cost in chain] + [sale]
    never_below_cost = all(later >= earlier for earlier, later in pairwise(prices))
    try:
        shares = split(Money(sale), Money(supplier), [(rid, Money(cost)) for rid, cost in chain])
    except BelowCost:
        assert not never_below_cost
    else:
        assert never_below_cost and all(share.amount.minor > 0 for share in shares)

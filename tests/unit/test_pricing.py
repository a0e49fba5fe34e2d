"""Prices from the merchant's rules, each quote explaining itself; exact to the fen."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import ValidationFailed
from domain.money import Money
from domain.pricing import (
    MARKUP_MAX,
    Audience,
    Level,
    PriceList,
    QuantityBreak,
    TierPrice,
    chain_quotes,
    check_price_for_child,
    discounted,
    marked_up,
    parse_percent,
    quote,
)

PRICES = PriceList(
    retail=Money(3000),
    floor=Money(2200),
    tiers={"gold": TierPrice(discount_bp=1000), "partner": TierPrice(price=Money(2500))},
    overrides={7: Money(2300)},
    breaks=(QuantityBreak(10, 200), QuantityBreak(100, 500)),
)


def test_a_buyer_pays_retail_and_the_quote_says_so():
    found = quote(PRICES, 1)
    assert found.unit == Money(3000) and found.total == Money(3000)
    assert found.explain() == "retail 30.00"


def test_the_most_specific_rule_wins_then_quantity_breaks_apply():
    assert quote(PRICES, 1, tier="gold").unit == Money(2700)
    assert quote(PRICES, 1, tier="partner").unit == Money(2500)
    assert quote(PRICES, 1, reseller_id=7, tier="gold").unit == Money(2300), "an override beats the tier"
    many = quote(PRICES, 10, tier="gold")
    assert many.unit == Money(2646)  # 27.00 − 2 %
    assert many.explain() == "retail 30.00 → tier_discount gold −10 % 27.00 → quantity_break 10+ −2 % 26.46"
    assert quote(PRICES, 100, tier="gold").unit == Money(2565), "the largest break that applies"


def test_nobody_sells_below_the_floor():
    found = quote(PRICES, 100, reseller_id=7)  # 23.00 − 5 % = 21.85 < 22.00
    assert found.unit == Money(2200) and [s.rule for s in found.steps][-1] == "floor"


def test_a_sub_reseller_pays_what_its_parent_set_never_below_the_parents_cost():
    assert quote(PRICES, 1, set_by_parent=Money(2800), tier="gold").unit == Money(2800)
    check_price_for_child(Money(2700), Money(2700))
    with pytest.raises(ValidationFailed) as caught:
        check_price_for_child(Money(2700), Money(2699))
    assert caught.value.errors == {"price": "below_own_cost"}


def test_nonsense_is_refused():
    with pytest.raises(ValidationFailed):
        quote(PRICES, 0)
    with pytest.raises(ValidationFailed):
        discounted(Money(100), 10_001)


@given(price=st.integers(min_value=0, max_value=10**10), bp=st.integers(min_value=0, max_value=10_000))
def test_discounts_round_half_up_and_stay_within_the_price(price, bp):
    after = discounted(Money(price), bp).minor
    assert 0 <= after <= price
    assert abs(after * 10_000 - price * (10_000 - bp)) <= 5_000


def test_a_chain_prices_each_level_from_the_one_above():
    """Top level: the merchant's rules (tier, override); below: the parent's price, or its markup over its cost."""
    chain = [Level(1, tier="gold"), Level(2, markup_bp=500), Level(3, price_set_by_parent=Money(3000))]
    top, second, third = chain_quotes(PRICES, chain, 1)
    assert (top.unit, second.unit, third.unit) == (Money(2700), Money(2835), Money(3000))
    assert second.explain() == "retail 30.00 → parent_markup +5 % 28.35", "the parent's own cost stays its own"
    assert third.explain() == "retail 30.00 → set_by_parent 30.00"
    ten = chain_quotes(PRICES, chain, 10)
    assert [q.unit for q in ten] == [Money(2646), Money(2778), Money(3000)], "breaks reach sub-resellers via markup"
    assert chain_quotes(PRICES, [Level(7, tier="gold")], 1)[0].unit == Money(2300), "the override wins at the top"


def test_a_sub_resellers_price_never_falls_below_the_merchants_floor():
    cheap = chain_quotes(PRICES, [Level(1, tier="partner"), Level(2, price_set_by_parent=Money(100))], 1)
    assert cheap[1].unit == Money(2200) and cheap[1].steps[-1].rule == "floor"


def test_markups_round_half_up_and_percentages_parse_exactly():
    assert marked_up(Money(999), 1250) == Money(1124)  # 9.99 × 1.125 = 11.23875
    assert parse_percent("12.5", "markup") == 1250 and parse_percent(" 7 % ", "markup") == 700
    assert parse_percent("", "markup") == 0
    for bad in ("-1", "abc", "1.234", "100.01", "1e3", "²", "٣"):
        with pytest.raises(ValidationFailed) as caught:
            parse_percent(bad, "discount")
        assert caught.value.errors == {"discount": "invalid_percent"}
    with pytest.raises(ValidationFailed):
        marked_up(Money(100), MARKUP_MAX + 1)


def test_an_audience_admits_listed_tiers_and_resellers_and_no_list_admits_everyone():
    assert Audience().admits(5, None)
    listed = Audience(tier_ids=frozenset({1}), reseller_ids=frozenset({9}))
    assert listed.admits(5, 1) and listed.admits(9, None)
    assert not listed.admits(5, 2) and not listed.admits(5, None)

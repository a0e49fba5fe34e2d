from __future__ import annotations

import pytest

from domain.money import InvalidAmount, Money


@pytest.mark.parametrize(
    ("text", "minor"),
    [("0", 0), ("12", 1200), ("12.5", 1250), ("12.50", 1250), (" 0.01 ", 1), ("999999999999.99", 99999999999999)],
)
def test_amounts_parse_to_exact_minor_units(text, minor):
    assert Money.parse(text).minor == minor


@pytest.mark.parametrize("text", ["", "-1", "+1", "1.234", "1,000", "1e3", "１２", "12.", ".5", "abc", "NaN"])
def test_anything_but_a_plain_amount_is_refused(text):
    with pytest.raises(InvalidAmount):
        Money.parse(text)


def test_arithmetic_stays_in_minor_units_and_one_currency():
    assert Money(1999) * 3 == Money(5997)
    assert (Money(1000) - Money(1)).amount == "9.99"
    assert Money(-5).amount == "-0.05"
    with pytest.raises(ValueError):
        Money(1, "CNY") + Money(1, "USD")

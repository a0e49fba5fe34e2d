"""Prices, as the merchant sets them: a retail price, reseller tiers, per-reseller overrides, quantity
breaks (阶梯价), and a floor nobody sells below. A quote says how it was reached, step by step.

Discounts are in basis points (100 = 1 %) and rounded half up to the fen: no floats anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from domain.errors import ValidationFailed
from domain.money import InvalidAmount, Money

WHOLE = 10_000  # basis points in 100 %


MARKUP_MAX = 10 * WHOLE  # +1000 %: anything more is a typo
_DIGITS = re.compile(r"^[0-9]{1,7}$")  # ASCII digits only: "²" is a digit to str.isdigit(), not to int()


def discounted(price: Money, basis_points: int) -> Money:
    """`price` less `basis_points`, rounded half up to the fen."""
    if not 0 <= basis_points <= WHOLE:
        raise ValidationFailed({"discount": "invalid_discount"})
    return Money((price.minor * (WHOLE - basis_points) + WHOLE // 2) // WHOLE, price.currency)


def marked_up(price: Money, basis_points: int) -> Money:
    """`price` plus `basis_points`, rounded half up to the fen."""
    if not 0 <= basis_points <= MARKUP_MAX:
        raise ValidationFailed({"markup": "invalid_markup"})
    return Money((price.minor * (WHOLE + basis_points) + WHOLE // 2) // WHOLE, price.currency)


def parse_price(text: str, field: str = "price", currency: str = "CNY") -> Money:
    """A price typed into a form: an amount above zero, or `field`'s invalid_amount / must_be_positive."""
    try:
        price = Money.parse(text.strip(), currency)
    except InvalidAmount:
        raise ValidationFailed({field: "invalid_amount"}) from None
    if not price.minor:
        raise ValidationFailed({field: "must_be_positive"})
    return price


def parse_percent(text: str, field: str, *, most: int = WHOLE) -> int:
    """ "12.5" (per cent, up to two decimals) → 1250 basis points; `field` names the form field in errors."""
    raw = text.strip().removesuffix("%").strip() or "0"
    whole, _, fraction = raw.partition(".")
    if not _DIGITS.match(whole) or (fraction and not _DIGITS.match(fraction)) or len(fraction) > 2:
        raise ValidationFailed({field: "invalid_percent"})
    points = int(whole) * 100 + int(fraction.ljust(2, "0") or 0)
    if points > most:
        raise ValidationFailed({field: "invalid_percent"})
    return points


@dataclass(frozen=True, slots=True)
class Tier:
    """A reseller tier, named by the merchant (e.g. 金牌, partner)."""

    name: str
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Audience:
    """Which of the merchant's own resellers may sell a product: nobody listed means every one of them.
    Sub-resellers see what the reseller at the top of their chain sees."""

    tier_ids: frozenset[int] = frozenset()
    reseller_ids: frozenset[int] = frozenset()

    @property
    def everyone(self) -> bool:
        return not self.tier_ids and not self.reseller_ids

    def admits(self, reseller_id: int, tier_id: int | None) -> bool:
        return self.everyone or reseller_id in self.reseller_ids or (tier_id is not None and tier_id in self.tier_ids)


@dataclass(frozen=True, slots=True)
class TierPrice:
    """A tier's price for one product: a fixed price, or a discount off retail."""

    price: Money | None = None
    discount_bp: int = 0


@dataclass(frozen=True, slots=True)
class QuantityBreak:
    min_quantity: int
    discount_bp: int


@dataclass(frozen=True, slots=True)
class PriceList:
    """Everything the merchant decided about one product's price."""

    retail: Money
    floor: Money  # what the merchant never sells below (its cost, or more)
    tiers: Mapping[str, TierPrice] = field(default_factory=dict)
    overrides: Mapping[int, Money] = field(default_factory=dict)  # reseller id → price
    breaks: Sequence[QuantityBreak] = ()


@dataclass(frozen=True, slots=True)
class PriceStep:
    """One line of a quote's explanation: what was applied (a message key), and the unit price after it."""

    rule: str  # retail | set_by_parent | parent_markup | override | tier_price | tier_discount | quantity_break | floor
    unit: Money
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Quote:
    unit: Money
    quantity: int
    steps: tuple[PriceStep, ...]

    @property
    def total(self) -> Money:
        return self.unit * self.quantity

    def explain(self) -> str:
        """The steps as one line, e.g. `retail 30.00 → tier gold −10 % 27.00 → 10+ units −2 % 26.46`."""
        return " → ".join(
            f"{step.rule}{f' {step.detail}' if step.detail else ''} {step.unit.amount}" for step in self.steps
        )


def quote(
    prices: PriceList,
    quantity: int,
    *,
    reseller_id: int | None = None,
    tier: str | None = None,
    set_by_parent: Money | None = None,
) -> Quote:
    """The unit price for `quantity` units, for a buyer (no reseller), a reseller of a tier, or a sub-reseller
    whose inviting reseller set its price. The most specific rule wins; quantity breaks apply on top; the
    floor is the last word."""
    if quantity < 1:
        raise ValidationFailed({"quantity": "must_be_positive"})
    steps = [PriceStep("retail", prices.retail)]
    unit = prices.retail
    if set_by_parent is not None:
        unit = set_by_parent
        steps.append(PriceStep("set_by_parent", unit))
    elif reseller_id is not None and reseller_id in prices.overrides:
        unit = prices.overrides[reseller_id]
        steps.append(PriceStep("override", unit, f"#{reseller_id}"))
    elif tier is not None and tier in prices.tiers:
        rule = prices.tiers[tier]
        if rule.price is not None:
            unit = rule.price
            steps.append(PriceStep("tier_price", unit, tier))
        else:
            unit = discounted(prices.retail, rule.discount_bp)
            steps.append(PriceStep("tier_discount", unit, f"{tier} −{rule.discount_bp / 100:g} %"))
    # A price the parent set is its own decision: breaks already shaped the parent's cost it derives from.
    applicable = [b for b in prices.breaks if b.min_quantity <= quantity] if set_by_parent is None else []
    if applicable:
        best = max(applicable, key=lambda b: b.min_quantity)
        unit = discounted(unit, best.discount_bp)
        steps.append(PriceStep("quantity_break", unit, f"{best.min_quantity}+ −{best.discount_bp / 100:g} %"))
    if unit < prices.floor:
        unit = prices.floor
        steps.append(PriceStep("floor", unit))
    return Quote(unit, quantity, tuple(steps))


def check_price_for_child(own_cost: Money, child_price: Money) -> None:
    """A reseller sets its sub-resellers' prices at or above what it pays itself."""
    if child_price < own_cost:
        raise ValidationFailed({"price": "below_own_cost"})


@dataclass(frozen=True, slots=True)
class Level:
    """One reseller of a chain, as pricing needs it: the merchant's own reseller first (tier, override),
    then each sub-reseller with the price its parent set, or the parent's markup over its own cost."""

    reseller_id: int
    tier: str | None = None
    price_set_by_parent: Money | None = None
    markup_bp: int = 0


def chain_quotes(prices: PriceList, chain: Sequence[Level], quantity: int) -> list[Quote]:
    """What each level of the chain pays per unit for `quantity` units, top first."""
    quotes: list[Quote] = []
    for level in chain:
        if not quotes:
            quotes.append(quote(prices, quantity, reseller_id=level.reseller_id, tier=level.tier))
            continue
        if level.price_set_by_parent is not None:
            quotes.append(quote(prices, quantity, set_by_parent=level.price_set_by_parent))
            continue
        parent_cost = quotes[-1].unit
        derived = quote(prices, quantity, set_by_parent=marked_up(parent_cost, level.markup_bp))
        # Say where the price came from — the parent's markup, not a price it typed in — without telling the
        # sub-reseller what its parent pays.
        step = PriceStep("parent_markup", derived.steps[1].unit, f"+{level.markup_bp / 100:g} %")
        quotes.append(replace(derived, steps=(derived.steps[0], step, *derived.steps[2:])))
    return quotes

"""Who may become a reseller, and under whom."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from domain.errors import ValidationFailed
from domain.ledger import Account, AccountKind
from domain.money import Money
from domain.resellers import Reseller, ResellerDraft, ResellerStatus

NOW = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def test_a_reseller_under_the_merchant_starts_at_depth_one_with_its_wallet():
    made = replace(Reseller.create(ResellerDraft(" Shop A ", "A@Example.com", "50.5"), None, NOW), id=4)
    assert (made.name, made.contact.value, made.credit_limit, made.depth) == ("Shop A", "a@example.com", Money(5050), 1)
    assert made.status is ResellerStatus.ACTIVE and made.wallet == Account(AccountKind.RESELLER_WALLET, 4)


def test_every_problem_is_named_at_once():
    with pytest.raises(ValidationFailed) as caught:
        Reseller.create(ResellerDraft("", "nobody", "-1"), None, NOW)
    assert caught.value.errors == {"name": "required", "contact": "invalid_contact", "credit_limit": "invalid_amount"}


def test_sub_resellers_stop_at_the_depth_limit_and_never_under_a_disabled_one():
    top = replace(Reseller.create(ResellerDraft("L1", "l1@example.com"), None, NOW), id=1)
    second = replace(Reseller.create(ResellerDraft("L2", "l2@example.com"), top, NOW, max_depth=2), id=2)
    assert second.parent_id == 1 and second.depth == 2
    with pytest.raises(ValidationFailed) as deep:
        Reseller.create(ResellerDraft("L3", "l3@example.com"), second, NOW, max_depth=2)
    assert deep.value.errors == {"parent_id": "too_deep"}
    with pytest.raises(ValidationFailed) as disabled:
        Reseller.create(ResellerDraft("L2b", "x@example.com"), replace(top, status=ResellerStatus.DISABLED), NOW)
    assert disabled.value.errors == {"parent_id": "parent_disabled"}


def test_the_merchants_resellers_get_a_tier_and_sub_resellers_a_markup_never_both():
    top = replace(Reseller.create(ResellerDraft("L1", "l1@example.com", tier_id=2, markup="9"), None, NOW), id=1)
    sub = Reseller.create(ResellerDraft("L2", "l2@example.com", parent_id=1, tier_id=2, markup="7.5"), top, NOW)
    assert (top.tier_id, top.markup_bp, sub.tier_id, sub.markup_bp) == (2, 0, None, 750)
    changed = top.with_terms("disabled", "80", 3, "4")
    assert (changed.status, changed.credit_limit, changed.tier_id, changed.markup_bp) == (
        ResellerStatus.DISABLED,
        Money(8000),
        3,
        0,
    )
    with pytest.raises(ValidationFailed) as caught:
        top.with_terms("paused", "-", None, "x")
    assert caught.value.errors == {
        "status": "invalid_choice",
        "credit_limit": "invalid_amount",
        "markup": "invalid_percent",
    }

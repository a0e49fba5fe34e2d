"""Resellers (分销商/代理): who they are, who invited them, and how much credit the merchant allows them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from domain.errors import DomainError, ValidationFailed
from domain.ledger import Account, AccountKind
from domain.money import InvalidAmount, Money
from domain.orders import Contact
from domain.pricing import MARKUP_MAX, parse_percent

NAME_MAX = 64
DEFAULT_MAX_DEPTH = 3  # merchant → reseller → sub-reseller → sub-sub-reseller


class ResellerStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class ResellerDisabled(DomainError):
    """The reseller, or one above it, is switched off: it cannot act, and its keys stop working (403)."""

    code = "reseller_disabled"


def check_active(chain: Sequence[Reseller]) -> None:
    """A reseller acts (signs in, sells, buys, invites) only while it and every reseller above it is active."""
    if not all(reseller.is_active for reseller in chain):
        raise ResellerDisabled(f"reseller #{chain[-1].id} or one above it is disabled")


class Upstream(StrEnum):
    """Who sets a reseller's terms: the merchant (any reseller), or its parent (its own sub-resellers)."""

    MERCHANT = "merchant"
    PARENT = "parent"


@dataclass(frozen=True, slots=True)
class ResellerDraft:
    name: str
    contact: str
    credit_limit: str = "0"
    parent_id: int | None = None
    tier_id: int | None = None
    markup: str = "0"  # per cent over the parent's cost (sub-resellers)


@dataclass(frozen=True, slots=True)
class Reseller:
    name: str
    contact: Contact
    credit_limit: Money
    status: ResellerStatus
    created_at: datetime
    parent_id: int | None = None
    depth: int = 1  # 1: the merchant's own reseller; 2: its sub-reseller; …
    tier_id: int | None = None  # the merchant's resellers only; a sub-reseller's price comes from its parent
    markup_bp: int = 0  # sub-resellers: what the parent adds over its own cost where it set no price
    disabled_by: Upstream | None = None
    id: int | None = None

    @classmethod
    def create(
        cls, draft: ResellerDraft, parent: Reseller | None, now: datetime, max_depth: int = DEFAULT_MAX_DEPTH
    ) -> Reseller:
        errors: dict[str, str] = {}
        name = draft.name.strip()
        if not name:
            errors["name"] = "required"
        elif len(name) > NAME_MAX:
            errors["name"] = "too_long"
        contact = None
        try:
            contact = Contact.parse(draft.contact)
        except ValidationFailed as problem:
            errors.update(problem.errors)
        credit = Money(0)
        try:
            credit = Money.parse(draft.credit_limit or "0")
        except InvalidAmount:
            errors["credit_limit"] = "invalid_amount"
        markup = 0
        try:
            markup = parse_percent(draft.markup, "markup", most=MARKUP_MAX)
        except ValidationFailed as problem:
            errors.update(problem.errors)
        depth = parent.depth + 1 if parent else 1
        if parent is not None and parent.status is not ResellerStatus.ACTIVE:
            errors["parent_id"] = "parent_disabled"
        elif depth > max_depth:
            errors["parent_id"] = "too_deep"
        if errors or contact is None:
            raise ValidationFailed(errors)
        return cls(
            name,
            contact,
            credit,
            ResellerStatus.ACTIVE,
            now,
            parent.id if parent else None,
            depth,
            tier_id=None if parent else draft.tier_id,
            markup_bp=markup if parent else 0,
        )

    @property
    def is_active(self) -> bool:
        return self.status is ResellerStatus.ACTIVE

    def with_terms(
        self, status: str, credit_limit: str, tier_id: int | None, markup: str, by: Upstream = Upstream.MERCHANT
    ) -> Reseller:
        """The terms its upstream sets: status, credit limit, and tier (merchant's own) or markup (sub-resellers).
        A parent cannot switch on a sub-reseller the merchant switched off."""
        errors: dict[str, str] = {}
        new_status = self.status
        try:
            new_status = ResellerStatus(status)
        except ValueError:
            errors["status"] = "invalid_choice"
        else:
            overruled = self.disabled_by is Upstream.MERCHANT and by is Upstream.PARENT
            if overruled and new_status is ResellerStatus.ACTIVE and not self.is_active:
                errors["status"] = "disabled_by_merchant"
        try:
            credit = Money.parse(credit_limit or "0", self.credit_limit.currency)
        except InvalidAmount:
            errors["credit_limit"] = "invalid_amount"
        markup_bp = 0
        try:
            markup_bp = parse_percent(markup, "markup", most=MARKUP_MAX)
        except ValidationFailed as problem:
            errors.update(problem.errors)
        if errors:
            raise ValidationFailed(errors)
        top = self.parent_id is None
        if new_status is ResellerStatus.ACTIVE:
            disabled_by = None
        elif self.is_active or by is Upstream.MERCHANT:
            disabled_by = by
        else:
            disabled_by = self.disabled_by  # already off: who switched it off stays on record
        return replace(
            self,
            status=new_status,
            disabled_by=disabled_by,
            credit_limit=credit,
            tier_id=tier_id if top else None,
            markup_bp=0 if top else markup_bp,
        )

    @property
    def wallet(self) -> Account:
        assert self.id is not None
        return Account(AccountKind.RESELLER_WALLET, self.id)

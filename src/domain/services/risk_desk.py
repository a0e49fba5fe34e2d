"""The merchant's risk desk: write the rules and the block and allow lists, read the decision log, and try a rule
on past orders before saving it (a dry run). Every change goes to the audit log; the decision log is read-only."""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo

from domain.audit import Actor, AuditEntry
from domain.catalog import normalize_sku
from domain.errors import NotFound, ValidationFailed
from domain.money import InvalidAmount, Money
from domain.orders import UNPAID, WALLET_CHANNELS, Order, OrderStatus
from domain.paging import Page, PageRequest
from domain.ports import Clock, UnitOfWork, UnitOfWorkFactory
from domain.risk import (
    DRY_RUN_MAX,
    Action,
    Attempt,
    DailyCap,
    Decision,
    Key,
    ListEntry,
    ListKind,
    Match,
    Measure,
    NewContact,
    OrderCap,
    Rule,
    UnpaidHeld,
    Velocity,
    YoungAccount,
    dry_run,
    parse_rule,
    rule_fields,
)

DRY_RUN_DEFAULT = 500
AMOUNTS = ("face_value_max", "amount_over")  # typed in yuan on the form, kept in minor units
MEASURED = frozenset({Velocity.type, DailyCap.type, OrderCap.type})  # the types whose limit may be an amount


@dataclass(frozen=True, slots=True)
class RuleBook:
    rules: list[Rule]
    skus: dict[int, str]  # product id → SKU, for the rules scoped to one product


@dataclass(frozen=True, slots=True)
class DryRun:
    """What a rule would have caught among the last orders, newest first."""

    rule: Rule
    asked: int  # how many of the last orders were asked for
    replayed: int  # how many there were
    caught: list[tuple[Order, Match]]


@dataclass(frozen=True, slots=True)
class RiskDesk:
    uow: UnitOfWorkFactory
    clock: Clock
    zone: tzinfo  # the merchant's: daily caps and hours are counted in it

    async def rule_book(self) -> RuleBook:
        async with self.uow(read_only=True) as uow:
            rules = await uow.risk.rules()
            return RuleBook(rules, await _skus(uow, rules))

    async def skus(self, rules: Sequence[Rule]) -> dict[int, str]:
        async with self.uow(read_only=True) as uow:
            return await _skus(uow, rules)

    async def form(self, rule_id: int) -> dict[str, str]:
        """The rule's form fields as the merchant typed them: a product by its SKU, amounts in yuan."""
        async with self.uow(read_only=True) as uow:
            rule = await _rule(uow, rule_id)
            skus = await _skus(uow, [rule])
        fields = rule_fields(rule)
        for name in _amount_fields(fields):
            fields[name] = Money(int(fields[name])).amount
        fields["sku"] = skus.get(rule.product_id or 0, "")
        return fields

    async def create_rule(self, fields: Mapping[str, str], actor: Actor) -> Rule:
        async with self.uow() as uow:
            rule = await uow.risk.add_rule(await _parsed(uow, fields, {}), self.clock.now())
            await self._audit(uow, actor, "risk.rule_create", rule, rule_fields(rule) | {"version": rule.version})
            await uow.commit()
        return rule

    async def edit_rule(self, rule_id: int, fields: Mapping[str, str], actor: Actor) -> Rule:
        """The rule keeps its id and gets a new version: its counters start afresh."""
        async with self.uow() as uow:
            old = await _rule(uow, rule_id)
            rule = old.edited(await _parsed(uow, fields, {}))
            await uow.risk.save_rule(rule, self.clock.now())
            before, after = rule_fields(old), rule_fields(rule)
            changed = {name: [before.get(name, ""), now] for name, now in after.items() if before.get(name) != now}
            await self._audit(uow, actor, "risk.rule_edit", rule, {"version": rule.version, "changed": changed})
            await uow.commit()
        return rule

    async def set_enabled(self, rule_id: int, enabled: bool, actor: Actor) -> Rule:
        async with self.uow() as uow:
            rule = replace(await _rule(uow, rule_id), enabled=enabled)
            await uow.risk.save_rule(rule, self.clock.now())
            action = "risk.rule_enable" if enabled else "risk.rule_disable"
            await self._audit(uow, actor, action, rule, {"version": rule.version})
            await uow.commit()
        return rule

    async def entries(self) -> dict[ListKind, list[ListEntry]]:
        """Both lists, newest entries first."""
        async with self.uow(read_only=True) as uow:
            return {kind: await uow.risk.entries(kind) for kind in ListKind}

    async def list_entries(self, list_kind: ListKind) -> list[ListEntry]:
        async with self.uow(read_only=True) as uow:
            return await uow.risk.entries(list_kind)

    async def add_entry(self, list_kind: str, kind: str, value: str, note: str, actor: Actor) -> ListEntry:
        """Raises ValidationFailed for a bad value or one the list already names."""
        now = self.clock.now()
        entry = ListEntry.create(list_kind, kind, value, note, now, actor.name)
        async with self.uow() as uow:
            entry = await uow.risk.add_entry(entry)
            await uow.audit.record(AuditEntry(now, actor, "risk.list_add", _target(entry), _entry_details(entry)))
            await uow.commit()
        return entry

    async def remove_entry(self, entry_id: int, actor: Actor) -> ListEntry:
        async with self.uow() as uow:
            entry = await uow.risk.remove_entry(entry_id)
            if entry is None:
                raise NotFound(f"no list entry #{entry_id}")
            details = _entry_details(entry)
            await uow.audit.record(AuditEntry(self.clock.now(), actor, "risk.list_remove", _target(entry), details))
            await uow.commit()
        return entry

    async def decisions(self, page: PageRequest, outcome: str = "") -> Page[Decision]:
        """The decision log, newest first; `outcome` (allow, challenge, review, block) narrows it."""
        chosen = Action(outcome) if outcome in Action._value2member_map_ else None
        async with self.uow(read_only=True) as uow:
            return await uow.risk.decisions(page, chosen)

    async def dry_run(self, fields: Mapping[str, str], last: str) -> DryRun:
        """What the rule as typed (saved or not) would have caught among the last `last` orders, its counters
        replayed from nothing. Raises ValidationFailed naming every bad field, `last` included."""
        errors: dict[str, str] = {}
        asked = _last(last, errors)
        async with self.uow(read_only=True) as uow:
            rule = await _parsed(uow, fields, errors)
            orders = await uow.orders.recent(asked)
            history = await _history(uow, list(reversed(orders)), rule)
        order_of = {id(attempt): order for order, attempt in history}
        caught = dry_run(rule, [attempt for _, attempt in history], self.zone)
        return DryRun(rule, asked, len(orders), [(order_of[id(attempt)], match) for attempt, match in reversed(caught)])

    async def _audit(self, uow: UnitOfWork, actor: Actor, action: str, rule: Rule, details: dict[str, object]) -> None:
        target = f"rule#{rule.id} {rule.name}"
        await uow.audit.record(AuditEntry(self.clock.now(), actor, action, target, details))


async def _parsed(uow: UnitOfWork, fields: Mapping[str, str], errors: dict[str, str]) -> Rule:
    """The rule from the form: a product named by its SKU, amounts in yuan; every bad field is named."""
    typed = {name: str(value) for name, value in fields.items()}
    for name in _amount_fields(typed):
        if typed[name].strip():
            try:
                typed[name] = str(Money.parse(typed[name]).minor)
            except InvalidAmount:
                errors[name] = "invalid_amount"
    sku = typed.pop("sku", "").strip()
    typed["product_id"] = ""
    if sku:
        product = await uow.products.by_sku(normalize_sku(sku))
        if product is None:
            errors["sku"] = "no_such_product"
        else:
            typed["product_id"] = str(product.id)
    try:
        rule = parse_rule(typed)
    except ValidationFailed as refused:
        found = dict(refused.errors)
        if "product_id" in found:  # the form names the product by its SKU
            found["sku"] = found.pop("product_id")
        raise ValidationFailed(found | errors) from None
    if errors:
        raise ValidationFailed(errors)
    return rule


def _amount_fields(fields: Mapping[str, str]) -> list[str]:
    names = [name for name in AMOUNTS if name in fields]
    limit_is_amount = fields.get("type") in MEASURED and fields.get("measure") == Measure.AMOUNT
    return names + (["limit"] if limit_is_amount and "limit" in fields else [])


def _last(text: str, errors: dict[str, str]) -> int:
    raw = (text or "").strip()
    if not raw:
        return DRY_RUN_DEFAULT
    try:
        asked = int(raw)
    except ValueError:
        errors["last"] = "invalid_number"
        return DRY_RUN_DEFAULT
    if not 1 <= asked <= DRY_RUN_MAX:
        errors["last"] = "out_of_range"
    return min(max(asked, 1), DRY_RUN_MAX)


async def _history(uow: UnitOfWork, orders: list[Order], rule: Rule) -> list[tuple[Order, Attempt]]:
    """Past orders (oldest first) as the rules saw them, with the facts the rule asks for as they were then:
    a face value per product (a couple of queries for them all), and only when the rule needs it the account's
    age, whether the contact had paid before, and the unpaid units each key held."""
    products = await uow.products.by_ids(sorted({order.product_id for order in orders}))
    faces = {product.id: product.face_value.minor for product in products}
    joined: dict[int, datetime] = {}
    if isinstance(rule.condition, YoungAccount):
        for reseller_id in sorted({o.seller_id for o in orders if o.seller_id and o.channel in WALLET_CHANNELS}):
            if (reseller := await uow.resellers.get(reseller_id)) is not None:
                joined[reseller_id] = reseller.created_at
    attempts = []
    for order in orders:
        since = joined.get(order.seller_id or 0) if order.channel in WALLET_CHANNELS else None
        age = order.created_at - since if since is not None else None
        face = faces.get(order.product_id, order.unit_price.minor)
        attempts.append(Attempt.of_order(order, face, account_age=age))
    if isinstance(rule.condition, NewContact):
        first_paid = await uow.orders.first_paid([order.contact.value for order in orders])
        # The rule asks only whether the contact had paid before: 1 stands for "at least once".
        attempts = [replace(attempt, contact_orders=int(_paid_before(first_paid, attempt))) for attempt in attempts]
    if isinstance(rule.condition, UnpaidHeld):
        held = _unpaid_held(orders)
        attempts = [replace(attempt, unpaid_units=units) for attempt, units in zip(attempts, held, strict=True)]
    return list(zip(orders, attempts, strict=True))


def _paid_before(first_paid: Mapping[str, datetime], attempt: Attempt) -> bool:
    first = first_paid.get(attempt.contact or "")
    return first is not None and first < attempt.at


def _unpaid_held(orders: list[Order]) -> list[dict[Key, int]]:
    """Per order (oldest first), the units the earlier orders of its contact, address and device held unpaid when
    it was placed — as the gate's `unpaid_units` would have counted them then, within the orders replayed."""
    holding: dict[tuple[str, str], int] = {}
    releases: list[tuple[datetime, int, str, str, int]] = []
    held: list[dict[Key, int]] = []
    for n, order in enumerate(orders):
        while releases and releases[0][0] <= order.created_at:
            _, _, kind, value, units = heapq.heappop(releases)
            holding[kind, value] -= units
        keys = order.holding_keys()
        held.append({Key(kind): holding.get((kind, value), 0) for kind, value in keys.items()})
        until = _unpaid_until(order)
        if until is not None and until <= order.created_at:
            continue
        for kind, value in keys.items():
            holding[kind, value] = holding.get((kind, value), 0) + order.quantity
            if until is not None:
                heapq.heappush(releases, (until, n, kind, value, order.quantity))
    return held


def _unpaid_until(order: Order) -> datetime | None:
    """When the order stopped holding units unpaid; None: it still does."""
    if order.paid_at is not None:
        return order.paid_at
    if order.status in UNPAID:
        return None
    if order.status is OrderStatus.EXPIRED:
        return order.expires_at
    if order.status is OrderStatus.HELD:
        return order.created_at  # held for review: no stock held
    return order.updated_at or order.created_at  # cancelled (or refunded unpaid): when that happened


async def _skus(uow: UnitOfWork, rules: Sequence[Rule]) -> dict[int, str]:
    ids = sorted({rule.product_id for rule in rules if rule.product_id is not None})
    return {product.id: product.sku for product in await uow.products.by_ids(ids) if product.id is not None}


async def _rule(uow: UnitOfWork, rule_id: int) -> Rule:
    rule = await uow.risk.rule(rule_id)
    if rule is None:
        raise NotFound(f"no risk rule #{rule_id}")
    return rule


def _target(entry: ListEntry) -> str:
    return f"{entry.list}_list:{entry.kind}"


def _entry_details(entry: ListEntry) -> dict[str, object]:
    return {"entry": entry.id, "value": entry.value, "note": entry.note}

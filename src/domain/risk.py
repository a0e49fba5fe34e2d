"""Risk control: the merchant's own rules judged against an order attempt (or an order lookup). No black box:
every rule is a condition, an action and a reason the merchant wrote, and a verdict keeps every rule that matched.

How a verdict is reached:
- a block-list entry that matches blocks, whatever else matched (what else matched is kept all the same);
- otherwise an allow-list entry or a matching "allow" rule exempts the attempt from every other rule;
- otherwise the gravest action among the matching rules wins (allow < challenge < review < block).
The score is the sum of the matching rules' scores: staff see it beside the reasons, and the review queue shows
the riskiest first; it decides nothing.

Counting rules (velocity, bursts of low-value orders, daily caps) need shared counters. The service records the
attempt under each counting rule's key first (`counts_for` → the Counters port), then judges with the totals it
got back (`judge`), so judging stays pure and racing attempts each see a distinct total: exactly `limit` pass.
A counted attempt stays counted even if it is then refused — these rules count attempts, which is what a script
makes many of. Edited rules count afresh (the rule's version is part of its counter keys).

What an attempt is counted and listed by is what a script cannot vary for free. A contact counts by its
`contact_key` (one per person: +86/0086/86 dropped from a China mobile, "+tags" and Gmail's dots from an email),
for counters and list entries alike; the order keeps the contact as typed. A shop order without the device cookie
counts under one shared NO_DEVICE value for device-keyed counting rules: a buyer's browser always has the cookie
(the product page sets it), so only a script that drops it orders without one — and they all share one counter.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any, TypeVar

from domain.errors import DomainError, ValidationFailed
from domain.orders import SIGNED_CHANNELS, Channel, Contact, Order

NAME_MAX, REASON_MAX, NOTE_MAX, VALUE_MAX = 80, 200, 200, 254
LIMIT_MAX = 10**12  # counts and amounts (minor units) a rule may name
WINDOW_MAX = timedelta(days=31)
DRY_RUN_MAX = 5000
NO_DEVICE = "(no device)"  # what a shop order without the device cookie counts by (see the module docstring)
E = TypeVar("E", bound=StrEnum)


class Action(StrEnum):
    ALLOW = "allow"
    CHALLENGE = "challenge"  # prove a person is there (proof of work), then go on
    REVIEW = "review"  # hold the order until staff approve or reject it
    BLOCK = "block"


SEVERITY = {Action.ALLOW: 0, Action.CHALLENGE: 1, Action.REVIEW: 2, Action.BLOCK: 3}
DEFAULT_SCORE = {Action.ALLOW: 0, Action.CHALLENGE: 20, Action.REVIEW: 50, Action.BLOCK: 100}


class AttemptKind(StrEnum):
    ORDER = "order"
    LOOKUP = "lookup"  # order number + contact: what a script guessing at other buyers' orders makes


class Key(StrEnum):
    """What an attempt is counted by."""

    IP = "ip"
    DEVICE = "device"
    CONTACT = "contact"
    RECHARGE_ACCOUNT = "recharge_account"
    RESELLER = "reseller"
    PRODUCT = "product"


class Measure(StrEnum):
    ORDERS = "orders"  # one per attempt
    UNITS = "units"  # the attempt's quantity
    AMOUNT = "amount"  # the attempt's total, minor units


class ListKind(StrEnum):
    BLOCK = "block"
    ALLOW = "allow"


class EntryKind(StrEnum):
    """What a list entry names. IP entries may be networks (CIDR)."""

    IP = "ip"
    CONTACT = "contact"
    RECHARGE_ACCOUNT = "recharge_account"
    DEVICE = "device"


class RiskBlocked(DomainError):
    """Refused by the merchant's rules. The reasons are for staff (the decision log), not for the buyer."""

    code = "risk_blocked"


class HeldForReview(DomainError):
    """An order the rules hold until a person approves it (nothing charged or reserved meanwhile)."""

    code = "review"


class ChallengeRequired(DomainError):
    """A rule wants proof that a person is there: solve the challenge and send the attempt again."""

    code = "challenge_required"


@dataclass(frozen=True, slots=True)
class Attempt:
    """What is known about an order (or lookup) being attempted, as the rules see it. Money in minor units."""

    kind: AttemptKind
    channel: Channel
    at: datetime
    ip: str | None = None
    device: str | None = None
    contact: str | None = None  # as the order keeps it (Contact.value); counted and listed by its contact_key
    recharge_account: str = ""
    reseller_id: int | None = None  # the buying or selling reseller
    product_id: int | None = None
    quantity: int = 0
    amount: int = 0  # the order's total
    face_value: int | None = None  # one unit's face value
    account_age: timedelta | None = None  # the reseller account's age; None for anonymous buyers
    contact_orders: int | None = None  # orders the contact had paid before; None: not known
    unpaid_units: Mapping[Key, int] = field(default_factory=dict)  # held unpaid by the attempt's keys

    @classmethod
    def of_order(cls, order: Order, face_value: int, *, account_age: timedelta | None = None) -> Attempt:
        """An order as the rules see it; `face_value`: one unit's, minor units. Contact history and unpaid units
        are facts the gate adds when a rule asks for them."""
        return cls(
            kind=AttemptKind.ORDER,
            channel=order.channel,
            at=order.created_at,
            ip=order.holding_keys().get("ip"),  # not on staff-placed orders: that is the staff's own address
            device=order.device,
            contact=order.contact.value,
            recharge_account=order.recharge_account,
            reseller_id=order.seller_id,
            product_id=order.product_id,
            quantity=order.quantity,
            amount=order.total.minor,
            face_value=face_value,
            account_age=account_age,
        )

    def value_of(self, key: Key) -> str | None:
        """What the attempt is known by under `key`: an address by its subscriber's network (`counted_ip`), a
        contact by its `contact_key`."""
        value: object = {
            Key.IP: counted_ip(self.ip) if self.ip else None,
            Key.DEVICE: self.device,
            Key.CONTACT: contact_key(self.contact) if self.contact else None,
            Key.RECHARGE_ACCOUNT: self.recharge_account or None,
            Key.RESELLER: self.reseller_id,
            Key.PRODUCT: self.product_id,
        }[key]
        return None if value is None else str(value)

    def counted_by(self, key: Key) -> str | None:
        """What counting rules count the attempt by under `key`: `value_of`, and for a shop order without the device
        cookie the one value NO_DEVICE that every such order shares (see the module docstring)."""
        cookieless = self.device is None and self.kind is AttemptKind.ORDER and self.channel is Channel.SHOP
        if key is Key.DEVICE and cookieless:
            return NO_DEVICE
        return self.value_of(key)

    def measured(self, measure: Measure) -> int:
        return {Measure.ORDERS: 1, Measure.UNITS: self.quantity, Measure.AMOUNT: self.amount}[measure]


# Conditions: one class per rule type. `counts` names what must be counted before `matches` can be asked.


@dataclass(frozen=True, slots=True)
class Count:
    """One counter an attempt is recorded under before judging: a sliding window, or a fixed one (a calendar day)."""

    key: str
    amount: int
    window: timedelta
    sliding: bool = True


@dataclass(frozen=True, slots=True)
class Velocity:
    """More than `limit` orders, units or yuan per key within a sliding window."""

    key: Key
    measure: Measure
    limit: int
    window: timedelta
    type = "velocity"

    def counted(self, attempt: Attempt) -> int | None:
        return attempt.measured(self.measure)

    def detail(self, total: int) -> dict[str, Any]:
        return {"key": self.key, "measure": self.measure, "seen": total, "limit": self.limit}


@dataclass(frozen=True, slots=True)
class LowValueBurst:
    """More than `limit` orders of low face value (at most `face_value_max` a unit) per key within a window:
    what a script cashing out cheap cards looks like."""

    key: Key
    face_value_max: int
    limit: int
    window: timedelta
    type = "low_value_burst"

    def counted(self, attempt: Attempt) -> int | None:
        low = attempt.face_value is not None and attempt.face_value <= self.face_value_max
        return 1 if low else None

    def detail(self, total: int) -> dict[str, Any]:
        return {"key": self.key, "seen": total, "limit": self.limit, "face_value_max": self.face_value_max}


@dataclass(frozen=True, slots=True)
class DailyCap:
    """More than `limit` orders, units or yuan per key in one calendar day (the merchant's time zone)."""

    key: Key
    measure: Measure
    limit: int
    type = "daily_cap"

    def counted(self, attempt: Attempt) -> int | None:
        return attempt.measured(self.measure)

    def detail(self, total: int) -> dict[str, Any]:
        return {"key": self.key, "measure": self.measure, "seen": total, "limit": self.limit}


@dataclass(frozen=True, slots=True)
class OrderCap:
    """One order of more than `limit` units or yuan."""

    measure: Measure
    limit: int
    type = "order_cap"

    def check(self, attempt: Attempt, zone: tzinfo) -> dict[str, Any] | None:
        seen = attempt.measured(self.measure)
        return {"measure": self.measure, "seen": seen, "limit": self.limit} if seen > self.limit else None


@dataclass(frozen=True, slots=True)
class NewContact:
    """The first order of a contact never seen paying before, above `amount_over`."""

    amount_over: int
    type = "new_contact"

    def check(self, attempt: Attempt, zone: tzinfo) -> dict[str, Any] | None:
        new = attempt.contact is not None and attempt.contact_orders == 0
        return (
            {"amount": attempt.amount, "over": self.amount_over} if new and attempt.amount > self.amount_over else None
        )


@dataclass(frozen=True, slots=True)
class UnpaidHeld:
    """A key would hold more than `limit` unpaid units with this order."""

    key: Key
    limit: int
    type = "unpaid_held"

    def check(self, attempt: Attempt, zone: tzinfo) -> dict[str, Any] | None:
        if attempt.value_of(self.key) is None:
            return None
        held = attempt.unpaid_units.get(self.key, 0) + attempt.quantity
        return {"key": self.key, "seen": held, "limit": self.limit} if held > self.limit else None


@dataclass(frozen=True, slots=True)
class YoungAccount:
    """A reseller account younger than `younger_than` ordering above `amount_over`."""

    younger_than: timedelta
    amount_over: int
    type = "young_account"

    def check(self, attempt: Attempt, zone: tzinfo) -> dict[str, Any] | None:
        age = attempt.account_age
        if age is None or age >= self.younger_than or attempt.amount <= self.amount_over:
            return None
        return {"days": age.days, "younger_than_days": self.younger_than.days, "amount": attempt.amount}


@dataclass(frozen=True, slots=True)
class Hours:
    """Ordering above `amount_over` between `start` and `end` o'clock (merchant's time; may wrap past midnight)."""

    start: int
    end: int
    amount_over: int
    type = "hours"

    def check(self, attempt: Attempt, zone: tzinfo) -> dict[str, Any] | None:
        hour = attempt.at.astimezone(zone).hour
        inside = self.start <= hour < self.end if self.start < self.end else hour >= self.start or hour < self.end
        return {"hour": hour, "amount": attempt.amount} if inside and attempt.amount > self.amount_over else None


Counting = Velocity | LowValueBurst | DailyCap
Checking = OrderCap | NewContact | UnpaidHeld | YoungAccount | Hours
Condition = Counting | Checking
CONDITIONS: dict[str, type[Condition]] = {
    c.type: c for c in (Velocity, LowValueBurst, DailyCap, OrderCap, NewContact, UnpaidHeld, YoungAccount, Hours)
}


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    condition: Condition
    action: Action
    reason: str  # the merchant's words, shown to staff beside every match
    score: int
    applies_to: AttemptKind = AttemptKind.ORDER
    channels: frozenset[Channel] = frozenset()  # none: every channel
    product_id: int | None = None  # None: every product
    enabled: bool = True
    version: int = 1  # raised by every edit: counters start afresh
    id: int | None = None

    def in_scope(self, attempt: Attempt) -> bool:
        return (
            self.enabled
            and attempt.kind is self.applies_to
            and (not self.channels or attempt.channel in self.channels)
            and (self.product_id is None or attempt.product_id == self.product_id)
        )

    def count(self, attempt: Attempt, zone: tzinfo) -> Count | None:
        """The counter this attempt is recorded under, if this rule counts it."""
        condition = self.condition
        if not isinstance(condition, Counting) or not self.in_scope(attempt):
            return None
        value, amount = attempt.counted_by(condition.key), condition.counted(attempt)
        if value is None or amount is None:
            return None
        name = f"risk:{self.id}.{self.version}:{condition.key}:{_digest(value)}"
        if isinstance(condition, DailyCap):
            day = attempt.at.astimezone(zone).date()
            return Count(f"{name}:{day.isoformat()}", amount, timedelta(hours=26), sliding=False)
        return Count(name, amount, condition.window)

    def match(self, attempt: Attempt, totals: Mapping[str, int], zone: tzinfo) -> Match | None:
        if not self.in_scope(attempt):
            return None
        condition = self.condition
        if isinstance(condition, Counting):
            counted = self.count(attempt, zone)
            total = totals.get(counted.key) if counted else None
            detail = condition.detail(total) if total is not None and total > condition.limit else None
        else:
            detail = condition.check(attempt, zone)
        if detail is None:
            return None
        return Match(self.action, self.reason or self.name, self.score, condition.type, detail, self.id, self.name)

    def edited(self, changed: Rule) -> Rule:
        return replace(changed, id=self.id, version=self.version + 1, enabled=self.enabled)


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One line of the block list or the allow list."""

    list: ListKind
    kind: EntryKind
    value: str  # normalised: an IP network in CIDR form, a contact's contact_key, an account, a device id
    note: str = ""
    created_at: datetime | None = None
    created_by: str = ""
    id: int | None = None

    @classmethod
    def create(cls, list_kind: str, kind: str, value: str, note: str, now: datetime, by: str) -> ListEntry:
        errors: dict[str, str] = {}
        parsed_list = _choice(ListKind, list_kind, "list", errors)
        parsed_kind = _choice(EntryKind, kind, "kind", errors)
        text, note = (value or "").strip(), (note or "").strip()
        if not text:
            errors["value"] = "required"
        elif len(text) > VALUE_MAX:
            errors["value"] = "too_long"
        elif parsed_kind is EntryKind.IP:
            try:
                text = str(_network(text))
            except ValueError:
                errors["value"] = "invalid_ip"
        elif parsed_kind is EntryKind.CONTACT:
            try:  # the key an attempt's contact is matched by, whichever way either was typed
                text = contact_key(Contact.parse(text).value)
            except ValidationFailed:
                errors["value"] = "invalid_contact"
        if len(note) > NOTE_MAX:
            errors["note"] = "too_long"
        if errors or parsed_list is None or parsed_kind is None:
            raise ValidationFailed(errors)
        return cls(parsed_list, parsed_kind, text, note, now, by)

    def matches(self, attempt: Attempt) -> bool:
        if self.kind is EntryKind.IP:
            return attempt.ip is not None and _in_network(attempt.ip, self.value)
        if self.kind is EntryKind.CONTACT:
            return attempt.contact is not None and contact_key(attempt.contact) == contact_key(self.value)
        seen = attempt.device if self.kind is EntryKind.DEVICE else attempt.recharge_account or None
        return seen is not None and seen == self.value

    def vouches(self, attempt: Attempt) -> bool:
        """Block entries always count. An allow entry naming a contact or recharge account exempts only where the
        one ordering proved who it is (staff, a reseller's portal or key): in a shop anyone can type a VIP's email."""
        if self.list is ListKind.BLOCK or self.kind in (EntryKind.IP, EntryKind.DEVICE):
            return True
        return attempt.channel in SIGNED_CHANNELS

    def as_match(self) -> Match:
        action = Action.BLOCK if self.list is ListKind.BLOCK else Action.ALLOW
        detail = {"kind": self.kind, "entry": self.id}
        return Match(action, self.note, DEFAULT_SCORE[action], f"{self.list}_list", detail, None, "")


@dataclass(frozen=True, slots=True)
class Match:
    """One reason a verdict gives: which rule (or list entry) matched, what it does and what it saw."""

    action: Action
    reason: str
    score: int
    type: str  # the rule type, or block_list / allow_list
    detail: dict[str, Any]
    rule_id: int | None = None
    rule_name: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action.value,
            "reason": self.reason,
            "score": self.score,
            "type": self.type,
            "detail": {k: (v.value if isinstance(v, StrEnum) else v) for k, v in self.detail.items()},
            "rule_id": self.rule_id,
            "rule_name": self.rule_name,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Match:
        return cls(
            Action(data["action"]),
            str(data.get("reason", "")),
            int(data.get("score", 0)),
            str(data.get("type", "")),
            dict(data.get("detail") or {}),
            data.get("rule_id"),
            str(data.get("rule_name", "")),
        )


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    matches: tuple[Match, ...] = ()
    exempt: bool = False  # an allow-list entry or an allow rule set every other rule aside

    @property
    def score(self) -> int:
        return sum(m.score for m in self.matches)

    @property
    def reasons(self) -> list[dict[str, Any]]:
        return [m.as_dict() for m in self.matches]

    def settled(self, *, can_challenge: bool, solved: bool) -> Action:
        """What happens to the attempt: a solved challenge lets it go on; where nobody can solve one (an API
        call, a reseller's own purchase), a challenge becomes a review — the order waits, it is not lost."""
        if self.action is not Action.CHALLENGE:
            return self.action
        if solved:
            return Action.ALLOW
        return Action.CHALLENGE if can_challenge else Action.REVIEW


ALLOWED = Verdict(Action.ALLOW)


def counts_for(attempt: Attempt, rules: Iterable[Rule], zone: tzinfo) -> list[Count]:
    """The counters to record the attempt under before judging it."""
    return [count for rule in rules if (count := rule.count(attempt, zone)) is not None]


def judge(
    attempt: Attempt, rules: Iterable[Rule], entries: Iterable[ListEntry], totals: Mapping[str, int], zone: tzinfo
) -> Verdict:
    """The verdict on an attempt, given the totals its counters reached (see the module docstring)."""
    listed = [entry.as_match() for entry in entries if entry.matches(attempt) and entry.vouches(attempt)]
    ruled = [m for rule in rules if (m := rule.match(attempt, totals, zone)) is not None]
    blocked = [m for m in listed if m.action is Action.BLOCK]
    if blocked:  # every rule's match is kept beside it (an allow among them exempts from nothing here)
        return Verdict(Action.BLOCK, tuple(blocked + ruled))
    matches = listed + ruled
    if not matches:
        return ALLOWED
    if any(m.action is Action.ALLOW for m in matches):
        return Verdict(Action.ALLOW, tuple(matches), exempt=True)
    return Verdict(max((m.action for m in matches), key=SEVERITY.__getitem__), tuple(matches))


def dry_run(rule: Rule, history: Sequence[Attempt], zone: tzinfo) -> list[tuple[Attempt, Match]]:
    """What `rule` would have caught among past attempts (oldest first), its counters replayed from nothing.

    Each attempt is judged on what was known of it then (`contact_orders`, `unpaid_units`, `account_age` as
    recorded). Every past attempt is replayed, whatever happened to it then; beyond DRY_RUN_MAX, the newest.
    """
    rule = replace(rule, enabled=True)
    windows: dict[str, _Window] = {}
    caught = []
    for attempt in sorted(history, key=lambda a: a.at)[-DRY_RUN_MAX:]:
        totals = {}
        counted = rule.count(attempt, zone)
        if counted is not None:
            window = windows.setdefault(counted.key, _Window(counted.window))
            totals[counted.key] = window.add(attempt.at, counted.amount)
        match = rule.match(attempt, totals, zone)
        if match is not None:
            caught.append((attempt, match))
    return caught


class _Window:
    """An exact sliding window in memory, for the dry run (the live counters are the Counters port's)."""

    def __init__(self, length: timedelta) -> None:
        self.length, self.events, self.total = length, deque[tuple[datetime, int]](), 0

    def add(self, at: datetime, amount: int) -> int:
        while self.events and self.events[0][0] <= at - self.length:
            self.total -= self.events.popleft()[1]
        self.events.append((at, amount))
        self.total += amount
        return self.total


# Reading a rule from the merchant's form (every field a string), and writing it back for the form and storage.


def parse_rule(fields: Mapping[str, str]) -> Rule:
    """A rule from the form's fields; raises ValidationFailed naming each bad field."""
    errors: dict[str, str] = {}
    name, reason = fields.get("name", "").strip(), fields.get("reason", "").strip()
    if not name:
        errors["name"] = "required"
    elif len(name) > NAME_MAX:
        errors["name"] = "too_long"
    if len(reason) > REASON_MAX:
        errors["reason"] = "too_long"
    action = _choice(Action, fields.get("action", ""), "action", errors)
    applies_to = _choice(AttemptKind, fields.get("applies_to") or AttemptKind.ORDER, "applies_to", errors)
    channels = frozenset(  # empty: every channel
        c
        for raw in fields.get("channels", "").split(",")
        if raw.strip() and (c := _choice(Channel, raw, "channels", errors))
    )
    product_id = _integer(fields, "product_id", errors, required=False, low=1)
    condition = _condition(fields, errors)
    if applies_to is AttemptKind.LOOKUP:
        if condition is not None and (
            not isinstance(condition, Velocity)
            or condition.measure is not Measure.ORDERS
            or condition.key not in _LOOKUP_KEYS
        ):
            errors["type"] = "not_for_lookups"
        if product_id is not None:
            errors["product_id"] = "not_for_lookups"
        if action is Action.REVIEW:  # a lookup is answered at once: there is no order to hold, it would just go on
            errors["action"] = "no_review_for_lookups"
    score_text = fields.get("score", "").strip()
    score = DEFAULT_SCORE.get(action or Action.ALLOW, 0)
    if score_text:
        score = _integer(fields, "score", errors, low=0, high=1000) or 0
    if errors or action is None or applies_to is None or condition is None:
        raise ValidationFailed(errors)
    return Rule(name, condition, action, reason, score, applies_to, channels, product_id)


def rule_fields(rule: Rule) -> dict[str, str]:
    """The form's fields for `rule` (parse_rule reads them back into the same rule)."""
    c = rule.condition
    values: dict[str, Any] = {"type": c.type} | {
        name: getattr(c, name)
        for name in ("key", "measure", "limit", "face_value_max", "amount_over", "start", "end")
        if hasattr(c, name)
    }
    if isinstance(c, Velocity | LowValueBurst):
        values["window_minutes"] = int(c.window.total_seconds() // 60)
    if isinstance(c, YoungAccount):
        values["younger_than_days"] = c.younger_than.days
    return {k: str(v) for k, v in values.items()} | {
        "name": rule.name,
        "reason": rule.reason,
        "action": rule.action.value,
        "score": str(rule.score),
        "applies_to": rule.applies_to.value,
        "channels": ",".join(sorted(rule.channels)),
        "product_id": "" if rule.product_id is None else str(rule.product_id),
    }


def condition_params(condition: Condition) -> dict[str, Any]:
    """The condition as plain JSON values (storage)."""
    fields = rule_fields(Rule("", condition, Action.ALLOW, "", 0))
    return {k: fields[k] for k in _CONDITION_FIELDS[condition.type]} | {"type": condition.type}


def condition_from_params(params: Mapping[str, Any]) -> Condition:
    errors: dict[str, str] = {}
    condition = _condition({k: str(v) for k, v in params.items()}, errors)
    if errors or condition is None:
        raise ValueError(f"stored risk condition is invalid: {errors}")
    return condition


_LOOKUP_KEYS = {Key.IP, Key.DEVICE, Key.CONTACT}
_CONDITION_FIELDS = {
    Velocity.type: ("key", "measure", "limit", "window_minutes"),
    LowValueBurst.type: ("key", "face_value_max", "limit", "window_minutes"),
    DailyCap.type: ("key", "measure", "limit"),
    OrderCap.type: ("measure", "limit"),
    NewContact.type: ("amount_over",),
    UnpaidHeld.type: ("key", "limit"),
    YoungAccount.type: ("younger_than_days", "amount_over"),
    Hours.type: ("start", "end", "amount_over"),
}


def _condition(fields: Mapping[str, str], errors: dict[str, str]) -> Condition | None:
    kind = fields.get("type", "").strip()
    if kind not in CONDITIONS:
        errors["type"] = "required" if not kind else "invalid_choice"
        return None

    def number(name: str, low: int = 0, high: int = LIMIT_MAX) -> int:
        return _integer(fields, name, errors, low=low, high=high) or 0

    def minutes() -> timedelta:
        return timedelta(minutes=number("window_minutes", 1, int(WINDOW_MAX.total_seconds() // 60)))

    key = _choice(Key, fields.get("key", ""), "key", errors) if "key" in _CONDITION_FIELDS[kind] else None
    measure = (
        _choice(Measure, fields.get("measure", ""), "measure", errors) if "measure" in _CONDITION_FIELDS[kind] else None
    )
    built: Condition
    if kind == Velocity.type:
        built = Velocity(key or Key.IP, measure or Measure.ORDERS, number("limit"), minutes())
    elif kind == LowValueBurst.type:
        built = LowValueBurst(key or Key.IP, number("face_value_max", 1), number("limit"), minutes())
    elif kind == DailyCap.type:
        built = DailyCap(key or Key.IP, measure or Measure.ORDERS, number("limit"))
    elif kind == OrderCap.type:
        built = OrderCap(measure or Measure.UNITS, number("limit"))
    elif kind == NewContact.type:
        built = NewContact(number("amount_over"))
    elif kind == UnpaidHeld.type:
        built = UnpaidHeld(key or Key.IP, number("limit"))
    elif kind == YoungAccount.type:
        built = YoungAccount(timedelta(days=number("younger_than_days", 1, 3650)), number("amount_over"))
    else:
        built = Hours(number("start", 0, 23), number("end", 0, 24), number("amount_over"))
        if "start" not in errors and "end" not in errors and built.start == built.end % 24:
            errors["end"] = "same_as_start"
    if kind == UnpaidHeld.type and key in (Key.RESELLER, Key.PRODUCT, Key.RECHARGE_ACCOUNT):
        errors["key"] = "invalid_choice"  # unpaid units are held by contact, address or device
    return built


def _integer(
    fields: Mapping[str, str],
    name: str,
    errors: dict[str, str],
    *,
    required: bool = True,
    low: int = 0,
    high: int = LIMIT_MAX,
) -> int | None:
    text = (fields.get(name) or "").strip()
    if not text:
        if required:
            errors[name] = "required"
        return None
    try:
        value = int(text)
    except ValueError:
        errors[name] = "invalid_number"
        return None
    if not low <= value <= high:
        errors[name] = "out_of_range"
        return None
    return value


def _choice(enum: type[E], raw: str, name: str, errors: dict[str, str]) -> E | None:
    text = (raw or "").strip()
    try:
        return enum(text)
    except ValueError:
        errors[name] = "required" if not text else "invalid_choice"
        return None


def _digest(value: str) -> str:
    """Counter keys carry a digest, not the contact or address itself: no personal data in Redis."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _in_network(ip: str, network: str) -> bool:
    try:
        return _address(ip) in ipaddress.ip_network(network)
    except ValueError:
        return False


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A list entry's network; an IPv4-mapped one (copied from a dual-stack listener's log) as the IPv4 network, the
    way attempts' addresses are matched against it (`_address`)."""
    network = ipaddress.ip_network(text, strict=False)
    mapped = network.network_address.ipv4_mapped if isinstance(network, ipaddress.IPv6Network) else None
    if mapped is not None and network.prefixlen >= 96:
        return ipaddress.IPv4Network((mapped, network.prefixlen - 96))
    return network


def _address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address as parsed, an IPv4 client seen by a dual-stack listener (::ffff:a.b.c.d) as the IPv4 address."""
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


_CHINA_MOBILE = re.compile(r"^(?:\+86|0086|86)(1[3-9]\d{9})$")
_GMAIL = frozenset({"gmail.com", "googlemail.com"})


def contact_key(value: str) -> str:
    """One key per person, for the risk rules only (counters, list entries): a China mobile number without its
    country code (+86, 0086 or 86); an email address lower-cased without its "+tag", and at Gmail (which ignores
    them) without the dots of its local part, googlemail.com as gmail.com. Orders keep the contact as typed."""
    text = (value or "").strip().lower()
    if "@" in text:
        local, _, domain = text.rpartition("@")
        local = local.split("+", 1)[0] or local
        if domain in _GMAIL:
            local, domain = local.replace(".", "") or local, "gmail.com"
        return f"{local}@{domain}"
    phone = re.sub(r"[\s()-]", "", text)
    national = _CHINA_MOBILE.match(phone)
    return national.group(1) if national else phone


def counted_ip(ip: str) -> str:
    """The address a rule counts by. An IPv6 address counts by its /64: one subscriber's network (a home line, a
    phone) holds 2**64 addresses, and a script rotating through them must not get a fresh counter with each."""
    try:
        address = _address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


@dataclass(frozen=True, slots=True)
class Decision:
    """One judged attempt that any rule or list entry matched, as the decision log keeps it: what was attempted,
    what the rules said and what happened (`outcome`: a solved challenge lets an attempt go on, for instance)."""

    attempt: Attempt
    verdict: Verdict
    outcome: Action
    order_number: str = ""
    id: int | None = None

    @property
    def refused(self) -> bool:
        """Stopped before anything is written: blocked, or a challenge to solve first."""
        return self.outcome in (Action.BLOCK, Action.CHALLENGE)

"""The merchant's risk rules as facts: what each rule type catches, how a verdict is reached, and the round trips."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from domain.errors import ValidationFailed
from domain.orders import Channel, Contact
from domain.risk import (
    ALLOWED,
    DEFAULT_SCORE,
    DRY_RUN_MAX,
    Action,
    Attempt,
    AttemptKind,
    Condition,
    DailyCap,
    EntryKind,
    Hours,
    Key,
    ListEntry,
    ListKind,
    LowValueBurst,
    Match,
    Measure,
    NewContact,
    OrderCap,
    Rule,
    UnpaidHeld,
    Velocity,
    Verdict,
    YoungAccount,
    condition_from_params,
    condition_params,
    counts_for,
    dry_run,
    judge,
    parse_rule,
    rule_fields,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOON = datetime(2024, 5, 1, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
BUYER = Attempt(
    AttemptKind.ORDER,
    Channel.SHOP,
    NOON,
    ip="203.0.113.7",
    device="device-1",
    contact="buyer@example.com",
    recharge_account="13800138000",
    reseller_id=7,
    product_id=1,
    quantity=1,
    amount=10_000,
    face_value=10_000,
)


def attempt(**changes: Any) -> Attempt:
    return replace(BUYER, **changes)


def rule(condition: Condition, action: Action = Action.REVIEW, **changes: Any) -> Rule:
    return replace(Rule("rule", condition, action, "the merchant's reason", DEFAULT_SCORE[action], id=1), **changes)


def shanghai(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 5, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


class Counter:
    """The Counters port at its simplest: sums per key (every attempt of a test falls within one window)."""

    def __init__(self) -> None:
        self.sums: dict[str, int] = {}

    def record(self, attempt: Attempt, rules: Sequence[Rule], zone: ZoneInfo = SHANGHAI) -> dict[str, int]:
        for count in counts_for(attempt, rules, zone):
            self.sums[count.key] = self.sums.get(count.key, 0) + count.amount
        return dict(self.sums)

    def judge(
        self, attempt: Attempt, rules: Sequence[Rule], entries: Iterable[ListEntry] = (), zone: ZoneInfo = SHANGHAI
    ) -> Verdict:
        """Record first, then judge with the totals reached: the two steps a service takes."""
        return judge(attempt, rules, entries, self.record(attempt, rules, zone), zone)


def actions(attempts: Iterable[Attempt], rules: Sequence[Rule], zone: ZoneInfo = SHANGHAI) -> list[Action]:
    counter = Counter()
    return [counter.judge(a, rules, zone=zone).action for a in attempts]


def entry(list_kind: str, kind: str, value: str, note: str = "listed") -> ListEntry:
    return ListEntry.create(list_kind, kind, value, note, NOON, "owner")


A, R, B = Action.ALLOW, Action.REVIEW, Action.BLOCK


# Velocity


KEYED = [
    (Key.IP, "ip", "198.51.100.1"),
    (Key.DEVICE, "device", "device-2"),
    (Key.CONTACT, "contact", "other@example.com"),
    (Key.RECHARGE_ACCOUNT, "recharge_account", "13900139000"),
    (Key.RESELLER, "reseller_id", 8),
    (Key.PRODUCT, "product_id", 2),
]


@pytest.mark.parametrize(("key", "attribute", "other"), KEYED)
def test_velocity_counts_orders_per_key_value(key: Key, attribute: str, other: object) -> None:
    rules = [rule(Velocity(key, Measure.ORDERS, 2, timedelta(minutes=10)))]
    same, elsewhere = attempt(), attempt(**{attribute: other})
    assert actions([same, same, elsewhere, same, elsewhere], rules) == [A, A, A, R, A]


def test_velocity_by_units_adds_up_quantities() -> None:
    rules = [rule(Velocity(Key.IP, Measure.UNITS, 5, timedelta(hours=1)))]
    counter = Counter()
    assert counter.judge(attempt(quantity=3), rules) == ALLOWED
    verdict = counter.judge(attempt(quantity=3), rules)
    assert verdict.action is R
    assert verdict.matches[0].detail == {"key": Key.IP, "measure": Measure.UNITS, "seen": 6, "limit": 5}


def test_velocity_by_amount_adds_up_totals() -> None:
    rules = [rule(Velocity(Key.CONTACT, Measure.AMOUNT, 50_000, timedelta(hours=1)))]
    assert actions([attempt(amount=30_000), attempt(amount=20_000), attempt(amount=1)], rules) == [A, A, R]


def test_velocity_catches_more_than_the_limit_not_the_limit_itself() -> None:
    rules = [rule(Velocity(Key.IP, Measure.ORDERS, 3, timedelta(minutes=10)), Action.BLOCK)]
    assert actions([attempt()] * 5, rules) == [A, A, A, B, B]


# Bursts of low-value orders


def test_low_value_burst_counts_only_low_face_values() -> None:
    rules = [rule(LowValueBurst(Key.IP, face_value_max=1_000, limit=2, window=timedelta(minutes=30)))]
    low, high, unknown = attempt(face_value=1_000), attempt(face_value=1_001), attempt(face_value=None)
    assert actions([low, high, high, unknown, low, high, low], rules) == [A, A, A, A, A, A, R]


def test_low_value_burst_leaves_high_face_values_uncounted() -> None:
    burst = rule(LowValueBurst(Key.IP, face_value_max=1_000, limit=0, window=timedelta(minutes=30)))
    assert counts_for(attempt(face_value=5_000), [burst], SHANGHAI) == []
    assert actions([attempt(face_value=5_000)] * 3 + [attempt(face_value=500)], [burst]) == [A, A, A, R]


# Daily caps: a calendar day in the merchant's zone


def test_daily_cap_counts_per_local_calendar_day() -> None:
    rules = [rule(DailyCap(Key.CONTACT, Measure.ORDERS, 1))]
    before_midnight, after_midnight = attempt(at=shanghai(1, 23, 59)), attempt(at=shanghai(2, 0, 1))
    assert before_midnight.at.date() == after_midnight.at.date()  # the same day in UTC, two days in Shanghai
    assert actions([before_midnight, after_midnight], rules) == [A, A]
    assert actions([attempt(at=shanghai(2, 7)), attempt(at=shanghai(2, 9))], rules) == [A, R]  # two UTC days


def test_daily_cap_counter_is_fixed_to_the_day() -> None:
    cap = rule(DailyCap(Key.IP, Measure.AMOUNT, 100_000))
    [late] = counts_for(attempt(at=shanghai(1, 23, 59), amount=700), [cap], SHANGHAI)
    [early] = counts_for(attempt(at=shanghai(2, 0, 1), amount=700), [cap], SHANGHAI)
    assert late.key != early.key
    assert late.key.endswith("2024-05-01") and early.key.endswith("2024-05-02")
    assert (late.amount, late.sliding, early.sliding) == (700, False, False)


def test_daily_cap_by_units() -> None:
    rules = [rule(DailyCap(Key.DEVICE, Measure.UNITS, 10))]
    assert actions([attempt(quantity=6, at=shanghai(3, 8)), attempt(quantity=5, at=shanghai(3, 20))], rules) == [A, R]


# Checks of the attempt alone


@pytest.mark.parametrize(
    ("condition", "within", "over"),
    [
        (OrderCap(Measure.UNITS, 5), {"quantity": 5}, {"quantity": 6}),
        (OrderCap(Measure.AMOUNT, 100_000), {"amount": 100_000}, {"amount": 100_001}),
    ],
)
def test_order_cap(condition: OrderCap, within: dict[str, int], over: dict[str, int]) -> None:
    rules = [rule(condition)]
    assert judge(attempt(**within), rules, [], {}, SHANGHAI) == ALLOWED
    verdict = judge(attempt(**over), rules, [], {}, SHANGHAI)
    assert verdict.action is R
    assert verdict.matches[0].detail["seen"] == next(iter(over.values()))


@pytest.mark.parametrize(
    ("changes", "caught"),
    [
        ({"contact_orders": 0, "amount": 20_001}, True),
        ({"contact_orders": 0, "amount": 20_000}, False),  # not above the amount
        ({"contact_orders": 1, "amount": 90_000}, False),  # has paid before
        ({"contact_orders": None, "amount": 90_000}, False),  # not known: not called new
        ({"contact_orders": 0, "contact": None, "amount": 90_000}, False),
    ],
)
def test_new_contact_above_an_amount(changes: dict[str, Any], caught: bool) -> None:
    verdict = judge(attempt(**changes), [rule(NewContact(20_000))], [], {}, SHANGHAI)
    assert (verdict.action is R) is caught


def test_unpaid_units_held_include_this_order() -> None:
    rules = [rule(UnpaidHeld(Key.CONTACT, 5))]
    held = {Key.CONTACT: 4, Key.IP: 50}
    assert judge(attempt(unpaid_units=held, quantity=1), rules, [], {}, SHANGHAI) == ALLOWED
    verdict = judge(attempt(unpaid_units=held, quantity=2), rules, [], {}, SHANGHAI)
    assert verdict.matches[0].detail == {"key": Key.CONTACT, "seen": 6, "limit": 5}
    assert judge(attempt(unpaid_units={}, quantity=6), rules, [], {}, SHANGHAI).action is R


def test_unpaid_units_need_the_key() -> None:
    rules = [rule(UnpaidHeld(Key.DEVICE, 1))]
    assert judge(attempt(device=None, quantity=9), rules, [], {}, SHANGHAI) == ALLOWED


@pytest.mark.parametrize(
    ("age", "amount", "caught"),
    [
        (timedelta(days=2), 50_001, True),
        (timedelta(days=2), 50_000, False),
        (timedelta(days=7), 90_000, False),  # old enough
        (None, 90_000, False),  # an anonymous buyer has no account
    ],
)
def test_young_account(age: timedelta | None, amount: int, caught: bool) -> None:
    rules = [rule(YoungAccount(timedelta(days=7), 50_000))]
    verdict = judge(attempt(account_age=age, amount=amount), rules, [], {}, SHANGHAI)
    assert (verdict.action is R) is caught


@pytest.mark.parametrize(
    ("local_hour", "local_minute", "caught"),
    [(22, 0, True), (23, 59, True), (0, 30, True), (5, 59, True), (6, 0, False), (12, 0, False), (21, 59, False)],
)
def test_hours_wrapping_past_midnight_in_the_merchants_zone(local_hour: int, local_minute: int, caught: bool) -> None:
    rules = [rule(Hours(22, 6, 10_000))]
    at = shanghai(1, local_hour, local_minute)
    assert (judge(attempt(at=at, amount=10_001), rules, [], {}, SHANGHAI).action is R) is caught
    assert judge(attempt(at=at, amount=10_000), rules, [], {}, SHANGHAI) == ALLOWED


def test_hours_within_one_day() -> None:
    rules = [rule(Hours(9, 17, 0))]
    inside, outside = attempt(at=shanghai(1, 16, 59)), attempt(at=shanghai(1, 17))
    assert judge(inside, rules, [], {}, SHANGHAI).matches[0].detail == {"hour": 16, "amount": 10_000}
    assert judge(outside, rules, [], {}, SHANGHAI) == ALLOWED
    assert judge(inside, rules, [], {}, UTC) == ALLOWED  # 08:59 UTC: the zone decides the hour


# Scope


def test_a_rule_applies_only_to_its_channels_product_and_kind() -> None:
    cap = OrderCap(Measure.UNITS, 0)
    assert judge(attempt(), [rule(cap, channels=frozenset({Channel.API}))], [], {}, SHANGHAI) == ALLOWED
    assert judge(attempt(), [rule(cap, channels=frozenset({Channel.API, Channel.SHOP}))], [], {}, SHANGHAI).action is R
    assert judge(attempt(), [rule(cap, product_id=2)], [], {}, SHANGHAI) == ALLOWED
    assert judge(attempt(), [rule(cap, product_id=1)], [], {}, SHANGHAI).action is R
    assert judge(attempt(), [rule(cap, enabled=False)], [], {}, SHANGHAI) == ALLOWED
    assert judge(attempt(kind=AttemptKind.LOOKUP), [rule(cap)], [], {}, SHANGHAI) == ALLOWED


def test_lookup_rules_count_lookups_only() -> None:
    guessing = rule(Velocity(Key.IP, Measure.ORDERS, 2, timedelta(minutes=5)), applies_to=AttemptKind.LOOKUP)
    lookup = attempt(kind=AttemptKind.LOOKUP, product_id=None, quantity=0, amount=0)
    assert actions([attempt()] * 4 + [lookup] * 3, [guessing]) == [A, A, A, A, A, A, R]


# Verdicts: block list beats allow, allow exempts, the gravest action wins


def test_block_list_beats_the_allow_list_and_allow_rules() -> None:
    rules = [rule(OrderCap(Measure.UNITS, 0), Action.ALLOW)]
    blocked, allowed = (
        entry("block", "ip", "203.0.113.0/24", "chargebacks"),
        entry("allow", "contact", "BUYER@example.com"),
    )
    verdict = judge(attempt(), rules, [allowed, blocked], {}, SHANGHAI)
    assert verdict.action is B and not verdict.exempt
    # Every rule that matched is kept beside the block (the allow rule exempts from nothing here).
    assert [(m.type, m.reason) for m in verdict.matches] == [
        ("block_list", "chargebacks"),
        ("order_cap", "the merchant's reason"),
    ]


def test_allow_list_exempts_but_keeps_the_other_matches() -> None:
    rules = [rule(OrderCap(Measure.UNITS, 0), Action.BLOCK), rule(NewContact(0), Action.REVIEW, id=2)]
    verdict = judge(
        attempt(contact_orders=0), rules, [entry("allow", "device", "device-1", "our office")], {}, SHANGHAI
    )
    assert verdict.action is A and verdict.exempt
    assert [m.type for m in verdict.matches] == ["allow_list", "order_cap", "new_contact"]
    assert verdict.score == 0 + 100 + 50


def test_a_matching_allow_rule_exempts_too() -> None:
    rules = [rule(OrderCap(Measure.UNITS, 0), Action.BLOCK), rule(YoungAccount(timedelta(days=30), 0), A, id=2)]
    assert judge(attempt(account_age=timedelta(days=1)), rules, [], {}, SHANGHAI).exempt
    not_young = judge(attempt(account_age=timedelta(days=90)), rules, [], {}, SHANGHAI)
    assert (not_young.action, not_young.exempt) == (B, False)


def test_the_gravest_action_wins_and_scores_add_up() -> None:
    rules = [
        rule(OrderCap(Measure.UNITS, 0), Action.CHALLENGE, score=5),
        rule(OrderCap(Measure.AMOUNT, 0), Action.REVIEW, score=30, id=2),
        rule(NewContact(0), Action.CHALLENGE, score=7, id=3),
    ]
    verdict = judge(attempt(contact_orders=0), rules, [], {}, SHANGHAI)
    assert (verdict.action, verdict.score) == (R, 42)
    assert [m.rule_id for m in verdict.matches] == [1, 2, 3]
    with_block = judge(attempt(), [*rules, rule(OrderCap(Measure.UNITS, 0), B, id=4)], [], {}, SHANGHAI)
    assert with_block.action is B


def test_nothing_matched_is_allowed_with_no_reasons() -> None:
    verdict = judge(attempt(), [rule(OrderCap(Measure.UNITS, 5))], [entry("block", "ip", "10.0.0.1")], {}, SHANGHAI)
    assert verdict == ALLOWED and verdict.reasons == [] and verdict.score == 0


def test_a_match_keeps_the_merchants_reason_and_survives_storage() -> None:
    verdict = judge(attempt(quantity=9), [rule(OrderCap(Measure.UNITS, 5), name="big")], [], {}, SHANGHAI)
    [reason] = verdict.reasons
    assert reason == {
        "action": "review",
        "reason": "the merchant's reason",
        "score": 50,
        "type": "order_cap",
        "detail": {"measure": "units", "seen": 9, "limit": 5},
        "rule_id": 1,
        "rule_name": "big",
    }
    assert Match.from_dict(reason).as_dict() == reason
    unexplained = judge(
        attempt(quantity=9), [rule(OrderCap(Measure.UNITS, 5), name="big", reason="")], [], {}, SHANGHAI
    )
    assert unexplained.matches[0].reason == "big"


# List entries


@pytest.mark.parametrize(
    ("stored", "ip", "listed"),
    [
        ("203.0.113.0/24", "203.0.113.200", True),
        ("203.0.113.0/24", "203.0.114.1", False),
        ("203.0.113.7", "203.0.113.7", True),
        ("2001:db8::/32", "2001:DB8:0:1::5", True),
        ("2001:db8::/32", "2001:db9::1", False),
        ("2001:db8::/32", "203.0.113.7", False),  # v4 against a v6 network
        ("203.0.113.0/24", "::ffff:203.0.113.9", True),  # an IPv4 client as a dual-stack listener sees it
    ],
)
def test_ip_entries_name_networks(stored: str, ip: str, listed: bool) -> None:
    assert entry("block", "ip", stored).matches(attempt(ip=ip)) is listed


def test_ip_entries_are_stored_as_networks() -> None:
    assert entry("block", "ip", " 203.0.113.7 ").value == "203.0.113.7/32"
    assert entry("block", "ip", "10.1.2.3/8").value == "10.0.0.0/8"
    assert entry("block", "ip", "2001:DB8::1").value == "2001:db8::1/128"
    assert entry("block", "ip", "::ffff:203.0.113.7").value == "203.0.113.7/32"  # as attempts are matched
    assert entry("block", "ip", "::ffff:203.0.113.0/120").value == "203.0.113.0/24"


def test_a_bad_stored_ip_entry_matches_nothing() -> None:
    broken = ListEntry(ListKind.BLOCK, EntryKind.IP, "not-a-network")
    assert not broken.matches(attempt())
    assert not entry("block", "ip", "203.0.113.7").matches(attempt(ip=None))
    assert not entry("block", "ip", "203.0.113.7").matches(attempt(ip="garbage"))


def test_contact_entries_are_normalised_as_buyers_contacts_are() -> None:
    email = entry("block", "contact", "  Buyer@Example.COM ")
    assert email.value == "buyer@example.com"
    assert email.matches(attempt(contact=Contact.parse("BUYER@example.com").value))
    phone = entry("block", "contact", "(010) 1234-5678")
    assert phone.matches(attempt(contact=Contact.parse("010 1234 5678").value))
    assert not phone.matches(attempt(contact="01012345679"))


def test_other_entries_match_exactly() -> None:
    assert entry("block", "recharge_account", " 13800138000 ").matches(attempt())
    assert not entry("block", "recharge_account", "13800138000").matches(attempt(recharge_account=""))
    assert entry("allow", "device", "device-1").matches(attempt())
    assert not entry("allow", "device", "device-1").matches(attempt(device=None))


@pytest.mark.parametrize(
    ("args", "errors"),
    [
        (("grey", "ip", "10.0.0.1", ""), {"list": "invalid_choice"}),
        (("block", "", "10.0.0.1", ""), {"kind": "required"}),
        (("block", "ip", "   ", ""), {"value": "required"}),
        (("block", "device", "d" * 255, ""), {"value": "too_long"}),
        (("block", "ip", "10.0.0.256", ""), {"value": "invalid_ip"}),
        (("block", "contact", "not a contact", ""), {"value": "invalid_contact"}),
        (("allow", "device", "d", "n" * 201), {"note": "too_long"}),
        (("", "", "", ""), {"list": "required", "kind": "required", "value": "required"}),
    ],
)
def test_list_entry_validation(args: tuple[str, str, str, str], errors: dict[str, str]) -> None:
    with pytest.raises(ValidationFailed) as failed:
        ListEntry.create(*args, now=NOON, by="owner")
    assert failed.value.errors == errors


def test_list_entry_keeps_who_and_when() -> None:
    listed = ListEntry.create("allow", "device", " device-1 ", " office ", NOON, "owner")
    assert (listed.list, listed.kind, listed.value, listed.note) == (
        ListKind.ALLOW,
        EntryKind.DEVICE,
        "device-1",
        "office",
    )
    assert (listed.created_at, listed.created_by, listed.id) == (NOON, "owner", None)


# Settling a verdict


def test_settled() -> None:
    challenge = Verdict(Action.CHALLENGE)
    assert challenge.settled(can_challenge=True, solved=False) is Action.CHALLENGE
    assert challenge.settled(can_challenge=True, solved=True) is A
    assert challenge.settled(can_challenge=False, solved=False) is R  # an API call cannot solve one: it waits
    assert Verdict(B).settled(can_challenge=True, solved=True) is B
    assert Verdict(R).settled(can_challenge=True, solved=True) is R
    assert ALLOWED.settled(can_challenge=False, solved=False) is A


# Counters


def test_counter_keys_carry_no_personal_data() -> None:
    buyer = attempt(ip="203.0.113.7", contact="buyer@example.com", recharge_account="13800138000")
    rules = [
        rule(Velocity(key, Measure.ORDERS, 1, timedelta(minutes=5)), id=n)
        for n, key in enumerate((Key.IP, Key.CONTACT, Key.RECHARGE_ACCOUNT), 1)
    ]
    keys = [count.key for count in counts_for(buyer, rules, SHANGHAI)]
    assert len(set(keys)) == 3
    for personal in ("203.0.113.7", "buyer@example.com", "13800138000", "buyer", "example"):
        assert not any(personal in key for key in keys)


def test_counter_keys_differ_per_value_and_rule_and_change_with_an_edit() -> None:
    velocity = rule(Velocity(Key.IP, Measure.ORDERS, 3, timedelta(minutes=10)))
    [first] = counts_for(attempt(), [velocity], SHANGHAI)
    assert first == counts_for(attempt(quantity=5, amount=1), [velocity], SHANGHAI)[0]
    assert first.amount == 1 and first.window == timedelta(minutes=10) and first.sliding
    assert counts_for(attempt(ip="203.0.113.8"), [velocity], SHANGHAI)[0].key != first.key
    assert counts_for(attempt(), [replace(velocity, id=2)], SHANGHAI)[0].key != first.key
    edited = velocity.edited(replace(velocity, condition=Velocity(Key.IP, Measure.ORDERS, 5, timedelta(minutes=10))))
    assert (edited.id, edited.version) == (1, 2)
    assert counts_for(attempt(), [edited], SHANGHAI)[0].key != first.key


def test_an_edited_rule_counts_afresh() -> None:
    velocity = rule(Velocity(Key.IP, Measure.ORDERS, 1, timedelta(minutes=10)))
    counter = Counter()
    assert [counter.judge(attempt(), [velocity]).action for _ in range(2)] == [A, R]
    edited = velocity.edited(velocity)
    assert [counter.judge(attempt(), [edited]).action for _ in range(2)] == [A, R]


def test_an_edit_keeps_whether_the_rule_is_on() -> None:
    off = rule(OrderCap(Measure.UNITS, 5), enabled=False, version=3, id=9)
    edited = off.edited(replace(off, name="renamed", enabled=True, id=None, version=1))
    assert (edited.name, edited.enabled, edited.id, edited.version) == ("renamed", False, 9, 4)


def test_counts_for_skips_missing_keys_and_rules_out_of_scope() -> None:
    window = timedelta(minutes=10)
    rules = [
        rule(Velocity(Key.DEVICE, Measure.ORDERS, 1, window), id=1),  # no device below (staff took it)
        rule(Velocity(Key.IP, Measure.ORDERS, 1, window), id=2, enabled=False),
        rule(Velocity(Key.IP, Measure.ORDERS, 1, window), id=3, channels=frozenset({Channel.API})),
        rule(Velocity(Key.IP, Measure.ORDERS, 1, window), id=4, product_id=2),
        rule(Velocity(Key.IP, Measure.ORDERS, 1, window), id=5, applies_to=AttemptKind.LOOKUP),
        rule(Velocity(Key.RESELLER, Measure.ORDERS, 1, window), id=6),  # an anonymous buyer below
        rule(OrderCap(Measure.UNITS, 1), id=7),  # checks, counts nothing
        rule(Velocity(Key.IP, Measure.UNITS, 1, window), id=8),
    ]
    [counted] = counts_for(attempt(channel=Channel.ADMIN, device=None, reseller_id=None, quantity=4), rules, SHANGHAI)
    assert counted.key.startswith("risk:8.1:ip:") and counted.amount == 4


def test_an_ipv6_script_rotating_through_its_own_network_is_counted_as_one_address() -> None:
    fast = rule(Velocity(Key.IP, Measure.ORDERS, 2, timedelta(minutes=10)), Action.BLOCK)
    rotating = [attempt(ip=f"2001:db8:7:9::{n:x}") for n in range(1, 4)]  # one /64, three addresses
    assert actions(rotating, [fast]) == [A, A, B]
    neighbours = [attempt(ip=f"2001:db8:7:{n:x}::1") for n in range(1, 4)]  # three subscribers' networks
    assert actions(neighbours, [fast]) == [A, A, A]
    mapped = [attempt(ip="203.0.113.7"), attempt(ip="::ffff:203.0.113.7"), attempt(ip="203.0.113.7")]
    assert actions(mapped, [fast]) == [A, A, B]


def test_counted_totals_below_the_limit_or_absent_match_nothing() -> None:
    velocity = rule(Velocity(Key.IP, Measure.ORDERS, 3, timedelta(minutes=10)))
    [counted] = counts_for(attempt(), [velocity], SHANGHAI)
    assert judge(attempt(), [velocity], [], {}, SHANGHAI) == ALLOWED
    assert judge(attempt(), [velocity], [], {counted.key: 3}, SHANGHAI) == ALLOWED
    assert judge(attempt(), [velocity], [], {counted.key: 4}, SHANGHAI).matches[0].detail["seen"] == 4


# Dry runs


def test_dry_run_replays_a_sliding_window_exactly() -> None:
    velocity = rule(Velocity(Key.IP, Measure.ORDERS, 3, timedelta(minutes=10)))
    burst = [attempt(at=NOON + timedelta(minutes=2 * n)) for n in range(5)]
    caught = dry_run(velocity, burst, SHANGHAI)
    assert [a for a, _ in caught] == burst[3:]
    assert [m.detail["seen"] for _, m in caught] == [4, 5]


def test_dry_run_lets_attempts_leave_the_window() -> None:
    velocity = rule(Velocity(Key.IP, Measure.ORDERS, 3, timedelta(minutes=10)))
    spread = [attempt(at=NOON + timedelta(minutes=4 * n)) for n in range(8)]  # never more than 3 within 10 minutes
    assert dry_run(velocity, spread, SHANGHAI) == []
    edge = [attempt(at=NOON + timedelta(minutes=m)) for m in (0, 1, 2, 10)]  # the first has left at exactly 10
    assert dry_run(velocity, edge, SHANGHAI) == []
    inside = [attempt(at=NOON + timedelta(minutes=m)) for m in (0, 1, 2, 9)]
    assert [a for a, _ in dry_run(velocity, inside, SHANGHAI)] == inside[3:]


def test_dry_run_ignores_enabled_and_order_of_history() -> None:
    velocity = rule(Velocity(Key.IP, Measure.ORDERS, 1, timedelta(minutes=10)), enabled=False)
    history = [attempt(at=NOON + timedelta(minutes=n)) for n in range(3)]
    caught = [a for a, _ in dry_run(velocity, history, SHANGHAI)]
    assert caught == history[1:]
    assert [a for a, _ in dry_run(velocity, history[::-1], SHANGHAI)] == caught


def test_dry_run_counts_keys_apart_and_checks_too() -> None:
    velocity = rule(Velocity(Key.IP, Measure.ORDERS, 1, timedelta(minutes=10)))
    history = [attempt(at=NOON + timedelta(minutes=n), ip=f"203.0.113.{n % 2}") for n in range(4)]
    assert [a for a, _ in dry_run(velocity, history, SHANGHAI)] == history[2:]
    big = [attempt(quantity=q, at=NOON + timedelta(minutes=n)) for n, q in enumerate((1, 9, 2, 7))]
    assert [a.quantity for a, _ in dry_run(rule(OrderCap(Measure.UNITS, 5)), big, SHANGHAI)] == [9, 7]


def test_dry_run_daily_cap_follows_local_days() -> None:
    cap = rule(DailyCap(Key.IP, Measure.ORDERS, 1))
    history = [attempt(at=at) for at in (shanghai(1, 23, 58), shanghai(2, 0, 1), shanghai(2, 23, 0))]
    assert [a for a, _ in dry_run(cap, history, SHANGHAI)] == history[2:]


def test_dry_run_replays_the_newest_attempts_beyond_its_limit() -> None:
    velocity = rule(Velocity(Key.IP, Measure.ORDERS, DRY_RUN_MAX - 1, timedelta(days=31)))
    history = [attempt(at=NOON + timedelta(seconds=n)) for n in range(DRY_RUN_MAX + 1)]
    assert [a for a, _ in dry_run(velocity, history[::-1], SHANGHAI)] == [history[-1]]


# Reading rules from the merchant's form


def fields(**changes: str) -> dict[str, str]:
    base = {
        "name": "too fast",
        "reason": "scripts order this fast",
        "action": "review",
        "type": "velocity",
        "key": "ip",
        "measure": "orders",
        "limit": "3",
        "window_minutes": "10",
    }
    return {k: v for k, v in (base | changes).items() if v is not None}


def parse_errors(**changes: str) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as failed:
        parse_rule(fields(**changes))
    return failed.value.errors


def test_parse_rule_reads_the_form() -> None:
    parsed = parse_rule(fields(name=" too fast ", channels="shop, api", product_id="4"))
    assert parsed == Rule(
        "too fast",
        Velocity(Key.IP, Measure.ORDERS, 3, timedelta(minutes=10)),
        Action.REVIEW,
        "scripts order this fast",
        50,
        AttemptKind.ORDER,
        frozenset({Channel.SHOP, Channel.API}),
        4,
    )


def test_parse_rule_defaults() -> None:
    parsed = parse_rule(fields(channels="", product_id="", score="", action="block"))
    assert (parsed.channels, parsed.product_id, parsed.applies_to, parsed.score) == (
        frozenset(),
        None,
        AttemptKind.ORDER,
        100,
    )
    assert parse_rule(fields(score="0")).score == 0


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"name": " "}, {"name": "required"}),
        ({"name": "n" * 81}, {"name": "too_long"}),
        ({"reason": "r" * 201}, {"reason": "too_long"}),
        ({"action": ""}, {"action": "required"}),
        ({"action": "shrug"}, {"action": "invalid_choice"}),
        ({"type": ""}, {"type": "required"}),
        ({"type": "astrology"}, {"type": "invalid_choice"}),
        ({"key": "moon"}, {"key": "invalid_choice"}),
        ({"measure": ""}, {"measure": "required"}),
        ({"limit": ""}, {"limit": "required"}),
        ({"limit": "three"}, {"limit": "invalid_number"}),
        ({"limit": "2.5"}, {"limit": "invalid_number"}),
        ({"limit": "-1"}, {"limit": "out_of_range"}),
        ({"limit": str(10**12 + 1)}, {"limit": "out_of_range"}),
        ({"window_minutes": "0"}, {"window_minutes": "out_of_range"}),
        ({"window_minutes": str(31 * 24 * 60 + 1)}, {"window_minutes": "out_of_range"}),
        ({"score": "1001"}, {"score": "out_of_range"}),
        ({"score": "lots"}, {"score": "invalid_number"}),
        ({"channels": "shop,fax"}, {"channels": "invalid_choice"}),
        ({"product_id": "0"}, {"product_id": "out_of_range"}),
        ({"applies_to": "refund"}, {"applies_to": "invalid_choice"}),
        (
            {"name": "", "limit": "x", "action": "nope"},
            {"name": "required", "limit": "invalid_number", "action": "invalid_choice"},
        ),
    ],
)
def test_parse_rule_names_each_bad_field(changes: dict[str, str], errors: dict[str, str]) -> None:
    assert parse_errors(**changes) == errors


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"type": "low_value_burst", "face_value_max": "0"}, {"face_value_max": "out_of_range"}),
        ({"type": "daily_cap", "measure": "weight"}, {"measure": "invalid_choice"}),
        ({"type": "order_cap", "measure": "units", "limit": ""}, {"limit": "required"}),
        ({"type": "new_contact"}, {"amount_over": "required"}),
        ({"type": "unpaid_held", "key": "reseller"}, {"key": "invalid_choice"}),
        ({"type": "unpaid_held", "key": "product"}, {"key": "invalid_choice"}),
        ({"type": "unpaid_held", "key": "recharge_account"}, {"key": "invalid_choice"}),
        (
            {"type": "young_account", "younger_than_days": "0", "amount_over": "0"},
            {"younger_than_days": "out_of_range"},
        ),
        ({"type": "hours", "start": "24", "end": "6", "amount_over": "0"}, {"start": "out_of_range"}),
        ({"type": "hours", "start": "22", "end": "25", "amount_over": "0"}, {"end": "out_of_range"}),
        ({"type": "hours", "start": "8", "end": "8", "amount_over": "0"}, {"end": "same_as_start"}),
        ({"type": "hours", "start": "0", "end": "24", "amount_over": "0"}, {"end": "same_as_start"}),
    ],
)
def test_parse_rule_checks_each_rule_types_fields(changes: dict[str, str], errors: dict[str, str]) -> None:
    assert parse_errors(**changes) == errors


@pytest.mark.parametrize(
    "changes",
    [
        {"type": "order_cap", "measure": "units"},
        {"measure": "units"},
        {"measure": "amount"},
        {"key": "reseller"},
        {"key": "recharge_account"},
        {"key": "product"},
        {"type": "daily_cap"},
        {"type": "low_value_burst", "face_value_max": "100"},
    ],
)
def test_lookup_rules_are_only_velocity_by_orders_on_ip_device_or_contact(changes: dict[str, str]) -> None:
    assert parse_errors(applies_to="lookup", action="block", **changes) == {"type": "not_for_lookups"}


def test_lookup_rules_that_fit() -> None:
    for key in ("ip", "device", "contact"):
        for action in ("challenge", "block", "allow"):
            assert parse_rule(fields(applies_to="lookup", key=key, action=action)).applies_to is AttemptKind.LOOKUP
    assert parse_errors(applies_to="lookup", action="block", product_id="3") == {"product_id": "not_for_lookups"}


def test_a_lookup_cannot_be_held_for_review() -> None:
    # Answered at once, a lookup has nothing to hold: a "review" rule would let every lookup it caught go on.
    assert parse_errors(applies_to="lookup", action="review") == {"action": "no_review_for_lookups"}


ALL_TYPES: list[Condition] = [
    Velocity(Key.DEVICE, Measure.AMOUNT, 500_000, timedelta(hours=6)),
    LowValueBurst(Key.CONTACT, 1_000, 5, timedelta(minutes=30)),
    DailyCap(Key.RESELLER, Measure.UNITS, 200),
    OrderCap(Measure.AMOUNT, 1_000_000),
    NewContact(20_000),
    UnpaidHeld(Key.DEVICE, 10),
    YoungAccount(timedelta(days=14), 50_000),
    Hours(23, 7, 0),
]


@pytest.mark.parametrize("condition", ALL_TYPES, ids=lambda c: c.type)
def test_rule_fields_read_back_into_the_same_rule(condition: Condition) -> None:
    stored = Rule(
        "night owls",
        condition,
        Action.CHALLENGE,
        "a person must be there",
        35,
        channels=frozenset({Channel.SHOP, Channel.PORTAL}),
        product_id=12,
        version=4,
        id=9,
    )
    assert parse_rule(rule_fields(stored)) == replace(stored, id=None, version=1)
    anywhere = replace(stored, channels=frozenset(), product_id=None, reason="")
    assert parse_rule(rule_fields(anywhere)) == replace(anywhere, id=None, version=1)


def test_a_lookup_rule_reads_back() -> None:
    guessing = Rule(
        "guessing", Velocity(Key.CONTACT, Measure.ORDERS, 5, timedelta(minutes=15)), B, "", 100, AttemptKind.LOOKUP
    )
    assert parse_rule(rule_fields(guessing)) == guessing


@pytest.mark.parametrize("condition", ALL_TYPES, ids=lambda c: c.type)
def test_condition_params_round_trip(condition: Condition) -> None:
    params = condition_params(condition)
    assert params["type"] == condition.type
    assert set(params) - {"type"} <= {
        "key",
        "measure",
        "limit",
        "window_minutes",
        "face_value_max",
        "amount_over",
        "younger_than_days",
        "start",
        "end",
    }
    assert condition_from_params(params) == condition


def test_a_bad_stored_condition_is_refused() -> None:
    with pytest.raises(ValueError, match="invalid"):
        condition_from_params({"type": "velocity", "key": "ip", "measure": "orders", "limit": "x", "window_minutes": 5})
    with pytest.raises(ValueError, match="invalid"):
        condition_from_params({"type": "telepathy"})
    assert condition_from_params({"type": "order_cap", "measure": "units", "limit": 5}) == OrderCap(Measure.UNITS, 5)

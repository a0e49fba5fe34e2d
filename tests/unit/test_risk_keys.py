"""What the risk rules count and list a buyer by: one key per person however a contact is typed, and one shared
value for shop orders that come without the device cookie."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.orders import Channel, Contact
from domain.risk import (
    Action,
    Attempt,
    AttemptKind,
    Key,
    ListEntry,
    Measure,
    Rule,
    Velocity,
    contact_key,
    counts_for,
    judge,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOON = datetime(2024, 5, 1, 4, 0, tzinfo=UTC)
BUYER = Attempt(AttemptKind.ORDER, Channel.SHOP, NOON, ip="203.0.113.7", device="device-1", quantity=1, amount=100)


def typed(contact: str) -> str:
    """A contact as the order keeps it: as typed, normalised the way checkout normalises it."""
    return Contact.parse(contact).value


def actions(attempts: list[Attempt], rule: Rule) -> list[Action]:
    sums: dict[str, int] = {}
    seen = []
    for attempt in attempts:
        for count in counts_for(attempt, [rule], SHANGHAI):
            sums[count.key] = sums.get(count.key, 0) + count.amount
        seen.append(judge(attempt, [rule], [], sums, SHANGHAI).action)
    return seen


def velocity(key: Key, limit: int = 2) -> Rule:
    return Rule("burst", Velocity(key, Measure.ORDERS, limit, timedelta(minutes=10)), Action.BLOCK, "why", 100, id=1)


@pytest.mark.parametrize(
    ("contact", "key"),
    [
        ("13800138000", "13800138000"),
        ("+8613800138000", "13800138000"),
        ("008613800138000", "13800138000"),
        ("8613800138000", "13800138000"),
        ("+86 138-0013-8000", "13800138000"),
        ("+14155550100", "+14155550100"),  # not China: as typed
        ("+861012345678", "+861012345678"),  # a Beijing landline, not a mobile: as typed
        ("010 1234 5678", "01012345678"),
        ("A.B+shop@Gmail.com", "ab@gmail.com"),
        ("ab@googlemail.com", "ab@gmail.com"),
        ("a.b+x@example.com", "a.b@example.com"),  # elsewhere, dots may matter: only the tag goes
        ("Buyer@Example.com", "buyer@example.com"),
        ("+x@example.com", "+x@example.com"),  # nothing but a tag: kept whole
    ],
)
def test_a_contact_key_is_one_per_person(contact: str, key: str) -> None:
    assert contact_key(typed(contact)) == key
    assert contact_key(contact) == key, "raw text gives the same key"


def test_contact_counters_count_every_way_of_typing_one_phone_or_address() -> None:
    rule = velocity(Key.CONTACT)
    phones = [replace(BUYER, contact=typed(c)) for c in ("+8613800138000", "13800138000", "008613800138000")]
    assert actions(phones, rule) == [Action.ALLOW, Action.ALLOW, Action.BLOCK]
    mails = [replace(BUYER, contact=typed(c)) for c in ("a.b+1@gmail.com", "ab@gmail.com", "A.B+2@googlemail.com")]
    assert actions(mails, rule) == [Action.ALLOW, Action.ALLOW, Action.BLOCK]
    others = [replace(BUYER, contact=typed(c)) for c in ("13800138000", "13900139000", "ab@example.com")]
    assert actions(others, velocity(Key.CONTACT, limit=1)) == [Action.ALLOW] * 3, "different people"


def test_a_contact_entry_keeps_the_key_and_matches_every_way_of_typing_it() -> None:
    phone = ListEntry.create("block", "contact", "+86 138 0013 8000", "chargebacks", NOON, "owner")
    assert phone.value == "13800138000"
    for contact in ("13800138000", "+8613800138000", "008613800138000", "8613800138000"):
        assert phone.matches(replace(BUYER, contact=typed(contact))), contact
    assert not phone.matches(replace(BUYER, contact="13900139000"))
    mail = ListEntry.create("block", "contact", "A.B+X@gmail.com", "chargebacks", NOON, "owner")
    assert mail.value == "ab@gmail.com"
    assert mail.matches(replace(BUYER, contact=typed("a.b.+other@googlemail.com")))
    assert not mail.matches(replace(BUYER, contact=typed("ab@example.com")))
    verdict = judge(replace(BUYER, contact=typed("+8613800138000")), [], [phone], {}, SHANGHAI)
    assert verdict.action is Action.BLOCK


def test_shop_orders_without_the_device_cookie_share_one_device_counter() -> None:
    rule = velocity(Key.DEVICE)
    cookieless = [replace(BUYER, device=None, ip=f"198.51.100.{n}") for n in range(3)]
    assert actions(cookieless, rule) == [Action.ALLOW, Action.ALLOW, Action.BLOCK]
    assert actions([BUYER, *cookieless[:2], BUYER], rule) == [Action.ALLOW] * 4, "a browser with the cookie: its own"


@pytest.mark.parametrize(
    "elsewhere",
    [
        {"channel": Channel.ADMIN},  # staff take it for a buyer: no device by design
        {"channel": Channel.API},
        {"channel": Channel.PORTAL},
        {"kind": AttemptKind.LOOKUP},  # the lookup page is opened without a product page first
    ],
)
def test_only_shop_orders_count_a_missing_device(elsewhere: dict[str, object]) -> None:
    attempt = replace(BUYER, device=None, **elsewhere)
    assert attempt.counted_by(Key.DEVICE) is None
    assert counts_for(attempt, [replace(velocity(Key.DEVICE), applies_to=attempt.kind)], SHANGHAI) == []

"""The merchant's risk desk on real SQLite and PostgreSQL: rules created, edited (a new version) and switched, list
entries added once and removed, every change in the audit log, and dry runs that catch exactly the real orders the
rule would have caught."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from domain.audit import Actor
from domain.errors import NotFound, ValidationFailed
from domain.paging import PageRequest
from domain.risk import Action, EntryKind, Key, ListKind, Measure, OrderCap, RiskBlocked, Velocity
from domain.services.ordering import Ordering
from tests.integration.shopping import RecordedJobs, buy, notice, stocked

STAFF = Actor.staff(1, "owner", "127.0.0.1")
VELOCITY = {
    "name": "Card testing",
    "reason": "many orders from one address",
    "action": "review",
    "type": "velocity",
    "key": "ip",
    "measure": "orders",
    "limit": "3",
    "window_minutes": "60",
}


async def audited(container) -> list[tuple[str, str, dict]]:
    """The audit log's risk lines, oldest first."""
    entries = await container.operations.audit_page(None, 100)
    return [(e.action, e.target, e.details) for e in reversed(entries) if e.action.startswith("risk.")]


async def test_rules_are_created_edited_and_switched_and_every_change_is_audited(container):
    desk = container.risk_desk
    rule = await desk.create_rule(VELOCITY | {"channels": "shop,api"}, STAFF)
    assert (rule.id is not None, rule.version, rule.enabled, rule.score) == (True, 1, True, 50), "review's default"
    assert rule.condition == Velocity(Key.IP, Measure.ORDERS, 3, timedelta(hours=1))
    assert {c.value for c in rule.channels} == {"shop", "api"}

    edited = await desk.edit_rule(rule.id, VELOCITY | {"limit": "5", "score": "70"}, STAFF)
    assert (edited.id, edited.version, edited.score, edited.condition.limit) == (rule.id, 2, 70, 5)
    assert edited.channels == frozenset(), "no channel ticked: every channel"
    form = await desk.form(rule.id)
    assert (form["limit"], form["score"], form["sku"]) == ("5", "70", "")

    # Amounts are typed in yuan and kept in minor units; a product is named by its SKU.
    product_id = await stocked(container, count=0)
    capped = await desk.create_rule(
        {"name": "Big orders", "action": "block", "type": "order_cap", "measure": "amount", "limit": "100.50",
         "sku": " iq-m "},
        STAFF,
    )  # fmt: skip
    assert capped.condition == OrderCap(Measure.AMOUNT, 10050) and capped.product_id == product_id
    assert (await desk.form(capped.id))["limit"] == "100.50" and (await desk.form(capped.id))["sku"] == "IQ-M"

    off = await desk.set_enabled(rule.id, False, STAFF)
    assert (off.enabled, off.version) == (False, 2)
    async with container.risk_desk.uow(read_only=True) as uow:
        assert [r.id for r in await uow.risk.rules(enabled_only=True)] == [capped.id]
    book = await desk.rule_book()
    assert [r.name for r in book.rules] == ["Card testing", "Big orders"] and book.skus == {product_id: "IQ-M"}
    still_off = await desk.edit_rule(rule.id, VELOCITY, STAFF)
    assert (still_off.enabled, still_off.version) == (False, 3), "an edit keeps the switch as it was"

    lines = await audited(container)
    assert [action for action, _, _ in lines] == [
        "risk.rule_create",
        "risk.rule_edit",
        "risk.rule_create",
        "risk.rule_disable",
        "risk.rule_edit",
    ]
    assert lines[0][1] == f"rule#{rule.id} Card testing" and lines[0][2]["limit"] == "3"
    assert lines[1][2] == {
        "version": 2,
        "changed": {"limit": ["3", "5"], "score": ["50", "70"], "channels": ["api,shop", ""]},
    }


async def test_bad_rules_are_refused_field_by_field_and_nothing_is_saved(container):
    desk = container.risk_desk
    with pytest.raises(ValidationFailed) as refused:
        await desk.create_rule({"name": "", "action": "punish", "type": "velocity", "key": "ip", "limit": "x"}, STAFF)
    assert refused.value.errors == {
        "name": "required",
        "action": "invalid_choice",
        "measure": "required",
        "limit": "invalid_number",
        "window_minutes": "required",
    }
    with pytest.raises(ValidationFailed) as refused:
        await desk.create_rule(
            {"name": "n", "action": "block", "type": "new_contact", "amount_over": "1.234", "sku": "NOPE"}, STAFF
        )
    assert refused.value.errors == {"amount_over": "invalid_amount", "sku": "no_such_product"}
    lookup = VELOCITY | {"applies_to": "lookup", "action": "challenge", "sku": "IQ-M"}
    await stocked(container, count=0)
    with pytest.raises(ValidationFailed) as refused:
        await desk.create_rule(lookup, STAFF)
    assert refused.value.errors == {"sku": "not_for_lookups"}
    assert (await desk.rule_book()).rules == [] and await audited(container) == []
    with pytest.raises(NotFound):
        await desk.edit_rule(999, VELOCITY, STAFF)
    with pytest.raises(NotFound):
        await desk.set_enabled(999, True, STAFF)


async def test_list_entries_are_added_once_and_removed_with_an_audit_line_each(container):
    desk = container.risk_desk
    network = await desk.add_entry("block", "ip", " 10.1.2.3/8 ", "scanner", STAFF)
    assert (network.list, network.kind, network.value, network.created_by) == (
        ListKind.BLOCK,
        EntryKind.IP,
        "10.0.0.0/8",
        "owner",
    )
    with pytest.raises(ValidationFailed) as refused:
        await desk.add_entry("block", "ip", "10.0.0.0/8", "again", STAFF)
    assert refused.value.errors == {"value": "already_listed"}
    with pytest.raises(ValidationFailed) as refused:
        await desk.add_entry("block", "ip", "10.0.0.300", "", STAFF)
    assert refused.value.errors == {"value": "invalid_ip"}
    trusted = await desk.add_entry("allow", "contact", " VIP@Example.com ", "", STAFF)
    assert trusted.value == "vip@example.com"
    also_blocked = await desk.add_entry("block", "contact", "vip@example.com", "a list of its own", STAFF)

    lists = await desk.entries()
    assert [e.id for e in lists[ListKind.BLOCK]] == [also_blocked.id, network.id], "newest first"
    assert [e.id for e in lists[ListKind.ALLOW]] == [trusted.id]
    removed = await desk.remove_entry(network.id, STAFF)
    assert removed.value == "10.0.0.0/8" and [e.id for e in await desk.list_entries(ListKind.BLOCK)] == [
        also_blocked.id
    ]
    with pytest.raises(NotFound):
        await desk.remove_entry(network.id, STAFF)

    lines = await audited(container)
    assert [(action, target) for action, target, _ in lines] == [
        ("risk.list_add", "block_list:ip"),
        ("risk.list_add", "allow_list:contact"),
        ("risk.list_add", "block_list:contact"),
        ("risk.list_remove", "block_list:ip"),
    ]
    assert lines[0][2] == {"entry": network.id, "value": "10.0.0.0/8", "note": "scanner"}


def shop(container) -> Ordering:
    """The container's ordering, its queue recorded instead of sent."""
    return replace(container.ordering, jobs=RecordedJobs())


async def test_a_dry_run_catches_exactly_the_placed_orders_the_rule_would_have(container):
    await stocked(container, count=10)
    ordering = shop(container)
    first = await ordering.place(buy(1, "a@example.com", ip="10.0.0.1"))
    second = await ordering.place(buy(1, "a@example.com", ip="10.0.0.1"))
    double = await ordering.place(buy(2, "b@example.com", ip="10.0.0.2"))
    third = await ordering.place(buy(1, "a@example.com", ip="10.0.0.1"))
    await ordering.pay(notice(container, first))
    fourth = await ordering.place(buy(1, "a@example.com", ip="10.0.0.1"))
    desk = container.risk_desk

    def numbers(run) -> list[str]:
        return [order.number for order, _ in run.caught]

    per_contact = VELOCITY | {"key": "contact", "limit": "2"}
    run = await desk.dry_run(per_contact, "")
    assert (run.asked, run.replayed) == (500, 5)
    assert numbers(run) == [fourth.number, third.number], "a@'s third and fourth orders, newest first"
    assert [match.detail["seen"] for _, match in run.caught] == [4, 3]
    assert [order.status.value for order, _ in run.caught] == ["awaiting_payment", "awaiting_payment"]
    assert (await desk.dry_run(per_contact, "2")).caught == [], "a@ has two orders among the last two"
    assert (await desk.dry_run(per_contact, "2")).replayed == 2

    units = {"name": "Bulk", "action": "block", "type": "order_cap", "measure": "units", "limit": "1"}
    assert numbers(await desk.dry_run(units, "")) == [double.number]
    new_contact = {"name": "New", "action": "review", "type": "new_contact", "amount_over": "10"}
    assert numbers(await desk.dry_run(new_contact, "")) == [third.number, double.number, second.number, first.number], (
        "a@ is no longer new once its first order was paid"
    )
    assert numbers(await desk.dry_run(new_contact | {"amount_over": "20"}, "")) == [double.number], "39.60 > 20.00"
    held = {"name": "Hoarding", "action": "review", "type": "unpaid_held", "key": "contact", "limit": "2"}
    assert numbers(await desk.dry_run(held, "")) == [fourth.number, third.number]
    other_channel = VELOCITY | {"key": "contact", "limit": "2", "channels": "api"}
    assert (await desk.dry_run(other_channel, "")).caught == [], "the rule's scope applies"

    assert (await desk.rule_book()).rules == [], "a dry run saves nothing"
    with pytest.raises(ValidationFailed) as refused:
        await desk.dry_run(VELOCITY | {"name": ""}, "0")
    assert refused.value.errors == {"name": "required", "last": "out_of_range"}
    with pytest.raises(ValidationFailed) as refused:
        await desk.dry_run(VELOCITY, "5001")
    assert refused.value.errors == {"last": "out_of_range"}


async def test_the_decision_log_is_read_newest_first_and_by_outcome(container):
    await stocked(container, count=5)
    await container.risk_desk.add_entry("block", "contact", "bad@example.com", "chargebacks", STAFF)
    await container.risk_desk.create_rule(VELOCITY | {"key": "contact", "limit": "1", "action": "review"}, STAFF)
    ordering = shop(container)
    await ordering.place(buy(1, "c@example.com"))
    held = await ordering.place(buy(1, "c@example.com"))
    with pytest.raises(RiskBlocked):
        await ordering.place(buy(1, "bad@example.com"))
    everything = await container.risk_desk.decisions(PageRequest(1, 10))
    assert [d.outcome for d in everything.items] == [Action.BLOCK, Action.REVIEW]
    assert everything.items[1].order_number == held.number
    blocked = await container.risk_desk.decisions(PageRequest(1, 10), "block")
    assert blocked.total == 1 and blocked.items[0].verdict.matches[0].type == "block_list"
    assert (await container.risk_desk.decisions(PageRequest(1, 10), "nonsense")).total == 2, "unknown: no filter"

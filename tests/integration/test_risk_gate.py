"""The merchant's risk rules on every channel, on real SQLite and PostgreSQL: shop checkout, staff-placed orders,
order lookups, the Open API and the portal's wallet purchases — blocked, challenged, held for review, approved,
rejected — and what each leaves behind (orders, stock, wallet, decision log, audit log)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import altcha
import pytest

from domain.audit import Actor
from domain.codepool import OutOfStock
from domain.orders import Attention, Channel, OrderStatus
from domain.paging import PageRequest
from domain.resellers import ResellerDraft
from domain.risk import Action, ChallengeRequired, HeldForReview, ListEntry, RiskBlocked, parse_rule
from tests.integration.shopping import RecordedJobs, buy, stocked

STAFF = Actor.cli()


async def add_rule(container, **fields: str) -> None:
    rule = parse_rule({"name": "rule", "reason": "why", "channels": ""} | fields)
    async with container.ordering.uow() as uow:
        await uow.risk.add_rule(rule, container.ordering.clock.now())
        await uow.commit()


async def list_entry(container, list_kind: str, kind: str, value: str) -> None:
    entry = ListEntry.create(list_kind, kind, value, "seen in fraud", container.ordering.clock.now(), "test")
    async with container.ordering.uow() as uow:
        await uow.risk.add_entry(entry)
        await uow.commit()


async def decisions(container) -> list[Any]:
    async with container.ordering.uow(read_only=True) as uow:
        return (await uow.risk.decisions(PageRequest(size=200))).items


async def available(container, product_id: int) -> int:
    return (await container.stock.available([product_id]))[product_id]


def solved(container) -> str:
    issued = container.challenges.issue()
    challenge = altcha.Challenge.from_dict(json.loads(json.dumps(issued)))
    return altcha.Payload(challenge, altcha.solve_challenge(challenge)).to_base64()


async def test_a_velocity_rule_blocks_one_address_and_lets_others_buy(container):
    product_id = await stocked(container, count=10)
    await add_rule(
        container, type="velocity", key="ip", measure="orders", limit="2", window_minutes="10", action="block"
    )
    for _ in range(2):
        await container.ordering.place(buy(ip="203.0.113.9"))
    with pytest.raises(RiskBlocked):
        await container.ordering.place(buy(ip="203.0.113.9"))
    other = await container.ordering.place(buy(ip="198.51.100.4", contact="other@example.com"))
    assert other.status is OrderStatus.AWAITING_PAYMENT
    assert await available(container, product_id) == 7  # the refused attempt holds nothing
    [logged] = await decisions(container)
    assert logged.outcome is Action.BLOCK and logged.attempt.ip == "203.0.113.9" and not logged.order_number
    assert logged.verdict.matches[0].detail == {"key": "ip", "measure": "orders", "seen": 3, "limit": 2}


async def test_block_list_networks_stop_orders_and_lookups_but_not_staff_orders(container):
    await stocked(container, count=5)
    await list_entry(container, "block", "ip", "203.0.113.0/24")
    with pytest.raises(RiskBlocked):
        await container.ordering.place(buy(ip="203.0.113.200"))
    with pytest.raises(RiskBlocked):
        await container.ordering.look_up("KQ0", "buyer@example.com", ip="203.0.113.7")
    staff = Actor.staff(1, "clerk", "203.0.113.1")
    placed = await container.ordering.place_for_buyer(buy(), staff)  # the staff's own address is not the buyer's
    assert placed.status is OrderStatus.AWAITING_PAYMENT


async def test_a_challenge_is_answered_by_a_solved_proof_of_work_once(container):
    await stocked(container, count=5)
    await add_rule(container, type="order_cap", measure="units", limit="1", action="challenge")
    with pytest.raises(ChallengeRequired):
        await container.ordering.place(buy(quantity=2, ip="198.51.100.7"))
    proof = solved(container)
    order = await container.ordering.place(buy(quantity=2, ip="198.51.100.7", challenge=proof))
    assert order.status is OrderStatus.AWAITING_PAYMENT
    assert order.risk_score == 20 and order.risk_reasons[0]["type"] == "order_cap"
    with pytest.raises(ChallengeRequired):  # a proof is good for one order
        await container.ordering.place(buy(quantity=2, ip="198.51.100.7", challenge=proof))
    assert [d.outcome for d in await decisions(container)] == [Action.CHALLENGE, Action.ALLOW, Action.CHALLENGE]


async def test_a_held_shop_order_holds_no_stock_until_approved(container):
    product_id = await stocked(container, count=3)
    await add_rule(container, type="new_contact", amount_over="1000", action="review")
    jobs = RecordedJobs()
    held = await container.ordering.place(buy(quantity=2))
    assert held.status is OrderStatus.HELD and held.attention is Attention.REVIEW
    assert await available(container, product_id) == 3
    [queued] = (await container.reviews.queue(PageRequest())).items
    assert queued.number == held.number and queued.risk_reasons[0]["type"] == "new_contact"
    reviews = container.reviews
    approved = await replace(reviews, jobs=jobs).approve(held.id, STAFF)
    assert approved.status is OrderStatus.AWAITING_PAYMENT and approved.attention is None
    assert approved.expires_at > held.expires_at  # its payment window starts at approval
    assert await available(container, product_id) == 1 and jobs.delivered == []
    rejected = await container.ordering.place(buy(quantity=1, contact="new@example.com"))
    await container.order_desk.reject(rejected.id, "stolen card pattern", STAFF)
    async with container.ordering.uow(read_only=True) as uow:
        assert (await uow.orders.get(rejected.id)).status is OrderStatus.CANCELLED
        actions = [e.action for e in await uow.audit.page(before_id=None, limit=50)]
    assert "order.approve" in actions and "order.reject" in actions


async def test_approving_needs_the_stock_to_be_there_and_leaves_the_order_held_when_it_is_not(container):
    await stocked(container, count=1)
    await add_rule(container, type="order_cap", measure="units", limit="0", action="review")
    first = await container.ordering.place(buy(quantity=1))
    second = await container.ordering.place(buy(quantity=1, contact="b@example.com"))
    await container.reviews.approve(first.id, STAFF)
    with pytest.raises(OutOfStock):
        await container.reviews.approve(second.id, STAFF)
    async with container.ordering.uow(read_only=True) as uow:
        assert (await uow.orders.get(second.id)).status is OrderStatus.HELD


async def test_the_review_queue_shows_the_riskiest_orders_first_then_the_longest_waiting(container):
    await stocked(container, count=5)
    await add_rule(container, type="order_cap", measure="units", limit="0", action="review", score="10")
    await add_rule(container, type="order_cap", measure="units", limit="1", action="review", score="60")
    placed = [
        await container.ordering.place(buy(quantity=quantity, contact=f"q{n}@example.com"))
        for n, quantity in enumerate((1, 2, 1))
    ]
    assert [order.risk_score for order in placed] == [10, 70, 10]
    queue = (await container.reviews.queue(PageRequest())).items
    assert [order.number for order in queue] == [placed[1].number, placed[0].number, placed[2].number]


async def test_api_orders_held_for_review_are_charged_only_when_approved(container):
    await stocked(container, sku="API-CARD", count=3)
    reseller = await container.resellers.create(ResellerDraft("Api Co", "api@example.com"), STAFF)
    await container.resellers.top_up(reseller.id, "100", "", STAFF)
    made = await container.api_keys.create(reseller.id, "k", "", STAFF)
    actor = Actor.api(made.key.key_id, "127.0.0.1")
    await add_rule(container, type="velocity", key="reseller", measure="units", limit="1", window_minutes="60",
                   action="challenge", channels="api")  # fmt: skip
    body = {"sku": "API-CARD", "quantity": 1, "out_trade_no": "A-1"}
    first, _ = await container.api_orders.place(made.key, reseller, body, actor)
    assert first.order.status is OrderStatus.DELIVERED
    second = body | {"out_trade_no": "A-2"}
    with pytest.raises(HeldForReview) as held:  # an API caller cannot solve a challenge: it waits for review
        await container.api_orders.place(made.key, reseller, second, actor)
    with pytest.raises(HeldForReview):  # the same request again: the same answer
        await container.api_orders.place(made.key, reseller, second, actor)
    wallet = reseller.wallet
    async with container.ordering.uow(read_only=True) as uow:
        assert await uow.ledger.balance(wallet) == 10000 - 1980
        number = held.value.params["order_no"]
        order = await uow.orders.by_number(number)
    assert order.status is OrderStatus.HELD and order.channel is Channel.API
    await container.reviews.approve(order.id, STAFF)
    async with container.ordering.uow(read_only=True) as uow:
        assert await uow.ledger.balance(wallet) == 10000 - 2 * 1980
        assert (await uow.orders.get(order.id)).status in (OrderStatus.PAID, OrderStatus.DELIVERED)


async def test_a_reseller_buying_in_its_portal_is_not_challenged_but_can_be_blocked(container):
    await stocked(container, sku="API-CARD", count=3)
    reseller = await container.resellers.create(ResellerDraft("Shop Co", "shop@example.com"), STAFF)
    await container.resellers.top_up(reseller.id, "100", "", STAFF)
    await add_rule(container, type="order_cap", measure="units", limit="0", action="challenge")
    order = await container.balance_payments.buy(reseller.id, "API-CARD", "1", STAFF)
    assert order.status is OrderStatus.PAID  # a signed-in person already answered the challenge
    await add_rule(container, type="young_account", younger_than_days="30", amount_over="0", action="block")
    with pytest.raises(RiskBlocked):
        await container.balance_payments.buy(reseller.id, "API-CARD", "1", STAFF)
    async with container.ordering.uow(read_only=True) as uow:
        assert await uow.ledger.balance(reseller.wallet) == 10000 - 1980


async def test_lookup_rules_count_lookups_and_ask_for_a_challenge(container):
    await add_rule(container, type="velocity", key="ip", measure="orders", limit="2", window_minutes="5",
                   action="challenge", applies_to="lookup")  # fmt: skip
    for _ in range(2):
        with pytest.raises(Exception) as missing:
            await container.ordering.look_up("KQ1", "x@example.com", ip="192.0.2.1")
        assert missing.type.__name__ == "NoSuchOrder"
    with pytest.raises(ChallengeRequired):
        await container.ordering.look_up("KQ1", "x@example.com", ip="192.0.2.1")
    with pytest.raises(Exception) as missing:
        await container.ordering.look_up("KQ1", "x@example.com", ip="192.0.2.1", solution=solved(container))
    assert missing.type.__name__ == "NoSuchOrder"

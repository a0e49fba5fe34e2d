"""What follows a hold, on real SQLite and PostgreSQL: a held order nobody decides on within the review window is
cancelled by the order sweep (timeline, audit log, API caller called back); an approved shop order's buyer is mailed
the payment link by a queued job (a phone contact is not); and the risk rules know a buyer by one contact key and a
cookieless script by one shared device value."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from adapters.settings import Settings
from domain.audit import Actor
from domain.orders import OrderStatus
from domain.ports import Mail
from domain.resellers import ResellerDraft
from domain.risk import HeldForReview, ListEntry, RiskBlocked, parse_rule
from domain.services.notifications import MailNotSent
from tests.integration.shopping import RecordedJobs, buy, notice, stocked

STAFF = Actor.staff(4, "rita", "198.51.100.9")
NOWHERE = "http://127.0.0.1:9/hooks/kaquan"


@dataclass
class Jobs(RecordedJobs):
    called_back: list[int] = field(default_factory=list)

    async def call_back(self, order_id: int) -> None:
        self.called_back.append(order_id)


class ShiftedClock:
    def __init__(self, ahead: timedelta) -> None:
        self.ahead = ahead

    def now(self) -> datetime:
        return datetime.now(UTC) + self.ahead


class RefusingMailer:
    async def send(self, mail: Mail) -> None:
        raise ConnectionRefusedError("mail server down")


@pytest.fixture
def settings(migrated_url: str, tmp_path: Path) -> Settings:
    """Reviews decided within two days (KAQUAN_REVIEW_DAYS); API callbacks may go to the test's own address."""
    return Settings(
        var_dir=tmp_path / "var", database_url=migrated_url, review_days=2, allow_private_callbacks=True, _env_file=None
    )


async def add_rule(container, **fields: str) -> None:
    rule = parse_rule({"name": "rule", "reason": "why", "channels": ""} | fields)
    async with container.ordering.uow() as uow:
        await uow.risk.add_rule(rule, container.ordering.clock.now())
        await uow.commit()


async def block(container, kind: str, value: str) -> None:
    entry = ListEntry.create("block", kind, value, "chargebacks", container.ordering.clock.now(), "test")
    async with container.ordering.uow() as uow:
        await uow.risk.add_entry(entry)
        await uow.commit()


async def get(container, order_id: int):
    async with container.ordering.uow(read_only=True) as uow:
        return await uow.orders.get(order_id), await uow.orders.events(order_id)


def mails(container) -> list[tuple[str, str]]:
    """The dev mail sink (<var>/mail/*.eml): recipient and text of each mail."""
    found = []
    for path in sorted((container.settings.var_dir / "mail").glob("*.eml")):
        mail = message_from_bytes(path.read_bytes(), policy=policy.default)
        found.append((mail["To"], mail.get_content()))
    return found


async def test_held_orders_nobody_decides_on_are_cancelled_by_the_sweep_after_the_review_window(container):
    await stocked(container, count=5)
    await stocked(container, sku="API-CARD", count=5)
    await add_rule(container, type="order_cap", measure="units", limit="0", action="review")
    shop = await container.ordering.place(buy())
    reseller = await container.resellers.create(ResellerDraft("Api Co", "api@example.com"), Actor.cli())
    await container.resellers.top_up(reseller.id, "100", "", Actor.cli())
    made = await container.api_keys.create(reseller.id, "k", "", Actor.cli())
    body = {"sku": "API-CARD", "quantity": 1, "out_trade_no": "A-1", "callback_url": NOWHERE}
    with pytest.raises(HeldForReview) as held:
        await container.api_orders.place(made.key, reseller, body, Actor.api(made.key.key_id, "127.0.0.1"))
    async with container.ordering.uow(read_only=True) as uow:
        api = await uow.orders.by_number(held.value.params["order_no"])
    decided = await container.ordering.place(buy(contact="decided@example.com"))
    await container.order_desk.reject(decided.id, "looks stolen", STAFF)
    assert (shop.status, api.status) == (OrderStatus.HELD, OrderStatus.HELD)

    jobs = Jobs()

    async def sweep(ahead: timedelta) -> int:
        return await replace(container.ordering, jobs=jobs, clock=ShiftedClock(ahead)).expire_due()

    assert await sweep(timedelta(days=2) - timedelta(minutes=5)) == 0, "still within the window"
    assert await sweep(timedelta(days=2, minutes=5)) == 2
    for order_id in (shop.id, api.id):
        order, events = await get(container, order_id)
        assert order.status is OrderStatus.CANCELLED and order.attention is None
        [ended] = [e for e in events if e.kind == "status" and e.details["to"] == "cancelled"]
        assert (ended.actor, ended.details["reason"]) == ("system", "not_reviewed_in_time")
    audit = await container.operations.audit_page(None, 10)
    rejected = [(e.actor.name, e.target, e.details) for e in audit if e.action == "order.reject"]
    assert sorted(rejected) == sorted(
        [("system", n, {"reason": "not_reviewed_in_time"}) for n in (shop.number, api.number)]
        + [("rita", decided.number, {"reason": "looks stolen"})]
    )
    assert jobs.called_back == [api.id], "the API caller is called back, as for a rejection"
    async with container.ordering.uow(read_only=True) as uow:
        [message] = await uow.webhooks.pending_of_order(api.id)
    assert message.event == "order.cancelled" and message.url == NOWHERE
    async with container.ordering.uow(read_only=True) as uow:
        assert await uow.ledger.balance(reseller.wallet) == 10000, "nothing was charged"
    assert await sweep(timedelta(days=3)) == 0, "ended once"


async def test_a_held_order_approved_before_the_sweep_stays_approved(container):
    await stocked(container, count=5)
    await add_rule(container, type="order_cap", measure="units", limit="0", action="review")
    held = await container.ordering.place(buy())
    await replace(container.reviews, jobs=Jobs()).approve(held.id, STAFF)
    later = replace(container.ordering, jobs=Jobs(), clock=ShiftedClock(timedelta(days=2, minutes=5)))
    assert await later.expire_due() == 1, "its payment window passed: it expires, it is not rejected"
    order, _ = await get(container, held.id)
    assert order.status is OrderStatus.EXPIRED


async def test_an_approved_shop_order_is_mailed_its_payment_link_by_a_queued_job(container):
    await stocked(container, count=5)
    await add_rule(container, type="order_cap", measure="units", limit="0", action="review")
    held = await container.ordering.place(buy(contact="Held.Buyer@Example.com"))
    by_phone = await container.ordering.place(buy(contact="+86 138 0013 8000"))
    jobs = Jobs()
    down = replace(
        container.reviews, jobs=jobs, notifications=replace(container.notifications, mailer=RefusingMailer())
    )

    approved = await down.approve(held.id, STAFF)  # the mail server is down: the click does not wait for it
    await down.approve(by_phone.id, STAFF)
    assert approved.status is OrderStatus.AWAITING_PAYMENT
    assert jobs.payment_links == [held.id], "queued; a phone contact follows the order on its page"
    assert mails(container) == []

    with pytest.raises(MailNotSent):  # the queue tries again
        await down.mail_payment_link(held.id)
    _, events = await get(container, held.id)
    assert "payment_link_sent" not in [e.kind for e in events]

    await container.reviews.mail_payment_link(held.id)
    [(to, text)] = mails(container)
    page = f"{container.settings.base_url}/o/{held.number}?k={container.ordering.page_key(approved)}"
    assert to == "held.buyer@example.com" and page in text and "/sandbox/pay/submit.php?" in text
    assert "waiting for payment" in text and held.number in text
    _, events = await get(container, held.id)
    assert [e.actor for e in events if e.kind == "payment_link_sent"] == ["system"], "the timeline says so"
    assert (await container.operations.audit_page(None, 1))[0].action == "order.mail_payment_link"
    await container.reviews.mail_payment_link(held.id)  # the message delivered again
    assert len(mails(container)) == 1, "mailed once"

    await down.payment_link_not_mailed(held.id)  # what the queue does once every try failed
    _, events = await get(container, held.id)
    assert events[-1].kind == "payment_link_not_mailed"


async def test_an_order_paid_before_its_mail_went_is_not_mailed(container):
    await stocked(container, count=5)
    await add_rule(container, type="order_cap", measure="units", limit="0", action="review")
    held = await container.ordering.place(buy())
    approved = await replace(container.reviews, jobs=Jobs()).approve(held.id, STAFF)
    await replace(container.ordering, jobs=Jobs()).pay(notice(container, approved))
    await container.reviews.mail_payment_link(held.id)
    assert mails(container) == []


async def test_a_contact_is_listed_and_counted_by_its_key_however_it_is_typed(container):
    await stocked(container, count=10)
    await block(container, "contact", "+86 138 0013 8000")
    for typed in ("13800138000", "008613800138000", "8613800138000"):
        with pytest.raises(RiskBlocked):
            await container.ordering.place(buy(contact=typed))
    with pytest.raises(RiskBlocked):
        await container.ordering.look_up("KQ0", "+8613800138000")
    await add_rule(container, type="velocity", key="contact", measure="orders", limit="1", window_minutes="60",
                   action="block")  # fmt: skip
    first = await container.ordering.place(buy(contact="A.B+shop@gmail.com"))
    assert first.contact.value == "a.b+shop@gmail.com", "the order keeps the contact as typed"
    with pytest.raises(RiskBlocked):
        await container.ordering.place(buy(contact="ab@googlemail.com"))
    other = await container.ordering.place(buy(contact="ab@example.com"))
    assert other.status is OrderStatus.AWAITING_PAYMENT


async def test_shop_orders_without_the_device_cookie_share_one_device_counter(container):
    await stocked(container, count=10)
    await add_rule(container, type="velocity", key="device", measure="orders", limit="1", window_minutes="60",
                   action="block")  # fmt: skip
    await container.ordering.place(buy(contact="s1@example.com", ip="198.51.100.1"))
    with pytest.raises(RiskBlocked):  # another address, another contact, still no cookie
        await container.ordering.place(buy(contact="s2@example.com", ip="198.51.100.2"))
    browser = await container.ordering.place(buy(contact="s3@example.com", device="B" * 22))
    assert browser.status is OrderStatus.AWAITING_PAYMENT
    taken = await container.ordering.place_for_buyer(buy(contact="s4@example.com"), STAFF)
    assert taken.status is OrderStatus.AWAITING_PAYMENT, "staff take orders without a device"

"""Orders staff take for a buyer, on real SQLite and PostgreSQL: placed through the shop's placement (stock held,
unpaid cap by contact), named on the timeline and in the audit log, refused in the staff's terms with nothing
written, and the payment link mailed."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select

from adapters.db.tables import audit_log, codes, orders
from domain.audit import Actor
from domain.catalog import ProductDraft
from domain.codepool import CodeState
from domain.errors import ValidationFailed
from domain.orders import Channel, OrderStatus
from domain.ports import Mail
from domain.services.notifications import MailNotSent, NoEmail, NothingToPay
from tests.integration.shopping import RecordedJobs, buy, notice, stocked

ALICE = Actor.staff(3, "alice", "198.51.100.7")


class RecordingMailer:
    def __init__(self) -> None:
        self.sent: list[Mail] = []

    async def send(self, mail: Mail) -> None:
        self.sent.append(mail)


class RefusingMailer:
    async def send(self, mail: Mail) -> None:
        raise ConnectionRefusedError("mail server down")


@pytest.fixture
def ordering(container):
    return replace(container.ordering, jobs=RecordedJobs())


async def count(container, table, *where) -> int:
    async with container.engine.connect() as connection:
        return (await connection.execute(select(func.count()).select_from(table).where(*where))).scalar_one()


async def events(container, order_id: int):
    async with container.ordering.uow(read_only=True) as uow:
        return await uow.orders.events(order_id)


async def test_an_order_taken_for_a_buyer_is_placed_like_a_shop_order_and_names_who_took_it(container, ordering):
    await stocked(container, count=5)
    order = await ordering.place_for_buyer(buy(2, "Phone.Buyer@Example.com", ip="203.0.113.1", device="x"), ALICE)
    assert order.channel is Channel.ADMIN and order.status is OrderStatus.AWAITING_PAYMENT
    assert (order.buyer_ip, order.device) == ("198.51.100.7", None), "the staff member's address, no device"
    assert order.contact.value == "phone.buyer@example.com" and order.total.amount == "39.60", "retail price"
    reserved = codes.c.state == CodeState.RESERVED.value
    assert await count(container, codes, reserved, codes.c.holder == order.holder) == 2
    placed = next(e for e in await events(container, order.id) if e.kind == "placed")
    assert placed.actor == "alice" and placed.details == {"quantity": 2, "total": 3960}
    (entry,) = await container.operations.audit_page(None, 1)  # the newest
    assert (entry.action, entry.target, entry.actor.name, entry.actor.ip) == (
        "order.place",
        order.number,
        "alice",
        "198.51.100.7",
    )
    assert entry.details == {"sku": "IQ-M", "quantity": 2, "total": 3960}


async def test_the_unpaid_cap_counts_each_buyer_not_the_staff_members_address(container, ordering):
    await stocked(container, count=40)
    for n in range(3):  # 15 unpaid units from one address: over the cap of 10 were it counted
        await ordering.place_for_buyer(buy(5, f"buyer{n}@example.com"), ALICE)
    await ordering.place_for_buyer(buy(5, "buyer0@example.com"), ALICE)  # 10 for buyer0: the cap
    with pytest.raises(ValidationFailed) as refused:
        await ordering.place_for_buyer(buy(1, "buyer0@example.com"), ALICE)
    assert refused.value.errors == {"contact": "buyer_holds_unpaid"}
    assert await count(container, orders) == 4


@pytest.mark.parametrize(
    ("sku", "quantity", "contact", "errors"),
    [
        ("", "1", "a@example.com", {"sku": "required"}),
        ("NOPE", "1", "a@example.com", {"sku": "no_such_product"}),
        ("OFF-SALE", "1", "a@example.com", {"sku": "not_for_sale"}),
        ("IQ-M", "4", "a@example.com", {"quantity": "not_enough_stock"}),
        ("IQ-M", "0", "nobody", {"quantity": "must_be_positive", "contact": "invalid_contact"}),
        ("IQ-M", "99", "a@example.com", {"quantity": "too_many"}),
    ],
)
async def test_bad_input_is_told_as_form_errors_and_writes_nothing(container, ordering, sku, quantity, contact, errors):
    await stocked(container, count=3)
    draft = ProductDraft(sku="OFF-SALE", name="Off sale", face_value="10", retail_price="9.90", delivery_kind="code")
    await container.catalog.create(draft, Actor.cli())
    before = await count(container, audit_log)
    with pytest.raises(ValidationFailed) as refused:
        await ordering.place_for_buyer(buy(sku=sku, contact=contact, quantity=quantity), ALICE)
    assert refused.value.errors == errors
    assert await count(container, orders) == 0
    assert await count(container, codes, codes.c.state == CodeState.RESERVED.value) == 0
    assert await count(container, audit_log) == before


async def test_a_top_up_taken_for_a_buyer_needs_the_account(container, ordering):
    await stocked(container, sku="TOP-UP", count=0, kind="topup")
    with pytest.raises(ValidationFailed) as refused:
        await ordering.place_for_buyer(buy(1, sku="TOP-UP"), ALICE)
    assert refused.value.errors == {"recharge_account": "required"}
    order = await ordering.place_for_buyer(buy(1, sku="TOP-UP", recharge_account="13800138000"), ALICE)
    assert order.recharge_account == "13800138000" and order.status is OrderStatus.AWAITING_PAYMENT


async def test_the_payment_link_is_mailed_to_an_email_buyer_once_the_server_takes_it(container, ordering):
    await stocked(container, count=5)
    order = await ordering.place_for_buyer(buy(1, "mail@example.com"), ALICE)
    mailer = RecordingMailer()
    notifications = replace(container.notifications, mailer=mailer)
    pay, page = ordering.payment_url(order, "http://shop.test"), f"http://shop.test/o/{order.number}?k=key"

    with pytest.raises(MailNotSent):
        await replace(notifications, mailer=RefusingMailer()).mail_payment_link(order.id, pay, page, ALICE)
    assert "payment_link_sent" not in [e.kind for e in await events(container, order.id)], "nothing recorded"

    await notifications.mail_payment_link(order.id, pay, page, ALICE)
    (mail,) = mailer.sent
    assert mail.to == "mail@example.com" and pay in mail.text and page in mail.text
    sent = [e for e in await events(container, order.id) if e.kind == "payment_link_sent"]
    assert [e.actor for e in sent] == ["alice"]
    assert (await container.operations.audit_page(None, 1))[0].action == "order.mail_payment_link"

    by_phone = await ordering.place_for_buyer(buy(1, "13800138000"), ALICE)
    with pytest.raises(NoEmail):
        await notifications.mail_payment_link(by_phone.id, pay, page, ALICE)
    await ordering.pay(notice(container, order))
    with pytest.raises(NothingToPay):
        await notifications.mail_payment_link(order.id, pay, page, ALICE)
    assert len(mailer.sent) == 1

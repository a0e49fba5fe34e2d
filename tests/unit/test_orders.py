"""The order's life, as pure rules: placement checks, the state machine, late payments, delivery outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.catalog import DeliveryKind, Product
from domain.errors import ValidationFailed
from domain.money import Money
from domain.orders import (
    TRANSITIONS,
    Attention,
    Contact,
    ContactKind,
    IllegalOrderTransition,
    NotForSale,
    Order,
    OrderPolicy,
    OrderRequest,
    OrderStatus,
    TooManyUnpaid,
    check_unpaid_cap,
)

NOW = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
POLICY = OrderPolicy(max_quantity=5, unpaid_units_per_buyer=6, payment_window=timedelta(minutes=15))


def product(kind: DeliveryKind = DeliveryKind.CODE, *, on_sale: bool = True) -> Product:
    return Product(
        sku="IQ-M",
        name="iQIYI monthly",
        brand="iQIYI",
        category="video",
        face_value=Money(3000),
        retail_price=Money(1980),
        delivery_kind=kind,
        usage_instructions="",
        on_sale=on_sale,
        created_at=NOW,
        updated_at=NOW,
        id=7,
    )


def place(quantity: str = "2", contact: str = "Buyer@Example.COM", **kwargs: object) -> Order:
    kind = kwargs.pop("kind", DeliveryKind.CODE)
    request = OrderRequest(sku="IQ-M", quantity=quantity, contact=contact, **kwargs)  # type: ignore[arg-type]
    order = Order.place(request, product(kind), POLICY, NOW)  # type: ignore[arg-type]
    order.await_payment(NOW)
    return order


def test_a_placed_order_awaits_payment_with_its_total_window_and_timeline():
    order = place(ip="10.0.0.1", device="d" * 22)
    assert order.status is OrderStatus.AWAITING_PAYMENT
    assert order.total == Money(3960)
    assert order.expires_at == NOW + timedelta(minutes=15)
    assert order.contact == Contact(ContactKind.EMAIL, "buyer@example.com")
    assert len(order.number) == 16 and order.number.isdigit()
    assert [e.kind for e in order.new_events] == ["placed", "status"]
    assert order.new_events[1].details == {"from": "placed", "to": "awaiting_payment", "reason": "stock_reserved"}
    assert order.holding_keys() == {"contact": "buyer@example.com", "ip": "10.0.0.1", "device": "d" * 22}


@pytest.mark.parametrize(
    ("quantity", "contact", "errors"),
    [
        ("0", "a@b.cn", {"quantity": "must_be_positive"}),
        ("6", "a@b.cn", {"quantity": "too_many"}),
        ("two", "a@b.cn", {"quantity": "invalid_quantity"}),
        ("1", "", {"contact": "required"}),
        ("1", "not a contact", {"contact": "invalid_contact"}),
        ("-1", "a@", {"quantity": "must_be_positive", "contact": "invalid_contact"}),
    ],
)
def test_bad_checkout_input_names_every_problem(quantity, contact, errors):
    with pytest.raises(ValidationFailed) as caught:
        place(quantity, contact)
    assert caught.value.errors == errors


def test_phone_numbers_are_normalised():
    assert Contact.parse(" 138-0013 8000 ") == Contact(ContactKind.PHONE, "13800138000")
    assert Contact.parse("+86 138 0013 8000").value == "+8613800138000"
    assert Contact.parse("13800138000").masked == "138****8000"
    assert Contact.parse("buyer@example.com").masked == "b***@example.com"


def test_top_ups_need_the_account_to_top_up():
    with pytest.raises(ValidationFailed) as caught:
        place(kind=DeliveryKind.TOPUP)
    assert caught.value.errors == {"recharge_account": "required"}
    assert place(kind=DeliveryKind.TOPUP, recharge_account=" 13800138000 ").recharge_account == "13800138000"


def test_products_off_sale_cannot_be_ordered():
    with pytest.raises(NotForSale):
        Order.place(OrderRequest("IQ-M", "1", "a@b.cn"), product(on_sale=False), POLICY, NOW)


def test_the_unpaid_cap_counts_every_key_separately():
    check_unpaid_cap({"contact": 4, "ip": 0}, 2, POLICY)
    with pytest.raises(TooManyUnpaid) as caught:
        check_unpaid_cap({"contact": 0, "ip": 5}, 2, POLICY)
    assert caught.value.params["key"] == "ip"


def test_payment_then_delivery_of_every_unit():
    order = place()
    order.confirm_payment(Money(3960), "epay", NOW, reserved=True)
    assert order.status is OrderStatus.PAID and order.attention is None and order.paid == Money(3960)
    order.start_delivery(NOW)
    order.units_delivered(2, NOW)
    assert order.status is OrderStatus.DELIVERED and order.is_final


@pytest.mark.parametrize(("delivered", "status"), [(1, OrderStatus.PARTIALLY_DELIVERED), (0, OrderStatus.FAILED)])
def test_short_deliveries_wait_for_staff(delivered, status):
    order = place()
    order.confirm_payment(Money(3960), "epay", NOW, reserved=True)
    order.start_delivery(NOW)
    order.units_delivered(delivered, NOW)
    assert order.status is status and order.attention is Attention.SHORT_DELIVERY
    assert order.can_be_fulfilled_by_hand() and order.undelivered_units == 2 - delivered


def test_a_late_payment_revives_an_expired_order_and_says_whether_stock_was_found():
    order = place()
    assert order.is_due_to_expire(NOW + timedelta(minutes=15))
    order.expire(NOW + timedelta(minutes=15))
    order.confirm_payment(Money(3960), "epay", NOW + timedelta(minutes=20), reserved=False)
    assert order.status is OrderStatus.PAID and order.attention is Attention.OUT_OF_STOCK
    assert order.new_events[-1].details["reason"] == "late_payment"


def test_manual_products_wait_in_the_fulfil_queue():
    order = place(kind=DeliveryKind.MANUAL)
    order.confirm_payment(Money(3960), "epay", NOW, reserved=True)
    order.wait_for_fulfilment(NOW)
    assert order.status is OrderStatus.DELIVERING and order.attention is Attention.FULFIL


def test_every_transition_outside_the_table_is_refused():
    for source, targets in TRANSITIONS.items():
        for target in set(OrderStatus) - targets:
            order = place()
            order.status = source
            with pytest.raises(IllegalOrderTransition):
                order.move(target, NOW, "test")


def test_refunded_is_the_end():
    order = place()
    order.confirm_payment(Money(3960), "epay", NOW, reserved=True)
    order.attention = Attention.OUT_OF_STOCK
    order.end(OrderStatus.REFUNDED, NOW, "buyer asked", "finance")
    assert order.status is OrderStatus.REFUNDED and order.attention is None and not TRANSITIONS[OrderStatus.REFUNDED]
    assert order.new_events[-1].actor == "finance" and order.new_events[-1].details["reason"] == "buyer asked"

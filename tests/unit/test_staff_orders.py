"""Orders staff take for a buyer, as pure rules: who may take them, who the timeline names, what the unpaid cap
counts, and the payment-link mail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.catalog import DeliveryKind, Product
from domain.money import Money
from domain.orders import Channel, Order, OrderPolicy, OrderRequest
from domain.services.notifications import payment_mail
from domain.staff import STAFF_ROLES, Permission, Role, StaffMember, StaffStatus

NOW = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
POLICY = OrderPolicy(max_quantity=5, unpaid_units_per_buyer=6, payment_window=timedelta(minutes=15))
PRODUCT = Product(
    sku="IQ-M",
    name="iQIYI monthly",
    brand="iQIYI",
    category="video",
    face_value=Money(3000),
    retail_price=Money(1980),
    delivery_kind=DeliveryKind.CODE,
    usage_instructions="",
    on_sale=True,
    created_at=NOW,
    updated_at=NOW,
    id=7,
)


def taken(channel: Channel = Channel.ADMIN, contact: str = "buyer@example.com", **kwargs: str) -> Order:
    request = OrderRequest(sku="IQ-M", quantity="2", contact=contact, channel=channel, ip="10.0.0.5", **kwargs)
    return Order.place(request, PRODUCT, POLICY, NOW, placed_by="alice" if channel is Channel.ADMIN else "buyer")


def test_owners_operators_and_clerks_take_orders_support_and_finance_do_not():
    def member(role: Role) -> StaffMember:
        return StaffMember("someone", "Someone", role, StaffStatus.ACTIVE, NOW)

    may = {role for role in STAFF_ROLES if member(role).can(Permission.PLACE_ORDERS)}
    assert may == {Role.OWNER, Role.OPERATOR, Role.CLERK}
    assert not StaffMember("r", "R", Role.RESELLER, StaffStatus.ACTIVE, NOW, reseller_id=1).can(Permission.PLACE_ORDERS)


def test_the_timeline_names_the_staff_member_who_took_the_order():
    order = taken()
    (placed,) = order.new_events
    assert (placed.kind, placed.actor) == ("placed", "alice")
    assert order.unit_price == PRODUCT.retail_price and order.total == Money(3960)
    assert taken(Channel.SHOP).new_events[0].actor == "buyer"


def test_the_unpaid_cap_counts_a_staff_order_by_its_contact_only():
    assert taken().holding_keys() == {"contact": "buyer@example.com"}, "the address is the staff member's"
    assert taken(Channel.SHOP, device="dev-1").holding_keys() == {
        "contact": "buyer@example.com",
        "ip": "10.0.0.5",
        "device": "dev-1",
    }


def test_the_payment_mail_tells_where_to_pay_in_both_languages():
    order = taken()
    mail = payment_mail(
        order, "https://pay.example/checkout?x=1", "https://shop.example/o/1?k=2", timedelta(minutes=14)
    )
    assert mail.to == "buyer@example.com" and order.number in mail.subject
    assert mail.text.count("https://pay.example/checkout?x=1") == 2
    assert mail.text.count("https://shop.example/o/1?k=2") == 2
    assert "14 分钟" in mail.text and "within 14 minutes" in mail.text and "39.60 CNY" in mail.text
    almost_over = payment_mail(order, "p", "o", timedelta(seconds=20))
    assert "1 分钟" in almost_over.text and "within 1 minute:" in almost_over.text

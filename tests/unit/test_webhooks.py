"""Callbacks to API callers follow the Standard Webhooks specification: whatever we sign, a reseller verifies
with the specification's own library (`standardwebhooks`), and nothing else passes it."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from domain.catalog import DeliveryKind, Product
from domain.money import Money
from domain.orders import ApiPlacement, Channel, Order, OrderPolicy, OrderRequest, OrderStatus
from domain.webhooks import EVENTS, WebhookAttempt, WebhookMessage, new_secret, order_summary

NOW = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
POLICY = OrderPolicy(max_quantity=5, unpaid_units_per_buyer=6, payment_window=timedelta(minutes=15))
CALLBACK = "https://reseller.example/kaquan/hook"


def api_order(callback_url: str = CALLBACK) -> Order:
    """An API order for two codes, paid; its id set as the database would."""
    product = Product(
        sku="IQ-M", name="iQIYI monthly", brand="iQIYI", category="video", face_value=Money(3000),
        retail_price=Money(1980), delivery_kind=DeliveryKind.CODE, usage_instructions="", on_sale=True,
        created_at=NOW, updated_at=NOW, id=7,
    )  # fmt: skip
    placement = ApiPlacement(3, "T-20261101-1", "f" * 64, callback_url)
    request = OrderRequest("IQ-M", "2", "reseller@example.com", channel=Channel.API)
    order = Order.place(request, product, POLICY, NOW, api=placement)
    order.id = 41
    order.await_payment(NOW)
    order.confirm_payment(order.total, "balance", NOW, reserved=True)
    order.start_delivery(NOW)
    return order


def delivered_message() -> WebhookMessage:
    order = api_order()
    order.units_delivered(2, NOW)
    return replace(WebhookMessage.for_order(order, OrderStatus.DELIVERED, NOW), id=5)


def test_an_api_orders_outcomes_are_owed_to_its_caller_once_each():
    order = api_order()
    order.units_delivered(2, NOW)
    order.end(OrderStatus.REFUNDED, NOW, "customer_asked", "owner")
    assert order.new_callbacks == [OrderStatus.DELIVERED, OrderStatus.REFUNDED]


@pytest.mark.parametrize(("units", "status"), [(1, OrderStatus.PARTIALLY_DELIVERED), (0, OrderStatus.FAILED)])
def test_short_deliveries_are_announced_as_what_they_are(units, status):
    order = api_order()
    order.units_delivered(units, NOW)
    assert order.new_callbacks == [status]
    assert WebhookMessage.for_order(order, status, NOW).event == EVENTS[status]


def test_an_order_without_callback_url_owes_nothing():
    order = api_order(callback_url="")
    order.units_delivered(2, NOW)
    assert not order.calls_back and order.new_callbacks == []


def test_a_standard_webhooks_library_verifies_our_signature():
    secret, message = new_secret(), delivered_message()
    payload = Webhook(secret).verify(message.body, message.headers(secret, datetime.now(UTC)))
    assert payload["type"] == "order.delivered"
    assert payload["data"]["order_no"] == message.payload["data"]["order_no"]
    assert payload["data"]["out_trade_no"] == "T-20261101-1" and payload["data"]["status"] == "delivered"


def test_the_headers_are_those_of_the_specification():
    secret, message = new_secret(), delivered_message()
    now = datetime.now(UTC)
    headers = message.headers(secret, now)
    assert set(headers) == {"content-type", "webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["content-type"] == "application/json"
    assert headers["webhook-id"] == message.msg_id and message.msg_id.startswith("msg_")
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    version, signature = headers["webhook-signature"].split(",")
    assert version == "v1" and len(base64.b64decode(signature)) == 32


@pytest.mark.parametrize(
    "tamper",
    [
        lambda body, headers: (body.replace(b'"delivered"', b'"refunded"'), headers),
        lambda body, headers: (body + b" ", headers),
        lambda body, headers: (body, headers | {"webhook-id": "msg_another"}),
        lambda body, headers: (body, headers | {"webhook-timestamp": str(int(headers["webhook-timestamp"]) - 1)}),
    ],
    ids=["body", "trailing-byte", "id", "timestamp"],
)
def test_anything_changed_on_the_way_fails_verification(tamper):
    secret, message = new_secret(), delivered_message()
    body, headers = tamper(message.body, message.headers(secret, datetime.now(UTC)))
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, headers)


def test_another_keys_secret_does_not_verify():
    message = delivered_message()
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(message.body, message.headers(new_secret(), datetime.now(UTC)))


def test_every_attempt_sends_the_same_message_under_the_same_id():
    """A receiver deduplicates by webhook-id: a retry must be the same id and the same bytes, also after the
    message went through the database (its payload stored as JSON, read back in another key order)."""
    secret, message = new_secret(), delivered_message()
    stored = json.loads(json.dumps(message.payload, sort_keys=False))
    reread = replace(message, payload=dict(reversed(list(stored.items()))))
    assert reread.body == message.body
    later = datetime.now(UTC)
    first, retry = message.headers(secret, later - timedelta(minutes=2)), reread.headers(secret, later)
    assert first["webhook-id"] == retry["webhook-id"]
    assert Webhook(secret).verify(reread.body, retry) == message.payload


def test_the_body_is_compact_utf8_json():
    message = delivered_message()
    assert json.loads(message.body) == message.payload
    assert b"\n" not in message.body and b", " not in message.body


def test_a_webhook_secret_is_whsec_and_24_random_bytes():
    made = {new_secret() for _ in range(50)}
    assert len(made) == 50
    for secret in made:
        assert secret.startswith("whsec_") and len(base64.b64decode(secret.removeprefix("whsec_"))) == 24


def test_the_order_summary_names_the_order_and_never_its_codes():
    order = api_order()
    order.units_delivered(2, NOW)
    summary = order_summary(order)
    assert set(summary) == {
        "order_no", "out_trade_no", "status", "product_name", "quantity", "delivered_units", "unit_price",
        "total", "currency", "created_at", "paid_at",
    }  # fmt: skip
    assert (summary["unit_price"], summary["total"], summary["currency"]) == ("19.80", "39.60", "CNY")
    assert (summary["quantity"], summary["delivered_units"], summary["status"]) == (2, 2, "delivered")
    assert not any(word in json.dumps(summary) for word in ("code", "pin", "token", "/r/"))


@pytest.mark.parametrize(("status_code", "accepted"), [(200, True), (204, True), (299, True), (199, False),
                                                       (301, False), (302, False), (304, False), (410, False),
                                                       (500, False), (None, False)])  # fmt: skip
def test_only_a_2xx_answer_accepts_a_callback(status_code, accepted):
    assert WebhookAttempt(5, NOW, status_code, "", 12).succeeded is accepted

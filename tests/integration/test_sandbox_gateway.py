"""The sandbox gateway speaks EPay like a real aggregator: it checks the merchant's signature, and its
notify goes over real HTTP, retried until the merchant answers "success"."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl, urlsplit

import pytest

from adapters.payments.epay import EPayGateway, signature_ok
from adapters.payments.sandbox import SandboxGateway, SandboxRefused
from domain.money import Money
from domain.payments import PaymentRejected, PaymentRequest

KEY = "merchant-key"


class NotifyEndpoint:
    """A tiny HTTP server that answers "fail" to the first notifies, then "success"."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.received: list[dict[str, str]] = []
        self.done = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_line = (await reader.readline()).decode()
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        self.received.append(dict(parse_qsl(urlsplit(request_line.split()[1]).query)))
        body = b"fail" if len(self.received) <= self.failures else b"success"
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()
        if body == b"success":
            self.done.set()


def checkout(notify_url: str) -> dict[str, str]:
    gateway = EPayGateway("/sandbox/pay/submit.php", "1000", KEY)
    request = PaymentRequest("2611010000000001", Money(1980), "Card", notify_url, "http://shop/o/2611010000000001?k=x")
    return dict(parse_qsl(urlsplit(gateway.checkout_url(request)).query))


async def test_a_paid_sandbox_payment_notifies_over_http_until_acknowledged():
    endpoint = NotifyEndpoint(failures=2)
    server = await asyncio.start_server(endpoint.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sandbox = SandboxGateway("1000", KEY, retry_delays=(0, 0.05, 0.05, 0.05))
    try:
        payment = sandbox.open(checkout(f"http://127.0.0.1:{port}/pay/epay/notify"))
        back = sandbox.pay(payment.trade_no)
        await asyncio.wait_for(endpoint.done.wait(), timeout=10)
    finally:
        await sandbox.aclose()
        server.close()
    assert len(endpoint.received) == 3, "retried after each 'fail'"
    notice = endpoint.received[-1]
    assert signature_ok(notice, KEY) and notice["money"] == "19.80" and notice["trade_status"] == "TRADE_SUCCESS"
    parsed = EPayGateway("/x", "1000", KEY).verify(notice)
    assert (parsed.order_number, parsed.amount) == ("2611010000000001", Money(1980))
    assert back.startswith("http://shop/o/2611010000000001?k=x&") and "sign=" in back
    with pytest.raises(SandboxRefused):
        sandbox.pay(payment.trade_no)  # paid once only


def test_the_sandbox_refuses_what_a_real_gateway_refuses():
    sandbox = SandboxGateway("1000", KEY)
    params = checkout("http://127.0.0.1:1/notify")
    with pytest.raises(SandboxRefused, match="signature"):
        sandbox.open(params | {"money": "0.01"})
    with pytest.raises(SandboxRefused, match="merchant"):
        sandbox.open(params | {"pid": "2000"})


def test_epay_notices_are_checked_field_by_field():
    gateway = EPayGateway("/x", "1000", KEY)
    good = checkout("http://127.0.0.1:1/notify")
    with pytest.raises(PaymentRejected) as unsigned:
        gateway.verify({k: v for k, v in good.items() if k != "sign"})
    assert unsigned.value.params["reason"] == "bad_signature"

"""Upstream suppliers are addresses a merchant types in: refused when they lead into our own network (unless the
merchant allows private addresses), and called — over real HTTP, to a fake upstream on 127.0.0.1 — at the address
that was checked, within the supplier timeout from lookup to the answer's last byte."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from adapters.suppliers.kaquan import KaquanSupplier
from domain.audit import Actor
from domain.codepool import Sealed
from domain.errors import ValidationFailed
from domain.suppliers import Upstream, UpstreamRefused, UpstreamUnavailable
from tests.unit.fakes import KnownHosts

CLI = Actor.cli()
KEY_ID = "kq_" + "A" * 16
HOSTS = KnownHosts(
    {
        "shop.example.com": ["93.184.215.14"],
        "intranet.example.com": ["10.0.0.5"],
        "split.example.com": ["93.184.215.14", "127.0.0.1"],  # one public answer does not make it public
        "upstream.test": ["127.0.0.1"],  # the fake upstream, by a name only this test's DNS knows
    }
)
PRODUCTS = {"products": [{"sku": "IQ-M", "name": "iQIYI", "price": "15.00", "currency": "CNY", "delivery": "code",
                          "stock": "in_stock", "available": 3}]}  # fmt: skip


class FakeUpstream:
    """An upstream on 127.0.0.1 answering its catalog; `drip`: the answer comes a byte at a time, never ending
    (until the client hangs up) — each byte well within any read timeout. `answer`: what it answers instead, to
    anything (status, JSON)."""

    def __init__(self, *, drip: bool = False, answer: tuple[int, Any] | None = None) -> None:
        self.hosts: list[str] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.do_GET()

            def do_GET(self) -> None:
                upstream.hosts.append(self.headers["host"])
                status, body = (
                    (answer[0], json.dumps(answer[1]).encode()) if answer else (200, json.dumps(PRODUCTS).encode())
                )
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(10**9 if drip else len(body)))
                self.end_headers()
                with suppress(OSError):  # the client hung up
                    if not drip:
                        self.wfile.write(body)
                    while drip:
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(0.05)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @contextmanager
    def running(self) -> Iterator[FakeUpstream]:
        self._thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=10)


def upstream_at(base_url: str) -> Upstream:
    return Upstream("up", base_url, KEY_ID, Sealed("k1", b"", b""), None, datetime(2026, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("url", "refusal"),
    [
        ("http://127.0.0.1:8001", "private_address"),
        ("http://10.1.2.3", "private_address"),
        ("http://[::1]:8080", "private_address"),
        ("https://intranet.example.com", "private_address"),
        ("https://split.example.com", "private_address"),
        ("https://nowhere.example.com", "unresolvable_host"),
    ],
)
async def test_an_upstream_inside_our_network_is_refused_and_nothing_is_stored(container, url, refusal):
    upstreams = replace(container.upstreams, resolver=HOSTS)
    with pytest.raises(ValidationFailed) as refused:
        await upstreams.add("inside", url, KEY_ID, "sk_x", "", CLI)
    assert refused.value.errors == {"base_url": refusal}
    assert await upstreams.all() == []


async def test_a_public_upstream_is_added_and_a_private_one_only_where_the_merchant_allows_it(container):
    upstreams = replace(container.upstreams, resolver=HOSTS)
    assert (await upstreams.add("public", "https://shop.example.com", KEY_ID, "sk_x", "", CLI)).id
    closed_network = replace(upstreams, allow_private=True)
    assert (await closed_network.add("inside", "http://10.1.2.3:8000", KEY_ID, "sk_x", "", CLI)).id
    assert sorted(u.name for u in await upstreams.all()) == ["inside", "public"]


async def test_the_upstream_is_called_at_the_address_that_was_checked():
    """Its name resolves only in the test's DNS: a second lookup by the HTTP client would not even find it."""
    client = KaquanSupplier(HOSTS, allow_private=True, timeout_seconds=10)
    with FakeUpstream().running() as fake:
        listings = await client.catalog(upstream_at(f"http://upstream.test:{fake.port}"), "sk_x")
    await client.aclose()
    assert [(item.sku, item.price.amount, item.available) for item in listings] == [("IQ-M", "15.00", 3)]
    assert fake.hosts == [f"upstream.test:{fake.port}"]


async def test_an_upstream_now_inside_our_network_is_not_called():
    """Added while its name pointed elsewhere; now it leads to loopback: nothing is sent, and nothing was made
    there (the next source may buy)."""
    client = KaquanSupplier(HOSTS, allow_private=False, timeout_seconds=10)
    with FakeUpstream().running() as fake, pytest.raises(UpstreamUnavailable) as refused:
        await client.catalog(upstream_at(f"http://upstream.test:{fake.port}"), "sk_x")
    await client.aclose()
    assert "private_address" in str(refused.value) and not refused.value.in_flight
    assert fake.hosts == []


async def test_an_upstream_answering_a_byte_at_a_time_cannot_hold_the_worker_past_the_timeout():
    """Each byte comes well within the read timeout; the supplier timeout still bounds the whole request (what
    deliver_order's time limit is derived from). The request got there: it may have made an order."""
    client = KaquanSupplier(HOSTS, allow_private=True, timeout_seconds=0.5)
    with FakeUpstream(drip=True).running() as fake:
        async with asyncio.timeout(30):  # a guard against a hang, not a measure
            with pytest.raises(UpstreamUnavailable) as unavailable:
                await client.catalog(upstream_at(f"http://upstream.test:{fake.port}"), "sk_x")
    await client.aclose()
    assert unavailable.value.in_flight and fake.hosts == [f"upstream.test:{fake.port}"]


REVIEW = {"error": {"code": "review", "message": "held for the merchant's review", "order_no": "2604171234567890"}}
TAKEN = {"error": {"code": "duplicate_out_trade_no", "message": "out_trade_no names another order"}}


@pytest.mark.parametrize("refusal", [REVIEW, TAKEN], ids=["review", "duplicate"])
async def test_an_order_refused_yet_made_there_is_waited_for_not_bought_elsewhere(refusal):
    """403 review: made, held for the upstream's staff — charged and delivered once approved. 409 duplicate: one is
    there under this name already. Either way an order exists there: it is asked about, and no other source buys."""
    client = KaquanSupplier(HOSTS, allow_private=True, timeout_seconds=10)
    status = 403 if refusal is REVIEW else 409
    with FakeUpstream(answer=(status, refusal)).running() as fake, pytest.raises(UpstreamUnavailable) as waiting:
        await client.order(upstream_at(f"http://upstream.test:{fake.port}"), "sk_x", "N-1", "IQ-M", 1, "", "")
    await client.aclose()
    assert waiting.value.in_flight


async def test_an_out_of_stock_refusal_made_nothing():
    client = KaquanSupplier(HOSTS, allow_private=True, timeout_seconds=10)
    refusal = {"error": {"code": "out_of_stock", "message": "sold out"}}
    with FakeUpstream(answer=(409, refusal)).running() as fake, pytest.raises(UpstreamRefused) as refused:
        await client.order(upstream_at(f"http://upstream.test:{fake.port}"), "sk_x", "N-1", "IQ-M", 1, "", "")
    await client.aclose()
    assert refused.value.reason == "out_of_stock"


@pytest.mark.parametrize(
    "answer",
    [
        {"products": [{"sku": "IQ-M", "name": "iQIYI", "price": "15.000", "currency": "CNY"}]},
        {"products": [{"sku": "IQ-M"}]},
        {"products": "none"},
        ["not", "an", "object"],
    ],
    ids=["bad-price", "missing-fields", "not-a-list", "not-an-object"],
)
async def test_a_catalog_that_cannot_be_read_is_an_upstream_unavailable_not_a_crash(answer):
    """The scheduled sync goes on to the next upstream, a price check passes the source over ("price unknown")."""
    client = KaquanSupplier(HOSTS, allow_private=True, timeout_seconds=10)
    with FakeUpstream(answer=(200, answer)).running() as fake, pytest.raises(UpstreamUnavailable):
        await client.catalog(upstream_at(f"http://upstream.test:{fake.port}"), "sk_x")
    await client.aclose()


async def test_an_order_answer_that_cannot_be_read_may_still_have_made_the_order():
    client = KaquanSupplier(HOSTS, allow_private=True, timeout_seconds=10)
    made = {"out_trade_no": "N-1", "order_no": "U1", "status": "delivered", "unit_price": "15.00", "currency": "CNY",
            "codes": [{"number": "", "pin": None}]}  # fmt: skip
    with FakeUpstream(answer=(201, made)).running() as fake, pytest.raises(UpstreamUnavailable) as unreadable:
        await client.order(upstream_at(f"http://upstream.test:{fake.port}"), "sk_x", "N-1", "IQ-M", 1, "", "")
    await client.aclose()
    assert unreadable.value.in_flight, "asked about later, never bought elsewhere meanwhile"

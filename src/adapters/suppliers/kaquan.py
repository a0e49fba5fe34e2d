"""An upstream kaquan (or anything speaking Open API v1), called as one of its resellers: signed requests,
answers mapped to the supplier port's terms. A timeout or a 5xx is "unavailable" — whether an order was made is
then unknown until it is asked by its out_trade_no; a 4xx with an error code is a refusal — except those that say
an order was made all the same (held for its review, or already made under that name). Anything but a refused
connection leaves the request possibly made there: "in flight", settled by asking; so does an answer that cannot
be read.

The upstream's host is looked up and checked before every request, like a callback URL (public addresses only,
unless the merchant allows private ones), and the request goes to the address checked: an upstream's address is
a merchant's input, and its DNS may change after it was added.
"""

from __future__ import annotations

import asyncio
import json
import secrets as random
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from adapters.outbound import pinned_client, pinned_request
from domain.api import sign, signing_string
from domain.codepool import CardSecret
from domain.errors import DomainError, ValidationFailed
from domain.money import Money
from domain.ports import AddressResolver
from domain.services.outbound import checked_address
from domain.suppliers import Listing, Upstream, UpstreamOrder, UpstreamRefused, UpstreamStatus, UpstreamUnavailable

API = "/api/v1"
CONNECT_SECONDS = 3.0
# The upstream's statuses, as far as fulfilment here is concerned. Its failed and partially delivered orders ended
# short and keep our money until its staff deliver or refund the rest: stalled (asked about again), never settled;
# only refunded gives the money back.
STATUSES = {
    "processing": UpstreamStatus.PROCESSING,
    "review": UpstreamStatus.PROCESSING,  # held by its risk rules: charged and delivered once its staff approve
    "partially_delivered": UpstreamStatus.STALLED,
    "delivered": UpstreamStatus.DELIVERED,
    "failed": UpstreamStatus.STALLED,
    "refunded": UpstreamStatus.FAILED,
}
# Refusals of an order request that made an order there all the same: 403 review (held for its staff, charged and
# delivered once approved) and 409 duplicate_out_trade_no (one is there under this name already). Another source
# buying meanwhile would buy twice: they are asked about by out_trade_no, as after a lost answer.
MADE_ANYWAY = frozenset({"review", "duplicate_out_trade_no"})
# What a malformed answer raises while it is read (a missing field, a field of another type, a bad amount or code).
UNREADABLE = (KeyError, TypeError, ValueError, AttributeError, DomainError)


class KaquanSupplier:
    def __init__(self, resolver: AddressResolver, *, allow_private: bool, timeout_seconds: float = 10.0) -> None:
        """`timeout_seconds`: the longest a request may take, from the lookup of the upstream's host to the last
        byte of the answer (an upstream sending its answer a byte at a time cannot hold a worker longer); past it,
        the order is asked about later instead. `allow_private`: upstreams may be at loopback or private addresses
        (closed networks)."""
        self._resolver, self._allow_private, self._timeout_seconds = resolver, allow_private, timeout_seconds
        self._client = pinned_client(httpx.Timeout(timeout_seconds, connect=min(CONNECT_SECONDS, timeout_seconds)))

    async def catalog(self, upstream: Upstream, secret: str) -> list[Listing]:
        answer = await self._call(upstream, secret, "GET", f"{API}/products")
        now = datetime.now(UTC)
        try:
            return [
                Listing(
                    upstream.id or 0,
                    str(item["sku"]),
                    str(item["name"]),
                    Money.parse(item["price"], item["currency"]),
                    str(item["delivery"]),
                    item["stock"] == "in_stock",
                    _count(item.get("available")),
                    now,
                )
                for item in answer["products"]
            ]
        except UNREADABLE:
            raise UpstreamUnavailable(f"{upstream.name}: unreadable catalog") from None

    async def order(
        self,
        upstream: Upstream,
        secret: str,
        out_trade_no: str,
        sku: str,
        quantity: int,
        recharge_account: str,
        callback_url: str,
    ) -> UpstreamOrder:
        body: dict[str, Any] = {"sku": sku, "quantity": quantity, "out_trade_no": out_trade_no}
        if recharge_account:
            body["recharge_account"] = recharge_account
        if callback_url:
            body["callback_url"] = callback_url
        try:
            answer = await self._call(upstream, secret, "POST", f"{API}/orders", body)
        except UpstreamRefused as refused:
            if refused.reason in MADE_ANYWAY:
                raise UpstreamUnavailable(f"{upstream.name}: {refused.reason}", in_flight=True) from None
            raise
        return _order(upstream, answer)

    async def find(self, upstream: Upstream, secret: str, out_trade_no: str) -> UpstreamOrder | None:
        try:
            found = await self._call(
                upstream, secret, "GET", f"{API}/orders?{urlencode({'out_trade_no': out_trade_no})}"
            )
        except UpstreamRefused as refused:
            if refused.reason == "not_found":
                return None
            raise
        return _order(upstream, found)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _call(
        self, upstream: Upstream, secret: str, method: str, path: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        content = json.dumps(body, ensure_ascii=False).encode() if body is not None else b""
        timestamp, nonce = str(int(time.time())), random.token_urlsafe(16)
        headers = {
            "X-Api-Key": upstream.key_id,
            "X-Timestamp": timestamp,
            "X-Nonce": nonce,
            "X-Signature": sign(secret, signing_string(timestamp, nonce, method, path, content)),
            "Content-Type": "application/json",
        }
        url, sending = upstream.base_url + path, False
        try:
            async with asyncio.timeout(self._timeout_seconds):
                address = await self._address(upstream, url)
                sending = True
                response = await self._client.send(pinned_request(self._client, method, url, address, headers, content))
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as refused:
            raise UpstreamUnavailable(f"{upstream.name}: {type(refused).__name__}") from None  # never sent
        except (httpx.HTTPError, TimeoutError) as failed:  # once sending began, it may still be running there
            raise UpstreamUnavailable(f"{upstream.name}: {type(failed).__name__}", in_flight=sending) from None
        if response.status_code >= 500:  # the request got there: whatever failed, it may have made the order
            raise UpstreamUnavailable(f"{upstream.name}: HTTP {response.status_code}", in_flight=True)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):  # a proxy's page, a redirect, a cut-off body: a 2xx did get through
            accepted = response.is_success
            raise UpstreamUnavailable(f"{upstream.name}: unreadable (HTTP {response.status_code})", in_flight=accepted)
        if response.status_code >= 400:
            error = answer.get("error")
            code = error.get("code") if isinstance(error, dict) else None
            code = code if isinstance(code, str) and code else f"http_{response.status_code}"
            raise UpstreamRefused(code, f"{upstream.name}: {code}")
        return answer

    async def _address(self, upstream: Upstream, url: str) -> str:
        """Where to connect: the upstream's host, looked up now and checked; refused, nothing is sent."""
        try:
            return await checked_address(self._resolver, url, allow_private=self._allow_private, field="base_url")
        except ValidationFailed as refused:
            raise UpstreamUnavailable(f"{upstream.name}: {refused.errors['base_url']}") from None


def _order(upstream: Upstream, answer: dict[str, Any]) -> UpstreamOrder:
    """An order there, as its answer describes it; one that cannot be read is "in flight" (it may exist there)."""
    try:
        return UpstreamOrder(
            out_trade_no=str(answer["out_trade_no"]),
            order_no=str(answer["order_no"]),
            status=STATUSES.get(answer["status"], UpstreamStatus.PROCESSING),
            unit_price=Money.parse(answer["unit_price"], answer["currency"]),
            codes=tuple(CardSecret.of(code["number"], code.get("pin") or "") for code in answer.get("codes") or []),
        )
    except UNREADABLE:
        raise UpstreamUnavailable(f"{upstream.name}: unreadable order", in_flight=True) from None


def _count(available: Any) -> int | None:
    if available is None:
        return None
    if not isinstance(available, int) or isinstance(available, bool) or available < 0:
        raise TypeError("available is not a count")
    return available

"""An upstream kaquan (or anything speaking Open API v1), called as one of its resellers: signed requests,
answers mapped to the supplier port's terms. A timeout or a 5xx is "unavailable" — whether an order was made is
then unknown until it is asked by its out_trade_no; a 4xx with an error code is a refusal. Anything but a refused
connection leaves the request possibly made there: "in flight", settled by asking.
"""

from __future__ import annotations

import json
import secrets as random
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from domain.api import sign, signing_string
from domain.codepool import CardSecret
from domain.money import Money
from domain.suppliers import Listing, Upstream, UpstreamOrder, UpstreamRefused, UpstreamStatus, UpstreamUnavailable

API = "/api/v1"
CONNECT_SECONDS = 3.0
# The upstream's statuses, as far as fulfilment here is concerned: partly delivered waits for the rest.
STATUSES = {
    "processing": UpstreamStatus.PROCESSING,
    "partially_delivered": UpstreamStatus.PROCESSING,
    "delivered": UpstreamStatus.DELIVERED,
    "failed": UpstreamStatus.FAILED,
    "refunded": UpstreamStatus.FAILED,
}


class KaquanSupplier:
    def __init__(self, timeout_seconds: float = 10.0) -> None:
        """`timeout_seconds`: the longest wait for an answer; past it, the order is asked about later instead."""
        timeout = httpx.Timeout(timeout_seconds, connect=min(CONNECT_SECONDS, timeout_seconds))
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False)

    async def catalog(self, upstream: Upstream, secret: str) -> list[Listing]:
        answer = await self._call(upstream, secret, "GET", f"{API}/products")
        now = datetime.now(UTC)
        return [
            Listing(
                upstream.id or 0,
                item["sku"],
                item["name"],
                Money.parse(item["price"], item["currency"]),
                item["delivery"],
                item["stock"] == "in_stock",
                item.get("available"),
                now,
            )
            for item in answer["products"]
        ]

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
        return _order(await self._call(upstream, secret, "POST", f"{API}/orders", body))

    async def find(self, upstream: Upstream, secret: str, out_trade_no: str) -> UpstreamOrder | None:
        try:
            found = await self._call(
                upstream, secret, "GET", f"{API}/orders?{urlencode({'out_trade_no': out_trade_no})}"
            )
        except UpstreamRefused as refused:
            if refused.reason == "not_found":
                return None
            raise
        return _order(found)

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
        try:
            response = await self._client.request(method, upstream.base_url + path, headers=headers, content=content)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as refused:
            raise UpstreamUnavailable(f"{upstream.name}: {type(refused).__name__}") from None  # never sent
        except httpx.HTTPError as failed:  # sent, then no answer: it may still be running there
            raise UpstreamUnavailable(f"{upstream.name}: {type(failed).__name__}", in_flight=True) from None
        if response.status_code >= 500:  # the request got there: whatever failed, it may have made the order
            raise UpstreamUnavailable(f"{upstream.name}: HTTP {response.status_code}", in_flight=True)
        try:
            answer = response.json()
        except ValueError:
            raise UpstreamUnavailable(f"{upstream.name}: not JSON (HTTP {response.status_code})") from None
        if response.status_code >= 400:
            code = (answer.get("error") or {}).get("code", f"http_{response.status_code}")
            raise UpstreamRefused(code, f"{upstream.name}: {code}")
        return answer


def _order(answer: dict[str, Any]) -> UpstreamOrder:
    return UpstreamOrder(
        out_trade_no=answer["out_trade_no"],
        order_no=answer["order_no"],
        status=STATUSES.get(answer["status"], UpstreamStatus.PROCESSING),
        unit_price=Money.parse(answer["unit_price"], answer["currency"]),
        codes=tuple(CardSecret.of(code["number"], code.get("pin") or "") for code in answer.get("codes", [])),
    )

"""Webhook callbacks over real HTTP, to the address each callback URL was checked to have."""

from __future__ import annotations

import time

import httpx

from adapters.outbound import pinned_client, pinned_request
from domain.ports import HttpAnswer

TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class HttpWebhookSender:
    """One shared client, pinned (see adapters.outbound): it connects to the address the callback's host was
    checked to have, follows no redirect (a 3xx is not an acceptance) and keeps no connection between callbacks;
    the answer's body is never read (a receiver could send without end)."""

    def __init__(self) -> None:
        self._client = pinned_client(TIMEOUT)

    async def post(self, url: str, address: str, headers: dict[str, str], body: bytes) -> HttpAnswer:
        started = time.perf_counter()
        request = pinned_request(self._client, "POST", url, address, headers, body)
        try:
            response = await self._client.send(request, stream=True)
            await response.aclose()
        except httpx.HTTPError as failed:
            return HttpAnswer(None, type(failed).__name__, _ms(started))
        return HttpAnswer(response.status_code, "" if response.is_success else response.reason_phrase, _ms(started))

    async def aclose(self) -> None:
        await self._client.aclose()


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)

"""Webhook callbacks over real HTTP, and the DNS lookups that decide whether a callback URL may be called."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time

import httpx

from domain.ports import HttpAnswer

TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class HttpWebhookSender:
    """One shared client; redirects are not followed (a 3xx is not an acceptance, and must not lead elsewhere)."""

    def __init__(self) -> None:
        self._client = httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False, trust_env=False)

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> HttpAnswer:
        started = time.perf_counter()
        try:
            response = await self._client.post(url, headers=headers, content=body)
        except httpx.HTTPError as failed:
            return HttpAnswer(None, type(failed).__name__, _ms(started))
        return HttpAnswer(response.status_code, "" if response.is_success else response.reason_phrase, _ms(started))

    async def aclose(self) -> None:
        await self._client.aclose()


class DnsResolver:
    async def resolve(self, host: str) -> list[str]:
        if not host:
            return []
        try:
            return [str(ipaddress.ip_address(host.strip("[]")))]
        except ValueError:
            pass
        try:
            found = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError:
            return []
        return list(dict.fromkeys(str(info[4][0]) for info in found))


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)

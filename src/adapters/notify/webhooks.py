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
    """One shared client. It connects to the address the callback's host was checked to have, naming the host in
    the Host header and in TLS (SNI, certificate check): a second DNS lookup could lead into our own network.
    Redirects are not followed (a 3xx is not an acceptance, and must not lead elsewhere); no connection is kept
    between callbacks (one opened for an address must not carry another host's request); the answer's body is
    never read (a receiver could send without end)."""

    def __init__(self) -> None:
        self._client = httpx.AsyncClient(
            timeout=TIMEOUT,
            follow_redirects=False,
            trust_env=False,  # no proxy: the request goes to the checked address
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    async def post(self, url: str, address: str, headers: dict[str, str], body: bytes) -> HttpAnswer:
        started = time.perf_counter()
        target = httpx.URL(url)
        tls = {"sni_hostname": target.raw_host.decode("ascii")} if target.scheme == "https" else {}
        request = self._client.build_request(
            "POST",
            target.copy_with(host=address),
            headers=headers | {"host": target.netloc.decode("ascii")},
            content=body,
            extensions=tls,
        )
        try:
            response = await self._client.send(request, stream=True)
            await response.aclose()
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

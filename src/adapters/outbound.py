"""Requests to addresses the server was given (API callbacks, upstream suppliers): the DNS lookups that decide
whether a host may be called, and requests sent to the address that was checked."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import httpx


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


def pinned_client(timeout: httpx.Timeout) -> httpx.AsyncClient:
    """A client for pinned requests: no proxy (the request goes to the checked address), no redirects followed
    (they could lead anywhere), and no connection kept between requests — connections are pooled by address, so
    one opened for a host could otherwise carry another host's request past its certificate check."""
    return httpx.AsyncClient(
        timeout=timeout, follow_redirects=False, trust_env=False, limits=httpx.Limits(max_keepalive_connections=0)
    )


def pinned_request(
    client: httpx.AsyncClient, method: str, url: str, address: str, headers: dict[str, str], content: bytes
) -> httpx.Request:
    """A request to `url` that connects to `address` (the one its host was checked to have), naming the host in
    the Host header and in TLS (SNI, certificate check): a second DNS lookup could lead into our own network."""
    target = httpx.URL(url)
    tls = {"sni_hostname": target.raw_host.decode("ascii")} if target.scheme == "https" else {}
    return client.build_request(
        method,
        target.copy_with(host=address),
        headers=headers | {"host": target.netloc.decode("ascii")},
        content=content,
        extensions=tls,
    )

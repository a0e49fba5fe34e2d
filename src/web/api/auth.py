"""Who is calling the Open API: every request under /api/v1 passes a guard that reads its raw body once, checks
its signature headers through ApiKeys.authenticate and leaves the caller for the handlers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard, Scope

from domain.api import ApiKey, SignedRequest
from domain.audit import Actor
from domain.resellers import Reseller
from domain.services.api_keys import ApiKeys
from web.auth import client_ip

_CALLER = "kaquan.api_caller"


@dataclass(frozen=True, slots=True)
class Caller:
    """A request whose signature held: the key, its reseller, the audit actor and the body that was signed."""

    key: ApiKey
    reseller: Reseller
    actor: Actor
    body: bytes

    @property
    def reseller_id(self) -> int:
        return self.reseller.id or 0


def path_with_query(scope: Scope) -> str:
    """The path and query as the client sent them — what it signed — not decoded and encoded again."""
    path = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string", b"")
    return (path + b"?" + query if query else path).decode("latin-1")


def signed_by(api_keys: ApiKeys) -> Guard:
    """The guard: the request is refused (401, 403 or 429, by the error's code) unless a live key signed it."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        request = cast(Request[Any, Any, Any], connection)
        body = await request.body()
        headers = request.headers
        signed = SignedRequest(
            key_id=headers.get("x-api-key", ""),
            timestamp=headers.get("x-timestamp", ""),
            nonce=headers.get("x-nonce", ""),
            signature=headers.get("x-signature", ""),
            method=request.method,
            path_with_query=path_with_query(request.scope),
            body=body,
        )
        address = client_ip(request)
        key, reseller = await api_keys.authenticate(signed, address)
        request.scope["state"][_CALLER] = Caller(key, reseller, Actor.api(key.key_id, address), body)

    return guard


def caller(request: Request[Any, Any, Any]) -> Caller:
    """The dependency handlers take: the caller the guard let through."""
    return cast(Caller, request.scope["state"][_CALLER])

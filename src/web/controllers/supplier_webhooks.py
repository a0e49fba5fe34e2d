"""Where upstream suppliers call back about our orders there (Standard Webhooks, signed with the webhook secret of
the API key we hold there). A verified callback only nudges delivery: the order is then asked about over the
signed API, so a callback's body is never trusted for codes or status."""

from __future__ import annotations

import json
import time
from typing import Any

import structlog
from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency

from domain.errors import ValidationFailed
from domain.services.delivery import Delivery
from domain.services.upstreams import Upstreams
from domain.webhooks import verify
from web.controllers.params import RowId

log = structlog.get_logger(__name__)
MAX_BODY = 64 * 1024


class SupplierWebhookController(Controller):
    path = "/suppliers"
    include_in_schema = False
    # Upstreams post without our session or CSRF cookie: the signature is what protects this route.
    opt = {"exclude_from_auth": True, "exclude_from_csrf": True}  # noqa: RUF012 — Litestar reads this class attribute
    request_max_body_size = MAX_BODY

    @post("/{upstream_id:int}/webhook", status_code=200)  # the answers below set their own
    async def webhook(
        self,
        request: Request[Any, Any, Any],
        upstream_id: RowId,
        upstreams: NamedDependency[Upstreams],
        delivery: NamedDependency[Delivery],
    ) -> Response[Any]:
        """204 once the order is on its way to being delivered; 401 for a wrong or stale signature (or an upstream
        we hold no webhook secret for); 404 for an upstream or an order we do not know."""
        body = await request.body()
        secret = await upstreams.webhook_secret(upstream_id)
        headers = request.headers
        signed = secret is not None and verify(
            secret,
            headers.get("webhook-id", ""),
            headers.get("webhook-timestamp", ""),
            headers.get("webhook-signature", ""),
            body,
            time.time(),
        )
        if not signed:
            log.warning("upstream webhook refused", upstream=upstream_id)
            return Response({"error": {"code": "invalid_signature"}}, status_code=401)
        await delivery.upstream_called_back(upstream_id, _out_trade_no(body))
        return Response(None, status_code=204)


def _out_trade_no(body: bytes) -> str:
    """Our name for the order there, from the callback's `data` (the rest of it is not needed)."""
    try:
        named = json.loads(body)["data"]["out_trade_no"]
    except (ValueError, KeyError, TypeError):
        named = None
    if not isinstance(named, str) or not named:
        raise ValidationFailed({"out_trade_no": "required"})
    return named

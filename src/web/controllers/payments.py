"""Where payment gateways tell us the money arrived. They read the body: "success" stops their retries."""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Controller, Request, Response, route
from litestar.di import NamedDependency

from adapters.payments.epay import ACKNOWLEDGED, REFUSED
from domain.payments import PaymentRejected
from domain.services.ordering import Ordering

log = structlog.get_logger(__name__)


class PaymentNotifyController(Controller):
    path = "/pay"
    include_in_schema = False
    opt = {"exclude_from_auth": True}  # noqa: RUF012 — Litestar reads this class attribute

    @route("/epay/notify", http_method=["GET", "POST"], status_code=200)
    async def epay_notify(self, request: Request[Any, Any, Any], ordering: NamedDependency[Ordering]) -> Response[str]:
        """EPay notifies by GET or by form POST; either way the parameters are the same."""
        params = dict(request.query_params)
        if request.method == "POST":
            params |= {key: str(value) for key, value in (await request.form()).items()}
        try:
            order = await ordering.pay(params)
        except PaymentRejected as rejected:
            log.warning("payment notice rejected", order=params.get("out_trade_no"), **rejected.params)
            return Response(REFUSED, media_type="text/plain", status_code=400)
        log.info("payment notice accepted", order=order.number, status=order.status)
        return Response(ACKNOWLEDGED, media_type="text/plain")

"""/r/<token>: the redemption page a delivered unit's link (and its QR code) opens. Rate limited, never cached."""

from __future__ import annotations

from typing import Any

import segno
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from domain.services.redemption import Redemption
from web.auth import base_url, client_ip


class RedeemController(Controller):
    path = "/r"
    include_in_schema = False
    opt = {"exclude_from_auth": True}  # noqa: RUF012 — Litestar reads this class attribute

    @get("/{token:str}")
    async def page(
        self, request: Request[Any, Any, Any], token: FromPath[str], redemption: NamedDependency[Redemption]
    ) -> Template:
        found = await redemption.view(token)
        link = f"{base_url(request)}/r/{token}"
        # A fixed mask: scoring all eight (segno's default) is most of the page's CPU time, any mask scans.
        qr = segno.make(link, error="m", mask=0).svg_inline(scale=4, border=2, dark="#1d2330", omitsize=True)
        return Template("redeem/page.html", context={"found": found, "token": token, "link": link, "qr": qr})

    @post("/{token:str}/reveal", status_code=200)
    async def reveal(
        self, request: Request[Any, Any, Any], token: FromPath[str], redemption: NamedDependency[Redemption]
    ) -> Template:
        """The code in full, for this one response; the reveal is counted and logged."""
        found = await redemption.reveal(token, client_ip(request))
        return Template("redeem/_secret.html", context={"found": found})

"""The dev-mode sandbox payment page under /sandbox/pay (mounted only when KAQUAN_ENV is not production)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from adapters.payments.sandbox import SandboxGateway, SandboxRefused


class SandboxController(Controller):
    path = "/sandbox/pay"
    include_in_schema = False
    opt = {"exclude_from_auth": True}  # noqa: RUF012 — Litestar reads this class attribute

    @get("/submit.php")
    async def submit(self, request: Request[Any, Any, Any], sandbox: NamedDependency[SandboxGateway]) -> Response[Any]:
        try:
            payment = sandbox.open(dict(request.query_params))
        except SandboxRefused as refused:
            return Template("sandbox/refused.html", context={"reason": str(refused)}, status_code=400)
        return Redirect(f"/sandbox/pay/{payment.trade_no}", status_code=303)

    @get("/{trade_no:str}")
    async def page(self, trade_no: FromPath[str], sandbox: NamedDependency[SandboxGateway]) -> Template:
        payment = sandbox.get(trade_no)
        if payment is None:
            raise NotFoundException()
        return Template("sandbox/pay.html", context={"payment": payment})

    @post("/{trade_no:str}/pay")
    async def pay(self, trade_no: FromPath[str], sandbox: NamedDependency[SandboxGateway]) -> Response[Any]:
        return self._settle(sandbox.pay, trade_no)

    @post("/{trade_no:str}/fail")
    async def fail(self, trade_no: FromPath[str], sandbox: NamedDependency[SandboxGateway]) -> Response[Any]:
        return self._settle(sandbox.fail, trade_no)

    @staticmethod
    def _settle(action: Any, trade_no: FromPath[str]) -> Response[Any]:
        try:
            return Redirect(action(trade_no), status_code=303)
        except SandboxRefused as refused:
            return Template("sandbox/refused.html", context={"reason": str(refused)}, status_code=409)

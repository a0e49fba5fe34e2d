"""A stand-in EPay aggregator for dev mode: a pay page, and signed notifies over real HTTP, retried
on the schedule real gateways use until our notify URL answers "success". Never mounted in production."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from dataclasses import dataclass, replace
from urllib.parse import urlencode

import httpx
import structlog

from adapters.payments.epay import ACKNOWLEDGED, SUCCESS, signature_ok, signed

log = structlog.get_logger(__name__)

# Seconds between notify attempts, as EPay gateways do it (then they give up).
RETRY_DELAYS = (0, 4, 15, 60, 120, 300, 600, 1800)
NOTIFY_TIMEOUT = 10


class SandboxRefused(ValueError):
    """A request the real gateway would refuse: bad signature, unknown merchant, missing fields."""


@dataclass(frozen=True, slots=True)
class SandboxPayment:
    trade_no: str
    out_trade_no: str
    name: str
    money: str
    notify_url: str
    return_url: str
    site: str
    status: str = "pending"  # pending → paid | failed


class SandboxGateway:
    def __init__(self, merchant_id: str, key: str, retry_delays: tuple[float, ...] = RETRY_DELAYS) -> None:
        self._pid, self._key, self._delays = merchant_id, key, retry_delays
        self._payments: dict[str, SandboxPayment] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def open(self, params: dict[str, str]) -> SandboxPayment:
        """The merchant's signed submit request becomes a payment waiting for the buyer."""
        if params.get("pid") != self._pid:
            raise SandboxRefused("unknown merchant")
        if not signature_ok(params, self._key):
            raise SandboxRefused("bad signature")
        missing = [k for k in ("out_trade_no", "notify_url", "return_url", "money", "name") if not params.get(k)]
        if missing:
            raise SandboxRefused("missing " + ", ".join(missing))
        payment = SandboxPayment(
            trade_no=f"SB{secrets.randbelow(10**16):016d}",
            out_trade_no=params["out_trade_no"],
            name=params["name"],
            money=params["money"],
            notify_url=params["notify_url"],
            return_url=params["return_url"],
            site=params.get("sitename", ""),
        )
        self._payments[payment.trade_no] = payment
        return payment

    def get(self, trade_no: str) -> SandboxPayment | None:
        return self._payments.get(trade_no)

    def pay(self, trade_no: str) -> str:
        """The buyer paid: notify the merchant (in the background, retried) and send the buyer back."""
        payment = self._settle(trade_no, "paid")
        params = self._notice(payment)
        task = asyncio.create_task(self._notify(payment.notify_url, params))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return _with_query(payment.return_url, params)

    def fail(self, trade_no: str) -> str:
        """The buyer gave up: no notify, back to the shop."""
        return self._settle(trade_no, "failed").return_url

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _settle(self, trade_no: str, status: str) -> SandboxPayment:
        payment = self._payments.get(trade_no)
        if payment is None or payment.status != "pending":
            raise SandboxRefused("no pending payment")
        self._payments[trade_no] = replace(payment, status=status)
        return payment

    def _notice(self, payment: SandboxPayment) -> dict[str, str]:
        return signed(
            {
                "pid": self._pid,
                "trade_no": payment.trade_no,
                "out_trade_no": payment.out_trade_no,
                "type": "alipay",
                "name": payment.name,
                "money": payment.money,
                "trade_status": SUCCESS,
            },
            self._key,
        )

    async def _notify(self, url: str, params: dict[str, str]) -> None:
        async with httpx.AsyncClient(timeout=NOTIFY_TIMEOUT) as client:
            for attempt, delay in enumerate(self._delays, 1):
                await asyncio.sleep(delay)
                try:
                    answer = await client.get(url, params=params)
                except httpx.HTTPError as failure:
                    log.warning("sandbox notify failed", attempt=attempt, error=type(failure).__name__)
                    continue
                if answer.text.strip() == ACKNOWLEDGED:
                    log.info("sandbox notify acknowledged", order=params["out_trade_no"], attempt=attempt)
                    return
                log.warning("sandbox notify not acknowledged", attempt=attempt, status=answer.status_code)
        log.error("sandbox notify gave up", order=params["out_trade_no"])


def _with_query(url: str, params: dict[str, str]) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"

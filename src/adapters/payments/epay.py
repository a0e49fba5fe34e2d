"""The EPay (易支付) protocol most Chinese payment aggregators speak: MD5-signed redirect, async notify.

Signing: every parameter except `sign`, `sign_type` and empty ones, sorted by name, joined as
`a=1&b=2`, with the merchant key appended; the lowercase hex MD5 of that is the signature.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import urlencode

from domain.money import InvalidAmount, Money
from domain.payments import PaymentNotice, PaymentRejected, PaymentRequest

SUCCESS = "TRADE_SUCCESS"
# What the gateway must read back from our notify endpoint, or it keeps retrying.
ACKNOWLEDGED, REFUSED = "success", "fail"


def sign(params: Mapping[str, str], key: str) -> str:
    signed = sorted((k, v) for k, v in params.items() if k not in ("sign", "sign_type") and v != "")
    text = "&".join(f"{k}={v}" for k, v in signed) + key
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 — the protocol's choice, not ours


def signed(params: Mapping[str, str], key: str) -> dict[str, str]:
    return {**params, "sign": sign(params, key), "sign_type": "MD5"}


def signature_ok(params: Mapping[str, str], key: str) -> bool:
    given = params.get("sign", "").lower().encode("utf-8", "replace")  # bytes: any input compares, none raises
    return hmac.compare_digest(given, sign(params, key).encode())


class EPayGateway:
    name = "epay"

    def __init__(self, url: str, merchant_id: str, key: str, site_name: str = "kaquan") -> None:
        self._url = url
        self._pid = merchant_id
        self._key = key
        self._site = site_name

    def checkout_url(self, request: PaymentRequest) -> str:
        params = {
            "pid": self._pid,
            "out_trade_no": request.order_number,
            "notify_url": request.notify_url,
            "return_url": request.return_url,
            "name": request.subject[:120],
            "money": request.amount.amount,
            "sitename": self._site,
        }
        return f"{self._url}?{urlencode(signed(params, self._key))}"

    def verify(self, params: dict[str, str]) -> PaymentNotice:
        if not signature_ok(params, self._key):
            raise PaymentRejected("bad signature", reason="bad_signature")
        if params.get("pid") != self._pid:
            raise PaymentRejected("another merchant's notice", reason="wrong_merchant")
        if params.get("trade_status") != SUCCESS:
            raise PaymentRejected("not a successful payment", reason="not_success")
        order_number, trade_no = params.get("out_trade_no", ""), params.get("trade_no", "")
        if not order_number or not trade_no or len(trade_no) > 64:
            raise PaymentRejected("incomplete notice", reason="malformed")
        try:
            amount = Money.parse(params.get("money", ""))
        except InvalidAmount:
            raise PaymentRejected("unreadable amount", reason="malformed") from None
        return PaymentNotice(self.name, order_number, trade_no, amount)

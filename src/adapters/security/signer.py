"""HMAC-SHA256 signatures for links that must not be guessed (a buyer's order page)."""

from __future__ import annotations

import base64
import hashlib
import hmac


class HmacSigner:
    def __init__(self, key: str) -> None:
        self._key = hashlib.sha256(b"kaquan-links:" + key.encode()).digest()  # not the session-signing key itself

    def sign(self, purpose: str, value: str) -> str:
        digest = hmac.new(self._key, f"{purpose}\n{value}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode()  # 144 bits

    def verify(self, purpose: str, value: str, signature: str) -> bool:
        return hmac.compare_digest(self.sign(purpose, value).encode(), signature.encode())
